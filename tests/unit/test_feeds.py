"""The private calendar feed as text: valid iCalendar with the Europe/Berlin VTIMEZONE, local times right across
the clock changes, stable UIDs, and nothing but "Termin" and the place."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import icalendar
from gateway.feeds import feed_window, render_feed

from shared.contracts.staff import FeedData, FeedEvent

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 3, 20, 8, 0, tzinfo=UTC)
FIRST, LAST = feed_window(NOW.astimezone(BERLIN).date())
SPRING = UUID("00000000-0000-4000-8000-000000000001")
AUTUMN = UUID("00000000-0000-4000-8000-000000000002")


def event(booking_id: UUID, start: datetime, minutes: int = 50, address: str = "Beispielstraße 1") -> FeedEvent:
    return FeedEvent(booking_id=booking_id, start=start, end=start + timedelta(minutes=minutes),
                     location_alias="Rostock 1", location_address=address)


def parsed(*events: FeedEvent) -> icalendar.Calendar:
    text = render_feed(FeedData(counsellor_id=1, events=list(events)), BERLIN, FIRST, LAST, NOW)
    return icalendar.Calendar.from_ical(text)


def test_an_event_after_the_spring_change_keeps_its_local_time_and_offset() -> None:
    # 30 March 2026 10:00 in Berlin is 08:00 UTC (CEST, +02:00); the day before the change it was +01:00.
    feed = parsed(event(SPRING, datetime(2026, 3, 30, 8, 0, tzinfo=UTC)),
                  event(AUTUMN, datetime(2026, 3, 27, 9, 0, tzinfo=UTC)))

    starts = {str(e["UID"]): e.decoded("DTSTART") for e in feed.walk("VEVENT")}

    assert starts[f"{SPRING}@lotse"] == datetime(2026, 3, 30, 10, 0, tzinfo=BERLIN)
    assert starts[f"{SPRING}@lotse"].utcoffset() == timedelta(hours=2)
    assert starts[f"{AUTUMN}@lotse"] == datetime(2026, 3, 27, 10, 0, tzinfo=BERLIN)
    assert starts[f"{AUTUMN}@lotse"].utcoffset() == timedelta(hours=1)


def test_an_event_in_the_repeated_hour_of_autumn_is_the_right_instant() -> None:
    # 25 October 2026: 02:30 happens twice; 00:30 UTC is the first (CEST) one.
    start = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    window_end = date(2026, 11, 1)
    text = render_feed(FeedData(counsellor_id=1, events=[event(AUTUMN, start)]), BERLIN, FIRST, window_end, NOW)

    (only,) = icalendar.Calendar.from_ical(text).walk("VEVENT")

    assert only.decoded("DTSTART").astimezone(UTC) == start
    assert only.decoded("DTEND").astimezone(UTC) == start + timedelta(minutes=50)
    # 01:20 UTC is the second 02:20 (CET); a TZID time would be read as the first, before the start.
    assert only.decoded("DTEND") > only.decoded("DTSTART")


def test_the_feed_has_the_berlin_vtimezone_with_both_offsets_even_when_empty() -> None:
    for feed in (parsed(), parsed(event(SPRING, datetime(2026, 4, 2, 8, 0, tzinfo=UTC)))):
        (zone,) = feed.walk("VTIMEZONE")
        assert str(zone["TZID"]) == "Europe/Berlin"
        offsets = {str(part["TZNAME"]) for part in zone.subcomponents}
        assert {"CET", "CEST"} <= offsets
        assert str(feed["VERSION"]) == "2.0" and str(feed["PRODID"])


def test_an_event_says_only_termin_and_the_place() -> None:
    (only,) = parsed(event(SPRING, datetime(2026, 4, 2, 8, 0, tzinfo=UTC))).walk("VEVENT")

    assert str(only["SUMMARY"]) == "Termin Rostock 1"
    assert str(only["LOCATION"]) == "Rostock 1, Beispielstraße 1"
    assert str(only["CLASS"]) == "PRIVATE"
    assert {"DESCRIPTION", "ATTENDEE", "ORGANIZER", "CONTACT", "URL"}.isdisjoint(only.keys())


def test_the_uid_is_stable_so_a_moved_booking_updates_its_event() -> None:
    before = parsed(event(SPRING, datetime(2026, 4, 2, 8, 0, tzinfo=UTC))).walk("VEVENT")[0]
    after = parsed(event(SPRING, datetime(2026, 4, 9, 12, 0, tzinfo=UTC))).walk("VEVENT")[0]

    assert str(before["UID"]) == str(after["UID"]) == f"{SPRING}@lotse"
    assert before.decoded("DTSTART") != after.decoded("DTSTART")


def test_the_window_is_thirty_days_back_and_half_a_year_ahead() -> None:
    assert feed_window(date(2026, 3, 20)) == (date(2026, 2, 18), date(2026, 9, 16))
