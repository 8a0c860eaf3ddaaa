"""Counsellors' private calendar feeds: long random tokens kept here as SHA-256 hashes, and the .ics they open.

A feed token is a bearer secret in a URL that calendar apps fetch for months, so it is longer than a manage token
(256 bits), is shown once when issued, and dies when revoked or re-issued (one feed per counsellor). Its table is
the gateway's, like the manage tokens: the scheduler never sees a token, only the counsellor's id.

The feed syncs to phones and lock screens: every event says only "Termin" and the place's neutral alias (the
location may carry the street address, which the counsellor needs); never a topic, never anything about the client.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, Timezone
from sqlalchemy import Engine
from sqlmodel import Session

from gateway.repository import GatewayRepository
from gateway.tables import CounsellorFeed
from shared.clock import Clock, system_clock
from shared.contracts.staff import FeedData
from shared.crypto import token_hash
from shared.unit_of_work import UnitOfWork

FEED_TOKEN_BYTES = 32
PAST_DAYS = 30
FUTURE_DAYS = 180
EVENT_SUMMARY = "Termin"
PRODUCT_ID = "-//Lotse//Kalender//DE"
# Writes the audit row of a change into the change's own transaction (gateway.api.audit_trail).
Audit = Callable[[Session], None]


class FeedTokens:
    def __init__(self, engine: Engine, clock: Clock = system_clock) -> None:
        self.uow = UnitOfWork(engine, GatewayRepository)
        self.clock = clock

    def issue(self, counsellor_id: int, staff_id: int, audit: Audit | None = None) -> str:
        """A new token for the counsellor's feed; an earlier one stops working. Returned once, stored as a hash.
        `audit` writes the audit row in the same transaction."""
        token = secrets.token_urlsafe(FEED_TOKEN_BYTES)
        with self.uow() as repository:
            feed = repository.feed(counsellor_id) or CounsellorFeed(counsellor_id=counsellor_id, token_hash="",
                                                                    issued_by=staff_id, issued_at=self.clock())
            feed.token_hash, feed.issued_by, feed.issued_at = token_hash(token), staff_id, self.clock()
            repository.save_feed(feed)
            if audit is not None:
                audit(repository.session)
        return token

    def revoke(self, counsellor_id: int, audit: Audit | None = None) -> bool:
        """False when the counsellor had no feed."""
        with self.uow() as repository:
            feed = repository.feed(counsellor_id)
            if feed is None:
                return False
            repository.delete_feed(feed)
            if audit is not None:
                audit(repository.session)
            return True

    def counsellor_for(self, token: str) -> int | None:
        with self.uow() as repository:
            return repository.counsellor_for_feed(token_hash(token))


def feed_window(today: date) -> tuple[date, date]:
    return today - timedelta(days=PAST_DAYS), today + timedelta(days=FUTURE_DAYS)


def calendar_time(moment: datetime, zone: ZoneInfo) -> datetime:
    """Local time with the zone, except in the hour that happens twice in autumn: a TZID time cannot say which of
    the two it means (iCalendar takes the first), so such a time is written in UTC."""
    local = moment.astimezone(zone)
    if local.replace(fold=1 - local.fold).utcoffset() != local.utcoffset():
        return moment.astimezone(UTC)
    return local


def render_feed(data: FeedData, zone: ZoneInfo, first_day: date, last_day: date, now: datetime) -> bytes:
    """An iCalendar feed with the business zone's VTIMEZONE and one VEVENT per appointment, local times."""
    feed = Calendar()
    feed.add("prodid", PRODUCT_ID)
    feed.add("version", "2.0")
    feed.add("calscale", "GREGORIAN")
    feed.add("method", "PUBLISH")
    feed.add("x-wr-calname", "Termine")
    feed.add("x-wr-timezone", zone.key)
    # Always the zone's definition, even in an empty feed: clients then create new events in it too.
    feed.add_component(Timezone.from_tzinfo(zone, zone.key, first_day - timedelta(days=1),
                                            last_day + timedelta(days=1)))
    stamp = now.astimezone(UTC)
    for item in data.events:
        event = Event()
        event.add("uid", f"{item.booking_id}@lotse")  # stable per booking: a move updates the same event
        event.add("dtstamp", stamp)
        event.add("dtstart", calendar_time(item.start, zone))
        event.add("dtend", calendar_time(item.end, zone))
        event.add("summary", f"{EVENT_SUMMARY} {item.location_alias}".strip())
        location = ", ".join(part for part in (item.location_alias, item.location_address) if part)
        if location:
            event.add("location", location)
        event.add("class", "PRIVATE")
        event.add("transp", "OPAQUE")
        feed.add_component(event)
    return bytes(feed.to_ical())
