"""The staff calendar API against the real system (embedded default): the gateway serves, the scheduler decides.

Issue "Lotse 2/6": a counsellor sees and changes only their own calendar, an admin every one; each refusal (401,
403) and each bad input gets a 4xx with a sentence and changes nothing; leave over bookings lists them for staff to
move; the private .ics feed parses, carries the Europe/Berlin VTIMEZONE and nothing about the client, and dies when
revoked. One system serves the whole module; demo counsellors: 1 Anna, 2 Bogdan, 3 Csilla, 4 Dana.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import httpx
import icalendar
import pytest

from shared.contracts.common import digit_count
from tests.support.staff import create_staff, sign_in_staff
from tests.support.system import (
    System,
    poll,
    running_system_in_own_dir,
    wait_for_status,
)

BERLIN = ZoneInfo("Europe/Berlin")
OFFSET = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?\+0[12]:00$")
ANNA, BOGDAN, CSILLA = 1, 2, 3
PHONE = "+4915112345678"
TOPIC_WORDS = ("career", "health", "safety", "psychosocial", "Beratung", "Gesundheit")


# --- the system, its staff and its databases -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def system() -> Iterator[System]:
    with running_system_in_own_dir("lotse-staff-api-", {"SLOTS_TIMEOUT_SECONDS": "10"}) as running:
        create_staff(running, "create-admin", "--username", "admin")
        for name, counsellor in (("anna", ANNA), ("bogdan", BOGDAN), ("csilla", CSILLA)):
            create_staff(running, "create-staff", "--username", name, "--role", "counsellor",
                         "--counsellor-id", str(counsellor))
        yield running


def sign_in(system: System, username: str) -> httpx.Client:
    http = httpx.Client(base_url=system.url, timeout=30)
    sign_in_staff(http, username)  # an admin sets up two-factor sign-in at the first sign-in
    return http


@pytest.fixture(scope="module")
def anna(system: System) -> Iterator[httpx.Client]:
    http = sign_in(system, "anna")
    yield http
    http.close()


@pytest.fixture(scope="module")
def bogdan(system: System) -> Iterator[httpx.Client]:
    http = sign_in(system, "bogdan")
    yield http
    http.close()


@pytest.fixture(scope="module")
def csilla(system: System) -> Iterator[httpx.Client]:
    http = sign_in(system, "csilla")
    yield http
    http.close()


@pytest.fixture(scope="module")
def admin(system: System) -> Iterator[httpx.Client]:
    http = sign_in(system, "admin")
    yield http
    http.close()


@pytest.fixture
def public(system: System) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=system.url, timeout=30) as http:
        yield http


def rows(system: System, sql: str, *args: object) -> list[tuple[Any, ...]]:
    with sqlite3.connect(f"file:{system.var_dir / 'scheduler.sqlite'}?mode=ro", uri=True, timeout=30) as db:
        return list(db.execute(sql, args).fetchall())


def rules_of(system: System, counsellor_id: int) -> list[tuple[Any, ...]]:
    return rows(system, "SELECT location_id, weekday, starts, ends FROM availability_rules WHERE counsellor_id = ? "
                "ORDER BY weekday, starts", counsellor_id)


def exceptions_of(system: System, counsellor_id: int) -> list[tuple[Any, ...]]:
    return rows(system, "SELECT id, kind FROM availability_exceptions WHERE counsellor_id = ?", counsellor_id)


def assert_problem(response: httpx.Response, status: int, code: str | None = None, *words: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"detail", "code"}, body
    if code is not None:
        assert body["code"] == code, body
    detail = body["detail"]
    assert isinstance(detail, str) and detail[0].isupper() and detail.rstrip().endswith("."), detail
    assert "Traceback" not in response.text
    for word in words:
        assert word.lower() in detail.lower(), f"{word!r} not in {detail!r}"
    return str(detail)


def today() -> date:
    return datetime.now(BERLIN).date()


def book(public: httpx.Client, counsellor: str, skip: set[str] | None = None) -> dict[str, Any]:
    """A confirmed client booking with the counsellor: {booking_id, manage_token, slot_id, start}."""
    slots = public.get("/v1/slots", params={"language": "de", "counsellor": counsellor, "topic": "career",
                                            "from": str(today() + timedelta(days=2)),
                                            "to": str(today() + timedelta(days=40))}).json()["slots"]
    slot = next(s for s in slots if s["slot_id"] not in (skip or set()))
    response = public.post("/v1/bookings", json={"slot_id": slot["slot_id"], "phone": PHONE, "language": "de",
                                                 "channel": "web", "topic": "career"})
    assert response.status_code == 202, response.text
    accepted = response.json()
    decided = poll(lambda: (b := public.get(f"/v1/bookings/{accepted['manage_token']}").json())["status"] != "pending"
                   and b)
    assert decided["status"] == "confirmed", decided
    return {**accepted, "slot_id": slot["slot_id"], "start": slot["start"]}




def bookings_of(client: httpx.Client, counsellor_id: int, **params: str) -> list[dict[str, Any]]:
    response = client.get(f"/v1/staff/calendars/{counsellor_id}/bookings",
                          params={"from": str(today()), "to": str(today() + timedelta(days=60)), **params})
    assert response.status_code == 200, response.text
    return list(response.json()["bookings"])


# --- who may see what ------------------------------------------------------------------------------------------------

def test_a_counsellor_sees_their_week_with_windows_in_berlin_time(anna: httpx.Client) -> None:
    monday = today() + timedelta(days=7 - today().weekday())
    response = anna.get("/v1/staff/me/week", params={"start": str(monday + timedelta(days=2))})

    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    week = response.json()
    assert week["counsellor_alias"] == "Anna" and week["week_start"] == str(monday)
    assert week["windows"], week
    assert all(OFFSET.match(w["start"]) and OFFSET.match(w["end"]) for w in week["windows"])
    assert {w["location"]["alias"] for w in week["windows"]} <= {"Rostock 1", "Telefon"}


def test_without_a_session_every_staff_route_is_401(public: httpx.Client) -> None:
    for method, path in (("GET", "/v1/staff/me/week"), ("GET", f"/v1/staff/calendars/{ANNA}/week"),
                         ("GET", f"/v1/staff/calendars/{ANNA}/bookings"),
                         ("PUT", f"/v1/staff/calendars/{ANNA}/rules"),
                         ("POST", f"/v1/staff/bookings/{uuid4()}/cancel"),
                         ("POST", f"/v1/staff/calendars/{ANNA}/feed")):
        assert_problem(public.request(method, path, json={"rules": []}), 401, "not_signed_in")


def test_a_counsellor_cannot_see_or_change_another_calendar(anna: httpx.Client, system: System) -> None:
    before = rules_of(system, BOGDAN)

    assert_problem(anna.get(f"/v1/staff/calendars/{BOGDAN}/week"), 403, "forbidden", "own calendar")
    assert_problem(anna.get(f"/v1/staff/calendars/{BOGDAN}/bookings"), 403, "forbidden", "own calendar")
    assert_problem(anna.put(f"/v1/staff/calendars/{BOGDAN}/rules", json={"rules": []}), 403, "forbidden")
    assert_problem(anna.post(f"/v1/staff/calendars/{BOGDAN}/exceptions",
                             json={"kind": "absence", "first_day": str(today())}), 403, "forbidden")
    assert_problem(anna.post(f"/v1/staff/calendars/{BOGDAN}/feed"), 403, "forbidden")
    assert rules_of(system, BOGDAN) == before


def test_a_write_without_the_csrf_header_is_403_and_changes_nothing(system: System, anna: httpx.Client) -> None:
    before = rules_of(system, ANNA)
    headers = {k: v for k, v in anna.headers.items() if k.lower() != "x-lotse-csrf"}

    response = httpx.put(f"{system.url}/v1/staff/calendars/{ANNA}/rules", json={"rules": []}, headers=headers,
                         cookies=anna.cookies, timeout=30)

    assert_problem(response, 403, "csrf_token_missing", "X-Lotse-CSRF")
    assert rules_of(system, ANNA) == before


def test_an_admin_sees_every_calendar(admin: httpx.Client) -> None:
    for counsellor in (ANNA, BOGDAN, CSILLA):
        week = admin.get(f"/v1/staff/calendars/{counsellor}/week")
        assert week.status_code == 200, week.text
        bookings_of(admin, counsellor)
    assert_problem(admin.get("/v1/staff/me/week"), 404, "no_calendar")
    assert_problem(admin.get("/v1/staff/calendars/999/week"), 404, "unknown_counsellor")


# --- bookings --------------------------------------------------------------------------------------------------------

def test_a_counsellor_sees_a_client_booking_with_its_status_and_no_phone(public: httpx.Client,
                                                                         anna: httpx.Client) -> None:
    booked = book(public, "Anna")

    listed = {b["booking_id"]: b for b in bookings_of(anna, ANNA)}

    mine = listed[booked["booking_id"]]
    assert mine["status"] == "confirmed" and mine["needs_attention"] is False
    assert mine["topic"] == "career" and mine["location"]["alias"]
    assert OFFSET.match(mine["start"]) and mine["start"] == booked["start"]
    text = anna.get(f"/v1/staff/calendars/{ANNA}/bookings",
                    params={"from": str(today()), "to": str(today() + timedelta(days=60))}).text
    assert PHONE not in text and "15112345678" not in text
    assert all(b["status"] == "confirmed" for b in bookings_of(anna, ANNA, status="confirmed"))
    assert bookings_of(anna, ANNA, status="cancelled") == [] or all(
        b["status"] == "cancelled" for b in bookings_of(anna, ANNA, status="cancelled"))


def _report_unreachable(system: System, booking_id: str, wire: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the notifier sends when Twilio says texts to the booking's number cannot arrive (or, given `wire`, that
    message once more), published on the system's broker."""
    from shared.contracts import ContactUnreachable, wrap
    from shared.messaging import Publisher, make_celery
    from shared.settings import CommonSettings, load_settings

    settings = load_settings(CommonSettings, var_dir=system.var_dir)
    publisher = Publisher(make_celery("notifier", settings), settings)
    if wire is None:
        report = ContactUnreachable(booking_id=UUID(booking_id), reason="invalid_number", error_code="21211")
        wire = wrap(report, booking_id).to_wire()
    publisher.publish(wire, "contact.unreachable")
    return wire


def test_staff_see_that_a_client_cannot_be_texted_and_why(system: System, public: httpx.Client,
                                                          anna: httpx.Client) -> None:
    booked = book(public, "Anna")
    booking_id = booked["booking_id"]

    def problem() -> Any:
        return {b["booking_id"]: b for b in bookings_of(anna, ANNA)}[booking_id]["contact_problem"]

    def reports_taken() -> int:
        return int(rows(system, "SELECT count(*) FROM processed_messages WHERE message_type = "
                                "'contact.unreachable'")[0][0])

    assert problem() is None
    first = _report_unreachable(system, booking_id)
    shown = poll(problem)
    assert shown["reason"] == "invalid_number" and shown["error_code"] == "21211"
    assert OFFSET.match(shown["since"]), shown

    _report_unreachable(system, booking_id, first)  # delivered again: the inbox keeps it out
    _report_unreachable(system, booking_id)  # a second report for the same booking
    poll(lambda: reports_taken() == 2)
    assert problem() == shown
    assert rows(system, "SELECT count(*) FROM appointments WHERE contact_problem IS NOT NULL") == [(1,)]
    week = anna.get("/v1/staff/me/week", params={"start": booked["start"][:10]})
    assert week.status_code == 200, week.text
    [in_week] = [b for b in week.json()["bookings"] if b["booking_id"] == booking_id]
    assert in_week["contact_problem"] == shown

    # The answer about the one booking (here: staff cancel it, to call the client instead) says so too.
    cancelled = anna.post(f"/v1/staff/bookings/{booking_id}/cancel", json={"reason": "call instead"})
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["booking"]["contact_problem"] == shown
    assert PHONE not in cancelled.text and "15112345678" not in cancelled.text


def test_staff_cancel_frees_the_booking_and_the_client_sees_it(public: httpx.Client, anna: httpx.Client,
                                                               bogdan: httpx.Client, system: System) -> None:
    booked = book(public, "Anna")
    path = f"/v1/staff/bookings/{booked['booking_id']}/cancel"

    assert_problem(bogdan.post(path, json={}), 403, "forbidden", "own calendar")
    assert_problem(anna.post(path, json={"reason": "ruf an +49 151 1234"}), 422, "invalid_reason")
    # A number in fullwidth, Arabic-Indic or Devanagari digits, or a mix, is a number too.
    for hidden in ("ruf an ０１５１ ２３４５６７８", "اتصل ٠١٥١-٢٣٤-٥٦٧٨", "कॉल ०१५१.२३४५", "0١५๑２"):
        assert_problem(anna.post(path, json={"reason": hidden}), 422, "invalid_reason", "four digits")
    response = anna.post(path, json={"reason": "Beraterin krank"})

    assert response.status_code == 200, response.text
    assert response.json()["booking"]["status"] == "cancelled"
    wait_for_status(public, booked["manage_token"], "cancelled")
    stored = [reason for (reason,) in rows(system, "SELECT status_reason FROM appointments") if reason]
    assert "Beraterin krank" in stored
    assert not [reason for reason in stored if digit_count(reason) > 4], "a number reached the scheduler's database"
    assert_problem(anna.post(path, json={}), 409, "not_confirmed", "confirmed")
    assert_problem(anna.post(f"/v1/staff/bookings/{uuid4()}/cancel", json={}), 404, "unknown_booking")


def test_no_show_and_attended_are_refused_before_the_appointment_begins(public: httpx.Client,
                                                                         anna: httpx.Client) -> None:
    booked = book(public, "Anna")

    for outcome in ("no-show", "attended"):
        assert_problem(anna.post(f"/v1/staff/bookings/{booked['booking_id']}/{outcome}"), 409, "not_started",
                       "not begun")
    status = {b["booking_id"]: b["status"] for b in bookings_of(anna, ANNA)}
    assert status[booked["booking_id"]] == "confirmed"


def test_attended_and_no_show_are_recorded_once_the_appointment_has_begun(system: System,
                                                                          anna: httpx.Client) -> None:
    # A past appointment cannot be booked through the API; it is written as the scheduler would have.
    past = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3, hours=1)
    ids = [str(uuid4()), str(uuid4())]
    with sqlite3.connect(system.var_dir / "scheduler.sqlite", timeout=30) as db:
        for number, booking_id in enumerate(ids):
            start = past + timedelta(hours=2 * number)
            end = start + timedelta(minutes=50)
            db.execute(
                "INSERT INTO appointments (booking_id, counsellor_id, location_id, type_id, starts_at, ends_at, "
                "blocked_from, blocked_until, status, needs_attention, topic, language, channel, created_at, "
                "updated_at) VALUES (?, 1, 1, 1, ?, ?, ?, ?, 'confirmed', 0, 'career', 'de', 'web', ?, ?)",
                (booking_id, *(t.replace(tzinfo=None).isoformat(sep=" ") for t in (start, end, start, end, past,
                                                                                      past))))

    attended = anna.post(f"/v1/staff/bookings/{ids[0]}/attended")
    no_show = anna.post(f"/v1/staff/bookings/{ids[1]}/no-show", json={"reason": "nicht erschienen"})

    assert attended.status_code == 200, attended.text
    assert attended.json()["booking"]["status"] == "attended"
    assert no_show.status_code == 200 and no_show.json()["booking"]["status"] == "no_show"
    assert anna.post(f"/v1/staff/bookings/{ids[0]}/attended").status_code == 200  # reported twice: no change
    assert_problem(anna.post(f"/v1/staff/bookings/{ids[1]}/attended"), 409, "not_confirmed")


def test_a_booking_moved_to_a_free_slot_shows_the_new_time_to_the_client(public: httpx.Client,
                                                                         anna: httpx.Client,
                                                                         bogdan: httpx.Client) -> None:
    booked = book(public, "Anna")
    slots = public.get("/v1/slots", params={"language": "de", "counsellor": "Anna", "topic": "career",
                                            "from": str(today() + timedelta(days=2)),
                                            "to": str(today() + timedelta(days=40))}).json()["slots"]
    target = next(s for s in slots if s["start"][:10] != booked["start"][:10])
    path = f"/v1/staff/bookings/{booked['booking_id']}/move"

    assert_problem(bogdan.post(path, json={"slot_id": target["slot_id"]}), 403, "forbidden")
    assert_problem(anna.post(path, json={"slot_id": "nonsense"}), 422, "invalid_slot_id")
    response = anna.post(path, json={"slot_id": target["slot_id"], "reason": "Raum belegt"})

    assert response.status_code == 200, response.text
    assert response.json()["booking"]["start"] == target["start"]
    poll(lambda: public.get(f"/v1/bookings/{booked['manage_token']}").json()["slot"]["slot_id"]
         == target["slot_id"])


def test_a_move_to_a_taken_slot_is_refused_and_changes_nothing(public: httpx.Client, anna: httpx.Client) -> None:
    first, second = book(public, "Anna"), None
    second = book(public, "Anna", skip={first["slot_id"]})

    response = anna.post(f"/v1/staff/bookings/{second['booking_id']}/move", json={"slot_id": first["slot_id"]})

    assert_problem(response, 409, "slot_taken", "no longer free")
    starts = {b["booking_id"]: b["start"] for b in bookings_of(anna, ANNA)}
    assert starts[second["booking_id"]] == second["start"]


# --- rules and exceptions --------------------------------------------------------------------------------------------

CSILLA_RULES = [{"location_id": 3, "weekday": 0, "start": "10:00", "end": "16:00"},
                {"location_id": 3, "weekday": 3, "start": "10:00", "end": "16:00"},
                {"location_id": 7, "weekday": 2, "start": "14:00", "end": "19:00"}]


def test_a_counsellor_replaces_their_weekly_rules(system: System, csilla: httpx.Client) -> None:
    rules = [*CSILLA_RULES[:2], {**CSILLA_RULES[2], "end": "18:30"}]

    response = csilla.put(f"/v1/staff/calendars/{CSILLA}/rules", json={"rules": rules})

    assert response.status_code == 200, response.text
    assert [r["end"] for r in response.json()["rules"]] == ["16:00", "16:00", "18:30"]
    assert ("18:30:00.000000" in str(rules_of(system, CSILLA))) or ("18:30:00" in str(rules_of(system, CSILLA)))
    assert csilla.put(f"/v1/staff/calendars/{CSILLA}/rules", json={"rules": CSILLA_RULES}).status_code == 200


@pytest.mark.parametrize(("rules", "code", "words"), [
    ([{"location_id": 3, "weekday": 0, "start": "10:00", "end": "14:00"},
      {"location_id": 7, "weekday": 0, "start": "12:00", "end": "16:00"}], "overlapping_rules", ("overlaps",)),
    ([{"location_id": 3, "weekday": 1, "start": "16:00", "end": "10:00"}], "window_ends_before_start",
     ("before it starts",)),
    ([{"location_id": 3, "weekday": 1, "start": "22:00", "end": "02:00"}], "window_across_midnight",
     ("across midnight",)),
    ([{"location_id": 1, "weekday": 1, "start": "10:00", "end": "14:00"}], "location_not_served",
     ("does not serve",)),
    ([{"location_id": 3, "weekday": 1, "start": "10:00", "end": "24:30"}], "invalid_time", ("HH:MM",)),
    ([{"location_id": 3, "weekday": 1, "start": "10:00", "end": "14:00", "valid_from": "2027-02-01",
       "valid_until": "2027-01-01"}], "validity_reversed", ("before valid from",)),
    ([{"location_id": 3, "weekday": 7, "start": "10:00", "end": "14:00"}], "invalid_weekday", ("weekday",)),
], ids=["overlap", "end-before-start", "across-midnight", "location-not-served", "not-a-time",
        "validity-reversed", "weekday"])
def test_bad_rules_are_refused_with_a_sentence_and_nothing_is_saved(
        system: System, csilla: httpx.Client, rules: list[dict[str, Any]], code: str, words: tuple[str, ...]) -> None:
    before = rules_of(system, CSILLA)

    # A good rule first: the whole list is refused, not saved up to the bad one.
    response = csilla.put(f"/v1/staff/calendars/{CSILLA}/rules",
                          json={"rules": [{"location_id": 7, "weekday": 4, "start": "09:00", "end": "12:00"},
                                          *rules]})

    assert_problem(response, 422, code, *words)
    assert rules_of(system, CSILLA) == before


def test_an_unknown_time_zone_is_refused(anna: httpx.Client) -> None:
    assert_problem(anna.get("/v1/staff/me/week", params={"timezone": "Mars/Olympus_Mons"}), 422,
                   "unknown_timezone", "time zone")
    # A zone without summer time: London is +01:00 from March to October, which failed this test half the year.
    ok = anna.get("/v1/staff/me/week", params={"timezone": "Asia/Tokyo"})
    assert ok.status_code == 200 and ok.json()["windows"]
    assert all(w["start"].endswith("+09:00") for w in ok.json()["windows"])


def test_ranges_over_90_days_or_past_the_horizon_are_refused(system: System, anna: httpx.Client) -> None:
    before = exceptions_of(system, ANNA)
    far = today() + timedelta(days=400)

    assert_problem(bookings_response(anna, today(), today() + timedelta(days=100)), 422, "range_too_long", "90")
    assert_problem(bookings_response(anna, today(), today() - timedelta(days=1)), 422, "range_reversed")
    assert_problem(bookings_response(anna, far, far + timedelta(days=3)), 422, "beyond_horizon")
    assert_problem(anna.get("/v1/staff/me/week", params={"start": str(far)}), 422, "beyond_horizon")
    assert_problem(anna.post(f"/v1/staff/calendars/{ANNA}/exceptions", json={
        "kind": "absence", "first_day": str(today()), "last_day": str(today() + timedelta(days=120))}),
        422, "range_too_long")
    assert_problem(anna.post(f"/v1/staff/calendars/{ANNA}/exceptions", json={
        "kind": "absence", "first_day": str(today() + timedelta(days=3)), "last_day": str(today())}),
        422, "range_reversed")
    assert exceptions_of(system, ANNA) == before


def bookings_response(client: httpx.Client, first: date, last: date) -> httpx.Response:
    return client.get(f"/v1/staff/calendars/{ANNA}/bookings", params={"from": str(first), "to": str(last)})


def test_bad_exceptions_are_refused_and_nothing_is_saved(system: System, csilla: httpx.Client) -> None:
    before = exceptions_of(system, CSILLA)
    monday = today() + timedelta(days=7 - today().weekday())
    path = f"/v1/staff/calendars/{CSILLA}/exceptions"

    assert_problem(csilla.post(path, json={"kind": "absence", "first_day": str(monday), "start": "15:00",
                                           "end": "09:00"}), 422, "window_ends_before_start")
    assert_problem(csilla.post(path, json={"kind": "extra_hours", "first_day": str(monday), "start": "08:00",
                                           "end": "09:30", "location_id": 1}), 422, "location_not_served")
    assert_problem(csilla.post(path, json={"kind": "extra_hours", "first_day": str(monday), "start": "09:00",
                                           "end": "12:00", "location_id": 7}), 422, "overlapping_rules")
    assert_problem(csilla.post(path, json={"kind": "extra_hours", "first_day": str(monday), "start": "23:00",
                                           "end": "01:00", "location_id": 3}), 422, "window_across_midnight")
    assert exceptions_of(system, CSILLA) == before


def test_extra_hours_are_added_shown_in_the_week_and_removed(csilla: httpx.Client) -> None:
    tuesday = today() + timedelta(days=8 - today().weekday())
    added = csilla.post(f"/v1/staff/calendars/{CSILLA}/exceptions", json={
        "kind": "extra_hours", "first_day": str(tuesday), "start": "09:00", "end": "12:00", "location_id": 3})
    assert added.status_code == 201, added.text
    exception_id = added.json()["exception"]["exception_id"]

    week = csilla.get("/v1/staff/me/week", params={"start": str(tuesday)}).json()
    assert any(w["source"] == "extra_hours" and w["day"] == str(tuesday) for w in week["windows"])
    removed = csilla.delete(f"/v1/staff/calendars/{CSILLA}/exceptions/{exception_id}")
    assert removed.status_code == 200, removed.text
    assert_problem(csilla.delete(f"/v1/staff/calendars/{CSILLA}/exceptions/{exception_id}"), 404,
                   "unknown_exception")


def test_leave_over_bookings_lists_them_to_move_and_flags_them(public: httpx.Client, anna: httpx.Client,
                                                               system: System) -> None:
    booked = book(public, "Anna")
    day = datetime.fromisoformat(booked["start"]).date()

    response = anna.post(f"/v1/staff/calendars/{ANNA}/exceptions",
                         json={"kind": "absence", "first_day": str(day), "reason": "Urlaub"})

    assert response.status_code == 201, response.text
    answer = response.json()
    assert booked["booking_id"] in {b["booking_id"] for b in answer["bookings_to_move"]}
    assert all(b["location"]["alias"] and OFFSET.match(b["start"]) for b in answer["bookings_to_move"])
    flagged = {b["booking_id"]: b for b in bookings_of(anna, ANNA)}[booked["booking_id"]]
    assert flagged["needs_attention"] is True and flagged["status"] == "confirmed"
    week = anna.get("/v1/staff/me/week", params={"start": str(day)}).json()
    assert not [w for w in week["windows"] if w["day"] == str(day)]
    removed = anna.delete(f"/v1/staff/calendars/{ANNA}/exceptions/{answer['exception']['exception_id']}")
    assert removed.status_code == 200


# --- the private calendar feed ---------------------------------------------------------------------------------------

def test_the_feed_parses_with_the_berlin_timezone_and_only_time_and_place(system: System, public: httpx.Client,
                                                                           anna: httpx.Client) -> None:
    booked = book(public, "Anna")
    issued = anna.post(f"/v1/staff/calendars/{ANNA}/feed")
    assert issued.status_code == 201, issued.text
    token, url = issued.json()["token"], issued.json()["feed_url"]
    assert len(token) >= 43 and url.endswith(f"/v1/feeds/{token}.ics")

    response = public.get(f"/v1/feeds/{token}.ics")

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/calendar")
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    feed = icalendar.Calendar.from_ical(response.content)
    assert [tz["TZID"] for tz in feed.walk("VTIMEZONE")] == ["Europe/Berlin"]
    events = {str(e["UID"]): e for e in feed.walk("VEVENT")}
    event = events[f"{booked['booking_id']}@lotse"]
    assert event.decoded("DTSTART") == datetime.fromisoformat(booked["start"])
    assert str(event["DTSTART"].params["TZID"]) == "Europe/Berlin"
    assert str(event["SUMMARY"]).startswith("Termin")
    assert "Rostock 1" in str(event["SUMMARY"]) or "Telefon" in str(event["SUMMARY"])
    text = response.text
    assert PHONE not in text and "15112345678" not in text
    assert not [w for w in TOPIC_WORDS if w.lower() in text.lower()]
    assert_problem(public.get(f"/v1/feeds/{token[:-2]}xx.ics"), 404, "not_found")


def test_a_revoked_feed_is_404_and_a_reissued_one_replaces_it(public: httpx.Client, anna: httpx.Client,
                                                              admin: httpx.Client) -> None:
    first = anna.post(f"/v1/staff/calendars/{ANNA}/feed").json()["token"]
    second = admin.post(f"/v1/staff/calendars/{ANNA}/feed").json()["token"]
    assert public.get(f"/v1/feeds/{first}.ics").status_code == 404
    assert public.get(f"/v1/feeds/{second}.ics").status_code == 200

    assert anna.delete(f"/v1/staff/calendars/{ANNA}/feed").status_code == 204

    assert_problem(public.get(f"/v1/feeds/{second}.ics"), 404, "not_found", "no calendar feed")
    assert_problem(anna.delete(f"/v1/staff/calendars/{ANNA}/feed"), 404, "no_feed")


# --- once per request, all or nothing (the scheduler's handler on its own database) ----------------------------------

def test_a_redelivered_staff_write_is_applied_once_and_a_refused_one_leaves_nothing(tmp_path: Path) -> None:
    from scheduler import demo, migrations, staff
    from scheduler.bookings import SchedulerDeps
    from scheduler.calendar import Calendar
    from scheduler.domain.availability import SearchSettings
    from sqlmodel import Session

    from shared.contracts import StaffRequested, wrap
    from shared.contracts.staff import Actor, AddExceptionAction, AlreadyDone, RefusalKind, RuleIn, SetRulesAction
    from shared.db import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'scheduler.sqlite'}")
    migrations.upgrade(engine)
    demo.seed(engine)
    deps = staff.StaffDeps(SchedulerDeps(calendar=Calendar(SearchSettings()), clock=lambda: datetime.now(UTC),
                                         reply=lambda *_: None), engine)
    anna_actor = Actor(staff_id=2, role="counsellor", counsellor_id=ANNA)

    def decide(action: Any, request_id: Any = None) -> Any:
        request = StaffRequested(request_id=request_id or uuid4(), actor=anna_actor, action=action,
                                 reply_to="gateway.replies.0123456789ab")
        envelope = wrap(request, "test")
        with Session(engine) as session:
            return staff.decide(envelope, session, deps), envelope

    def count(sql: str) -> int:
        with sqlite3.connect(tmp_path / "scheduler.sqlite") as db:
            return int(db.execute(sql).fetchone()[0])

    absence = AddExceptionAction(counsellor_id=ANNA, kind="absence", first_day=today() + timedelta(days=3),
                                 last_day=today() + timedelta(days=4), reason="Urlaub")
    request_id = uuid4()
    first, _ = decide(absence, request_id)
    again, _ = decide(absence, request_id)

    assert first.refusal is None and not isinstance(first.answer, AlreadyDone)
    assert isinstance(again.answer, AlreadyDone)
    assert count("SELECT count(*) FROM availability_exceptions WHERE kind = 'absence'") == 1

    rules_before = count("SELECT count(*) FROM availability_rules WHERE counsellor_id = 1")
    inbox_before = count("SELECT count(*) FROM processed_messages")
    refused, _ = decide(SetRulesAction(counsellor_id=ANNA, rules=[
        RuleIn(location_id=1, weekday=0, start="09:00", end="12:00"),
        RuleIn(location_id=1, weekday=0, start="11:00", end="13:00")]))

    assert (refused.refusal.kind, refused.refusal.code) == (RefusalKind.INVALID, "overlapping_rules")
    assert count("SELECT count(*) FROM availability_rules WHERE counsellor_id = 1") == rules_before
    assert count("SELECT count(*) FROM processed_messages") == inbox_before
    other, _ = decide(SetRulesAction(counsellor_id=BOGDAN, rules=[]))
    assert (other.refusal.kind, other.refusal.code) == (RefusalKind.FORBIDDEN, "forbidden")
    assert count("SELECT count(*) FROM availability_rules WHERE counsellor_id = 2") > 0
