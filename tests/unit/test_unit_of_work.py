"""A unit of work commits what its block wrote, and nothing of a block that raised."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session

from shared.db import make_engine
from shared.unit_of_work import UnitOfWork, transaction


class Notes:
    """A repository in miniature: SQL behind named methods, on the session it is given."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, body: str) -> None:
        self.session.execute(text("INSERT INTO notes (body) VALUES (:body)"), {"body": body})


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'uow.sqlite'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE notes (body TEXT NOT NULL)"))
    return engine


def stored(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return [row[0] for row in connection.execute(text("SELECT body FROM notes ORDER BY body"))]


def test_what_the_block_wrote_is_committed_when_it_ends(engine: Engine) -> None:
    uow = UnitOfWork(engine, Notes)
    with uow() as notes:
        notes.add("kept")

    assert stored(engine) == ["kept"]


def test_a_block_that_raises_leaves_nothing_behind_and_the_error_reaches_the_caller(engine: Engine) -> None:
    uow = UnitOfWork(engine, Notes)
    with pytest.raises(RuntimeError, match="handler failed"), uow() as notes:
        notes.add("lost")
        raise RuntimeError("handler failed")

    assert stored(engine) == []


def test_a_plain_transaction_commits_and_rolls_back_the_same_way(engine: Engine) -> None:
    with transaction(engine) as session:
        Notes(session).add("first")
    with pytest.raises(ValueError), transaction(engine) as session:
        Notes(session).add("second")
        raise ValueError

    assert stored(engine) == ["first"]
