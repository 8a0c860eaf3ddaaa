"""Staff calendar API under /v1/staff/: the week, bookings with status, weekly rules, absences and extra hours
(`calendars`), cancel / no-show / attended / move (`changes`), the private calendar feed (`feed`), and (admin only)
appointment types, counsellors and locations (`setup`), and the audit log (`audit`).

Served here, decided by the scheduler over the broker (`staff.requested`); `answers` turns its answers into bodies
and its refusals into HTTP statuses. Routes naming a counsellor are checked here first (that counsellor or an
admin); the scheduler checks every request again, and alone can check a booking route (it knows whose calendar a
booking is in). Writes need the X-Lotse-CSRF header like every staff write.
"""

from fastapi import APIRouter

from gateway.api.staff import audit, calendars, changes, feed, setup

router = APIRouter(prefix="/v1/staff", tags=["staff calendars"])
for part in (calendars, changes, feed, setup, audit):
    router.include_router(part.router)

__all__ = ["router"]
