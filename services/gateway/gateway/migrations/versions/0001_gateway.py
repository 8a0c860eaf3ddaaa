"""The gateway's tables as create_all made them before the gateway had migrations: booking requests and the
client's choices, staff accounts, sessions and failed sign-ins, counsellors' feed tokens; outbox and inbox.

`metadata` is also what a database made by create_all is compared with before it is stamped at this revision
(gateway.migrations.upgrade), so it must stay as it is: later changes are later revisions.

Revision ID: 0001_gateway
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from shared.db import UtcDateTime

revision = "0001_gateway"
down_revision = None
branch_labels = None
depends_on = None


def _instant(name: str, nullable: bool = False, index: bool = False) -> sa.Column[object]:
    return sa.Column(name, UtcDateTime(), nullable=nullable, index=index)


# VARCHAR without a length where the classes had a `str` without max_length: what create_all made of them.
metadata = sa.MetaData()
sa.Table(
    "booking_requests", metadata,
    sa.Column("booking_id", sa.String(36), primary_key=True),
    sa.Column("manage_token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("idempotency_key", sa.String(64), nullable=True, unique=True),
    sa.Column("request_fingerprint", sa.String(64), nullable=False),
    sa.Column("manage_token_ciphertext", sa.String(), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(32), nullable=True),
    sa.Column("slot_json", sa.String(), nullable=True),
    sa.Column("alternatives_json", sa.String(), nullable=True),
    sa.Column("language", sa.String(2), nullable=False),
    sa.Column("channel", sa.String(8), nullable=False),
    _instant("created_at", index=True),
    _instant("updated_at"),
)
sa.Table(
    "booking_preferences", metadata,
    sa.Column("booking_id", sa.String(36), sa.ForeignKey("booking_requests.booking_id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("preferences_json", sa.String(), nullable=False),
    _instant("updated_at"),
)
sa.Table(
    "staff_accounts", metadata,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("display_name", sa.String(80), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("counsellor_id", sa.Integer(), nullable=True),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("active", sa.Boolean(), nullable=False),
    sa.Column("failed_logins", sa.Integer(), nullable=False),
    _instant("locked_until", nullable=True),
    _instant("created_at"),
    _instant("updated_at"),
)
sa.Table(
    "staff_sessions", metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("staff_id", sa.Integer(), sa.ForeignKey("staff_accounts.id", ondelete="CASCADE"), nullable=False,
              index=True),
    _instant("created_at"),
    _instant("last_seen_at"),
    _instant("expires_at", index=True),
    _instant("revoked_at", nullable=True),
)
sa.Table(
    "staff_login_failures", metadata,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("scope", sa.String(8), nullable=False),
    sa.Column("subject", sa.String(64), nullable=False),
    _instant("failed_at"),
    sa.Index("ix_staff_login_failures_subject", "scope", "subject", "failed_at"),
)
sa.Table(
    "counsellor_feeds", metadata,
    # The scheduler's counsellor id, always given; create_all made it SERIAL on PostgreSQL all the same.
    sa.Column("counsellor_id", sa.Integer(), primary_key=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("issued_by", sa.Integer(), nullable=False),
    _instant("issued_at"),
)
sa.Table(
    "outbox", metadata,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("message_id", sa.String(36), nullable=False, unique=True),
    sa.Column("routing_key", sa.String(64), nullable=False),
    sa.Column("correlation_id", sa.String(64), nullable=False),
    sa.Column("body", sa.String(), nullable=False),
    _instant("created_at"),
)
sa.Table(
    "processed_messages", metadata,
    sa.Column("message_id", sa.String(36), primary_key=True),
    sa.Column("message_type", sa.String(64), nullable=False),
    _instant("processed_at"),
)


def upgrade() -> None:
    metadata.create_all(op.get_bind(), checkfirst=False)


def downgrade() -> None:
    metadata.drop_all(op.get_bind(), checkfirst=False)
