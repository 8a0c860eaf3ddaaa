"""Queries over the staff tables (accounts, sessions, failed sign-ins, two-factor, reset links); the only staff
module that builds SQL.

Used inside one transaction: `UnitOfWork(engine, StaffRepository)`. The statements are the same on PostgreSQL and
SQLite.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, delete, func, or_, select, update

from gateway.staff.tables import (
    LoginFailure,
    PasswordReset,
    PendingSignIn,
    RecoveryCode,
    StaffAccount,
    StaffSession,
)


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

    def claim_totp_step(self, staff_id: int, step: int) -> bool:
        """Whether `step` is later than any step a code was accepted for before; if so it is now the last one.
        One conditional UPDATE, so of two replicas given the same code at once only one succeeds."""
        self.session.flush()
        result = self.session.exec(update(StaffAccount)
                                   .where(col(StaffAccount.id) == staff_id,
                                          or_(col(StaffAccount.totp_last_step).is_(None),
                                              col(StaffAccount.totp_last_step) < step))
                                   .values(totp_last_step=step)
                                   .execution_options(synchronize_session="fetch"))
        return int(result.rowcount or 0) == 1

    # --- recovery codes ----------------------------------------------------------------------------------------

    def replace_recovery_codes(self, staff_id: int, code_hashes: list[str], now: datetime) -> None:
        self.delete_recovery_codes(staff_id)
        self.session.add_all([RecoveryCode(staff_id=staff_id, code_hash=h, created_at=now) for h in code_hashes])
        self.session.flush()

    def delete_recovery_codes(self, staff_id: int) -> None:
        self.session.exec(delete(RecoveryCode).where(col(RecoveryCode.staff_id) == staff_id))

    def use_recovery_code(self, staff_id: int, code_hash: str, now: datetime) -> bool:
        """Marks the unused code with this hash used; False if there is none (unknown, or used before)."""
        result = self.session.exec(update(RecoveryCode)
                                   .where(col(RecoveryCode.staff_id) == staff_id,
                                          col(RecoveryCode.code_hash) == code_hash,
                                          col(RecoveryCode.used_at).is_(None))
                                   .values(used_at=now))
        return int(result.rowcount or 0) >= 1

    def recovery_codes_left(self, staff_id: int) -> int:
        return int(self.session.exec(select(func.count()).select_from(RecoveryCode)
                                     .where(col(RecoveryCode.staff_id) == staff_id,
                                            col(RecoveryCode.used_at).is_(None))).one())

    # --- pending sign-ins (password right, code awaited) -------------------------------------------------------

    def add_pending_sign_in(self, row: PendingSignIn) -> None:
        self.session.add(row)
        self.session.flush()

    def pending_sign_in(self, token_hash: str) -> PendingSignIn | None:
        return self.session.get(PendingSignIn, token_hash)

    def delete_pending_sign_in(self, token_hash: str) -> bool:
        result = self.session.exec(delete(PendingSignIn).where(col(PendingSignIn.token_hash) == token_hash))
        return int(result.rowcount or 0) == 1

    def delete_pending_sign_ins_of(self, staff_id: int) -> None:
        self.session.exec(delete(PendingSignIn).where(col(PendingSignIn.staff_id) == staff_id))

    def delete_ended_pending_sign_ins(self, now: datetime) -> int:
        result = self.session.exec(delete(PendingSignIn).where(col(PendingSignIn.expires_at) <= now))
        return int(result.rowcount or 0)

    # --- password-reset links ----------------------------------------------------------------------------------

    def add_password_reset(self, row: PasswordReset) -> None:
        self.session.add(row)
        self.session.flush()

    def password_reset(self, token_hash: str) -> PasswordReset | None:
        return self.session.get(PasswordReset, token_hash)

    def use_password_reset(self, token_hash: str, now: datetime) -> bool:
        """Marks the link used if it still is unused and unexpired; False otherwise (single use across replicas)."""
        result = self.session.exec(update(PasswordReset)
                                   .where(col(PasswordReset.token_hash) == token_hash,
                                          col(PasswordReset.used_at).is_(None),
                                          col(PasswordReset.expires_at) > now)
                                   .values(used_at=now))
        return int(result.rowcount or 0) == 1

    def delete_password_resets_of(self, staff_id: int) -> None:
        self.session.exec(delete(PasswordReset).where(col(PasswordReset.staff_id) == staff_id))

    def delete_ended_password_resets(self, now: datetime) -> int:
        result = self.session.exec(delete(PasswordReset).where(
            or_(col(PasswordReset.expires_at) <= now, col(PasswordReset.used_at).is_not(None))))
        return int(result.rowcount or 0)

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
