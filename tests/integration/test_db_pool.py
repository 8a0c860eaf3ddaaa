"""Pooled PostgreSQL connections: a connection the server dropped while it idled in the pool is replaced before
anyone uses it; one used moments ago is not pinged (a round trip per checkout on every hot path)."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from shared.db import make_engine
from tests.support import infra


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(pid: int) -> None:
    with psycopg.connect(host=infra.PG_HOST, port=infra.PG_PORT, user=infra.PG_USER, dbname="postgres",
                         autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


def test_a_connection_dropped_while_idle_in_the_pool_is_replaced_without_an_error(
        databases: infra.Databases) -> None:
    engine = make_engine(databases.gateway, ping_after_idle_seconds=0.0)
    try:
        dropped = _backend_pid(engine)
        _terminate(dropped)

        assert _backend_pid(engine) != dropped
    finally:
        engine.dispose()


def test_a_connection_returned_moments_ago_is_handed_out_without_a_ping(databases: infra.Databases) -> None:
    engine = make_engine(databases.gateway, ping_after_idle_seconds=3600)
    try:
        first = _backend_pid(engine)
        _terminate(first)
        # Not pinged: the next statement meets the dropped connection, and SQLAlchemy then discards the pool.
        with pytest.raises(OperationalError):
            _backend_pid(engine)
        assert _backend_pid(engine) != first
    finally:
        engine.dispose()
