"""The staff pages in process: the real StaffAccounts on a throw-away SQLite database (argon2 with small parameters,
so sign-ins are fast; a clock tests move; the admin has two-factor sign-in, its secret kept here) and a fake of our
StaffClient and SlotClient ports, which answer from a list of appointments, absences, weekly hours and free times
and decide changes the way the scheduler does (attended / no-show once begun, cancel before, a move to a free time
of a calendar the person may change, an absence keeping and listing the appointments it covers). For
tests/unit/test_staff_pages.py, test_staff_calendar_pages.py and the staff browser test, which serves the same app
with uvicorn."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TypeVar
from uuid import UUID
from zoneinfo import ZoneInfo

import pyotp
from argon2 import PasswordHasher
from fastapi import FastAPI
from gateway import migrations
from gateway.api import errors
from gateway.errors import SchedulerUnavailable
from gateway.feeds import FeedTokens
from gateway.settings import GatewaySettings
from gateway.staff.accounts import Staff, StaffAccounts
from gateway.staff_client import CalendarRefused
from gateway.web import pages
from pydantic import BaseModel
from sqlalchemy import Engine

from shared.contracts import Mode, PublicLocation, Slot
from shared.contracts.staff import (
    AddExceptionAction,
    AppointmentTypeAnswer,
    AppointmentTypeData,
    BookingAction,
    BookingAnswer,
    BookingChangeAnswer,
    BookingChangeData,
    BookingData,
    CancelAction,
    CreateTypeAction,
    ExceptionAnswer,
    ExceptionData,
    MoveAction,
    OutcomeAction,
    RefusalKind,
    RemoveExceptionAction,
    RuleIn,
    RuleOut,
    RulesAction,
    RulesAnswer,
    RulesData,
    SetRulesAction,
    StaffAction,
    StaffBooking,
    StaffException,
    StaffLocation,
    StaffWindow,
    TypesAction,
    TypesAnswer,
    TypesData,
    UpdateTypeAction,
    WeekAction,
    WeekAnswer,
    WeekData,
)
from shared.crypto import DataCipher, generate_data_key
from shared.db import make_engine

# Monday 31 March 2025, 10:30 in Berlin: the first Monday of summer time (the clocks went forward on Sunday).
NOW = datetime(2025, 3, 31, 8, 30, tzinfo=UTC)
PASSWORD = "correct horse battery staple"
CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
ANNA, BOGDAN = 1, 2
ROSTOCK = StaffLocation(location_id=1, alias="Rostock 1", kind="office")
PHONE_LINE = StaffLocation(location_id=6, alias="Telefon", kind="phone")

Answer = TypeVar("Answer", bound=BaseModel)


def appointment(number: int, start: datetime, location: StaffLocation = ROSTOCK, language: str = "de",
                conversation: str = "own_language", counsellor: int = ANNA) -> tuple[int, StaffBooking]:
    """A confirmed hour-long appointment in `counsellor`'s calendar, its booking id made from `number`."""
    booking = StaffBooking(booking_id=UUID(int=number), status="confirmed", start=start,
                           end=start + timedelta(hours=1), location=location, topic="career", duration_minutes=60,
                           language=language, channel="web", needs_attention=False,
                           conversation=conversation)  # type: ignore[arg-type]
    return counsellor, booking


def standard_calendar() -> list[tuple[int, StaffBooking]]:
    return [
        appointment(1, datetime(2025, 3, 31, 8, 0, tzinfo=UTC)),  # today 10:00, begun
        appointment(2, datetime(2025, 3, 31, 12, 0, tzinfo=UTC), PHONE_LINE, "th", "mediator"),  # today 14:00
        appointment(3, datetime(2025, 4, 2, 7, 0, tzinfo=UTC)),  # Wednesday 09:00
        appointment(4, datetime(2025, 3, 29, 9, 0, tzinfo=UTC)),  # Saturday before the change: 10:00 CET
        appointment(5, datetime(2025, 3, 30, 9, 0, tzinfo=UTC)),  # the Sunday of the change: 11:00 CEST
        appointment(9, datetime(2025, 3, 31, 9, 0, tzinfo=UTC), counsellor=BOGDAN),  # someone else's
    ]


ALIASES = {ANNA: "Anna", BOGDAN: "Bogdan"}
PLACES = {ROSTOCK.location_id: ROSTOCK, PHONE_LINE.location_id: PHONE_LINE}
BERLIN = ZoneInfo("Europe/Berlin")


def standard_rules() -> dict[int, list[RuleIn]]:
    """Anna's weekly hours: Monday and Wednesday 09:00-16:00 at Rostock 1, Friday 10:00-14:00 by phone."""
    return {ANNA: [RuleIn(location_id=1, weekday=0, start="09:00", end="16:00"),
                   RuleIn(location_id=1, weekday=2, start="09:00", end="16:00"),
                   RuleIn(location_id=6, weekday=4, start="10:00", end="14:00")]}


def windows(rules: list[RuleIn], monday: date) -> list[StaffWindow]:
    made = []
    for day in (monday + timedelta(days=n) for n in range(7)):
        for rule in rules:
            if rule.weekday == day.weekday():
                start, end = (datetime.combine(day, time.fromisoformat(t), BERLIN) for t in (rule.start, rule.end))
                made.append(StaffWindow(day=day, start=start, end=end, location=PLACES[rule.location_id],
                                        source="rule"))
    return made


def free_time(counsellor: int, start: datetime, location: StaffLocation = ROSTOCK) -> Slot:
    """A free hour in `counsellor`'s calendar, with a slot id as the scheduler makes them."""
    place = PublicLocation(location_id=location.location_id, town=location.alias, kind=Mode(location.kind),
                           alias=location.alias)
    return Slot(slot_id=f"s2-{counsellor}-{location.location_id}-1-{int(start.timestamp()) // 60}", start=start,
                end=start + timedelta(hours=1), location=place, mode=Mode(location.kind),
                counsellor=ALIASES[counsellor])


def standard_free_times() -> list[Slot]:
    thursday = [free_time(ANNA, datetime(2025, 4, 3, hour, 0, tzinfo=UTC)) for hour in range(7, 14)]  # 09-15 CEST
    return [*thursday,
            free_time(ANNA, datetime(2025, 4, 4, 8, 0, tzinfo=UTC), PHONE_LINE),  # Friday 10:00
            free_time(ANNA, datetime(2025, 4, 8, 7, 0, tzinfo=UTC)),  # Tuesday of next week, 09:00
            free_time(BOGDAN, datetime(2025, 4, 3, 9, 0, tzinfo=UTC))]  # Bogdan, Thursday 11:00


def standard_types() -> list[AppointmentTypeData]:
    """Career in person or by phone (reminders 1 day and 2 hours before), health by video without reminders, and an
    inactive safety type."""
    return [
        AppointmentTypeData(type_id=1, topic="career", duration_minutes=60, modes=["office", "phone"],
                            buffer_before_minutes=0, buffer_after_minutes=15, min_notice_minutes=60, horizon_days=90,
                            active=True, reminder_offsets_minutes=[1440, 120]),
        AppointmentTypeData(type_id=2, topic="health", duration_minutes=45, modes=["video"], buffer_before_minutes=5,
                            buffer_after_minutes=5, min_notice_minutes=1440, horizon_days=30, active=True,
                            reminder_offsets_minutes=[]),
        AppointmentTypeData(type_id=3, topic="safety", duration_minutes=30, modes=["office"], buffer_before_minutes=0,
                            buffer_after_minutes=0, min_notice_minutes=120, horizon_days=60, active=False,
                            reminder_offsets_minutes=[90]),
    ]


@dataclass
class FakeCalendars:
    """Our StaffClient port (`ask`) and the SlotClient's `search`, as the scheduler answers them."""

    bookings: list[tuple[int, StaffBooking]] = field(default_factory=standard_calendar)
    free: list[Slot] = field(default_factory=standard_free_times)
    absences: list[tuple[int, StaffException]] = field(default_factory=list)
    rules: dict[int, list[RuleIn]] = field(default_factory=standard_rules)
    down: bool = False
    broken: bool = False  # a bug of ours behind the page
    asked: list[StaffAction] = field(default_factory=list)
    types: list[AppointmentTypeData] = field(default_factory=standard_types)
    searched: list[dict[str, Any]] = field(default_factory=list)

    def search(self, date_from: date, date_to: date, counsellor: str | None = None, for_booking: UUID | None = None
               ) -> list[Slot]:
        self.searched.append({"from": date_from, "to": date_to, "counsellor": counsellor, "for": for_booking})
        if self.down:
            raise SchedulerUnavailable("The calendar did not answer in time.")
        return [s for s in self.free if date_from <= _berlin_day(s.start) <= date_to
                and counsellor in (None, s.counsellor)]

    def ask(self, staff: Staff, action: StaffAction, expected: type[Answer]) -> Answer:
        self.asked.append(action)
        if self.broken:
            raise RuntimeError("a bug")
        if self.down:
            raise SchedulerUnavailable("The calendar did not answer in time.")
        if isinstance(action, AddExceptionAction | RemoveExceptionAction):
            return self._exception(staff, action)  # type: ignore[return-value]
        if isinstance(action, SetRulesAction):
            return self._set_rules(staff, action)  # type: ignore[return-value]
        if isinstance(action, RulesAction):
            if not staff.may_access_calendar(action.counsellor_id):
                raise CalendarRefused(RefusalKind.FORBIDDEN, "forbidden", "Not your calendar.")
            stored = self.rules.get(action.counsellor_id, [])
            return RulesAnswer(operation="rules", data=RulesData(  # type: ignore[return-value]
                counsellor_id=action.counsellor_id, locations=list(PLACES.values()),
                rules=[RuleOut(rule_id=n, **rule.model_dump()) for n, rule in enumerate(stored, start=1)]))
        if isinstance(action, TypesAction | CreateTypeAction | UpdateTypeAction):
            return self._types(action)  # type: ignore[return-value]
        if isinstance(action, WeekAction):
            if not staff.may_access_calendar(action.counsellor_id):
                raise CalendarRefused(RefusalKind.FORBIDDEN, "forbidden", "Not your calendar.")
            monday = action.week_start - timedelta(days=action.week_start.weekday())
            shown = [b for owner, b in self.bookings if owner == action.counsellor_id
                     and monday <= _berlin_day(b.start) < monday + timedelta(days=7)]
            absent = [e for owner, e in self.absences if owner == action.counsellor_id
                      and e.first_day <= monday + timedelta(days=6) and e.last_day >= monday]
            return WeekAnswer(data=WeekData(counsellor_id=action.counsellor_id,
                                            counsellor_alias=ALIASES.get(action.counsellor_id, "Dora"),
                                            week_start=monday, timezone=action.timezone,
                                            windows=windows(self.rules.get(action.counsellor_id, []), monday),
                                            bookings=shown, exceptions=absent))  # type: ignore[return-value]
        assert isinstance(action, BookingAction | CancelAction | OutcomeAction | MoveAction)
        index, owner, booking = next(((i, o, b) for i, (o, b) in enumerate(self.bookings)
                                      if b.booking_id == action.booking_id), (-1, 0, None))
        if booking is None:
            raise CalendarRefused(RefusalKind.UNKNOWN, "unknown_booking", "There is no booking with this id.")
        if not staff.may_access_calendar(owner):
            raise CalendarRefused(RefusalKind.FORBIDDEN, "forbidden", "Not your calendar.")
        if isinstance(action, BookingAction):  # a read: whatever its status or week
            return BookingAnswer(data=BookingData(  # type: ignore[return-value]
                counsellor_id=owner, counsellor_alias=ALIASES.get(owner, "Dora"), booking=booking))
        if booking.status != "confirmed":
            raise CalendarRefused(RefusalKind.CONFLICT, "not_confirmed", "No longer confirmed.")
        if isinstance(action, MoveAction):
            return self._move(staff, index, owner, booking, action)  # type: ignore[return-value]
        if isinstance(action, CancelAction):
            if booking.start <= NOW:
                raise CalendarRefused(RefusalKind.CONFLICT, "already_begun", "Begun.")
            status = "cancelled"
        else:
            if booking.start > NOW:
                raise CalendarRefused(RefusalKind.CONFLICT, "not_started", "Not begun.")
            status = action.action
        changed = booking.model_copy(update={"status": status})
        self.bookings[index] = (owner, changed)
        return BookingChangeAnswer(operation=action.action,  # type: ignore[return-value]
                                   data=BookingChangeData(booking=changed))

    def _move(self, staff: Staff, index: int, owner: int, booking: StaffBooking, action: MoveAction
              ) -> BookingChangeAnswer:
        slot = next((s for s in self.free if s.slot_id == action.slot_id), None)
        if not staff.may_access_calendar(int(action.slot_id.split("-")[1])):
            raise CalendarRefused(RefusalKind.FORBIDDEN, "forbidden", "Not your calendar.")
        if slot is None:
            raise CalendarRefused(RefusalKind.CONFLICT, "slot_taken", "That time is no longer free.")
        self.free.remove(slot)
        moved = booking.model_copy(update={"start": slot.start, "end": slot.end, "needs_attention": False})
        self.bookings[index] = (owner, moved)
        return BookingChangeAnswer(operation="move", data=BookingChangeData(booking=moved))

    def _set_rules(self, staff: Staff, action: SetRulesAction) -> RulesAnswer:
        if not staff.may_access_calendar(action.counsellor_id):
            raise CalendarRefused(RefusalKind.FORBIDDEN, "forbidden", "Not your calendar.")
        if any(rule.location_id not in PLACES for rule in action.rules):
            raise CalendarRefused(RefusalKind.INVALID, "unknown_location", "No such location.")
        for one in action.rules:
            for other in action.rules:
                if one is not other and one.weekday == other.weekday and one.start < other.end \
                        and other.start < one.end:
                    raise CalendarRefused(RefusalKind.INVALID, "overlapping_rules", "Two rules overlap.")
        self.rules[action.counsellor_id] = list(action.rules)
        return RulesAnswer(data=RulesData(counsellor_id=action.counsellor_id, rules=[
            RuleOut(rule_id=number, **rule.model_dump()) for number, rule in enumerate(action.rules, start=1)]))

    def _types(self, action: TypesAction | CreateTypeAction | UpdateTypeAction) -> TypesAnswer | AppointmentTypeAnswer:
        """The types, a new one or a changed one; refused as the scheduler does when two active types would offer
        one topic by one mode."""
        if isinstance(action, TypesAction):
            return TypesAnswer(data=TypesData(types=list(self.types)))
        given = action.model_dump(exclude={"action", "type_id"}, exclude_none=True)
        if isinstance(action, CreateTypeAction):
            index, kind = len(self.types), AppointmentTypeData(
                type_id=max((t.type_id for t in self.types), default=0) + 1, **given)
        else:
            index = next((i for i, t in enumerate(self.types) if t.type_id == action.type_id), -1)
            if index < 0:
                raise CalendarRefused(RefusalKind.UNKNOWN, "unknown_type", "There is no such type.")
            kind = AppointmentTypeData.model_validate({**self.types[index].model_dump(), **given})
        for other in self.types:
            if other.type_id != kind.type_id and kind.active and other.active and other.topic == kind.topic \
                    and set(other.modes) & set(kind.modes):
                raise CalendarRefused(RefusalKind.CONFLICT, "ambiguous_type", "Two types for one topic and mode.")
        self.types[index:index + 1] = [kind]
        return AppointmentTypeAnswer(operation=action.action, data=kind)

    def _exception(self, staff: Staff, action: AddExceptionAction | RemoveExceptionAction) -> ExceptionAnswer:
        if not staff.may_access_calendar(action.counsellor_id):
            raise CalendarRefused(RefusalKind.FORBIDDEN, "forbidden", "Not your calendar.")
        if isinstance(action, RemoveExceptionAction):
            kept = [(o, e) for o, e in self.absences if e.exception_id != action.exception_id]
            gone = [e for o, e in self.absences if e.exception_id == action.exception_id]
            if not gone:
                raise CalendarRefused(RefusalKind.UNKNOWN, "unknown_exception", "No such absence.")
            self.absences = kept
            return ExceptionAnswer(operation="remove_exception", data=ExceptionData(exception=gone[0]))
        absence = StaffException(exception_id=len(self.absences) + 100, kind="absence", first_day=action.first_day,
                                 last_day=action.last_day, start=action.start, end=action.end,
                                 reason=action.reason or "leave")
        self.absences.append((action.counsellor_id, absence))
        hit = []
        for index, (owner, booking) in enumerate(self.bookings):
            local = booking.start.astimezone(ZoneInfo("Europe/Berlin"))
            covered = action.first_day <= local.date() <= action.last_day and (
                action.start is None or action.start <= f"{local:%H:%M}" < (action.end or "24:00"))
            if owner == action.counsellor_id and booking.status == "confirmed" and covered:
                flagged = booking.model_copy(update={"needs_attention": True})
                self.bookings[index] = (owner, flagged)
                hit.append(flagged)
        return ExceptionAnswer(operation="add_exception", data=ExceptionData(exception=absence, bookings_to_move=hit))

    def status_of(self, number: int) -> str:
        return next(b.status for _, b in self.bookings if b.booking_id == UUID(int=number))

    def booking(self, number: int) -> StaffBooking:
        return next(b for _, b in self.bookings if b.booking_id == UUID(int=number))


def _berlin_day(moment: datetime) -> date:
    return moment.astimezone(ZoneInfo("Europe/Berlin")).date()


@dataclass
class DeskClock:
    """The accounts' clock (and so the calendar pages' today): NOW until a test moves it on."""

    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class StaffDesk:
    app: FastAPI
    accounts: StaffAccounts
    calendars: FakeCalendars
    clock: DeskClock
    secrets: dict[str, str] = field(default_factory=dict)  # username -> TOTP secret, as the phone keeps it

    def enrol(self, username: str) -> list[str]:
        """Sets up two-factor sign-in for the account as its owner does (the code of this time step confirms it)
        and returns its recovery codes."""
        staff_id = next(a.staff.id for a in self.accounts.list_accounts() if a.staff.username == username)
        self.secrets[username] = self.accounts.begin_enrolment(staff_id).secret
        return self.accounts.confirm_enrolment(staff_id, self.code(username, advance=False), "127.0.0.1")

    def code(self, username: str, advance: bool = True) -> str:
        """What the authenticator app shows: a time step later than any code used before (the clock moves 30 s),
        since the gateway takes each step's code once."""
        if advance:
            self.clock.advance(seconds=30)
        return pyotp.TOTP(self.secrets[username]).at(int(self.clock().timestamp()))


@contextmanager
def staff_desk(tmp_path: Path, engine: Engine | None = None) -> Iterator[StaffDesk]:
    """The pages' app with an admin (`admin`, two-factor sign-in on) and two counsellors (`anna`: 1, `bogdan`: 2),
    password PASSWORD; on a new SQLite database unless given an engine."""
    engine = engine or make_engine(f"sqlite:///{tmp_path / 'gateway.sqlite'}")
    migrations.upgrade(engine)
    clock = DeskClock()
    accounts = StaffAccounts(engine, clock, hasher=CHEAP, cipher=DataCipher.from_text(generate_data_key()))
    accounts.create("admin", "Admin", "admin", PASSWORD)
    accounts.create("anna", "Anna", "counsellor", PASSWORD, counsellor_id=ANNA)
    accounts.create("bogdan", "Bogdan", "counsellor", PASSWORD, counsellor_id=BOGDAN)
    calendars = FakeCalendars()
    settings = GatewaySettings(var_dir=tmp_path, timezone="Europe/Berlin", gateway_database_url="sqlite://")
    app = FastAPI()
    errors.install(app)
    app.include_router(pages.router)
    gateway: Any = SimpleNamespace(calendars=calendars, slots=calendars, settings=settings,
                                   feeds=FeedTokens(engine, lambda: NOW))
    app.state.gateway = gateway
    app.state.staff_accounts = accounts
    made = StaffDesk(app, accounts, calendars, clock)
    made.enrol("admin")
    try:
        yield made
    finally:
        engine.dispose()
