"""The staff pages in process: the real StaffAccounts on a throw-away SQLite database (argon2 with small parameters,
so sign-ins are fast; a clock tests move; the admin has two-factor sign-in, its secret kept here) and a fake of our
StaffClient port, which answers from a list of appointments and decides changes the way the scheduler does
(attended / no-show once begun, cancel before). For tests/unit/test_staff_pages.py and the staff browser test,
which serves the same app with uvicorn."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
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
from gateway.settings import GatewaySettings
from gateway.staff.accounts import Staff, StaffAccounts
from gateway.staff_client import CalendarRefused
from gateway.web import pages
from pydantic import BaseModel
from sqlalchemy import Engine

from shared.contracts.staff import (
    BookingChangeAnswer,
    BookingChangeData,
    CancelAction,
    OutcomeAction,
    RefusalKind,
    StaffAction,
    StaffBooking,
    StaffLocation,
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


@dataclass
class FakeCalendars:
    """Our StaffClient port, as the scheduler answers it."""

    bookings: list[tuple[int, StaffBooking]] = field(default_factory=standard_calendar)
    down: bool = False
    broken: bool = False  # a bug of ours behind the page
    asked: list[StaffAction] = field(default_factory=list)

    def ask(self, staff: Staff, action: StaffAction, expected: type[Answer]) -> Answer:
        self.asked.append(action)
        if self.broken:
            raise RuntimeError("a bug")
        if self.down:
            raise SchedulerUnavailable("The calendar did not answer in time.")
        if isinstance(action, WeekAction):
            if not staff.may_access_calendar(action.counsellor_id):
                raise CalendarRefused(RefusalKind.FORBIDDEN, "forbidden", "Not your calendar.")
            monday = action.week_start - timedelta(days=action.week_start.weekday())
            shown = [b for owner, b in self.bookings if owner == action.counsellor_id
                     and monday <= _berlin_day(b.start) < monday + timedelta(days=7)]
            return WeekAnswer(data=WeekData(counsellor_id=action.counsellor_id, counsellor_alias="Anna",
                                            week_start=monday, timezone=action.timezone, windows=[],
                                            bookings=shown, exceptions=[]))  # type: ignore[return-value]
        assert isinstance(action, CancelAction | OutcomeAction)
        index, owner, booking = next(((i, o, b) for i, (o, b) in enumerate(self.bookings)
                                      if b.booking_id == action.booking_id), (-1, 0, None))
        if booking is None:
            raise CalendarRefused(RefusalKind.UNKNOWN, "unknown_booking", "There is no booking with this id.")
        if not staff.may_access_calendar(owner):
            raise CalendarRefused(RefusalKind.FORBIDDEN, "forbidden", "Not your calendar.")
        if booking.status != "confirmed":
            raise CalendarRefused(RefusalKind.CONFLICT, "not_confirmed", "No longer confirmed.")
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

    def status_of(self, number: int) -> str:
        return next(b.status for _, b in self.bookings if b.booking_id == UUID(int=number))


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
    gateway: Any = SimpleNamespace(calendars=calendars, settings=settings)
    app.state.gateway = gateway
    app.state.staff_accounts = accounts
    made = StaffDesk(app, accounts, calendars, clock)
    made.enrol("admin")
    try:
        yield made
    finally:
        engine.dispose()
