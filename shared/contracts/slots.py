"""Slot search: a request/reply between gateway and scheduler, answered on the asker's reply queue."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.common import FreeText, LanguageCode, Mode, Slot, Topic
from shared.contracts.envelope import Payload, register


class QueryError(BaseModel):
    """A query the calendar refuses (a range over MAX_RANGE_DAYS or past the booking horizon, an unknown counsellor)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    code: str = Field(max_length=40)
    message: str = Field(max_length=300)


@register
class SlotsRequested(Payload):
    message_type = "slots.requested"
    message_version = 1
    topic: Topic | None = None
    language: LanguageCode | None = None
    location_id: int | None = None
    mode: Mode | None = None
    counsellor: FreeText | None = Field(default=None, max_length=40, description="a counsellor's alias")
    date_from: date
    date_to: date
    limit: int = Field(default=200, ge=1, le=1000)
    # Added later (optional): the times this confirmed booking may move to. The scheduler searches with the booking's
    # own topic, language and conversation choice (the gateway knows none of the topic), its own time not counted
    # as taken and not offered.
    for_booking: UUID | None = None
    reply_to: str = Field(pattern=r"^gateway\.replies\.[0-9a-f]{12}$")


@register
class SlotsOffered(Payload):
    message_type = "slots.offered"
    message_version = 1
    slots: list[Slot]
    error: QueryError | None = None  # the scheduler refused the query; `slots` is then empty
