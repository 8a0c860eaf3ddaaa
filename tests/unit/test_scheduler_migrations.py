"""The scheduler's migrations refuse, with a sentence saying what to do, a database an early Lotse made directly."""

from __future__ import annotations

from pathlib import Path

import pytest
from scheduler.migrations import UnversionedDatabase, upgrade
from sqlalchemy import text

from shared.db import make_engine


def test_a_database_from_before_migrations_is_refused_with_what_to_do(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'scheduler.sqlite'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE opening_rules (id INTEGER PRIMARY KEY, weekday INTEGER)"))
    with pytest.raises(UnversionedDatabase) as refused:
        upgrade(engine)
    assert "var/scheduler.sqlite" in str(refused.value.code)
    assert "earlier Lotse" in str(refused.value.code)


def test_an_empty_database_is_migrated_and_a_second_upgrade_changes_nothing(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'scheduler.sqlite'}")
    upgrade(engine)
    upgrade(engine)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
        assert connection.execute(text("SELECT count(*) FROM appointments")).scalar_one() == 0
