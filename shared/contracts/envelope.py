"""The versioned envelope every message travels in, and the registry that maps (type, version) to a model."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar
from uuid import UUID, uuid4

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError


class Payload(BaseModel):
    """Base of every message payload. Subclasses set `message_type` and `message_version`."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    message_type: ClassVar[str]
    message_version: ClassVar[int]


P = TypeVar("P", bound=Payload)


class Envelope(BaseModel):
    """What crosses the broker: identity, type and version, time, correlation, and the typed payload."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    message_id: UUID = Field(default_factory=uuid4)
    type: str
    version: int
    occurred_at: AwareDatetime
    correlation_id: str
    payload: Payload

    def payload_as(self, kind: builtins.type[P]) -> P:  # builtins: `type` is a field here
        """The payload as the model a handler was written for. A handler routed a message of another type is a
        wiring mistake: it raises (and the message is dead-lettered) instead of running on the wrong model, also
        under `python -O`, where an `assert isinstance` would be gone."""
        if not isinstance(self.payload, kind):
            raise WrongPayload(f"{self.type} v{self.version} carries {type(self.payload).__name__}, "
                               f"not {kind.__name__}")
        return self.payload

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json") | {"payload": self.payload.model_dump(mode="json")}


class UnknownMessage(Exception):
    """A message whose type or version this consumer does not know, or whose payload does not validate."""


class WrongPayload(UnknownMessage):
    """A handler was given a message whose payload is not the model it handles."""


_REGISTRY: dict[tuple[str, int], type[Payload]] = {}
# (type, old version) -> a function that turns that version's payload into the next version's. A message written
# before a contract grew is still in a queue after the deploy; it is read as the current version, never lost.
_UPGRADES: dict[tuple[str, int], Callable[[dict[str, Any]], dict[str, Any]]] = {}


def register(model: type[Payload]) -> type[Payload]:
    key = (model.message_type, model.message_version)
    if key in _REGISTRY:
        raise RuntimeError(f"two payload models for {key}")
    _REGISTRY[key] = model
    return model


def register_upgrade(message_type: str, from_version: int,
                     upgrade: Callable[[dict[str, Any]], dict[str, Any]] = dict) -> None:
    """Read `message_type` v`from_version` as v`from_version + 1` (default: unchanged, new fields take defaults)."""
    key = (message_type, from_version)
    if key in _UPGRADES or key in _REGISTRY:
        raise RuntimeError(f"{key} already has a model or an upgrade")
    _UPGRADES[key] = upgrade


def wrap(payload: Payload, correlation_id: str | UUID, occurred_at: datetime | None = None) -> Envelope:
    return Envelope(
        type=payload.message_type,
        version=payload.message_version,
        occurred_at=(occurred_at or datetime.now(UTC)).astimezone(UTC),
        correlation_id=str(correlation_id),
        payload=payload,
    )


def parse(raw: Any) -> Envelope:
    """Validate a wire message into an envelope with its typed payload, or raise UnknownMessage."""
    if not isinstance(raw, dict):
        raise UnknownMessage("message is not a JSON object")
    key = (raw.get("type"), raw.get("version"))
    hashable = isinstance(key[0], str) and isinstance(key[1], int)
    if hashable and key in _UPGRADES and isinstance(raw.get("payload"), dict):
        message_type, version = str(key[0]), int(key[1])
        upgraded: dict[str, Any] = raw["payload"]
        while (message_type, version) in _UPGRADES:
            upgraded = _UPGRADES[(message_type, version)](upgraded)
            version += 1
        raw = {**raw, "version": version, "payload": upgraded}
        key = (message_type, version)
    model = _REGISTRY.get(key) if hashable else None  # type: ignore[arg-type]
    if model is None:
        raise UnknownMessage(f"unknown message type/version {key[0]!r} v{key[1]!r}")
    if "message_id" not in raw:
        # A default id would differ on every redelivery and defeat the consumers' inbox.
        raise UnknownMessage(f"{key[0]} v{key[1]} does not validate (fields: message_id)")
    try:
        payload = model.model_validate(raw.get("payload"))
        return Envelope.model_validate({**raw, "payload": payload})
    except ValidationError as exc:
        fields = ", ".join(".".join(map(str, e["loc"])) for e in exc.errors(include_input=False))
        raise UnknownMessage(f"{key[0]} v{key[1]} does not validate (fields: {fields})") from None
