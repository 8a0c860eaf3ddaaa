"""`/admin/audit`: the staff audit log for admins, as the API's GET /v1/staff/audit gives it: a filter form (who,
which action, on what, from and to which day in the office's time zone), newest first, 100 rows a page with a link
to the older ones, and a link to the API's CSV export of the same filter (a GET: the session cookie is enough).
Reading the page is recorded as the API's read is. A counsellor gets a 403 page, a visitor without a session the
sign-in page; a filter that is wrong is said at its field (422), never a 500."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from gateway.staff.accounts import CurrentSession, normalise_username
from gateway.staff.audit import (
    Action,
    Event,
    InvalidAuditQuery,
    Outcome,
    TargetKind,
    decode_cursor,
    encode_cursor,
)
from gateway.staff.audit_repository import AuditFilter, AuditRow, Position
from gateway.web.catalogs import N_
from gateway.web.staff.access import current_session, desk, language, to_sign_in
from gateway.web.staff.catalogs import staff_gettext
from gateway.web.staff.rendering import render

router = APIRouter(include_in_schema=False)
PAGE = "/admin/audit"
EXPORT = "/v1/staff/audit.csv"
PAGE_SIZE = 100
MAX_FIELD = 64
# The days a filter may name: wide enough for any row kept (400 days' retention), narrow enough that the day after
# the last one is still a date.
FIRST_YEAR, LAST_YEAR = 2000, 2999

# What each action is called on the page. A row of an action this gateway does not know (written by a newer one
# during a rolling update) shows its code instead.
ACTION_WORDS: dict[str, str] = {
    Action.SIGN_IN: N_("Signed in"),
    Action.SIGN_IN_FAILED: N_("Sign-in failed"),
    Action.SIGN_OUT: N_("Signed out"),
    Action.PASSWORD_CHANGED: N_("Changed the password"),
    Action.ACCOUNT_CREATED: N_("Created a staff account"),
    Action.ACCOUNT_DEACTIVATED: N_("Deactivated a staff account"),
    Action.ACCOUNT_UNLOCKED: N_("Unlocked a staff account"),
    Action.ACCOUNT_REACTIVATED: N_("Reactivated a staff account"),
    Action.PASSWORD_LINK_ISSUED: N_("Made a link to set a password"),
    Action.PASSWORD_RESET: N_("Set a password with a one-time link"),
    Action.TWO_FACTOR_ENROLMENT_STARTED: N_("Began setting up two-factor sign-in"),
    Action.TWO_FACTOR_ENABLED: N_("Turned two-factor sign-in on"),
    Action.TWO_FACTOR_DISABLED: N_("Turned two-factor sign-in off"),
    Action.RECOVERY_CODES_RENEWED: N_("Renewed the recovery codes"),
    Action.TWO_FACTOR_RESET: N_("Reset another account's two-factor sign-in"),
    Action.ACCOUNTS_READ: N_("Read the staff accounts"),
    Action.CALENDAR_READ: N_("Read a calendar"),
    Action.BOOKINGS_READ: N_("Read bookings"),
    Action.BOOKING_READ: N_("Read an appointment"),
    Action.RULES_READ: N_("Read weekly hours"),
    Action.RULES_REPLACED: N_("Changed weekly hours"),
    Action.EXCEPTION_ADDED: N_("Added an absence"),
    Action.EXCEPTION_REMOVED: N_("Removed an absence"),
    Action.BOOKING_CANCELLED: N_("Cancelled an appointment"),
    Action.BOOKING_NO_SHOW: N_("Recorded that the client did not come"),
    Action.BOOKING_ATTENDED: N_("Recorded that the client came"),
    Action.BOOKING_MOVED: N_("Moved an appointment"),
    Action.TYPES_READ: N_("Read the appointment types"),
    Action.TYPE_CREATED: N_("Created an appointment type"),
    Action.TYPE_UPDATED: N_("Changed an appointment type"),
    Action.COUNSELLOR_UPDATED: N_("Changed a counsellor"),
    Action.LOCATION_UPDATED: N_("Changed a location"),
    Action.COUNSELLORS_READ: N_("Read the counsellors"),
    Action.COUNSELLOR_CREATED: N_("Added a counsellor"),
    Action.LOCATIONS_READ: N_("Read the locations"),
    Action.LOCATION_CREATED: N_("Added a location"),
    Action.FEED_ISSUED: N_("Issued a calendar feed"),
    Action.FEED_REVOKED: N_("Stopped a calendar feed"),
    Action.CONTACT_NUMBER_SHOWN: N_("Asked to see a client's number"),
    Action.DELIVERY_REPORT_READ: N_("Read the delivery report"),
    Action.FAILED_DELIVERIES_READ: N_("Read the failed texts"),
    Action.DELIVERY_RETRIED: N_("Sent a text again"),
    Action.DEAD_LETTERS_READ: N_("Read the dead letters"),
    Action.DEAD_LETTER_REQUEUED: N_("Requeued a dead letter"),
    Action.DEAD_LETTER_DISCARDED: N_("Discarded a dead letter"),
    Action.AUDIT_READ: N_("Read the audit log"),
    Action.AUDIT_EXPORTED: N_("Exported the audit log"),
    Action.ACCESS_REFUSED: N_("Was refused a page or request"),
}
TARGET_WORDS: dict[str, str] = {
    TargetKind.ACCOUNT: N_("Staff account"),
    TargetKind.BOOKING: N_("Appointment"),
    TargetKind.COUNSELLOR: N_("Counsellor"),
    TargetKind.LOCATION: N_("Location"),
    TargetKind.APPOINTMENT_TYPE: N_("Appointment type"),
    TargetKind.DELIVERY: N_("Text message"),
    TargetKind.DEAD_LETTER: N_("Dead letter"),
}
OUTCOME_WORDS: dict[str, str] = {
    Outcome.OK: N_("done"),
    Outcome.REFUSED: N_("refused"),
    Outcome.UNANSWERED: N_("no answer in time"),
}
BY_COMMAND_LINE = N_("command line")
BY_UNKNOWN_USERNAME = N_("an unknown username")


@dataclass(frozen=True)
class Shown:
    """A row as the table shows it: words where the log keeps codes, the time in the office's time zone."""

    when: str
    who: str
    what: str
    target: str
    outcome: str
    source: str


def _words(table: Mapping[str, str], code: str | None, lang: str) -> str:
    if code is None:
        return ""
    return staff_gettext(lang, table[code]) if code in table else code


def shown(row: AuditRow, zone: ZoneInfo, lang: str) -> Shown:
    if row.username is not None:
        who = row.username
    else:  # no account: the shell's commands, or a sign-in with a username no account has
        who = staff_gettext(lang, BY_COMMAND_LINE if row.source == "cli" else BY_UNKNOWN_USERNAME)
    kind = _words(TARGET_WORDS, row.target_kind, lang)
    return Shown(when=f"{row.at.astimezone(zone):%Y-%m-%d %H:%M:%S}", who=who,
                 what=_words(ACTION_WORDS, row.action, lang),
                 target=f"{kind} {row.target_id}" if row.target_id else kind,
                 outcome=_words(OUTCOME_WORDS, row.outcome, lang), source=row.source)


def _day(text: str, error: str, errors: list[str]) -> date | None:
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        day = None
    if day is None or not FIRST_YEAR <= day.year <= LAST_YEAR:
        errors.append(error)
        return None
    return day


def read_filter(entered: dict[str, str], zone: ZoneInfo) -> tuple[AuditFilter, list[str]]:
    """The filter the form asks for, and the text keys of what is wrong with it (each said at its field)."""
    errors: list[str] = []
    username = entered["username"]
    if len(username) > MAX_FIELD or any(unicodedata.category(c).startswith("C") for c in username):
        errors.append("audit.username_invalid")
    action, kind, target_id = entered["action"], entered["target_kind"], entered["target_id"]
    if action and action not in Action.__members__.values():
        errors.append("audit.action_invalid")
    if kind and kind not in TargetKind.__members__.values():
        errors.append("audit.target_kind_invalid")
    if target_id and (len(target_id) > MAX_FIELD or not target_id.isprintable()):
        errors.append("audit.target_id_invalid")
    elif target_id and not kind:
        errors.append("audit.target_kind_missing")
    first = _day(entered["from"], "audit.from_invalid", errors)
    last = _day(entered["to"], "audit.to_invalid", errors)
    if first is not None and last is not None and last < first:
        errors.append("audit.range_reversed")
    # The days are whole days in the office's time zone: "to" takes in its own day.
    since = datetime.combine(first, time(0), zone) if first else None
    until = datetime.combine(last + timedelta(days=1), time(0), zone) if last else None
    return AuditFilter(username=normalise_username(username) if username else None,
                       action=action or None, target_kind=kind or None, target_id=target_id or None,
                       since=since, until=until), errors


def export_query(where: AuditFilter) -> str:
    """The API's query for the same filter (its instants with their offset)."""
    pairs = {"username": where.username, "action": where.action, "target_kind": where.target_kind,
             "target_id": where.target_id, "from": where.since.isoformat() if where.since else None,
             "to": where.until.isoformat() if where.until else None}
    return urlencode({name: value for name, value in pairs.items() if value is not None})


@router.get(PAGE, response_class=HTMLResponse)
def audit_page(request: Request) -> Response:
    lang = language(request)
    current = current_session(request)
    if current is None:
        return to_sign_in(request)
    if not current.staff.is_admin:
        return render("message.html", lang, 403, here=PAGE, errors=["admins_only"], staff=current.staff,
                      csrf=current.csrf_token, title=N_("Audit log"))
    # Read as given (the form's names "from" and "to" are the API's): a wrong value is said at its field.
    query = request.query_params
    entered = {"username": query.get("username", "").strip()[:MAX_FIELD + 1], "action": query.get("action", "")[:40],
               "target_kind": query.get("target_kind", "")[:40],
               "target_id": query.get("target_id", "").strip()[:MAX_FIELD + 1],
               "from": query.get("from", "")[:20], "to": query.get("to", "")[:20]}
    return _page(request, lang, current, entered, query.get("cursor", "")[:200])


def _page(request: Request, lang: str, current: CurrentSession, entered: dict[str, str], cursor: str
          ) -> HTMLResponse:
    here = desk(request)
    zone = ZoneInfo(here.settings.timezone)
    where, errors = read_filter(entered, zone)
    after: Position | None = None
    if cursor and not errors:
        try:
            after = decode_cursor(cursor)
        except InvalidAuditQuery:
            errors.append("audit.cursor_invalid")
    context: dict[str, Any] = {"staff": current.staff, "csrf": current.csrf_token, "entered": entered,
               "actions": [(code.value, ACTION_WORDS[code]) for code in Action],
               "kinds": [(code.value, TARGET_WORDS[code]) for code in TargetKind]}
    if errors:
        return render("audit.html", lang, 422, here=PAGE, errors=errors, rows=None, older=None, export=None,
                      **context)
    rows, more = here.accounts.audit.page(where, after, PAGE_SIZE)
    # As the API's read: which filters were used (their names, not a username searched for).
    here.accounts.audit.record(here.actor(current.staff), Event(Action.AUDIT_READ, detail={
        "filters": sorted(name for name, value in vars(where).items() if value is not None),
        "next_page": after is not None}))
    form_query = {name: value for name, value in entered.items() if value}
    older = f"{PAGE}?{urlencode({**form_query, 'cursor': encode_cursor(more)})}" if more is not None else None
    here_now = f"{PAGE}?{urlencode(form_query)}" if form_query else PAGE
    return render("audit.html", lang, here=here_now, rows=[shown(row, zone, lang) for row in rows], older=older,
                  export=f"{EXPORT}?{export_query(where)}".rstrip("?"), **context)
