"""`/admin`: the admins' start page, linking to the admin areas; a counsellor gets a 403 page, a visitor without a
session the sign-in page. The same start page is an admin's `/staff` (an admin has no calendar of their own)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from gateway.staff.accounts import CurrentSession
from gateway.web.catalogs import N_
from gateway.web.staff.access import current_session, language, to_sign_in
from gateway.web.staff.rendering import render

router = APIRouter(include_in_schema=False)

# The admin areas of issue 12, in the order an admin needs them; each page comes with its own part of the issue.
AREAS: tuple[tuple[str, str], ...] = (
    ("/admin/accounts", N_("Staff accounts")),
    ("/admin/counsellors", N_("Counsellors")),
    ("/admin/locations", N_("Locations")),
    ("/admin/types", N_("Appointment types and reminders")),
    ("/admin/texts", N_("Text messages in every language")),
    ("/admin/deliveries", N_("Text message deliveries")),
    ("/admin/health", N_("Health and dead letters")),
    ("/admin/audit", N_("Audit log")),
)


def admin_start(request: Request, lang: str, current: CurrentSession) -> HTMLResponse:
    return render("admin.html", lang, here=request.url.path, staff=current.staff, csrf=current.csrf_token,
                  areas=AREAS)


@router.get("/admin", response_class=HTMLResponse)
def admin(request: Request) -> Response:
    current = current_session(request)
    if current is None:
        return to_sign_in(request)
    lang = language(request)
    if not current.staff.is_admin:
        return render("message.html", lang, 403, here="/admin", errors=["admins_only"], staff=current.staff,
                      csrf=current.csrf_token, title=N_("Admin"))
    return admin_start(request, lang, current)
