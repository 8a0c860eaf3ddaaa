"""Refusals of staff sign-in and access, each with a sentence a person understands (api/errors.py maps them)."""

from __future__ import annotations

from gateway.errors import GatewayError, Throttled

# One sentence for an unknown username, a wrong password and an inactive account: the answer must not tell
# which usernames exist.
WRONG_CREDENTIALS = "The username or password is not correct."


class InvalidCredentials(GatewayError):
    code, status = "invalid_credentials", 401

    def __init__(self) -> None:
        super().__init__(WRONG_CREDENTIALS)


class NotSignedIn(GatewayError):
    code, status = "not_signed_in", 401

    def __init__(self) -> None:
        super().__init__("Please sign in; your session has ended or was never started.")


class AccessDenied(GatewayError):
    code, status = "forbidden", 403


class CsrfRejected(GatewayError):
    code, status = "csrf_token_missing", 403

    def __init__(self) -> None:
        super().__init__("This request needs the X-Lotse-CSRF header with the token given at sign-in.")


class AccountLocked(Throttled):
    code, status = "account_locked", 423


class TooManyAttempts(Throttled):
    code, status = "too_many_attempts", 429


class WeakPassword(GatewayError):
    code, status = "weak_password", 422


class InvalidStaffAccount(GatewayError):
    code, status = "invalid_staff_account", 422


class UsernameTaken(GatewayError):
    code, status = "username_taken", 409


class StaffAccountNotFound(GatewayError):
    code, status = "staff_account_not_found", 404
