"""The admins' health page (/admin/health) as a browser without JavaScript sees it: every role's heartbeat in words,
outbox backlog, dispatcher lag and beat's last tick, the queues and the dead letters (never what they hold) with
requeue and discard (asked first), and each refusal (a counsellor, no session, no CSRF token, a letter gone, the
broker away). The real SystemHealth on the embedded broker (a SQLite file in the test's folder) and its own
heartbeats table; the staff pages in process (tests/support/staff_pages)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient
from gateway import migrations
from gateway.settings import GatewaySettings
from gateway.staff.audit_repository import AuditFilter
from gateway.system_health.report import HealthReport, SystemHealth
from sqlmodel import Session

from shared.contracts import BookingRequested, RoleHeartbeat, Topic, wrap
from shared.db import make_engine
from shared.messaging import Publisher, make_celery
from shared.settings import load_settings
from tests.support.dead_letters import take_dead_letters
from tests.support.staff_pages import NOW, PASSWORD, StaffDesk, staff_desk
from tests.unit.test_staff_pages import csrf_of, seen

SECRET_PHONE = "+4915112345678"


def health_service(folder: Path, **overrides: str) -> SystemHealth:
    settings = load_settings(GatewaySettings, var_dir=folder, **overrides)
    engine = make_engine(f"sqlite:///{folder / 'health.sqlite'}")
    migrations.upgrade(engine)
    # Its own clock, standing still: the desk's moves on at each sign-in code, and heartbeats would go stale.
    return SystemHealth(engine, settings, "", settings.heartbeat_stale_after, lambda: NOW)


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StaffDesk]:
    folder = tmp_path_factory.mktemp("health-pages")
    with staff_desk(folder) as made:
        made.app.state.gateway.health = health = health_service(folder)
        for role, instance, age in (("gateway", "aaaaaaaaaaaa", 10), ("notifier", "bbbbbbbbbbbb", 400)):
            beat = RoleHeartbeat(role=role, instance=instance, interval_seconds=30,
                                 outbox_backlog=4 if role == "gateway" else 0, dispatcher_lag_seconds=12.4
                                 if role == "notifier" else None, last_beat_tick_at=NOW - timedelta(seconds=401)
                                 if role == "notifier" else None)
            with Session(health.engine) as session:
                health.record(wrap(beat, uuid4(), NOW - timedelta(seconds=age)), session)
        yield made


def client(desk: StaffDesk) -> TestClient:
    return TestClient(desk.app, raise_server_exceptions=False, follow_redirects=False,
                      headers={"Accept-Language": "en"})


@pytest.fixture
def admin(desk: StaffDesk) -> Iterator[TestClient]:
    with client(desk) as browser:
        assert browser.post("/login", data={"username": "admin", "password": PASSWORD}).status_code == 303
        assert browser.post("/login/code", data={"code": desk.code("admin")}).status_code == 303
        yield browser


@pytest.fixture
def letters(desk: StaffDesk) -> Iterator[None]:
    """Two dead letters that hold a phone number; the dead-letter queue emptied afterwards."""
    settings = desk.app.state.gateway.health.settings
    for reason in ("handler failed: ValueError", "booking.requested v1 does not validate (fields: phone)"):
        a_dead_letter(settings, reason)
    yield
    take_dead_letters(settings)


def a_dead_letter(settings: GatewaySettings, reason: str) -> None:
    """A booking request the scheduler could not take, dead-lettered with a phone number in it."""
    request = wrap(BookingRequested(booking_id=uuid4(), slot_id="s2-1-2-3-29000000", topic=Topic.health,
                                    language="ro", channel="web"), uuid4()).to_wire()
    Publisher(make_celery("gateway", settings), settings).publish_dead_letter({**request, "phone": SECRET_PHONE},
                                                                              "scheduler", reason)


def test_each_role_is_said_in_words_with_outbox_lag_and_beat(admin: TestClient) -> None:
    page = admin.get("/admin/health")

    assert page.status_code == 200
    text = seen(page)
    assert "gateway running 1" in text
    assert "notifier silent: no heartbeat for a while 1" in text
    assert "scheduler never seen 0 never" in text
    assert "notifier-beat never seen 0 never" in text
    assert "As of 3/31/25, 10:30 AM." in text
    assert "Dispatcher lag (how long the oldest due text has waited) 12 s" in text
    assert "Last beat tick 3/31/25, 10:23 AM" in text
    assert "gateway 4" in text and "scheduler no report" in text
    assert 'class="role-stale"' in page.text  # colour may help; the words say it


def test_dead_letters_show_what_they_are_never_what_they_hold(admin: TestClient, letters: None) -> None:
    page = admin.get("/admin/health")

    text = seen(page)
    assert SECRET_PHONE not in page.text and "slot_id" not in page.text
    assert "scheduler.bookings booking.requested handler failed: ValueError" in text
    assert "lotse.dead-letter 2" in text
    assert len(re.findall(r'action="/admin/health/dead-letters/[A-Za-z0-9_-]+/requeue"', page.text)) == 2
    assert len(re.findall(r'href="/admin/health/dead-letters/[A-Za-z0-9_-]+/discard"', page.text)) == 2


def test_requeue_puts_the_letter_back_and_says_so(desk: StaffDesk, admin: TestClient, letters: None) -> None:
    page = admin.get("/admin/health").text
    first = re.findall(r"/admin/health/dead-letters/([A-Za-z0-9_-]+)/requeue", page)[0]

    answer = admin.post(f"/admin/health/dead-letters/{first}/requeue", data={"csrf": csrf_of(page)})

    assert answer.status_code == 303 and answer.headers["location"] == "/admin/health?done=letter_requeued"
    after = admin.get(answer.headers["location"])
    assert "The dead letter is back on its queue." in seen(after)
    assert first not in after.text and "lotse.dead-letter 1" in seen(after)
    rows, _more = desk.accounts.audit.page(AuditFilter(action="dead_letter_requeued"), None, 1)
    assert [(r.outcome, r.target_id) for r in rows] == [("ok", first)]  # a dead letter may hold personal data


def test_discard_asks_first_then_the_letter_is_gone(admin: TestClient, letters: None) -> None:
    page = admin.get("/admin/health").text
    first = re.findall(r"/admin/health/dead-letters/([A-Za-z0-9_-]+)/discard", page)[0]

    question = admin.get(f"/admin/health/dead-letters/{first}/discard")

    assert question.status_code == 200
    assert f"Discard dead letter {first}? A booking.requested message for the queue scheduler.bookings" in seen(
        question)
    assert SECRET_PHONE not in question.text
    answer = admin.post(f"/admin/health/dead-letters/{first}/discard", data={"csrf": csrf_of(question.text)})
    assert answer.status_code == 303
    assert "The dead letter is discarded." in seen(admin.get(answer.headers["location"]))
    gone = admin.post(f"/admin/health/dead-letters/{first}/discard", data={"csrf": csrf_of(question.text)})
    assert gone.status_code == 404 and "This dead letter is no longer there" in seen(gone)


def test_a_change_without_the_forms_token_is_refused_and_the_letter_stays(admin: TestClient,
                                                                         letters: None) -> None:
    page = admin.get("/admin/health").text
    first = re.findall(r"/admin/health/dead-letters/([A-Za-z0-9_-]+)/requeue", page)[0]

    answer = admin.post(f"/admin/health/dead-letters/{first}/discard", data={"csrf": "forged"})

    assert answer.status_code == 403 and "This form is no longer valid" in seen(answer)
    assert first in admin.get("/admin/health").text


def test_with_the_broker_away_the_page_says_so_and_a_change_is_a_503(desk: StaffDesk, admin: TestClient,
                                                                     tmp_path: Path) -> None:
    working = desk.app.state.gateway.health
    # Nothing listens on port 1: refused at once.
    desk.app.state.gateway.health = health_service(tmp_path, broker_url="amqp://guest:guest@127.0.0.1:1//",
                                            rabbitmq_management_url="http://127.0.0.1:1/")
    try:
        page = admin.get("/admin/health")
        answer = admin.post("/admin/health/dead-letters/0123456789ab/requeue", data={"csrf": csrf_of(page.text)})
    finally:
        desk.app.state.gateway.health = working

    assert page.status_code == 200
    text = seen(page)
    assert "The message broker cannot be reached right now" in text
    assert "The broker cannot be reached, so the dead letters cannot be shown." in text
    assert answer.status_code == 503 and "Nothing was changed." in seen(answer)


def test_when_rabbitmqs_management_api_fails_the_page_says_which_figures_are_not_known(desk: StaffDesk,
                                                                                       admin: TestClient) -> None:
    working: SystemHealth = desk.app.state.gateway.health

    class ManagementRefused(SystemHealth):
        def report(self) -> HealthReport:
            report = working.report()
            broker = report.broker.model_copy(update={"note": "the management API answered 401"})
            return report.model_copy(update={"broker": broker})

    desk.app.state.gateway.health = ManagementRefused(working.engine, working.settings, "", 3, lambda: NOW)
    try:
        text = seen(admin.get("/admin/health"))
    finally:
        desk.app.state.gateway.health = working

    assert ("Messages being handled and consumers are not known: the management API answered 401. Messages per "
            "queue") in text


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/admin/health"), ("GET", "/admin/health/dead-letters/0123456789ab/discard"),
    ("POST", "/admin/health/dead-letters/0123456789ab/requeue"),
    ("POST", "/admin/health/dead-letters/0123456789ab/discard")])
def test_a_counsellor_gets_a_403_page_and_a_visitor_the_sign_in(desk: StaffDesk, method: str, path: str) -> None:
    with client(desk) as visitor:
        answer = visitor.request(method, path, data={"csrf": "x"} if method == "POST" else None)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
        assert visitor.post("/login", data={"username": "anna", "password": PASSWORD}).status_code == 303
        csrf = csrf_of(visitor.get("/staff/password").text)
        answer = visitor.request(method, path, data={"csrf": csrf} if method == "POST" else None)
    assert answer.status_code == 403
    assert "This page is for admins only." in seen(answer)
