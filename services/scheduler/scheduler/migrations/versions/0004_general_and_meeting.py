"""A neutral general appointment type, how to meet per location, and per appointment the conversation choice and
the video room.

* `appointment_types`: a row with topic `general` (45 minutes, every mode, reminders 24 h and 2 h before), booked
  when a client leaves the topic open, never another topic. An admin sets its length and reminders like any type.
  Added only to a calendar that already has types: a new calendar gets it from its setup (the demo data, or an
  admin), so that the ids of the types set up first stay as they are.
* `locations.directions`: how to get in (office) or how the place is agreed (outreach), as an admin writes it;
  shown only on a confirmed booking's manage page.
* `appointments.conversation`: `own_language` (a counsellor who speaks it) or `mediator` (German or English with a
  language mediator); existing appointments were all booked in the client's own language.
* `appointments.video_room`: a video appointment's random room name, kept across moves.

Revision ID: 0004_general_and_meeting
Revises: 0003_reminder_policy
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_general_and_meeting"
down_revision = "0003_reminder_policy"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("locations", sa.Column("directions", sa.String(500), nullable=False, server_default=""))
    op.add_column("appointments", sa.Column("conversation", sa.String(16), nullable=False,
                                            server_default="own_language"))
    op.add_column("appointments", sa.Column("video_room", sa.String(64), nullable=True))
    op.execute(
        "INSERT INTO appointment_types (topic, duration_minutes, modes, buffer_before_minutes, buffer_after_minutes,"
        " min_notice_minutes, horizon_days, active, reminder_offsets_minutes)"
        " SELECT 'general', 45, 'office,outreach,phone,video', 0, 10, 60, 90, TRUE, '1440,120'"
        " WHERE EXISTS (SELECT 1 FROM appointment_types)"
        " AND NOT EXISTS (SELECT 1 FROM appointment_types WHERE topic = 'general')"
    )


def downgrade() -> None:
    op.execute("DELETE FROM appointment_types WHERE topic = 'general' AND id NOT IN "
               "(SELECT type_id FROM appointments WHERE type_id IS NOT NULL)")
    # Plain DROP COLUMN (SQLite 3.35+): a batch copy of the table would lose the triggers of 0001 and 0002.
    for table, column in (("appointments", "video_room"), ("appointments", "conversation"),
                          ("locations", "directions")):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
