"""The public OpenAPI description: the clients' API only (bookings, slots, service status), in neutral words.

Anyone can read /openapi.json on the clients' address, so it must not say what the service is for nor describe the
staff API: the routes of the public routers only, and every description, enum or parameter that would name the
people, the staff or a topic left out. What is left out stays accepted and answered; only the words are not
published. The whole description, staff routes included, is on the internal port (gateway.internal).
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, FastAPI

from gateway.api import bookings, health, slots
from gateway.api.schemas import COMMON_PROBLEMS
from shared.contracts.common import Topic

PUBLIC_ROUTERS: tuple[APIRouter, ...] = (bookings.router, slots.router, health.router)
# Words that would tell a reader of the public description what the service is about.
TELLING = re.compile(r"counsel|staff|sex|\b(" + "|".join(topic.value for topic in Topic) + r")\b", re.IGNORECASE)
_WORDS = ("description", "summary", "title")


def public_description(title: str, version: str) -> dict[str, Any]:
    described = FastAPI(title=title, version=version, responses=COMMON_PROBLEMS)
    for router in PUBLIC_ROUTERS:
        described.include_router(router)
    neutral: dict[str, Any] = _neutral(described.openapi())
    return neutral


def _neutral(node: Any) -> Any:
    if isinstance(node, list):
        return [_neutral(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _WORDS and isinstance(value, str) and TELLING.search(value):
            continue  # a plain description would be better than none, but none is better than a telling one
        if key == "enum" and any(TELLING.search(str(item)) for item in value):
            continue  # stays a string; the booking page offers the values
        if key == "parameters":
            value = [p for p in value if not TELLING.search(str(p.get("name", "")))]
        out[key] = _neutral(value)
    properties = out.get("properties")
    if isinstance(properties, dict):
        told = {name for name in properties if TELLING.search(name)}
        if told:
            out["properties"] = {name: value for name, value in properties.items() if name not in told}
            if "required" in out:
                out["required"] = [name for name in out["required"] if name not in told]
            out.pop("additionalProperties", None)  # the field is still sent: an undescribed property is allowed
    return out
