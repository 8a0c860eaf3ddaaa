"""The client moves their appointment (issue "Lotse 6/7"): the scheduler holds the new time before it gives up the
old one, in one transaction, or keeps the old one and says why; the gateway's manage API shows the new time or the
refusal; a redelivered request is acted on once.

The scheduler over its own database (embedded SQLite, a set clock, the real handlers), then the whole system
(embedded default) through the public API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import icalendar
import pytest
from gateway import handlers as gateway_handlers
from gateway import migrations as gateway_migrations
from gateway.moves import MoveState
from gateway.repository import GatewayRepository
from gateway.tables import BookingRequest
from scheduler.app import Scheduler
from scheduler.domain.availability import make_slot_id
from scheduler.tables import Appointment, AvailabilityRule
from sqlmodel import Session, select

from shared.contracts import (
    BookingCancellationRequested,
    BookingMoveRefused,
    BookingMoveRequested,
    BookingRequested,
    BookingRescheduled,
    Envelope,
    Mode,
    Payload,
    PublicLocation,
    Slot,
    SlotsOffered,
    SlotsRequested,
    wrap,
)
from shared.db import make_engine
from tests.support.demo_scheduler import BERLIN, Clock, announced, berlin, demo_scheduler, send
from tests.support.system import System, poll, running_system_in_own_dir, wait_for_status

ANNA, ROSTOCK, PHONE_LINE, CAREER = 1, 1, 6, 1
MONDAY = date(2026, 6, 8)  # Anna is in Rostock on Mondays 09:00-16:00 (demo data)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def scheduler(tmp_path: Path, clock: Clock) -> Iterator[Scheduler]:
    with demo_scheduler(tmp_path, clock) as built:
        yield built


def book(scheduler: Scheduler, slot_id: str) -> UUID:
    booking_id = uuid4()
    send(scheduler, BookingRequested(booking_id=booking_id, slot_id=slot_id, language="de", channel="web"))
    return booking_id


def appointment(scheduler: Scheduler, booking_id: UUID) -> Appointment:
    with Session(scheduler.engine) as session:
        row = session.exec(select(Appointment).where(Appointment.booking_id == str(booking_id))).one()
        session.expunge(row)
        return row


def move(scheduler: Scheduler, booking_id: UUID, slot_id: str) -> UUID:
    move_id = uuid4()
    send(scheduler, BookingMoveRequested(booking_id=booking_id, move_id=move_id, slot_id=slot_id))
    return move_id


ELEVEN = make_slot_id(ANNA, ROSTOCK, CAREER, berlin(MONDAY, 11))
TWO = make_slot_id(ANNA, ROSTOCK, CAREER, berlin(MONDAY, 14))


# --- the scheduler decides ---------------------------------------------------------------------------------------


def test_a_client_move_holds_the_new_time_and_frees_the_old_one_in_one_step(scheduler: Scheduler) -> None:
    booking_id = book(scheduler, ELEVEN)
    half_past = make_slot_id(ANNA, ROSTOCK, CAREER, berlin(MONDAY, 11, 30))  # overlaps its own old time

    move_id = move(scheduler, booking_id, half_past)

    [moved] = announced(scheduler, "booking.rescheduled")
    assert (moved["by"], moved["move_id"], moved["previous"]["slot_id"], moved["slot"]["slot_id"]) == (
        "client", str(move_id), ELEVEN, half_past)
    assert moved["meeting"]["mode"] == "office" and moved["meeting"]["address"]
    row = appointment(scheduler, booking_id)
    assert (row.starts_at, row.status) == (berlin(MONDAY, 11, 30), "confirmed")
    assert announced(scheduler, "booking.move_refused") == []
    # 10:30 (blocked until 11:30 with its buffer) would have met the old time: it is free now.
    other = book(scheduler, make_slot_id(ANNA, ROSTOCK, CAREER, berlin(MONDAY, 10, 30)))
    assert appointment(scheduler, other).status == "confirmed"


def test_a_move_to_a_taken_slot_keeps_the_old_time_and_says_why(scheduler: Scheduler) -> None:
    booking_id = book(scheduler, ELEVEN)
    book(scheduler, TWO)

    move_id = move(scheduler, booking_id, TWO)

    [refused] = announced(scheduler, "booking.move_refused")
    assert (refused["move_id"], refused["reason"]) == (str(move_id), "slot_taken")
    assert 1 <= len(refused["alternatives"]) <= 3
    assert appointment(scheduler, booking_id).starts_at == berlin(MONDAY, 11)
    assert announced(scheduler, "booking.rescheduled") == []


def test_a_refused_move_never_offers_the_bookings_own_time_as_another(scheduler: Scheduler) -> None:
    """The booking's own time is free for it (a move by half an hour is fine), so the nearest free times of a
    refusal could name it: offered as "another time", it would move the client to where they already are."""
    booking_id = book(scheduler, ELEVEN)
    book(scheduler, make_slot_id(ANNA, ROSTOCK, CAREER, berlin(MONDAY, 12)))

    move(scheduler, booking_id, make_slot_id(ANNA, ROSTOCK, CAREER, berlin(MONDAY, 12)))

    [refused] = announced(scheduler, "booking.move_refused")
    assert refused["reason"] == "slot_taken" and refused["alternatives"]
    own = (berlin(MONDAY, 11), ROSTOCK)
    assert all((datetime.fromisoformat(a["start"]), a["location"]["location_id"]) != own
               for a in refused["alternatives"]), refused["alternatives"]


def test_a_move_to_a_past_or_unknown_slot_is_refused_with_its_reason(scheduler: Scheduler) -> None:
    booking_id = book(scheduler, ELEVEN)
    move(scheduler, booking_id, make_slot_id(ANNA, ROSTOCK, CAREER, berlin(date(2026, 6, 1), 11)))
    move(scheduler, booking_id, make_slot_id(ANNA, ROSTOCK, CAREER, berlin(MONDAY, 20)))
    assert [r["reason"] for r in announced(scheduler, "booking.move_refused")] == ["slot_in_past", "unknown_slot"]
    assert appointment(scheduler, booking_id).starts_at == berlin(MONDAY, 11)


def test_a_cancelled_booking_cannot_be_moved(scheduler: Scheduler) -> None:
    booking_id = book(scheduler, ELEVEN)
    send(scheduler, BookingCancellationRequested(booking_id=booking_id, by="client"))

    move(scheduler, booking_id, TWO)

    [refused] = announced(scheduler, "booking.move_refused")
    assert refused["reason"] == "not_confirmed"
    assert appointment(scheduler, booking_id).status == "cancelled"
    assert announced(scheduler, "booking.rescheduled") == []


def test_a_move_onto_the_day_clocks_go_back_keeps_wall_time_and_offset(scheduler: Scheduler, clock: Clock) -> None:
    clock.now = datetime(2026, 10, 20, 8, tzinfo=UTC)
    with Session(scheduler.engine) as session:
        session.add(AvailabilityRule(counsellor_id=ANNA, location_id=PHONE_LINE, weekday=6, starts=time(0, 0),
                                     ends=time(5, 0)))
        session.commit()
    before = make_slot_id(ANNA, PHONE_LINE, CAREER, berlin(date(2026, 10, 25), 0, 0))
    after = make_slot_id(ANNA, PHONE_LINE, CAREER, berlin(date(2026, 10, 25), 4, 0))
    booking_id = book(scheduler, before)

    move(scheduler, booking_id, after)

    [moved] = announced(scheduler, "booking.rescheduled")
    assert moved["previous"]["start"].endswith("+02:00") and moved["previous"]["start"][11:16] == "00:00"
    assert moved["slot"]["start"] == "2026-10-25T04:00:00+01:00"
    assert appointment(scheduler, booking_id).starts_at == datetime(2026, 10, 25, 3, 0, tzinfo=UTC)


def search_for_booking(scheduler: Scheduler, booking_id: UUID, day: date) -> SlotsOffered:
    answers: list[Envelope] = []
    scheduler.deps.reply = lambda to, envelope, ttl: answers.append(envelope)
    send(scheduler, SlotsRequested(date_from=day, date_to=day, for_booking=booking_id,
                                   reply_to="gateway.replies.0123456789ab"))
    [answer] = answers
    return answer.payload_as(SlotsOffered)


def test_the_times_to_move_to_are_the_bookings_own_topic_without_its_own_time(scheduler: Scheduler) -> None:
    booking_id = book(scheduler, ELEVEN)  # career, 50 minutes

    offered = search_for_booking(scheduler, booking_id, MONDAY).slots

    ids = {s.slot_id for s in offered}
    assert ELEVEN not in ids
    assert make_slot_id(ANNA, ROSTOCK, CAREER, berlin(MONDAY, 11, 30)) in ids  # its own time does not block it
    assert {s.end - s.start for s in offered} == {timedelta(minutes=50)}
    cancelled = book(scheduler, TWO)
    send(scheduler, BookingCancellationRequested(booking_id=cancelled, by="client"))
    refused = search_for_booking(scheduler, cancelled, MONDAY)
    assert (refused.slots, refused.error and refused.error.code) == ([], "not_movable")


def test_a_redelivered_move_request_is_acted_on_once(scheduler: Scheduler) -> None:
    booking_id = book(scheduler, ELEVEN)
    wire = send(scheduler, BookingMoveRequested(booking_id=booking_id, move_id=uuid4(), slot_id=TWO))

    scheduler.consumer.handle(wire)  # the broker hands the same message over again

    assert len(announced(scheduler, "booking.rescheduled")) == 1
    assert announced(scheduler, "booking.move_refused") == []
    assert appointment(scheduler, booking_id).starts_at == berlin(MONDAY, 14)


# --- the gateway follows the answer ------------------------------------------------------------------------------


def a_slot(start: datetime) -> Slot:
    return Slot(slot_id=make_slot_id(ANNA, ROSTOCK, CAREER, start), start=start, end=start + timedelta(minutes=50),
                location=PublicLocation(location_id=ROSTOCK, town="Rostock", kind=Mode.office, alias="Rostock 1"),
                mode=Mode.office, counsellor="Anna")


def test_the_gateway_follows_only_the_answer_to_the_clients_latest_move(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'gateway.sqlite'}")
    gateway_migrations.upgrade(engine)
    booking_id, older, latest = uuid4(), uuid4(), uuid4()
    old, new = a_slot(berlin(MONDAY, 11)), a_slot(berlin(MONDAY, 14))
    with Session(engine) as session:
        session.add(BookingRequest(booking_id=str(booking_id), manage_token_hash="c" * 64, request_fingerprint="d" * 64,
                                   status="confirmed", slot_json=old.model_dump_json(), language="de", channel="web",
                                   move_json=MoveState(move_id=latest, slot_id=new.slot_id,
                                                       status="pending").model_dump_json()))
        session.commit()

    def deliver(payload: Payload) -> None:
        with Session(engine) as session:
            handle = {"booking.move_refused": gateway_handlers.apply_move_refused,
                      "booking.rescheduled": gateway_handlers.apply_rescheduled}[payload.message_type]
            handle(wrap(payload, booking_id), GatewayRepository(session), lambda: berlin(MONDAY, 8))
            session.commit()

    def state() -> tuple[str | None, str]:
        with Session(engine) as session:
            row = session.get(BookingRequest, str(booking_id))
            assert row is not None and row.slot_json is not None
            move = MoveState.of(row.move_json)
            return (move.status if move else None), Slot.model_validate_json(row.slot_json).slot_id

    deliver(BookingMoveRefused(booking_id=booking_id, move_id=older, reason="slot_taken"))  # an earlier move's
    assert state() == ("pending", old.slot_id)
    moved = BookingRescheduled(booking_id=booking_id, previous=old, slot=new, language="de", by="client",
                               move_id=latest)
    deliver(moved)
    deliver(moved)  # the same answer again
    assert state() == ("moved", new.slot_id)
    deliver(BookingMoveRefused(booking_id=booking_id, move_id=latest, reason="slot_taken"))  # too late to count
    assert state() == ("moved", new.slot_id)


# --- the whole system: the manage API ----------------------------------------------------------------------------

PHONE = "+4915112345678"


@pytest.fixture(scope="module")
def system() -> Iterator[System]:
    # No quiet hours: the "moved" notice goes out whatever the hour the test runs at.
    with running_system_in_own_dir("lotse-booking-move-", {"SLOTS_TIMEOUT_SECONDS": "10", "QUIET_HOURS_START": "00:00",
                                                           "QUIET_HOURS_END": "00:00"}) as running:
        yield running


@pytest.fixture(scope="module")
def public(system: System) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=system.url, timeout=30) as client:
        yield client


def career_slots(public: httpx.Client) -> list[dict[str, Any]]:
    today = datetime.now(BERLIN).date()
    response = public.get("/v1/slots", params={"language": "de", "topic": "career", "counsellor": "Anna",
                                               "from": str(today + timedelta(days=2)),
                                               "to": str(today + timedelta(days=40))})
    assert response.status_code == 200, response.text
    return list(response.json()["slots"])


def book_confirmed(public: httpx.Client, slot: dict[str, Any]) -> str:
    response = public.post("/v1/bookings", json={"slot_id": slot["slot_id"], "phone": PHONE, "language": "de",
                                                 "topic": "career"})
    assert response.status_code == 202, response.text
    token = str(response.json()["manage_token"])
    assert wait_for_status(public, token, "confirmed")["slot"]["slot_id"] == slot["slot_id"]
    return token


def move_status(public: httpx.Client, token: str, status: str) -> dict[str, Any]:
    return dict(poll(lambda: (b := public.get(f"/v1/bookings/{token}").json())["move"]["status"] == status and b))


def test_the_manage_api_moves_a_booking_and_shows_the_new_time(system: System, public: httpx.Client) -> None:
    slots = career_slots(public)
    token = book_confirmed(public, slots[0])
    today = datetime.now(BERLIN).date()
    movable = public.get(f"/v1/bookings/{token}/slots", params={"from": str(today + timedelta(days=2)),
                                                                 "to": str(today + timedelta(days=40))})
    assert movable.status_code == 200, movable.text
    assert slots[0]["slot_id"] not in {s["slot_id"] for s in movable.json()["slots"]}
    target = next(s for s in movable.json()["slots"] if s["start"][:10] != slots[0]["start"][:10])

    response = public.post(f"/v1/bookings/{token}/move", json={"slot_id": target["slot_id"]})

    assert response.status_code == 202, response.text
    assert response.json()["move"]["status"] == "pending"
    assert response.headers["Cache-Control"] == "no-store"
    moved = move_status(public, token, "moved")
    assert (moved["status"], moved["slot"]["slot_id"], moved["slot"]["start"]) == (
        "confirmed", target["slot_id"], target["start"])
    calendar = icalendar.Calendar.from_ical(public.get(f"/v1/bookings/{token}/appointment.ics").content)
    [event] = calendar.walk("VEVENT")
    assert event.decoded("dtstart").isoformat() == target["start"]
    # The notifier texts one neutral notice of the new time (as for a staff move): time, alias, link, nothing more.
    [notice] = poll(lambda: [m for m in system.sink() if token in m["body"] and "verschoben" in m["body"]])
    assert target["location"]["alias"] in notice["body"]
    assert not any(word in notice["body"].lower()
                   for word in ("career", "beratung", "straße", "klingel", "meet.example"))


def test_the_manage_api_keeps_the_old_time_when_the_new_one_is_taken(public: httpx.Client) -> None:
    slots = career_slots(public)
    first = book_confirmed(public, slots[1])
    second = book_confirmed(public, slots[5])

    response = public.post(f"/v1/bookings/{second}/move", json={"slot_id": slots[1]["slot_id"]})

    assert response.status_code == 202, response.text
    refused = move_status(public, second, "refused")
    assert (refused["status"], refused["slot"]["slot_id"], refused["move"]["reason"]) == (
        "confirmed", slots[5]["slot_id"], "slot_taken")
    assert "keeps its time" in refused["move"]["message"]
    assert public.get(f"/v1/bookings/{first}").json()["slot"]["slot_id"] == slots[1]["slot_id"]


def test_the_manage_api_refuses_to_move_a_cancelled_booking(public: httpx.Client) -> None:
    slots = career_slots(public)
    token = book_confirmed(public, slots[8])
    assert public.post(f"/v1/bookings/{token}/cancel").status_code == 202

    response = public.post(f"/v1/bookings/{token}/move", json={"slot_id": slots[9]["slot_id"]})

    assert response.status_code == 409, response.text
    assert response.json()["code"] == "not_movable"
    assert public.get(f"/v1/bookings/{token}/slots").status_code == 409
    assert public.post("/v1/bookings/nosuchtoken0123456789/move",
                       json={"slot_id": slots[9]["slot_id"]}).status_code == 404
    assert public.post(f"/v1/bookings/{token}/move", json={"slot_id": "nonsense"}).status_code == 422
