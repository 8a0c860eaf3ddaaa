"""The gateway while its database is away, over a real socket: 503 with Retry-After and a sentence (JSON for the API,
a page in the page's language for the pages), one log line per request without a traceback or personal data,
and normal answers again once the database is back; while the broker is away, searches and the booking page
answer 503 with Retry-After and bookings are still accepted.

Issue "Lotse 5/7": these answered 500 `internal_error` (the page as JSON), without Retry-After, logged twice with a
traceback. The database is a PostgreSQL cluster of the test's own, stopped and started again by the test.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from gateway.app import build, create_app
from gateway.settings import GatewaySettings
from scheduler.domain.availability import make_slot_id

from shared.crypto import generate_data_key
from tests.support.pages import visible_text
from tests.support.postgres import PostgresFailed, PrivatePostgres, running_private_postgres
from tests.support.rabbit import PrivateRabbit
from tests.support.server import serving
from tests.support.system import roomy_limits

PHONE = "+4915112345678"
START = (datetime.now(UTC) + timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
OUTAGE_DE = "Wir können Ihre Anfrage gerade nicht bearbeiten. Es wurde nichts gespeichert oder geändert."
OUTAGE_EN = "We cannot handle your request right now. Nothing was saved or changed."


@pytest.fixture(scope="module")
def database() -> Iterator[PrivatePostgres]:
    try:
        with running_private_postgres() as cluster:
            yield cluster
    except PostgresFailed as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="module")
def gateway_url(database: PrivatePostgres, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = GatewaySettings(gateway_database_url=database.url(), broker_url="memory://",
                               var_dir=tmp_path_factory.mktemp("gateway"), data_key=generate_data_key(),
                               ).model_copy(update=roomy_limits(GatewaySettings))  # the tests book from one address
    gateway = build(settings)
    try:
        with serving(create_app(gateway)) as url:  # no lifespan: neither relay nor listener runs
            yield url
    finally:
        gateway.engine.dispose()


@pytest.fixture
def http(gateway_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway_url, timeout=30, follow_redirects=False) as client:
        yield client


@contextmanager
def stopped(database: PrivatePostgres) -> Iterator[None]:
    database.stop()
    try:
        yield
    finally:
        database.start()  # the other tests of the module need it, whatever happened


def book(http: httpx.Client, hours: int = 0) -> httpx.Response:
    return http.post("/v1/bookings", json={"slot_id": make_slot_id(1, 1, 1, START + timedelta(hours=hours)),
                                           "phone": PHONE, "language": "de"})


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "60"
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["code"] == "database_unavailable" and set(body) == {"detail", "code"}
    assert body["detail"].startswith("We cannot handle this request right now") and "try again" in body["detail"]


def assert_logged_once_each(records: list[logging.LogRecord], expected: list[str], *secrets: str) -> None:
    """One warning line per refused request, naming the route's template; no traceback, nothing personal."""
    # Not the test's own HTTP client, nor uvicorn's access log (the gateway's logging disables it: shared/logging.py).
    records = [r for r in records if r.name not in ("httpx", "uvicorn.access")]
    lines = [r for r in records if r.name == "gateway.api.errors"]
    assert [r.getMessage() for r in lines] == expected
    assert all(r.levelno == logging.WARNING for r in lines)
    assert not [r.getMessage() for r in records if r.exc_info is not None or r.levelno >= logging.ERROR]
    logged = "\n".join(r.getMessage() for r in records)
    assert all(secret not in logged for secret in (*secrets, PHONE, PHONE[1:]))


def test_while_the_database_is_away_the_api_answers_503_and_recovers(
        http: httpx.Client, database: PrivatePostgres, caplog: pytest.LogCaptureFixture) -> None:
    accepted = book(http)
    assert accepted.status_code == 202, accepted.text
    token = accepted.json()["manage_token"]

    with caplog.at_level(logging.INFO), stopped(database):
        caplog.clear()
        refused = [book(http, hours=1), http.get(f"/v1/bookings/{token}"),
                   http.post("/v1/staff/login", json={"username": "admin", "password": "x" * 12})]
        records = list(caplog.records)

    for response in refused:
        assert_unavailable(response)
    assert_logged_once_each(records, [
        f"database unavailable: OperationalError during {route}; answered 503"
        for route in ("POST /v1/bookings", "GET /v1/bookings/{manage_token}", "POST /v1/staff/login")], token)
    # Back again: the same requests are answered as usual, on fresh connections.
    assert http.get(f"/v1/bookings/{token}").json()["status"] == "pending"
    assert book(http, hours=1).status_code == 202
    assert http.post("/v1/staff/login", json={"username": "admin", "password": "x" * 12}).status_code == 401


def test_while_the_database_is_away_the_pages_answer_503_in_their_language_and_recover(
        http: httpx.Client, database: PrivatePostgres, caplog: pytest.LogCaptureFixture) -> None:
    token = book(http, hours=2).json()["manage_token"]
    form = {"slot_id": make_slot_id(1, 1, 1, START + timedelta(hours=3)), "phone": PHONE, "key": "",
            "topic": "", "place": "", "week": "0"}

    with caplog.at_level(logging.INFO), stopped(database):
        caplog.clear()
        manage_de = http.get(f"/m/{token}", headers={"Accept-Language": "de-DE,de;q=0.9"})
        manage_en = http.get(f"/m/{token}?lang=en", headers={"Accept-Language": "de"})
        booked_en = http.post("/book", data={**form, "lang": "en"}, headers={"Accept-Language": "de"})
        records = list(caplog.records)

    for page, language, sentence in ((manage_de, "de", OUTAGE_DE), (manage_en, "en", OUTAGE_EN),
                                     (booked_en, "en", OUTAGE_EN)):
        assert page.status_code == 503, page.text
        assert page.headers["retry-after"] == "60" and page.headers["content-type"].startswith("text/html")
        assert page.headers["cache-control"] == "no-store"
        assert f'<html lang="{language}">' in page.text and sentence in visible_text(page.text)
        assert PHONE not in page.text and "internal_error" not in page.text
    assert f'href="/m/{token}"' in manage_de.text  # "try again" leads back to the same page
    assert 'href="/"' in booked_en.text
    assert_logged_once_each(records, [
        f"database unavailable: OperationalError during {route}; answered 503"
        for route in ("GET /m/{token}", "GET /m/{token}", "POST /book")], token)
    # Back again.
    assert http.get(f"/m/{token}").status_code == 200
    assert http.post("/book", data={**form, "lang": "en"}).status_code == 303


def test_while_the_broker_is_away_searches_and_the_booking_page_answer_503_and_bookings_are_kept(
        private_rabbit: PrivateRabbit, tmp_path: Path) -> None:
    settings = GatewaySettings(var_dir=tmp_path, broker_url=private_rabbit.url, data_key=generate_data_key(),
                               slots_timeout_seconds=3)
    gateway = build(settings)
    try:
        with serving(create_app(gateway)) as url, httpx.Client(base_url=url, timeout=30) as http:
            private_rabbit.stop()
            search = http.get("/v1/slots")
            page = http.get("/?lang=en", headers={"Accept-Language": "de"})
            accepted = book(http)
    finally:
        gateway.engine.dispose()

    assert search.status_code == 503 and search.headers["retry-after"] == "5"
    assert search.json()["code"] == "scheduler_unavailable" and "try again" in search.json()["detail"]
    assert page.status_code == 503 and page.headers["retry-after"] == "60"
    assert '<html lang="en">' in page.text and "The calendar is not answering right now." in visible_text(page.text)
    assert accepted.status_code == 202, accepted.text  # kept in the outbox until the broker is back
