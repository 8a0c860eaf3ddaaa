"""Settings from the environment: embedded defaults, and a wrong value stops the start with the variable's name."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.crypto import generate_data_key
from shared.settings import ConfigurationError, Settings, load_settings, load_settings_or_exit

TWILIO_SID = "AC" + "0123456789abcdef" * 2
DATABASE_VARIABLES = ["GATEWAY_DATABASE_URL", "SCHEDULER_DATABASE_URL", "NOTIFIER_DATABASE_URL"]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No setting of this machine or of another test leaks in; the working directory is a fresh one."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def configuration_error(monkeypatch: pytest.MonkeyPatch, **env: str) -> str:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    return str(caught.value)


# --- embedded defaults -----------------------------------------------------------------------------------------


def test_defaults_are_embedded_sqlite_files_under_the_checkouts_var_wherever_it_runs(clean_environment: Path) -> None:
    settings = load_settings()
    var = Path(__file__).resolve().parents[2] / "var"  # not the working directory (clean_environment's)

    assert settings.lotse_env == "embedded"
    assert settings.gateway_database_url == f"sqlite:///{var / 'gateway.sqlite'}"
    assert settings.scheduler_database_url == f"sqlite:///{var / 'scheduler.sqlite'}"
    assert settings.notifier_database_url == f"sqlite:///{var / 'notifier.sqlite'}"
    assert settings.broker_url == f"sqla+sqlite:///{var / 'broker.sqlite'}"
    assert settings.is_embedded_broker


def test_each_service_has_its_own_database_file() -> None:
    settings = load_settings()

    urls = {settings.gateway_database_url, settings.scheduler_database_url, settings.notifier_database_url}
    assert len(urls) == 3


def test_other_defaults_are_safe_for_a_first_start() -> None:
    settings = load_settings()

    assert settings.sms_provider == "sink"
    assert settings.timezone == "Europe/Berlin"
    assert settings.host == "127.0.0.1"
    assert settings.port == 8000
    assert settings.data_key.get_secret_value() == ""


def test_var_dir_moves_every_embedded_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    elsewhere = tmp_path / "data"
    monkeypatch.setenv("VAR_DIR", str(elsewhere))

    settings = load_settings()

    for url in (settings.gateway_database_url, settings.scheduler_database_url, settings.notifier_database_url,
                settings.broker_url):
        assert url.endswith(".sqlite")
        assert str(elsewhere.resolve()) in url


def test_explicit_urls_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_DATABASE_URL", "postgresql+psycopg://lotse@db/gateway")
    monkeypatch.setenv("BROKER_URL", "amqp://lotse@rabbit:5672/lotse")

    settings = load_settings()

    assert settings.gateway_database_url == "postgresql+psycopg://lotse@db/gateway"
    assert settings.broker_url == "amqp://lotse@rabbit:5672/lotse"
    assert not settings.is_embedded_broker
    assert settings.scheduler_database_url.startswith("sqlite:///")


def test_public_base_url_defaults_to_loopback_on_the_configured_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "8123")

    assert load_settings().public_base_url == "http://127.0.0.1:8123"


def test_public_base_url_is_kept_without_its_trailing_slash(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://termine.example.org/")

    assert load_settings().public_base_url == "https://termine.example.org"


def test_overrides_by_field_name_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "8123")

    settings = load_settings(port=9000)

    assert settings.port == 9000
    assert settings.public_base_url == "http://127.0.0.1:9000"


def test_environment_variable_names_are_not_case_sensitive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("port", "8124")

    assert load_settings().port == 8124


# --- Twilio ----------------------------------------------------------------------------------------------------


def test_twilio_without_account_sid_names_twilio_account_sid(monkeypatch: pytest.MonkeyPatch) -> None:
    message = configuration_error(monkeypatch, SMS_PROVIDER="twilio", TWILIO_AUTH_TOKEN="t", TWILIO_FROM="+4930")

    assert "TWILIO_ACCOUNT_SID" in message


def test_twilio_with_a_malformed_account_sid_names_twilio_account_sid(monkeypatch: pytest.MonkeyPatch) -> None:
    message = configuration_error(
        monkeypatch, SMS_PROVIDER="twilio", TWILIO_ACCOUNT_SID="AC123", TWILIO_AUTH_TOKEN="t", TWILIO_FROM="+4930"
    )

    assert "TWILIO_ACCOUNT_SID" in message


def test_twilio_without_auth_token_names_twilio_auth_token(monkeypatch: pytest.MonkeyPatch) -> None:
    message = configuration_error(monkeypatch, SMS_PROVIDER="twilio", TWILIO_ACCOUNT_SID=TWILIO_SID,
                                  TWILIO_FROM="+4930")

    assert "TWILIO_AUTH_TOKEN" in message


def test_twilio_without_a_sender_names_both_ways_to_give_one(monkeypatch: pytest.MonkeyPatch) -> None:
    message = configuration_error(monkeypatch, SMS_PROVIDER="twilio", TWILIO_ACCOUNT_SID=TWILIO_SID,
                                  TWILIO_AUTH_TOKEN="t")

    assert "TWILIO_FROM" in message
    assert "TWILIO_MESSAGING_SERVICE_SID" in message


@pytest.mark.parametrize("sender", [{"TWILIO_FROM": "+4930"}, {"TWILIO_MESSAGING_SERVICE_SID": "MG" + "0" * 32}])
def test_complete_twilio_settings_load(monkeypatch: pytest.MonkeyPatch, sender: dict[str, str]) -> None:
    for name, value in {"SMS_PROVIDER": "twilio", "TWILIO_ACCOUNT_SID": TWILIO_SID, "TWILIO_AUTH_TOKEN": "t",
                        **sender}.items():
        monkeypatch.setenv(name, value)

    settings = load_settings()

    assert settings.sms_provider == "twilio"
    assert settings.twilio_auth_token.get_secret_value() == "t"


def test_twilio_auth_token_is_not_shown_when_settings_are_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "very-secret-token")

    settings = load_settings()

    assert "very-secret-token" not in repr(settings)
    assert "very-secret-token" not in str(settings)


def test_unknown_sms_provider_names_sms_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "SMS_PROVIDER" in configuration_error(monkeypatch, SMS_PROVIDER="twillio")


# --- production ------------------------------------------------------------------------------------------------


def test_production_without_data_key_names_data_key(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "DATA_KEY" in configuration_error(monkeypatch, LOTSE_ENV="production")


def test_production_with_data_key_loads_and_keeps_the_key_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    key = generate_data_key()
    monkeypatch.setenv("LOTSE_ENV", "production")
    monkeypatch.setenv("DATA_KEY", key)

    settings = load_settings()

    assert settings.data_key.get_secret_value() == key
    assert key not in repr(settings)


def test_unknown_lotse_env_names_lotse_env(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "LOTSE_ENV" in configuration_error(monkeypatch, LOTSE_ENV="staging")


# --- URLs ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("variable", DATABASE_VARIABLES)
@pytest.mark.parametrize("url", ["mysql://lotse:s3cret-pw@db/lotse", "db.example.org:5432/lotse", "not a url"])
def test_bad_database_url_names_its_variable(monkeypatch: pytest.MonkeyPatch, variable: str, url: str) -> None:
    message = configuration_error(monkeypatch, **{variable: url})

    assert variable in message
    assert all(other not in message for other in DATABASE_VARIABLES if other != variable)


def test_bad_database_url_error_does_not_repeat_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    message = configuration_error(monkeypatch, GATEWAY_DATABASE_URL="mysql://lotse:s3cret-pw@db/lotse")

    assert "s3cret-pw" not in message


@pytest.mark.parametrize(
    "url", ["sqlite:////srv/lotse/gateway.sqlite", "postgresql://u@h/db", "postgresql+psycopg://u@h/db",
            "postgres://u@h/db"]
)
def test_supported_database_urls_are_accepted(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("GATEWAY_DATABASE_URL", url)

    assert load_settings().gateway_database_url == url


@pytest.mark.parametrize("url", ["redis://localhost:6379/0", "rabbit:5672"])
def test_bad_broker_url_names_broker_url(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    assert "BROKER_URL" in configuration_error(monkeypatch, BROKER_URL=url)


@pytest.mark.parametrize("variable", ["PUBLIC_BASE_URL", "TWILIO_API_BASE_URL"])
@pytest.mark.parametrize("url", ["ftp://files.example.org", "termine.example.org", "javascript:alert(1)"])
def test_non_http_url_names_its_variable(monkeypatch: pytest.MonkeyPatch, variable: str, url: str) -> None:
    assert variable in configuration_error(monkeypatch, **{variable: url})


# --- time zone and numbers -------------------------------------------------------------------------------------


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "Europe/Berlinn", "CEST+2", "../../etc/passwd", " "])
def test_unknown_time_zone_names_timezone(monkeypatch: pytest.MonkeyPatch, zone: str) -> None:
    assert "TIMEZONE" in configuration_error(monkeypatch, TIMEZONE=zone)


@pytest.mark.parametrize("zone", ["UTC", "Europe/Vienna"])
def test_known_time_zone_is_accepted(monkeypatch: pytest.MonkeyPatch, zone: str) -> None:
    monkeypatch.setenv("TIMEZONE", zone)

    assert load_settings().timezone == zone


@pytest.mark.parametrize("port", ["0", "65536", "-1", "http", "80.5"])
def test_port_outside_1_to_65535_or_not_a_number_names_port(monkeypatch: pytest.MonkeyPatch, port: str) -> None:
    assert "PORT" in configuration_error(monkeypatch, PORT=port)


@pytest.mark.parametrize("port", ["1", "65535"])
def test_port_at_the_ends_of_the_range_is_accepted(monkeypatch: pytest.MonkeyPatch, port: str) -> None:
    monkeypatch.setenv("PORT", port)

    assert load_settings().port == int(port)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SLOTS_TIMEOUT_SECONDS", "0"),
        ("SLOTS_TIMEOUT_SECONDS", "31"),
        ("SLOT_STEP_MINUTES", "4"),
        ("TRAVEL_BUFFER_MINUTES", "-1"),
        ("CONTACT_RETENTION_DAYS", "0"),
        ("CONTACT_RETENTION_DAYS", "366"),
        ("WORKER_CONCURRENCY", "0"),
        ("LOG_LEVEL", "CHATTY"),
    ],
)
def test_out_of_range_value_names_its_variable(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    assert variable in configuration_error(monkeypatch, **{variable: value})


def test_every_wrong_variable_is_named_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    message = configuration_error(monkeypatch, PORT="0", TIMEZONE="Nowhere/Town", BROKER_URL="redis://x")

    assert "PORT" in message
    assert "TIMEZONE" in message
    assert "BROKER_URL" in message


def test_configuration_error_is_one_line_without_pydantic_noise(monkeypatch: pytest.MonkeyPatch) -> None:
    message = configuration_error(monkeypatch, PORT="0")

    assert "\n" not in message
    assert "Value error" not in message
    assert "errors.pydantic.dev" not in message


# --- the command-line entry ------------------------------------------------------------------------------------


def test_configuration_error_at_the_command_line_exits_2_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TIMEZONE", "Nowhere/Town")

    with pytest.raises(SystemExit) as caught:
        load_settings_or_exit()

    assert caught.value.code == 2
    assert "TIMEZONE" in capsys.readouterr().err


def test_good_configuration_at_the_command_line_returns_settings() -> None:
    assert load_settings_or_exit().port == 8000
