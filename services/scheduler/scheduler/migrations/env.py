"""Alembic environment of the scheduler: run through `scheduler.migrations.upgrade(engine)`, compared against the
scheduler's own tables (shared.migrations.run_env)."""

from __future__ import annotations

from scheduler.migrations import target_metadata
from shared.migrations import run_env

run_env("scheduler", target_metadata())
