"""GET /v1/feeds/{token}.ics: a counsellor's private calendar feed. No session: the long random token is the secret.

The gateway finds the counsellor by the token's hash and asks the scheduler for the bookings (never sending the
token); an unknown or revoked token gets 404, like any address that does not exist.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request, Response

from gateway.api.deps import SettingsDep, gateway
from gateway.api.schemas import problems
from gateway.api.staff.answers import StaffRequestRefused
from gateway.errors import GatewayError
from gateway.feeds import FeedTokens, feed_window, render_feed
from gateway.staff_client import CalendarRefused, StaffClient
from shared.contracts.staff import RefusalKind

router = APIRouter(prefix="/v1/feeds", tags=["calendar feeds"])
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32,128}$")


class FeedNotFound(GatewayError):
    code, status = "not_found", 404

    def __init__(self) -> None:
        super().__init__("There is no calendar feed at this address (it may have been revoked).")


@router.get("/{token}.ics", response_class=Response, responses={
    200: {"content": {"text/calendar": {}}, "description": "iCalendar feed"},
    **problems(404, 503)})
def calendar_feed(token: str, request: Request, settings: SettingsDep) -> Response:
    feeds: FeedTokens = gateway(request).feeds
    counsellor_id = feeds.counsellor_for(token) if _TOKEN.match(token) else None
    if counsellor_id is None:
        raise FeedNotFound()
    zone = ZoneInfo(settings.timezone)
    now = datetime.now(UTC)
    first, last = feed_window(now.astimezone(zone).date())
    client: StaffClient = gateway(request).calendars
    try:
        data = client.feed(counsellor_id, first, last)
    except CalendarRefused as refused:
        if refused.kind is RefusalKind.UNKNOWN:
            raise FeedNotFound() from None
        raise StaffRequestRefused(refused) from None
    body = render_feed(data, zone, first, last, now)
    return Response(body, media_type="text/calendar; charset=utf-8", headers={
        "Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
        "Content-Disposition": 'inline; filename="termine.ics"'})
