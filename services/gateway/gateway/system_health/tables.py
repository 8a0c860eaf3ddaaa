"""The latest heartbeat of each process (role and instance), as the gateway last heard it."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from shared.db import instant_column


class RoleHeartbeatRow(SQLModel, table=True):
    """Only figures and a random instance id: no host, no pid, nothing about a client."""

    __tablename__ = "role_heartbeats"
    role: str = Field(primary_key=True, max_length=16)
    instance: str = Field(primary_key=True, max_length=12)
    seen_at: datetime = Field(sa_column=instant_column())  # when the process sent it (the envelope's time)
    interval_seconds: float
    outbox_backlog: int | None = None
    oldest_unsent_seconds: float | None = None
    dispatcher_lag_seconds: float | None = None
    last_beat_tick_at: datetime | None = Field(default=None, sa_column=instant_column(nullable=True))


HEALTH_TABLES = [RoleHeartbeatRow.__table__]  # type: ignore[attr-defined]
