"""The daily text budget (notifier.dispatch.budget): the days it was reached, and an index to count a day's
deliveries.

Revision ID: 0002_sms_budget
Revises: 0001_notifier
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from shared.db import UtcDateTime

revision = "0002_sms_budget"
down_revision = "0001_notifier"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sms_budget_days",
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("budget", sa.Integer(), nullable=False),
        sa.Column("reached_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_deliveries_created_at", "deliveries", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_created_at", "deliveries")
    op.drop_table("sms_budget_days")
