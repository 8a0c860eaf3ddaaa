"""Admin only: the staff audit log, filtered, newest first, a page at a time (GET /v1/staff/audit) or whole as CSV
(GET /v1/staff/audit.csv). Reading it is itself recorded."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from gateway.api.audit_trail import AuditTrail, AuditTrailDep
from gateway.api.schemas import MAX_ID, problems
from gateway.api.staff_deps import AdminStaff, no_store
from gateway.staff.accounts import normalise_username
from gateway.staff.audit import Action, Event, InvalidAuditQuery, TargetKind, decode_cursor, encode_cursor
from gateway.staff.audit_repository import AuditFilter, AuditRow

router = APIRouter(tags=["staff audit"])

ERRORS = problems(401, 403, 422, 503)
DEFAULT_LIMIT, MAX_LIMIT = 100, 500
CSV_COLUMNS = ("id", "at", "staff_id", "username", "username_hash", "action", "target_kind", "target_id", "outcome",
               "source", "detail")
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection): such a cell gets a "'".
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class AuditEntryOut(BaseModel):
    id: int
    at: datetime = Field(description="when, as a UTC instant")
    staff_id: int | None = Field(description="the account; null for a failed sign-in of an unknown username or "
                                             "for the command line")
    username: str | None = Field(description="the account's username at the time")
    username_hash: str | None = Field(description="for a sign-in with a username no account has: a keyed hash of "
                                                  "what was typed (never the text: it may be a password)")
    # Plain strings, not the enums: a row a newer gateway wrote (a rolling update) is still shown, not a 500.
    action: str = Field(description="one of " + ", ".join(Action))
    target_kind: str | None = Field(description="one of " + ", ".join(TargetKind))
    target_id: str | None
    outcome: str = Field(description="ok, refused, or unanswered (the calendar did not answer in time)")
    source: str = Field(description="the client's address as the gateway sees it (trusted proxies resolved), or "
                                    "cli")
    detail: dict[str, Any] = Field(description="codes, days, counts and field names; never free text")

    @classmethod
    def of(cls, row: AuditRow) -> AuditEntryOut:
        return cls(id=row.id, at=row.at, staff_id=row.staff_id, username=row.username,
                   username_hash=row.username_hash, action=row.action, target_kind=row.target_kind,
                   target_id=row.target_id,
                   outcome=row.outcome, source=row.source, detail=json.loads(row.detail_json or "{}"))


class AuditPage(BaseModel):
    entries: list[AuditEntryOut]
    next_cursor: str | None = Field(description="pass as `cursor` for the next (older) page; null on the last")


async def _filter(staff_id: Annotated[int | None, Query(ge=1, le=MAX_ID, description="the account")] = None,
            username: Annotated[str | None, Query(min_length=1, max_length=64,
                                                  description="the username at the time")] = None,
            action: Annotated[str | None, Query(max_length=32, description="one of the actions")] = None,
            target_kind: Annotated[str | None, Query(max_length=24)] = None,
            target_id: Annotated[str | None, Query(min_length=1, max_length=64,
                                                   description="needs target_kind")] = None,
            since: Annotated[datetime | None, Query(alias="from", description="from this instant on (with its "
                                                                              "offset)")] = None,
            until: Annotated[datetime | None, Query(alias="to", description="before this instant (with its "
                                                                           "offset)")] = None) -> AuditFilter:
    if action is not None and action not in Action.__members__.values():
        raise InvalidAuditQuery(f"The action must be one of {', '.join(Action)}.", "invalid_action")
    if target_kind is not None and target_kind not in TargetKind.__members__.values():
        raise InvalidAuditQuery(f"The target_kind must be one of {', '.join(TargetKind)}.", "invalid_target_kind")
    if target_id is not None and target_kind is None:
        raise InvalidAuditQuery("A target_id needs its target_kind (such as booking or counsellor).",
                                "target_kind_missing")
    for moment, name in ((since, "from"), (until, "to")):
        if moment is not None and moment.tzinfo is None:
            raise InvalidAuditQuery(f"'{name}' must be an instant with its offset, such as 2026-12-01T00:00:00+01:00.",
                                    "instant_without_offset")
    if since is not None and until is not None and until <= since:
        raise InvalidAuditQuery("'to' must be after 'from'.", "range_reversed")
    return AuditFilter(staff_id=staff_id, username=normalise_username(username) if username else None,
                       action=action, target_kind=target_kind,
                       target_id=target_id, since=since, until=until)


Filter = Annotated[AuditFilter, Depends(_filter)]


def _read(trail: AuditTrail, action: Action, where: AuditFilter, **more: bool | int) -> None:
    """Reading the log is recorded too: which filters (their names, not a username searched for)."""
    trail.record(Event(action, detail={"filters": sorted(name for name, value in vars(where).items()
                                                         if value is not None), **more}))


@router.get("/audit", responses=ERRORS)
def audit_entries(_admin: AdminStaff, trail: AuditTrailDep, where: Filter, response: Response,
                  limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
                  cursor: Annotated[str | None, Query(min_length=1, max_length=200,
                                                      description="next_cursor of the page before")] = None,
                  ) -> AuditPage:
    """What staff did, newest first: sign-ins, reads and changes of calendars, bookings, setup and accounts, who,
    when, from where, with what outcome (admin only)."""
    after = decode_cursor(cursor) if cursor is not None else None
    rows, more = trail.log.page(where, after, limit)
    _read(trail, Action.AUDIT_READ, where, next_page=cursor is not None)
    no_store(response)
    return AuditPage(entries=[AuditEntryOut.of(row) for row in rows],
                     next_cursor=encode_cursor(more) if more is not None else None)


def csv_chunks(rows: Iterator[AuditRow], batch: int = 1000) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for number, row in enumerate(rows, start=1):
        # Only text can start a formula: the ids are positive numbers, `at` an ISO instant.
        writer.writerow([row.id, row.at.isoformat(), row.staff_id, *(
            "'" + cell if cell and cell.startswith(FORMULA_STARTS) else cell
            for cell in (row.username, row.username_hash, row.action, row.target_kind, row.target_id, row.outcome,
                         row.source, row.detail_json))])
        if number % batch == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


@router.get("/audit.csv", response_class=StreamingResponse, responses={
    **ERRORS, 200: {"description": "the rows of the filter, newest first, as CSV (UTF-8, a header row; a cell "
                                   "that would start a formula starts with ')",
                    "content": {"text/csv": {"schema": {"type": "string"}}}}})
def audit_csv(_admin: AdminStaff, trail: AuditTrailDep, where: Filter) -> StreamingResponse:
    """The same filters as /v1/staff/audit, every row, streamed (admin only)."""
    _read(trail, Action.AUDIT_EXPORTED, where)
    return StreamingResponse(csv_chunks(trail.log.every_row(where)), media_type="text/csv; charset=utf-8",
                             headers={"Cache-Control": "no-store",
                                      "Content-Disposition": 'attachment; filename="lotse-audit.csv"'})
