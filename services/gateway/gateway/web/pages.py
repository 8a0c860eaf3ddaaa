"""The booking page `/` and the manage page `/m/{token}`: server-rendered forms, no JavaScript, no third party.

The handlers call the same BookingService and SlotClient as the JSON API, so input is checked the same way.
Discretion: every choice travels in a POST body, never in a URL; titles say only "appointment"; no page is
cached, indexed or framed; the phone number is never written back into a page.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from gateway.web import booking_page, manage_page
from gateway.web.rendering import PAGE_HEADERS, stylesheet

router = APIRouter(include_in_schema=False)
router.include_router(booking_page.router)
router.include_router(manage_page.router)


@router.get("/site.css")
def site_css() -> Response:
    return Response(stylesheet(), media_type="text/css", headers=PAGE_HEADERS)
