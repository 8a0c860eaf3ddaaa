"""Running a service's alembic history from code (no ini file): `upgrade` brings its own database to head;
`differences` compares a database with the tables a service's code declares (drift tests, autogenerate, taking
over a database made without migrations)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Connection, Engine, MetaData, String, Table, inspect, text
from sqlalchemy.types import TypeDecorator, TypeEngine

log = logging.getLogger(__name__)


class UnversionedDatabase(SystemExit):
    """The database holds a service's tables that no migration made (an early Lotse created them directly), and
    they cannot be taken over."""


def metadata_of(tables: Iterable[Table]) -> MetaData:
    """A service's tables in a MetaData of their own. SQLModel.metadata holds the tables of every service imported
    into the process (tests and the launcher import all three), so it cannot say what one service's database has."""
    metadata = MetaData()
    for table in tables:
        table.to_metadata(metadata)
    return metadata


def _unbounded_string(type_: TypeEngine[Any]) -> bool:
    if isinstance(type_, TypeDecorator):  # SQLModel's AutoString
        type_ = type_.impl_instance
    return isinstance(type_, String) and type_.length is None


def _compare_type(_context: MigrationContext, _inspected: Column[Any], _declared: Column[Any],
                  inspected_type: TypeEngine[Any], declared_type: TypeEngine[Any]) -> bool | None:
    """TEXT and VARCHAR without a length are one type in all but name (PostgreSQL stores, compares and indexes
    them alike; SQLite gives both TEXT affinity). SQLModel declares a `str` without max_length as VARCHAR, the
    migrations wrote TEXT, and create_all made the gateway's VARCHAR: not a difference. Anything else (a length,
    another type) is compared as alembic does (None)."""
    if _unbounded_string(inspected_type) and _unbounded_string(declared_type):
        return False
    return None


# What counts as a difference, for env.py (autogenerate), the drift tests and taking over a database.
COMPARE_OPTIONS: dict[str, Any] = {"compare_type": _compare_type, "compare_server_default": True}


def differences(connection: Connection, metadata: MetaData, *, only_these_tables: bool = False) -> list[Any]:
    """alembic's compare_metadata between the database and `metadata`: empty when they match. `only_these_tables`:
    tables the metadata does not name are not looked at (nor reported as extra)."""
    options = dict(COMPARE_OPTIONS)
    if only_these_tables:
        names = set(metadata.tables)
        options["include_name"] = lambda name, kind, _parent: kind != "table" or name in names
    return list(compare_metadata(MigrationContext.configure(connection, opts=options), metadata))


_ASPECTS = {"nullable": "NULL / NOT NULL", "default": "server default"}


def describe(difference: Any) -> str:
    """One item of compare_metadata in words: 'add' is what the declared tables have and the database lacks,
    'remove' what the database has and they do not declare, 'modify' a column that differs."""
    if isinstance(difference, list):
        return "; ".join(describe(item) for item in difference)
    kind, subject = difference[0], difference[1]
    if kind.startswith("modify_"):
        table, column, aspect = difference[2], difference[3], kind.removeprefix("modify_")
        return f"column {table}.{column} has another {_ASPECTS.get(aspect, aspect)}"
    if kind in ("add_column", "remove_column"):
        table, column = difference[2], difference[3].name
        return f"column {table}.{column} is {'missing' if kind == 'add_column' else 'not expected'}"
    what = kind.split("_", 1)[1].replace("fk", "foreign key")
    name = getattr(subject, "name", None) or "(unnamed)"
    table = getattr(getattr(subject, "table", None), "name", None)
    where = f" on {table}" if table and table != name else ""
    return f"{what} {name}{where} is {'missing' if kind.startswith('add_') else 'not expected'}"


def run_env(service: str, target_metadata: MetaData) -> None:
    """The whole of every service's `migrations/env.py`: the connection comes from that service's
    `migrations.upgrade(engine)` (never an ini file), and autogenerate compares against the service's own tables
    with the options the drift test uses."""
    from alembic import context  # alembic fills this module in only while it runs an env.py

    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError(f"run the {service}'s migrations through {service}.migrations.upgrade(engine)")
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == "sqlite", **COMPARE_OPTIONS)
    with context.begin_transaction():
        context.run_migrations()


def alembic_config(script_dir: Path) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_dir))
    config.set_main_option("version_locations", str(script_dir / "versions"))
    config.set_main_option("path_separator", "os")  # one path: no splitting on spaces in a folder name
    return config


def upgrade(engine: Engine, script_dir: Path, *, service: str, lock_key: int, own_tables: Iterable[str],
            remedy: str, revision: str = "head", adopt_at: str | None = None) -> None:
    """Idempotent; safe when several workers start at once (an advisory lock on PostgreSQL, BEGIN IMMEDIATE on
    SQLite serialise them).

    A database with the service's tables but no alembic history was made without migrations. Without `adopt_at`
    it is refused with `remedy`. With it (a revision whose module has `metadata`, the tables as that database was
    made), it is taken over when its tables match that revision's: tables it lacks are created, as create_all
    would have on the next start, and it is stamped at that revision; otherwise it is refused, naming what differs."""
    config = alembic_config(script_dir)
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key})
        config.attributes["connection"] = connection
        if _unversioned(connection, set(own_tables)):
            if adopt_at is None:
                raise _refusal(connection, service, "cannot be upgraded in place", remedy)
            _adopt(connection, config, service, adopt_at, remedy)
        command.upgrade(config, revision)


def _unversioned(connection: Connection, own_tables: set[str]) -> bool:
    tables = set(inspect(connection).get_table_names())
    return "alembic_version" not in tables and bool(tables & own_tables)


def _refusal(connection: Connection, service: str, why: str, remedy: str) -> UnversionedDatabase:
    where = connection.engine.url.render_as_string(hide_password=True)
    return UnversionedDatabase(f"{service}: the database {where} was created by an earlier Lotse without migrations "
                               f"and {why}. {remedy}")


def _adopt(connection: Connection, config: Config, service: str, revision: str, remedy: str) -> None:
    metadata: MetaData = ScriptDirectory.from_config(config).get_revision(revision).module.metadata
    found = differences(connection, metadata, only_these_tables=True)
    missing: list[Table] = [item[1] for item in found if isinstance(item, tuple) and item[0] == "add_table"]
    others = [item for item in found if not (isinstance(item, tuple) and item[0] == "add_table")]
    if others:
        listed = "; ".join(describe(item) for item in others)
        raise _refusal(connection, service, f"its tables differ from migration {revision} ({listed})", remedy)
    metadata.create_all(connection, tables=missing)
    command.stamp(config, revision)
    where = connection.engine.url.render_as_string(hide_password=True)
    log.info("%s: the database %s was made without migrations and matches migration %s; stamped at it%s",
             service, where, revision, f" after creating {', '.join(t.name for t in missing)}" if missing else "")
