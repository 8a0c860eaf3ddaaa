"""The booking page `/` and the manage page `/m/{token}`: server-rendered forms, no JavaScript, no third party.
The staff pages (gateway.web.staff) are served with them.

The handlers call the same BookingService and SlotClient as the JSON API, so input is checked the same way.
Discretion: every choice travels in a POST body, never in a URL; titles say only "appointment"; no page is
cached, indexed or framed; the phone number is never written back into a page.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from gateway.settings import GatewaySettings
from gateway.web import booking_page, manage_page, move_page, rendering, staff
from gateway.web.catalogs import shipped_translations
from gateway.web.rendering import PAGE_HEADERS, static_file
from gateway.web.staff.catalogs import staff_translations

router = APIRouter(include_in_schema=False)
router.include_router(booking_page.router)
router.include_router(manage_page.router)
router.include_router(move_page.router)
router.include_router(staff.router)


def configure(settings: GatewaySettings) -> None:
    """What the pages take from the settings at start: where the quick-leave button goes. The catalogues are read
    now too, so the first client does not wait for them and a broken one is in the log at start."""
    rendering.configure(settings.quick_exit_url)
    shipped_translations()
    staff_translations()


@router.get("/site.css")
def site_css() -> Response:
    return Response(static_file("site.css"), media_type="text/css", headers=PAGE_HEADERS)


@router.get("/leave.js")
def leave_js() -> Response:
    """The quick-leave button's script: the page is replaced in the history, so Back does not return to it."""
    return Response(static_file("leave.js"), media_type="text/javascript", headers=PAGE_HEADERS)
