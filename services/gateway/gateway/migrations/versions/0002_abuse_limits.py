"""Limits on the public booking path (gateway.limits).

* `rate_events`: one row per counted booking, cancellation or search, per client address or phone number (keyed
  hashes only), for sliding-window limits that hold across gateway replicas;
* `booking_requests.phone_hash` (keyed hash of the number) and `starts_at` (the confirmed appointment's start):
  how many appointments that have not begun yet one number holds. Existing bookings keep nulls and count for no
  number.

Revision ID: 0002_abuse_limits
Revises: 0001_gateway
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from shared.db import UtcDateTime

revision = "0002_abuse_limits"
down_revision = "0001_gateway"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_rate_events_subject", "rate_events", ["scope", "subject", "at"])
    op.add_column("booking_requests", sa.Column("phone_hash", sa.String(64), nullable=True))
    op.add_column("booking_requests", sa.Column("starts_at", UtcDateTime(), nullable=True))
    op.create_index("ix_booking_requests_phone_hash", "booking_requests", ["phone_hash"])


def downgrade() -> None:
    op.drop_index("ix_booking_requests_phone_hash", "booking_requests")
    op.execute("ALTER TABLE booking_requests DROP COLUMN starts_at")
    op.execute("ALTER TABLE booking_requests DROP COLUMN phone_hash")
    op.drop_index("ix_rate_events_subject", "rate_events")
    op.drop_table("rate_events")
