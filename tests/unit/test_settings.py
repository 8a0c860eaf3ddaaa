"""Settings from the environment, per service: embedded defaults, each service validates only the variables it reads,
and a wrong value stops the start with the variable's name."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from gateway.settings import GatewaySettings
from notifier.settings import NotifierSettings
from scheduler.settings import SchedulerSettings

from shared.crypto import generate_data_key
from shared.settings import CommonSettings, ConfigurationError, load_settings, load_settings_or_exit

REPO = Path(__file__).resolve().parents[2]
SERVICES: list[type[CommonSettings]] = [GatewaySettings, SchedulerSettings, NotifierSettings]
TWILIO_SID = "AC" + "0123456789abcdef" * 2
DATABASE_VARIABLES = {GatewaySettings: "GATEWAY_DATABASE_URL", SchedulerSettings: "SCHEDULER_DATABASE_URL",
                      NotifierSettings: "NOTIFIER_DATABASE_URL"}
# A wrong value for each variable only one or two services read.
BROKEN = {
    "DATA_KEY": "k1:tooshort",
    "NOTIFIER_PUBLIC_KEY": "n1:tooshort",
    "NOTIFIER_PRIVATE_KEY": "no-colon",
    "PORT": "0",
    "PUBLIC_BASE_URL": "termine.example.org",
    "TWILIO_API_BASE_URL": "ftp://files.example.org",
    "SMS_PROVIDER": "twillio",
    "SMS_SENDER_ID": "Beratungsstelle Nord",
    "QUIET_HOURS_START": "25:00",
    "CONTACT_RETENTION_DAYS": "0",
    "WORKER_CONCURRENCY": "0",
    "SLOT_STEP_MINUTES": "4",
    "TRAVEL_BUFFER_MINUTES": "-1",
    "VIDEO_BASE_URL": "meet.example.org/with space",
    "GATEWAY_DATABASE_URL": "mysql://x",
    "SCHEDULER_DATABASE_URL": "mysql://x",
    "NOTIFIER_DATABASE_URL": "mysql://x",
    "SMS_ALLOWED_COUNTRIES": "DE,XX",
    "SMS_DAILY_BUDGET": "0",
    "FORWARDED_ALLOW_IPS": "*",
    "BOOKINGS_PER_ADDRESS_HOUR": "0",
    "SEARCHES_PER_ADDRESS_MINUTE": "-1",
    "FUTURE_APPOINTMENTS_PER_PHONE": "0",
    "SLOTS_CACHE_SECONDS": "-1",
    "BOOKING_WAIT_SECONDS": "60",
    "QUICK_EXIT_URL": "javascript:alert(1)",
    "GATEWAY_METRICS_PORT": "http",
    "SCHEDULER_METRICS_PORT": "70000",
    "NOTIFIER_METRICS_PORT": "-1",
    "NOTIFIER_BEAT_METRICS_PORT": "65536",
    "HEARTBEAT_SECONDS": "0",
    "RABBITMQ_MANAGEMENT_URL": "rabbitmq:15672",
    "HEARTBEAT_STALE_AFTER": "1",
    "AUDIT_RETENTION_DAYS": "7",  # shorter than a month: an audit log that forgets before anyone looks
}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No setting of this machine or of another test leaks in; the working directory is a fresh one."""
    for settings_class in SERVICES:
        for name in settings_class.model_fields:
            monkeypatch.delenv(name.upper(), raising=False)
            monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def configuration_error(monkeypatch: pytest.MonkeyPatch, settings_class: type[CommonSettings], **env: str) -> str:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError) as caught:
        load_settings(settings_class)
    return str(caught.value)


def variables(settings_class: type[CommonSettings]) -> set[str]:
    return {name.upper() for name in settings_class.model_fields}


# --- which service reads what ----------------------------------------------------------------------------------


LIMITS = {"BOOKINGS_PER_ADDRESS_HOUR", "BOOKINGS_PER_ADDRESS_DAY", "BOOKINGS_PER_PHONE_HOUR", "BOOKINGS_PER_PHONE_DAY",
          "CANCELS_PER_ADDRESS_HOUR", "CANCELS_PER_PHONE_DAY", "FUTURE_APPOINTMENTS_PER_PHONE",
          "SEARCHES_PER_ADDRESS_MINUTE"}


def test_each_service_reads_the_common_variables_and_its_own() -> None:
    common = {"LOTSE_ENV", "VAR_DIR", "BROKER_URL", "TIMEZONE", "SLOTS_TIMEOUT_SECONDS", "LOG_LEVEL", "METRICS_HOST",
              "HEARTBEAT_SECONDS"}

    assert variables(GatewaySettings) == common | {"GATEWAY_DATABASE_URL", "HOST", "PORT", "PUBLIC_BASE_URL",
                                                   "DATA_KEY", "TWILIO_AUTH_TOKEN", "TWILIO_WEBHOOK_SHARED_KEY",
                                                   "NOTIFIER_PUBLIC_KEY", "SMS_ALLOWED_COUNTRIES",
                                                   "FORWARDED_ALLOW_IPS", *LIMITS, "SLOTS_CACHE_SECONDS",
                                                   "BOOKING_WAIT_SECONDS", "QUICK_EXIT_URL",
                                                   "SMS_CONVERSATION_MINUTES", "SMS_PER_PHONE_MINUTE",
                                                   "SMS_PAUSE_MINUTES", "GATEWAY_METRICS_PORT",
                                                   "RABBITMQ_MANAGEMENT_URL", "HEARTBEAT_STALE_AFTER",
                                                   "AUDIT_RETENTION_DAYS"}
    assert variables(SchedulerSettings) == common | {"SCHEDULER_DATABASE_URL", "WORKER_CONCURRENCY",
                                                     "SLOT_STEP_MINUTES", "TRAVEL_BUFFER_MINUTES", "VIDEO_BASE_URL",
                                                     "SCHEDULER_METRICS_PORT"}
    assert variables(NotifierSettings) == common | {
        "NOTIFIER_DATABASE_URL", "WORKER_CONCURRENCY", "PORT", "PUBLIC_BASE_URL", "DATA_KEY", "SMS_PROVIDER",
        "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM", "TWILIO_MESSAGING_SERVICE_SID",
        "TWILIO_API_BASE_URL", "CONTACT_RETENTION_DAYS", "QUIET_HOURS_START", "QUIET_HOURS_END", "SMS_SENDER_ID",
        "SMS_SIGNATURE", "SMS_RATE_PER_SECOND", "SMS_MAX_ATTEMPTS", "SMS_RETRY_BASE_SECONDS", "NOTIFIER_PRIVATE_KEY",
        "SMS_ALLOWED_COUNTRIES",
        "SMS_DAILY_BUDGET", "DISPATCH_EVERY_SECONDS", "NOTIFIER_METRICS_PORT", "NOTIFIER_BEAT_METRICS_PORT"}


@pytest.mark.parametrize("settings_class", SERVICES, ids=lambda c: c.__name__)
def test_a_service_starts_whatever_the_variables_it_does_not_read_hold(
        monkeypatch: pytest.MonkeyPatch, settings_class: type[CommonSettings]) -> None:
    unread = {name: value for name, value in BROKEN.items() if name not in variables(settings_class)}
    for name, value in unread.items():
        monkeypatch.setenv(name, value)

    assert unread
    load_settings(settings_class)


@pytest.mark.parametrize("settings_class", SERVICES, ids=lambda c: c.__name__)
def test_a_service_refuses_a_wrong_value_of_each_variable_it_reads_naming_it(
        monkeypatch: pytest.MonkeyPatch, settings_class: type[CommonSettings]) -> None:
    for name, value in BROKEN.items():
        if name in variables(settings_class):
            with monkeypatch.context() as scoped:
                assert name in configuration_error(scoped, settings_class, **{name: value})


def test_the_scheduler_starts_in_production_without_a_data_key_and_with_broken_twilio_values(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"LOTSE_ENV": "production", "SMS_PROVIDER": "twilio", "TWILIO_ACCOUNT_SID": "AC123",
                        "TWILIO_AUTH_TOKEN": "", "TWILIO_API_BASE_URL": "not a url"}.items():
        monkeypatch.setenv(name, value)

    assert load_settings(SchedulerSettings).lotse_env == "production"


def test_the_scheduler_process_starts_without_data_key_or_twilio_while_the_notifier_refuses_a_bad_key(
        tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "VAR_DIR": str(tmp_path), "LOTSE_ENV": "production", "SMS_PROVIDER": "twilio",
           "TWILIO_ACCOUNT_SID": "AC123"}

    scheduler = subprocess.run([sys.executable, "-m", "scheduler", "init"], env=env, cwd=REPO, capture_output=True,
                               text=True, timeout=120)
    notifier = subprocess.run([sys.executable, "-m", "notifier", "init"], env={**env, "DATA_KEY": "k1:tooshort"},
                              cwd=REPO, capture_output=True, text=True, timeout=120)

    assert scheduler.returncode == 0, scheduler.stderr
    assert notifier.returncode == 2
    assert notifier.stderr.startswith("lotse: configuration error: DATA_KEY: key 'k1'")
    assert "tooshort" not in notifier.stderr


# --- embedded defaults -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("settings_class", SERVICES, ids=lambda c: c.__name__)
def test_defaults_are_embedded_sqlite_files_under_the_checkouts_var_wherever_it_runs(
        clean_environment: Path, settings_class: type[CommonSettings]) -> None:
    settings = load_settings(settings_class)
    var = Path(__file__).resolve().parents[2] / "var"  # not the working directory (clean_environment's)
    service = DATABASE_VARIABLES[settings_class].split("_")[0].lower()

    assert settings.lotse_env == "embedded"
    assert getattr(settings, f"{service}_database_url") == f"sqlite:///{var / (service + '.sqlite')}"
    assert settings.broker_url == f"sqla+sqlite:///{var / 'broker.sqlite'}"
    assert settings.is_embedded_broker


def test_other_defaults_are_safe_for_a_first_start() -> None:
    gateway, notifier = load_settings(GatewaySettings), load_settings(NotifierSettings)

    assert notifier.sms_provider == "sink"
    assert gateway.timezone == notifier.timezone == load_settings(SchedulerSettings).timezone == "Europe/Berlin"
    assert gateway.host == "127.0.0.1"
    assert gateway.port == 8000
    assert gateway.data_key.get_secret_value() == notifier.data_key.get_secret_value() == ""


def test_var_dir_moves_every_embedded_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    elsewhere = tmp_path / "data"
    monkeypatch.setenv("VAR_DIR", str(elsewhere))

    urls = [load_settings(GatewaySettings).gateway_database_url, load_settings(GatewaySettings).broker_url,
            load_settings(SchedulerSettings).scheduler_database_url,
            load_settings(NotifierSettings).notifier_database_url]

    for url in urls:
        assert url.endswith(".sqlite")
        assert str(elsewhere.resolve()) in url


def test_explicit_urls_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_DATABASE_URL", "postgresql+psycopg://lotse@db/gateway")
    monkeypatch.setenv("BROKER_URL", "amqp://lotse@rabbit:5672/lotse")

    settings = load_settings(GatewaySettings)

    assert settings.gateway_database_url == "postgresql+psycopg://lotse@db/gateway"
    assert settings.broker_url == "amqp://lotse@rabbit:5672/lotse"
    assert not settings.is_embedded_broker
    assert load_settings(SchedulerSettings).scheduler_database_url.startswith("sqlite:///")


@pytest.mark.parametrize("settings_class", [GatewaySettings, NotifierSettings], ids=lambda c: c.__name__)
def test_public_base_url_defaults_to_loopback_on_the_configured_port(
        monkeypatch: pytest.MonkeyPatch, settings_class: type[GatewaySettings | NotifierSettings]) -> None:
    monkeypatch.setenv("PORT", "8123")

    assert load_settings(settings_class).public_base_url == "http://127.0.0.1:8123"


def test_public_base_url_is_kept_without_its_trailing_slash(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://termine.example.org/")

    assert load_settings(GatewaySettings).public_base_url == "https://termine.example.org"
    assert load_settings(NotifierSettings).public_base_url == "https://termine.example.org"


def test_overrides_by_field_name_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "8123")

    settings = load_settings(GatewaySettings, port=9000)

    assert settings.port == 9000
    assert settings.public_base_url == "http://127.0.0.1:9000"


def test_environment_variable_names_are_not_case_sensitive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("port", "8124")

    assert load_settings(GatewaySettings).port == 8124


# --- Twilio (the notifier sends, the gateway checks webhooks) --------------------------------------------------


def test_twilio_without_account_sid_names_twilio_account_sid(monkeypatch: pytest.MonkeyPatch) -> None:
    message = configuration_error(monkeypatch, NotifierSettings, SMS_PROVIDER="twilio", TWILIO_AUTH_TOKEN="t",
                                  TWILIO_FROM="+4930")

    assert "TWILIO_ACCOUNT_SID" in message


def test_twilio_with_a_malformed_account_sid_names_twilio_account_sid(monkeypatch: pytest.MonkeyPatch) -> None:
    message = configuration_error(monkeypatch, NotifierSettings, SMS_PROVIDER="twilio", TWILIO_ACCOUNT_SID="AC123",
                                  TWILIO_AUTH_TOKEN="t", TWILIO_FROM="+4930")

    assert "TWILIO_ACCOUNT_SID" in message


def test_twilio_without_auth_token_names_twilio_auth_token(monkeypatch: pytest.MonkeyPatch) -> None:
    message = configuration_error(monkeypatch, NotifierSettings, SMS_PROVIDER="twilio",
                                  TWILIO_ACCOUNT_SID=TWILIO_SID, TWILIO_FROM="+4930")

    assert "TWILIO_AUTH_TOKEN" in message


def test_twilio_without_a_sender_names_both_ways_to_give_one(monkeypatch: pytest.MonkeyPatch) -> None:
    message = configuration_error(monkeypatch, NotifierSettings, SMS_PROVIDER="twilio",
                                  TWILIO_ACCOUNT_SID=TWILIO_SID, TWILIO_AUTH_TOKEN="t")

    assert "TWILIO_FROM" in message
    assert "TWILIO_MESSAGING_SERVICE_SID" in message


@pytest.mark.parametrize("sender", [{"TWILIO_FROM": "+4930"}, {"TWILIO_MESSAGING_SERVICE_SID": "MG" + "0" * 32}])
def test_complete_twilio_settings_load(monkeypatch: pytest.MonkeyPatch, sender: dict[str, str]) -> None:
    for name, value in {"SMS_PROVIDER": "twilio", "TWILIO_ACCOUNT_SID": TWILIO_SID, "TWILIO_AUTH_TOKEN": "t",
                        **sender}.items():
        monkeypatch.setenv(name, value)

    settings = load_settings(NotifierSettings)

    assert settings.sms_provider == "twilio"
    assert settings.twilio_auth_token.get_secret_value() == "t"


def test_the_gateway_reads_the_secrets_that_check_twilio_webhooks_and_no_sending_setting(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "token")
    monkeypatch.setenv("TWILIO_WEBHOOK_SHARED_KEY", "shared")
    monkeypatch.setenv("SMS_PROVIDER", "twilio")  # with no account or sender: only the notifier would refuse it

    settings = load_settings(GatewaySettings)

    assert settings.twilio_auth_token.get_secret_value() == "token"
    assert settings.twilio_webhook_shared_key.get_secret_value() == "shared"


@pytest.mark.parametrize("settings_class", [GatewaySettings, NotifierSettings], ids=lambda c: c.__name__)
def test_twilio_auth_token_is_not_shown_when_settings_are_printed(
        monkeypatch: pytest.MonkeyPatch, settings_class: type[GatewaySettings | NotifierSettings]) -> None:
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "very-secret-token")

    settings = load_settings(settings_class)

    assert "very-secret-token" not in repr(settings)
    assert "very-secret-token" not in str(settings)


# --- production and the data key ---------------------------------------------------------------------------------


@pytest.mark.parametrize("settings_class", [GatewaySettings, NotifierSettings], ids=lambda c: c.__name__)
def test_production_without_data_key_names_data_key(
        monkeypatch: pytest.MonkeyPatch, settings_class: type[CommonSettings]) -> None:
    assert "DATA_KEY" in configuration_error(monkeypatch, settings_class, LOTSE_ENV="production")


@pytest.mark.parametrize("settings_class", [GatewaySettings, NotifierSettings], ids=lambda c: c.__name__)
@pytest.mark.parametrize("key", ["k1:tooshort", "no-colon", "k1:" + "A" * 43 + ",k1:" + "B" * 43])
def test_a_malformed_data_key_is_refused_naming_data_key_without_repeating_it(
        monkeypatch: pytest.MonkeyPatch, settings_class: type[CommonSettings], key: str) -> None:
    message = configuration_error(monkeypatch, settings_class, DATA_KEY=key)

    assert message.startswith("DATA_KEY: ")
    assert "tooshort" not in message and "AAAA" not in message


@pytest.mark.parametrize("settings_class", [GatewaySettings, NotifierSettings], ids=lambda c: c.__name__)
def test_production_with_data_key_loads_and_keeps_the_key_secret(
        monkeypatch: pytest.MonkeyPatch, settings_class: type[GatewaySettings | NotifierSettings]) -> None:
    key = generate_data_key()
    monkeypatch.setenv("LOTSE_ENV", "production")
    monkeypatch.setenv("DATA_KEY", key)

    settings = load_settings(settings_class)

    assert settings.data_key.get_secret_value() == key
    assert key not in repr(settings)


def test_production_never_falls_back_to_the_sink(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without SMS_PROVIDER, production would send no text at all and gather manage links in a file."""
    for name, value in {"DATA_KEY": generate_data_key(), "LOTSE_ENV": "production"}.items():
        monkeypatch.setenv(name, value)
    assert load_settings(NotifierSettings).sender_problem() == (
        "SMS_PROVIDER must be set when LOTSE_ENV=production: 'twilio' to send texts, or 'sink' to send none and "
        "only record them in VAR_DIR/sms-sink.jsonl")
    monkeypatch.setenv("LOTSE_ENV", "embedded")
    assert load_settings(NotifierSettings).sender_problem() is None, "the embedded default records texts"


def test_production_may_choose_the_sink_explicitly(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"DATA_KEY": generate_data_key(), "LOTSE_ENV": "production", "SMS_PROVIDER": "sink"}.items():
        monkeypatch.setenv(name, value)
    settings = load_settings(NotifierSettings)
    assert settings.sms_provider == "sink" and settings.sender_problem() is None


@pytest.mark.parametrize("settings_class", SERVICES, ids=lambda c: c.__name__)
def test_unknown_lotse_env_names_lotse_env(monkeypatch: pytest.MonkeyPatch,
                                           settings_class: type[CommonSettings]) -> None:
    assert "LOTSE_ENV" in configuration_error(monkeypatch, settings_class, LOTSE_ENV="staging")


# --- URLs ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("settings_class", SERVICES, ids=lambda c: c.__name__)
@pytest.mark.parametrize("url", ["mysql://lotse:s3cret-pw@db/lotse", "db.example.org:5432/lotse", "not a url"])
def test_bad_database_url_names_its_variable_and_only_its_service_reads_it(
        monkeypatch: pytest.MonkeyPatch, settings_class: type[CommonSettings], url: str) -> None:
    variable = DATABASE_VARIABLES[settings_class]

    message = configuration_error(monkeypatch, settings_class, **{variable: url})

    assert message.startswith(f"{variable}: ")
    assert "s3cret-pw" not in message
    for other in SERVICES:
        if other is not settings_class:
            load_settings(other)


@pytest.mark.parametrize(
    "url", ["sqlite:////srv/lotse/gateway.sqlite", "postgresql://u@h/db", "postgresql+psycopg://u@h/db",
            "postgres://u@h/db"]
)
def test_supported_database_urls_are_accepted(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("GATEWAY_DATABASE_URL", url)

    assert load_settings(GatewaySettings).gateway_database_url == url


@pytest.mark.parametrize("settings_class", SERVICES, ids=lambda c: c.__name__)
@pytest.mark.parametrize("url", ["redis://localhost:6379/0", "rabbit:5672"])
def test_bad_broker_url_names_broker_url(monkeypatch: pytest.MonkeyPatch, settings_class: type[CommonSettings],
                                         url: str) -> None:
    assert "BROKER_URL" in configuration_error(monkeypatch, settings_class, BROKER_URL=url)


@pytest.mark.parametrize(
    ("settings_class", "variable"),
    [(GatewaySettings, "PUBLIC_BASE_URL"), (NotifierSettings, "PUBLIC_BASE_URL"),
     (NotifierSettings, "TWILIO_API_BASE_URL")],
)
@pytest.mark.parametrize("url", ["ftp://files.example.org", "termine.example.org", "javascript:alert(1)"])
def test_non_http_url_names_its_variable(monkeypatch: pytest.MonkeyPatch, settings_class: type[CommonSettings],
                                         variable: str, url: str) -> None:
    assert variable in configuration_error(monkeypatch, settings_class, **{variable: url})


# --- time zone and numbers -------------------------------------------------------------------------------------


@pytest.mark.parametrize("settings_class", SERVICES, ids=lambda c: c.__name__)
@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "Europe/Berlinn", "CEST+2", "../../etc/passwd", " "])
def test_unknown_time_zone_names_timezone(monkeypatch: pytest.MonkeyPatch, settings_class: type[CommonSettings],
                                          zone: str) -> None:
    assert "TIMEZONE" in configuration_error(monkeypatch, settings_class, TIMEZONE=zone)


@pytest.mark.parametrize("zone", ["UTC", "Europe/Vienna"])
def test_known_time_zone_is_accepted(monkeypatch: pytest.MonkeyPatch, zone: str) -> None:
    monkeypatch.setenv("TIMEZONE", zone)

    assert all(load_settings(settings_class).timezone == zone for settings_class in SERVICES)


@pytest.mark.parametrize("port", ["0", "65536", "-1", "http", "80.5"])
def test_port_outside_1_to_65535_or_not_a_number_names_port(monkeypatch: pytest.MonkeyPatch, port: str) -> None:
    assert "PORT" in configuration_error(monkeypatch, GatewaySettings, PORT=port)


@pytest.mark.parametrize("port", ["1", "65535"])
def test_port_at_the_ends_of_the_range_is_accepted(monkeypatch: pytest.MonkeyPatch, port: str) -> None:
    monkeypatch.setenv("PORT", port)

    assert load_settings(GatewaySettings).port == int(port)


@pytest.mark.parametrize(
    ("settings_class", "variable", "value"),
    [
        (GatewaySettings, "SLOTS_TIMEOUT_SECONDS", "0"),
        (SchedulerSettings, "SLOTS_TIMEOUT_SECONDS", "31"),
        (NotifierSettings, "SLOTS_TIMEOUT_SECONDS", "31"),
        (SchedulerSettings, "SLOT_STEP_MINUTES", "4"),
        (SchedulerSettings, "TRAVEL_BUFFER_MINUTES", "-1"),
        (SchedulerSettings, "VIDEO_BASE_URL", "https://meet.example.org/?room="),
        (NotifierSettings, "CONTACT_RETENTION_DAYS", "0"),
        (NotifierSettings, "CONTACT_RETENTION_DAYS", "366"),
        (SchedulerSettings, "WORKER_CONCURRENCY", "0"),
        (NotifierSettings, "WORKER_CONCURRENCY", "65"),
        (GatewaySettings, "LOG_LEVEL", "CHATTY"),
        (SchedulerSettings, "LOG_LEVEL", "CHATTY"),
        (NotifierSettings, "LOG_LEVEL", "CHATTY"),
    ],
)
def test_out_of_range_value_names_its_variable(monkeypatch: pytest.MonkeyPatch, settings_class: type[CommonSettings],
                                               variable: str, value: str) -> None:
    assert variable in configuration_error(monkeypatch, settings_class, **{variable: value})


def test_every_wrong_variable_is_named_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    message = configuration_error(monkeypatch, GatewaySettings, PORT="0", TIMEZONE="Nowhere/Town",
                                  BROKER_URL="redis://x")

    assert "PORT" in message
    assert "TIMEZONE" in message
    assert "BROKER_URL" in message


def test_configuration_error_is_one_line_without_pydantic_noise(monkeypatch: pytest.MonkeyPatch) -> None:
    message = configuration_error(monkeypatch, GatewaySettings, PORT="0")

    assert "\n" not in message
    assert "Value error" not in message
    assert "errors.pydantic.dev" not in message


# --- the command-line entry ------------------------------------------------------------------------------------


def test_configuration_error_at_the_command_line_exits_2_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TIMEZONE", "Nowhere/Town")

    with pytest.raises(SystemExit) as caught:
        load_settings_or_exit(SchedulerSettings)

    assert caught.value.code == 2
    assert "TIMEZONE" in capsys.readouterr().err


def test_good_configuration_at_the_command_line_returns_settings() -> None:
    assert load_settings_or_exit(GatewaySettings).port == 8000


# --- limits against abuse (issue "Lotse 5/7") --------------------------------------------------------------------


def test_abuse_limits_have_safe_defaults() -> None:
    gateway, notifier = load_settings(GatewaySettings), load_settings(NotifierSettings)
    assert gateway.forwarded_allow_ips == ""  # no proxy is trusted unless named
    assert gateway.allowed_countries == notifier.allowed_countries == ("DE",)
    assert gateway.future_appointments_per_phone == 3 and gateway.bookings_per_phone_hour == 3
    assert notifier.sms_daily_budget == 500


def test_germany_is_always_allowed_and_codes_are_read_in_any_case(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMS_ALLOWED_COUNTRIES", "at, pl,ro")
    assert load_settings(GatewaySettings).allowed_countries == ("DE", "AT", "PL", "RO")


def test_forwarded_allow_ips_takes_addresses_and_networks_and_names_a_wrong_entry(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "172.30.86.1, 10.0.0.0/8, ::1")
    proxies = load_settings(GatewaySettings).trusted_proxies
    assert proxies.trusts("10.2.3.4") and proxies.trusts("::1") and not proxies.trusts("192.0.2.1")
    message = configuration_error(monkeypatch, GatewaySettings, FORWARDED_ALLOW_IPS="10.0.0.1,proxy.local")
    assert "FORWARDED_ALLOW_IPS" in message and "'proxy.local'" in message
