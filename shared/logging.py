"""Structured (JSON) logs with the booking's correlation id, and a last line of defence against phone numbers.

Code never logs a phone number or a message text on purpose; the redaction filter catches an accident.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime

correlation_id: ContextVar[str] = ContextVar("correlation_id", default="-")

# International (+4915112345678) or national (015112345678) numbers; dates, UUIDs and counts do not match.
_PHONE_LIKE = re.compile(
    r"(?:\+|%2B)\d[\d ()/-]{6,22}\d"  # international, also URL-encoded (Twilio webhook bodies)
    r"|(?<![\w-])0\d{2,5}[ /-]?\d[\d ]{4,12}\d(?![\w-])"  # national and 00-international, grouped or not
    , re.IGNORECASE)


def redact(text: str) -> str:
    return _PHONE_LIKE.sub("[redacted]", text)


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "correlation_id": getattr(record, "correlation_id", None) or correlation_id.get(),
            "msg": redact(record.getMessage()),
        }
        if record.exc_info:
            entry["error"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # uvicorn's access log would record manage tokens in URLs; our own middleware logs requests without them.
    logging.getLogger("uvicorn.access").disabled = True
    for noisy in ("amqp", "kombu", "celery.worker.strategy", "celery.app.trace", "httpx", "twilio.http_client"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
