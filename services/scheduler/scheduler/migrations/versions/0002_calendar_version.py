"""A calendar version the database bumps on every change to the calendar's tables, and indexes for loading
appointments narrowly.

Workers cache the engine's setup (scheduler.repository.SetupCache) and compare this one number on every request:
whatever changes a location, counsellor, served location, appointment type, rule or exception (the scheduler,
the staff API, an administrator's SQL, another replica) changes the number in the same transaction, so every
process sees the change with its next request. The number only identifies a state; it is compared for equality:

* PostgreSQL: a statement trigger sets it from a sequence, whose values are never handed out twice, even when
  the transaction that drew one rolls back;
* SQLite (no statement triggers, no sequences): row triggers add 1 plus a random 32-bit step, so a number seen
  inside a transaction that was rolled back is not reached again by the next change (odds 2^-32).

Both start at a random value, so a database dropped and created again under the same URL does not repeat the
numbers of the one before.

Revision ID: 0002_calendar_version
Revises: 0001_calendar
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0002_calendar_version"
down_revision = "0001_calendar"
branch_labels = None
depends_on = None

CALENDAR_TABLES = ("locations", "counsellors", "counsellor_locations", "appointment_types", "availability_rules",
                   "availability_exceptions")
_SQLITE_BUMP = "UPDATE calendar_version SET version = version + 1 + (random() & 4294967295) WHERE id = 1"


def upgrade() -> None:
    op.create_table(
        "calendar_version",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name="calendar_version_one_row"),
    )
    start = secrets.randbelow(2**40) + 1
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE SEQUENCE calendar_version_seq START WITH {start}")
        op.execute("INSERT INTO calendar_version (id, version) VALUES (1, nextval('calendar_version_seq'))")
        op.execute(
            "CREATE FUNCTION bump_calendar_version() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "UPDATE calendar_version SET version = nextval('calendar_version_seq') WHERE id = 1; "
            "RETURN NULL; END $$"
        )
        for table in CALENDAR_TABLES:
            op.execute(f"CREATE TRIGGER {table}_bump_calendar_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
                       f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION bump_calendar_version()")
    else:
        op.get_bind().execute(sa.text("INSERT INTO calendar_version (id, version) VALUES (1, :start)"),
                              {"start": start})
        for table in CALENDAR_TABLES:
            for event in ("insert", "update", "delete"):
                op.execute(f"CREATE TRIGGER {table}_bump_calendar_version_{event} AFTER {event.upper()} ON {table} "
                           f"BEGIN {_SQLITE_BUMP}; END")
    # Searches read the confirmed appointments of a time range and count them per week; decisions read one
    # counsellor's appointments around a slot.
    op.create_index("appointments_by_status_start", "appointments", ["status", "starts_at", "counsellor_id"])
    op.create_index("appointments_by_counsellor_start", "appointments", ["counsellor_id", "starts_at"])


def downgrade() -> None:
    op.drop_index("appointments_by_counsellor_start", "appointments")
    op.drop_index("appointments_by_status_start", "appointments")
    if op.get_bind().dialect.name == "postgresql":
        for table in CALENDAR_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_bump_calendar_version ON {table}")
        op.execute("DROP FUNCTION IF EXISTS bump_calendar_version()")
        op.execute("DROP SEQUENCE IF EXISTS calendar_version_seq")
    else:
        for table in CALENDAR_TABLES:
            for event in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_bump_calendar_version_{event}")
    op.drop_table("calendar_version")
