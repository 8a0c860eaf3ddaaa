"""The staff audit log on the real PostgreSQL: the database itself refuses UPDATE, DELETE and TRUNCATE of an audit
row, the retention purge is the one delete it allows, and keyset pages read the same as on SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from gateway.staff.audit import Action, Actor, AuditLog, Event, TargetKind
from gateway.staff.audit_repository import AuditFilter
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from shared.db import make_engine
from tests.support import infra

pytestmark = pytest.mark.infra
START = datetime(2030, 3, 4, 8, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def engine(infrastructure: None) -> Iterator[Engine]:
    """One migrated gateway database for the module; each test writes rows of its own time range."""
    databases = infra.create_databases("lotse_audit", migrated=True)
    built = make_engine(databases.gateway)
    try:
        yield built
    finally:
        built.dispose()
        infra.drop_databases(databases)


def test_postgres_refuses_to_change_delete_or_truncate_an_audit_row(engine: Engine) -> None:
    AuditLog(engine, Clock()).record(Actor(1, "admin", "192.0.2.1"), Event(Action.SIGN_IN))

    for statement in ("UPDATE staff_audit SET username = 'nobody'", "DELETE FROM staff_audit",
                      "TRUNCATE staff_audit", "TRUNCATE staff_audit CASCADE"):
        with engine.connect() as connection, pytest.raises(DBAPIError, match="append-only") as refused:
            connection.execute(text(statement))
        assert refused.value.orig is not None and refused.value.orig.sqlstate == "42501"  # type: ignore[attr-defined]
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM staff_audit WHERE at = :at"), {"at": START}).scalar() == 1


def test_postgres_purge_removes_only_rows_past_the_retention(engine: Engine) -> None:
    clock = Clock()
    clock.now = START - timedelta(days=2000)
    log = AuditLog(engine, clock, retention=timedelta(days=400))
    log.record(Actor(7, "old", "192.0.2.7"), Event(Action.SIGN_IN))
    clock.now += timedelta(days=300)
    log.record(Actor(7, "old", "192.0.2.7"), Event(Action.SIGN_OUT))
    clock.now += timedelta(days=101)

    assert log.purge() == 1
    with engine.connect() as connection:
        assert connection.execute(text("SELECT action FROM staff_audit WHERE staff_id = 7")).scalars().all() == [
            "sign_out"]
        assert connection.execute(text("SELECT count(*) FROM staff_audit_purge")).scalar() == 0


def test_postgres_pages_newest_first_by_cursor_within_a_filter(engine: Engine) -> None:
    clock = Clock()
    clock.now = START + timedelta(days=10)
    log = AuditLog(engine, clock)
    for minute in range(7):
        clock.now += timedelta(minutes=1 if minute != 3 else 0)  # two rows at the same instant: the id decides
        log.record(Actor(9, "pager", "192.0.2.9"), Event(Action.CALENDAR_READ, target_kind=TargetKind.COUNSELLOR,
                                                         target_id=minute % 2))
    where = AuditFilter(staff_id=9, target_kind="counsellor", target_id="0")

    first, after = log.page(where, None, 2)
    second, after_second = log.page(where, after, 2)

    assert after is not None and after_second is None
    ids = [row.id for row in first + second]
    assert ids == sorted(ids, reverse=True) and len(ids) == 4
    assert [row.id for row in log.every_row(where, batch=1)] == ids
