"""Sign-in throttling: failures per username and per client address in a sliding window, kept in the database.

A username with `username_failures` failures within `window` is locked for `lockout` after the last of them
(423); a client address with `ip_failures` failures within `window` is refused (429) until the oldest of them
leaves the window. Unknown usernames are counted and locked like real ones, so a lock reveals nothing about
which accounts exist. Attempts refused by the throttle are not counted: the lock ends when it says it ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway.limits import WindowLimit, seconds_until
from gateway.staff.errors import AccountLocked, TooManyAttempts
from gateway.staff.repository import StaffRepository
from gateway.staff.tables import LoginFailure
from shared.crypto import token_hash

USERNAME, IP = "username", "ip"


@dataclass(frozen=True)
class ThrottlePolicy:
    username_failures: int = 5
    ip_failures: int = 20
    window: timedelta = timedelta(minutes=15)
    lockout: timedelta = timedelta(minutes=15)


def subject_hash(scope: str, value: str) -> str:
    """What the failures table and the logs hold instead of a username or an address."""
    return token_hash(f"lotse-staff-{scope}:{value}")


class LoginThrottle:
    def __init__(self, policy: ThrottlePolicy = ThrottlePolicy()) -> None:
        self.policy = policy

    def check(self, staff: StaffRepository, username_subject: str, ip_subject: str, now: datetime) -> None:
        """Raise TooManyAttempts or AccountLocked if this attempt must not even be checked."""
        ip_free_at = self.ip_free_at(staff, ip_subject, now)
        if ip_free_at is not None:
            raise TooManyAttempts("Too many failed sign-ins from this network. Please wait and try again.",
                                  seconds_until(ip_free_at, now))
        locked_until = self.locked_until(staff, username_subject, now)
        if locked_until is not None:
            raise AccountLocked("This account is locked for a while after too many failed sign-ins. "
                                "Please wait and try again.", seconds_until(locked_until, now))

    def ip_free_at(self, staff: StaffRepository, ip_subject: str, now: datetime) -> datetime | None:
        """The sliding window of the public booking path's limits (gateway.limits), over failed sign-ins."""
        limit = WindowLimit(IP, self.policy.ip_failures, self.policy.window)
        return limit.free_at(staff.failure_times(IP, ip_subject, now - limit.window))

    def locked_until(self, staff: StaffRepository, username_subject: str, now: datetime) -> datetime | None:
        policy = self.policy
        times = staff.failure_times(USERNAME, username_subject, now - policy.window - policy.lockout)
        until: datetime | None = None
        for last in range(policy.username_failures - 1, len(times)):
            first = last - policy.username_failures + 1
            if times[last] - times[first] < policy.window and times[last] + policy.lockout > now:
                until = times[last] + policy.lockout
        return until

    def failures_in_window(self, staff: StaffRepository, username_subject: str, now: datetime) -> int:
        return len(staff.failure_times(USERNAME, username_subject, now - self.policy.window))

    def record_failure(self, staff: StaffRepository, username_subject: str, ip_subject: str, now: datetime) -> None:
        staff.add_failures([LoginFailure(scope=USERNAME, subject=username_subject, failed_at=now),
                            LoginFailure(scope=IP, subject=ip_subject, failed_at=now)])

    def clear(self, staff: StaffRepository, username_subject: str) -> None:
        """A successful sign-in (or an admin's unlock) forgets the username's failures; the address keeps its."""
        staff.clear_failures(USERNAME, username_subject)

    def purge(self, staff: StaffRepository, now: datetime) -> int:
        """Housekeeping: failures older than the window and the lockout decide nothing any more."""
        return staff.delete_failures_until(now - self.policy.window - self.policy.lockout)
