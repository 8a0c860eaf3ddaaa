"""No broker timers: anything due later is a row a dispatcher claims, never a Celery ETA or countdown.

A message held by the broker for hours is lost or doubled by a broker restart, a redelivery or a second worker
(RabbitMQ redelivers unacked ETA tasks; quorum queues drop them past the delivery limit), and nobody can move or
cancel it. So every Python file of the services is read with `ast`, and any way of asking Celery to hold a task
fails this test: `eta=`/`countdown=` (apply_async, send_task, signature options, `.set`), the same keys in an
options dict, `Task.retry` (its countdown defaults to three minutes), and Celery's automatic retries.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from notifier.app import DISPATCH_EVERY_SECONDS, build
from notifier.settings import NotifierSettings

from shared.crypto import generate_data_key
from shared.settings import load_settings

REPO = Path(__file__).resolve().parents[2]
SCANNED = ("services", "shared", "lotse")
TIMER_OPTIONS = frozenset({"eta", "countdown"})
# Task options under which Celery itself re-publishes a failed task with a countdown.
AUTO_RETRY_OPTIONS = frozenset({"autoretry_for", "retry_backoff", "default_retry_delay"})
# Task.retry(args, kwargs, exc, throw, eta, countdown, ...): the fifth and sixth positional arguments are timers.
RETRY_TIMER_POSITION = 4
# The beat's own tasks: each works over all rows that are due, none carries one message.
HOUSEKEEPING = {"notifier.dispatch_due", "notifier.reconcile", "notifier.purge_expired",
                "notifier.count_delivery_days"}


@dataclass(frozen=True)
class BrokerTimer:
    path: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


def broker_timers(source: str, path: str = "<source>") -> list[BrokerTimer]:
    """Every place in `source` that asks Celery to hold a task for later."""
    found: list[BrokerTimer] = []

    def flag(node: ast.AST, what: str) -> None:
        found.append(BrokerTimer(path, getattr(node, "lineno", 0), what))

    def no_timer(value: ast.expr | None) -> bool:
        # `eta=None` spelled out asks for no timer.
        return isinstance(value, ast.Constant) and value.value is None

    for node in ast.walk(ast.parse(source, path)):
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "?")
            for keyword in node.keywords:
                if keyword.arg in TIMER_OPTIONS and not no_timer(keyword.value):
                    flag(keyword.value, f"{name}(..., {keyword.arg}=...)")
                elif keyword.arg in AUTO_RETRY_OPTIONS:
                    flag(keyword.value, f"{name}(..., {keyword.arg}=...): Celery retries with a countdown")
            if isinstance(node.func, ast.Attribute) and name == "retry":
                timer = "eta/countdown" if len(node.args) > RETRY_TIMER_POSITION else "its default 3-minute countdown"
                flag(node, f"{ast.unparse(node.func)}(...): re-published with {timer}")
        elif isinstance(node, ast.Dict):
            keys = {key.value for key in node.keys if isinstance(key, ast.Constant) and isinstance(key.value, str)}
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value in TIMER_OPTIONS and not no_timer(value):
                    flag(node, f"an options dict with {key.value!r}")
            if "schedule" in keys and "task" in keys and keys & {"args", "kwargs"}:
                flag(node, "a beat entry with its own args: a timer for one thing, not periodic housekeeping")
    return found


def _python_files() -> list[Path]:
    files = [path for folder in SCANNED for path in (REPO / folder).rglob("*.py")]
    assert len(files) > 50, f"found only {len(files)} files under {SCANNED}: is REPO right?"
    return sorted(files)


def test_no_service_holds_a_task_in_the_broker_for_later() -> None:
    timers = [timer for path in _python_files()
              for timer in broker_timers(path.read_text(encoding="utf-8"), str(path.relative_to(REPO)))]
    assert timers == [], "broker timers found (make the wait a row with a due time instead):\n" + \
        "\n".join(map(str, timers))


@pytest.mark.parametrize("source", [
    "task.apply_async(args, countdown=86400)",
    "task.apply_async((booking_id,), eta=starts_at - timedelta(hours=24))",
    "app.send_task('notifier.remind', args=[booking_id], countdown=3600)",
    "task.s(booking_id).set(eta=when).delay()",
    "task.signature((booking_id,), countdown=60)",
    "task.apply_async(args, **{'countdown': 5})",
    "options = {'queue': 'notifier.timers', 'eta': when}",
    "self.retry(exc=exc)",
    "self.retry(args, kwargs, exc, True, when)",
    "@app.task(autoretry_for=(IOError,), retry_backoff=True)\ndef send(): ...",
    "@app.task(bind=True, default_retry_delay=86400)\ndef send(self): ...",
    "conf.beat_schedule = {'remind-1': {'task': 'remind', 'schedule': 86400, 'args': ['b1']}}",
])
def test_the_scan_finds_each_way_of_setting_a_broker_timer(source: str) -> None:
    assert broker_timers(source), f"not found: {source}"


def test_the_scan_leaves_timer_free_celery_calls_alone() -> None:
    source = """
task.apply_async(args, expires=10, queue='notifier.timers')
app.send_task('lotse.message', args=[raw])
task.delay(booking_id)
conf.beat_schedule = {'tick': {'task': 'notifier.dispatch_due', 'schedule': 2.0, 'options': {'expires': 10}}}
countdown = 3
headers = {'task': 'lotse.message', 'eta': None, 'expires': None}
task.apply_async(args, countdown=None)
"""
    assert broker_timers(source) == []


def test_the_notifier_beat_only_ticks_periodic_housekeeping_over_all_due_rows(tmp_path: Path) -> None:
    settings = load_settings(NotifierSettings, notifier_database_url=f"sqlite:///{tmp_path / 'notifier.sqlite'}",
                             broker_url="memory://", data_key=generate_data_key(), var_dir=tmp_path)
    notifier = build(settings)
    try:
        schedule = notifier.celery.conf.beat_schedule
        registered = set(notifier.celery.tasks)
    finally:
        notifier.engine.dispose()
    assert {entry["task"] for entry in schedule.values()} == HOUSEKEEPING
    for name, entry in schedule.items():
        assert entry["task"] in registered, name
        assert not entry.get("args") and not entry.get("kwargs"), f"{name} carries one thing's arguments"
        assert not set(entry.get("options", {})) & TIMER_OPTIONS, name
        every = entry["schedule"]
        seconds = every.total_seconds() if isinstance(every, timedelta) else float(every)
        assert 0 < seconds <= 3600, f"{name} runs every {seconds} s"
        # A tick that expires stays unqueued while the worker is away: no pile of stale ticks after a restart.
        assert 0 < entry["options"]["expires"] <= max(seconds * 5, 600), name
    # When a message leaves is its row's due time; the tick that sends it only adds a few seconds.
    sending = [entry for entry in schedule.values() if entry["task"] == "notifier.dispatch_due"]
    assert [float(entry["schedule"]) for entry in sending] == [DISPATCH_EVERY_SECONDS]
    assert DISPATCH_EVERY_SECONDS <= 60
