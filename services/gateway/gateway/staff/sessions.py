"""Staff sessions: a random bearer token in an HTTP-only cookie, stored only as its SHA-256 hash.

A session ends at the first of: its absolute expiry (12 h after sign-in), an hour without a request, sign-out,
a password change or the account's deactivation. The CSRF token is derived from the session token with HMAC, so
it needs no storage, cannot be guessed without the cookie, and a server-rendered page can embed it again.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway.staff.repository import StaffRepository
from gateway.staff.tables import StaffSession
from shared.crypto import new_token, token_hash

CSRF_PURPOSE = b"lotse-staff-csrf"


@dataclass(frozen=True)
class SessionPolicy:
    absolute: timedelta = timedelta(hours=12)
    idle: timedelta = timedelta(hours=1)
    # last_seen_at is written at most this often, so reading pages does not turn every request into a write.
    touch_every: timedelta = timedelta(minutes=1)


@dataclass(frozen=True)
class IssuedSession:
    token: str
    csrf_token: str
    expires_at: datetime


def csrf_token_for(token: str) -> str:
    digest = hmac.new(token.encode(), CSRF_PURPOSE, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def csrf_matches(token: str, presented: str | None) -> bool:
    return presented is not None and hmac.compare_digest(csrf_token_for(token).encode(), presented.encode())


class StaffSessions:
    def __init__(self, policy: SessionPolicy = SessionPolicy()) -> None:
        self.policy = policy

    def issue(self, staff: StaffRepository, staff_id: int, now: datetime) -> IssuedSession:
        token = new_token()
        expires_at = now + self.policy.absolute
        staff.add_session(StaffSession(token_hash=token_hash(token), staff_id=staff_id, created_at=now,
                                       last_seen_at=now, expires_at=expires_at))
        return IssuedSession(token=token, csrf_token=csrf_token_for(token), expires_at=expires_at)

    def find(self, staff: StaffRepository, token: str, now: datetime) -> StaffSession | None:
        """The live session for this token, its idle clock restarted; None if it is unknown or has ended."""
        if not 16 <= len(token) <= 64:
            return None
        row = staff.session_by_hash(token_hash(token))
        if row is None or row.revoked_at is not None or now >= row.expires_at:
            return None
        if now >= row.last_seen_at + self.policy.idle:
            return None
        if now - row.last_seen_at >= self.policy.touch_every:
            row.last_seen_at = now
            staff.save_session(row)
        return row

    def revoke(self, staff: StaffRepository, key: str, now: datetime) -> None:
        staff.revoke_session(key, now)

    def revoke_all(self, staff: StaffRepository, staff_id: int, now: datetime) -> int:
        return staff.revoke_sessions_of(staff_id, now)

    def purge(self, staff: StaffRepository, now: datetime) -> int:
        """Housekeeping: sessions that have ended for any reason are deleted."""
        return staff.delete_ended_sessions(now, idle_since=now - self.policy.idle)
