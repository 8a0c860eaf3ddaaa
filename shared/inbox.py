"""Idempotent consumers: the ids of processed messages, written in the handler's own transaction."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import insert, select
from sqlmodel import Field, Session, SQLModel

from shared.db import instant_column


class ProcessedMessage(SQLModel, table=True):
    __tablename__ = "processed_messages"
    message_id: str = Field(primary_key=True, max_length=36)
    message_type: str = Field(max_length=64)
    processed_at: datetime = Field(default_factory=lambda: datetime.now(UTC), sa_column=instant_column())


def already_processed(session: Session, message_id: UUID) -> bool:
    return session.get(ProcessedMessage, str(message_id)) is not None


def processed_among(session: Session, message_ids: list[str]) -> set[str]:
    """Which of these message ids were processed already (one look-up for a batch)."""
    table = ProcessedMessage.__table__  # type: ignore[attr-defined]
    found = session.connection().execute(select(table.c.message_id).where(table.c.message_id.in_(message_ids)))
    return {row[0] for row in found}


def remember_all_processed(session: Session, messages: list[tuple[UUID, str]]) -> None:
    """A batch's ids in one statement, on the session's transaction (see remember_processed)."""
    now = datetime.now(UTC)
    session.connection().execute(_INSERT, [
        {"message_id": str(message_id), "message_type": message_type, "processed_at": now}
        for message_id, message_type in messages])


def remember_processed(session: Session, message_id: UUID, message_type: str) -> None:
    """Written at once (a Core insert on the session's transaction, no unit of work): a concurrent duplicate then
    fails on the primary key, and its transaction rolls back."""
    session.connection().execute(_INSERT, {
        "message_id": str(message_id), "message_type": message_type, "processed_at": datetime.now(UTC)})


_INSERT = insert(ProcessedMessage.__table__)  # type: ignore[attr-defined]  # built once: every message runs it
