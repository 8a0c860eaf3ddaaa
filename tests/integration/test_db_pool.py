"""Pooled PostgreSQL connections: a connection the server dropped while it idled in the pool is replaced before
anyone uses it; one used moments ago is not pinged (a round trip per checkout on every hot path)."""

from __future__ import annotations

import threading

import psycopg
import pytest
from gateway import app as gateway_app
from sqlalchemy import Engine, event, text
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


def test_the_gateways_pool_keeps_the_connections_of_sixteen_requests_in_flight(databases: infra.Databases) -> None:
    # Past its pool size a pool closes each returned connection, and the next burst opens them again: a server
    # process started per request (the load of bench/booking_flow.py keeps 16 bookings in flight).
    engine = make_engine(databases.gateway, pool_size=gateway_app.POOL_SIZE)
    opened: list[int] = []
    event.listen(engine, "connect", lambda *_: opened.append(1))
    in_flight = 16
    together = threading.Barrier(in_flight)

    def request() -> None:
        with engine.connect() as connection:
            together.wait(timeout=10)  # all sixteen hold a connection at once
            connection.execute(text("SELECT 1"))

    try:
        for _ in range(3):
            threads = [threading.Thread(target=request) for _ in range(in_flight)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        assert len(opened) == in_flight  # opened by the first burst, reused by the next two
    finally:
        engine.dispose()
