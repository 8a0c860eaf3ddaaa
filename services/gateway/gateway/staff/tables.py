"""The gateway's staff tables: accounts, sessions (token hashes only), failed sign-ins for throttling, what
two-factor sign-in and password-reset links keep (TOTP secrets encrypted, recovery codes and tokens as hashes), and
the audit log of what staff did (append-only: the database refuses to change or delete its rows, gateway.staff.audit).

Staff identities live in the gateway so that passwords and session tokens never cross the broker; the scheduler
knows a counsellor only by its id, which an account of role counsellor carries.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Column, ForeignKey, Index, Integer
from sqlmodel import Field, SQLModel

from shared.db import UtcDateTime, instant_column


def _utcnow() -> datetime:
    return datetime.now(UTC)


class StaffAccount(SQLModel, table=True):
    __tablename__ = "staff_accounts"
    id: int | None = Field(default=None, primary_key=True)
    # Stored normalised (NFKC, case-folded), so the unique index makes usernames unique regardless of case.
    username: str = Field(max_length=64, unique=True)
    display_name: str = Field(max_length=80)
    role: str = Field(max_length=16)  # counsellor, admin
    counsellor_id: int | None = None  # the scheduler's counsellor id; set for counsellors, null for admins
    password_hash: str = Field(max_length=255)  # argon2id, PHC string with its parameters
    active: bool = True
    # Mirrors of the sign-in throttle (staff_login_failures is the authority) so the admin list can show them.
    failed_logins: int = 0
    locked_until: datetime | None = Field(default=None, sa_column=instant_column(nullable=True))
    created_at: datetime = Field(default_factory=_utcnow, sa_column=instant_column())
    updated_at: datetime = Field(default_factory=_utcnow, sa_column=instant_column())
    # TOTP: the secret under DATA_KEY (shared.crypto.DataCipher, bound to the account id); set but not enabled
    # while an enrolment waits for its first code. The last time step a code was accepted for, so a code
    # cannot be used twice (compared and set in one UPDATE, so two replicas cannot both accept it).
    totp_secret_ciphertext: str | None = Field(default=None, max_length=255)
    totp_enabled_at: datetime | None = Field(default=None, sa_column=instant_column(nullable=True))
    totp_last_step: int | None = None


class StaffSession(SQLModel, table=True):
    __tablename__ = "staff_sessions"
    token_hash: str = Field(primary_key=True, max_length=64)  # SHA-256 of the cookie's token; never the token
    staff_id: int = Field(sa_column=Column(Integer, ForeignKey("staff_accounts.id", ondelete="CASCADE"),
                                           nullable=False, index=True))
    created_at: datetime = Field(sa_column=instant_column())
    last_seen_at: datetime = Field(sa_column=instant_column())
    expires_at: datetime = Field(sa_column=instant_column(index=True))  # absolute end, however active
    revoked_at: datetime | None = Field(default=None, sa_column=instant_column(nullable=True))


class LoginFailure(SQLModel, table=True):
    """One failed sign-in, counted per username and per client address in a sliding window.

    Kept in the database, not in the process, so the limits hold across gateway replicas; the subject is a hash,
    so neither a mistyped username (often a password) nor an IP address is stored in clear.
    """

    __tablename__ = "staff_login_failures"
    __table_args__ = (Index("ix_staff_login_failures_subject", "scope", "subject", "failed_at"),)
    id: int | None = Field(default=None, primary_key=True)
    scope: str = Field(max_length=8)  # username, ip
    subject: str = Field(max_length=64)
    failed_at: datetime = Field(sa_column=instant_column())


def _account_id() -> Column[int]:
    return Column(Integer, ForeignKey("staff_accounts.id", ondelete="CASCADE"), nullable=False, index=True)


class RecoveryCode(SQLModel, table=True):
    """A one-time code for signing in without the authenticator app; only its keyed hash is kept."""

    __tablename__ = "staff_recovery_codes"
    id: int | None = Field(default=None, primary_key=True)
    staff_id: int = Field(sa_column=_account_id())
    code_hash: str = Field(max_length=64)
    created_at: datetime = Field(sa_column=instant_column())
    used_at: datetime | None = Field(default=None, sa_column=instant_column(nullable=True))


class PendingSignIn(SQLModel, table=True):
    """The right password of an account with two-factor sign-in: waits a few minutes for the code, is no session."""

    __tablename__ = "staff_pending_sign_ins"
    token_hash: str = Field(primary_key=True, max_length=64)
    staff_id: int = Field(sa_column=_account_id())
    created_at: datetime = Field(sa_column=instant_column())
    expires_at: datetime = Field(sa_column=instant_column())


class PasswordReset(SQLModel, table=True):
    """A one-time link an admin made for setting a new password; only the token's hash is kept."""

    __tablename__ = "staff_password_resets"
    token_hash: str = Field(primary_key=True, max_length=64)
    staff_id: int = Field(sa_column=_account_id())
    created_by: int | None = None  # the admin's account id; null when made by a command
    created_at: datetime = Field(sa_column=instant_column())
    expires_at: datetime = Field(sa_column=instant_column())
    used_at: datetime | None = Field(default=None, sa_column=instant_column(nullable=True))


class StaffAuditEntry(SQLModel, table=True):
    """One staff action on personal data or configuration: who (the account and its username then), when, what,
    on what, with what outcome and from where. Never a typed username that matched no account (it may be a
    password: `username_hash` holds a keyed hash instead), a reason's text, a message or a token.

    Migration 0007 adds triggers: UPDATE and TRUNCATE are refused, and DELETE too unless the same transaction has
    written a `staff_audit_purge` row naming an instant the row is older than (the retention purge, the one delete
    the log allows)."""

    __tablename__ = "staff_audit"
    # Every listing walks (at, id) newest first, whole or after one filter (bench/audit_queries.py measured them).
    __table_args__ = (Index("ix_staff_audit_at", "at", "id"),
                      Index("ix_staff_audit_staff", "staff_id", "at", "id"),
                      Index("ix_staff_audit_username", "username", "at", "id"),
                      Index("ix_staff_audit_action", "action", "at", "id"),
                      Index("ix_staff_audit_target", "target_kind", "target_id", "at", "id"))
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_column=instant_column())
    staff_id: int | None = None  # no foreign key: the log outlives any change to the accounts
    username: str | None = Field(default=None, max_length=64)
    username_hash: str | None = Field(default=None, max_length=64)
    action: str = Field(max_length=32)
    target_kind: str | None = Field(default=None, max_length=24)
    target_id: str | None = Field(default=None, max_length=64)
    outcome: str = Field(max_length=16)  # ok, refused, unanswered
    source: str = Field(max_length=64)  # the client's address as the gateway sees it (gateway.forwarding), or cli
    detail_json: str | None = Field(default=None, max_length=1000)


class StaffAuditPurge(SQLModel, table=True):
    """The retention purge's permission: while its transaction holds a row here, audit rows older than
    `purge_before` may be deleted. Empty at every other moment (the purge removes its row before it commits)."""

    __tablename__ = "staff_audit_purge"
    purge_before: datetime = Field(sa_column=Column(UtcDateTime(), primary_key=True))


STAFF_TABLES = (StaffAccount, StaffSession, LoginFailure, RecoveryCode, PendingSignIn, PasswordReset, StaffAuditEntry,
                StaffAuditPurge)
