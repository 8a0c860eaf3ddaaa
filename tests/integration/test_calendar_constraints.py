"""The scheduler's database itself refuses a double booking, on PostgreSQL and SQLite, whatever Python does."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path

import pytest
from scheduler import migrations
from scheduler.demo import seed
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import IntegrityError

from shared.db import make_engine
from tests.support import infra

START = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
_ids = count(1)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        built = make_engine(f"sqlite:///{tmp_path / 'scheduler.sqlite'}")
        dbs = None
    else:
        infra.ensure_postgres()
        dbs = infra.create_databases("lotse_c", migrated=True)
        built = make_engine(dbs.scheduler)
    migrations.upgrade(built)
    seed(built)
    yield built
    built.dispose()
    if dbs is not None:
        infra.drop_databases(dbs)


def _insert(engine: Engine, counsellor: int, minutes_from: int, minutes_until: int, status: str = "confirmed",
            buffer_after: int = 0) -> None:
    start, end = START + timedelta(minutes=minutes_from), START + timedelta(minutes=minutes_until)
    stamp = "CAST(:now AS TIMESTAMP)" if engine.dialect.name == "sqlite" else ":now"
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO appointments (booking_id, counsellor_id, location_id, type_id, starts_at, ends_at, "
            "blocked_from, blocked_until, status, needs_attention, language, channel, created_at, updated_at) "
            f"VALUES (:booking, :counsellor, 1, 1, :start, :end, :start, :blocked_until, :status, false, 'de', "
            f"'web', {stamp}, {stamp})"),
            {"booking": f"b-{next(_ids)}", "counsellor": counsellor, "status": status, "now": START,
             **_instants(engine, start=start, end=end, blocked_until=end + timedelta(minutes=buffer_after))})


def _instants(engine: Engine, **values: datetime) -> dict[str, object]:
    # SQLite keeps instants as naive UTC text (shared.db.UtcDateTime); PostgreSQL as timestamptz.
    if engine.dialect.name == "sqlite":
        return {k: v.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds") for k, v in values.items()}
    return dict(values)


def test_overlapping_confirmed_appointments_of_one_counsellor_are_refused(engine: Engine) -> None:
    _insert(engine, 1, 0, 50)
    with pytest.raises(IntegrityError):
        _insert(engine, 1, 30, 80)
    with pytest.raises(IntegrityError):
        _insert(engine, 1, -10, 10)
    with pytest.raises(IntegrityError):
        _insert(engine, 1, 0, 50)


def test_buffer_after_blocks_the_next_start(engine: Engine) -> None:
    _insert(engine, 1, 0, 50, buffer_after=10)
    with pytest.raises(IntegrityError):
        _insert(engine, 1, 55, 100)
    _insert(engine, 1, 60, 110)  # touches the end of the buffer: allowed


def test_touching_appointments_and_other_counsellors_are_allowed(engine: Engine) -> None:
    _insert(engine, 1, 0, 50)
    _insert(engine, 1, 50, 100)
    _insert(engine, 2, 0, 50)


def test_cancelled_appointments_do_not_block(engine: Engine) -> None:
    _insert(engine, 1, 0, 50, status="cancelled")
    _insert(engine, 1, 0, 50)
    _insert(engine, 1, 10, 60, status="cancelled")


def test_an_update_into_an_overlap_is_refused(engine: Engine) -> None:
    _insert(engine, 1, 0, 50)
    _insert(engine, 1, 30, 80, status="cancelled")
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(text("UPDATE appointments SET status = 'confirmed' WHERE status = 'cancelled'"))
    with engine.begin() as connection:  # moving an appointment within its own time is no clash with itself
        connection.execute(text("UPDATE appointments SET status = 'confirmed' WHERE status = 'confirmed'"))


def test_migrations_run_twice_change_nothing(engine: Engine) -> None:
    migrations.upgrade(engine)
    tables = set(inspect(engine).get_table_names())
    assert {"locations", "counsellors", "counsellor_locations", "appointment_types", "availability_rules",
            "availability_exceptions", "appointments", "outbox", "processed_messages", "alembic_version"} <= tables
    columns = {c["name"] for c in inspect(engine).get_columns("appointments")}
    assert not {c for c in columns if "phone" in c}
