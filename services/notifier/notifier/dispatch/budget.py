"""The daily text budget (SMS_DAILY_BUDGET): at most so many texts handed to the provider per business day
(Europe/Berlin, whose days are 23 or 25 hours long when the clocks change). Counted in the database, so it holds
for every notifier process sharing it.

When it is reached, claims stop: the texts stay pending (nothing is lost or skipped) and go out when the next day
begins or the budget is raised. The first time on a day a WARNING is logged and a row is written to
`sms_budget_days` for admins.
"""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from notifier.repository import NotifierRepository

log = logging.getLogger(__name__)


def business_day(now: datetime, zone: ZoneInfo) -> tuple[str, datetime, datetime]:
    """The local day containing `now`, and its first and next day's first instant (aware, in `zone`)."""
    local = now.astimezone(zone).date()
    start = datetime.combine(local, time(0), tzinfo=zone)
    end = datetime.combine(local + timedelta(days=1), time(0), tzinfo=zone)
    return local.isoformat(), start, end


class DailyBudget:
    def __init__(self, budget: int, zone: ZoneInfo) -> None:
        self.budget = budget
        self.zone = zone

    def room(self, repo: NotifierRepository, now: datetime) -> int:
        """How many more texts may be claimed today; 0 (and the day recorded for admins) once it is spent. Call it
        in the transaction that claims, after nothing else: it serialises claims on PostgreSQL."""
        repo.lock_budget()
        day, start, end = business_day(now, self.zone)
        left = self.budget - repo.texts_handed_over(start, end)
        if left > 0:
            return left
        if repo.record_budget_reached(day, self.budget, now):
            log.warning("ALERT daily text budget of %d reached for %s: sending stopped, texts stay queued until the "
                        "next day or until SMS_DAILY_BUDGET is raised", self.budget, day)
        return 0
