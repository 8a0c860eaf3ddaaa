"""The admins' delivery dashboard as JSON (admin only, no-store): a period's report, its failed and undelivered
texts with the reason in words, and a retry of one of them. The notifier answers over the broker
(gateway.delivery_reports); the staff pages draw on these routes.

Each read and retry goes to the staff audit log with its outcome (the period and the delivery id, never a number).

A period is Europe/Berlin days, `from` included and `to` excluded; without them, the last 30 days up to today.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel

from gateway.api.audit_trail import AuditTrailDep
from gateway.api.deps import gateway
from gateway.api.schemas import IdPath, problems
from gateway.api.staff.inputs import InvalidStaffInput, check_day
from gateway.api.staff_deps import AdminStaff, no_store
from gateway.delivery_reports import DeliveryReports
from gateway.staff.audit import Action, Event, TargetKind
from shared.contracts import DeliveriesReported, FailedDeliveriesListed
from shared.contracts.delivery_reports import MAX_FAILED_PAGE, MAX_PERIOD_DAYS

router = APIRouter(prefix="/v1/staff/deliveries", tags=["staff deliveries"])
DEFAULT_DAYS = 30
From = Annotated[date | None, Query(alias="from", description="first day (Europe/Berlin), included")]
To = Annotated[date | None, Query(alias="to", description="the day after the last (Europe/Berlin), excluded")]


class RetryQueued(BaseModel):
    delivery_id: int
    message: str


def _reports(request: Request) -> DeliveryReports:
    return gateway(request).deliveries


def _period(first: date, end: date) -> dict[str, str]:
    return {"from": first.isoformat(), "to": end.isoformat()}


def checked_period(date_from: date | None, date_to: date | None, now: date) -> tuple[date, date]:
    """The period asked for, or InvalidStaffInput (422) naming what is wrong with it."""
    # Each day given is checked before any arithmetic on it: near year 1 or 9999 that would overflow.
    if date_from is not None:
        check_day(date_from, now, "'from'")
    if date_to is not None:
        check_day(date_to, now, "'to'")
    date_to = date_to or (now + timedelta(days=1) if date_from is None
                          else min(date_from + timedelta(days=DEFAULT_DAYS), now + timedelta(days=1)))
    date_from = date_from or date_to - timedelta(days=DEFAULT_DAYS)
    if date_to <= date_from:
        raise InvalidStaffInput(f"The period ends ('to' {date_to}) before it starts ('from' {date_from}): 'to' is "
                                "the day after the last day, so one day is from=D&to=D+1.", "period_reversed")
    if (date_to - date_from).days > MAX_PERIOD_DAYS:
        raise InvalidStaffInput(f"A period may cover at most {MAX_PERIOD_DAYS} days; this one covers "
                                f"{(date_to - date_from).days}.", "period_too_long")
    return date_from, date_to


@router.get("", responses=problems(401, 403, 422, 503))
def delivery_report(staff: AdminStaff, request: Request, response: Response, trail: AuditTrailDep,
                    date_from: From = None, date_to: To = None) -> DeliveriesReported:
    """Texts created in the period: by status, language and provider error code (with the reason in words and
    what to do), the delivery rate, the median time to delivered, a daily series, and a banner when texts failed
    because of the SMS account itself."""
    no_store(response)
    first, end = checked_period(date_from, date_to, _reports(request).today())
    with trail.recording(Event(Action.DELIVERY_REPORT_READ, detail=_period(first, end))):
        return _reports(request).report(first, end)


@router.get("/failed", responses=problems(401, 403, 422, 503))
def failed_deliveries(staff: AdminStaff, request: Request, response: Response, trail: AuditTrailDep,
                      date_from: From = None, date_to: To = None,
                      limit: Annotated[int, Query(ge=1, le=MAX_FAILED_PAGE)] = 50,
                      cursor: Annotated[str | None, Query(max_length=64, pattern=r"^[0-9T:.+\-]{19,40}~[0-9]{1,18}$",
                                                          description="next_cursor of the page before")] = None,
                      ) -> FailedDeliveriesListed:
    """The failed and undelivered texts of the period, newest first: the masked number only, the error in words,
    what staff should do, and whether (or why not) it may be sent again."""
    no_store(response)
    first, end = checked_period(date_from, date_to, _reports(request).today())
    with trail.recording(Event(Action.FAILED_DELIVERIES_READ,
                               detail={**_period(first, end), "next_page": cursor is not None})):
        return _reports(request).failed(first, end, limit, cursor)


@router.post("/{delivery_id}/retry", status_code=202, responses=problems(401, 403, 404, 409, 422, 503))
def retry_delivery(delivery_id: IdPath, staff: AdminStaff, request: Request, response: Response,
                   trail: AuditTrailDep) -> RetryQueued:
    """Send a failed text once more through the normal sending path. Refused (409 with the reason) when its error
    is not one sending again can fix, its time has passed, the notifier already tried again, or it was retried
    before: each text is retried at most once."""
    no_store(response)
    with trail.recording(Event(Action.DELIVERY_RETRIED, target_kind=TargetKind.DELIVERY, target_id=delivery_id)):
        answer = _reports(request).send_again(delivery_id)
    return RetryQueued(delivery_id=answer.delivery_id, message=answer.message)
