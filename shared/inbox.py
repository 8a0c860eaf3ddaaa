"""Idempotent consumers: the ids of processed messages, written in the handler's own transaction."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import insert
from sqlmodel import Field, Session, SQLModel

from shared.db import instant_column


class ProcessedMessage(SQLModel, table=True):
    __tablename__ = "processed_messages"
    message_id: str = Field(primary_key=True, max_length=36)
    message_type: str = Field(max_length=64)
    processed_at: datetime = Field(default_factory=lambda: datetime.now(UTC), sa_column=instant_column())


def already_processed(session: Session, message_id: UUID) -> bool:
    return session.get(ProcessedMessage, str(message_id)) is not None


def remember_processed(session: Session, message_id: UUID, message_type: str) -> None:
    """Written at once (a Core insert on the session's transaction, no unit of work): a concurrent duplicate then
    fails on the primary key, and its transaction rolls back."""
    session.connection().execute(_INSERT, {
        "message_id": str(message_id), "message_type": message_type, "processed_at": datetime.now(UTC)})


_TABLE = ProcessedMessage.__table__  # type: ignore[attr-defined]
_INSERT = insert(_TABLE)  # built once: every message runs it
