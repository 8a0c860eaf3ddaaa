"""The notifier's settings: the common ones, the data key, its worker, the SMS provider and what goes into a text."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator

from shared.crypto import parse_box_key
from shared.settings import (
    DatabaseUrl,
    DataKeySettings,
    HttpUrl,
    MetricsPort,
    PublicUrlSettings,
    SmsDestinationSettings,
    WorkerSettings,
)

# Every SMS carries PUBLIC_BASE_URL + "/m/" + a 22-character token and ends with SMS_SIGNATURE. In Russian, Ukrainian,
# Bulgarian and Thai (UCS-2: 67 characters per segment) a text with a 40-letter place alias fits two segments only
# if both together stay within this many characters (tests/unit/test_texts.py finds it tight).
MAX_SMS_BASE_URL_AND_SIGNATURE = 29


class NotifierSettings(DataKeySettings, PublicUrlSettings, WorkerSettings, SmsDestinationSettings):
    """Read once by `python -m notifier` (worker, beat, init), passed to `notifier.app.build`."""

    notifier_database_url: DatabaseUrl = ""
    # /metrics on METRICS_HOST (shared.metrics): the worker's and the beat's, one port each.
    notifier_metrics_port: MetricsPort = 9102
    notifier_beat_metrics_port: MetricsPort = 9103

    # Opens what the gateway sealed with the matching NOTIFIER_PUBLIC_KEY (`python -m notifier generate-box-key`).
    notifier_private_key: SecretStr = SecretStr("")

    sms_provider: Literal["sink", "twilio"] = "sink"
    twilio_account_sid: str = ""
    twilio_auth_token: SecretStr = SecretStr("")
    twilio_from: str = ""
    twilio_messaging_service_sid: str = ""
    twilio_api_base_url: HttpUrl = ""

    contact_retention_days: int = Field(default=14, ge=1, le=365)
    # How often the beat runs the dispatcher for what falls due later (reminders, retries); notifier.app.
    dispatch_every_seconds: float = Field(default=10.0, ge=1, le=60)
    # Reminders never arrive at night: a reminder that would fall between QUIET_HOURS_START and QUIET_HOURS_END
    # (local time, HH:MM) is moved earlier.
    quiet_hours_start: str = Field(default="21:00", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
    quiet_hours_end: str = Field(default="08:00", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
    # What the client's phone shows as sender (the sink and an alphanumeric Twilio sender) and the words at the end
    # of every SMS; both neutral by default, and checked against the same discretion rules as the texts.
    sms_sender_id: str = Field(default="Termin", pattern=r"^[A-Za-z0-9 ]{1,11}$")
    sms_signature: str = Field(default="", max_length=20)
    # Messages per second handed to the provider per sender; 0 switches the limit off.
    sms_rate_per_second: float = Field(default=10.0, ge=0, le=1000)
    # A transient provider error is retried this many times (exponential backoff with jitter), then failed.
    sms_max_attempts: int = Field(default=5, ge=1, le=20)
    # The first retry's wait; each next one doubles (up to an hour). Shorter only where a test waits for retries.
    sms_retry_base_seconds: float = Field(default=30.0, ge=1, le=600)
    # Texts handed to the provider per business day (Europe/Berlin); past it they wait for the next day
    # (notifier.dispatch.budget). A cost ceiling against abuse: a few hundred clients a day is a busy service.
    sms_daily_budget: int = Field(default=500, ge=1, le=1_000_000)

    @field_validator("notifier_private_key")
    @classmethod
    def _well_formed_private_key(cls, value: SecretStr) -> SecretStr:
        if value.get_secret_value():
            parse_box_key(value.get_secret_value())
        return value

    @model_validator(mode="after")
    def _embedded_notifier_database(self) -> Self:
        self.notifier_database_url = self.notifier_database_url or self.embedded_database_url("notifier")
        return self

    @model_validator(mode="after")
    def _sms_link_fits(self) -> Self:
        signature = self.sms_signature.strip()
        used = len(self.public_base_url) + (len(signature) + 1 if signature else 0)
        if used > MAX_SMS_BASE_URL_AND_SIGNATURE:
            raise ValueError(
                f"PUBLIC_BASE_URL ({len(self.public_base_url)} characters) and SMS_SIGNATURE ({len(signature)}) "
                f"together may have at most {MAX_SMS_BASE_URL_AND_SIGNATURE} characters: every SMS carries the "
                "manage link and the signature, and a Russian, Ukrainian, Bulgarian or Thai text must still fit "
                "two SMS segments (use a shorter domain or signature)")
        return self

    def sender_problem(self) -> str | None:
        """Why a process that sends texts (the worker, the launcher) must not start with these settings, or None.

        The sink sends nothing: in production a forgotten SMS_PROVIDER would leave every client without texts and
        gather manage links in a file. It stays possible (a staging system), but only when asked for. Checked
        where texts are sent, not here as a validator: the beat and `notifier init` read these settings too and
        send nothing, so they need no provider."""
        if self.lotse_env == "production" and "sms_provider" not in self.model_fields_set:
            return ("SMS_PROVIDER must be set when LOTSE_ENV=production: 'twilio' to send texts, or 'sink' to "
                    "send none and only record them in VAR_DIR/sms-sink.jsonl")
        return None

    @model_validator(mode="after")
    def _twilio_complete(self) -> Self:
        if self.sms_provider != "twilio":
            return self
        if not self.twilio_account_sid.startswith("AC") or len(self.twilio_account_sid) != 34:
            raise ValueError("TWILIO_ACCOUNT_SID must be set (AC followed by 32 hex digits) when SMS_PROVIDER=twilio")
        if not self.twilio_auth_token.get_secret_value():
            raise ValueError("TWILIO_AUTH_TOKEN must be set when SMS_PROVIDER=twilio")
        if not (self.twilio_from or self.twilio_messaging_service_sid):
            raise ValueError("TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID must be set when SMS_PROVIDER=twilio")
        return self
