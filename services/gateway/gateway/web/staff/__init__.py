"""The staff pages: sign-in with its code step (`signin`), two-factor set-up (`two_factor_pages`), a one-time
password link (`password_reset_page`), a counsellor's day and week with the changes to an appointment
(`calendar_pages`), a phone appointment's number shown once to its counsellor (`reveal_pages`), moving one to a
free time (`move_pages`), weekly hours (`hours_pages`), absences (`absence_pages`), the private calendar feed
(`feed_pages`), the admin start page (`admin_pages`), the staff accounts (`account_pages`), counsellors and
locations (`setup_pages`), appointment types and reminders (`type_pages`), every SMS text in every language
(`sms_text_pages`), the delivery dashboard (`delivery_pages`), the system's health (`health_pages`) and the audit
log (`audit_pages`). Server-rendered in German or English from their own catalogues (`catalogs`), under the client
pages' rules: no third party, no script inline, no cache, forms without JavaScript; each form with a session
carries its CSRF token (`access`)."""

from fastapi import APIRouter
from fastapi.responses import Response

from gateway.web.rendering import PAGE_HEADERS
from gateway.web.staff import (
    absence_pages,
    account_pages,
    admin_pages,
    audit_pages,
    calendar_pages,
    delivery_pages,
    feed_pages,
    health_pages,
    hours_pages,
    move_pages,
    password_reset_page,
    reveal_pages,
    setup_pages,
    signin,
    sms_text_pages,
    two_factor_pages,
    type_pages,
)
from gateway.web.staff.rendering import static_file

router = APIRouter(include_in_schema=False)
for part in (signin, calendar_pages, move_pages, hours_pages, absence_pages, feed_pages, admin_pages, two_factor_pages,
             password_reset_page, account_pages, delivery_pages, health_pages, audit_pages, setup_pages, type_pages,
             sms_text_pages, reveal_pages):
    router.include_router(part.router)


@router.get("/staff.css")
def staff_css() -> Response:
    return Response(static_file("staff.css"), media_type="text/css", headers=PAGE_HEADERS)


__all__ = ["router"]
