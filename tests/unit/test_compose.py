"""docker-compose.yml, the Dockerfile and shared/healthcheck.py, checked without Docker (this machine has none).

The compose file is parsed and its variables are interpolated here the way compose does it, so that what a
container would receive is checked against the settings, the commands against the modules that exist, and the
init step's shell logic by running it with a stand-in `python`.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import shlex
import socket
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from gateway.settings import GatewaySettings
from notifier.settings import NotifierSettings
from scheduler.settings import SchedulerSettings

from shared import healthcheck
from shared.crypto import generate_data_key
from shared.settings import CommonSettings, PublicUrlSettings, load_settings
from tests.support import infra
from tests.support.system import System, base_env, free_port, poll

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"

# Long-running roles and the healthcheck role each one is checked with.
ROLES = {"gateway": "gateway", "scheduler": "scheduler", "notifier": "notifier", "notifier-beat": "notifier-beat"}
ONE_SHOT = {"init"}
INFRA = {"postgres", "rabbitmq"}
# Variables of the infrastructure images (documented by the postgres and rabbitmq images), not Lotse settings.
INFRA_IMAGE_VARIABLES = {
    "postgres": {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"},
    "rabbitmq": {"RABBITMQ_DEFAULT_USER", "RABBITMQ_DEFAULT_PASS"},
}
# Variables only the compose file reads (documented in its header), never passed to a service as such.
COMPOSE_ONLY_VARIABLES = {"POSTGRES_PASSWORD", "RABBITMQ_PASSWORD", "LOTSE_DEMO", "LOTSE_HTTP_BIND", "LOTSE_IMAGE_TAG",
                          "NOTIFIER_REPLICAS", "SCHEDULER_CONCURRENCY"}
SECRET_VARIABLES = {"DATA_KEY", "POSTGRES_PASSWORD", "RABBITMQ_PASSWORD"}
# The settings each Lotse module run with `python -m` reads when it starts.
SETTINGS_OF_MODULE: dict[str, type[CommonSettings]] = {
    "gateway": GatewaySettings, "gateway.init": GatewaySettings, "scheduler": SchedulerSettings,
    "notifier": NotifierSettings,
}
SETTINGS_VARIABLES = {name.upper() for cls in SETTINGS_OF_MODULE.values() for name in cls.model_fields}

# What an operator's .env holds at least (the passwords are letters and digits, as the header asks).
OPERATOR_ENV = {"DATA_KEY": generate_data_key(), "POSTGRES_PASSWORD": "pg1secret", "RABBITMQ_PASSWORD": "mq1secret",
                "SMS_PROVIDER": "sink"}

INTERPOLATION = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")
PYTHON_MODULE = re.compile(r"\bpython -m (?P<module>[\w.]+)(?P<args>(?: [\w-]+)*)")


class MissingVariable(Exception):
    pass


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Compose's `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?message}` and `$$`."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group("name", "op", "arg")
        value = env.get(name)
        if op == ":-":
            return value or arg
        if op == "-":
            return arg if value is None else value
        if op in (":?", "?") and (value is None or (op == ":?" and not value)):
            raise MissingVariable(f"{name}: {arg}")
        return value or ""

    return INTERPOLATION.sub(replace, text)


def strings_in(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from strings_in(key)
            yield from strings_in(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings_in(item)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return dict(yaml.safe_load(COMPOSE_FILE.read_text()))


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(compose["services"])


@pytest.fixture(scope="module")
def app_services(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every service built from our Dockerfile (the roles and the one-shot init)."""
    return {name: service for name, service in services.items() if "build" in service}


def container_env(service: dict[str, Any], operator_env: Mapping[str, str] = OPERATOR_ENV) -> dict[str, str]:
    return {key: interpolate(str(value), operator_env) for key, value in service.get("environment", {}).items()}


def settings_of(service: dict[str, Any]) -> list[type[CommonSettings]]:
    """The settings classes of the modules a service's command runs (init runs all three services' init)."""
    return [SETTINGS_OF_MODULE[module] for module, _args in python_invocations(service["command"])]


def variables_read_by(service: dict[str, Any]) -> set[str]:
    return {name.upper() for cls in settings_of(service) for name in cls.model_fields}


def load_each(service: dict[str, Any], operator_env: Mapping[str, str] = OPERATOR_ENV) -> list[CommonSettings]:
    env = {key.lower(): value for key, value in container_env(service, operator_env).items()}
    return [load_settings(cls, **env) for cls in settings_of(service)]


# --- the services and their environment ---------------------------------------------------------------------


def test_compose_runs_the_real_stack_each_role_in_its_own_container(services: dict[str, Any],
                                                                     app_services: dict[str, Any]) -> None:
    assert set(services) == INFRA | ONE_SHOT | set(ROLES)
    assert set(app_services) == ONE_SHOT | set(ROLES)
    images = {service["image"] for service in app_services.values()}
    assert len(images) == 1, "every role runs the one image built from the Dockerfile"
    # RabbitMQ 4.3 refuses the gateway's transient, non-exclusive reply queue (see the compose file's header).
    assert services["rabbitmq"]["image"].startswith("rabbitmq:3.") and "management" in services["rabbitmq"]["image"]
    assert services["postgres"]["image"] in ("postgres:15", "postgres:16")


def test_each_role_receives_only_variables_its_own_settings_read(app_services: dict[str, Any]) -> None:
    for name, service in app_services.items():
        unread = set(service["environment"]) - variables_read_by(service)
        assert not unread, f"{name} receives {unread}, which {[c.__name__ for c in settings_of(service)]} never read"


def test_each_role_receives_what_its_settings_need_in_production(app_services: dict[str, Any]) -> None:
    # Without these a role would fall back to its embedded defaults (a SQLite file, the server-less broker, a
    # loopback address for links) or refuse to start (no DATA_KEY in production).
    for name, service in app_services.items():
        read = variables_read_by(service)
        needed = {"LOTSE_ENV", "BROKER_URL", "VAR_DIR"} | (read & {"DATA_KEY", "PUBLIC_BASE_URL"}) | {
            variable for variable in read if variable.endswith("_DATABASE_URL")}
        assert needed <= set(service["environment"]), f"{name} lacks {needed - set(service['environment'])}"


def test_the_scheduler_gets_neither_the_data_key_nor_anything_of_twilio(app_services: dict[str, Any]) -> None:
    env = set(app_services["scheduler"]["environment"])
    assert not {variable for variable in env if variable.startswith(("DATA_KEY", "TWILIO_", "SMS_"))}
    assert "PUBLIC_BASE_URL" not in env


def test_infra_services_set_only_their_images_documented_variables(services: dict[str, Any]) -> None:
    for name in INFRA:
        assert set(services[name].get("environment", {})) <= INFRA_IMAGE_VARIABLES[name]


def test_every_interpolated_variable_is_a_setting_or_a_compose_variable_documented_in_the_header(
        compose: dict[str, Any]) -> None:
    header = "\n".join(line for line in COMPOSE_FILE.read_text().splitlines() if line.startswith("#"))
    names = {m.group("name") for text in strings_in(compose) for m in INTERPOLATION.finditer(text) if m.group("name")}
    assert names, "the compose file takes its secrets and options from the environment"
    for name in names:
        assert name in SETTINGS_VARIABLES | COMPOSE_ONLY_VARIABLES, f"${{{name}}} is neither a setting nor documented"
        assert re.search(rf"\b{name}\b", header), f"${{{name}}} is not explained in the header of docker-compose.yml"
    for text in strings_in(compose):
        assert not re.search(r"\$(?![{$])", INTERPOLATION.sub("", text)), f"unbraced or stray $ in {text!r}"


def test_data_key_is_required_with_no_default_by_every_role_that_reads_it(app_services: dict[str, Any]) -> None:
    for name, service in app_services.items():
        if "DATA_KEY" not in variables_read_by(service):
            continue
        assert re.fullmatch(r"\$\{DATA_KEY:\?[^}]+\}", service["environment"]["DATA_KEY"]), name
        with pytest.raises(MissingVariable, match="DATA_KEY"):
            container_env(service, {k: v for k, v in OPERATOR_ENV.items() if k != "DATA_KEY"})


def test_secrets_have_no_default_anywhere_in_the_compose_file(compose: dict[str, Any]) -> None:
    for text in strings_in(compose):
        for match in INTERPOLATION.finditer(text):
            if match.group("name") in SECRET_VARIABLES:
                assert match.group("op") == ":?", f"{match.group(0)} must fail when unset, not default"


def test_app_services_run_in_production_mode(app_services: dict[str, Any]) -> None:
    for name, service in app_services.items():
        assert service["environment"]["LOTSE_ENV"] == "production", name


def test_the_settings_accept_what_each_container_receives(app_services: dict[str, Any]) -> None:
    for name, service in app_services.items():
        env = container_env(service)
        for settings in load_each(service):
            assert settings.broker_url.startswith("amqp://lotse:mq1secret@rabbitmq:5672/"), name
        for database in ("gateway", "scheduler", "notifier"):
            key = f"{database.upper()}_DATABASE_URL"
            if key in env:
                assert env[key] == f"postgresql://lotse:pg1secret@postgres:5432/lotse_{database}", name


def test_twilio_can_be_switched_on_from_the_env_file_and_reaches_only_the_sender_and_the_webhook_checker(
        app_services: dict[str, Any]) -> None:
    twilio = {**OPERATOR_ENV, "SMS_PROVIDER": "twilio", "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
              "TWILIO_AUTH_TOKEN": "token", "TWILIO_FROM": "+4915100000000", "TWILIO_WEBHOOK_SHARED_KEY": "shared"}
    [notifier] = load_each(app_services["notifier"], twilio)
    assert isinstance(notifier, NotifierSettings)
    assert notifier.sms_provider == "twilio" and notifier.twilio_from == "+4915100000000"
    assert notifier.twilio_auth_token.get_secret_value() == "token"
    assert container_env(app_services["notifier"])["SMS_PROVIDER"] == "sink"
    # Production never falls back to the sink: the operator names the provider, or compose refuses to start.
    without = {key: value for key, value in OPERATOR_ENV.items() if key != "SMS_PROVIDER"}
    with pytest.raises(MissingVariable, match="SMS_PROVIDER"):
        container_env(app_services["notifier"], without)
    # The gateway checks the signature of Twilio's webhooks with the auth token or the webhook SharedKey.
    [gateway] = load_each(app_services["gateway"], twilio)
    assert isinstance(gateway, GatewaySettings)
    assert gateway.twilio_auth_token.get_secret_value() == "token"
    assert gateway.twilio_webhook_shared_key.get_secret_value() == "shared"
    assert {key for key in app_services["gateway"]["environment"] if key.startswith(("TWILIO_", "SMS_"))} == {
        "TWILIO_AUTH_TOKEN", "TWILIO_WEBHOOK_SHARED_KEY", "SMS_ALLOWED_COUNTRIES"}  # it refuses numbers at booking
    for name, service in app_services.items():
        if name not in ("notifier", "gateway"):
            assert not {key for key in service["environment"] if key.startswith(("TWILIO_", "SMS_"))}, name


# --- commands, start order and health ------------------------------------------------------------------------


def python_invocations(command: list[str] | str) -> list[tuple[str, list[str]]]:
    if isinstance(command, list):
        if command[0] == "CMD":
            command = command[1:]
        text = command[2] if command[:2] == ["sh", "-c"] else shlex.join(command)
        if command[:2] != ["sh", "-c"]:
            assert PYTHON_MODULE.fullmatch(text), f"{command} is not `python -m module [subcommand]`"
    else:
        text = command
    return [(m.group("module"), m.group("args").split()) for m in PYTHON_MODULE.finditer(text)]


@functools.cache
def subcommands(module: str) -> frozenset[str] | None:
    """The subcommands a module's argparse accepts, or None when it takes no arguments at all."""
    spec = importlib.util.find_spec(module)
    assert spec is not None, f"no module {module}"
    if spec.submodule_search_locations is not None:  # a package runs its __main__
        spec = importlib.util.find_spec(f"{module}.__main__")
    assert spec is not None and spec.origin, f"{module} cannot be run with python -m"
    if "ArgumentParser" not in Path(spec.origin).read_text():
        return None
    # --help exits in argparse, before any settings are read or anything starts.
    result = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, cwd=REPO,
                            env=base_env(REPO / "var", 8000), timeout=60)
    assert result.returncode == 0, result.stderr
    choices = re.search(r"\{([\w,-]+)\}", result.stdout)
    assert choices, result.stdout
    return frozenset(choices.group(1).split(","))


def test_every_command_runs_an_existing_module_with_a_subcommand_it_accepts(app_services: dict[str, Any]) -> None:
    for name, service in app_services.items():
        commands = [service["command"]]
        if "healthcheck" in service:
            commands.append(service["healthcheck"]["test"])
        for command in commands:
            invocations = python_invocations(command)
            assert invocations, f"{name}: {command} runs no Lotse module"
            for module, args in invocations:
                accepted = subcommands(module)
                if accepted is None:
                    assert not args, f"{name}: {module} takes no arguments, got {args}"
                else:
                    assert len(args) == 1 and args[0] in accepted, f"{name}: {module} {args}; accepts {accepted}"


def test_each_role_runs_its_own_command(app_services: dict[str, Any]) -> None:
    assert app_services["gateway"]["command"] == ["python", "-m", "gateway"]
    assert app_services["scheduler"]["command"] == ["python", "-m", "scheduler", "worker"]
    assert app_services["notifier"]["command"] == ["python", "-m", "notifier", "worker"]
    assert app_services["notifier-beat"]["command"] == ["python", "-m", "notifier", "beat"]


def test_two_notifier_workers_send_side_by_side_by_default_and_beat_runs_once(app_services: dict[str, Any]) -> None:
    # One worker process tops out below the 300 sends/s of a burst on this kind of machine (bench/README.md).
    replicas = app_services["notifier"]["deploy"]["replicas"]
    assert int(interpolate(str(replicas), OPERATOR_ENV)) == 2
    assert int(interpolate(str(replicas), {**OPERATOR_ENV, "NOTIFIER_REPLICAS": "3"})) == 3
    # Two beats would tick twice; every other role runs one container unless the operator scales it.
    for name, service in app_services.items():
        if name != "notifier":
            assert service.get("deploy", {}).get("replicas", 1) == 1, name


def test_every_role_has_a_healthcheck_of_its_own_role(app_services: dict[str, Any]) -> None:
    for name, role in ROLES.items():
        check = app_services[name]["healthcheck"]
        assert check["test"] == ["CMD", "python", "-m", "shared.healthcheck", role]
        assert check["retries"] >= 1 and "start_period" in check


def test_infra_healthchecks_wait_for_a_server_that_answers(services: dict[str, Any]) -> None:
    assert services["rabbitmq"]["healthcheck"]["test"] == ["CMD", "rabbitmq-diagnostics", "-q", "ping"]
    pg = services["postgres"]["healthcheck"]["test"]
    # Over TCP: during the first start's init script the server listens on its socket only.
    assert pg[:2] == ["CMD", "pg_isready"] and pg[pg.index("-h") + 1] == "127.0.0.1"


def test_roles_start_after_healthy_postgres_and_rabbitmq_and_a_finished_init(app_services: dict[str, Any]) -> None:
    for name in ROLES:
        assert app_services[name]["depends_on"] == {
            "postgres": {"condition": "service_healthy"},
            "rabbitmq": {"condition": "service_healthy"},
            "init": {"condition": "service_completed_successfully"},
        }, name
    assert app_services["init"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert app_services["init"]["restart"] == "no"


def test_the_gateway_listens_on_all_interfaces_and_publishes_its_port(app_services: dict[str, Any]) -> None:
    gateway = app_services["gateway"]
    env = container_env(gateway)
    assert env["HOST"] == "0.0.0.0"
    published = [interpolate(str(p), {}) for p in gateway["ports"]]
    assert published == [f"127.0.0.1:{env['PORT']}:{env['PORT']}"], "published on loopback unless told otherwise"
    assert interpolate(str(gateway["ports"][0]), {"LOTSE_HTTP_BIND": "8080"}) == f"8080:{env['PORT']}"


def test_the_gateway_believes_x_forwarded_for_only_from_the_compose_networks_gateway(
        compose: dict[str, Any], app_services: dict[str, Any]) -> None:
    # A TLS proxy on the host reaches the published port from the network's gateway; nothing else is a proxy.
    network = compose["networks"]["default"]["ipam"]["config"][0]
    settings = load_each(app_services["gateway"])[0]
    assert isinstance(settings, GatewaySettings)
    proxies = settings.trusted_proxies
    assert proxies.trusts(network["gateway"]) and settings.forwarded_allow_ips == network["gateway"]
    others = [f"{network['subnet'].rsplit('.', 1)[0]}.{n}" for n in (2, 3, 254)]  # the other containers
    assert not any(proxies.trusts(address) for address in [*others, "127.0.0.1", "192.0.2.1"])
    assert proxies.client_address(network["gateway"], "192.0.2.1") == "192.0.2.1"
    assert proxies.client_address(others[0], "192.0.2.1") == others[0]


def test_sms_limits_reach_the_gateway_and_the_notifier_with_safe_defaults(app_services: dict[str, Any]) -> None:
    gateway = load_each(app_services["gateway"])[0]
    notifier = load_each(app_services["notifier"])[0]
    assert isinstance(gateway, GatewaySettings) and isinstance(notifier, NotifierSettings)
    assert gateway.allowed_countries == notifier.allowed_countries == ("DE",)
    assert notifier.sms_daily_budget == 500
    raised = {**OPERATOR_ENV, "SMS_ALLOWED_COUNTRIES": "AT,PL", "SMS_DAILY_BUDGET": "80"}
    notifier = load_each(app_services["notifier"], raised)[0]
    assert isinstance(notifier, NotifierSettings)
    assert notifier.allowed_countries == ("DE", "AT", "PL") and notifier.sms_daily_budget == 80


def run_init_script(app_services: dict[str, Any], tmp_path: Path, operator_env: Mapping[str, str]) -> list[str]:
    """Run the init service's shell command with a `python` that only records what it was asked to run."""
    command = app_services["init"]["command"]
    assert command[:2] == ["sh", "-c"]
    script = interpolate(command[2], operator_env)
    calls = tmp_path / "calls"
    fake = tmp_path / "bin" / "python"
    fake.parent.mkdir()
    fake.write_text(f'#!/bin/sh\necho "$*" >> {calls}\n')
    fake.chmod(0o755)
    subprocess.run(["sh", "-c", script], check=True, timeout=30,
                   env={"PATH": f"{fake.parent}{os.pathsep}{os.environ['PATH']}"})
    return calls.read_text().splitlines()


def test_init_creates_every_table_and_loads_no_demo_data_by_default(app_services: dict[str, Any],
                                                                     tmp_path: Path) -> None:
    calls = run_init_script(app_services, tmp_path, OPERATOR_ENV)
    assert calls == ["-m notifier init", "-m gateway.init", "-m scheduler init"]


def test_init_loads_the_demo_calendar_when_lotse_demo_is_1(app_services: dict[str, Any], tmp_path: Path) -> None:
    calls = run_init_script(app_services, tmp_path, {**OPERATOR_ENV, "LOTSE_DEMO": "1"})
    assert calls == ["-m notifier init", "-m gateway.init", "-m scheduler seed-demo"]


def test_postgres_init_script_creates_exactly_the_databases_the_services_use(services: dict[str, Any],
                                                                             app_services: dict[str, Any]) -> None:
    mounts = [v for v in services["postgres"]["volumes"] if "/docker-entrypoint-initdb.d/" in v]
    assert len(mounts) == 1
    script = REPO / mounts[0].split(":")[0]
    created = set(re.findall(r"CREATE DATABASE (\w+);", script.read_text()))
    used = {
        value.rsplit("/", 1)[1]
        for service in app_services.values()
        for key, value in container_env(service).items()
        if key.endswith("_DATABASE_URL")
    }
    assert created == used == {"lotse_gateway", "lotse_scheduler", "lotse_notifier"}


def test_beat_keeps_its_schedule_file_on_a_named_volume(compose: dict[str, Any],
                                                        app_services: dict[str, Any]) -> None:
    beat = app_services["notifier-beat"]
    var_dir = beat["environment"]["VAR_DIR"]
    volumes = {v.split(":")[0] for v in beat["volumes"] if v.split(":")[1] == var_dir}
    assert volumes and volumes <= set(compose["volumes"])


# --- the image --------------------------------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(instruction, arguments) pairs, continuation lines joined, comments left out."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [(op, arg.strip()) for op, _, arg in (line.partition(" ") for line in lines if line and line[0] != "#")]


def test_image_is_python_311_slim_pinned_to_a_patch_and_digest_and_runs_as_an_unprivileged_user() -> None:
    instructions = dockerfile_instructions()
    # A floating tag would give each rebuild whatever base was pushed last; the digest pins the exact image.
    assert instructions[0][0] == "FROM"
    assert re.fullmatch(r"python:3\.11\.\d+-slim(-[a-z]+)?@sha256:[0-9a-f]{64}", instructions[0][1])
    users = [arg for op, arg in instructions if op == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")


def test_image_bakes_in_no_secrets() -> None:
    for op, arg in dockerfile_instructions():
        if op in ("ENV", "ARG"):
            names = set(re.findall(r"([A-Z_][A-Z0-9_]*)=", arg)) or {arg.split("=")[0]}
            assert not {n for n in names if re.search(r"KEY|PASSWORD|TOKEN|SECRET|SID", n)}, arg
        if op == "COPY":
            assert not re.search(r"(^|\s)\.(\s|$)|\bvar\b|\.env", arg), f"COPY {arg} may carry local state"


def test_image_installs_every_package_setuptools_finds_and_nothing_else_enters_the_build() -> None:
    find = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    roots = {w for w in find["where"] if w != "."} | {p.rstrip("*") for p in find["include"]
                                                      if (REPO / p.rstrip("*")).is_dir()}
    copied = {arg.split()[0].rstrip("/") for op, arg in dockerfile_instructions() if op == "COPY"}
    for root in roots:
        assert root in copied or root.split("/")[0] in copied, f"{root} is not copied into the image"
    ignore = [line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    assert ignore[0] == "*", ".dockerignore is an allow-list"
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    assert allowed == {"pyproject.toml", "requirements.lock"} | {root.split("/")[0] for root in roots}


def test_image_installs_the_runtime_lock_with_hashes_then_the_project_without_dependencies() -> None:
    runs = [arg for op, arg in dockerfile_instructions() if op == "RUN"]
    copied = [arg.split()[0] for op, arg in dockerfile_instructions() if op == "COPY"]
    lock = next(i for i, run in enumerate(runs) if "-r requirements.lock" in run)
    assert "--require-hashes" in runs[lock]
    # Nothing installs from another source: the project itself comes without dependencies, then pip checks.
    project = next(i for i, run in enumerate(runs) if re.search(r"pip install .*--no-deps.* \.(\s|$)", run))
    assert lock < project and "pip check" in runs[project]
    assert all(re.findall(r"pip install [^&]*", run) == [] for i, run in enumerate(runs) if i not in (lock, project))
    assert "requirements-dev.lock" not in copied, "the image holds no dev tools"


# --- shared/healthcheck.py --------------------------------------------------------------------------------------


def run_healthcheck(role: str, env: dict[str, str], timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "shared.healthcheck", role], capture_output=True, text=True,
                          cwd=REPO, env=env, timeout=timeout)


def test_worker_healthcheck_fails_quickly_with_one_clear_line_when_no_worker_answers(tmp_path: Path) -> None:
    started = time.monotonic()
    result = run_healthcheck("scheduler", base_env(tmp_path, free_port()))
    assert result.returncode == 1
    assert time.monotonic() - started < 20
    line = result.stderr.strip()
    assert "\n" not in line
    assert line.startswith(f"lotse healthcheck: scheduler: unhealthy: no scheduler worker on {socket.gethostname()}")
    assert "answered a ping" in line


def test_worker_healthcheck_fails_quickly_when_the_broker_is_unreachable(tmp_path: Path) -> None:
    env = base_env(tmp_path, free_port(), {"BROKER_URL": f"amqp://guest:guest@127.0.0.1:{free_port()}//"})
    started = time.monotonic()
    result = run_healthcheck("notifier", env)
    assert result.returncode == 1
    assert time.monotonic() - started < 20
    assert "notifier: unhealthy: broker unreachable" in result.stderr
    assert "guest:guest" not in result.stderr


def test_healthcheck_reports_a_configuration_error_with_exit_1_as_docker_expects(tmp_path: Path) -> None:
    # Docker reserves exit code 2 in health checks; the services' own entry points use 2 for configuration errors.
    result = run_healthcheck("notifier-beat", base_env(tmp_path, free_port(), {"LOG_LEVEL": "CHATTY"}))
    assert result.returncode == 1
    assert "LOG_LEVEL" in result.stderr


class _Readiness(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        body = b'{"status": "not ready", "checks": {"database": "ok", "broker": "unreachable"}}'
        self.send_response(200 if self.path == "/readyz" and self.status == 200 else 503)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_gateway_healthcheck_follows_readyz(tmp_path: Path) -> None:
    server = HTTPServer(("127.0.0.1", 0), _Readiness)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings = load_settings(PublicUrlSettings, var_dir=tmp_path, port=server.server_address[1])
    try:
        assert "answered 200" in healthcheck.check_gateway(settings)
        _Readiness.status = 503
        with pytest.raises(healthcheck.Unhealthy, match=r"answered 503.*'broker': 'unreachable'"):
            healthcheck.check_gateway(settings)
    finally:
        _Readiness.status = 200
        server.shutdown()
        server.server_close()
    with pytest.raises(healthcheck.Unhealthy, match="not reachable"):
        healthcheck.check_gateway(settings)


def test_beat_healthcheck_passes_while_beat_runs_and_fails_once_its_schedule_goes_stale(tmp_path: Path) -> None:
    settings = load_settings(CommonSettings, var_dir=tmp_path)
    with pytest.raises(healthcheck.Unhealthy, match="no beat schedule file"):
        healthcheck.check_beat(settings)
    env = base_env(tmp_path, free_port())
    system = System(env, tmp_path)
    system.start("notifier-beat")
    try:
        poll(lambda: run_healthcheck("notifier-beat", env).returncode == 0, seconds=60, interval=0.5)
    finally:
        system.stop()
    assert healthcheck.check_beat(settings).startswith("beat schedule written")
    later = time.time() + healthcheck.BEAT_STALE_AFTER_SECONDS + 1
    with pytest.raises(healthcheck.Unhealthy, match="beat stopped ticking"):
        healthcheck.check_beat(settings, now=lambda: later)


def test_beat_stale_limit_outlasts_the_interval_at_which_celery_beat_rewrites_its_schedule() -> None:
    from celery.beat import PersistentScheduler

    assert healthcheck.BEAT_STALE_AFTER_SECONDS >= PersistentScheduler.sync_every + 60


@pytest.mark.infra
def test_worker_healthcheck_passes_when_this_hosts_worker_answers(vhost: str, tmp_path: Path) -> None:
    env = base_env(tmp_path, free_port(), {"BROKER_URL": infra.amqp_url(vhost)})
    system = System(env, tmp_path)
    system.start("scheduler")
    try:
        result = poll(lambda: (r := run_healthcheck("scheduler", env)).returncode == 0 and r, seconds=60,
                      interval=0.5)
        assert f"healthy: scheduler-{system.processes['scheduler'].pid}@{socket.gethostname()} answered the ping" \
            in result.stdout
        assert run_healthcheck("notifier", env).returncode == 1, "a scheduler must not pass for a notifier"
    finally:
        system.stop()


def test_worker_node_names_carry_the_pid_and_the_healthcheck_recognises_only_this_roles_workers_here() -> None:
    from shared.worker import is_node_of, node_name

    assert node_name("scheduler", 1234) == "scheduler-1234"
    assert is_node_of("scheduler", "scheduler-1234@box", "box")
    assert not is_node_of("scheduler", "scheduler-1234@other", "box")
    assert not is_node_of("scheduler", "notifier-1234@box", "box")
    assert not is_node_of("notifier", "notifier-beat-1@box", "box")
    assert not is_node_of("scheduler", "scheduler@box", "box")
