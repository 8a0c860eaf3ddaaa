"""The counsellor's calendar pages as a browser without JavaScript sees them: moving an appointment with the picker
(days, then a day's times, then the move), absences (list, add with the appointments they cover, remove) and the
private calendar feed (issue, shown once; revoke); and how each fails (a bad form, a forged or taken time, no
session, a stale CSRF token, the calendar away, an admin without a calendar). The scheduler is the fake of our
StaffClient and SlotClient ports in tests/support/staff_pages; sign-in is real."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from gateway.staff.audit_repository import AuditFilter
from gateway.staff_client import CalendarRefused

from shared.contracts.staff import AddExceptionAction, MoveAction, RefusalKind, RuleIn, SetRulesAction
from tests.support.staff_pages import (
    ANNA,
    PASSWORD,
    StaffDesk,
    free_time,
    staff_desk,
    standard_calendar,
    standard_free_times,
    standard_rules,
)
from tests.unit.test_staff_pages import FORM_EXPIRED, csrf_of, seen, sign_in

LATER, WEDNESDAY = "00000000-0000-0000-0000-000000000002", "00000000-0000-0000-0000-000000000003"
MOVE = f"/staff/bookings/{WEDNESDAY}/move"
THURSDAY_NINE = free_time(ANNA, datetime(2025, 4, 3, 7, 0, tzinfo=UTC)).slot_id
BOGDANS_TIME = standard_free_times()[-1].slot_id


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StaffDesk]:
    with staff_desk(tmp_path_factory.mktemp("staff-calendar-pages")) as made:
        yield made


@pytest.fixture
def browser(desk: StaffDesk) -> Iterator[TestClient]:
    """A fresh browser (German), on a calendar as it starts: appointments, free times, no absences."""
    calendars = desk.calendars
    calendars.bookings, calendars.free, calendars.absences = standard_calendar(), standard_free_times(), []
    calendars.rules = standard_rules()
    calendars.down = calendars.broken = False
    calendars.asked.clear()
    calendars.searched.clear()
    with TestClient(desk.app, raise_server_exceptions=False, follow_redirects=False,
                    headers={"Accept-Language": "de-DE,de;q=0.9"}) as client:
        yield client


def sign_in_admin(browser: TestClient, desk: StaffDesk) -> str:
    """The admin's password, then the code of their authenticator app; returns the CSRF token."""
    assert browser.post("/login", data={"username": "admin", "password": PASSWORD}).status_code == 303
    assert browser.post("/login/code", data={"code": desk.code("admin")}).status_code == 303
    return csrf_of(browser.get("/staff/password").text)


# --- moving an appointment -------------------------------------------------------------------------------------------

def test_the_week_links_each_coming_appointment_to_its_move_page(browser: TestClient) -> None:
    sign_in(browser)
    page = browser.get("/staff/week")
    assert f'href="{MOVE}?on=2025-04-02"' in page.text
    assert 'href="/staff/bookings/00000000-0000-0000-0000-000000000001/move' not in page.text  # begun: not movable


def test_the_picker_offers_the_days_with_free_times_in_the_counsellors_own_calendar(browser: TestClient,
                                                                                   desk: StaffDesk) -> None:
    sign_in(browser)
    page = browser.get(f"{MOVE}?on=2025-04-02")

    assert page.status_code == 200
    text = seen(page)
    assert "Termin verschieben Jetzt: Mittwoch, 2. April, 09:00–10:00, Rostock 1" in text
    assert "Erste freie Uhrzeit: Donnerstag, 3. April, 09:00 · Rostock 1 (vor Ort)" in text
    assert "Donnerstag, 3. April Freitag, 4. April" in text
    assert "Dienstag, 8. April" not in text  # next week's: behind "Later week"
    assert desk.calendars.searched == [{"from": date(2025, 3, 31), "to": date(2025, 4, 6), "counsellor": "Anna",
                                        "for": UUID(WEDNESDAY)}]
    later = seen(browser.get(f"{MOVE}?on=2025-04-02&week=1"))
    assert "Dienstag, 8. April" in later and "Donnerstag, 3. April" not in later


def test_a_day_shows_its_times_and_the_chosen_one_moves_the_appointment(browser: TestClient,
                                                                       desk: StaffDesk) -> None:
    csrf = sign_in(browser)
    day = browser.get(f"{MOVE}?on=2025-04-02&week=0&day=2025-04-03")
    text = seen(day)
    assert "Donnerstag, 3. April Rostock 1 (vor Ort) 09:00 10:00 11:00 12:00 13:00 14:00 15:00" in text
    assert BOGDANS_TIME not in day.text  # a colleague's time is not offered to a counsellor

    response = browser.post(MOVE, data={"csrf": csrf, "slot_id": THURSDAY_NINE, "on": "2025-04-02", "week": "0",
                                        "day": "2025-04-03"})

    assert response.status_code == 303
    assert response.headers["location"] == "/staff/week?start=2025-04-03&done=moved"
    assert desk.calendars.asked[-1] == MoveAction(booking_id=UUID(WEDNESDAY), slot_id=THURSDAY_NINE)
    week = seen(browser.get(response.headers["location"]))
    assert "Der Termin ist verschoben; die Person wird benachrichtigt." in week
    assert "Donnerstag, 3. April 09:00–10:00, Rostock 1" in week


def test_the_first_free_time_opens_its_day_with_it_chosen(browser: TestClient) -> None:
    sign_in(browser)
    page = browser.get(f"{MOVE}?on=2025-04-02&first={THURSDAY_NINE}")
    assert f'value="{THURSDAY_NINE}" required checked>' in page.text


def test_a_day_with_more_than_twenty_times_is_shown_in_screens(browser: TestClient, desk: StaffDesk) -> None:
    start = datetime(2025, 4, 3, 6, 0, tzinfo=UTC)
    desk.calendars.free = [free_time(ANNA, start + timedelta(minutes=15 * n)) for n in range(25)]
    sign_in(browser)
    first = browser.get(f"{MOVE}?day=2025-04-03")
    assert first.text.count('type="radio"') == 20 and "Spätere Uhrzeiten" in seen(first)
    second = browser.get(f"{MOVE}?day=2025-04-03&part=1")
    assert second.text.count('type="radio"') == 5 and "Frühere Uhrzeiten" in seen(second)


def test_a_time_taken_meanwhile_is_said_over_the_day_again(browser: TestClient, desk: StaffDesk) -> None:
    csrf = sign_in(browser)
    desk.calendars.free.pop(0)  # someone else took Thursday 09:00
    response = browser.post(MOVE, data={"csrf": csrf, "slot_id": THURSDAY_NINE, "day": "2025-04-03"})
    assert response.status_code == 409
    text = seen(response)
    assert "Diese Uhrzeit ist nicht mehr frei. Es wurde nichts geändert." in text
    assert "Donnerstag, 3. April Rostock 1 (vor Ort) 10:00" in text
    assert desk.calendars.booking(3).start == datetime(2025, 4, 2, 7, 0, tzinfo=UTC)


def test_a_move_without_a_time_or_to_a_colleagues_time_is_refused(browser: TestClient, desk: StaffDesk) -> None:
    csrf = sign_in(browser)
    empty = browser.post(MOVE, data={"csrf": csrf, "slot_id": ""})
    assert empty.status_code == 422 and "Bitte wählen Sie eine der Uhrzeiten." in seen(empty)
    forged = browser.post(MOVE, data={"csrf": csrf, "slot_id": "s2-1-1-1-../../x"})
    assert forged.status_code == 422
    colleague = browser.post(MOVE, data={"csrf": csrf, "slot_id": BOGDANS_TIME})
    assert colleague.status_code == 403 and "im Kalender einer anderen Beratungsperson" in seen(colleague)
    assert desk.calendars.booking(3).start == datetime(2025, 4, 2, 7, 0, tzinfo=UTC)


def test_an_admin_is_offered_every_counsellors_free_times(browser: TestClient, desk: StaffDesk) -> None:
    sign_in_admin(browser, desk)
    page = browser.get(f"{MOVE}?day=2025-04-03")
    assert page.status_code == 200 and BOGDANS_TIME in page.text
    assert desk.calendars.searched[-1]["counsellor"] is None
    assert "Jetzt: Mittwoch, 2. April, 09:00–10:00, Rostock 1" in seen(page)  # the appointment, whoever's it is


def test_an_appointment_no_longer_confirmed_offers_no_times(browser: TestClient, desk: StaffDesk) -> None:
    csrf = sign_in(browser)
    assert browser.post(f"/staff/appointments/{WEDNESDAY}/cancel", data={"csrf": csrf}).status_code == 303
    page = browser.get(f"{MOVE}?on=2025-04-02")
    assert page.status_code == 409 and "Dieser Termin ist nicht mehr bestätigt" in seen(page)
    assert desk.calendars.searched == []


def test_a_move_page_for_no_booking_is_a_404_page(browser: TestClient) -> None:
    sign_in(browser)
    page = browser.get("/staff/bookings/not-a-booking/move")
    assert page.status_code == 404 and "Diesen Termin gibt es nicht (mehr)." in seen(page)


def test_a_move_page_for_another_counsellors_booking_is_a_403_page_offering_nothing(browser: TestClient,
                                                                                    desk: StaffDesk) -> None:
    sign_in(browser, "bogdan")
    page = browser.get(f"{MOVE}?on=2025-04-02")

    assert page.status_code == 403
    assert "Dieser Termin steht im Kalender einer anderen Beratungsperson." in seen(page)
    assert "Jetzt:" not in page.text and desk.calendars.searched == []  # neither the appointment nor free times


@pytest.mark.parametrize("admin", [False, True])
def test_a_move_page_for_a_booking_the_calendar_does_not_know_is_a_404_page(browser: TestClient, desk: StaffDesk,
                                                                          admin: bool) -> None:
    if admin:
        sign_in_admin(browser, desk)
    else:
        sign_in(browser)
    page = browser.get(f"/staff/bookings/{UUID(int=77)}/move?on=2025-04-02")

    assert page.status_code == 404 and "Diesen Termin gibt es nicht (mehr)." in seen(page)
    assert desk.calendars.searched == []


def test_a_booking_read_that_failed_in_the_scheduler_is_a_503_page(browser: TestClient, desk: StaffDesk,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    def failed(*_: object) -> None:
        raise CalendarRefused(RefusalKind.FAILED, "internal_error", "Something went wrong in the calendar.")

    sign_in(browser)
    monkeypatch.setattr(desk.calendars, "ask", failed)
    page = browser.get(f"{MOVE}?on=2025-04-02")

    assert page.status_code == 503 and "Der Kalender antwortet gerade nicht." in seen(page)
    assert desk.calendars.searched == []


def test_the_picker_shows_the_appointment_now_whatever_week_the_link_was_on(browser: TestClient,
                                                                           desk: StaffDesk) -> None:
    sign_in(browser)
    page = browser.get(f"{MOVE}?on=2025-04-16")  # two weeks after the appointment (a stale link, a moved one)

    assert page.status_code == 200
    assert "Termin verschieben Jetzt: Mittwoch, 2. April, 09:00–10:00, Rostock 1" in seen(page)
    assert desk.calendars.searched[-1]["counsellor"] == "Anna"  # still only her own free times
    rows, _ = desk.accounts.audit.page(AuditFilter(action="booking_read", target_id=WEDNESDAY), None, 1)
    assert [(row.username, row.outcome, row.target_kind) for row in rows] == [("anna", "ok", "booking")]


# --- absences --------------------------------------------------------------------------------------------------------

def test_an_absence_over_a_booked_day_lists_the_appointment_to_move(browser: TestClient, desk: StaffDesk) -> None:
    csrf = sign_in(browser)
    assert "Keine Abwesenheiten in diesen Wochen." in seen(browser.get("/staff/absences"))

    response = browser.post("/staff/absences", data={"csrf": csrf, "first_day": "2025-04-02",
                                                     "last_day": "2025-04-02", "reason": "Fortbildung"})

    assert response.status_code == 200
    assert desk.calendars.asked[-1] == AddExceptionAction(counsellor_id=ANNA, kind="absence",
                                                          first_day=date(2025, 4, 2), last_day=date(2025, 4, 2),
                                                          reason="Fortbildung")
    text = seen(response)
    assert "Die Abwesenheit ist gespeichert." in text
    assert "Termine in dieser Abwesenheit" in text and "Mittwoch, 2. April, 09:00–10:00, Rostock 1" in text
    assert f'href="{MOVE}?on=2025-04-02"' in response.text
    listed = seen(browser.get("/staff/absences"))
    assert "Mittwoch, 2. April (Fortbildung) Entfernen" in listed
    assert "Braucht Aufmerksamkeit" in seen(browser.get("/staff/week"))


def test_an_absence_of_part_of_a_day_misses_the_appointments_outside_it(browser: TestClient) -> None:
    csrf = sign_in(browser)
    response = browser.post("/staff/absences", data={"csrf": csrf, "first_day": "2025-04-02", "start": "12:00",
                                                     "end": "16:00"})
    assert "Kein Termin fällt in diese Abwesenheit." in seen(response)
    assert "Mittwoch, 2. April, 12:00–16:00 (leave)" in seen(browser.get("/staff/absences"))


def test_removing_an_absence(browser: TestClient, desk: StaffDesk) -> None:
    csrf = sign_in(browser)
    browser.post("/staff/absences", data={"csrf": csrf, "first_day": "2025-04-02"})
    number = re.findall(r'action="/staff/absences/(\d+)/remove"', browser.get("/staff/absences").text)[0]

    response = browser.post(f"/staff/absences/{number}/remove", data={"csrf": csrf})

    assert response.status_code == 303 and response.headers["location"] == "/staff/absences?done=removed"
    page = seen(browser.get(response.headers["location"]))
    assert "Die Abwesenheit ist entfernt." in page and "Keine Abwesenheiten in diesen Wochen." in page
    again = browser.post(f"/staff/absences/{number}/remove", data={"csrf": csrf})
    assert again.status_code == 404 and "Diese Abwesenheit gibt es nicht (mehr)." in seen(again)
    assert browser.post("/staff/absences/x/remove", data={"csrf": csrf}).status_code == 404


@pytest.mark.parametrize(("form", "field", "sentence"), [
    ({"first_day": ""}, "first_day", "Bitte geben Sie den ersten Tag als Datum ein."),
    ({"first_day": "2025-02-30"}, "first_day", "Bitte geben Sie den ersten Tag als Datum ein."),
    ({"first_day": "2025-04-02", "last_day": "2025-04-01"}, "last_day", "Der letzte Tag liegt vor dem ersten."),
    ({"first_day": "2025-04-02", "last_day": "2025-09-01"}, "last_day", "höchstens 90 Tage"),
    ({"first_day": "2040-01-01"}, "first_day", "So weit reicht der Kalender nicht."),
    ({"first_day": "2025-04-02", "last_day": "2025-04-03", "start": "09:00", "end": "12:00"}, "start", "09:30"),
    ({"first_day": "2025-04-02", "start": "12:00", "end": "09:00"}, "start", "09:30"),
    ({"first_day": "2025-04-02", "start": "9 Uhr", "end": "12:00"}, "start", "09:30"),
    ({"first_day": "2025-04-02", "reason": "ruf an +49 151 1234567"}, "reason", "höchstens vier Ziffern"),
])
def test_a_wrong_absence_is_said_at_its_field_and_nothing_is_saved(browser: TestClient, desk: StaffDesk,
                                                                   form: dict[str, str], field: str,
                                                                   sentence: str) -> None:
    csrf = sign_in(browser)
    response = browser.post("/staff/absences", data={"csrf": csrf, **form})
    assert response.status_code == 422
    assert f'aria-invalid="true" aria-describedby="{field}-error" autofocus>' in response.text
    assert sentence in seen(response)
    assert desk.calendars.absences == []


# --- weekly hours ----------------------------------------------------------------------------------------------------

def hours_form(csrf: str, do: str, **rows: tuple[str, str, str]) -> dict[str, str]:
    """The hours form as sent: every row empty but those given (`d0r0=("09:00", "16:00", "1")`)."""
    form = {"csrf": csrf, "do": do}
    for weekday in range(7):
        for number in range(2):
            start, end, place = rows.get(f"d{weekday}r{number}", ("", "", ""))
            form |= {f"d{weekday}r{number}_start": start, f"d{weekday}r{number}_end": end,
                     f"d{weekday}r{number}_location": place}
    return form


def test_the_hours_form_starts_from_the_hours_the_calendar_shows(browser: TestClient) -> None:
    sign_in(browser)
    page = browser.get("/staff/hours")
    assert page.status_code == 200
    assert 'id="d0r0_start" name="d0r0_start" type="time" value="09:00"' in page.text
    assert 'id="d4r0_end" name="d4r0_end" type="time" value="14:00"' in page.text
    assert 'id="d1r0_start" name="d1r0_start" type="time" value=""' in page.text
    assert '<option value="6" selected>Telefon (am Telefon)</option>' in page.text
    assert "Montag Von (1) Bis (1) Ort (1)" in seen(page)


def test_hours_limited_to_dates_are_listed_and_kept_when_saving(browser: TestClient, desk: StaffDesk) -> None:
    limited = RuleIn(location_id=1, weekday=1, start="08:30", end="12:00", valid_until=date(2025, 6, 30),
                     on_holidays=True)
    desk.calendars.rules[ANNA].append(limited)
    csrf = sign_in(browser)
    page = browser.get("/staff/hours")
    assert ("Bleiben, wie sie sind Zeiten, die nur für bestimmte Daten oder auch an Feiertagen gelten, werden hier "
            "nicht geändert; beim Speichern bleiben sie erhalten. Dienstag 08:30–12:00, Rostock 1 (vor Ort), bis "
            "Montag, 30. Juni, auch an Feiertagen") in seen(page)
    assert 'id="d1r0_start" name="d1r0_start" type="time" value=""' in page.text  # not a line of the form

    browser.post("/staff/hours", data=hours_form(csrf, "save", d0r0=("09:00", "12:00", "1")))

    assert desk.calendars.asked[-1] == SetRulesAction(counsellor_id=ANNA, rules=[
        RuleIn(location_id=1, weekday=0, start="09:00", end="12:00"), limited])


def test_the_preview_shows_the_week_and_saves_nothing(browser: TestClient, desk: StaffDesk) -> None:
    csrf = sign_in(browser)
    response = browser.post("/staff/hours", data=hours_form(csrf, "preview", d1r0=("10:00", "12:00", "1"),
                                                           d1r1=("13:00", "15:00", "6")))
    assert response.status_code == 200
    text = seen(response)
    assert ("Die Woche mit diesen Zeiten (noch nicht gespeichert) Montag keine Zeiten Dienstag 10:00–12:00, Rostock 1 "
            "(vor Ort); 13:00–15:00, Telefon (am Telefon) Mittwoch keine Zeiten") in text
    assert 'id="d1r1_start" name="d1r1_start" type="time" value="13:00"' in response.text  # the form kept
    assert desk.calendars.rules == standard_rules()


def test_saving_replaces_the_weekly_hours(browser: TestClient, desk: StaffDesk) -> None:
    csrf = sign_in(browser)
    response = browser.post("/staff/hours", data=hours_form(csrf, "save", d1r0=("10:00", "12:00", "1")))
    assert response.status_code == 303 and response.headers["location"] == "/staff/hours?done=saved"
    assert desk.calendars.asked[-1] == SetRulesAction(counsellor_id=ANNA, rules=[
        RuleIn(location_id=1, weekday=1, start="10:00", end="12:00")])
    page = browser.get(response.headers["location"])
    assert "Die Wochenzeiten sind gespeichert." in seen(page)
    assert 'id="d1r0_start" name="d1r0_start" type="time" value="10:00"' in page.text


@pytest.mark.parametrize("row", [("12:00", "10:00", "1"), ("10:00", "", "1"), ("9 Uhr", "12:00", "1"),
                                 ("10:00", "12:00", ""), ("10:00", "12:00", "99")])
def test_a_wrong_line_of_hours_is_marked_and_nothing_saved(browser: TestClient, desk: StaffDesk,
                                                           row: tuple[str, str, str]) -> None:
    csrf = sign_in(browser)
    response = browser.post("/staff/hours", data=hours_form(csrf, "save", d2r1=row))
    assert response.status_code == 422
    assert 'aria-invalid="true" aria-describedby="d2r1-error"' in response.text
    assert "Bitte prüfen Sie die markierten Zeilen" in seen(response)
    assert desk.calendars.rules == standard_rules()


def test_hours_the_calendar_refuses_are_said_with_the_preview(browser: TestClient, desk: StaffDesk) -> None:
    csrf = sign_in(browser)
    response = browser.post("/staff/hours", data=hours_form(csrf, "save", d0r0=("09:00", "12:00", "1"),
                                                           d0r1=("11:00", "14:00", "6")))
    assert response.status_code == 422
    assert "Der Kalender hat diese Zeiten abgelehnt" in seen(response)
    assert "Montag 09:00–12:00, Rostock 1 (vor Ort); 11:00–14:00, Telefon (am Telefon)" in seen(response)
    assert desk.calendars.rules == standard_rules()


# --- the private calendar feed ---------------------------------------------------------------------------------------

def test_the_feed_address_is_shown_once_and_stops_when_revoked(browser: TestClient, desk: StaffDesk) -> None:
    csrf = sign_in(browser)
    assert "Neue Feed-Adresse erstellen" in seen(browser.get("/staff/feed"))

    issued = browser.post("/staff/feed", data={"csrf": csrf})

    assert issued.status_code == 200
    token = re.findall(r"/v1/feeds/([A-Za-z0-9_-]{43})\.ics", issued.text)[0]
    assert "Sie wird nur jetzt gezeigt." in seen(issued)
    feeds = desk.app.state.gateway.feeds
    assert feeds.counsellor_for(token) == ANNA
    assert token not in browser.get("/staff/feed").text

    revoked = browser.post("/staff/feed/revoke", data={"csrf": csrf})
    assert revoked.status_code == 303 and revoked.headers["location"] == "/staff/feed?done=revoked"
    assert "Der Feed ist beendet" in seen(browser.get(revoked.headers["location"]))
    assert feeds.counsellor_for(token) is None
    again = browser.post("/staff/feed/revoke", data={"csrf": csrf})
    assert again.headers["location"] == "/staff/feed?done=none"


# --- every new page: no session, a stale form, no calendar, the calendar away ----------------------------------------

PAGES = [MOVE, "/staff/hours", "/staff/absences", "/staff/feed"]
FORMS = [MOVE, "/staff/hours", "/staff/absences", "/staff/absences/100/remove", "/staff/feed",
         "/staff/feed/revoke"]


@pytest.mark.parametrize(("method", "path"), [("GET", path) for path in PAGES] + [("POST", path) for path in FORMS])
def test_without_a_session_the_calendar_pages_send_to_sign_in(browser: TestClient, desk: StaffDesk, method: str,
                                                              path: str) -> None:
    response = browser.request(method, path, data={"csrf": "x"} if method == "POST" else None)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    assert desk.calendars.asked == [] and desk.calendars.searched == []


@pytest.mark.parametrize("path", FORMS)
def test_a_calendar_form_without_the_sessions_token_changes_nothing(browser: TestClient, desk: StaffDesk,
                                                                    path: str) -> None:
    sign_in(browser)
    response = browser.post(path, data={"csrf": "stale", "slot_id": THURSDAY_NINE, "first_day": "2025-04-02",
                                        "do": "save"})
    assert response.status_code == 403 and FORM_EXPIRED in seen(response)
    assert desk.calendars.asked == []


@pytest.mark.parametrize("path", ["/staff/hours", "/staff/absences", "/staff/feed"])
def test_an_admin_has_no_hours_absences_or_feed_of_their_own(browser: TestClient, desk: StaffDesk,
                                                             path: str) -> None:
    csrf = sign_in_admin(browser, desk)
    for response in (browser.get(path), browser.post(path, data={"csrf": csrf, "first_day": "2025-04-02"})):
        assert response.status_code == 404 and "Dieses Konto hat keinen eigenen Kalender." in seen(response)


@pytest.mark.parametrize(("path", "after_a_change"), [
    (f"{MOVE}?day=2025-04-03", "Die Änderung kann trotzdem ausgeführt worden sein"),
    ("/staff/absences", "Die Änderung kann trotzdem ausgeführt worden sein"),
    ("/staff/hours", "Der Kalender antwortet gerade nicht. Es wurde nichts geändert."),  # asked before the change
])
def test_when_the_calendar_does_not_answer_the_calendar_pages_say_so(browser: TestClient, desk: StaffDesk,
                                                                     path: str, after_a_change: str) -> None:
    csrf = sign_in(browser)
    desk.calendars.down = True
    page = browser.get(path)
    assert page.status_code == 503 and "Der Kalender antwortet gerade nicht." in seen(page)
    change = browser.post(path.split("?")[0], data={"csrf": csrf, "slot_id": THURSDAY_NINE,
                                                    "first_day": "2025-04-02", "do": "save"})
    assert change.status_code == 503 and after_a_change in seen(change)


def test_the_calendar_pages_speak_english(browser: TestClient) -> None:
    sign_in(browser)
    for path, heading in ((f"{MOVE}?lang=en", "Move appointment"), ("/staff/absences?lang=en", "Absences"),
                          ("/staff/hours?lang=en", "Weekly hours"),
                          ("/staff/feed?lang=en", "Calendar feed")):
        page = browser.get(path)
        assert '<html lang="en">' in page.text and f"<h1>{heading}</h1>" in page.text
        assert csrf_of(page.text)
