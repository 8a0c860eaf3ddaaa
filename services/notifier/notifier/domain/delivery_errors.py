"""Provider error codes in words for the admins' dashboard: what happened, what staff should do, whether sending
once more can help, and whether it is our SMS account's fault (a banner, not a row to retry).

Twilio's codes (https://www.twilio.com/docs/api/errors). Retryable are only the codes of a passing condition on
the provider's or carrier's side; a code about the number is never retried (the notifier stops texting it,
notifier.domain.provider_errors), a code about our account fails every retry until the account is fixed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

AccountProblem = Literal["authentication", "account", "sender"]


@dataclass(frozen=True)
class ErrorInfo:
    reason: str
    action: str
    retryable: bool = False
    account_problem: AccountProblem | None = None


_CHECK_NUMBER = "Check the number with the client at the next contact (in person or by phone); texts to it stopped."
_ACCOUNT_ADMIN = "Ask whoever manages the SMS account to fix it; no text can go out until then."

ERRORS: dict[str, ErrorInfo] = {
    "30001": ErrorInfo("The provider's queue for our account overflowed (too many texts at once).",
                       "Send it again; if this repeats, lower SMS_RATE_PER_SECOND.", retryable=True),
    "30002": ErrorInfo("The SMS account is suspended (often an unpaid balance).", _ACCOUNT_ADMIN,
                       account_problem="account"),
    "30003": ErrorInfo("The phone could not be reached (switched off or out of coverage for too long).",
                       _CHECK_NUMBER),
    "30004": ErrorInfo("The text was blocked (the client or their carrier blocks texts from us).", _CHECK_NUMBER),
    "30005": ErrorInfo("The number is unknown to the carrier or no longer exists.", _CHECK_NUMBER),
    "30006": ErrorInfo("The number is a landline or its carrier cannot take texts.",
                       "Ask the client for a mobile number, or call instead."),
    "30007": ErrorInfo("The carrier filtered the text as unwanted.",
                       "Tell the person responsible for the texts; call the client if the appointment is close."),
    "30008": ErrorInfo("The carrier reported an unknown error.", "Send it again.", retryable=True),
    "30009": ErrorInfo("A part of a long text was lost on the way.", "Send it again.", retryable=True),
    "30034": ErrorInfo("The sender is not registered for this destination.", _ACCOUNT_ADMIN,
                       account_problem="sender"),
    "21211": ErrorInfo("The number is not a valid phone number.", _CHECK_NUMBER),
    "21408": ErrorInfo("The SMS account may not send to this country (region permission).", _ACCOUNT_ADMIN,
                       account_problem="account"),
    "21610": ErrorInfo("The client replied STOP: they asked for no more texts.",
                       "Do not send again; only the client can turn texts back on (by replying START)."),
    "21612": ErrorInfo("The number cannot be reached by text right now.", _CHECK_NUMBER),
    "21614": ErrorInfo("The number is not a mobile number.", "Ask the client for a mobile number, or call instead."),
    "20003": ErrorInfo("The provider refused our credentials (wrong or revoked key).", _ACCOUNT_ADMIN,
                       account_problem="authentication"),
    "20404": ErrorInfo("The provider does not know our account or sender.", _ACCOUNT_ADMIN,
                       account_problem="account"),
    "20429": ErrorInfo("The provider asked us to slow down (too many requests).", "Send it again.",
                       retryable=True),
    "21212": ErrorInfo("Our sender number is not valid.", _ACCOUNT_ADMIN, account_problem="sender"),
    "21606": ErrorInfo("Our sender number may not text this destination.", _ACCOUNT_ADMIN,
                       account_problem="sender"),
    "21659": ErrorInfo("Our sender is not a number or sender ID of the SMS account.", _ACCOUNT_ADMIN,
                       account_problem="sender"),
    "21660": ErrorInfo("Our sender number does not belong to the SMS account.", _ACCOUNT_ADMIN,
                       account_problem="sender"),
    "21603": ErrorInfo("No sender was given (SMS_SENDER_ID or the number is not configured).", _ACCOUNT_ADMIN,
                       account_problem="sender"),
    "30032": ErrorInfo("Our toll-free sender is not verified.", _ACCOUNT_ADMIN, account_problem="sender"),
    # Our own codes: the text never reached the provider.
    "destination": ErrorInfo("The number is in a country we do not text (SMS_ALLOWED_COUNTRIES).",
                             "Call the client instead, or ask an admin whether that country should be allowed."),
    "render": ErrorInfo("The text could not be put together (a missing translation or value).",
                        "Tell the technical team; call the client if the appointment is close."),
}
_UNKNOWN = ErrorInfo("The provider gave no reason we know.", "Call the client if the appointment is close; "
                     "if many texts show this, tell the technical team.")
_NO_CODE = ErrorInfo("The provider gave no error code.", _UNKNOWN.action)


def explain(code: str | None) -> ErrorInfo:
    if not code:
        return _NO_CODE
    return ERRORS.get(code, _UNKNOWN)


ACCOUNT_CODES = sorted(code for code, info in ERRORS.items() if info.account_problem)
