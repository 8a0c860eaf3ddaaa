"""The admins' delivery dashboard: gateway → notifier questions (a period's report, its failed texts) and the
retry of one failed text; notifier → gateway answers (request/reply, like the SMS preview).

The gateway never reads the notifier's deliveries: it asks. A period is [date_from, date_to) in business days
(Europe/Berlin); the notifier turns them into instants.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from shared.contracts.envelope import Payload, register

MAX_PERIOD_DAYS = 366
MAX_FAILED_PAGE = 100
DeliveryStatus = Literal["queued", "sending", "sent", "delivered", "undelivered", "failed"]
STATUSES: tuple[DeliveryStatus, ...] = ("queued", "sending", "sent", "delivered", "undelivered", "failed")
ReplyTo = Field(pattern=r"^gateway\.replies\.[0-9a-f]{12}$")
# Where the next page of the failed list starts: "<created_at as ISO>~<id>"; opaque to the gateway and the admin.
Cursor = Field(default=None, max_length=64, pattern=r"^[0-9T:.+\-]{19,40}~[0-9]{1,18}$")


class _Period(Payload):
    date_from: date
    date_to: date  # exclusive

    @model_validator(mode="after")
    def _sensible(self) -> _Period:
        days = (self.date_to - self.date_from).days
        if not 0 < days <= MAX_PERIOD_DAYS:
            raise ValueError(f"a period covers 1 to {MAX_PERIOD_DAYS} days")
        return self


@register
class DeliveriesReportRequested(_Period):
    """gateway → notifier: the figures of the texts created in a period."""

    message_type = "deliveries.report_requested"
    message_version = 1
    reply_to: str = ReplyTo


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ErrorExplained(_Frozen):
    """A provider error code in words: what it means and what staff should do about it."""

    code: str
    reason: str
    action: str
    retryable: bool = Field(description="staff may send the text once more (while its time has not passed)")
    account_problem: Literal["authentication", "account", "sender"] | None = None


class ErrorCount(_Frozen):
    error: ErrorExplained
    count: int


class DayCounts(_Frozen):
    day: date
    counts: dict[DeliveryStatus, int]


class AccountBanner(_Frozen):
    """Texts refused because of our SMS account (credentials, balance or suspension, sender): nobody got them, and
    only an admin of the SMS account can fix it."""

    kinds: list[Literal["authentication", "account", "sender"]]
    codes: list[str]
    count: int
    last_at: AwareDatetime
    message: str


@register
class DeliveriesReported(Payload):
    """notifier → gateway: the report of one period."""

    message_type = "deliveries.reported"
    message_version = 1
    date_from: date
    date_to: date
    timezone: str
    total: int
    by_status: dict[DeliveryStatus, int]
    by_language: dict[str, int]
    by_error: list[ErrorCount]
    delivery_rate: float | None = Field(description="delivered / (delivered + undelivered + failed); none if no "
                                                    "text reached a final status")
    median_seconds_to_delivered: float | None
    daily: list[DayCounts]
    banner: AccountBanner | None = None


@register
class FailedDeliveriesRequested(_Period):
    """gateway → notifier: the failed and undelivered texts of a period, newest first, a page at a time."""

    message_type = "deliveries.failed_requested"
    message_version = 1
    limit: int = Field(default=50, ge=1, le=MAX_FAILED_PAGE)
    cursor: str | None = Cursor
    reply_to: str = ReplyTo


class FailedDelivery(_Frozen):
    """One text that did not arrive: the masked number only, never the text."""

    id: int
    created_at: datetime
    status: Literal["undelivered", "failed"]
    kind: str
    language: str
    to_masked: str
    error: ErrorExplained
    retried_at: datetime | None
    retry_refused: str | None = Field(description="why this text cannot be sent again; none: it can")


@register
class FailedDeliveriesListed(Payload):
    message_type = "deliveries.failed_listed"
    message_version = 1
    items: list[FailedDelivery]
    next_cursor: str | None = None


@register
class DeliveryRetryRequested(Payload):
    """gateway → notifier: send this failed text once more, through the normal dispatch (a due row)."""

    message_type = "delivery.retry_requested"
    message_version = 1
    delivery_id: int = Field(ge=1, le=2**53)
    reply_to: str = ReplyTo


RetryRefusal = Literal["unknown_delivery", "already_retried", "not_retryable", "too_late", "superseded",
                       "not_failed"]


@register
class DeliveryRetried(Payload):
    """notifier → gateway: queued again (`refused` none), or why not."""

    message_type = "delivery.retried"
    message_version = 1
    delivery_id: int
    refused: RetryRefusal | None = None
    message: str
    retried_at: AwareDatetime | None = None
