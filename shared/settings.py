"""What every service reads from the environment, and the small parts two services share.

Each service has its own settings class (gateway/settings.py, scheduler/settings.py, notifier/settings.py) built on
`CommonSettings` and the mixins here it needs; its composition root reads it once and passes it down, so a service
validates only the variables it reads. Every field maps to one documented environment variable (the field name
upper-cased). A wrong value stops the service at start with a message that names the variable, never a traceback
deep in a request.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Literal, Self, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.crypto import parse_data_key

SUPPORTED_DATABASE_SCHEMES = ("sqlite", "postgresql", "postgresql+psycopg", "postgres")
SUPPORTED_BROKER_SCHEMES = ("sqla+sqlite", "amqp", "pyamqp", "memory")


def default_var_dir() -> Path:
    """The checkout's `var/` when Lotse runs from a checkout (an editable install), wherever the command is started;
    else `var` in the working directory (an installed package: the image sets VAR_DIR)."""
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "pyproject.toml").is_file() and (checkout / "services").is_dir():
        return checkout / "var"
    return Path("var")


class ConfigurationError(Exception):
    """A setting is missing or wrong; the message names the environment variable."""


def _http_url(value: str) -> str:
    if value and urlsplit(value).scheme not in ("http", "https"):
        raise ValueError("must be an http:// or https:// URL")
    return value.rstrip("/")


def _database_url(value: str) -> str:
    if value and urlsplit(value).scheme not in SUPPORTED_DATABASE_SCHEMES:
        raise ValueError("must start with sqlite:/// or postgresql://")
    return value


def _broker_url(value: str) -> str:
    if value and urlsplit(value).scheme not in SUPPORTED_BROKER_SCHEMES:
        raise ValueError("must start with amqp:// (RabbitMQ) or sqla+sqlite:/// (embedded)")
    return value


def _known_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (expected e.g. Europe/Berlin)") from None
    return value


HttpUrl = Annotated[str, AfterValidator(_http_url)]
# A role's internal port for Prometheus; 0 switches it off. Each role has its own default so that the embedded
# default's roles, all on one machine, do not collide.
MetricsPort = Annotated[int, Field(ge=0, le=65535)]
DatabaseUrl = Annotated[str, AfterValidator(_database_url)]


class CommonSettings(BaseSettings):
    """The variables every service reads (see README, "Configuration")."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=False)

    lotse_env: Literal["embedded", "production"] = "embedded"
    var_dir: Path = Field(default_factory=default_var_dir)
    broker_url: Annotated[str, AfterValidator(_broker_url)] = ""
    timezone: Annotated[str, AfterValidator(_known_zone)] = "Europe/Berlin"
    # How long the gateway waits for a reply, and so how long a reply is worth sending.
    slots_timeout_seconds: float = Field(default=3.0, gt=0, le=30)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Where each role serves /metrics (its <ROLE>_METRICS_PORT): loopback by default, never the clients' address.
    # A container sets 0.0.0.0 so that Prometheus on the compose network can scrape it (ports not published).
    metrics_host: str = "127.0.0.1"
    # How often each process tells the gateway it is alive (shared.heartbeat).
    heartbeat_seconds: float = Field(default=30.0, ge=1, le=3600)

    @model_validator(mode="after")
    def _embedded_broker_by_default(self) -> Self:
        if not self.broker_url:
            self.broker_url = f"sqla+sqlite:///{self.var_dir.resolve() / 'broker.sqlite'}"
        return self

    def embedded_database_url(self, service: str) -> str:
        """The SQLite file in VAR_DIR a service uses when its *_DATABASE_URL is not set."""
        return f"sqlite:///{self.var_dir.resolve() / (service + '.sqlite')}"

    @property
    def is_embedded_broker(self) -> bool:
        return self.broker_url.startswith(("sqla+", "memory"))


class WorkerSettings(CommonSettings):
    """For the services that run Celery workers (scheduler, notifier)."""

    worker_concurrency: int = Field(default=1, ge=1, le=64)


class PublicUrlSettings(CommonSettings):
    """Where clients reach the gateway: its port, and the public address links and Twilio callbacks point at."""

    port: int = Field(default=8000, ge=1, le=65535)
    public_base_url: HttpUrl = ""  # default: http://127.0.0.1:$PORT

    @model_validator(mode="after")
    def _loopback_url_by_default(self) -> Self:
        if not self.public_base_url:
            self.public_base_url = f"http://127.0.0.1:{self.port}"
        return self


class DataKeySettings(CommonSettings):
    """For the services that encrypt phone numbers (gateway, notifier): the data key."""

    data_key: SecretStr = SecretStr("")

    @field_validator("data_key")
    @classmethod
    def _well_formed_key(cls, value: SecretStr) -> SecretStr:
        if value.get_secret_value():
            parse_data_key(value.get_secret_value())
        return value

    @model_validator(mode="after")
    def _production_needs_key(self) -> Self:
        if self.lotse_env == "production" and not self.data_key.get_secret_value():
            raise ValueError("DATA_KEY must be set when LOTSE_ENV=production (it is never generated there)")
        return self


def _country_list(value: str) -> str:
    from shared.phones import parse_country_list  # here, not at the top: the scheduler never loads phonenumbers

    return ",".join(parse_country_list(value))


class SmsDestinationSettings(CommonSettings):
    """For the services that accept or text a phone number (gateway, notifier): where texts may go.

    `SMS_ALLOWED_COUNTRIES` lists two-letter country codes besides Germany, which is always allowed; the gateway
    refuses other numbers and the notifier fails a text to one without sending it."""

    sms_allowed_countries: Annotated[str, AfterValidator(_country_list)] = "DE"

    @property
    def allowed_countries(self) -> tuple[str, ...]:
        return tuple(self.sms_allowed_countries.split(","))


AnySettings = TypeVar("AnySettings", bound=CommonSettings)


def load_settings(settings_class: type[AnySettings], **overrides: object) -> AnySettings:
    """Read the environment once. Raises ConfigurationError naming the variable that is wrong."""
    try:
        return settings_class(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_input=False, include_url=False):
            name = ".".join(str(part) for part in error["loc"]).upper()
            message = str(error["msg"]).removeprefix("Value error, ")
            problems.append(f"{name}: {message}" if name else message)
        raise ConfigurationError("; ".join(problems)) from None


def load_settings_or_exit(settings_class: type[AnySettings], **overrides: object) -> AnySettings:
    """For the command-line entry points: a configuration error ends the process with exit code 2."""
    try:
        return load_settings(settings_class, **overrides)
    except ConfigurationError as exc:
        print(f"lotse: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
