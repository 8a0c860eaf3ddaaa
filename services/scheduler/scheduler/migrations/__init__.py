"""The scheduler's alembic history, run from code (no ini file): `upgrade(engine)` brings a database to head."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, inspect, text

HERE = Path(__file__).resolve().parent
_LOCK_KEY = 0x4C6F747365  # any constant: one scheduler process migrates at a time on PostgreSQL


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.set_main_option("version_locations", str(HERE / "versions"))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Idempotent; safe when several workers start at once (an advisory lock on PostgreSQL, BEGIN IMMEDIATE on
    SQLite serialise them)."""
    config = alembic_config()
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        _refuse_unversioned(connection)
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


class UnversionedDatabase(SystemExit):
    """The database holds scheduler tables that no migration made (an early Lotse created them directly)."""


def _refuse_unversioned(connection: Connection) -> None:
    tables = set(inspect(connection).get_table_names())
    if tables and "alembic_version" not in tables and tables & {"locations", "counsellors", "opening_rules"}:
        where = connection.engine.url.render_as_string(hide_password=True)
        raise UnversionedDatabase(
            f"scheduler: the database {where} was created by an earlier Lotse without migrations and cannot be "
            "upgraded in place. On the embedded default, move var/scheduler.sqlite away (the demo calendar is "
            "loaded again on the next start); elsewhere, export what you need and start from an empty database."
        )
