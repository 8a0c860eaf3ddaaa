"""Booking by SMS (gateway.sms_conversation).

* `sms_conversations`: where each number's conversation stands (keyed hash of the number, the number sealed for the
  notifier, state, the times offered, when it expires, the pause after too many texts);
* `sms_inbound`: the Message SIDs handled in the last day, so that a webhook Twilio retries is answered once.

Revision ID: 0003_sms_conversations
Revises: 0002_abuse_limits
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from shared.db import UtcDateTime

revision = "0003_sms_conversations"
down_revision = "0002_abuse_limits"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sms_conversations",
        sa.Column("conversation_id", sa.String(36), primary_key=True),
        sa.Column("phone_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("phone_ciphertext", sa.String(), nullable=False),
        sa.Column("language", sa.String(2), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("context_json", sa.String(), nullable=True),
        sa.Column("booking_id", sa.String(36), nullable=True),
        sa.Column("pending_booking_id", sa.String(36), nullable=True),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("not_understood_at", UtcDateTime(), nullable=True),
        sa.Column("paused_until", UtcDateTime(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_sms_conversations_pending_booking_id", "sms_conversations", ["pending_booking_id"])
    op.create_index("ix_sms_conversations_expires_at", "sms_conversations", ["expires_at"])
    op.create_table(
        "sms_inbound",
        sa.Column("message_sid", sa.String(34), primary_key=True),
        sa.Column("received_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_sms_inbound_received_at", "sms_inbound", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_sms_inbound_received_at", "sms_inbound")
    op.drop_table("sms_inbound")
    op.drop_index("ix_sms_conversations_expires_at", "sms_conversations")
    op.drop_index("ix_sms_conversations_pending_booking_id", "sms_conversations")
    op.drop_table("sms_conversations")
