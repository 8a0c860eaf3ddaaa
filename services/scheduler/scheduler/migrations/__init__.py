"""The scheduler's alembic history, run from code (no ini file): `upgrade(engine)` brings a database to head."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from sqlalchemy import Engine, MetaData

from scheduler.tables import TABLES
from shared import migrations
from shared.migrations import UnversionedDatabase

HERE = Path(__file__).resolve().parent
_LOCK_KEY = 0x4C6F747365  # any constant: one scheduler process migrates at a time on PostgreSQL

__all__ = ["UnversionedDatabase", "alembic_config", "target_metadata", "upgrade"]


def alembic_config() -> Config:
    return migrations.alembic_config(HERE)


def target_metadata() -> MetaData:
    """The scheduler's tables as its code declares them: the migrations must end where these are."""
    return migrations.metadata_of(TABLES)


def upgrade(engine: Engine, revision: str = "head") -> None:
    migrations.upgrade(
        engine, HERE, service="scheduler", lock_key=_LOCK_KEY, revision=revision,
        own_tables={"locations", "counsellors", "opening_rules"},
        remedy="On the embedded default, move var/scheduler.sqlite away (the demo calendar is loaded again on the "
               "next start); elsewhere, export what you need and start from an empty database.",
    )
