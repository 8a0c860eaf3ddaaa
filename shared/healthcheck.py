"""Container health checks for docker-compose: `python -m shared.healthcheck ROLE` exits 0 when ROLE is healthy.

scheduler, notifier: a worker of ROLE on this container's host (`ROLE-<pid>@hostname`, see shared/worker.py)
answers a Celery control ping.
gateway: GET /readyz on this container's port answers 200 (its database and the broker are reachable).
notifier-beat: the beat schedule file in VAR_DIR was written recently, i.e. beat is still ticking.

Anything else exits 1 with one line on stderr saying why. A configuration error exits 1 as well, not 2 as the
other entry points do: Docker reserves exit code 2 in health checks.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence

from kombu.exceptions import OperationalError

from shared.messaging import make_celery
from shared.settings import CommonSettings, ConfigurationError, PublicUrlSettings, load_settings
from shared.worker import is_node_of

PING_TIMEOUT_SECONDS = 3.0
HTTP_TIMEOUT_SECONDS = 5.0
# The file `python -m notifier beat` hands to celery beat (notifier/__main__.py); shelve may add a suffix
# (.db, or .dat/.dir/.bak) depending on which dbm module the Python build has.
BEAT_SCHEDULE_NAME = "notifier-beat-schedule"
# Celery beat rewrites its schedule file at most every PersistentScheduler.sync_every (180 s) while it sends
# ticks, so anything fresher than this means beat is alive; a 60 s window would report a healthy beat as dead.
BEAT_STALE_AFTER_SECONDS = 300.0


class Unhealthy(Exception):
    """The role is not healthy; the message says why in one line."""


def check_worker(service: str, settings: CommonSettings) -> str:
    app = make_celery(service, settings)
    host = socket.gethostname()
    with app.connection_for_write() as connection:
        errors = (OperationalError, *connection.connection_errors, *connection.channel_errors)
        try:
            connection.ensure_connection(max_retries=0)
            # Node names carry the worker's pid (shared.worker.node_name), so ask every node and keep this host's.
            replies = app.control.ping(timeout=PING_TIMEOUT_SECONDS, connection=connection)
        except errors as exc:
            raise Unhealthy(f"broker unreachable ({type(exc).__name__}: {exc})") from None
    for reply in replies:
        for node in reply:
            if is_node_of(service, node, host):
                return f"{node} answered the ping"
    hint = ""
    if settings.is_embedded_broker:
        hint = " (workers on the embedded broker have remote control off; this check needs RabbitMQ)"
    raise Unhealthy(f"no {service} worker on {host} answered a ping within {PING_TIMEOUT_SECONDS:g} s{hint}")


def check_gateway(settings: PublicUrlSettings) -> str:
    # The gateway listens on HOST (0.0.0.0 in a container), so loopback reaches it from inside the container.
    url = f"http://127.0.0.1:{settings.port}/readyz"
    try:
        with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT_SECONDS):
            return f"{url} answered 200"
    except urllib.error.HTTPError as exc:
        try:
            checks = json.loads(exc.read()).get("checks", {})
        except (ValueError, AttributeError):
            checks = {}
        raise Unhealthy(f"{url} answered {exc.code}, checks: {checks}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        raise Unhealthy(f"{url} not reachable ({reason})") from None


def check_beat(settings: CommonSettings, now: Callable[[], float] = time.time) -> str:
    var_dir = settings.var_dir.resolve()
    files = [path for path in var_dir.glob(BEAT_SCHEDULE_NAME + "*") if path.is_file()]
    if not files:
        raise Unhealthy(f"no beat schedule file {var_dir / BEAT_SCHEDULE_NAME} (beat has not started)")
    age = now() - max(path.stat().st_mtime for path in files)
    if age > BEAT_STALE_AFTER_SECONDS:
        raise Unhealthy(f"beat schedule last written {age:.0f} s ago (limit {BEAT_STALE_AFTER_SECONDS:g} s): "
                        "beat stopped ticking")
    return f"beat schedule written {max(age, 0):.0f} s ago"


# Each check reads only the settings it uses, so a role's health does not hang on another role's variables.
CHECKS: dict[str, Callable[[], str]] = {
    "gateway": lambda: check_gateway(load_settings(PublicUrlSettings)),
    "scheduler": lambda: check_worker("scheduler", load_settings(CommonSettings)),
    "notifier": lambda: check_worker("notifier", load_settings(CommonSettings)),
    "notifier-beat": lambda: check_beat(load_settings(CommonSettings)),
}


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m shared.healthcheck",
                                     description="Exit 0 when this container's role is healthy, 1 otherwise.")
    parser.add_argument("role", choices=sorted(CHECKS))
    role = parser.parse_args(argv).role
    try:
        detail = CHECKS[role]()
    except (ConfigurationError, Unhealthy) as exc:
        print(f"lotse healthcheck: {role}: unhealthy: {_one_line(exc)}", file=sys.stderr)
        raise SystemExit(1) from None
    print(f"lotse healthcheck: {role}: healthy: {_one_line(detail)}")


if __name__ == "__main__":
    main()
