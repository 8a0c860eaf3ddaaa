"""SMS providers: Twilio through its official SDK, or a sink file that records what would have been sent.

A provider call ends in one of three ways, and the dispatcher treats them differently: accepted (SendResult),
refused (SendFailed: the provider answered, the message was not taken), or unknown (SendOutcomeUnknown: the
request may have reached the provider, so the message must not be sent again without asking the provider).
"""

from __future__ import annotations

import json
import os
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import requests
import urllib3
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from notifier.settings import NotifierSettings
from shared.phones import mask_phone
from shared.private_files import FILE_MODE, private_directory, private_file


@dataclass(frozen=True)
class SendResult:
    provider_sid: str
    status: str  # the provider's status of the message right after the request (Twilio: queued, accepted, …)


class SendFailed(Exception):
    """The provider refused the message; `code` is its error code where it gave one."""

    def __init__(self, code: str | None, http_status: int | None = None) -> None:
        super().__init__(f"provider refused the message (code {code}, HTTP {http_status})")
        self.code = code
        self.http_status = http_status


class SendOutcomeUnknown(Exception):
    """The request left but no answer came back (a timeout, a broken connection): it may have been sent."""


class SmsSender(Protocol):
    name: str

    def send(self, to: str, body: str, ref: str) -> SendResult: ...

    def find_sent(self, to: str, body: str, since: datetime) -> SendResult | None:
        """A message to `to` with this body created since `since`, if the provider has one (reconciliation)."""
        ...


class SinkSender:
    """Appends each message to a JSON-lines file instead of sending it; for development and tests, and in production
    only when SMS_PROVIDER=sink is chosen explicitly (notifier.settings).

    The number is masked: the sink is for looking, not for calling. The body is kept whole, manage link included:
    the link is what a developer (and tests/integration) opens to see the manage page a client would see, and a
    masked link could not be followed. So the file is readable by its owner only (0600, tightened if an older
    version left it readable to others), like the databases that hold the same token's hash and ciphertext."""

    name = "sink"

    def __init__(self, path: Path, sender_id: str) -> None:
        self.path = path
        self.sender_id = sender_id
        self._lock = threading.Lock()
        if path.exists():
            private_file(path)

    def send(self, to: str, body: str, ref: str) -> SendResult:
        sid = "SK" + secrets.token_hex(16)
        entry = {
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "sid": sid,
            "ref": ref,
            "from": self.sender_id,
            "to": mask_phone(to),
            "body": body,
        }
        private_directory(self.path.parent)
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
            with os.fdopen(fd, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(entry, ensure_ascii=False) + "\n")
        return SendResult(sid, "delivered")

    def find_sent(self, to: str, body: str, since: datetime) -> SendResult | None:
        # The sink writes one line per message; a line with this body and masked number after `since` is it.
        if not self.path.exists():
            return None
        masked = mask_phone(to)
        with self.path.open(encoding="utf-8") as handle:
            for line in handle:
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue  # a line cut short by a crash
                if entry.get("to") == masked and entry.get("body") == body and \
                        datetime.fromisoformat(entry["at"]) >= since.replace(microsecond=0):
                    return SendResult(entry["sid"], "delivered")
        return None


class BaseUrlHttpClient(TwilioHttpClient):  # type: ignore[misc]
    """Send every Twilio API request to one base URL (a Twilio-compatible server such as the contract mock)."""

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._base = urlsplit(base_url)

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        parts = urlsplit(url)
        url = urlunsplit((self._base.scheme, self._base.netloc, parts.path, parts.query, ""))
        return super().request(method, url, *args, **kwargs)


class TwilioSender:
    name = "twilio"

    def __init__(self, settings: NotifierSettings, http_client: TwilioHttpClient | None = None) -> None:
        if http_client is None and settings.twilio_api_base_url:
            http_client = BaseUrlHttpClient(settings.twilio_api_base_url, timeout=10)
        elif http_client is None:
            http_client = TwilioHttpClient(timeout=10)
        self.client = Client(settings.twilio_account_sid, settings.twilio_auth_token.get_secret_value(),
                             http_client=http_client)
        self.sender = {"messaging_service_sid": settings.twilio_messaging_service_sid} \
            if settings.twilio_messaging_service_sid else {"from_": settings.twilio_from}
        self.status_callback = f"{settings.public_base_url}/twilio/status"

    def send(self, to: str, body: str, ref: str) -> SendResult:
        try:
            # The ref in the callback URL lets a status callback find its delivery even if this answer is lost.
            message = self.client.messages.create(to=to, body=body, status_callback=f"{self.status_callback}?d={ref}",
                                                  **self.sender)
        except (TwilioRestException, TwilioServiceException) as exc:
            # Twilio answered: whether to try again is the status's and code's to say (provider_errors). Without a
            # code in the answer the SDK gives the HTTP status as the code; that is no Twilio error code.
            code = str(exc.code) if exc.code is not None and exc.code != exc.status else None
            raise SendFailed(code, exc.status) from None
        except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
            if never_left(exc):
                raise SendFailed(None, None) from None  # transient: tried again later
            raise SendOutcomeUnknown(type(exc).__name__) from None
        return SendResult(str(message.sid), str(message.status))

    def find_sent(self, to: str, body: str, since: datetime) -> SendResult | None:
        try:
            messages = self.client.messages.list(to=to, date_sent_after=since - timedelta(minutes=1), limit=50)
        except (TwilioRestException, TwilioServiceException, requests.RequestException, urllib3.exceptions.HTTPError):
            return None
        for message in messages:
            if message.to == to and message.body == body:
                return SendResult(str(message.sid), str(message.status))
        return None


# Connecting failed (refused, no route, name not found, timed out): not one byte of the request left, so sending it
# again cannot make a second text. urllib3's NewConnectionError is a ConnectTimeoutError; requests wraps both.
_NOT_CONNECTED = (urllib3.exceptions.ConnectTimeoutError, requests.exceptions.ConnectTimeout)


def never_left(exc: BaseException) -> bool:
    """Whether a failed request is known never to have reached the provider. Anything else (a read timeout, a
    connection broken after the request was written: urllib3's ProtocolError) may have reached it, and the message
    must not be sent again without asking the provider."""
    return any(isinstance(cause, _NOT_CONNECTED) for cause in _causes(exc))


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception and every exception it was raised from or while handling (requests wraps urllib3's)."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [current.__cause__, current.__context__]


def make_sender(settings: NotifierSettings) -> SmsSender:
    if settings.sms_provider == "twilio":
        return TwilioSender(settings)
    return SinkSender(settings.var_dir.resolve() / "sms-sink.jsonl", sender_id=settings.sms_sender_id)
