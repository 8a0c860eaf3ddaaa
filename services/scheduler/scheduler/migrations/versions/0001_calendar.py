"""The calendar: locations, counsellors, appointment types, availability, appointments; outbox and inbox.

Revision ID: 0001_calendar
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from shared.db import UtcDateTime

revision = "0001_calendar"
down_revision = None
branch_labels = None
depends_on = None

_OVERLAP = (
    "EXISTS (SELECT 1 FROM appointments AS a WHERE a.counsellor_id = NEW.counsellor_id AND a.status = 'confirmed'"
    " AND a.blocked_from < NEW.blocked_until AND a.blocked_until > NEW.blocked_from{other})"
)
_REFUSAL = "RAISE(ABORT, 'double booking: the counsellor already has a confirmed appointment at this time')"


def _instant(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, UtcDateTime(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "locations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("town", sa.String(80), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("alias", sa.String(40), nullable=False),
        sa.Column("address", sa.String(200), nullable=False, server_default=""),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.CheckConstraint("kind IN ('office', 'outreach', 'phone', 'video')", name="location_kind"),
    )
    op.create_table(
        "counsellors",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("alias", sa.String(40), nullable=False, unique=True),
        sa.Column("languages", sa.String(80), nullable=False),
        sa.Column("topics", sa.String(200), nullable=False),
        sa.Column("daily_cap", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
    )
    op.create_table(
        "counsellor_locations",
        sa.Column("counsellor_id", sa.Integer(), sa.ForeignKey("counsellors.id"), primary_key=True),
        sa.Column("location_id", sa.Integer(), sa.ForeignKey("locations.id"), primary_key=True),
    )
    op.create_table(
        "appointment_types",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("topic", sa.String(40), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("modes", sa.String(80), nullable=False),
        sa.Column("buffer_before_minutes", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("buffer_after_minutes", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("min_notice_minutes", sa.Integer(), nullable=False, server_default="60"),
        sa.Column("horizon_days", sa.Integer(), nullable=False, server_default="90"),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
    )
    op.create_table(
        "availability_rules",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("counsellor_id", sa.Integer(), sa.ForeignKey("counsellors.id"), nullable=False, index=True),
        sa.Column("location_id", sa.Integer(), sa.ForeignKey("locations.id"), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("starts", sa.Time(), nullable=False),
        sa.Column("ends", sa.Time(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("on_holidays", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.CheckConstraint("weekday BETWEEN 0 AND 6", name="rule_weekday"),
        sa.CheckConstraint("ends > starts", name="rule_window"),
    )
    op.create_table(
        "availability_exceptions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("counsellor_id", sa.Integer(), sa.ForeignKey("counsellors.id"), nullable=True),
        sa.Column("location_id", sa.Integer(), sa.ForeignKey("locations.id"), nullable=True),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("starts", sa.Time(), nullable=True),
        sa.Column("ends", sa.Time(), nullable=True),
        sa.Column("reason", sa.String(200), nullable=False, server_default=""),
        _instant("created_at"),
        sa.CheckConstraint("kind IN ('absence', 'extra_hours', 'closure')", name="exception_kind"),
        sa.CheckConstraint("last_day >= first_day", name="exception_days"),
    )
    op.create_index("exceptions_by_last_day", "availability_exceptions", ["last_day"])
    op.create_table(
        "appointments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("booking_id", sa.String(36), nullable=False, unique=True),
        sa.Column("counsellor_id", sa.Integer(), sa.ForeignKey("counsellors.id"), nullable=False),
        sa.Column("location_id", sa.Integer(), sa.ForeignKey("locations.id"), nullable=False),
        sa.Column("type_id", sa.Integer(), sa.ForeignKey("appointment_types.id"), nullable=True),
        _instant("starts_at"),
        _instant("ends_at"),
        _instant("blocked_from"),
        _instant("blocked_until"),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_reason", sa.String(200), nullable=True),
        sa.Column("needs_attention", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("topic", sa.String(40), nullable=True),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        _instant("created_at"),
        _instant("updated_at"),
        sa.CheckConstraint("status IN ('confirmed', 'cancelled', 'no_show', 'attended')", name="appointment_status"),
        sa.CheckConstraint("ends_at > starts_at AND blocked_from <= starts_at AND blocked_until >= ends_at",
                           name="appointment_times"),
    )
    op.create_index("appointments_by_start", "appointments", ["starts_at"])
    _forbid_double_booking()
    _outbox_and_inbox()


def _forbid_double_booking() -> None:
    """The database, not Python, refuses a second confirmed appointment over a counsellor's blocked time.
    Touching intervals ([10:00, 11:00) and [11:00, 12:00)) do not overlap; cancelled and past ones do not block."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        op.execute(
            "ALTER TABLE appointments ADD CONSTRAINT no_double_booking EXCLUDE USING gist "
            "(counsellor_id WITH =, tstzrange(blocked_from, blocked_until) WITH &&) WHERE (status = 'confirmed')"
        )
        return
    op.execute(
        "CREATE TRIGGER no_double_booking_insert BEFORE INSERT ON appointments "
        f"WHEN NEW.status = 'confirmed' AND {_OVERLAP.format(other='')} "
        f"BEGIN SELECT {_REFUSAL}; END"
    )
    op.execute(
        "CREATE TRIGGER no_double_booking_update BEFORE UPDATE ON appointments "
        f"WHEN NEW.status = 'confirmed' AND {_OVERLAP.format(other=' AND a.id <> NEW.id')} "
        f"BEGIN SELECT {_REFUSAL}; END"
    )


def _outbox_and_inbox() -> None:
    """The shared outbox and inbox (shared.outbox, shared.inbox), as the scheduler's own tables."""
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
    for table in ("processed_messages", "outbox", "appointments", "availability_exceptions", "availability_rules",
                  "appointment_types", "counsellor_locations", "counsellors", "locations"):
        op.drop_table(table)
