"""Where and how to meet, the neutral topic and the conversation choice (issue "Lotse 6/7").

* How to meet, per mode, only for a confirmed booking and only on the manage page / API (never in an SMS): office —
  the address and how to get in as an admin wrote it; outreach — how the place is agreed; phone — the counsellor
  calls at the slot's time; video — a link from VIDEO_BASE_URL and a random room made per appointment, kept when it
  moves. The client's own `.ics` holds only the time and the place's alias.
* A topic left open books the neutral general type (its length and reminders an admin's), never another topic.
* The conversation: a counsellor who speaks the client's language, or any counsellor with a language mediator (a
  Thai speaker can book); staff see which.

The scheduler over its own database (embedded SQLite, a set clock), then the whole system through the public API."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import icalendar
import pytest
from scheduler.app import Scheduler
from scheduler.domain.availability import make_slot_id, parse_slot_id
from scheduler.tables import Appointment
from sqlmodel import Session, select

from shared.contracts import (
    BookingMoveRequested,
    BookingRequested,
    Envelope,
    SlotsOffered,
    SlotsRequested,
    StaffAnswered,
    StaffRequested,
    Topic,
)
from shared.contracts.staff import (
    Actor,
    BookingsAction,
    BookingsAnswer,
    UpdateLocationAction,
    UpdateTypeAction,
)
from tests.support.demo_scheduler import BERLIN, Clock, announced, berlin, demo_scheduler, send
from tests.support.staff import create_staff, sign_in_staff
from tests.support.system import System, poll, running_system_in_own_dir, wait_for_status

ANNA, CSILLA = 1, 3
ROSTOCK, STRALSUND, PHONE_LINE, VIDEO = 1, 5, 6, 7
CAREER, HEALTH, GENERAL = 1, 2, 5
MONDAY, WEDNESDAY = date(2026, 6, 8), date(2026, 6, 10)  # Anna in Rostock on Mondays, Csilla on video Wednesdays
VIDEO_BASE = "https://video.example.org/raum"


@pytest.fixture
def scheduler(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Scheduler]:
    monkeypatch.setenv("VIDEO_BASE_URL", VIDEO_BASE)
    with demo_scheduler(tmp_path, Clock()) as built:
        yield built


def book(scheduler: Scheduler, slot_id: str, language: str = "de", topic: Topic | None = None,
         conversation: str = "own_language") -> UUID:
    booking_id = uuid4()
    send(scheduler, BookingRequested(booking_id=booking_id, slot_id=slot_id, language=language, channel="web",
                                     topic=topic, conversation=conversation))
    return booking_id


def confirmed(scheduler: Scheduler, booking_id: UUID) -> dict[str, Any]:
    [found] = [p for p in announced(scheduler, "booking.confirmed") if p["booking_id"] == str(booking_id)]
    return found


def search(scheduler: Scheduler, first: date, **criteria: Any) -> SlotsOffered:
    answers: list[Envelope] = []
    scheduler.deps.reply = lambda to, envelope, ttl: answers.append(envelope)
    send(scheduler, SlotsRequested(date_from=first, date_to=first, reply_to="gateway.replies.0123456789ab",
                                   **criteria))
    [answer] = answers
    return answer.payload_as(SlotsOffered)


def ask_as_admin(scheduler: Scheduler, action: Any) -> StaffAnswered:
    answers: list[Envelope] = []
    scheduler.deps.reply = lambda to, envelope, ttl: answers.append(envelope)
    send(scheduler, StaffRequested(request_id=uuid4(), actor=Actor(staff_id=1, role="admin"), action=action,
                                   reply_to="gateway.replies.0123456789ab"))
    [answer] = answers
    return answer.payload_as(StaffAnswered)


def appointment(scheduler: Scheduler, booking_id: UUID) -> Appointment:
    with Session(scheduler.engine) as session:
        row = session.exec(select(Appointment).where(Appointment.booking_id == str(booking_id))).one()
        session.expunge(row)
        return row


# --- how to meet -----------------------------------------------------------------------------------------------------


def test_an_office_booking_carries_the_address_and_the_way_in_an_admin_wrote(scheduler: Scheduler) -> None:
    answer = ask_as_admin(scheduler, UpdateLocationAction(location_id=ROSTOCK, address="Hafenstraße 12, 18055 Rostock",
                                                          directions="Hintereingang, Klingel 3"))
    assert answer.refusal is None, answer
    booking_id = book(scheduler, make_slot_id(ANNA, ROSTOCK, CAREER, berlin(MONDAY, 11)))

    assert confirmed(scheduler, booking_id)["meeting"] == {
        "mode": "office", "address": "Hafenstraße 12, 18055 Rostock", "directions": "Hintereingang, Klingel 3",
        "video_url": None}


def test_phone_and_outreach_bookings_say_how_without_a_link(scheduler: Scheduler) -> None:
    friday = date(2026, 6, 12)  # Anna on the phone on Fridays 10-14
    on_phone = book(scheduler, make_slot_id(ANNA, PHONE_LINE, CAREER, berlin(friday, 10)))
    thursday = date(2026, 6, 11)  # Bogdan in Stralsund (outreach) on Thursdays 12-18
    outreach = book(scheduler, make_slot_id(2, STRALSUND, CAREER, berlin(thursday, 12)))

    assert confirmed(scheduler, on_phone)["meeting"] == {"mode": "phone", "address": None, "directions": None,
                                                         "video_url": None}
    meeting = confirmed(scheduler, outreach)["meeting"]
    assert meeting["mode"] == "outreach" and "Treffpunkt" in meeting["directions"] and meeting["video_url"] is None


def test_a_video_link_is_random_per_appointment_and_stays_when_it_moves(scheduler: Scheduler) -> None:
    first = book(scheduler, make_slot_id(CSILLA, VIDEO, HEALTH, berlin(WEDNESDAY, 14)), topic=Topic.health)
    second = book(scheduler, make_slot_id(CSILLA, VIDEO, HEALTH, berlin(WEDNESDAY, 16)), topic=Topic.health)
    links = [confirmed(scheduler, b)["meeting"]["video_url"] for b in (first, second)]

    assert all(re.fullmatch(re.escape(VIDEO_BASE) + r"/[A-Za-z0-9_-]{22}", link) for link in links), links
    assert links[0] != links[1]
    assert not any(word in link.lower() for link in links for word in ("health", "csilla", "video/", "gesund"))

    send(scheduler, BookingMoveRequested(booking_id=first, move_id=uuid4(),
                                         slot_id=make_slot_id(CSILLA, VIDEO, HEALTH, berlin(WEDNESDAY, 18))))
    [moved] = announced(scheduler, "booking.rescheduled")
    assert moved["meeting"]["video_url"] == links[0]
    assert appointment(scheduler, first).video_room == links[0].rsplit("/", 1)[1]


# --- the neutral topic ---------------------------------------------------------------------------------------------


def test_a_topic_left_open_is_offered_and_booked_as_the_general_type_only(scheduler: Scheduler) -> None:
    offered = search(scheduler, MONDAY, language="de", location_id=ROSTOCK).slots
    assert offered and {parse_slot_id(s.slot_id).type_id for s in offered} == {GENERAL}
    assert all(s.end - s.start == timedelta(minutes=45) for s in offered)

    booking_id = book(scheduler, offered[0].slot_id)

    assert appointment(scheduler, booking_id).topic == "general"
    assert tuple(confirmed(scheduler, booking_id)["reminder_offsets_minutes"]) == (1440, 120)


def test_an_admin_sets_the_general_types_length_and_reminders(scheduler: Scheduler) -> None:
    answer = ask_as_admin(scheduler, UpdateTypeAction(type_id=GENERAL, duration_minutes=30,
                                                      reminder_offsets_minutes=[180]))
    assert answer.refusal is None, answer
    offered = search(scheduler, MONDAY, language="de", location_id=ROSTOCK).slots
    assert all(s.end - s.start == timedelta(minutes=30) for s in offered)
    booking_id = book(scheduler, offered[0].slot_id)
    assert confirmed(scheduler, booking_id)["reminder_offsets_minutes"] == [180]


# --- the conversation ----------------------------------------------------------------------------------------------


def test_a_thai_speaker_books_with_a_language_mediator_and_staff_see_it(scheduler: Scheduler) -> None:
    assert search(scheduler, MONDAY, language="th", topic=Topic.career).slots == []
    eleven = make_slot_id(ANNA, ROSTOCK, CAREER, berlin(MONDAY, 11))
    refused = book(scheduler, eleven, language="th", topic=Topic.career)
    assert [r["reason"] for r in announced(scheduler, "booking.rejected")
            if r["booking_id"] == str(refused)] == ["language_not_offered"]

    booking_id = book(scheduler, eleven, language="th", topic=Topic.career, conversation="mediator")

    assert confirmed(scheduler, booking_id)["conversation"] == "mediator"
    answer = ask_as_admin(scheduler, BookingsAction(counsellor_id=ANNA, date_from=MONDAY, date_to=MONDAY))
    bookings = BookingsAnswer.model_validate(answer.model_dump()["answer"]).data.bookings
    [seen] = [b for b in bookings if b.booking_id == booking_id]
    assert (seen.conversation, seen.language) == ("mediator", "th")


# --- the whole system: the manage API --------------------------------------------------------------------------------

PHONE = "+4915112345678"


@pytest.fixture(scope="module")
def system() -> Iterator[System]:
    with running_system_in_own_dir("lotse-meeting-info-", {"SLOTS_TIMEOUT_SECONDS": "10",
                                                           "VIDEO_BASE_URL": VIDEO_BASE}) as running:
        create_staff(running, "create-admin", "--username", "admin")
        yield running


@pytest.fixture(scope="module")
def public(system: System) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=system.url, timeout=30) as client:
        yield client


def first_slot(public: httpx.Client, **params: str) -> dict[str, Any]:
    today = datetime.now(BERLIN).date()
    response = public.get("/v1/slots", params={"from": str(today + timedelta(days=2)),
                                               "to": str(today + timedelta(days=30)), **params})
    assert response.status_code == 200, response.text
    return dict(response.json()["slots"][0])


def book_via_api(public: httpx.Client, slot: dict[str, Any], **fields: str) -> str:
    response = public.post("/v1/bookings", json={"slot_id": slot["slot_id"], "phone": PHONE, **fields})
    assert response.status_code == 202, response.text
    token = str(response.json()["manage_token"])
    assert response.json()["status"] == "pending"
    return token


def test_the_manage_api_shows_how_to_meet_only_once_confirmed(public: httpx.Client) -> None:
    slot = first_slot(public, language="de", topic="health", mode="video")
    token = book_via_api(public, slot, language="de", topic="health")
    pending = public.get(f"/v1/bookings/{token}").json()
    assert pending["status"] != "pending" or pending["meeting"] is None

    booked = wait_for_status(public, token, "confirmed")

    assert booked["meeting"]["mode"] == "video" and booked["meeting"]["video_url"].startswith(VIDEO_BASE + "/")
    assert public.post(f"/v1/bookings/{token}/cancel").status_code == 202
    assert public.get(f"/v1/bookings/{token}").json()["meeting"] is None
    refused = public.get(f"/v1/bookings/{token}/appointment.ics")
    assert (refused.status_code, refused.json()["code"]) == (409, "not_confirmed")


def test_a_phone_appointment_says_when_we_call(public: httpx.Client) -> None:
    slot = first_slot(public, language="de", topic="career", mode="phone")
    token = book_via_api(public, slot, language="de", topic="career")
    meeting = wait_for_status(public, token, "confirmed")["meeting"]
    assert (meeting["mode"], meeting["starts_at"]) == ("phone", slot["start"])


def test_the_ics_holds_only_time_and_alias(public: httpx.Client) -> None:
    slot = first_slot(public, language="en", topic="career", mode="office")
    token = book_via_api(public, slot, language="en", topic="career")
    wait_for_status(public, token, "confirmed")

    response = public.get(f"/v1/bookings/{token}/appointment.ics")

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/calendar")
    assert response.headers["cache-control"] == "no-store"
    [event] = icalendar.Calendar.from_ical(response.content).walk("VEVENT")
    assert event.decoded("dtstart").isoformat() == slot["start"]
    assert (str(event["summary"]), str(event["location"])) == ("Appointment", slot["location"]["alias"])
    text = response.text.lower()
    for word in ("career", "beratung", "lotse", "straße", "klingel", "anna", "http"):
        assert word not in text, word
    assert public.get("/v1/bookings/nosuchtoken0123456789/appointment.ics").status_code == 404


def test_a_thai_speaker_books_through_the_api_with_a_mediator(public: httpx.Client) -> None:
    today = datetime.now(BERLIN).date()
    window = {"from": str(today + timedelta(days=2)), "to": str(today + timedelta(days=30))}
    assert public.get("/v1/slots", params={"language": "th", **window}).json()["slots"] == []
    slot = first_slot(public, language="th", conversation="mediator")

    token = book_via_api(public, slot, language="th", conversation="mediator")

    booked = wait_for_status(public, token, "confirmed")
    assert booked["conversation"] == "mediator"


def test_an_admin_writes_the_way_in_and_new_bookings_show_it(system: System, public: httpx.Client) -> None:
    with httpx.Client(base_url=system.url, timeout=30) as admin:
        sign_in_staff(admin, "admin")
        refused = admin.patch(f"/v1/staff/locations/{ROSTOCK}", json={"directions": "Ruf +49 151 2345678 an"})
        assert refused.status_code == 422, refused.text
        changed = admin.patch(f"/v1/staff/locations/{ROSTOCK}", json={"directions": "Hof, Klingel 2"})
        assert changed.status_code == 200, changed.text
        assert changed.json()["directions"] == "Hof, Klingel 2"
    slot = first_slot(public, language="de", topic="career", location=str(ROSTOCK))
    token = book_via_api(public, slot, language="de", topic="career")
    assert wait_for_status(public, token, "confirmed")["meeting"]["directions"] == "Hof, Klingel 2"


# --- the manage page -------------------------------------------------------------------------------------------------


def test_the_manage_page_says_how_to_meet_and_offers_the_calendar_file(public: httpx.Client) -> None:
    slot = first_slot(public, language="en", topic="health", mode="video")
    token = book_via_api(public, slot, language="en", topic="health")
    link = wait_for_status(public, token, "confirmed")["meeting"]["video_url"]

    page = public.get(f"/m/{token}")

    assert page.status_code == 200
    assert "How we meet" in page.text and f'href="{link}"' in page.text
    assert f'href="/v1/bookings/{token}/appointment.ics"' in page.text
    assert f'href="/m/{token}/move?lang=en"' in page.text
    assert "<script>" not in page.text and "Content-Security-Policy" in page.headers


def test_the_manage_page_moves_the_appointment_with_plain_forms(public: httpx.Client) -> None:
    slot = first_slot(public, language="de", topic="career", mode="office")
    token = book_via_api(public, slot, language="de", topic="career")
    wait_for_status(public, token, "confirmed")

    days = public.get(f"/m/{token}/move", params={"lang": "en"})
    assert days.status_code == 200 and "Choose a new time" in days.text
    day = re.findall(r'name="day" value="(\d{4}-\d{2}-\d{2})"', days.text)[-1]
    times = public.post(f"/m/{token}/move", data={"lang": "en", "week": "0", "day": day})
    assert times.status_code == 200 and "Move my appointment to this time" in times.text
    choices = re.findall(r'name="slot_id" value="([^"]+)"', times.text)
    assert 1 <= len(choices) <= 20 and slot["slot_id"] not in choices

    moved = public.post(f"/m/{token}/move", data={"lang": "en", "week": "0", "day": day, "slot_id": choices[0]},
                        follow_redirects=False)

    assert moved.status_code == 303, moved.text
    assert moved.headers["location"] == f"/m/{token}?lang=en"
    after = public.get(f"/v1/bookings/{token}").json()
    if after["move"]["status"] == "pending":  # the page waited its few seconds; the answer follows
        after = poll(lambda: (b := public.get(f"/v1/bookings/{token}").json())["move"]["status"] != "pending" and b)
    assert (after["move"]["status"], after["slot"]["slot_id"]) == ("moved", choices[0])
    assert "Your appointment was moved." in public.get(f"/m/{token}", params={"lang": "en"}).text
