"""`python -m lotse phone --from +49151… "Termin"`: try the SMS channel without Twilio. The text is posted to the
gateway's /twilio/sms as Twilio would post it, signed with the webhook token (twilio's RequestValidator), and the
replies the SMS sink records for that number are printed as they arrive."""

from __future__ import annotations

import json
import secrets
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

from gateway.settings import GatewaySettings
from gateway.twilio_webhooks import webhook_auth_token
from starlette.datastructures import ImmutableMultiDict
from twilio.request_validator import RequestValidator

from shared.phones import InvalidPhoneNumber, mask_phone, normalise_phone

SERVICE_NUMBER = "+4915199990000"  # the number a client texts; the gateway does not read it
QUIET_SECONDS = 2.0  # after a reply, wait this long for another before returning


def send(settings: GatewaySettings, sender: str, body: str, wait_seconds: float) -> int:
    try:
        phone = normalise_phone(sender)
    except InvalidPhoneNumber as exc:
        print(f"lotse phone: {exc}", file=sys.stderr)
        return 2
    token = webhook_auth_token(settings)
    if not token:
        print("lotse phone: set TWILIO_AUTH_TOKEN (webhooks are checked with it)", file=sys.stderr)
        return 2
    sink = settings.var_dir.resolve() / "sms-sink.jsonl"
    seen = len(_replies(sink, phone))
    sid = "SM" + secrets.token_hex(16)
    params = [("MessageSid", sid), ("SmsSid", sid), ("AccountSid", "AC" + "0" * 32), ("From", phone),
              ("To", SERVICE_NUMBER), ("Body", body), ("NumMedia", "0"), ("NumSegments", "1")]
    public = f"{settings.public_base_url.rstrip('/')}/twilio/sms"
    signature = RequestValidator(token).compute_signature(public, ImmutableMultiDict(params))
    request = urllib.request.Request(
        f"http://127.0.0.1:{settings.port}/twilio/sms", data=urlencode(params).encode(), method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature})
    try:
        with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310 - our own gateway, http
            response.read()
    except urllib.error.HTTPError as exc:
        print(f"lotse phone: the gateway refused the text ({exc.code}): {exc.read().decode(errors='replace')}",
              file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"lotse phone: the gateway at port {settings.port} does not answer ({exc}); is "
              "`python -m lotse run` running?", file=sys.stderr)
        return 1
    print(f"→ {mask_phone(phone)}: {body}")
    deadline, quiet_until = time.monotonic() + wait_seconds, None
    while time.monotonic() < deadline and (quiet_until is None or time.monotonic() < quiet_until):
        found = _replies(sink, phone)
        for reply in found[seen:]:
            print(f"← {reply}\n")
            quiet_until = time.monotonic() + QUIET_SECONDS
        seen = len(found)
        time.sleep(0.2)
    if quiet_until is None:
        print(f"(no reply in {wait_seconds:g} s: nothing to answer, a pause, or the notifier is not running; "
              f"the sink is {sink})")
    return 0


def _replies(sink: Path, phone: str) -> list[str]:
    """What the sink recorded for this number (it keeps numbers masked: the last three digits tell them apart)."""
    if not sink.exists():
        return []
    masked, found = mask_phone(phone), []
    for line in sink.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("to") == masked:
            found.append(str(entry.get("body", "")))
    return found
