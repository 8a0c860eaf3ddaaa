"""Two-factor sign-in and account administration for staff.

* `staff_accounts.totp_secret_ciphertext` (the TOTP secret under DATA_KEY), `totp_enabled_at` (null until the
  first code confirmed the enrolment) and `totp_last_step` (the last time step a code was accepted for, against
  replays); existing accounts have no two-factor sign-in, so an existing admin is asked to enrol at the next sign-in;
* `staff_recovery_codes`: ten one-time codes per account, keyed hashes only;
* `staff_pending_sign_ins`: a right password waiting for its code (token hashes, a few minutes);
* `staff_password_resets`: one-time links for a new password (token hashes, 24 hours).

Revision ID: 0005_two_factor
Revises: 0004_moves_and_meetings
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from shared.db import UtcDateTime

revision = "0005_two_factor"
down_revision = "0004_moves_and_meetings"
branch_labels = None
depends_on = None


def _account_id() -> sa.Column[int]:
    return sa.Column("staff_id", sa.Integer(), sa.ForeignKey("staff_accounts.id", ondelete="CASCADE"),
                     nullable=False)


def upgrade() -> None:
    op.add_column("staff_accounts", sa.Column("totp_secret_ciphertext", sa.String(255), nullable=True))
    op.add_column("staff_accounts", sa.Column("totp_enabled_at", UtcDateTime(), nullable=True))
    op.add_column("staff_accounts", sa.Column("totp_last_step", sa.Integer(), nullable=True))
    op.create_table(
        "staff_recovery_codes",
        sa.Column("id", sa.Integer(), primary_key=True),
        _account_id(),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("used_at", UtcDateTime(), nullable=True),
    )
    op.create_table(
        "staff_pending_sign_ins",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        _account_id(),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "staff_password_resets",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        _account_id(),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("used_at", UtcDateTime(), nullable=True),
    )
    for table in ("staff_recovery_codes", "staff_pending_sign_ins", "staff_password_resets"):
        op.create_index(f"ix_{table}_staff_id", table, ["staff_id"])


def downgrade() -> None:
    for table in ("staff_password_resets", "staff_pending_sign_ins", "staff_recovery_codes"):
        op.drop_index(f"ix_{table}_staff_id", table)
        op.drop_table(table)
    for column in ("totp_last_step", "totp_enabled_at", "totp_secret_ciphertext"):
        op.execute(f"ALTER TABLE staff_accounts DROP COLUMN {column}")
