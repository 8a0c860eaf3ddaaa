"""The staff audit log (gateway.staff.audit), append-only by the database's own rules.

* `staff_audit`: one row per staff action on personal data or configuration, with indexes for the listings
  (newest first, whole or by account, username, action or target);
* `staff_audit_purge`: the retention purge's permission, a row only while the purge's transaction runs;
* triggers: UPDATE and TRUNCATE of `staff_audit` are refused; DELETE too, except of rows older than an instant a
  `staff_audit_purge` row of the same transaction names. On PostgreSQL one trigger function serves all three
  (plpgsql); on SQLite, which has no TRUNCATE, two triggers RAISE(ABORT).

Revision ID: 0007_audit_log
Revises: 0006_role_heartbeats
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from shared.db import UtcDateTime

revision = "0007_audit_log"
down_revision = "0006_role_heartbeats"
branch_labels = None
depends_on = None

POSTGRES_TRIGGERS = (
    """
    CREATE FUNCTION staff_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            IF EXISTS (SELECT 1 FROM staff_audit_purge WHERE OLD.at < staff_audit_purge.purge_before) THEN
                RETURN OLD;
            END IF;
        END IF;
        RAISE EXCEPTION 'staff_audit is append-only: % refused', TG_OP
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Rows leave only through the retention purge (gateway.staff.audit).';
    END
    $$
    """,
    """CREATE TRIGGER staff_audit_no_change BEFORE UPDATE OR DELETE ON staff_audit
       FOR EACH ROW EXECUTE FUNCTION staff_audit_append_only()""",
    """CREATE TRIGGER staff_audit_no_truncate BEFORE TRUNCATE ON staff_audit
       FOR EACH STATEMENT EXECUTE FUNCTION staff_audit_append_only()""",
)
SQLITE_TRIGGERS = (
    """CREATE TRIGGER staff_audit_no_update BEFORE UPDATE ON staff_audit
        BEGIN SELECT RAISE(ABORT, 'staff_audit is append-only: UPDATE refused'); END""",
    """CREATE TRIGGER staff_audit_no_delete BEFORE DELETE ON staff_audit
        WHEN NOT EXISTS (SELECT 1 FROM staff_audit_purge WHERE OLD.at < staff_audit_purge.purge_before)
        BEGIN SELECT RAISE(ABORT, 'staff_audit is append-only: DELETE refused'); END""",
)


def upgrade() -> None:
    op.create_table(
        "staff_audit",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(64), nullable=True),
        sa.Column("username_hash", sa.String(64), nullable=True),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("target_kind", sa.String(24), nullable=True),
        sa.Column("target_id", sa.String(64), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("detail_json", sa.String(1000), nullable=True),
    )
    op.create_index("ix_staff_audit_at", "staff_audit", ["at", "id"])
    op.create_index("ix_staff_audit_staff", "staff_audit", ["staff_id", "at", "id"])
    op.create_index("ix_staff_audit_username", "staff_audit", ["username", "at", "id"])
    op.create_index("ix_staff_audit_action", "staff_audit", ["action", "at", "id"])
    op.create_index("ix_staff_audit_target", "staff_audit", ["target_kind", "target_id", "at", "id"])
    op.create_table("staff_audit_purge", sa.Column("purge_before", UtcDateTime(), primary_key=True))
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRES_TRIGGERS if postgres else SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE staff_audit")  # its triggers go with it
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION staff_audit_append_only()")
    op.drop_table("staff_audit_purge")
