"""A calendar's private feed URL: issued (shown once) and revoked; the feed itself is served by api/feeds.py."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from gateway.api.audit_trail import AuditTrailDep
from gateway.api.deps import SettingsDep
from gateway.api.schemas import IdPath
from gateway.api.staff.answers import ERRORS, ask, feeds
from gateway.api.staff.inputs import NoFeed, today
from gateway.api.staff_deps import CalendarStaff, no_store
from gateway.staff.audit import Action, Event, TargetKind
from shared.contracts.staff import WeekAction, WeekAnswer

router = APIRouter()


class FeedIssued(BaseModel):
    counsellor_id: int
    feed_url: str
    token: str


@router.post("/calendars/{counsellor_id}/feed", status_code=201, responses=ERRORS)
def issue_feed(counsellor_id: IdPath, staff: CalendarStaff, request: Request, response: Response,
               settings: SettingsDep, trail: AuditTrailDep) -> FeedIssued:
    """A new private feed URL for the calendar (shown only now); an earlier one stops working."""
    # The scheduler confirms the calendar exists (and, again, that this staff member may see it).
    ask(request, staff, WeekAction(counsellor_id=counsellor_id, week_start=today(settings.timezone)), WeekAnswer,
        audited=False)
    token = feeds(request).issue(counsellor_id, staff.id, audit=trail.within(
        Event(Action.FEED_ISSUED, target_kind=TargetKind.COUNSELLOR, target_id=counsellor_id)))
    no_store(response)
    return FeedIssued(counsellor_id=counsellor_id, token=token,
                      feed_url=f"{settings.public_base_url.rstrip('/')}/v1/feeds/{token}.ics")


@router.delete("/calendars/{counsellor_id}/feed", status_code=204, responses=ERRORS)
def revoke_feed(counsellor_id: IdPath, _staff: CalendarStaff, request: Request, trail: AuditTrailDep) -> Response:
    """The feed URL stops working at once."""
    if not feeds(request).revoke(counsellor_id, audit=trail.within(
            Event(Action.FEED_REVOKED, target_kind=TargetKind.COUNSELLOR, target_id=counsellor_id))):
        raise NoFeed("This calendar has no feed to revoke: none was issued, or it is stopped already.")
    return Response(status_code=204)
