"""Looking after the dead-letter queue: list what is there, put a message back on the queue it came from, or
discard it (`python -m lotse dead-letters`). Works on RabbitMQ and on the embedded broker alike.

A dead letter is the message as it arrived (body, content type, headers) plus the reason, its queue and the time,
in headers: ours (`x-lotse-*`, written by the consumers) or RabbitMQ's (`x-first-death-*`, `x-death`, for what
the broker dead-lettered itself: a delivery limit reached, a reject). What is shown never includes the payload: it
may hold a sealed phone number. Only the type and the message id are read from a body.

The queue is read by taking every message without acknowledging it; what is neither requeued nor discarded is
handed back at the end (RabbitMQ puts it back where it was). On the embedded broker that hand-back is a new row: a
crash in between loses those letters (the embedded transport is at-most-once; see shared/embedded_broker.py).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kombu import Connection, Message, Producer

from shared.messaging import (
    DEAD_AT_HEADER,
    DEAD_LETTER_QUEUE,
    LETTER_ID_HEADER,
    QUEUE_HEADER,
    REASON_HEADER,
    broker_connection,
    declare_topology,
)
from shared.settings import CommonSettings

# Headers a dead letter gained on its way here; a message put back goes without them.
_DEATH_HEADERS = ("x-lotse-", "x-death", "x-first-death-", "x-last-death-", "x-delivery-count")


@dataclass(frozen=True)
class DeadLetter:
    letter_id: str
    queue: str
    message_type: str
    message_id: str
    reason: str
    dead_at: datetime | None


def _headers(message: Message) -> dict[str, Any]:
    return dict(message.headers) if isinstance(message.headers, dict) else {}


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _peek(message: Message) -> tuple[str, str]:
    """The type and message id of the envelope inside, if the body is a task message; never anything else."""
    try:
        if message.content_type != "application/json":
            raise ValueError(message.content_type)
        envelope = json.loads(message.body)[0][0]
        return str(envelope.get("type") or "?")[:80], str(envelope.get("message_id") or "?")[:80]
    except Exception:  # noqa: BLE001 - a malformed body has neither
        return "?", str(_headers(message).get("id") or "?")[:80]


def _instant(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        return datetime.fromisoformat(_text(value))
    except (TypeError, ValueError):
        return None


def describe(message: Message) -> DeadLetter:
    headers = _headers(message)
    death = headers.get("x-death")
    first = death[0] if isinstance(death, list) and death and isinstance(death[0], dict) else {}
    letter_id = headers.get(LETTER_ID_HEADER)
    if not letter_id:
        # Dead-lettered by the broker: an id from what it holds (the same on every listing).
        raw = message.body if isinstance(message.body, bytes) else str(message.body).encode()
        letter_id = hashlib.sha256(raw + repr(sorted(map(str, headers.items()))).encode()).hexdigest()[:12]
    message_type, message_id = _peek(message)
    reason = headers.get(REASON_HEADER) or headers.get("x-first-death-reason") or first.get("reason") or "?"
    queue = (headers.get(QUEUE_HEADER) or headers.get("x-first-death-queue") or first.get("queue")
             or message.delivery_info.get("routing_key") or "?")
    return DeadLetter(_text(letter_id), _text(queue), message_type, message_id, _text(reason),
                      _instant(headers.get(DEAD_AT_HEADER) or first.get("time")))


# Connection attempts before giving up (kombu's OperationalError); kombu waits 2 s, 4 s, ... in between. The
# command waits a broker out for a while; the gateway's staff API answers 503 sooner.
CONNECT_RETRIES = 3


@contextmanager
def _taken(settings: CommonSettings, retries: int) -> Iterator[tuple[Connection, list[Message]]]:
    """Every dead letter, taken unacknowledged; those the block neither acks nor requeues are handed back."""
    # Publisher confirms on RabbitMQ: a message put back is acknowledged here only once the broker has it.
    with broker_connection(settings, transport_options={"confirm_publish": True}) as connection:
        connection.ensure_connection(max_retries=retries)
        declare_topology(connection, settings)
        queue = DEAD_LETTER_QUEUE(connection.default_channel)
        messages: list[Message] = []
        try:
            while (message := queue.get(no_ack=False)) is not None:
                messages.append(message)
            yield connection, messages
        finally:
            for message in messages:
                if not message.acknowledged:
                    message.requeue()


def list_letters(settings: CommonSettings, retries: int = CONNECT_RETRIES) -> list[DeadLetter]:
    with _taken(settings, retries) as (_connection, messages):
        return [describe(m) for m in messages]


def _select(messages: list[Message], ids: Collection[str] | None) -> list[tuple[Message, DeadLetter]]:
    pairs = [(m, describe(m)) for m in messages]
    return [(m, letter) for m, letter in pairs if ids is None or letter.letter_id in ids]


def _act(settings: CommonSettings, ids: Collection[str] | None,
         action: Callable[[Connection, Message, DeadLetter], None], retries: int) -> list[DeadLetter]:
    done = []
    with _taken(settings, retries) as (connection, messages):
        for message, letter in _select(messages, ids):
            action(connection, message, letter)
            message.ack()
            done.append(letter)
    return done


def requeue(settings: CommonSettings, ids: Collection[str] | None, retries: int = CONNECT_RETRIES
            ) -> list[DeadLetter]:
    """Puts the letters with these ids (None: all) back on the queues they came from, as they first arrived."""

    def put_back(connection: Connection, message: Message, letter: DeadLetter) -> None:
        headers = {k: v for k, v in _headers(message).items() if not k.startswith(_DEATH_HEADERS)}
        Producer(connection).publish(message.body, exchange="", routing_key=letter.queue, headers=headers,
                                     content_type=message.content_type or "application/data",
                                     content_encoding=message.content_encoding or "binary", delivery_mode=2,
                                     retry=False, **{k: v for k, v in message.properties.items()
                                                     if k in ("correlation_id", "reply_to", "priority")})

    return _act(settings, ids, put_back, retries)


def discard(settings: CommonSettings, ids: Collection[str] | None, retries: int = CONNECT_RETRIES
            ) -> list[DeadLetter]:
    return _act(settings, ids, lambda _connection, _message, _letter: None, retries)
