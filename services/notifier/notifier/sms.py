"""SMS providers: Twilio through its official SDK, or a sink file that records what would have been sent."""

from __future__ import annotations

import json
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from shared.phones import mask_phone
from shared.settings import Settings


@dataclass(frozen=True)
class SendResult:
    provider_sid: str
    status: str


class SendFailed(Exception):
    """The provider refused the message; `code` is its error code where it gave one."""

    def __init__(self, code: str | None, permanent: bool) -> None:
        super().__init__(f"provider refused the message (code {code})")
        self.code = code
        self.permanent = permanent


class SmsSender(Protocol):
    name: str

    def send(self, to: str, body: str) -> SendResult: ...


class SinkSender:
    """Appends each message to a JSON-lines file. The number is masked: the sink is for looking, not for calling."""

    name = "sink"

    def __init__(self, path: Path, sender_id: str) -> None:
        self.path = path
        self.sender_id = sender_id
        self._lock = threading.Lock()

    def send(self, to: str, body: str) -> SendResult:
        sid = "SK" + secrets.token_hex(16)
        entry = {
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "sid": sid,
            "from": self.sender_id,
            "to": mask_phone(to),
            "body": body,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry, ensure_ascii=False) + "\n")
        return SendResult(sid, "sent")


class BaseUrlHttpClient(TwilioHttpClient):  # type: ignore[misc]
    """Send every Twilio API request to one base URL (a Twilio-compatible server such as the contract mock)."""

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._base = urlsplit(base_url)

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        parts = urlsplit(url)
        url = urlunsplit((self._base.scheme, self._base.netloc, parts.path, parts.query, ""))
        return super().request(method, url, *args, **kwargs)


# Twilio error codes after which sending again to this number cannot succeed.
PERMANENT_ERRORS = {"21211", "21214", "21408", "21610", "21612", "21614", "30003", "30005", "30006"}


class TwilioSender:
    name = "twilio"

    def __init__(self, settings: Settings, http_client: TwilioHttpClient | None = None) -> None:
        if http_client is None and settings.twilio_api_base_url:
            http_client = BaseUrlHttpClient(settings.twilio_api_base_url, timeout=10)
        elif http_client is None:
            http_client = TwilioHttpClient(timeout=10)
        self.client = Client(settings.twilio_account_sid, settings.twilio_auth_token.get_secret_value(),
                             http_client=http_client)
        self.sender = {"messaging_service_sid": settings.twilio_messaging_service_sid} \
            if settings.twilio_messaging_service_sid else {"from_": settings.twilio_from}
        self.status_callback = f"{settings.public_base_url}/twilio/status"

    def send(self, to: str, body: str) -> SendResult:
        try:
            message = self.client.messages.create(to=to, body=body, status_callback=self.status_callback,
                                                  **self.sender)
        except TwilioRestException as exc:
            code = str(exc.code) if exc.code is not None else None
            raise SendFailed(code, permanent=code in PERMANENT_ERRORS or exc.status in (400, 401, 403, 404, 422)) \
                from None
        return SendResult(str(message.sid), str(message.status))


def make_sender(settings: Settings) -> SmsSender:
    if settings.sms_provider == "twilio":
        return TwilioSender(settings)
    return SinkSender(settings.var_dir.resolve() / "sms-sink.jsonl", sender_id="Termin")
