"""Staff accounts: create, sign in (throttled), sessions, change password, deactivate; who may see which calendar.

Passwords are argon2id hashes (argon2-cffi's PasswordHasher, RFC 9106 parameters) and are re-hashed at sign-in
when the parameters change. An unknown username costs the same hash verification as a known one, and unknown
username, wrong password and inactive account get the same answer. Logs name an account id or a username hash.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, NoReturn

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from gateway.errors import Throttled
from gateway.staff.audit import COMMAND_LINE, Action, Actor, AuditLog, Event, Outcome, TargetKind
from gateway.staff.errors import (
    AccessDenied,
    InvalidCredentials,
    InvalidStaffAccount,
    StaffAccountNotFound,
    UsernameTaken,
    WeakPassword,
)
from gateway.staff.limits import IP, USERNAME, LoginThrottle, subject_hash
from gateway.staff.repository import StaffRepository
from gateway.staff.sessions import StaffSessions, csrf_token_for
from gateway.staff.tables import StaffAccount
from shared.clock import Clock, system_clock
from shared.crypto import new_token
from shared.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

Role = Literal["counsellor", "admin"]
ROLES: tuple[Role, ...] = ("counsellor", "admin")
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256
USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,63}$")


@dataclass(frozen=True)
class Staff:
    """A signed-in staff member as routes see them."""

    id: int
    username: str
    name: str
    role: Role
    counsellor_id: int | None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def may_access_calendar(self, counsellor_id: int) -> bool:
        return self.is_admin or (self.role == "counsellor" and self.counsellor_id == counsellor_id)


@dataclass(frozen=True)
class AccountSummary:
    staff: Staff
    active: bool
    failed_logins: int
    locked_until: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class SignedIn:
    staff: Staff
    token: str
    csrf_token: str
    expires_at: datetime


@dataclass(frozen=True)
class CurrentSession:
    staff: Staff
    key: str  # the token's hash, which names the session in the database
    token: str
    csrf_token: str


def normalise_username(raw: str) -> str:
    return unicodedata.normalize("NFKC", raw).strip().casefold()


def check_password_strength(password: str, username: str = "") -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"The password is too short: use at least {MIN_PASSWORD_LENGTH} characters "
                           "(a few unrelated words make a good one).")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise WeakPassword(f"The password is too long: use at most {MAX_PASSWORD_LENGTH} characters.")
    if username and normalise_username(password) == normalise_username(username):
        raise WeakPassword("The password must not be the username.")
    if len(set(password)) < 4:
        raise WeakPassword("The password repeats too few characters; use a few unrelated words.")


def ensure_admin(staff: Staff) -> None:
    if not staff.is_admin:
        raise AccessDenied("This needs an admin account.")


def ensure_calendar_access(staff: Staff, counsellor_id: int) -> None:
    if not staff.may_access_calendar(counsellor_id):
        raise AccessDenied("You can only see and change your own calendar; this one belongs to another counsellor.")


def _staff(row: StaffAccount) -> Staff:
    assert row.id is not None
    return Staff(id=row.id, username=row.username, name=row.display_name, role=row.role,  # type: ignore[arg-type]
                 counsellor_id=row.counsellor_id)


class StaffAccounts:
    def __init__(self, engine: Engine, clock: Clock = system_clock, hasher: PasswordHasher | None = None,
                 throttle: LoginThrottle | None = None, sessions: StaffSessions | None = None,
                 audit: AuditLog | None = None) -> None:
        self.uow = UnitOfWork(engine, StaffRepository)
        self.clock = clock
        # Sign-ins, password changes and account changes are written to it in their own transactions.
        self.audit = audit or AuditLog(engine, clock)
        self.hasher = hasher or PasswordHasher()
        self.throttle = throttle or LoginThrottle()
        self.sessions = sessions or StaffSessions()
        # Verified against when the username is unknown, so that case costs what a wrong password costs.
        self._dummy_hash = self.hasher.hash(new_token())

    # --- accounts --------------------------------------------------------------------------------------------

    def create(self, username: str, display_name: str, role: str, password: str,
               counsellor_id: int | None = None, by: Actor = COMMAND_LINE) -> Staff:
        key = normalise_username(username)
        if not USERNAME_PATTERN.match(key):
            raise InvalidStaffAccount("The username must be 2 to 64 letters a-z, digits, '.', '_', '@' or '-', "
                                      "starting with a letter or digit.")
        display_name = display_name.strip() or key
        if len(display_name) > 80:
            raise InvalidStaffAccount("The display name must be at most 80 characters.")
        if role not in ROLES:
            raise InvalidStaffAccount("The role must be 'counsellor' or 'admin'.")
        if role == "counsellor" and (counsellor_id is None or counsellor_id < 1):
            raise InvalidStaffAccount("A counsellor account needs the scheduler's counsellor id (--counsellor-id).")
        if role == "admin" and counsellor_id is not None:
            raise InvalidStaffAccount("An admin account sees every calendar and has no counsellor id.")
        check_password_strength(password, key)
        now = self.clock()
        row = StaffAccount(username=key, display_name=display_name, role=role, counsellor_id=counsellor_id,
                           password_hash=self.hasher.hash(password), created_at=now, updated_at=now)
        try:
            with self.uow() as repository:
                if repository.account_by_username(key) is not None:
                    raise UsernameTaken(f"The username {key!r} is already taken.")
                staff = _staff(repository.add_account(row))
                self.audit.write(repository.session, by, Event(Action.ACCOUNT_CREATED, target_kind=TargetKind.ACCOUNT,
                                                               target_id=staff.id, detail={"role": role}))
        except IntegrityError:
            raise UsernameTaken(f"The username {key!r} is already taken.") from None
        log.info("staff account %d created (role %s)", staff.id, role)
        return staff

    def get(self, staff_id: int) -> Staff:
        with self.uow() as repository:
            row = repository.account(staff_id)
            if row is None:
                raise StaffAccountNotFound("There is no staff account with this id.")
            return _staff(row)

    def list_accounts(self) -> list[AccountSummary]:
        with self.uow() as repository:
            rows = repository.accounts()
            return [AccountSummary(staff=_staff(row), active=row.active, failed_logins=row.failed_logins,
                                   locked_until=row.locked_until, created_at=row.created_at) for row in rows]

    def change_password(self, staff_id: int, current: str, new: str, client_address: str) -> None:
        """Needs the current password, throttled like a sign-in; every session of the account ends."""
        now = self.clock()
        with self.uow() as repository:
            row = self._row(repository, staff_id)
            user_subject, ip_subject = subject_hash(USERNAME, row.username), subject_hash(IP, client_address)
        actor = Actor(staff_id, row.username, client_address)
        refused = Event(Action.PASSWORD_CHANGED, Outcome.REFUSED, TargetKind.ACCOUNT, staff_id,
                        {"reason": "wrong_current_password"})
        self._throttle_check(user_subject, ip_subject, now, actor, refused)
        if not self._verify(row.password_hash, current):
            self._refuse(row, user_subject, ip_subject, now, "wrong current password at password change",
                         actor, refused)
        try:
            check_password_strength(new, row.username)
        except WeakPassword:
            self.audit.record(actor, Event(Action.PASSWORD_CHANGED, Outcome.REFUSED, TargetKind.ACCOUNT, staff_id,
                                           {"reason": "weak_password"}))
            raise
        with self.uow() as repository:
            self.throttle.clear(repository, user_subject)
        self._set_password(staff_id, self.hasher.hash(new),
                           Actor(staff_id, row.username, client_address),
                           Event(Action.PASSWORD_CHANGED, target_kind=TargetKind.ACCOUNT, target_id=staff_id))
        log.info("staff account %d changed its password; its sessions were ended", staff_id)

    def deactivate(self, staff_id: int, by: Actor = COMMAND_LINE) -> None:
        now = self.clock()
        with self.uow() as repository:
            row = self._row(repository, staff_id)
            row.active = False
            row.updated_at = now
            repository.save_account(row)
            self.sessions.revoke_all(repository, staff_id, now)
            self.audit.write(repository.session, by, Event(Action.ACCOUNT_DEACTIVATED, target_kind=TargetKind.ACCOUNT,
                                                           target_id=staff_id))
        log.info("staff account %d deactivated; its sessions were ended", staff_id)

    def unlock(self, staff_id: int, by: Actor = COMMAND_LINE) -> None:
        with self.uow() as repository:
            row = self._row(repository, staff_id)
            self.throttle.clear(repository, subject_hash(USERNAME, row.username))
            row.failed_logins, row.locked_until, row.updated_at = 0, None, self.clock()
            repository.save_account(row)
            self.audit.write(repository.session, by, Event(Action.ACCOUNT_UNLOCKED, target_kind=TargetKind.ACCOUNT,
                                                           target_id=staff_id))
        log.info("staff account %d unlocked", staff_id)

    # --- signing in and out ----------------------------------------------------------------------------------

    def authenticate(self, username: str, password: str, client_address: str) -> SignedIn:
        """A new session for the right password; InvalidCredentials, AccountLocked or TooManyAttempts if not."""
        now = self.clock()
        key = normalise_username(username)
        user_subject, ip_subject = subject_hash(USERNAME, key), subject_hash(IP, client_address)
        with self.uow() as repository:
            row = repository.account_by_username(key)
        # Who tried: the account the username names, or (none does) only a keyed hash of what was typed.
        actor = (Actor(row.id, row.username, client_address) if row is not None
                 else Actor(None, None, client_address, self.audit.hash_of_typed_username(key)))
        self._throttle_check(user_subject, ip_subject, now, actor, Event(Action.SIGN_IN_FAILED, Outcome.REFUSED))
        # The hash is verified outside any transaction: it takes tens of milliseconds and SQLite's BEGIN IMMEDIATE
        # would hold the database's write lock all that time.
        stored = row.password_hash if row is not None else self._dummy_hash
        password_ok = self._verify(stored, password)
        if row is None or not row.active or not password_ok:
            reason = ("unknown username" if row is None else "inactive account" if not row.active
                      else "wrong password")
            self._refuse(row, user_subject, ip_subject, now, reason, actor,
                         Event(Action.SIGN_IN_FAILED, Outcome.REFUSED, detail={"reason": reason.replace(" ", "_")}))
        assert row is not None and row.id is not None
        with self.uow() as repository:
            fresh = repository.account(row.id)
            if fresh is None or not fresh.active or fresh.password_hash != stored:
                # Deactivated or given a new password while this password was being checked.
                raise InvalidCredentials()
            self.throttle.clear(repository, user_subject)
            fresh.failed_logins, fresh.locked_until = 0, None
            if self.hasher.check_needs_rehash(fresh.password_hash):
                fresh.password_hash = self.hasher.hash(password)
                fresh.updated_at = now
                log.info("staff account %d: password re-hashed with the current parameters", row.id)
            repository.save_account(fresh)
            issued = self.sessions.issue(repository, row.id, now)
            staff = _staff(fresh)
            self.audit.write(repository.session, actor, Event(Action.SIGN_IN))
        log.info("staff account %d signed in", staff.id)
        return SignedIn(staff=staff, token=issued.token, csrf_token=issued.csrf_token, expires_at=issued.expires_at)

    def current(self, token: str) -> CurrentSession | None:
        """The session a cookie names, if it is still open and its account still active."""
        now = self.clock()
        with self.uow() as repository:
            found = self.sessions.find(repository, token, now)
            if found is None:
                return None
            row = repository.account(found.staff_id)
            if row is None or not row.active:
                return None
            return CurrentSession(staff=_staff(row), key=found.token_hash, token=token,
                                  csrf_token=csrf_token_for(token))

    def sign_out(self, current: CurrentSession, client_address: str = "unknown") -> None:
        with self.uow() as repository:
            self.sessions.revoke(repository, current.key, self.clock())
            self.audit.write(repository.session, Actor(current.staff.id, current.staff.username, client_address),
                             Event(Action.SIGN_OUT))
        log.info("staff account %d signed out", current.staff.id)

    def housekeeping(self) -> tuple[int, int]:
        """Delete ended sessions and failures too old to matter, returning how many of each, and audit rows past
        their retention."""
        now = self.clock()
        with self.uow() as repository:
            ended = self.sessions.purge(repository, now), self.throttle.purge(repository, now)
        self.audit.purge()  # audit rows past the retention, in a transaction of its own
        return ended

    # --- internals ---------------------------------------------------------------------------------------------

    def _verify(self, stored: str, password: str) -> bool:
        try:
            return self.hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    def _throttle_check(self, user_subject: str, ip_subject: str, now: datetime, actor: Actor, refused: Event) -> None:
        """The throttle's refusal (locked, too many attempts) is recorded, with its code as the reason."""
        try:
            with self.uow() as repository:
                self.throttle.check(repository, user_subject, ip_subject, now)
        except Throttled as throttled:
            self.audit.record(actor, Event(refused.action, Outcome.REFUSED, refused.target_kind, refused.target_id,
                                           {"reason": throttled.code}))
            raise

    def _refuse(self, row: StaffAccount | None, user_subject: str, ip_subject: str, now: datetime,
                reason: str, actor: Actor, refused: Event) -> NoReturn:
        with self.uow() as repository:
            self.audit.write(repository.session, actor, refused)
            self.throttle.record_failure(repository, user_subject, ip_subject, now)
            locked_until = self.throttle.locked_until(repository, user_subject, now)
            if row is not None and row.id is not None:
                account = repository.account(row.id)
                if account is not None:
                    account.failed_logins = self.throttle.failures_in_window(repository, user_subject, now)
                    account.locked_until = locked_until
                    repository.save_account(account)
        who = f"account {row.id}" if row is not None else f"username {user_subject[:12]}"
        log.info("staff sign-in refused for %s: %s", who, reason)
        if locked_until is not None:
            log.warning("staff sign-in locked for %s until %s", who, locked_until.isoformat())
        raise InvalidCredentials()

    def _set_password(self, staff_id: int, new_hash: str, actor: Actor, event: Event) -> None:
        now = self.clock()
        with self.uow() as repository:
            row = self._row(repository, staff_id)
            row.password_hash, row.updated_at = new_hash, now
            repository.save_account(row)
            self.sessions.revoke_all(repository, staff_id, now)
            self.audit.write(repository.session, actor, event)

    @staticmethod
    def _row(repository: StaffRepository, staff_id: int) -> StaffAccount:
        row = repository.account(staff_id)
        if row is None:
            raise StaffAccountNotFound("There is no staff account with this id.")
        return row
