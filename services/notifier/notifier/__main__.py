"""`python -m notifier worker` runs the worker; `python -m notifier beat` runs the one periodic scheduler."""

from __future__ import annotations

import argparse

from notifier.app import build
from notifier.settings import NotifierSettings
from shared.healthcheck import BEAT_SCHEDULE_NAME
from shared.logging import configure_logging
from shared.messaging import declare_topology_when_reachable, queues_for
from shared.settings import ConfigurationError, load_settings_or_exit
from shared.worker import run_worker


def main() -> None:
    parser = argparse.ArgumentParser(prog="notifier")
    parser.add_argument("command", choices=["worker", "beat", "init"])
    args = parser.parse_args()
    settings = load_settings_or_exit(NotifierSettings)
    configure_logging(f"notifier-{args.command}", settings.log_level)
    try:
        notifier = build(settings)
    except ConfigurationError as exc:
        raise SystemExit(f"lotse: configuration error: {exc}") from None
    if args.command == "init":
        return
    declare_topology_when_reachable(settings, f"notifier-{args.command}")
    if args.command == "beat":
        schedule = settings.var_dir.resolve() / BEAT_SCHEDULE_NAME
        schedule.parent.mkdir(parents=True, exist_ok=True)
        notifier.celery.start(["beat", f"--schedule={schedule}", f"--loglevel={settings.log_level}"])
        return
    # Not woken after a notifier commit (few handlers write to the outbox): contact.unreachable waits for its
    # safety tick; staff read it on the booking later.
    notifier.relay.start()
    notifier.dispatcher.start_background()
    run_worker(notifier.celery, "notifier", queues_for("notifier", settings), settings.worker_concurrency,
               settings.log_level)


if __name__ == "__main__":
    main()
