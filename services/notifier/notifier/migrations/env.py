"""Alembic environment of the notifier: run through `notifier.migrations.upgrade(engine)`, compared against the
notifier's own tables (shared.migrations.run_env)."""

from __future__ import annotations

from notifier.migrations import target_metadata
from shared.migrations import run_env

run_env("notifier", target_metadata())
