"""JSON log lines with the correlation id, and phone numbers redacted from anything that is logged by accident."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.logging import JsonFormatter, configure_logging, correlation_id, redact

PHONE = "+4915112345678"


def record(message: str, *args: object, exc_info: Any = None, **extra: object) -> logging.LogRecord:
    logger = logging.getLogger("lotse.test")
    return logger.makeRecord(logger.name, logging.INFO, __file__, 1, message, args, exc_info, extra=extra or None)


def formatted(message: str, *args: object, **kwargs: Any) -> dict[str, Any]:
    line = JsonFormatter("scheduler").format(record(message, *args, **kwargs))
    assert "\n" not in line, "one log entry per line"
    entry: dict[str, Any] = json.loads(line)
    return entry


# --- the JSON shape --------------------------------------------------------------------------------------------


def test_log_line_is_json_with_service_level_logger_message_and_utc_time() -> None:
    before = datetime.now(UTC)
    entry = formatted("booked %d slots", 3)

    assert entry["service"] == "scheduler"
    assert entry["level"] == "INFO"
    assert entry["logger"] == "lotse.test"
    assert entry["msg"] == "booked 3 slots"
    at = datetime.fromisoformat(entry["at"])
    assert at.utcoffset() == timedelta(0)
    assert before - timedelta(seconds=1) <= at <= datetime.now(UTC)


def test_log_line_carries_the_current_correlation_id() -> None:
    token = correlation_id.set("booking-7f3a")
    try:
        entry = formatted("confirmed")
    finally:
        correlation_id.reset(token)

    assert entry["correlation_id"] == "booking-7f3a"


def test_correlation_id_passed_with_the_record_wins_over_the_context() -> None:
    token = correlation_id.set("from-context")
    try:
        entry = formatted("confirmed", correlation_id="from-record")
    finally:
        correlation_id.reset(token)

    assert entry["correlation_id"] == "from-record"


def test_log_line_without_a_correlation_id_says_so() -> None:
    assert formatted("started")["correlation_id"] == "-"


@pytest.mark.parametrize("message", ['quote " and backslash \\', "two\nlines\ttab", "Grüße, Δ, 😀", "{not: json}"])
def test_awkward_messages_still_make_one_valid_json_line(message: str) -> None:
    assert formatted("%s", message)["msg"] == message


def test_exception_is_logged_as_error_text_with_the_phone_number_redacted() -> None:
    try:
        raise ValueError(f"cannot send to {PHONE}")
    except ValueError:
        entry = formatted("delivery failed", exc_info=sys.exc_info())

    assert "ValueError" in entry["error"]
    assert "Traceback" in entry["error"]
    assert PHONE not in entry["error"]
    assert PHONE[3:] not in entry["error"]


# --- redaction -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "phone",
    [PHONE, "015112345678", "+49 151 12345678", "+40721234567", "+36 20 123 4567", "+359881234567"],
)
def test_phone_number_in_a_message_is_redacted(phone: str) -> None:
    entry = formatted("sms to %s failed", phone)

    assert phone not in entry["msg"]
    assert phone.replace(" ", "")[-8:] not in entry["msg"].replace(" ", "")
    assert entry["msg"].startswith("sms to ")
    assert entry["msg"].endswith(" failed")


def test_phone_number_in_the_format_string_itself_is_redacted() -> None:
    assert PHONE not in formatted(f"sms to {PHONE} failed")["msg"]


def test_every_phone_number_in_a_message_is_redacted() -> None:
    msg = formatted("merged %s into %s", PHONE, "015187650123")["msg"]

    assert "12345678" not in msg
    assert "87650123" not in msg


@pytest.mark.parametrize(
    "text",
    [
        "2026-03-29T01:30:00+01:00",
        "2026-10-25 02:30:00.123456+02:00",
        "25.10.2026 02:30",
        "booking 5b0c2d7e-8f11-4a7b-9c3d-2e4f6a8b0c1d",
        "booking 01234567-89ab-4cde-8f01-234567891234",
        "relayed 1500 messages",
        "claimed 12 reminders in 0.25 s",
        "slot s2-3-7-1-29579520",
        "epoch 1774771200",
        "port 8000, pid 123456",
    ],
)
def test_dates_times_uuids_counts_and_ids_are_not_redacted(text: str) -> None:
    assert formatted("%s", text)["msg"] == text
    assert redact(text) == text


def test_uuid_whose_last_group_is_all_digits_is_not_redacted() -> None:
    text = "booking 5b0c2d7e-8f11-4a7b-9c3d-012345678901"

    assert redact(text) == text


@pytest.mark.parametrize(
    "phone",
    [
        "0151 12345678",
        "0151/12345678",
        "0151-12345678",
        "004915112345678",
        "+49 (0)151 12345678",
        "+49-151-12345678",
        "From=%2B4915112345678",
    ],
)
def test_phone_number_as_people_and_webhooks_write_it_is_redacted(phone: str) -> None:
    assert "12345678" not in redact(f"inbound sms {phone} ignored")


# --- configure_logging ---------------------------------------------------------------------------------------


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    watched = ["uvicorn.access", "amqp", "kombu", "httpx", "twilio.http_client"]
    states = {name: (logging.getLogger(name).disabled, logging.getLogger(name).level) for name in watched}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, (disabled, lvl) in states.items():
        logging.getLogger(name).disabled = disabled
        logging.getLogger(name).setLevel(lvl)


def test_configured_logging_writes_redacted_json_to_stderr(
    restored_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("notifier", "INFO")

    logging.getLogger("notifier.dispatch").info("sent to %s", PHONE)
    logging.getLogger("notifier.dispatch").debug("not shown at INFO")

    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert entry["service"] == "notifier"
    assert PHONE not in entry["msg"]


def test_configured_logging_silences_the_access_log_that_would_record_manage_tokens(restored_logging: None) -> None:
    configure_logging("gateway")

    assert logging.getLogger("uvicorn.access").disabled
    assert logging.getLogger("kombu").level == logging.WARNING
    assert len(logging.getLogger().handlers) == 1
