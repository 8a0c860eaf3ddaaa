"""What a provider's answer means for a message: retry later, never retry, or find out first.

Twilio error codes (https://www.twilio.com/docs/api/errors). Refused when asked (an HTTP status): 429, 408 and 5xx
are tried again, any other 4xx is not. A code we do not know in a status callback is treated as transient: it is
retried a limited number of times, which costs at most a few requests and never loses a reminder silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Verdict = Literal["transient", "permanent", "config"]
Reason = Literal["invalid_number", "unreachable", "opted_out"]

# The number itself cannot receive our texts: no retry, staff are told (ContactUnreachable).
_NUMBER_PROBLEMS: dict[str, Reason] = {
    "21211": "invalid_number",   # invalid 'To' phone number
    "21614": "invalid_number",   # 'To' is not a valid mobile number
    "30005": "invalid_number",   # unknown destination handset
    "30006": "invalid_number",   # landline or unreachable carrier
    "21214": "unreachable",      # 'To' cannot be reached
    "21408": "unreachable",      # no permission to send to this region
    "21612": "unreachable",      # 'To' not currently reachable via SMS
    "30003": "unreachable",      # unreachable destination handset
    "30004": "unreachable",      # message blocked
    "30007": "unreachable",      # filtered by the carrier
    "21610": "opted_out",        # the recipient sent STOP to the sender
}
# Our own configuration is wrong (sender, account): retrying cannot help and the contact is not to blame.
_CONFIG_PROBLEMS = {"20003", "20404", "21212", "21606", "21659", "21660", "30002", "30032", "21603"}


# Codes of our own a failed delivery records instead of the provider's (notifier.dispatch.outcomes).
_OWN_CODES = {"destination", "render"}


def metric_code(code: str | None) -> str:
    """The error code as a metric label: a code listed here, "" for none, "other" for any other (a label's values
    must stay a short known list)."""
    if code is None:
        return ""
    return code if code in _NUMBER_PROBLEMS or code in _CONFIG_PROBLEMS or code in _OWN_CODES else "other"


@dataclass(frozen=True)
class Classified:
    verdict: Verdict
    reason: Reason | None = None  # for a permanent problem with the number


def classify(code: str | None, http_status: int | None = None) -> Classified:
    if code in _NUMBER_PROBLEMS:
        return Classified("permanent", _NUMBER_PROBLEMS[code])
    if code in _CONFIG_PROBLEMS or http_status in (401, 403):
        return Classified("config")
    if http_status is not None and 400 <= http_status < 500 and http_status not in (408, 429):
        # A request the provider refuses (whatever its code) will be refused again; 408 and 429 ask to come back.
        return Classified("config")
    return Classified("transient")


@dataclass(frozen=True)
class Retries:
    """How often a transient refusal is retried, and the first wait (doubling after, with jitter)."""

    max_attempts: int = 5
    base_seconds: float = 30.0

    def wait_seconds(self, attempt: int, jitter: float) -> float:
        return backoff_seconds(attempt, jitter, base=self.base_seconds)


def backoff_seconds(attempt: int, jitter: float, base: float = 30.0, cap: float = 3600.0) -> float:
    """Exponential backoff with full jitter for attempt 1, 2, …: the n-th wait is uniform in [b/2, b] where
    b = min(cap, base * 2^(n-1)), so retries of many messages after one outage spread out instead of colliding.
    `jitter` is a number in [0, 1) from the caller's random source."""
    ceiling = min(cap, base * 2.0 ** max(0, attempt - 1))
    return ceiling / 2 + ceiling / 2 * jitter
