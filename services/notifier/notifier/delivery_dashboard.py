"""The admins' delivery dashboard, answered by the notifier (which alone owns the deliveries): a period's
report, its failed texts with the reason in words, and a staff retry of one failed text.

A retry changes state but announces nothing: it marks the delivery retried and makes its message due now, in one
transaction; the dispatcher then sends it on its normal path (claim, new delivery, provider), as any due message.
A request delivered twice, or two admins at once, retry once: the second finds the delivery marked.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from notifier.delivery_stats import BAD, SETTLE, DeliveryStats, FailedRow, Figures
from notifier.domain.delivery_errors import ACCOUNT_CODES, explain
from shared.clock import Clock
from shared.contracts import Envelope, wrap
from shared.contracts.delivery_reports import (
    MAX_PERIOD_DAYS,
    STATUSES,
    AccountBanner,
    DayCounts,
    DeliveriesReported,
    DeliveriesReportRequested,
    DeliveryRetried,
    DeliveryRetryRequested,
    ErrorCount,
    ErrorExplained,
    FailedDeliveriesListed,
    FailedDeliveriesRequested,
    FailedDelivery,
    RetryRefusal,
)

log = logging.getLogger(__name__)
Reply = Callable[[str, Envelope], None]
FINAL = ("delivered", "undelivered", "failed")


def period(date_from: date, date_to: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[first day's midnight, the day after the last's midnight) in `zone`, as UTC instants."""
    def midnight(day: date) -> datetime:
        return datetime.combine(day, time(0), zone).astimezone(UTC)
    return midnight(date_from), midnight(date_to)


def median_seconds(histogram: list[tuple[int, int]]) -> float | None:
    """The median of values given as (value, how many): the middle one, or the mean of the two middle ones."""
    total = sum(n for _, n in histogram)
    if total == 0:
        return None
    wanted = [(total - 1) // 2, total // 2]
    found: list[int] = []
    seen = 0
    for value, n in sorted(histogram):
        while wanted and wanted[0] < seen + n:
            found.append(value)
            wanted.pop(0)
        seen += n
    return sum(found) / 2


def explained(code: str | None) -> ErrorExplained:
    info = explain(code)
    return ErrorExplained(code=code or "none", reason=info.reason, action=info.action, retryable=info.retryable,
                          account_problem=info.account_problem)


def build_report(session: Session, date_from: date, date_to: date, zone: ZoneInfo,
                 now: datetime) -> DeliveriesReported:
    """The period's figures: settled days from their counts (counted now if not yet, and committed), the days
    since from the deliveries themselves."""
    stats = DeliveryStats(session)
    figures = [_settled(stats, date_from, date_to, zone, now)]
    settled_end = max(date_from, min(date_to, _first_unsettled(now, zone)))
    if settled_end < date_to:
        start, end = period(settled_end, date_to, zone)
        figures.append(stats.live(start, end, lambda instant: instant.astimezone(zone).date()))
    return _report(stats, figures, date_from, date_to, zone)


def _first_unsettled(now: datetime, zone: ZoneInfo) -> date:
    """The first business day that has not been over for SETTLE."""
    return (now - SETTLE).astimezone(zone).date()


def _settled(stats: DeliveryStats, date_from: date, date_to: date, zone: ZoneInfo, now: datetime) -> Figures:
    end = max(date_from, min(date_to, _first_unsettled(now, zone)))
    if end == date_from:
        return Figures()
    if not _count_missing(stats, date_from, end, zone, now):
        return stats.live(*period(date_from, end, zone), lambda instant: instant.astimezone(zone).date())
    return stats.from_counted_days(date_from, end)


def _count_missing(stats: DeliveryStats, date_from: date, end: date, zone: ZoneInfo, now: datetime) -> bool:
    """Count the settled days of [date_from, end) not counted yet, and commit; False if another process counted
    some of them at the same moment (its counts stand; this caller counts from the deliveries this once)."""
    counted = stats.counted_days(date_from, end)
    missing = [date_from + timedelta(days=n) for n in range((end - date_from).days)
               if date_from + timedelta(days=n) not in counted]
    if not missing:
        return True
    try:
        for day in missing:
            stats.count_day(day, *period(day, day + timedelta(days=1), zone), now)
        stats.session.commit()
    except IntegrityError:
        stats.session.rollback()
        return False
    log.info("counted the deliveries of %d settled days", len(missing))
    return True


def count_settled_days(session: Session, zone: ZoneInfo, now: datetime) -> int:
    """The beat's hourly housekeeping: count the settled days of the longest period a report may ask for, so that
    reports read counts only (the first count of a year of deliveries takes seconds, longer than a report may)."""
    stats = DeliveryStats(session)
    end = _first_unsettled(now, zone)
    first = end - timedelta(days=MAX_PERIOD_DAYS)
    missing = (end - first).days - len(stats.counted_days(first, end))
    _count_missing(stats, first, end, zone, now)
    return missing


def _report(stats: DeliveryStats, parts: list[Figures], date_from: date, date_to: date,
            zone: ZoneInfo) -> DeliveriesReported:
    by_status: dict[str, int] = dict.fromkeys(STATUSES, 0)
    by_language: Counter[str] = Counter()
    by_error: Counter[str] = Counter()
    days: dict[date, dict[str, int]] = {date_from + timedelta(days=n): dict.fromkeys(STATUSES, 0)
                                        for n in range((date_to - date_from).days)}
    seconds: Counter[int] = Counter()
    for part in parts:
        for status, count in part.statuses.items():
            if status in by_status:
                by_status[status] += count
        by_language.update({language or "unknown": n for language, n in part.languages.items()})
        by_error.update(part.errors)
        for day, counts in part.by_day.items():
            if day in days:
                for status, count in counts.items():
                    if status in days[day]:
                        days[day][status] += count
        seconds.update(part.seconds)
    final = sum(by_status[status] for status in FINAL)
    start, end = period(date_from, date_to, zone)
    return DeliveriesReported(
        date_from=date_from, date_to=date_to, timezone=zone.key, total=sum(by_status.values()),
        by_status=by_status, by_language=dict(_most_first(by_language)),
        by_error=[ErrorCount(error=explained(code or None), count=n) for code, n in _most_first(by_error)],
        delivery_rate=None if final == 0 else round(by_status["delivered"] / final, 4),
        median_seconds_to_delivered=median_seconds(list(seconds.items())),
        daily=[DayCounts(day=day, counts=counts) for day, counts in days.items()],
        banner=_banner(stats, by_error, start, end))


def _most_first(counts: Counter[str]) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def _banner(stats: DeliveryStats, by_error: Counter[str], start: datetime,
            end: datetime) -> AccountBanner | None:
    account = {code: n for code, n in by_error.items() if code in ACCOUNT_CODES and code}
    if not account:
        return None
    last_at = stats.last_with(start, end, sorted(account))
    if last_at is None:  # only on counted days whose deliveries were purged since: no time to show
        last_at = start
    kinds = sorted({p for c in account if (p := explain(c).account_problem)})
    count = sum(account.values())
    return AccountBanner(kinds=kinds, codes=sorted(account), count=count, last_at=last_at,
                         message=f"{count} texts were refused because of the SMS account ({', '.join(kinds)}); "
                                 "nobody received them. Whoever manages the SMS account must fix it.")


def retry_refusal(row: FailedRow, now: datetime) -> tuple[RetryRefusal, str] | None:
    """Why this delivery's text may not be sent once more, or None: it may."""
    if row.retried_at is not None:
        return "already_retried", "This text was already sent once more; it is not retried again."
    if row.status not in BAD:
        return "not_failed", "This text did not fail; there is nothing to retry."
    if not explain(row.error_code).retryable:
        return "not_retryable", "Sending again cannot help with this error; see what to do instead."
    if row.attempt < row.reminder_attempts or row.reminder_status != "failed":
        return "superseded", "The notifier already tried this text again by itself; see its latest attempt."
    if now >= row.not_after:
        return "too_late", "The time for this text has passed; sending it now would only confuse."
    return None


def _cursor(row: FailedRow) -> str:
    return f"{row.created_at.astimezone(UTC).isoformat()}~{row.id}"


def _parse_cursor(cursor: str | None) -> tuple[datetime, int] | None:
    if cursor is None:
        return None
    at, _, delivery_id = cursor.partition("~")
    try:  # made by list_failed; one edited by hand that does not read as an instant starts from the newest
        instant = datetime.fromisoformat(at)
        instant = instant.astimezone(UTC) if instant.tzinfo else instant.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        return None
    return instant, int(delivery_id)


def list_failed(session: Session, asked: FailedDeliveriesRequested, zone: ZoneInfo,
                now: datetime) -> FailedDeliveriesListed:
    start, end = period(asked.date_from, asked.date_to, zone)
    rows = DeliveryStats(session).failed(start, end, asked.limit + 1, _parse_cursor(asked.cursor))
    items = [FailedDelivery(id=row.id, created_at=row.created_at, status=row.status,
                            kind=row.kind, language=row.language, to_masked=row.to_masked,
                            error=explained(row.error_code), retried_at=row.retried_at,
                            retry_refused=(refusal[1] if (refusal := retry_refusal(row, now)) else None))
             for row in rows[:asked.limit]]
    more = len(rows) > asked.limit
    return FailedDeliveriesListed(items=items, next_cursor=_cursor(rows[asked.limit - 1]) if more else None)


def send_again(session: Session, delivery_id: int, now: datetime) -> DeliveryRetried:
    """Queue the failed text again (committed before this returns), or say why not."""
    stats = DeliveryStats(session)
    row = stats.failed_one(delivery_id)
    if row is None:
        return DeliveryRetried(delivery_id=delivery_id, refused="unknown_delivery",
                               message="There is no such text.")
    refusal = retry_refusal(row, now)
    if refusal is None and not stats.claim_retry(row.id, row.reminder_id, now):
        refusal = "already_retried", "This text was already sent once more; it is not retried again."
    if refusal is not None:
        session.rollback()
        return DeliveryRetried(delivery_id=delivery_id, refused=refusal[0], message=refusal[1])
    session.commit()
    log.info("%s message queued again by staff", row.kind)
    return DeliveryRetried(delivery_id=delivery_id, message="The text is queued to be sent again.", retried_at=now)


# --- the query handlers (wired in notifier.app) ------------------------------------------------------------------


def answer_report(envelope: Envelope, session: Session, zone: ZoneInfo, clock: Clock, reply: Reply) -> None:
    asked = envelope.payload_as(DeliveriesReportRequested)
    reply(asked.reply_to, wrap(build_report(session, asked.date_from, asked.date_to, zone, clock()),
                               envelope.correlation_id))


def answer_failed(envelope: Envelope, session: Session, zone: ZoneInfo, clock: Clock, reply: Reply) -> None:
    asked = envelope.payload_as(FailedDeliveriesRequested)
    reply(asked.reply_to, wrap(list_failed(session, asked, zone, clock()), envelope.correlation_id))


def answer_retry(envelope: Envelope, session: Session, clock: Clock, reply: Reply,
                 wake: Callable[[], object]) -> None:
    asked = envelope.payload_as(DeliveryRetryRequested)
    answer = send_again(session, asked.delivery_id, clock())
    if answer.refused is None:
        wake()  # due now: the dispatcher sends it without waiting for the beat's next tick
    reply(asked.reply_to, wrap(answer, envelope.correlation_id))
