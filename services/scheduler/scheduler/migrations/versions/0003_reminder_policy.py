"""A reminder policy per appointment type, and a contact problem per appointment.

* `appointment_types.reminder_offsets_minutes`: the minutes before the start at which the client is reminded,
  comma-separated, largest first ("1440,120": 24 h and 2 h before); "" for no reminders. Existing types get the
  default. The scheduler puts the policy into `booking.confirmed` / `booking.rescheduled`; the notifier keeps the
  reminders it planned from that message, so a later change to the policy reaches new bookings and reschedules only.
* `appointments.contact_problem*`: the notifier reported that texts to the booking's number cannot arrive
  (`contact.unreachable`): the reason, Twilio's error code and when it was first reported. Never the number.

Revision ID: 0003_reminder_policy
Revises: 0002_calendar_version
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from shared.db import UtcDateTime

revision = "0003_reminder_policy"
down_revision = "0002_calendar_version"
branch_labels = None
depends_on = None

# As in scheduler.tables.DEFAULT_REMINDER_POLICY at the time of writing (a migration does not follow later edits).
_DEFAULT_POLICY = "1440,120"


def upgrade() -> None:
    # ADD COLUMN with a constant default fills existing rows on both databases without rewriting triggers.
    op.add_column("appointment_types", sa.Column("reminder_offsets_minutes", sa.String(40), nullable=False,
                                                 server_default=_DEFAULT_POLICY))
    op.add_column("appointments", sa.Column("contact_problem", sa.String(16), nullable=True))
    op.add_column("appointments", sa.Column("contact_problem_code", sa.String(6), nullable=True))
    op.add_column("appointments", sa.Column("contact_problem_since", UtcDateTime(), nullable=True))


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+): a batch copy of the table would lose the triggers of 0001 and 0002.
    for table, column in (("appointments", "contact_problem_since"), ("appointments", "contact_problem_code"),
                          ("appointments", "contact_problem"), ("appointment_types", "reminder_offsets_minutes")):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
