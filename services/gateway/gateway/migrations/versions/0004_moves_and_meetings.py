"""What the manage page shows besides the slot: the client's move, how to meet, and the conversation choice.

* `booking_requests.move_json`: the client's last move (its id, pending / moved / refused, the reason and
  alternatives of a refusal); null when the client never moved the booking.
* `booking_requests.meeting_json`: how to meet (the scheduler's `Meeting`: address and directions, or a video
  link), from `booking.confirmed` / `booking.rescheduled`; shown only while the booking is confirmed.
* `booking_requests.conversation`: own_language or mediator, as the client chose; existing bookings own_language.

Revision ID: 0004_moves_and_meetings
Revises: 0003_sms_conversations
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_moves_and_meetings"
down_revision = "0003_sms_conversations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("booking_requests", sa.Column("move_json", sa.String(), nullable=True))
    op.add_column("booking_requests", sa.Column("meeting_json", sa.String(), nullable=True))
    op.add_column("booking_requests", sa.Column("conversation", sa.String(16), nullable=False,
                                                server_default="own_language"))


def downgrade() -> None:
    for column in ("conversation", "meeting_json", "move_json"):
        op.execute(f"ALTER TABLE booking_requests DROP COLUMN {column}")
