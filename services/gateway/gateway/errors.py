"""The gateway's own errors, each with a message a person understands; api/errors.py maps them to HTTP."""

from __future__ import annotations


class GatewayError(Exception):
    code = "error"
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BookingNotFound(GatewayError):
    code, status = "not_found", 404


class IdempotencyConflict(GatewayError):
    code, status = "idempotency_key_reused", 422


class InvalidIdempotencyKey(GatewayError):
    code, status = "invalid_idempotency_key", 400


class NotCancellable(GatewayError):
    code, status = "not_cancellable", 409


class NotErasableYet(GatewayError):
    code, status = "not_erasable_yet", 409


class NotMovable(GatewayError):
    code, status = "not_movable", 409


class NotConfirmed(GatewayError):
    code, status = "not_confirmed", 409


class PreferencesNotChangeable(GatewayError):
    code, status = "not_changeable", 409


class InvalidPhone(GatewayError):
    code, status = "invalid_phone", 422


class InvalidSearch(GatewayError):
    code, status = "invalid_search", 422


class SchedulerUnavailable(GatewayError):
    code, status = "scheduler_unavailable", 503


class Throttled(GatewayError):
    """Refused for now by a limit; `retry_after` is in whole seconds (the Retry-After header)."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TooManyRequests(Throttled):
    code, status = "too_many_requests", 429


class TooManyAppointments(Throttled):
    code, status = "too_many_appointments", 429


class RefusedPhone(GatewayError):
    """A valid mobile number we do not text (a country not allowed, satellite, premium-rate, VoIP)."""

    code, status = "phone_not_accepted", 422
