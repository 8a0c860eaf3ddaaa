"""The notifier's alembic history, run from code (no ini file): `upgrade(engine)` brings a database to head."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from sqlalchemy import Engine, MetaData

from notifier.tables import TABLES
from shared import migrations

HERE = Path(__file__).resolve().parent
_LOCK_KEY = 0x4C6F747366  # one notifier process migrates at a time on PostgreSQL (not the scheduler's key)


def alembic_config() -> Config:
    return migrations.alembic_config(HERE)


def target_metadata() -> MetaData:
    """The notifier's tables as its code declares them: the migrations must end where these are."""
    return migrations.metadata_of(TABLES)


def upgrade(engine: Engine, revision: str = "head") -> None:
    migrations.upgrade(
        engine, HERE, service="notifier", lock_key=_LOCK_KEY, revision=revision,
        own_tables={"contacts", "reminders", "deliveries", "booking_facts"},
        remedy="On the embedded default, move var/notifier.sqlite away (its reminders for bookings already made are "
               "lost; the confirmations were sent); elsewhere, export what you need and start from an empty database.",
    )
