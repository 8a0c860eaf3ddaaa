"""Limits on the public booking path: bookings, cancellations and searches per client address and per phone
number in sliding windows, and the appointments one number may hold. Kept in the database (`rate_events`,
`booking_requests.phone_hash`), so they hold across gateway replicas sharing it.

The sliding window is the one the staff sign-in throttle uses (gateway.staff.limits): `WindowLimit.free_at`.
Addresses and numbers are stored only as keyed hashes (HMAC with the data key): a leaked table names no one.
Only what was let through is counted: a refused request does not push the end of the wait further out, so the
Retry-After given is the truth.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine

from gateway.errors import TooManyAppointments, TooManyRequests
from gateway.metrics import LIMITED
from gateway.repository import GatewayRepository
from shared.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)
HOUR, DAY, MINUTE = timedelta(hours=1), timedelta(days=1), timedelta(minutes=1)
# Answered when the appointments a number holds are all still pending (their start is not known yet).
PENDING_RETRY_SECONDS = 60


@dataclass(frozen=True)
class WindowLimit:
    """At most `limit` events of one subject within any `window`."""

    scope: str
    limit: int
    window: timedelta

    def free_at(self, times: list[datetime]) -> datetime | None:
        """When the next event may happen, given the subject's events within the window (oldest first); None
        when one may happen now."""
        excess = len(times) - self.limit
        if excess < 0:
            return None
        return times[excess] + self.window


def seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds()))


@dataclass(frozen=True)
class ClientLimitPolicy:
    """What GatewaySettings asks for (README, "Configuration"); the defaults are safe for one counselling
    service's clients, most of whom book once."""

    bookings_per_address_hour: int = 10
    bookings_per_address_day: int = 30
    bookings_per_phone_hour: int = 3
    bookings_per_phone_day: int = 5
    cancels_per_address_hour: int = 10
    cancels_per_phone_day: int = 5
    future_appointments_per_phone: int = 3
    searches_per_address_minute: int = 60


@dataclass(frozen=True)
class Counted:
    """What a request counts against: the limits of its address and of its number (if it has one)."""

    name: str  # the label of the metric lotse_gateway_limited_total
    by_address: tuple[WindowLimit, ...]
    by_phone: tuple[WindowLimit, ...] = ()


BOOK_WORDS = "Too many bookings were made from this connection or for this phone number. Please try again later."
CANCEL_WORDS = "Too many cancellations were made from this connection or for this phone number. Please try again later."
SEARCH_WORDS = "Too many searches came from this connection. Please wait a moment and try again."


class ClientLimits:
    def __init__(self, policy: ClientLimitPolicy, keyed_hash: Callable[[str], str], engine: Engine,
                 clock: Callable[[], datetime]) -> None:
        self.policy = policy
        self._hash = keyed_hash
        self.uow = UnitOfWork(engine, GatewayRepository)
        self.clock = clock
        p = policy
        self.booking = Counted(
            "bookings",
            (WindowLimit("book-ip-h", p.bookings_per_address_hour, HOUR),
             WindowLimit("book-ip-d", p.bookings_per_address_day, DAY)),
            (WindowLimit("book-tel-h", p.bookings_per_phone_hour, HOUR),
             WindowLimit("book-tel-d", p.bookings_per_phone_day, DAY)))
        self.cancel = Counted("cancellations", (WindowLimit("cancel-ip-h", p.cancels_per_address_hour, HOUR),),
                              (WindowLimit("cancel-tel-d", p.cancels_per_phone_day, DAY),))
        self.search = Counted("searches", (WindowLimit("search-ip-m", p.searches_per_address_minute, MINUTE),))

    def address_subject(self, address: str) -> str:
        return self._hash(f"lotse-client-address:{address}")

    def phone_subject(self, e164: str) -> str:
        """The keyed hash that stands for a number here (rate events and booking_requests.phone_hash)."""
        return self._hash(f"lotse-client-phone:{e164}")

    def take(self, repository: GatewayRepository, counted: Counted, words: str, address: str,
             phone_subject: str | None, now: datetime) -> None:
        """Count one request, or raise TooManyRequests (nothing counted) if any of its limits is reached. Run it
        in the transaction that does the request, so that a refused request leaves nothing behind."""
        subjects = [(limit, self.address_subject(address)) for limit in counted.by_address]
        if phone_subject is not None:
            subjects += [(limit, phone_subject) for limit in counted.by_phone]
        repository.lock_subjects([subject for _limit, subject in subjects])
        waits = {limit.scope: free for limit, subject in subjects
                 if (free := limit.free_at(repository.rate_event_times(limit.scope, subject, now - limit.window)))}
        if waits:
            LIMITED.labels(counted.name).inc()
            # Which limits, never whose: no address, number or hash in the line.
            log.info("%s refused: limit reached (%s)", counted.name, ", ".join(waits))
            raise TooManyRequests(words, seconds_until(max(waits.values()), now))
        repository.add_rate_events([(limit.scope, subject) for limit, subject in subjects], now)

    def take_search(self, address: str) -> None:
        """Count one slot search from this address (its own transaction), or raise TooManyRequests."""
        with self.uow() as repository:
            self.take(repository, self.search, SEARCH_WORDS, address, None, self.clock())

    def check_appointments(self, repository: GatewayRepository, phone_subject: str, now: datetime) -> None:
        """TooManyAppointments when this number already holds as many appointments that have not begun as allowed;
        Retry-After is when the first of them begins (a minute while they are all still being decided)."""
        starts = repository.upcoming_starts(phone_subject, now)
        if len(starts) < self.policy.future_appointments_per_phone:
            return
        first = starts[0]
        LIMITED.labels("appointments").inc()
        raise TooManyAppointments(
            f"This phone number already has {len(starts)} appointments that have not taken place yet. Please "
            "cancel one with the link in its text message before you book another.",
            PENDING_RETRY_SECONDS if first is None else seconds_until(first, now))

    def purge(self) -> int:
        """Housekeeping: events older than the longest window decide nothing any more."""
        with self.uow() as repository:
            return repository.delete_rate_events_until(self.clock() - DAY)
