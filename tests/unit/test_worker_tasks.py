"""A Celery app runs its own service's handlers, also when one process builds several apps (tests and tools do)."""

from __future__ import annotations

import warnings
from pathlib import Path

from celery.exceptions import DuplicateTaskNameWarning
from notifier.app import Notifier, build
from notifier.settings import NotifierSettings

from shared.crypto import generate_data_key
from shared.messaging import MESSAGE_TASK
from shared.settings import load_settings


def _notifier(folder: Path) -> Notifier:
    folder.mkdir()
    return build(load_settings(NotifierSettings, notifier_database_url=f"sqlite:///{folder / 'notifier.sqlite'}",
                               broker_url="memory://", data_key=generate_data_key(), var_dir=folder))


def test_two_apps_in_one_process_each_keep_their_own_tasks(tmp_path: Path) -> None:
    first, second = _notifier(tmp_path / "first"), _notifier(tmp_path / "second")
    try:
        with warnings.catch_warnings():
            # Celery warns when a name is taken by another callable, and then runs the one registered first.
            warnings.simplefilter("error", DuplicateTaskNameWarning)
            tasks = [n.celery.tasks[name] for n in (first, second)
                     for name in (MESSAGE_TASK, "notifier.dispatch_due")]
    finally:
        first.engine.dispose()
        second.engine.dispose()

    assert [task.app for task in tasks] == [first.celery, first.celery, second.celery, second.celery]
    assert tasks[0].run is not tasks[2].run and tasks[1].run is not tasks[3].run
