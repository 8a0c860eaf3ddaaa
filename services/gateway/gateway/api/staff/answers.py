"""The scheduler's answers as HTTP: an answer model per operation gives the body, a refusal's kind the status."""

from __future__ import annotations

from typing import TypeVar

from fastapi import Request

from gateway.api.audit_trail import audited_calendars
from gateway.api.deps import gateway
from gateway.api.schemas import problems
from gateway.errors import GatewayError
from gateway.feeds import FeedTokens
from gateway.staff.accounts import Staff
from gateway.staff_client import CalendarRefused
from shared.contracts.staff import (
    AppointmentTypeAnswer,
    BookingChangeAnswer,
    BookingsAnswer,
    CounsellorAnswer,
    CounsellorsAnswer,
    ExceptionAnswer,
    LocationAnswer,
    LocationsAnswer,
    RefusalKind,
    RulesAnswer,
    StaffAction,
    TypesAnswer,
    WeekAnswer,
)

# What each kind of refusal is in HTTP.
STATUS_OF: dict[RefusalKind, int] = {
    RefusalKind.FORBIDDEN: 403,
    RefusalKind.UNKNOWN: 404,
    RefusalKind.CONFLICT: 409,
    RefusalKind.INVALID: 422,
    # The scheduler broke on it and changed nothing (its database away, say): try again later.
    RefusalKind.FAILED: 503,
}
ERRORS = problems(400, 401, 403, 404, 409, 413, 422, 503)

Answer = TypeVar("Answer", WeekAnswer, BookingsAnswer, RulesAnswer, ExceptionAnswer, BookingChangeAnswer, TypesAnswer,
                 AppointmentTypeAnswer, CounsellorAnswer, LocationAnswer, CounsellorsAnswer, LocationsAnswer)


class StaffRequestRefused(GatewayError):
    """The scheduler refused a staff request: its code and sentence, with the status of its kind."""

    def __init__(self, refused: CalendarRefused) -> None:
        super().__init__(refused.message)
        self.code, self.status = refused.code, STATUS_OF[refused.kind]


def feeds(request: Request) -> FeedTokens:
    return gateway(request).feeds


def ask(request: Request, staff: Staff, action: StaffAction, expected: type[Answer], audited: bool = True) -> Answer:
    """The scheduler's answer to the action; its refusal as an HTTP problem. The request and its outcome go to the
    audit log (`audited=False`: a check a route makes before a change it records itself)."""
    try:
        return audited_calendars(request).ask(staff, action, expected, audited)
    except CalendarRefused as refused:
        raise StaffRequestRefused(refused) from None


