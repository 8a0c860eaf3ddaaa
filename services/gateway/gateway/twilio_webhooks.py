"""Signed Twilio webhooks turned into messages for the notifier: delivery status callbacks and inbound SMS.

The gateway checks the fields, seals the sender's number for the notifier and writes outbox messages. The text of
an inbound SMS is read only to classify it (gateway.sms_keywords); it is never stored, logged or sent on. STOP and
START go to the notifier as `sms.received`, as before; everything else is a turn of the client's SMS conversation
(gateway.sms_conversation). Twilio retries a webhook it thinks failed, so a repeat gets the same message id: the
notifier's inbox drops it, and while the first is still in the outbox the repeat is not even written; the
conversation records each MessageSid and answers it once.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import get_args
from uuid import NAMESPACE_URL, UUID, uuid5

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from gateway.errors import GatewayError
from gateway.repository import GatewayRepository
from gateway.settings import GatewaySettings
from gateway.sms_conversation.service import SmsConversations
from gateway.sms_keywords import read
from shared.contracts import wrap
from shared.contracts.deliveries import DeliveryStatusReported, ProviderStatus, SmsReceived, inbound_phone_context
from shared.contracts.envelope import Envelope, Payload
from shared.crypto import DataCipher, load_or_create_key_file
from shared.logging import correlation_id
from shared.phones import InvalidPhoneNumber, normalise_phone
from shared.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

Fields = Mapping[str, Sequence[str]]

MESSAGE_SID = re.compile(r"^(SM|MM)[0-9a-f]{32}$")
DELIVERY_REF = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
ERROR_CODE = re.compile(r"^[0-9]{1,6}$")
# Twilio sends SMS senders in E.164; anything else (a short code, an alphanumeric sender, "whatsapp:+49…") is no
# number a reminder ever went to, and `phonenumbers` would happily dig a number out of such text.
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
PROVIDER_STATUSES = frozenset(get_args(ProviderStatus))
_MESSAGE_IDS = uuid5(NAMESPACE_URL, "https://lotse/twilio-webhooks")


# On the embedded default without TWILIO_AUTH_TOKEN, webhooks are checked against a token generated once into
# VAR_DIR, so that `python -m lotse phone` can try the SMS channel through the same signed path Twilio takes.
EMBEDDED_TOKEN_FILE = "twilio-webhook.key"  # noqa: S105 - a file name, not a secret


def webhook_auth_token(settings: GatewaySettings) -> str:
    """The token webhooks are signed with: TWILIO_AUTH_TOKEN, or on the embedded default (embedded broker, no
    token and no shared key set) the one in VAR_DIR; empty means unsigned webhooks are all refused."""
    token = settings.twilio_auth_token.get_secret_value()
    if token or settings.twilio_webhook_shared_key.get_secret_value() or settings.lotse_env != "embedded" \
            or not settings.is_embedded_broker:
        return token
    return load_or_create_key_file(settings.var_dir.resolve() / EMBEDDED_TOKEN_FILE)


class InvalidWebhook(GatewayError):
    code, status = "invalid_webhook", 400


class WebhookNotSigned(GatewayError):
    code, status = "invalid_signature", 403

    def __init__(self) -> None:
        super().__init__("This request is not signed by Twilio.")


class UnsupportedWebhookBody(GatewayError):
    code, status = "unsupported_media_type", 415

    def __init__(self) -> None:
        super().__init__("Twilio webhooks must be sent as application/x-www-form-urlencoded.")


class TwilioWebhooks:
    def __init__(self, engine: Engine, cipher: DataCipher, announce: Callable[[], None],
                 clock: Callable[[], datetime], conversations: SmsConversations | None = None,
                 auth_token: str = "") -> None:
        self.auth_token = auth_token  # webhook_auth_token(settings)
        self.uow = UnitOfWork(engine, GatewayRepository)
        self.cipher = cipher
        self.announce = announce  # wakes the outbox relay after a commit
        self.clock = clock
        self.conversations = conversations

    def report_status(self, fields: Fields, query: Fields) -> DeliveryStatusReported:
        """A status callback as `delivery.status_reported`. Unknown SIDs are forwarded too: only the notifier
        knows its deliveries."""
        sid = _message_sid(fields)
        status = _required(fields, "MessageStatus")
        if status not in PROVIDER_STATUSES:
            raise InvalidWebhook("MessageStatus is not a message status Twilio documents.")
        error_code = _optional(fields, "ErrorCode") or None
        if error_code is not None and not ERROR_CODE.match(error_code):
            raise InvalidWebhook("ErrorCode must be a number of up to six digits.")
        delivery_ref = _optional(query, "d")
        if delivery_ref is not None and not DELIVERY_REF.match(delivery_ref):
            raise InvalidWebhook("The delivery reference d must be 16 to 64 letters, digits, '-' or '_'.")
        report = DeliveryStatusReported(message_sid=sid, status=status,
                                        error_code=error_code, delivery_ref=delivery_ref, reported_at=self.clock())
        with _correlated(sid):
            self._publish(report, sid, f"{sid}:{status}:{error_code}:{delivery_ref}")
            log.info("twilio status callback accepted: status=%s error_code=%s", status, error_code or "-")
        return report

    def receive_sms(self, fields: Fields) -> SmsReceived | None:
        """STOP/START as `sms.received` with the sender sealed for the notifier; anything else a turn of the
        sender's SMS conversation (None then). Nothing happens when the sender is no mobile number in E.164 (no
        reminder ever went there)."""
        sid = _message_sid(fields)
        sender = _optional(fields, "From") or ""
        intent = read(_optional(fields, "Body") or "")
        with _correlated(sid):
            phone = _mobile_number(sender)
            if phone is None:
                log.info("inbound sms ignored: the sender is not a mobile number in E.164 (intent=%s)", intent.kind)
                return None
            if intent.kind not in ("stop", "start"):
                if self.conversations is not None:
                    self.conversations.receive(sid, phone, intent)
                    self.announce()
                    return None
            keyword = intent.kind if intent.kind in ("stop", "start") else "other"
            sealed = self.cipher.seal_for_notifier(phone, inbound_phone_context(sid))
            received = SmsReceived(message_sid=sid, phone=sealed, keyword=keyword,
                                   language=intent.language if keyword != "other" else None)
            self._publish(received, sid, sid)
            if self.conversations is not None:
                self.conversations.forget(phone)
            log.info("inbound sms accepted: keyword=%s language=%s", keyword, received.language or "-")
        return received

    def _publish(self, payload: Payload, sid: str, fact: str) -> None:
        envelope = _envelope(payload, sid, self.clock(), fact)
        try:
            with self.uow() as repository:
                repository.add_messages(envelope)
        except IntegrityError:
            # Twilio retried before the relay sent the first: that message is still waiting, nothing to add.
            log.info("twilio webhook repeated; the first is still in the outbox")
            return
        self.announce()


def _envelope(payload: Payload, sid: str, now: datetime, fact: str) -> Envelope:
    message_id: UUID = uuid5(_MESSAGE_IDS, f"{payload.message_type}:{fact}")
    return wrap(payload, sid, now).model_copy(update={"message_id": message_id})


def _message_sid(fields: Fields) -> str:
    sid = _required(fields, "MessageSid")
    if not MESSAGE_SID.match(sid):
        raise InvalidWebhook("MessageSid must be SM or MM followed by 32 lower-case hexadecimal digits.")
    return sid


def _required(fields: Fields, name: str) -> str:
    value = _optional(fields, name)
    if value is None:
        raise InvalidWebhook(f"{name} is missing.")
    return value


def _optional(fields: Fields, name: str) -> str | None:
    values = fields.get(name, ())
    if len(values) > 1:
        raise InvalidWebhook(f"{name} is given more than once.")
    return values[0] if values else None


def _mobile_number(sender: str) -> str | None:
    if not E164.match(sender):
        return None
    try:
        return normalise_phone(sender)
    except InvalidPhoneNumber:
        return None


@contextmanager
def _correlated(sid: str) -> Iterator[None]:
    """Log lines about one webhook carry its Message SID (no personal data) as correlation id."""
    token = correlation_id.set(sid)
    try:
        yield
    finally:
        correlation_id.reset(token)
