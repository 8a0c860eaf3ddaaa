"""Staff accounts: create, sign in (throttled), sessions, change password, deactivate; who may see which calendar;
two-factor sign-in (TOTP) and what admins do to accounts (create, deactivate, unlock, one-time reset links).

Passwords are argon2id hashes (argon2-cffi's PasswordHasher, RFC 9106 parameters) and are re-hashed at sign-in
when the parameters change. An unknown username costs the same hash verification as a known one, and unknown
username, wrong password and inactive account get the same answer. Logs name an account id or a username hash.

With two-factor sign-in on, the right password gives no session but a pending sign-in (a few minutes), which a
code turns into a session. Admins must have it: an admin's session without it can only enrol (`must_enrol`), and
every caller that is not the enrolment itself must refuse such a session. Wrong codes count as failed sign-ins.

Every sign-in (when its session starts: after the code where one is needed), failure, sign-out, password change
and change to an account or its two-factor sign-in is written to the audit log (gateway.staff.audit), a change in
its own transaction; `by` names who did it (an admin at a page or the API, or COMMAND_LINE).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, NoReturn

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from gateway.errors import Throttled
from gateway.staff import totp
from gateway.staff.audit import COMMAND_LINE, Action, Actor, AuditLog, Event, Outcome, TargetKind
from gateway.staff.errors import (
    AccessDenied,
    AccountInactive,
    CodeRequired,
    InvalidCredentials,
    InvalidStaffAccount,
    OwnAccount,
    ResetLinkInvalid,
    SignInCodeRefused,
    StaffAccountNotFound,
    TwoFactorState,
    UsernameTaken,
    WeakPassword,
    WrongCode,
)
from gateway.staff.limits import IP, USERNAME, LoginThrottle, subject_hash
from gateway.staff.repository import StaffRepository
from gateway.staff.sessions import StaffSessions, csrf_token_for
from gateway.staff.tables import PasswordReset, PendingSignIn, StaffAccount
from shared.clock import Clock, system_clock
from shared.crypto import DataCipher, key_id_of, new_token, token_hash
from shared.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

Role = Literal["counsellor", "admin"]
ROLES: tuple[Role, ...] = ("counsellor", "admin")
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256
USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,63}$")
PENDING_SIGN_IN = timedelta(minutes=5)  # from the right password to the code
RESET_LINK = timedelta(hours=24)
WRONG_CODE = ("The code is not correct. Enter the 6 digits your authenticator app shows now, or one of your "
              "recovery codes.")
USED_CODE = "This code was used already. Please wait for the next code in your authenticator app."
WRONG_RECOVERY_CODE = "This recovery code is not correct or was used already; each one works once."


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
    two_factor: bool = False  # TOTP on (confirmed)
    locked: bool = False  # locked_until is still ahead


@dataclass(frozen=True)
class SignedIn:
    staff: Staff
    token: str
    csrf_token: str
    expires_at: datetime
    must_enrol: bool = False


@dataclass(frozen=True)
class CodeAwaited:
    """The right password of an account with two-factor sign-in: `token` names the pending sign-in (not a session)."""

    token: str
    expires_at: datetime


@dataclass(frozen=True)
class CurrentSession:
    staff: Staff
    key: str  # the token's hash, which names the session in the database
    token: str
    csrf_token: str
    # An admin without two-factor sign-in: the session may enrol, see itself and sign out, nothing else.
    must_enrol: bool = False


@dataclass(frozen=True)
class Enrolment:
    """What an authenticator app needs: the secret (for typing in), its otpauth:// URI and that URI as a QR code."""

    secret: str
    uri: str
    qr_svg: str


@dataclass(frozen=True)
class TwoFactorStatus:
    enabled: bool
    required: bool
    enrolment_started: bool
    recovery_codes_left: int


@dataclass(frozen=True)
class ResetLink:
    """A one-time token for setting a new password; shown to the admin once, stored only as its hash."""

    token: str
    expires_at: datetime


@dataclass(frozen=True)
class CreatedAccount:
    staff: Staff
    reset: ResetLink  # the new account's first password is set with it


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


def _must_enrol(row: StaffAccount) -> bool:
    return row.role == "admin" and row.totp_enabled_at is None


def _on_account(action: Action, staff_id: int | None, detail: dict[str, str] | None = None,
                outcome: Outcome = Outcome.OK) -> Event:
    return Event(action, outcome, TargetKind.ACCOUNT, staff_id, detail or {})


def _secret_context(staff_id: int) -> str:
    return f"staff_accounts.totp_secret:{staff_id}"


class StaffAccounts:
    def __init__(self, engine: Engine, clock: Clock = system_clock, hasher: PasswordHasher | None = None,
                 throttle: LoginThrottle | None = None, sessions: StaffSessions | None = None,
                 cipher: DataCipher | None = None, audit: AuditLog | None = None) -> None:
        self.uow = UnitOfWork(engine, StaffRepository)
        # Sign-ins, password changes and account changes are written to it in their own transactions.
        self.audit = audit or AuditLog(engine, clock)
        # DATA_KEY's cipher: TOTP secrets at rest, keyed hashes of recovery codes. Without it (the create-admin
        # command) nothing two-factor can be done.
        self.cipher = cipher
        self.clock = clock
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
        if any(unicodedata.category(c).startswith("C") for c in display_name):
            raise InvalidStaffAccount("The display name must not contain control characters.")
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
                self.audit.write(repository.session, by, _on_account(Action.ACCOUNT_CREATED, staff.id,
                                                                     {"role": role}))
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
            return [self._summary(row) for row in repository.accounts()]

    def summary(self, staff_id: int) -> AccountSummary:
        with self.uow() as repository:
            return self._summary(self._row(repository, staff_id))

    def change_password(self, staff_id: int, current: str, new: str, client_address: str) -> None:
        """Needs the current password, throttled like a sign-in; every session of the account ends."""
        now = self.clock()
        with self.uow() as repository:
            row = self._row(repository, staff_id)
            user_subject, ip_subject = subject_hash(USERNAME, row.username), subject_hash(IP, client_address)
        actor = Actor(staff_id, row.username, client_address)
        refused = _on_account(Action.PASSWORD_CHANGED, staff_id, {"reason": "wrong_current_password"},
                              Outcome.REFUSED)
        self._throttle_check(user_subject, ip_subject, now, actor, refused)
        if not self._verify(row.password_hash, current):
            self._refuse(row, user_subject, ip_subject, now, "wrong current password at password change",
                         actor, refused)
        try:
            check_password_strength(new, row.username)
        except WeakPassword:
            self.audit.record(actor, _on_account(Action.PASSWORD_CHANGED, staff_id, {"reason": "weak_password"},
                                                 Outcome.REFUSED))
            raise
        with self.uow() as repository:
            self.throttle.clear(repository, user_subject)
        self._set_password(staff_id, self.hasher.hash(new), actor, _on_account(Action.PASSWORD_CHANGED, staff_id))
        log.info("staff account %d changed its password; its sessions were ended", staff_id)

    def deactivate(self, staff_id: int, by: Actor = COMMAND_LINE) -> AccountSummary:
        """Ends its sessions, pending sign-ins and reset links; `by`: the admin doing it, who cannot be the account."""
        if by.staff_id == staff_id:
            self.audit.record(by, _on_account(Action.ACCOUNT_DEACTIVATED, staff_id, {"reason": OwnAccount.code},
                                              Outcome.REFUSED))
            raise OwnAccount("You cannot deactivate your own account; ask another admin.")
        now = self.clock()
        with self.uow() as repository:
            row = self._row(repository, staff_id)
            row.active = False
            row.updated_at = now
            repository.save_account(row)
            self.sessions.revoke_all(repository, staff_id, now)
            repository.delete_pending_sign_ins_of(staff_id)
            repository.delete_password_resets_of(staff_id)
            summary = self._summary(row)
            self.audit.write(repository.session, by, _on_account(Action.ACCOUNT_DEACTIVATED, staff_id))
        log.info("staff account %d deactivated; its sessions were ended", staff_id)
        return summary

    def reactivate(self, staff_id: int, by: Actor = COMMAND_LINE) -> AccountSummary:
        with self.uow() as repository:
            row = self._row(repository, staff_id)
            row.active, row.updated_at = True, self.clock()
            repository.save_account(row)
            summary = self._summary(row)
            self.audit.write(repository.session, by, _on_account(Action.ACCOUNT_REACTIVATED, staff_id))
        log.info("staff account %d reactivated", staff_id)
        return summary

    def unlock(self, staff_id: int, by: Actor = COMMAND_LINE) -> AccountSummary:
        with self.uow() as repository:
            row = self._row(repository, staff_id)
            self.throttle.clear(repository, subject_hash(USERNAME, row.username))
            row.failed_logins, row.locked_until, row.updated_at = 0, None, self.clock()
            repository.save_account(row)
            summary = self._summary(row)
            self.audit.write(repository.session, by, _on_account(Action.ACCOUNT_UNLOCKED, staff_id))
        log.info("staff account %d unlocked", staff_id)
        return summary

    def create_with_reset_link(self, username: str, display_name: str, role: str, counsellor_id: int | None,
                               by: Actor = COMMAND_LINE) -> CreatedAccount:
        """An account whose first password its owner sets with a one-time link: the admin never knows it."""
        staff = self.create(username, display_name, role, new_token() + new_token(), counsellor_id, by)
        return CreatedAccount(staff=staff, reset=self.issue_password_reset(staff.id, by))

    # --- one-time links for a new password ---------------------------------------------------------------------

    def issue_password_reset(self, staff_id: int, by: Actor = COMMAND_LINE) -> ResetLink:
        """A new link for the account (24 h, one use); links made for it before stop working."""
        now = self.clock()
        created_by = by.staff_id
        token = new_token()
        with self.uow() as repository:
            row = self._row(repository, staff_id)
            if row.active:
                repository.delete_password_resets_of(staff_id)
                repository.add_password_reset(PasswordReset(token_hash=token_hash(token), staff_id=staff_id,
                                                            created_by=created_by, created_at=now,
                                                            expires_at=now + RESET_LINK))
                self.audit.write(repository.session, by, _on_account(Action.PASSWORD_LINK_ISSUED, staff_id))
        if not row.active:
            self.audit.record(by, _on_account(Action.PASSWORD_LINK_ISSUED, staff_id,
                                              {"reason": AccountInactive.code}, Outcome.REFUSED))
            raise AccountInactive("This account is deactivated; reactivate it before making a link for a new "
                                  "password.")
        log.info("staff account %d: a link for a new password was made by account %s", staff_id, created_by)
        return ResetLink(token=token, expires_at=now + RESET_LINK)

    def password_reset_is_valid(self, token: str) -> bool:
        """Whether this link may still set a password (for the page that asks for the new one)."""
        with self.uow() as repository:
            return self._reset_account(repository, token, self.clock()) is not None

    def reset_password(self, token: str, new_password: str, client_address: str = "unknown") -> None:
        """Sets the password a valid link is for; ends the account's sessions and lifts its lock. A weak password
        leaves the link usable; ResetLinkInvalid if it is unknown, used, expired, or its account deactivated.
        The audit log has the reset, by the account itself (a link that fails changes nothing and is not written:
        the route needs no session, so anyone could fill the log with them)."""
        now = self.clock()
        with self.uow() as repository:
            row = self._reset_account(repository, token, now)
        if row is None:
            raise ResetLinkInvalid()
        check_password_strength(new_password, row.username)
        new_hash = self.hasher.hash(new_password)
        with self.uow() as repository:
            used = repository.use_password_reset(token_hash(token), now)
            if used:
                account = self._row(repository, row.id or 0)
                account.password_hash, account.updated_at = new_hash, now
                account.failed_logins, account.locked_until = 0, None
                repository.save_account(account)
                self.throttle.clear(repository, subject_hash(USERNAME, account.username))
                self.sessions.revoke_all(repository, account.id or 0, now)
                repository.delete_pending_sign_ins_of(account.id or 0)
                self.audit.write(repository.session, Actor(account.id, account.username, client_address),
                                 _on_account(Action.PASSWORD_RESET, account.id))
        if not used:  # used by another request meanwhile
            raise ResetLinkInvalid()
        log.info("staff account %d set a new password with a one-time link; its sessions were ended", row.id)

    # --- two-factor sign-in ------------------------------------------------------------------------------------

    def two_factor_status(self, staff_id: int) -> TwoFactorStatus:
        with self.uow() as repository:
            row = self._row(repository, staff_id)
            return TwoFactorStatus(enabled=row.totp_enabled_at is not None, required=row.role == "admin",
                                   enrolment_started=row.totp_enabled_at is None
                                   and row.totp_secret_ciphertext is not None,
                                   recovery_codes_left=repository.recovery_codes_left(staff_id))

    def begin_enrolment(self, staff_id: int, client_address: str = "unknown") -> Enrolment:
        """A new secret, kept until its first code confirms it; starting again replaces it."""
        cipher = self._cipher()
        secret = totp.new_secret()
        with self.uow() as repository:
            row = self._row(repository, staff_id)
            if row.totp_enabled_at is None:
                row.totp_secret_ciphertext = cipher.encrypt(secret, _secret_context(staff_id))
                row.totp_last_step, row.updated_at = None, self.clock()
                repository.save_account(row)
                self.audit.write(repository.session, Actor(staff_id, row.username, client_address),
                                 _on_account(Action.TWO_FACTOR_ENROLMENT_STARTED, staff_id))
        if row.totp_enabled_at is not None:
            raise TwoFactorState("Two-factor sign-in is on already. To move it to a new phone, turn it off with a "
                                 "current code first.")
        uri = totp.provisioning_uri(secret, row.username)
        log.info("staff account %d started setting up two-factor sign-in", staff_id)
        return Enrolment(secret=secret, uri=uri, qr_svg=totp.qr_svg(uri))

    def confirm_enrolment(self, staff_id: int, code: str, client_address: str) -> list[str]:
        """Turns two-factor sign-in on with the app's first code; returns the ten recovery codes, shown only now."""
        now = self.clock()
        row, user_subject, ip_subject = self._throttled_account(staff_id, client_address, now,
                                                                Action.TWO_FACTOR_ENABLED)
        actor = Actor(staff_id, row.username, client_address)
        if row.totp_enabled_at is not None or row.totp_secret_ciphertext is None:
            raise TwoFactorState("There is no set-up waiting for its first code: start setting up two-factor "
                                 "sign-in first (POST /v1/staff/two-factor/enrolment).")
        codes = totp.new_recovery_codes()
        normalised = totp.normalise_code(code)
        step = totp.matching_step(self._secret(row), normalised, now)
        with self.uow() as repository:
            accepted = step is not None and repository.claim_totp_step(staff_id, step)
            if accepted:
                account = self._row(repository, staff_id)
                account.totp_enabled_at, account.updated_at = now, now
                repository.save_account(account)
                repository.replace_recovery_codes(staff_id, [self._recovery_hash(staff_id, c) for c in codes], now)
                self.audit.write(repository.session, actor, _on_account(Action.TWO_FACTOR_ENABLED, staff_id))
        if not accepted:
            self._record_failure(row, user_subject, ip_subject, now, "wrong code at two-factor set-up", actor,
                                 _on_account(Action.TWO_FACTOR_ENABLED, staff_id, {"reason": WrongCode.code},
                                             Outcome.REFUSED))
            raise WrongCode(WRONG_CODE if step is None else USED_CODE)
        log.info("staff account %d turned two-factor sign-in on", staff_id)
        return codes

    def new_recovery_codes(self, staff_id: int, code: str, client_address: str) -> list[str]:
        """Ten new recovery codes for a current code (or a recovery code); the old ones stop working."""
        now = self.clock()
        codes = totp.new_recovery_codes()

        def replace(repository: StaffRepository) -> None:
            repository.replace_recovery_codes(staff_id, [self._recovery_hash(staff_id, c) for c in codes], now)

        self._with_current_code(staff_id, code, client_address, now, replace, Action.RECOVERY_CODES_RENEWED)
        log.info("staff account %d made new recovery codes", staff_id)
        return codes

    def disable_two_factor(self, staff_id: int, code: str, client_address: str) -> None:
        """Turns it off for a current code (or a recovery code). An admin's sessions can then only enrol again."""
        now = self.clock()

        def turn_off(repository: StaffRepository) -> None:
            self._clear_two_factor(repository, staff_id, now)

        self._with_current_code(staff_id, code, client_address, now, turn_off, Action.TWO_FACTOR_DISABLED)
        log.info("staff account %d turned two-factor sign-in off", staff_id)

    def reset_two_factor(self, staff_id: int, by: Actor) -> AccountSummary:
        """An admin turns another account's two-factor sign-in off (a lost phone); that account's sessions end."""
        if by.staff_id == staff_id:
            self.audit.record(by, _on_account(Action.TWO_FACTOR_RESET, staff_id, {"reason": OwnAccount.code},
                                              Outcome.REFUSED))
            raise OwnAccount("To turn off your own two-factor sign-in, use POST /v1/staff/two-factor/disable with "
                             "a current code.")
        now = self.clock()
        with self.uow() as repository:
            self._row(repository, staff_id)
            self._clear_two_factor(repository, staff_id, now)
            self.sessions.revoke_all(repository, staff_id, now)
            summary = self._summary(self._row(repository, staff_id))
            self.audit.write(repository.session, by, _on_account(Action.TWO_FACTOR_RESET, staff_id))
        log.info("staff account %d: two-factor sign-in turned off by admin account %s; its sessions were ended",
                 staff_id, by.staff_id)
        return summary

    # --- signing in and out ----------------------------------------------------------------------------------

    def authenticate(self, username: str, password: str, client_address: str) -> SignedIn | CodeAwaited:
        """A new session for the right password, or a pending sign-in if the account has two-factor sign-in on;
        InvalidCredentials, AccountLocked or TooManyAttempts if not."""
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
            if self.hasher.check_needs_rehash(fresh.password_hash):
                fresh.password_hash = self.hasher.hash(password)
                fresh.updated_at = now
                repository.save_account(fresh)
                log.info("staff account %d: password re-hashed with the current parameters", row.id)
            if fresh.totp_enabled_at is not None:
                # The failures stay counted until the code is right: else the password alone would reset the
                # count between guesses of the code.
                token = new_token()
                repository.add_pending_sign_in(PendingSignIn(token_hash=token_hash(token), staff_id=row.id,
                                                             created_at=now, expires_at=now + PENDING_SIGN_IN))
                log.info("staff account %d: password accepted, waiting for the code", row.id)
                return CodeAwaited(token=token, expires_at=now + PENDING_SIGN_IN)
            signed_in = self._open_session(repository, fresh, user_subject, now, actor)
        log.info("staff account %d signed in%s", signed_in.staff.id,
                 " (must set up two-factor sign-in)" if signed_in.must_enrol else "")
        return signed_in

    def complete_sign_in(self, pending_token: str, code: str, client_address: str) -> SignedIn:
        """The second step: a pending sign-in and its account's current code (or a recovery code) give a session.
        CodeRequired if the pending sign-in is unknown or expired; SignInCodeRefused for a wrong or used code."""
        now = self.clock()
        key = token_hash(pending_token) if 16 <= len(pending_token) <= 64 else ""
        with self.uow() as repository:
            pending = repository.pending_sign_in(key) if key else None
            row = repository.account(pending.staff_id) if pending is not None else None
            if pending is not None and (now >= pending.expires_at or row is None or not row.active
                                        or row.totp_enabled_at is None):
                repository.delete_pending_sign_in(key)
                pending = None
        if pending is None or row is None:
            raise CodeRequired()
        user_subject, ip_subject = subject_hash(USERNAME, row.username), subject_hash(IP, client_address)
        actor = Actor(row.id, row.username, client_address)
        self._throttle_check(user_subject, ip_subject, now, actor, Event(Action.SIGN_IN_FAILED, Outcome.REFUSED))
        with self.uow() as repository:
            refusal = self._accept_code(repository, row, code, now)
            if refusal is None:
                if not repository.delete_pending_sign_in(key):  # completed by another request meanwhile
                    raise CodeRequired()
                signed_in = self._open_session(repository, self._row(repository, pending.staff_id), user_subject,
                                               now, actor, {"second_factor": True})
        if refusal is not None:
            self._record_failure(row, user_subject, ip_subject, now, "wrong second-factor code", actor,
                                 Event(Action.SIGN_IN_FAILED, Outcome.REFUSED,
                                       detail={"reason": "wrong_code", "second_factor": True}))
            raise SignInCodeRefused(refusal)
        log.info("staff account %d signed in with two-factor sign-in", signed_in.staff.id)
        return signed_in

    def current(self, token: str, enrolling: bool = False) -> CurrentSession | None:
        """The session a cookie names, if it is still open and its account still active.

        An admin's session without two-factor sign-in counts only where it is set up (`enrolling`, with
        `must_enrol` set): everywhere else it is no session at all, so a caller that does not know about
        two-factor sign-in cannot let such an admin in."""
        now = self.clock()
        with self.uow() as repository:
            found = self.sessions.find(repository, token, now)
            if found is None:
                return None
            row = repository.account(found.staff_id)
            if row is None or not row.active or (_must_enrol(row) and not enrolling):
                return None
            return CurrentSession(staff=_staff(row), key=found.token_hash, token=token,
                                  csrf_token=csrf_token_for(token), must_enrol=_must_enrol(row))

    def sign_out(self, current: CurrentSession, client_address: str = "unknown") -> None:
        with self.uow() as repository:
            self.sessions.revoke(repository, current.key, self.clock())
            self.audit.write(repository.session, Actor(current.staff.id, current.staff.username, client_address),
                             Event(Action.SIGN_OUT))
        log.info("staff account %d signed out", current.staff.id)

    def housekeeping(self) -> tuple[int, int]:
        """Delete ended sessions, pending sign-ins and reset links, and failures too old to matter, returning how
        many sessions and failures; and audit rows past their retention."""
        now = self.clock()
        with self.uow() as repository:
            repository.delete_ended_pending_sign_ins(now)
            repository.delete_ended_password_resets(now)
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
                                           {**refused.detail, "reason": throttled.code}))
            raise

    def _refuse(self, row: StaffAccount | None, user_subject: str, ip_subject: str, now: datetime,
                reason: str, actor: Actor, refused: Event) -> NoReturn:
        self._record_failure(row, user_subject, ip_subject, now, reason, actor, refused)
        raise InvalidCredentials()

    def _record_failure(self, row: StaffAccount | None, user_subject: str, ip_subject: str, now: datetime,
                        reason: str, actor: Actor, refused: Event) -> None:
        """A failed sign-in (or a wrong code, which counts as one) for the throttle, the account list and the audit
        log."""
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

    def _open_session(self, repository: StaffRepository, row: StaffAccount, user_subject: str,
                      now: datetime, actor: Actor, detail: dict[str, bool] | None = None) -> SignedIn:
        """The session, and its SIGN_IN row in the same transaction: the moment a sign-in is complete."""
        assert row.id is not None
        self.throttle.clear(repository, user_subject)
        row.failed_logins, row.locked_until = 0, None
        repository.save_account(row)
        issued = self.sessions.issue(repository, row.id, now)
        self.audit.write(repository.session, actor,
                         Event(Action.SIGN_IN, detail={**(detail or {}), **({"must_enrol": True}
                                                                          if _must_enrol(row) else {})}))
        return SignedIn(staff=_staff(row), token=issued.token, csrf_token=issued.csrf_token,
                        expires_at=issued.expires_at, must_enrol=_must_enrol(row))

    def _summary(self, row: StaffAccount) -> AccountSummary:
        locked = row.locked_until is not None and row.locked_until > self.clock()
        return AccountSummary(staff=_staff(row), active=row.active, failed_logins=row.failed_logins,
                              locked_until=row.locked_until, created_at=row.created_at,
                              two_factor=row.totp_enabled_at is not None, locked=locked)

    def _cipher(self) -> DataCipher:
        if self.cipher is None:
            raise RuntimeError("StaffAccounts was built without DATA_KEY's cipher, which two-factor sign-in needs")
        return self.cipher

    def _secret(self, row: StaffAccount) -> str:
        assert row.id is not None and row.totp_secret_ciphertext is not None
        return self._cipher().decrypt(row.totp_secret_ciphertext, _secret_context(row.id))

    def _recovery_hash(self, staff_id: int, code: str) -> str:
        # Keyed (DATA_KEY's look-up key): about 49 random bits would not withstand guessing against a plain hash.
        return self._cipher().lookup_hash(f"lotse-staff-recovery:{staff_id}:{totp.normalise_code(code)}")

    def _accept_code(self, repository: StaffRepository, row: StaffAccount, code: str, now: datetime) -> str | None:
        """Uses up a current TOTP code (its time step) or a recovery code of the account; the refusal's sentence
        if neither. Writes only when it accepts."""
        assert row.id is not None
        normalised = totp.normalise_code(code)
        if totp.looks_like_totp(normalised):
            step = totp.matching_step(self._secret(row), normalised, now)
            if step is None:
                return WRONG_CODE
            if not repository.claim_totp_step(row.id, step):
                return USED_CODE
            self._reseal_secret(repository, row.id)
            return None
        if repository.use_recovery_code(row.id, self._recovery_hash(row.id, normalised), now):
            log.info("staff account %d used a recovery code", row.id)
            return None
        return WRONG_RECOVERY_CODE

    def _reseal_secret(self, repository: StaffRepository, staff_id: int) -> None:
        """After DATA_KEY's rotation the secret is stored again under the new key at its next use."""
        cipher = self._cipher()
        account = self._row(repository, staff_id)
        sealed = account.totp_secret_ciphertext
        if sealed is not None and key_id_of(sealed) != cipher.current_key_id:
            account.totp_secret_ciphertext = cipher.reseal(sealed, _secret_context(staff_id))
            repository.save_account(account)

    def _throttled_account(self, staff_id: int, client_address: str, now: datetime,
                           action: Action) -> tuple[StaffAccount, str, str]:
        """The account, once the throttle lets a code be tried for it (AccountLocked, TooManyAttempts if not, and
        the refusal of `action` in the audit log)."""
        with self.uow() as repository:
            row = self._row(repository, staff_id)
            user_subject, ip_subject = subject_hash(USERNAME, row.username), subject_hash(IP, client_address)
        self._throttle_check(user_subject, ip_subject, now, Actor(staff_id, row.username, client_address),
                             _on_account(action, staff_id, outcome=Outcome.REFUSED))
        return row, user_subject, ip_subject

    def _with_current_code(self, staff_id: int, code: str, client_address: str, now: datetime,
                           change: Callable[[StaffRepository], None], action: Action) -> None:
        """`change` in the transaction that uses up the code, with the audit row of `action`; throttled, and a
        wrong code counts as a failure."""
        row, user_subject, ip_subject = self._throttled_account(staff_id, client_address, now, action)
        actor = Actor(staff_id, row.username, client_address)
        if row.totp_enabled_at is None:
            raise TwoFactorState("Two-factor sign-in is off for this account.")
        with self.uow() as repository:
            refusal = self._accept_code(repository, row, code, now)
            if refusal is None:
                change(repository)
                self.audit.write(repository.session, actor, _on_account(action, staff_id))
        if refusal is not None:
            self._record_failure(row, user_subject, ip_subject, now, f"wrong code at {action.value}", actor,
                                 _on_account(action, staff_id, {"reason": WrongCode.code}, Outcome.REFUSED))
            raise WrongCode(refusal)

    @staticmethod
    def _clear_two_factor(repository: StaffRepository, staff_id: int, now: datetime) -> None:
        account = StaffAccounts._row(repository, staff_id)
        account.totp_secret_ciphertext = account.totp_enabled_at = account.totp_last_step = None
        account.updated_at = now
        repository.save_account(account)
        repository.delete_recovery_codes(staff_id)
        repository.delete_pending_sign_ins_of(staff_id)

    @staticmethod
    def _reset_account(repository: StaffRepository, token: str, now: datetime) -> StaffAccount | None:
        """The active account a usable reset link is for, or None."""
        if not 16 <= len(token) <= 64:
            return None
        reset = repository.password_reset(token_hash(token))
        if reset is None or reset.used_at is not None or now >= reset.expires_at:
            return None
        row = repository.account(reset.staff_id)
        return row if row is not None and row.active else None

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
