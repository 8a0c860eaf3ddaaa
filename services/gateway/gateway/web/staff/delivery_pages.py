"""`/admin/deliveries`: the admins' delivery dashboard as a page, from the notifier's answers (gateway.delivery_reports,
asked in process, not over HTTP): a period form, the banner for failures of the SMS account itself, the totals by
status, language and error code, the delivery rate and median time, a daily chart (SVG drawn here, its numbers also
as a table), and the failed and undelivered texts with the reason, what to do, and a retry where one may help.

The page's period names its last day (`to` included, as people read "from … to …"); the notifier is asked for
[from, to + 1 day). Without one, the last 7 Berlin days up to today. Each read and retry goes to the staff audit log
as the API's do (the period and the delivery id, never a number).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.numbers import format_percent
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from gateway.api.audit_trail import AuditTrail
from gateway.api.staff.inputs import InvalidStaffInput, check_day
from gateway.delivery_reports import DeliveryReports, RetryRefused
from gateway.errors import SchedulerUnavailable
from gateway.staff.accounts import CurrentSession
from gateway.staff.audit import Action, Event, TargetKind
from gateway.web.catalogs import N_
from gateway.web.staff.access import admin_form_session, admin_only, language
from gateway.web.staff.catalogs import language_label, staff_gettext
from gateway.web.staff.charts import SERIES, daily_chart
from gateway.web.staff.rendering import redirect, render, say
from shared.contracts.delivery_reports import MAX_FAILED_PAGE, MAX_PERIOD_DAYS, STATUSES

router = APIRouter(include_in_schema=False)
Field = Annotated[str, Form()]
PAGE = "/admin/deliveries"
TITLE = N_("Text message deliveries")
DEFAULT_DAYS = 7
ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
CURSOR = re.compile(r"^[0-9T:.+\-]{19,40}~[0-9]{1,18}$")
RETRY_REFUSALS = ("unknown_delivery", "already_retried", "not_retryable", "too_late", "superseded", "not_failed")


def _reports(request: Request) -> DeliveryReports:
    reports: DeliveryReports = request.app.state.gateway.deliveries
    return reports


def _zone(request: Request) -> ZoneInfo:
    return ZoneInfo(request.app.state.gateway.settings.timezone)


def _period(given_from: str | None, given_to: str | None, today: date) -> tuple[date, date]:
    """The first and the last day shown, or InvalidStaffInput with the text key of what is wrong."""
    days: list[date | None] = []
    for given in (given_from, given_to):
        if not given:
            days.append(None)
            continue
        try:
            if not ISO_DAY.match(given):
                raise ValueError(given)
            days.append(check_day(date.fromisoformat(given), today, "day"))
        except (ValueError, InvalidStaffInput):
            raise InvalidStaffInput("not a day", "period_invalid") from None
    last = days[1] or (min(days[0] + timedelta(days=DEFAULT_DAYS - 1), today) if days[0] else today)
    first = days[0] or last - timedelta(days=DEFAULT_DAYS - 1)
    if last < first:
        raise InvalidStaffInput("reversed", "period_reversed")
    if (last - first).days + 1 > MAX_PERIOD_DAYS:
        raise InvalidStaffInput("too long", "period_too_long")
    return first, last


def _when(moment: datetime, zone: ZoneInfo, lang: str) -> str:
    return format_datetime(moment.astimezone(zone), "short", locale=lang)


def _duration(seconds: float | None, lang: str) -> str:
    if seconds is None:
        return say(lang, "no_figure")
    whole = round(seconds)
    if whole < 120:
        return say(lang, "duration_seconds", seconds=whole)
    return say(lang, "duration_minutes", minutes=whole // 60, seconds=whole % 60)


def _dashboard(request: Request, lang: str, current: CurrentSession, first: date, last: date,
               cursor: str | None = None, errors: list[str] | None = None, status: int = 200,
               notice: str | None = None) -> Response:
    reports, zone = _reports(request), _zone(request)
    trail, end = AuditTrail.of(request, current.staff), last + timedelta(days=1)
    asked = {"from": first.isoformat(), "to": end.isoformat()}  # as the API records it: `to` excluded
    try:
        with trail.recording(Event(Action.DELIVERY_REPORT_READ, detail=asked)):
            report = reports.report(first, end)
        with trail.recording(Event(Action.FAILED_DELIVERIES_READ, detail={**asked, "next_page": cursor is not None})):
            failed = reports.failed(first, end, MAX_FAILED_PAGE, cursor)
    except SchedulerUnavailable:
        return _unavailable(request, lang, current, "notifier_away")

    def words(sentence: str) -> str:  # the notifier's English sentence, in German where the catalogue has it
        return staff_gettext(lang, sentence)

    period = f"from={first}&to={last}"
    return render(
        "deliveries.html", lang, status, here=f"{PAGE}?{period}", errors=errors, staff=current.staff,
        csrf=current.csrf_token, notice=notice, first=first.isoformat(), last=last.isoformat(), period=period,
        report=report, statuses=STATUSES, series=[name for name, _ in SERIES], chart=daily_chart(report.daily),
        rate=None if report.delivery_rate is None else format_percent(report.delivery_rate, "#,##0.0 %",
                                                                     locale=lang),
        median=_duration(report.median_seconds_to_delivered, lang),
        languages_sent=sorted(((language_label(code, lang), n) for code, n in report.by_language.items()),
                              key=lambda pair: (-pair[1], pair[0])),
        banner_when=_when(report.banner.last_at, zone, lang) if report.banner else "",
        failed=failed.items, more=failed.next_cursor, when=lambda moment: _when(moment, zone, lang),
        day_name=lambda day: format_date(day, "EEE d MMM", locale=lang), words=words)


def _unavailable(request: Request, lang: str, current: CurrentSession, key: str) -> HTMLResponse:
    return render("message.html", lang, 503, here=request.url.path, errors=[key], staff=current.staff,
                  csrf=current.csrf_token, title=N_("Text service not available"), headers={"Retry-After": "60"},
                  again=PAGE)


@router.get(PAGE, response_class=HTMLResponse)
def deliveries_page(request: Request, done: str | None = None, cursor: str | None = None) -> Response:
    lang = language(request)
    current, refused = admin_only(request, lang, TITLE)
    if current is None:
        return refused or Response(status_code=403)
    today = _reports(request).today()
    try:
        first, last = _period(request.query_params.get("from"), request.query_params.get("to"), today)
    except InvalidStaffInput as wrong:
        return render("deliveries.html", lang, 422, here=PAGE, errors=[wrong.code], staff=current.staff,
                      csrf=current.csrf_token, first=(request.query_params.get("from") or "")[:10],
                      last=(request.query_params.get("to") or "")[:10], report=None)
    cursor = cursor if cursor and CURSOR.match(cursor) else None
    return _dashboard(request, lang, current, first, last, cursor, notice="retry_queued" if done == "retry" else None)


@router.post(PAGE + "/{delivery_id}/retry", response_model=None)
def retry(request: Request, delivery_id: str, csrf: Field = "", lang: Field = "", first: Field = "",
          last: Field = "") -> Response:
    lang = language(request, lang)
    current = admin_form_session(request, lang, csrf, TITLE)
    if isinstance(current, Response):
        return current
    reports = _reports(request)
    try:
        shown_first, shown_last = _period(first, last, reports.today())
    except InvalidStaffInput:
        shown_first, shown_last = _period(None, None, reports.today())
    if not delivery_id.isdigit() or not 1 <= int(delivery_id) <= 2**53:
        return _dashboard(request, lang, current, shown_first, shown_last, errors=["retry_refused.unknown_delivery"],
                          status=404)
    try:
        with AuditTrail.of(request, current.staff).recording(Event(
                Action.DELIVERY_RETRIED, target_kind=TargetKind.DELIVERY, target_id=int(delivery_id))):
            reports.send_again(int(delivery_id))
    except SchedulerUnavailable:
        return _unavailable(request, lang, current, "notifier_late_retry")
    except RetryRefused as no:
        code = no.code if no.code in RETRY_REFUSALS else "other"
        return _dashboard(request, lang, current, shown_first, shown_last, errors=[f"retry_refused.{code}"],
                          status=no.status)
    return redirect(f"{PAGE}?from={shown_first}&to={shown_last}&done=retry", lang)
