"""The admins' delivery dashboard (notifier.delivery_stats): each delivery's language (no join to reminders for
a year of rows), when it was delivered (the median time to delivered), when staff retried it (once at most);
an index that answers a period's figures from the index alone, and one for the failed texts newest first; the
counts of settled days (delivery_days, delivery_day_counts, delivery_day_seconds), made when a report asks.

Revision ID: 0004_delivery_dashboard
Revises: 0003_sms_replies
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from shared.db import UtcDateTime

revision = "0004_delivery_dashboard"
down_revision = "0003_sms_replies"
branch_labels = None
depends_on = None

_BAD = "status IN ('failed', 'undelivered')"


def upgrade() -> None:
    op.add_column("deliveries", sa.Column("language", sa.String(length=2), server_default=sa.literal(""),
                                          nullable=False))
    op.add_column("deliveries", sa.Column("delivered_at", UtcDateTime(), nullable=True))
    op.add_column("deliveries", sa.Column("retried_at", UtcDateTime(), nullable=True))
    op.execute("UPDATE deliveries SET language = (SELECT reminders.language FROM reminders "
               "WHERE reminders.id = deliveries.reminder_id) "
               "WHERE EXISTS (SELECT 1 FROM reminders WHERE reminders.id = deliveries.reminder_id)")
    # A final status never changes, and the callback that made a delivery `delivered` set updated_at last.
    op.execute("UPDATE deliveries SET delivered_at = updated_at WHERE status = 'delivered'")
    op.create_index("deliveries_report", "deliveries",
                    ["created_at", "status", "language", "error_code", "delivered_at"])
    op.create_index("deliveries_failed", "deliveries", ["created_at", "id"],
                    postgresql_where=sa.text(_BAD), sqlite_where=sa.text(_BAD))
    op.create_table(
        "delivery_days",
        sa.Column("day", sa.String(length=10), primary_key=True),
        sa.Column("starts_at", UtcDateTime(), nullable=False),
        sa.Column("ends_at", UtcDateTime(), nullable=False),
        sa.Column("counted_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_delivery_days_starts_at", "delivery_days", ["starts_at"])
    op.create_table(
        "delivery_day_counts",
        sa.Column("day", sa.String(length=10), primary_key=True),
        sa.Column("dimension", sa.String(length=8), primary_key=True),
        sa.Column("value", sa.String(length=16), primary_key=True),
        sa.Column("count", sa.Integer(), nullable=False),
    )
    op.create_table(
        "delivery_day_seconds",
        sa.Column("day", sa.String(length=10), primary_key=True),
        sa.Column("seconds", sa.Integer(), primary_key=True),
        sa.Column("count", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    for table in ("delivery_day_seconds", "delivery_day_counts", "delivery_days"):
        op.drop_table(table)
    op.drop_index("deliveries_failed", "deliveries")
    op.drop_index("deliveries_report", "deliveries")
    for column in ("retried_at", "delivered_at", "language"):
        op.execute(f"ALTER TABLE deliveries DROP COLUMN {column}")
