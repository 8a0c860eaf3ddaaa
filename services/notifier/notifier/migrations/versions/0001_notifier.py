"""Contacts, booking facts, messages due, deliveries, opt-outs; outbox and inbox.

Revision ID: 0001_notifier
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from shared.db import UtcDateTime

revision = "0001_notifier"
down_revision = None
branch_labels = None
depends_on = None


def _instant(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, UtcDateTime(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "contacts",
        sa.Column("booking_id", sa.String(36), primary_key=True),
        sa.Column("phone_ciphertext", sa.Text(), nullable=False),
        sa.Column("phone_hash", sa.String(64), nullable=False, index=True),
        sa.Column("manage_token_ciphertext", sa.Text(), nullable=False),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("reminders", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("safe_window", sa.Text(), nullable=True),
        sa.Column("unreachable", sa.String(24), nullable=True),
        _instant("created_at"),
        sa.Column("purge_after", UtcDateTime(), nullable=False, index=True),
    )
    op.create_table(
        "booking_facts",
        sa.Column("booking_id", sa.String(36), primary_key=True),
        _instant("starts_at"),
        sa.Column("place_alias", sa.String(40), nullable=False),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reminder_offsets", sa.String(64), nullable=False, server_default="[]"),
        sa.Column("generation", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_table(
        "reminders",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(120), nullable=False, unique=True),
        sa.Column("booking_id", sa.String(36), nullable=True, index=True),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("language", sa.String(2), nullable=False),
        _instant("due_at"),
        _instant("not_after"),
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("outcome", sa.String(32), nullable=True),
        sa.Column("phone_ciphertext", sa.Text(), nullable=True),
        sa.Column("phone_context", sa.String(80), nullable=True),
        _instant("created_at"),
        sa.CheckConstraint(
            "status IN ('pending', 'sending', 'sent', 'failed', 'unknown', 'cancelled', 'skipped')",
            name="reminder_status"),
    )
    op.create_index("reminders_due", "reminders", ["status", "due_at"])
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("reminder_id", sa.Integer(), sa.ForeignKey("reminders.id"), nullable=False, index=True),
        sa.Column("attempt", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("booking_id", sa.String(36), nullable=True, index=True),
        sa.Column("ref", sa.String(32), nullable=False, unique=True),
        sa.Column("provider", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("provider_sid", sa.String(64), nullable=True, index=True),
        sa.Column("error_code", sa.String(16), nullable=True),
        sa.Column("to_masked", sa.String(24), nullable=False, server_default=""),
        sa.Column("segments", sa.Integer(), nullable=False, server_default="0"),
        _instant("created_at"),
        _instant("updated_at"),
        _instant("requested_at", nullable=True),
        sa.CheckConstraint(
            "status IN ('queued', 'sending', 'sent', 'delivered', 'undelivered', 'failed')", name="delivery_status"),
    )
    op.create_table(
        "opt_outs",
        sa.Column("phone_hash", sa.String(64), primary_key=True),
        sa.Column("opted_out", sa.Boolean(), nullable=False),
        _instant("changed_at"),
        sa.Column("last_message_sid", sa.String(34), nullable=False),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("message_id", sa.String(36), nullable=False, unique=True),
        sa.Column("routing_key", sa.String(64), nullable=False),
        sa.Column("correlation_id", sa.String(64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        _instant("created_at"),
    )
    op.create_table(
        "processed_messages",
        sa.Column("message_id", sa.String(36), primary_key=True),
        sa.Column("message_type", sa.String(64), nullable=False),
        _instant("processed_at"),
    )


def downgrade() -> None:
    for table in ("processed_messages", "outbox", "opt_outs", "deliveries", "reminders", "booking_facts", "contacts"):
        op.drop_table(table)
