"""Replies of an SMS conversation (notifier.handlers.queue_reply): what a reply shows (the times offered, the
appointment it is about, whose manage link) as JSON on its message row.

Revision ID: 0003_sms_replies
Revises: 0002_sms_budget
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_sms_replies"
down_revision = "0002_sms_budget"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("reminders", sa.Column("params", sa.String(), nullable=True))


def downgrade() -> None:
    op.execute("ALTER TABLE reminders DROP COLUMN params")
