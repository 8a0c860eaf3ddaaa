"""The one way to open a transaction, and a unit of work that hands a service its repository inside one.

In the spirit of cosmicpython's `unit_of_work.py`: code that changes state asks for a unit of work, does its work
through the repository it gets, and the transaction commits when the block ends (rolls back if it raises). Outbox
rows are written through the same session, so a message is published exactly when the state it announces commits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

from sqlalchemy import Engine
from sqlmodel import Session

R = TypeVar("R")


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back if it raises. Rows read inside stay readable
    after the commit (no expiry), since callers return them."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


class UnitOfWork(Generic[R]):
    """`with uow() as repository:` — a service's repository over one transaction.

    `repository` builds the service's repository on an open session; the consumer uses the same factory for the
    session it opens per message, so handlers and HTTP code reach the database the same way."""

    def __init__(self, engine: Engine, repository: Callable[[Session], R]) -> None:
        self.engine = engine
        self.repository = repository

    @contextmanager
    def __call__(self) -> Iterator[R]:
        with transaction(self.engine) as session:
            yield self.repository(session)
