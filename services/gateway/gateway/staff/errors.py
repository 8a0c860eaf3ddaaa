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


class TwoFactorEnrolmentRequired(GatewayError):
    """An admin's session before two-factor sign-in is set up: it may enrol, see itself and sign out, nothing else."""

    code, status = "two_factor_enrolment_required", 403

    def __init__(self) -> None:
        super().__init__("Admin accounts need two-factor sign-in. Set it up first: POST /v1/staff/two-factor/enrolment "
                         "shows a QR code for an authenticator app, and POST /v1/staff/two-factor/enrolment/confirm "
                         "with its first code turns it on.")


class CodeRequired(GatewayError):
    """The second step of a sign-in without the first, or after it expired."""

    code, status = "sign_in_expired", 401

    def __init__(self) -> None:
        super().__init__("This sign-in has expired or was never started; please enter your username and password "
                         "again.")


class WrongCode(GatewayError):
    """A code that is not the current one, was used already, or a recovery code not (or no longer) valid."""

    code, status = "wrong_code", 422


class SignInCodeRefused(WrongCode):
    status = 401


class TwoFactorState(GatewayError):
    """Enrolling twice, confirming without an enrolment, turning off what is off."""

    code, status = "two_factor_state", 409


class OwnAccount(GatewayError):
    code, status = "own_account", 409


class ResetLinkInvalid(GatewayError):
    code, status = "reset_link_invalid", 410

    def __init__(self) -> None:
        super().__init__("This link to set a new password has expired or was used already; please ask an admin "
                         "for a new one.")


class AccountInactive(GatewayError):
    code, status = "account_inactive", 409
