"""The gateway's settings: the common ones, the data key, its HTTP address and what checks Twilio's webhooks."""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import AfterValidator, Field, SecretStr, field_validator, model_validator

from gateway.forwarding import TrustedProxies, parse_networks, trusted_proxies
from gateway.limits import ClientLimitPolicy
from shared.crypto import parse_box_key
from shared.settings import DatabaseUrl, DataKeySettings, MetricsPort, PublicUrlSettings, SmsDestinationSettings


def _networks(value: str) -> str:
    parse_networks(value)
    return value


def _web_address(value: str) -> str:
    if not value.startswith(("https://", "http://")) or any(char in value for char in "\"'<> "):
        raise ValueError("QUICK_EXIT_URL must be a plain http(s) address such as https://www.google.com/")
    return value


def _management_url(value: SecretStr) -> SecretStr:
    if value.get_secret_value() and not value.get_secret_value().startswith(("https://", "http://")):
        raise ValueError("RABBITMQ_MANAGEMENT_URL must be an http(s) address such as http://rabbitmq:15672/")
    return value


Limit = Annotated[int, Field(ge=1, le=1_000_000)]
_SAFE = ClientLimitPolicy()  # the defaults, written once (gateway.limits)


class GatewaySettings(DataKeySettings, PublicUrlSettings, SmsDestinationSettings):
    """Read once by `python -m gateway` (and its commands), passed to `gateway.app.build`."""

    gateway_database_url: DatabaseUrl = ""
    host: str = "127.0.0.1"
    # The internal port (gateway.internal): /metrics and the whole OpenAPI description, on METRICS_HOST only.
    gateway_metrics_port: MetricsPort = 9100
    # Twilio signs its webhooks with the account's auth token, or (a Webhook Setting with a SharedKey) with this
    # secret (HMAC-SHA256); a webhook the gateway cannot check with either is refused.
    twilio_auth_token: SecretStr = SecretStr("")
    twilio_webhook_shared_key: SecretStr = SecretStr("")
    # The notifier's public key (`python -m notifier generate-box-key`): numbers and links for the notifier are
    # sealed with it, so this gateway cannot open what it sent. Without it they go under DATA_KEY, as before.
    notifier_public_key: str = ""

    @field_validator("notifier_public_key")
    @classmethod
    def _well_formed_public_key(cls, value: str) -> str:
        if value:
            parse_box_key(value)
        return value
    # The proxies (addresses or CIDR networks, comma-separated) whose X-Forwarded-For names the client; empty:
    # none, every request counts as coming from its connection's peer (gateway.forwarding).
    forwarded_allow_ips: Annotated[str, AfterValidator(_networks)] = ""
    # Limits on the public booking path, counted in the database across replicas (gateway.limits).
    bookings_per_address_hour: Limit = _SAFE.bookings_per_address_hour
    bookings_per_address_day: Limit = _SAFE.bookings_per_address_day
    bookings_per_phone_hour: Limit = _SAFE.bookings_per_phone_hour
    bookings_per_phone_day: Limit = _SAFE.bookings_per_phone_day
    cancels_per_address_hour: Limit = _SAFE.cancels_per_address_hour
    cancels_per_phone_day: Limit = _SAFE.cancels_per_phone_day
    future_appointments_per_phone: Limit = _SAFE.future_appointments_per_phone
    searches_per_address_minute: Limit = _SAFE.searches_per_address_minute
    # How long one answer of the scheduler to a slot search is reused for the same question (0: never).
    slots_cache_seconds: float = Field(default=5.0, ge=0, le=60)
    # How long the booking form's POST waits for the scheduler's decision before it shows the page with a "check
    # again" button (0: not at all). The thread waits, so keep it to a few seconds.
    booking_wait_seconds: float = Field(default=3.0, ge=0, le=10)
    # Where the "leave quickly" button on every client page goes: a neutral, everyday site.
    quick_exit_url: Annotated[str, AfterValidator(_web_address)] = "https://www.google.com/"

    # Booking by SMS (gateway.sms_conversation): how long a list of times or a question waits for its answer,
    # how many texts one number may send a minute, and how long it is not read after that.
    sms_conversation_minutes: int = Field(default=15, ge=1, le=120)
    sms_per_phone_minute: int = Field(default=10, ge=1, le=1000)
    sms_pause_minutes: int = Field(default=10, ge=1, le=1440)

    # The admins' health view (gateway.system_health): RabbitMQ's management HTTP API, e.g.
    # http://user:password@rabbitmq:15672/ (empty: BROKER_URL's host on port 15672 with its user and password; a
    # broker without the management plugin is asked over AMQP instead), and after how many of its heartbeat
    # intervals without one a process counts as stale.
    rabbitmq_management_url: Annotated[SecretStr, AfterValidator(_management_url)] = SecretStr("")
    heartbeat_stale_after: int = Field(default=3, ge=2, le=100)

    # How long the staff audit log keeps a row (who did what, from which address): then the hourly housekeeping
    # removes it, the one delete the database allows (gateway.staff.audit).
    audit_retention_days: int = Field(default=400, ge=30, le=3650)

    @model_validator(mode="after")
    def _embedded_gateway_database(self) -> Self:
        self.gateway_database_url = self.gateway_database_url or self.embedded_database_url("gateway")
        return self

    @property
    def trusted_proxies(self) -> TrustedProxies:
        return trusted_proxies(self.forwarded_allow_ips)

    @property
    def client_limits(self) -> ClientLimitPolicy:
        return ClientLimitPolicy(
            bookings_per_address_hour=self.bookings_per_address_hour,
            bookings_per_address_day=self.bookings_per_address_day,
            bookings_per_phone_hour=self.bookings_per_phone_hour, bookings_per_phone_day=self.bookings_per_phone_day,
            cancels_per_address_hour=self.cancels_per_address_hour, cancels_per_phone_day=self.cancels_per_phone_day,
            future_appointments_per_phone=self.future_appointments_per_phone,
            searches_per_address_minute=self.searches_per_address_minute)
