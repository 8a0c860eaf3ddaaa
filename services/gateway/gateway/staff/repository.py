"""Queries over the staff tables (accounts, sessions, failed sign-ins); the only staff module that builds SQL.

Used inside one transaction: `UnitOfWork(engine, StaffRepository)`. The statements are the same on PostgreSQL and
SQLite.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, delete, or_, select, update

from gateway.staff.tables import LoginFailure, StaffAccount, StaffSession


class StaffRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # --- accounts ----------------------------------------------------------------------------------------------

    def account(self, staff_id: int) -> StaffAccount | None:
        return self.session.get(StaffAccount, staff_id)

    def account_by_username(self, username: str) -> StaffAccount | None:
        return self.session.exec(select(StaffAccount).where(col(StaffAccount.username) == username)).first()

    def accounts(self) -> list[StaffAccount]:
        return list(self.session.exec(select(StaffAccount).order_by(col(StaffAccount.username))).all())

    def add_account(self, account: StaffAccount) -> StaffAccount:
        """Written at once, so that it has its id (IntegrityError when the username is taken meanwhile)."""
        self.session.add(account)
        self.session.flush()
        return account

    def save_account(self, account: StaffAccount) -> None:
        self.session.add(account)

    # --- sessions ----------------------------------------------------------------------------------------------

    def add_session(self, row: StaffSession) -> None:
        self.session.add(row)
        self.session.flush()

    def session_by_hash(self, token_hash: str) -> StaffSession | None:
        return self.session.get(StaffSession, token_hash)

    def save_session(self, row: StaffSession) -> None:
        self.session.add(row)

    def revoke_session(self, token_hash: str, now: datetime) -> None:
        self.session.exec(update(StaffSession)
                          .where(col(StaffSession.token_hash) == token_hash, col(StaffSession.revoked_at).is_(None))
                          .values(revoked_at=now))

    def revoke_sessions_of(self, staff_id: int, now: datetime) -> int:
        result = self.session.exec(update(StaffSession)
                                   .where(col(StaffSession.staff_id) == staff_id,
                                          col(StaffSession.revoked_at).is_(None))
                                   .values(revoked_at=now))
        return int(result.rowcount or 0)

    def delete_ended_sessions(self, now: datetime, idle_since: datetime) -> int:
        """Sessions past their expiry, idle since before `idle_since`, or revoked."""
        result = self.session.exec(delete(StaffSession).where(
            or_(col(StaffSession.expires_at) <= now,
                col(StaffSession.last_seen_at) <= idle_since,
                col(StaffSession.revoked_at).is_not(None))))
        return int(result.rowcount or 0)

    # --- failed sign-ins ---------------------------------------------------------------------------------------

    def add_failures(self, failures: list[LoginFailure]) -> None:
        self.session.add_all(failures)
        self.session.flush()

    def failure_times(self, scope: str, subject: str, since: datetime) -> list[datetime]:
        """When `subject` failed after `since`, oldest first."""
        return list(self.session.exec(
            select(LoginFailure.failed_at)
            .where(col(LoginFailure.scope) == scope, col(LoginFailure.subject) == subject,
                   col(LoginFailure.failed_at) > since)
            .order_by(col(LoginFailure.failed_at))
        ).all())

    def clear_failures(self, scope: str, subject: str) -> None:
        self.session.exec(delete(LoginFailure).where(col(LoginFailure.scope) == scope,
                                                     col(LoginFailure.subject) == subject))

    def delete_failures_until(self, moment: datetime) -> int:
        result = self.session.exec(delete(LoginFailure).where(col(LoginFailure.failed_at) <= moment))
        return int(result.rowcount or 0)
