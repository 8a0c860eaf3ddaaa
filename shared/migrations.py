"""Running a service's alembic history from code (no ini file): `upgrade` brings its own database to head."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, inspect, text


class UnversionedDatabase(SystemExit):
    """The database holds a service's tables that no migration made (an early Lotse created them directly)."""


def alembic_config(script_dir: Path) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_dir))
    config.set_main_option("version_locations", str(script_dir / "versions"))
    return config


def upgrade(engine: Engine, script_dir: Path, *, service: str, lock_key: int, own_tables: Iterable[str],
            remedy: str, revision: str = "head") -> None:
    """Idempotent; safe when several workers start at once (an advisory lock on PostgreSQL, BEGIN IMMEDIATE on
    SQLite serialise them). A database with the service's tables but no alembic history is refused with `remedy`."""
    config = alembic_config(script_dir)
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key})
        _refuse_unversioned(connection, service, set(own_tables), remedy)
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def _refuse_unversioned(connection: Connection, service: str, own_tables: set[str], remedy: str) -> None:
    tables = set(inspect(connection).get_table_names())
    if tables and "alembic_version" not in tables and tables & own_tables:
        where = connection.engine.url.render_as_string(hide_password=True)
        raise UnversionedDatabase(
            f"{service}: the database {where} was created by an earlier Lotse without migrations and cannot be "
            f"upgraded in place. {remedy}"
        )
