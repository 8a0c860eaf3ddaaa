"""Settings read once from the environment; each service's composition root builds one and passes it down.

Every field maps to one documented environment variable (the field name upper-cased). A wrong value stops the
service at start with a message that names the variable, never a traceback deep in a request.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Literal, Self
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SUPPORTED_DATABASE_SCHEMES = ("sqlite", "postgresql", "postgresql+psycopg", "postgres")
SUPPORTED_BROKER_SCHEMES = ("sqla+sqlite", "amqp", "pyamqp", "memory")
# Every SMS carries PUBLIC_BASE_URL + "/m/" + a 22-character token and ends with SMS_SIGNATURE. In Russian, Ukrainian,
# Bulgarian and Thai (UCS-2: 67 characters per segment) a text with a 40-letter place alias fits two segments only
# if both together stay within this many characters (tests/unit/test_texts.py finds it tight).
MAX_SMS_BASE_URL_AND_SIGNATURE = 29


def default_var_dir() -> Path:
    """The checkout's `var/` when Lotse runs from a checkout (an editable install), wherever the command is started;
    else `var` in the working directory (an installed package: the image sets VAR_DIR)."""
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "pyproject.toml").is_file() and (checkout / "services").is_dir():
        return checkout / "var"
    return Path("var")


class ConfigurationError(Exception):
    """A setting is missing or wrong; the message names the environment variable."""


class Settings(BaseSettings):
    """Everything the services read from the environment (see README, "Configuration")."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=False)

    lotse_env: Literal["embedded", "production"] = "embedded"
    var_dir: Path = Field(default_factory=default_var_dir)

    gateway_database_url: str = ""
    scheduler_database_url: str = ""
    notifier_database_url: str = ""
    broker_url: str = ""

    sms_provider: Literal["sink", "twilio"] = "sink"
    twilio_account_sid: str = ""
    twilio_auth_token: SecretStr = SecretStr("")
    twilio_from: str = ""
    twilio_messaging_service_sid: str = ""
    twilio_api_base_url: str = ""
    # The secret of a Twilio webhook SharedKey, for webhooks a Webhook Setting signs with it (HMAC-SHA256) instead
    # of the auth token; without it such webhooks are refused.
    twilio_webhook_shared_key: SecretStr = SecretStr("")

    public_base_url: str = ""  # default: http://127.0.0.1:$PORT
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    data_key: SecretStr = SecretStr("")

    timezone: str = "Europe/Berlin"
    slots_timeout_seconds: float = Field(default=3.0, gt=0, le=30)
    # Slots start every SLOT_STEP_MINUTES from a window's opening; the minimum notice, buffers and horizon belong
    # to each appointment type (scheduler tables), not to the deployment.
    slot_step_minutes: int = Field(default=30, ge=5, le=240)
    # Kept free between appointments of one counsellor in different towns (phone and video need none).
    travel_buffer_minutes: int = Field(default=60, ge=0, le=480)
    contact_retention_days: int = Field(default=14, ge=1, le=365)
    worker_concurrency: int = Field(default=1, ge=1, le=64)

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
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("public_base_url", "twilio_api_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if value and urlsplit(value).scheme not in ("http", "https"):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (expected e.g. Europe/Berlin)") from None
        return value

    @field_validator("gateway_database_url", "scheduler_database_url", "notifier_database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        if value and urlsplit(value).scheme not in SUPPORTED_DATABASE_SCHEMES:
            raise ValueError("must start with sqlite:/// or postgresql://")
        return value

    @field_validator("broker_url")
    @classmethod
    def _broker_url(cls, value: str) -> str:
        if value and urlsplit(value).scheme not in SUPPORTED_BROKER_SCHEMES:
            raise ValueError("must start with amqp:// (RabbitMQ) or sqla+sqlite:/// (embedded)")
        return value

    @model_validator(mode="after")
    def _fill_embedded_defaults(self) -> Self:
        var = self.var_dir.resolve()
        for service in ("gateway", "scheduler", "notifier"):
            field = f"{service}_database_url"
            if not getattr(self, field):
                setattr(self, field, f"sqlite:///{var / (service + '.sqlite')}")
        if not self.broker_url:
            self.broker_url = f"sqla+sqlite:///{var / 'broker.sqlite'}"
        if not self.public_base_url:
            self.public_base_url = f"http://127.0.0.1:{self.port}"
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

    @model_validator(mode="after")
    def _production_needs_key(self) -> Self:
        if self.lotse_env == "production" and not self.data_key.get_secret_value():
            raise ValueError("DATA_KEY must be set when LOTSE_ENV=production (it is never generated there)")
        return self

    @property
    def is_embedded_broker(self) -> bool:
        return self.broker_url.startswith(("sqla+", "memory"))


def load_settings(**overrides: object) -> Settings:
    """Read the environment once. Raises ConfigurationError naming the variable that is wrong."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_input=False, include_url=False):
            name = ".".join(str(part) for part in error["loc"]).upper()
            message = str(error["msg"]).removeprefix("Value error, ")
            problems.append(f"{name}: {message}" if name else message)
        raise ConfigurationError("; ".join(problems)) from None


def load_settings_or_exit(**overrides: object) -> Settings:
    """For the command-line entry points: a configuration error ends the process with exit code 2."""
    try:
        return load_settings(**overrides)
    except ConfigurationError as exc:
        print(f"lotse: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
