"""`python -m scheduler worker` runs the worker; `python -m scheduler seed-demo` loads demo data once."""

from __future__ import annotations

import argparse
from functools import partial

from scheduler import demo
from scheduler.app import build
from scheduler.settings import SchedulerSettings
from shared.heartbeat import Heartbeat, outbox_status
from shared.logging import configure_logging
from shared.messaging import declare_topology_when_reachable, queues_for
from shared.metrics import OutboxBacklog, serve_metrics
from shared.private_files import owner_only_from_now
from shared.settings import load_settings_or_exit
from shared.worker import run_worker


def main() -> None:
    owner_only_from_now()  # databases, logs and schedules this process creates are its owner's alone
    parser = argparse.ArgumentParser(prog="scheduler")
    parser.add_argument("command", choices=["worker", "seed-demo", "init"])
    args = parser.parse_args()
    settings = load_settings_or_exit(SchedulerSettings)
    configure_logging("scheduler", settings.log_level)
    scheduler = build(settings)
    if args.command == "seed-demo":
        demo.seed(scheduler.engine)
        return
    if args.command == "init":
        return
    declare_topology_when_reachable(settings, "scheduler")
    serve_metrics(settings.scheduler_metrics_port, settings.metrics_host,
                  [OutboxBacklog(scheduler.engine, "scheduler")])
    scheduler.relay.start()
    Heartbeat("scheduler", scheduler.publisher.publish, partial(outbox_status, scheduler.engine),
              settings.heartbeat_seconds).start()
    run_worker(scheduler.celery, "scheduler", queues_for("scheduler", settings), settings.worker_concurrency,
               settings.log_level)


if __name__ == "__main__":
    main()
