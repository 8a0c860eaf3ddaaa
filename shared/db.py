"""Database engines for each service's own database: PostgreSQL in production, a SQLite file embedded."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Dialect,
    Engine,
    Table,
    TypeDecorator,
    create_engine,
    event,
    false,
    literal,
    true,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlmodel import Field

from shared.private_files import private_file


def sqlalchemy_url(url: str) -> str:
    """Accept the usual `postgresql://user@host/db` form and use the psycopg 3 driver for it."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


# A pooled connection unused for longer than this is checked with a round trip before it is handed out.
PING_AFTER_IDLE_SECONDS = 1.0
_CHECKED_IN = "lotse_checked_in_at"


def make_engine(url: str, pool_size: int = 5, ping_after_idle_seconds: float = PING_AFTER_IDLE_SECONDS) -> Engine:
    """`pool_size`: as many connections as the process uses at once (its threads that touch the database). Beyond
    it, each checkout opens a connection and its return closes it: a new server process per statement batch, and
    no prepared statements (seen in the gateway: 5.4 % of its CPU under 16 requests in flight)."""
    url = sqlalchemy_url(url)
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    # LIFO: under load the same few connections are reused (psycopg prepares a statement per connection after a
    # few executions, and an idle tail of the pool is what a database restart would have broken).
    engine = create_engine(url, pool_size=pool_size, max_overflow=10, pool_use_lifo=True)
    _ping_when_idle(engine, ping_after_idle_seconds)
    return engine


def _ping_when_idle(engine: Engine, idle_seconds: float) -> None:
    """Like `pool_pre_ping`, but only for a connection that sat in the pool for a while.

    pool_pre_ping costs a round trip (SELECT 1) on every checkout, several per booking on the hot paths. A
    connection broken by a database restart is one that waited in the pool while it happened; one returned
    moments ago is checked by its next statement, and a failure there invalidates the pool (SQLAlchemy's
    disconnect handling) so the caller's retry gets a fresh connection."""

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info[_CHECKED_IN] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        checked_in = record.info.pop(_CHECKED_IN, None)
        if checked_in is None or time.monotonic() - checked_in < idle_seconds:
            return  # a fresh connection, or one in use moments ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            # The pool discards this connection and checks out another (a new one if need be).
            raise DisconnectionError(f"idle connection no longer usable: {type(exc).__name__}") from exc


def _sqlite_engine(url: str) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:":
        # Created (or tightened) owner-only before SQLite opens it: its -wal and -shm files take the same mode.
        private_file(Path(database))
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    # pysqlite's own transaction handling defers BEGIN and upgrades read locks to write locks mid-transaction,
    # which deadlocks two writers. We take the write lock up front (BEGIN IMMEDIATE): transactions across the
    # service's processes are then serialised, which is what a booking decision needs.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


class InsertIfAbsent:
    """INSERT … ON CONFLICT (key) DO NOTHING RETURNING key, built once per dialect (PostgreSQL and SQLite, the
    two Lotse runs on): one statement instead of a look-up first, and the keys it returns are the rows it added,
    none for a key already there (a concurrent insert of the same key waits for that transaction's outcome)."""

    def __init__(self, table: Table, key: Column[Any]) -> None:
        self._statements = {
            name: dialect.insert(table).on_conflict_do_nothing(index_elements=[key]).returning(key)
            for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))}

    def __call__(self, connection: Connection, parameters: dict[str, Any] | list[dict[str, Any]]) -> set[Any]:
        """The keys added; a list of rows goes as one multi-row statement."""
        return {row[0] for row in connection.execute(self._statements[connection.dialect.name], parameters)}


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


class UtcDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on PostgreSQL (timestamptz) and SQLite (naive UTC text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an instant is required")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def instant_column(nullable: bool = False, index: bool = False) -> Column[datetime]:
    return Column(UtcDateTime(), nullable=nullable, index=index)


def database_default(value: bool | int | str, **field: Any) -> Any:
    """A field whose default the database has too (as the migrations made it): a row written by plain SQL (an
    administrator, a migration, a test) gets what a row written through the class gets."""
    # A literal, not a plain string: alembic compares a plain '' with SQLite's reflected "''" as a difference.
    server: Any = (true() if value else false()) if isinstance(value, bool) else literal(value)
    return Field(default=value, sa_column_kwargs={"server_default": server}, **field)


def is_outage(exc: BaseException) -> bool:
    """Whether `exc` says the database cannot be reached or went away (refused, dropped, shut down, busy, a pool
    with no free connection), as opposed to a message or a handler that is wrong. Such an error passes: the same
    work succeeds once the database is back."""
    if isinstance(exc, OperationalError | InterfaceError | DisconnectionError | PoolTimeout):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


# While the database is unreachable at start, a line every so often says what the process waits for.
WAIT_LOG_EVERY_SECONDS = 5.0
_WAIT_PAUSE_SECONDS = 1.0


def wait_for_database(engine: Engine, role: str) -> None:
    """Returns once the database answers. A role started before its database (a host reboot, compose starting
    everything at once) waits here instead of exiting, with a line every few seconds naming the role and the
    server (never the password)."""
    log = logging.getLogger(__name__)
    started = time.monotonic()
    last_said = 0.0
    where = engine.url.render_as_string(hide_password=True)
    while True:
        try:
            with engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")
            if last_said:
                log.warning("%s: database reachable after %.0f s; starting", role, time.monotonic() - started)
            return
        except Exception as exc:
            if not is_outage(exc):
                raise
            now = time.monotonic()
            if not last_said or now - last_said >= WAIT_LOG_EVERY_SECONDS:
                log.warning("%s: database %s unreachable (%s); waiting for it (%.0f s so far)", role, where,
                            type(exc).__name__, now - started)
                last_said = now
        time.sleep(_WAIT_PAUSE_SECONDS)
