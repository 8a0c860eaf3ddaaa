"""The admins' health view (gateway.system_health).

* `role_heartbeats`: the newest heartbeat of each process (role and a random instance id), with the figures it
  reported: its outbox backlog, the dispatcher's lag and beat's last tick. No host, no pid, nothing personal.

Revision ID: 0006_role_heartbeats
Revises: 0005_two_factor
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from shared.db import UtcDateTime

revision = "0006_role_heartbeats"
down_revision = "0005_two_factor"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "role_heartbeats",
        sa.Column("role", sa.String(16), primary_key=True),
        sa.Column("instance", sa.String(12), primary_key=True),
        sa.Column("seen_at", UtcDateTime(), nullable=False),
        sa.Column("interval_seconds", sa.Float(), nullable=False),
        sa.Column("outbox_backlog", sa.Integer(), nullable=True),
        sa.Column("oldest_unsent_seconds", sa.Float(), nullable=True),
        sa.Column("dispatcher_lag_seconds", sa.Float(), nullable=True),
        sa.Column("last_beat_tick_at", UtcDateTime(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("role_heartbeats")
