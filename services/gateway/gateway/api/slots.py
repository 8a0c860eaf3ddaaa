"""GET /v1/slots: free slots, asked of the scheduler."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query

from gateway.api.deps import ClientAddress, LimitsDep, SettingsDep, SlotsDep
from gateway.api.schemas import COUNSELLOR_ALIAS_PATTERN, MAX_ID, SlotList, problems
from gateway.errors import InvalidSearch
from shared.contracts import Conversation, Mode, Topic
from shared.contracts.common import LanguageCode
from shared.contracts.limits import HORIZON_DAYS, MAX_RANGE_DAYS

router = APIRouter(prefix="/v1/slots", tags=["slots"])
DEFAULT_DAYS = 14


def search_range(date_from: date | None, date_to: date | None, timezone: str) -> tuple[date, date | None]:
    """The days to search (default: two weeks from `from` or today); InvalidSearch with a sentence for a range the
    API refuses; `last` None when the range lies wholly in the past (nothing to ask)."""
    today = datetime.now(ZoneInfo(timezone)).date()
    first = date_from or today
    horizon = today + timedelta(days=HORIZON_DAYS)
    if first > horizon:
        raise InvalidSearch(f"The search may start at most {HORIZON_DAYS} days from today ('from').")
    last = date_to or first + timedelta(days=DEFAULT_DAYS - 1)
    if last < first:
        raise InvalidSearch("The date 'to' must not be before 'from'.")
    if (last - first).days >= MAX_RANGE_DAYS:
        raise InvalidSearch(f"A search may cover at most {MAX_RANGE_DAYS} days.")
    return first, None if last < today else last


@router.get("", responses=problems(422, 429, 503))
def list_slots(
    slots: SlotsDep,
    settings: SettingsDep,
    limits: LimitsDep,
    client: ClientAddress,
    topic: Topic | None = None,
    language: LanguageCode | None = None,
    location: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    mode: Mode | None = None,
    counsellor: Annotated[str | None, Query(min_length=1, max_length=40, pattern=COUNSELLOR_ALIAS_PATTERN,
                                            description="a counsellor's alias (at most four digits, no '+')")] = None,
    date_from: Annotated[date | None, Query(alias="from")] = None,
    date_to: Annotated[date | None, Query(alias="to")] = None,
    conversation: Annotated[Conversation, Query(
        description="own_language: counsellors who speak `language`; mediator: every counsellor (the conversation "
                    "is held in German or English with a language mediator)")] = "own_language",
) -> SlotList:
    first, last = search_range(date_from, date_to, settings.timezone)
    if last is None:
        return SlotList(slots=[])
    limits.take_search(client)
    # With a language mediator the client's language does not narrow the counsellors (texts still use it).
    spoken = None if conversation == "mediator" else language
    found = slots.search(first, last, topic=topic, language=spoken, location_id=location, mode=mode,
                         counsellor=counsellor)
    return SlotList(slots=found)
