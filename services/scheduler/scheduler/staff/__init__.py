"""Staff questions and changes to calendars (`staff.requested`), decided here and answered on the asker's queue.

The gateway signed the staff member in; who may do what is checked again here (a counsellor only in their own
calendar, an admin everywhere). `answers` decides and answers, `checks` holds who may do what, `calendars` the
week, bookings, rules and exceptions, `changes` cancel / outcome / move (through the booking operations), `setup`
the admin's appointment types, counsellors and locations, `describe` rows as staff see them.
"""

from scheduler.staff.answers import answer_counsellor_request, answer_staff_request, decide
from scheduler.staff.checks import StaffDeps

__all__ = ["StaffDeps", "answer_counsellor_request", "answer_staff_request", "decide"]
