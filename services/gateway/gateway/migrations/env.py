"""Alembic environment of the gateway: run through `gateway.migrations.upgrade(engine)`, compared against the
gateway's own tables (shared.migrations.run_env)."""

from __future__ import annotations

from gateway.migrations import target_metadata
from shared.migrations import run_env

run_env("gateway", target_metadata())
