"""The gateway's alembic history, run from code (no ini file): `upgrade(engine)` brings a database to head.

Before it had one, the gateway made its tables with create_all; such a database is taken over when its tables
match the first revision (shared.migrations.upgrade, `adopt_at`)."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from sqlalchemy import Engine, MetaData

from gateway.tables import TABLES
from shared import migrations
from shared.migrations import UnversionedDatabase

HERE = Path(__file__).resolve().parent
FIRST_REVISION = "0001_gateway"
_LOCK_KEY = 0x4C6F747367  # one gateway process migrates at a time on PostgreSQL (not another service's key)

__all__ = ["FIRST_REVISION", "UnversionedDatabase", "alembic_config", "target_metadata", "upgrade"]


def alembic_config() -> Config:
    return migrations.alembic_config(HERE)


def target_metadata() -> MetaData:
    """The gateway's tables as its code declares them: the migrations must end where these are."""
    return migrations.metadata_of(TABLES)


def upgrade(engine: Engine, revision: str = "head") -> None:
    migrations.upgrade(
        engine, HERE, service="gateway", lock_key=_LOCK_KEY, revision=revision, adopt_at=FIRST_REVISION,
        own_tables={"booking_requests", "booking_preferences", "staff_accounts", "staff_sessions",
                    "staff_login_failures", "counsellor_feeds"},
        remedy="Bring its tables to those of gateway/migrations/versions/0001_gateway.py and start again, or start "
               "from an empty database (on the embedded default: move var/gateway.sqlite away; the manage links "
               "already sent stop working and staff accounts must be created again).",
    )
