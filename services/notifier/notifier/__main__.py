"""`python -m notifier worker` runs the worker; `python -m notifier beat` runs the one periodic scheduler."""

from __future__ import annotations

import argparse
import sys

from notifier import migrations
from notifier.app import DISPATCH_TASK, build
from notifier.metrics import BEAT_TICK, TICK_RECEIVED, DispatchLag, record_beat_ticks
from notifier.rotation import DEFAULT_BATCH_SIZE, rotate
from notifier.settings import NotifierSettings
from shared.cipher import load_cipher
from shared.crypto import generate_box_key
from shared.db import make_engine
from shared.healthcheck import BEAT_SCHEDULE_NAME
from shared.heartbeat import Heartbeat, Status
from shared.logging import configure_logging
from shared.messaging import declare_topology_when_reachable, queues_for
from shared.metrics import DeadLetterQueue, OutboxBacklog, serve_metrics
from shared.private_files import owner_only_from_now
from shared.settings import ConfigurationError, load_settings_or_exit
from shared.worker import run_worker


def rotate_key(settings: NotifierSettings, batch_size: int) -> int:
    """Reseal the stored numbers and links under DATA_KEY's first key while the system runs (notifier.rotation).
    Prints counts and figures only, never a value."""
    try:
        cipher = load_cipher(settings)
    except ConfigurationError as exc:
        print(f"lotse: configuration error: {exc}", file=sys.stderr)
        return 2
    engine = make_engine(settings.notifier_database_url)
    try:
        migrations.upgrade(engine)
        report = rotate(engine, cipher, batch_size)
    finally:
        engine.dispose()
    print(f"notifier: resealed {report.resealed} values under key {cipher.current_key_id!r} in {report.batches} "
          f"batches, {report.seconds:.2f} s ({report.per_second:.0f}/s); changed meanwhile (left for the next "
          f"run): {report.changed_meanwhile}; no listed key opens: {report.unreadable}")
    usage = ", ".join(f"{kid}: {count}" for kid, count in sorted(report.remaining.items())) or "none"
    print(f"notifier: values stored under each key now: {usage}")
    print(f"notifier: look-up hashes come from the last key in DATA_KEY ({cipher.lookup_key_id!r}): keep it listed; "
          "any other key with no values left may leave DATA_KEY")
    return 1 if report.unreadable else 0


def main() -> None:
    owner_only_from_now()  # databases, logs and schedules this process creates are its owner's alone
    parser = argparse.ArgumentParser(prog="notifier")
    parser.add_argument("command", choices=["worker", "beat", "init", "rotate-key", "generate-box-key"])
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE,
                        help="rotate-key: values per transaction (default %(default)s)")
    args = parser.parse_args()
    if args.command == "generate-box-key":
        private, public = generate_box_key()
        print(f"NOTIFIER_PRIVATE_KEY={private}   # the notifier only; keep it secret")
        print(f"NOTIFIER_PUBLIC_KEY={public}   # the gateway")
        return
    settings = load_settings_or_exit(NotifierSettings)
    if args.command == "rotate-key":
        raise SystemExit(rotate_key(settings, max(1, args.batch_size)))
    problem = settings.sender_problem() if args.command == "worker" else None
    if problem is not None:
        print(f"lotse: configuration error: {problem}", file=sys.stderr)
        raise SystemExit(2)
    configure_logging(f"notifier-{args.command}", settings.log_level)
    try:
        notifier = build(settings)
    except ConfigurationError as exc:
        raise SystemExit(f"lotse: configuration error: {exc}") from None
    if args.command == "init":
        return
    declare_topology_when_reachable(settings, f"notifier-{args.command}")
    if args.command == "beat":
        # Beat's own figures: when it last sent the dispatcher's tick (an alert fires when it falls silent), and
        # the dead-letter queue's depth (beat runs once, so the series is not repeated per replica).
        record_beat_ticks(DISPATCH_TASK)
        serve_metrics(settings.notifier_beat_metrics_port, settings.metrics_host,
                      [BEAT_TICK, DeadLetterQueue(settings)])
        # Beat has no outbox and dispatches nothing: its heartbeat says only that it runs.
        Heartbeat("notifier-beat", notifier.publisher.publish, lambda _now: Status(),
                  settings.heartbeat_seconds).start()
        schedule = settings.var_dir.resolve() / BEAT_SCHEDULE_NAME
        schedule.parent.mkdir(parents=True, exist_ok=True)
        notifier.celery.start(["beat", f"--schedule={schedule}", f"--loglevel={settings.log_level}"])
        return
    # Not woken after a notifier commit (few handlers write to the outbox): contact.unreachable waits for its
    # safety tick; staff read it on the booking later.
    serve_metrics(settings.notifier_metrics_port, settings.metrics_host,
                  [OutboxBacklog(notifier.engine, "notifier"), DispatchLag(notifier.engine, notifier.dispatcher.clock),
                   TICK_RECEIVED])
    notifier.relay.start()
    notifier.dispatcher.start_background()
    Heartbeat("notifier", notifier.publisher.publish, notifier.status, settings.heartbeat_seconds).start()
    run_worker(notifier.celery, "notifier", queues_for("notifier", settings), settings.worker_concurrency,
               settings.log_level)


if __name__ == "__main__":
    main()
