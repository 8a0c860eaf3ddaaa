"""Twilio's webhooks on the real gateway app (PostgreSQL): status callbacks and inbound SMS become outbox messages
for the notifier only when Twilio signed them, and carry neither the sender's number nor the text in the clear.

Issue "Lotse 3/6", "Delivery tracking", "Opt-out" and "Bad input". The app runs behind a pretend TLS proxy: it is
called at http://testserver/..., while Twilio signs https://termine.example.org/... (PUBLIC_BASE_URL). The outbox
relay is not started, so every message the gateway wrote is still in the outbox to be read.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from gateway.app import Gateway, build, create_app
from gateway.settings import GatewaySettings
from sqlalchemy import text
from starlette.datastructures import ImmutableMultiDict
from twilio.request_validator import RequestValidator

from shared.contracts import parse
from shared.contracts.deliveries import inbound_phone_context
from shared.crypto import DataCipher, generate_data_key
from tests.support import infra

AUTH_TOKEN = "test-auth-token-0123456789abcdef"
SHARED_KEY = "test-shared-key-secret-fedcba9876543210"
PUBLIC = "https://termine.example.org"
INTERNAL = "http://testserver"
NOW = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 CEST: the night the clocks go back in Berlin
SID = "SM" + "0123456789abcdef" * 2
MMS_SID = "MM" + "fedcba9876543210" * 2
REF = "dlv_4fK9x2Qm7Lp0Zt8W"
CLIENT = "+4915112345678"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}

Params = list[tuple[str, str]]


@dataclass
class Desk:
    client: TestClient
    gateway: Gateway
    cipher: DataCipher


def _desk(databases: infra.Databases, tmp_path: Path, **overrides: str) -> Iterator[Desk]:
    data_key = generate_data_key()
    secrets = {"twilio_auth_token": "", "twilio_webhook_shared_key": "", **overrides}
    settings = GatewaySettings(gateway_database_url=databases.gateway, broker_url="memory://", var_dir=tmp_path,
                               data_key=data_key, public_base_url=PUBLIC, **secrets)  # type: ignore[arg-type]
    gateway = build(settings, clock=lambda: NOW)
    # No `with`: the lifespan (outbox relay, broker listener) does not start, so written messages stay readable.
    yield Desk(TestClient(create_app(gateway), raise_server_exceptions=False), gateway,
               DataCipher.from_text(data_key))
    gateway.engine.dispose()


@pytest.fixture(scope="module")
def module_databases(infrastructure: None) -> Iterator[infra.Databases]:
    databases = infra.create_databases()
    yield databases
    infra.drop_databases(databases)


@pytest.fixture(scope="module")
def desk(module_databases: infra.Databases, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    yield from _desk(module_databases, tmp_path_factory.mktemp("twilio"), twilio_auth_token=AUTH_TOKEN,
                     twilio_webhook_shared_key=SHARED_KEY)


def clear_outbox(desk: Desk) -> None:
    """What the relay does once it has published."""
    with desk.gateway.engine.begin() as connection:
        connection.execute(text("DELETE FROM outbox"))


@pytest.fixture(autouse=True)
def empty_outbox(desk: Desk) -> None:
    clear_outbox(desk)


def outbox(desk: Desk) -> list[dict[str, Any]]:
    with desk.gateway.engine.connect() as connection:
        rows = connection.execute(text("SELECT routing_key, correlation_id, body FROM outbox ORDER BY id")).all()
    return [{"routing_key": key, "correlation_id": correlation, "raw": body, **json.loads(body)}
            for key, correlation, body in rows]


def status_params(sid: str = SID, status: str = "delivered", **extra: str) -> Params:
    fields = {"MessageSid": sid, "MessageStatus": status, "AccountSid": "AC" + "0" * 32, "From": "Termin",
              "To": CLIENT, "ApiVersion": "2010-04-01", "SmsSid": sid, "SmsStatus": status, **extra}
    return list(fields.items())


def sms_params(body: str, sender: str = CLIENT, sid: str = SID) -> Params:
    return [("MessageSid", sid), ("SmsSid", sid), ("AccountSid", "AC" + "0" * 32), ("From", sender),
            ("To", "+4915199990000"), ("Body", body), ("NumMedia", "0"), ("NumSegments", "1")]


def sign(url: str, params: Params, token: str = AUTH_TOKEN, algorithm: str | None = None) -> str:
    return str(RequestValidator(token).compute_signature(url, ImmutableMultiDict(params), algorithm=algorithm))


def post(desk: Desk, path: str, params: Params, *, query: str = "", signed_url: str | None = None,
         token: str = AUTH_TOKEN, signed_params: Params | None = None,
         headers: dict[str, str] | None = None) -> Any:
    """Post as Twilio would: form-encoded, signed over the public URL unless told otherwise."""
    target = f"{path}?{query}" if query else path
    url = signed_url if signed_url is not None else PUBLIC + target
    signature = {"X-Twilio-Signature": sign(url, signed_params if signed_params is not None else params, token)}
    return desk.client.post(target, content=urlencode(params), headers={**FORM, **signature, **(headers or {})})


def assert_refused(response: Any, status: int, *words: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["detail"].endswith(".") and all(w in body["detail"] for w in words), body


# --- status callbacks --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "extra", "query", "expected_error", "expected_ref"), [
    ("delivered", {}, f"d={REF}", None, REF),
    ("undelivered", {"ErrorCode": "30003"}, f"d={REF}", "30003", REF),
    ("failed", {"ErrorCode": "30005"}, "", "30005", None),
    ("sent", {"ErrorCode": ""}, f"d={REF}", None, REF),
])
def test_signed_status_callback_is_forwarded_to_the_notifier_as_delivery_status_reported(
        desk: Desk, status: str, extra: dict[str, str], query: str, expected_error: str | None,
        expected_ref: str | None) -> None:
    response = post(desk, "/twilio/status", status_params(status=status, **extra), query=query)

    assert response.status_code == 204, response.text
    assert response.content == b""
    [row] = outbox(desk)
    assert row["routing_key"] == "delivery.status_reported" and row["correlation_id"] == SID
    envelope = parse({k: v for k, v in row.items() if k not in ("routing_key", "raw")})
    assert envelope.type == "delivery.status_reported" and envelope.correlation_id == SID
    assert envelope.payload.model_dump() == {"message_sid": SID, "status": status, "error_code": expected_error,
                                             "delivery_ref": expected_ref, "reported_at": NOW}


def test_status_callback_for_an_mms_sid_is_forwarded_too(desk: Desk) -> None:
    assert post(desk, "/twilio/status", status_params(sid=MMS_SID), query=f"d={REF}").status_code == 204
    assert [row["payload"]["message_sid"] for row in outbox(desk)] == [MMS_SID]


def test_twilio_retrying_a_status_callback_gives_the_notifier_one_message_id(desk: Desk) -> None:
    for _ in range(2):
        assert post(desk, "/twilio/status", status_params(), query=f"d={REF}").status_code == 204
    assert len(outbox(desk)) == 1  # the first is still waiting for the relay: the repeat adds nothing
    first = outbox(desk)[0]["message_id"]
    clear_outbox(desk)  # the relay has sent it; Twilio retries once more
    assert post(desk, "/twilio/status", status_params(), query=f"d={REF}").status_code == 204
    assert [row["message_id"] for row in outbox(desk)] == [first]  # the notifier's inbox drops it
    assert post(desk, "/twilio/status", status_params(status="read"), query=f"d={REF}").status_code == 204
    assert outbox(desk)[1]["message_id"] != first  # a new status is a new fact


def test_signature_over_the_public_url_is_accepted_behind_a_proxy_and_over_the_internal_one_refused(
        desk: Desk) -> None:
    assert post(desk, "/twilio/status", status_params(), query=f"d={REF}").status_code == 204
    internal = post(desk, "/twilio/status", status_params(status="read"), query=f"d={REF}",
                    signed_url=f"{INTERNAL}/twilio/status?d={REF}")
    assert_refused(internal, 403, "Twilio")
    assert [row["payload"]["status"] for row in outbox(desk)] == ["delivered"]


def test_public_url_with_the_default_port_is_accepted(desk: Desk) -> None:
    # Twilio's own signing is inconsistent about :443; its validator accepts both, and so do we.
    response = post(desk, "/twilio/status", status_params(), query=f"d={REF}",
                    signed_url=f"https://termine.example.org:443/twilio/status?d={REF}")
    assert response.status_code == 204


def _unsigned(desk: Desk) -> Any:
    return desk.client.post(f"/twilio/status?d={REF}", content=urlencode(status_params()), headers=FORM)


def _empty_signature(desk: Desk) -> Any:
    return post(desk, "/twilio/status", status_params(), query=f"d={REF}", headers={"X-Twilio-Signature": ""})


def _wrong_token(desk: Desk) -> Any:
    return post(desk, "/twilio/status", status_params(), query=f"d={REF}", token="another-accounts-token")


def _changed_parameter(desk: Desk) -> Any:
    return post(desk, "/twilio/status", status_params(status="delivered"), query=f"d={REF}",
                signed_params=status_params(status="failed"))


def _added_parameter(desk: Desk) -> Any:
    return post(desk, "/twilio/status", [*status_params(), ("ErrorCode", "30003")], query=f"d={REF}",
                signed_params=status_params())


def _different_path(desk: Desk) -> Any:
    return post(desk, "/twilio/status", status_params(), query=f"d={REF}",
                signed_url=f"{PUBLIC}/twilio/sms?d={REF}")


def _changed_query(desk: Desk) -> Any:
    return post(desk, "/twilio/status", status_params(), query="d=dlv_someone_elses_ref",
                signed_url=f"{PUBLIC}/twilio/status?d={REF}")


def _query_dropped(desk: Desk) -> Any:
    return post(desk, "/twilio/status", status_params(), signed_url=f"{PUBLIC}/twilio/status?d={REF}")


def _other_host(desk: Desk) -> Any:
    return post(desk, "/twilio/status", status_params(), query=f"d={REF}",
                signed_url=f"https://evil.example.net/twilio/status?d={REF}")


@pytest.mark.parametrize("attempt", [_unsigned, _empty_signature, _wrong_token, _changed_parameter, _added_parameter,
                                     _different_path, _changed_query, _query_dropped, _other_host],
                         ids=lambda f: f.__name__.strip("_"))
def test_status_callback_not_signed_by_twilio_is_refused_and_nothing_is_stored(desk: Desk, attempt: Any) -> None:
    assert_refused(attempt(desk), 403, "not signed by Twilio")
    assert outbox(desk) == []


def test_inbound_sms_not_signed_by_twilio_is_refused_and_nothing_is_stored(desk: Desk) -> None:
    assert_refused(post(desk, "/twilio/sms", sms_params("STOP"), token="wrong"), 403, "not signed by Twilio")
    assert_refused(desk.client.post("/twilio/sms", content=urlencode(sms_params("STOP")), headers=FORM), 403)
    assert outbox(desk) == []


def test_webhooks_are_refused_when_no_auth_token_is_configured(module_databases: infra.Databases,
                                                                tmp_path: Path) -> None:
    # With no token an "HMAC keyed with nothing" is something anyone can compute: it must not count.
    for desk in _desk(module_databases, tmp_path):
        for path, params in (("/twilio/status", status_params()), ("/twilio/sms", sms_params("STOP"))):
            assert_refused(post(desk, path, params, token=""), 403, "not signed by Twilio")
        assert outbox(desk) == []


def test_shared_key_signature_with_hmac_sha256_is_accepted(desk: Desk) -> None:
    url = f"{PUBLIC}/twilio/status?d={REF}"
    params = status_params()
    headers = {**FORM, "X-Twilio-Webhooks-Signature-Settings": "key=webhooks_sharedkey_1,algorithm=HMAC_SHA256",
               "X-Twilio-Signature": sign(url, params, SHARED_KEY, "HMAC_SHA256")}
    response = desk.client.post(f"/twilio/status?d={REF}", content=urlencode(params), headers=headers)
    assert response.status_code == 204, response.text
    assert len(outbox(desk)) == 1


@pytest.mark.parametrize(("settings_header", "secret", "algorithm"), [
    ("key=webhooks_sharedkey_1,algorithm=HMAC_SHA256", AUTH_TOKEN, "HMAC_SHA256"),  # the auth token is not the key
    ("key=webhooks_sharedkey_1,algorithm=HMAC_SHA256", SHARED_KEY, "HMAC_SHA1"),  # nor is the algorithm optional
    ("key=webhooks_sharedkey_1,algorithm=HMAC_MD5", SHARED_KEY, None),  # unknown algorithms refuse
])
def test_shared_key_signature_made_otherwise_is_refused(desk: Desk, settings_header: str, secret: str,
                                                        algorithm: str | None) -> None:
    url = f"{PUBLIC}/twilio/status?d={REF}"
    params = status_params()
    headers = {**FORM, "X-Twilio-Webhooks-Signature-Settings": settings_header,
               "X-Twilio-Signature": sign(url, params, secret, algorithm)}
    assert_refused(desk.client.post(f"/twilio/status?d={REF}", content=urlencode(params), headers=headers), 403)
    assert outbox(desk) == []


def test_oversize_webhook_is_refused_before_it_is_read(desk: Desk) -> None:
    response = post(desk, "/twilio/sms", sms_params("STOP" + " " * 20_000))
    assert_refused(response, 413, "larger than 16 KB")
    assert outbox(desk) == []


@pytest.mark.parametrize(("params", "query", "words"), [
    (status_params(sid="SM123"), f"d={REF}", ("MessageSid",)),
    (status_params(sid="SM" + "0123456789ABCDEF" * 2), f"d={REF}", ("MessageSid",)),
    (status_params(sid="AC" + "0" * 32), f"d={REF}", ("MessageSid",)),
    ([p for p in status_params() if p[0] != "MessageSid"], f"d={REF}", ("MessageSid is missing",)),
    (status_params(status="exploded"), f"d={REF}", ("MessageStatus",)),
    ([p for p in status_params() if p[0] != "MessageStatus"], f"d={REF}", ("MessageStatus is missing",)),
    (status_params(ErrorCode="30003; DROP TABLE"), f"d={REF}", ("ErrorCode",)),
    ([*status_params(), ("MessageSid", MMS_SID)], f"d={REF}", ("MessageSid is given more than once",)),
    (status_params(), "d=short", ("delivery reference",)),
    (status_params(), "d=" + "x" * 65, ("delivery reference",)),
    (status_params(), "d=%2B4915112345678abcdef", ("delivery reference",)),
    (status_params(), f"d={REF}&d={REF}x", ("d is given more than once",)),
], ids=["short-sid", "upper-case-sid", "account-sid", "no-sid", "unknown-status", "no-status", "error-code",
        "two-sids", "short-ref", "long-ref", "ref-with-plus", "two-refs"])
def test_signed_status_callback_with_bad_fields_is_refused_with_a_sentence(
        desk: Desk, params: Params, query: str, words: tuple[str, ...]) -> None:
    assert_refused(post(desk, "/twilio/status", params, query=query), 400, *words)
    assert outbox(desk) == []


@pytest.mark.parametrize("body", [b"MessageSid=SM1&MessageStatus", b"MessageSid=%ff%fe", b"a=1&&b=2"],
                         ids=["field-without-value", "not-utf8", "empty-field"])
def test_malformed_form_is_refused_with_a_sentence(desk: Desk, body: bytes) -> None:
    headers = {**FORM, "X-Twilio-Signature": sign(f"{PUBLIC}/twilio/status", [])}
    assert_refused(desk.client.post("/twilio/status", content=body, headers=headers), 400, "URL-encoded form")
    assert outbox(desk) == []


def test_webhook_that_is_not_a_form_is_refused(desk: Desk) -> None:
    headers = {"Content-Type": "application/json", "X-Twilio-Signature": sign(f"{PUBLIC}/twilio/status", [])}
    response = desk.client.post("/twilio/status", content=json.dumps({"MessageSid": SID}), headers=headers)
    assert_refused(response, 415, "application/x-www-form-urlencoded")
    assert outbox(desk) == []


# --- inbound SMS -------------------------------------------------------------------------------------------------


def test_inbound_stop_reaches_the_notifier_sealed_and_without_its_text(
        desk: Desk, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    response = post(desk, "/twilio/sms", sms_params("  Stopp! "))

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    assert response.text == '<?xml version="1.0" encoding="UTF-8"?><Response/>'
    [row] = outbox(desk)
    assert row["routing_key"] == "sms.received" and row["correlation_id"] == SID
    payload = parse({k: v for k, v in row.items() if k not in ("routing_key", "raw")}).payload
    assert (payload.message_sid, payload.keyword, payload.language) == (SID, "stop", "de")  # type: ignore[attr-defined]
    assert desk.cipher.decrypt(payload.phone, inbound_phone_context(SID)) == CLIENT  # type: ignore[attr-defined]
    for secret in (CLIENT, CLIENT[1:], "15112345678", "Stopp"):
        assert secret not in row["raw"] and secret not in caplog.text
    assert "keyword=stop" in caplog.text


def test_inbound_mms_start_is_sealed_for_its_own_sid(desk: Desk) -> None:
    assert post(desk, "/twilio/sms", sms_params("START", sid=MMS_SID)).status_code == 200
    [row] = outbox(desk)
    assert desk.cipher.decrypt(row["payload"]["phone"], inbound_phone_context(MMS_SID)) == CLIENT
    assert (row["payload"]["keyword"], row["payload"]["language"]) == ("start", None)


def test_inbound_ordinary_text_is_answered_through_the_notifier_and_its_words_go_nowhere(
        desk: Desk, caplog: pytest.LogCaptureFixture) -> None:
    # Issue "Lotse 6/7": not forwarded as "other" any more, but a turn of the sender's SMS conversation, whose one
    # answer to what it does not understand is a reply kind for the notifier, never the client's words.
    caplog.set_level(logging.DEBUG)
    text_ = "Kann ich Donnerstag später kommen? Stop wäre schade"
    assert post(desk, "/twilio/sms", sms_params(text_, sid="SM" + "0a" * 16)).status_code == 200
    [row] = outbox(desk)
    assert row["routing_key"] == "sms.reply_requested"
    assert (row["payload"]["kind"], row["payload"]["language"]) == ("not_understood", None)
    for word in ("Donnerstag", "später", "schade", CLIENT, CLIENT[1:]):
        assert word not in row["raw"] and word not in caplog.text


def test_inbound_sms_retried_by_twilio_is_one_message_for_the_notifier(desk: Desk) -> None:
    for _ in range(2):
        assert post(desk, "/twilio/sms", sms_params("STOP")).status_code == 200
    assert len(outbox(desk)) == 1


@pytest.mark.parametrize("sender", ["Anonymous", "whatsapp:+4915112345678", "+493012345678", "015112345678",
                                    "+999123", ""],
                         ids=["text", "whatsapp", "landline", "national", "no-such-country", "empty"])
def test_inbound_sms_from_no_usable_mobile_number_is_answered_and_dropped(
        desk: Desk, sender: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    response = post(desk, "/twilio/sms", sms_params("STOP", sender=sender))
    assert response.status_code == 200  # Twilio must not retry: there is nothing to do with it
    assert response.text == '<?xml version="1.0" encoding="UTF-8"?><Response/>'
    assert outbox(desk) == []
    assert "inbound sms ignored" in caplog.text
    if sender:
        assert sender not in caplog.text and "12345678" not in caplog.text


def test_inbound_sms_without_from_is_answered_and_dropped(desk: Desk) -> None:
    params = [p for p in sms_params("STOP") if p[0] != "From"]
    assert post(desk, "/twilio/sms", params).status_code == 200
    assert outbox(desk) == []


def test_inbound_sms_with_a_bad_message_sid_is_refused(desk: Desk) -> None:
    assert_refused(post(desk, "/twilio/sms", sms_params("STOP", sid="SMnothex" + "0" * 26)), 400, "MessageSid")
    assert outbox(desk) == []


def test_webhooks_answer_only_post(desk: Desk) -> None:
    assert desk.client.get("/twilio/status").status_code == 405
    assert desk.client.get("/twilio/sms").status_code == 405
