"""The admins' audit log page (/admin/audit) as a browser without JavaScript sees it: the rows in words and in the
office's time, the filter form (days in Europe/Berlin), 100 rows a page with a link to older ones, the CSV link to
the API's export of the same filter, the page's own read recorded, and each refusal (a counsellor, no session, a
filter said wrong at its field). The real StaffAccounts and AuditLog on SQLite (tests/support/staff_pages)."""

from __future__ import annotations

import csv
import html
import io
import itertools
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from gateway.api import staff as staff_api
from gateway.staff.audit import Action, Actor, AuditLog, Event, Outcome, TargetKind
from gateway.staff.audit_repository import AuditFilter
from sqlmodel import Session

from tests.support.staff_pages import PASSWORD, StaffDesk, staff_desk
from tests.unit.test_staff_pages import seen

_ids = itertools.count(1)
ADMINS_ONLY = "Diese Seite ist nur für die Verwaltung."


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StaffDesk]:
    with staff_desk(tmp_path_factory.mktemp("audit-page")) as made:
        made.app.include_router(staff_api.router)  # the CSV export the page links to
        yield made


def browser(desk: StaffDesk, language: str = "de") -> TestClient:
    return TestClient(desk.app, raise_server_exceptions=False, follow_redirects=False,
                      headers={"Accept-Language": language})


@pytest.fixture
def admin(desk: StaffDesk) -> Iterator[TestClient]:
    """The admin signed in, in a browser of the test's own (a language chosen stays in its cookie)."""
    with browser(desk) as signed_in:
        assert signed_in.post("/login", data={"username": "admin", "password": PASSWORD}).status_code == 303
        assert signed_in.post("/login/code", data={"code": desk.code("admin")}).status_code == 303
        yield signed_in


def write(desk: StaffDesk, at: datetime, event: Event, actor: Actor | None = None) -> None:
    """A row written at `at` by a log on the desk's database (the desk's own clock stays where it is)."""
    AuditLog(desk.accounts.audit.uow.engine, lambda: at).record(actor or Actor(2, "anna", "192.0.2.7"), event)


def own_target() -> str:
    """An id no other test's rows carry: filtering on it shows this test's rows only."""
    return f"t{next(_ids)}"


def table(page: str) -> list[list[str]]:
    rows = re.findall(r"<tr><td>(.*?)</td></tr>", page)
    return [[html.unescape(cell) for cell in row.split("</td><td>")] for row in rows]


def test_the_start_page_links_the_audit_log(admin: TestClient) -> None:
    assert 'href="/admin/audit"' in admin.get("/admin").text


def test_rows_are_shown_newest_first_in_words_and_office_time(desk: StaffDesk, admin: TestClient) -> None:
    target = own_target()
    write(desk, datetime(2025, 3, 29, 23, 30, tzinfo=UTC), Event(Action.BOOKING_CANCELLED, Outcome.REFUSED,
                                                                  TargetKind.BOOKING, target, {"code": "x"}))
    write(desk, datetime(2025, 3, 30, 9, 5, tzinfo=UTC), Event(Action.BOOKING_MOVED, Outcome.UNANSWERED,
                                                                TargetKind.BOOKING, target))
    page = admin.get("/admin/audit", params={"target_kind": "booking", "target_id": target})

    assert page.status_code == 200
    seen(page)
    # Saturday 23:30 UTC is Sunday 00:30 in Berlin (winter time); Sunday 09:05 UTC is 11:05 (summer time).
    assert table(page.text) == [
        ["2025-03-30 11:05:00", "anna", "Termin verlegt", f"Termin {target}", "keine Antwort in der Zeit",
         "192.0.2.7"],
        ["2025-03-30 00:30:00", "anna", "Termin abgesagt", f"Termin {target}", "abgelehnt", "192.0.2.7"]]
    english = admin.get("/admin/audit", params={"target_kind": "booking", "target_id": target, "lang": "en"})
    assert table(english.text)[0][2:5] == ["Moved an appointment", f"Appointment {target}", "no answer in time"]


def test_every_action_has_its_words_in_the_select(admin: TestClient) -> None:
    page = admin.get("/admin/audit", params={"lang": "en"}).text
    options = re.findall(r'<option value="([a-z_]+)"', page.split('id="action"')[1].split("</select>")[0])

    assert options == [action.value for action in Action]
    assert '<option value="audit_read">Read the audit log</option>' in page


def test_the_days_are_whole_days_in_berlin(desk: StaffDesk, admin: TestClient) -> None:
    target = own_target()
    write(desk, datetime(2025, 3, 30, 22, 30, tzinfo=UTC), Event(Action.RULES_READ, target_kind=TargetKind.COUNSELLOR,
                                                                  target_id=target))  # Monday 00:30 in Berlin
    shown = {day: len(table(admin.get("/admin/audit", params={
        "target_kind": "counsellor", "target_id": target, "from": day, "to": day}).text))
        for day in ("2025-03-30", "2025-03-31")}

    assert shown == {"2025-03-30": 0, "2025-03-31": 1}


def test_a_username_and_action_narrow_the_list(desk: StaffDesk, admin: TestClient) -> None:
    target = own_target()
    at = datetime(2025, 3, 28, 10, 0, tzinfo=UTC)
    write(desk, at, Event(Action.FEED_ISSUED, target_kind=TargetKind.COUNSELLOR, target_id=target))
    write(desk, at, Event(Action.FEED_REVOKED, target_kind=TargetKind.COUNSELLOR, target_id=target))
    write(desk, at, Event(Action.FEED_REVOKED, target_kind=TargetKind.COUNSELLOR, target_id=target),
          Actor(3, "bogdan", "192.0.2.8"))
    page = admin.get("/admin/audit", params={"username": " Anna ", "action": "feed_revoked",
                                             "target_kind": "counsellor", "target_id": target})

    assert [(row[1], row[2]) for row in table(page.text)] == [("anna", "Kalender-Feed gestoppt")]
    assert 'value="Anna"' in page.text and '<option value="feed_revoked" selected>' in page.text


def test_a_page_holds_100_rows_and_the_older_link_goes_on_with_the_same_filter(desk: StaffDesk,
                                                                                admin: TestClient) -> None:
    target = own_target()
    log = AuditLog(desk.accounts.audit.uow.engine, lambda: datetime(2025, 3, 27, 9, 0, tzinfo=UTC))
    with Session(desk.accounts.audit.uow.engine) as session:  # one transaction: a commit each is slow
        for _ in range(103):
            log.write(session, Actor(2, "anna", "192.0.2.7"),
                      Event(Action.TYPE_UPDATED, target_kind=TargetKind.APPOINTMENT_TYPE, target_id=target))
        session.commit()
    first = admin.get("/admin/audit", params={"target_kind": "appointment_type", "target_id": target})
    older = html.unescape(re.findall(r'<a href="([^"]+)">Ältere Einträge</a>', first.text)[0])
    second = admin.get(older)

    assert (len(table(first.text)), len(table(second.text))) == (100, 3)
    assert f"target_id={target}" in older and "cursor=" in older
    assert "Ältere Einträge" not in second.text


def test_reading_the_page_is_recorded_like_the_api_read(desk: StaffDesk, admin: TestClient) -> None:
    admin.get("/admin/audit", params={"action": "sign_in", "from": "2025-03-01"})
    rows, _ = desk.accounts.audit.page(AuditFilter(action="audit_read"), None, 1)

    assert (rows[0].username, rows[0].outcome) == ("admin", "ok")
    assert json.loads(rows[0].detail_json or "{}") == {"filters": ["action", "since"], "next_page": False}


def test_the_csv_link_exports_the_same_filter_with_the_session_alone(desk: StaffDesk, admin: TestClient) -> None:
    target = own_target()
    for day in (26, 24):
        write(desk, datetime(2025, 3, day, 12, 0, tzinfo=UTC),
              Event(Action.LOCATION_UPDATED, target_kind=TargetKind.LOCATION, target_id=target))
    page = admin.get("/admin/audit", params={"target_kind": "location", "target_id": target, "from": "2025-03-25"})
    link = html.unescape(re.findall(r'<a href="(/v1/staff/audit\.csv[^"]*)"', page.text)[0])
    export = admin.get(link)  # a plain GET with the cookie, as a browser follows the link: no CSRF header

    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert [(r["action"], r["target_id"], r["at"]) for r in rows] == [
        ("location_updated", target, "2025-03-26T12:00:00+00:00")]


@pytest.mark.parametrize(("query", "field", "said"), [
    ({"action": "delete_everything"}, "action", "Bitte wählen Sie eine Aktion aus der Liste."),
    ({"target_kind": "client"}, "target_kind", "Bitte wählen Sie aus der Liste, woran es getan wurde."),
    ({"target_id": "42"}, "target_kind", "Eine Nummer oder ID braucht die Angabe, wozu sie gehört"),
    ({"target_kind": "booking", "target_id": "x" * 65}, "target_id", "höchstens 64 Zeichen"),
    ({"from": "31.03.2025"}, "from", "Bitte geben Sie den ersten Tag als Datum ein."),
    ({"to": "2025-02-30"}, "to", "Bitte geben Sie den letzten Tag als Datum ein."),
    ({"from": "2025-03-31", "to": "2025-03-30"}, "to", "Der letzte Tag liegt vor dem ersten."),
    ({"username": "anna\x00"}, "username", "Ein Benutzername hat höchstens 64 Zeichen und keine Steuerzeichen."),
])
def test_a_wrong_filter_is_said_at_its_field(admin: TestClient, query: dict[str, str], field: str, said: str) -> None:
    page = admin.get("/admin/audit", params=query)

    assert page.status_code == 422
    assert f'id="{field}" name="{field}"' in page.text
    assert re.search(rf'id="{field}"[^>]*aria-invalid="true"', page.text)
    assert said in seen(page)
    assert "<table" not in page.text


def test_a_cursor_the_page_did_not_give_is_said_above_the_form(admin: TestClient) -> None:
    page = admin.get("/admin/audit", params={"cursor": "not-a-cursor"})

    assert page.status_code == 422
    assert "Dieser Link zu älteren Einträgen ist nicht gültig." in seen(page)


def test_a_counsellor_gets_the_admins_only_page(desk: StaffDesk) -> None:
    with browser(desk) as anna:
        assert anna.post("/login", data={"username": "anna", "password": PASSWORD}).status_code == 303
        page = anna.get("/admin/audit")

    assert page.status_code == 403
    assert ADMINS_ONLY in seen(page)
    assert "<table" not in page.text


def test_without_a_session_the_page_asks_to_sign_in_and_comes_back(desk: StaffDesk) -> None:
    with browser(desk) as visitor:
        page = visitor.get("/admin/audit", params={"action": "sign_in"})

    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=%2Fadmin%2Faudit%3Faction%3Dsign_in"
