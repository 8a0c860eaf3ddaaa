"""The heartbeats table's SQL: keep the newest heartbeat per process, forget processes long gone, list them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, delete, select

from gateway.system_health.tables import RoleHeartbeatRow

_TABLE = RoleHeartbeatRow.__table__  # type: ignore[attr-defined]


def remember(session: Session, row: RoleHeartbeatRow) -> None:
    """Insert, or replace the process's row if this heartbeat is newer: two gateway replicas may hear two
    heartbeats of one process at once, or a late one after a newer (the upsert settles both)."""
    values = row.model_dump()
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(_TABLE).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=[_TABLE.c.role, _TABLE.c.instance],
        set_={name: statement.excluded[name] for name in values if name not in ("role", "instance")},
        where=_TABLE.c.seen_at < statement.excluded.seen_at)
    session.execute(statement)


def forget_before(session: Session, before: datetime) -> None:
    session.execute(delete(RoleHeartbeatRow).where(col(RoleHeartbeatRow.seen_at) < before))


def latest(session: Session) -> list[RoleHeartbeatRow]:
    query = select(RoleHeartbeatRow).order_by(col(RoleHeartbeatRow.role), col(RoleHeartbeatRow.seen_at).desc())
    return list(session.exec(query))
