"""POST /twilio/status and POST /twilio/sms: Twilio's delivery status callbacks and inbound SMS.

Nothing is read, stored or published before the signature holds (fail closed: 403). The body limit of every POST
(BodySizeLimit, 413) applies before the form is parsed. An inbound SMS gets an empty TwiML answer: every reply
(the opt-out confirmation, the times offered, the answers of an SMS conversation) is sent by the notifier through
the API, so that it is tracked, paced and held to the discretion rules like every other message (README).
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import ImmutableMultiDict

from gateway.api.deps import gateway
from gateway.api.schemas import problems
from gateway.metrics import WEBHOOK_SIGNATURE_FAILURES
from gateway.twilio_signature import SIGNATURE_HEADER, SIGNATURE_SETTINGS_HEADER, is_signed_by_twilio, public_url
from gateway.twilio_webhooks import (
    Fields,
    InvalidWebhook,
    TwilioWebhooks,
    UnsupportedWebhookBody,
    WebhookNotSigned,
)

log = logging.getLogger(__name__)
router = APIRouter(prefix="/twilio", tags=["Twilio webhooks"])

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
FORM = "application/x-www-form-urlencoded"
# Twilio's webhooks have a few dozen parameters; far more is not Twilio.
MAX_FIELDS = 200
REFUSALS = problems(400, 403, 413, 415)


@router.post("/status", status_code=204, response_class=Response, responses=REFUSALS)
async def status_callback(request: Request) -> Response:
    """A message's new status (`?d=` carries the notifier's delivery reference), forwarded to the notifier."""
    form, query = await _signed_form(request)
    webhooks: TwilioWebhooks = gateway(request).twilio
    await run_in_threadpool(webhooks.report_status, form, query)
    return Response(status_code=204)


@router.post("/sms", response_class=Response, responses={
    200: {"content": {"application/xml": {}}, "description": "empty TwiML: no reply from Twilio"}, **REFUSALS})
async def inbound_sms(request: Request) -> Response:
    """A text a client sent: STOP/START (in their language) or a turn of their SMS conversation, never stored."""
    form, _query = await _signed_form(request)
    webhooks: TwilioWebhooks = gateway(request).twilio
    await run_in_threadpool(webhooks.receive_sms, form)
    return Response(EMPTY_TWIML, media_type="application/xml")


async def _signed_form(request: Request) -> tuple[Fields, Fields]:
    """The form and query fields of a request Twilio signed, or a refusal (403/415/400)."""
    settings = gateway(request).settings
    auth_token = gateway(request).twilio.auth_token
    shared_key = settings.twilio_webhook_shared_key.get_secret_value()
    signature = request.headers.get(SIGNATURE_HEADER)
    webhook = "status" if request.url.path.endswith("/status") else "sms"  # this router's two routes
    if not signature or not (auth_token or shared_key):
        if not (auth_token or shared_key):
            log.warning("twilio webhook refused: TWILIO_AUTH_TOKEN is not set")
        WEBHOOK_SIGNATURE_FAILURES.labels(webhook, "no_token" if signature else "unsigned").inc()
        raise WebhookNotSigned()
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != FORM:
        raise UnsupportedWebhookBody()
    form = _parse(await request.body(), "The body")
    url = public_url(settings.public_base_url, request.scope.get("raw_path") or request.url.path.encode(),
                     request.scope.get("query_string", b""))
    if not is_signed_by_twilio(url, form, signature, request.headers.get(SIGNATURE_SETTINGS_HEADER),
                               auth_token, shared_key):
        log.warning("twilio webhook refused: the signature does not match")
        WEBHOOK_SIGNATURE_FAILURES.labels(webhook, "mismatch").inc()
        raise WebhookNotSigned()
    query = _parse(request.scope.get("query_string", b""), "The query string")
    return _fields(form), _fields(query)


def _parse(raw: bytes, what: str) -> ImmutableMultiDict[str, str]:
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=True, errors="strict",
                          max_num_fields=MAX_FIELDS)
    except ValueError:  # also UnicodeDecodeError; the message would echo the input
        raise InvalidWebhook(f"{what} is not a well-formed URL-encoded form in UTF-8.") from None
    return ImmutableMultiDict(pairs)


def _fields(form: ImmutableMultiDict[str, str]) -> Fields:
    return {key: form.getlist(key) for key in form}
