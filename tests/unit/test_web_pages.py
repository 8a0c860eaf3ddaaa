"""The booking and manage pages as a browser without JavaScript sees them: forms in, HTML and redirects out.

The real BookingService on a throw-away SQLite database; only the calendar (the scheduler, behind the broker) is
a fake of our SlotClient port, so these tests need no broker and no other process.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from threading import Semaphore, Thread
from time import monotonic, sleep
from types import SimpleNamespace
from typing import Any
from uuid import UUID

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from gateway import handlers, migrations
from gateway.api import errors
from gateway.bookings import BookingService
from gateway.errors import SchedulerUnavailable
from gateway.limits import ClientLimitPolicy, ClientLimits
from gateway.repository import GatewayRepository
from gateway.settings import GatewaySettings
from gateway.tables import BookingRequest
from gateway.web import pages, rendering
from gateway.web.booking_page import wait_for_decision
from gateway.web.catalogs import LANGUAGES, LOCALE_DIR, Translations, gettext, read_catalogs
from gateway.web.texts import TEXTS, negotiate, text
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from shared.contracts import (
    BookingConfirmed,
    BookingRejected,
    ContactPreferences,
    Mode,
    PublicLocation,
    SafeWindow,
    Slot,
    Topic,
    wrap,
)
from shared.crypto import DataCipher, generate_data_key, parse_data_key
from shared.db import make_engine
from shared.outbox import OutboxMessage
from shared.unit_of_work import UnitOfWork
from tests.support.pages import visible_text, without_random_tokens

NOW = datetime(2025, 3, 3, 7, 0, tzinfo=UTC)  # Monday 08:00 in Berlin
PHONE = "+4915112345678"
PHONE_FORMS = (PHONE, PHONE[1:], "015112345678", "15112345678", "0151 12345678")
ROSTOCK = PublicLocation(location_id=1, town="Rostock", kind=Mode.office, alias="Rostock 1")
PHONE_LINE = PublicLocation(location_id=6, town="Telefon", kind=Mode.phone, alias="Telefon")
FORBIDDEN = re.compile(
    r"beratung|counsel|sex|prostitut|ausstieg|\bexit|gesundheitsamt|health office|lotse|verein|"
    r"<script|https?://|src=\"//|href=\"//",
    re.IGNORECASE,
)


# What the pages say, written out: a text broken in gateway/web/texts.py or a template fails these tests.
CANCEL_LINK = "Termin absagen"
CANCEL_QUESTION = "Möchten Sie diesen Termin wirklich absagen?"
CHOOSE_SLOT = "Bitte wählen Sie eine Uhrzeit aus der Liste."
INVALID_PHONE = "Diese Handynummer können wir nicht verwenden. Bitte prüfen Sie sie und geben Sie sie neu ein."
NOT_CANCELLABLE = "Dieser Termin wurde nicht bestätigt, es gibt also nichts abzusagen."
NOT_FOUND = ("Zu diesem Link gibt es keinen Termin. Vielleicht ist er abgelaufen. Sie können einen neuen Termin "
             "ausmachen.")
NO_SLOTS = "In dieser Woche ist nichts frei. Bitte sehen Sie in einer anderen Woche nach."
PREFS_INVALID = "Diese Auswahl für SMS können wir nicht verwenden. Bitte wählen Sie noch einmal."
PREFS_NOT_CHANGEABLE = "Dieser Termin ist abgesagt oder wurde nicht bestätigt. Dazu kommen keine SMS mehr."
PREFS_SAVED = "Gespeichert."
PREFS_SUMMARY_ANY_TIME = "SMS zu jeder Zeit"
PREFS_SUMMARY_OFF = "Erinnerung vor dem Termin: nein"
PREFS_SUMMARY_ON = "Erinnerung vor dem Termin: ja"
PREFS_SUMMARY_ON_EN = "Reminder before the appointment: yes"
PREFS_WINDOW_ORDER = "Die Uhrzeit bei „bis“ muss nach der bei „von“ liegen. Bitte wählen Sie die Zeiten neu."
REASON_LANGUAGE_NOT_OFFERED = "Zu dieser Uhrzeit gibt es niemanden in Ihrer Sprache. Bitte wählen Sie eine andere."
REASON_SLOT_TAKEN = "Jemand anderes war gerade schneller. Bitte wählen Sie eine andere Uhrzeit."
RESUBMITTED = "Dieses Formular wurde schon einmal gesendet. Bitte prüfen Sie Ihre Auswahl und senden Sie erneut."
RETRY_BUTTON = "Noch einmal versuchen"
STATUS_CANCELLED = "Dieser Termin ist abgesagt."
STATUS_CONFIRMED = "Ihr Termin ist bestätigt."
STATUS_PENDING = "Wir prüfen, ob die Uhrzeit noch frei ist. Das dauert meist nur ein paar Sekunden."
STATUS_PENDING_EN = "We are checking that the time is still free. This usually takes a few seconds."
STATUS_REJECTED = "Diese Uhrzeit hat leider nicht geklappt."
UNAVAILABLE = "Der Kalender antwortet gerade nicht. Bitte versuchen Sie es in einer Minute noch einmal."


def slot(day: int, hour: int, location: PublicLocation = ROSTOCK) -> Slot:
    start = datetime(2025, 3, 3 + day, hour - 1, 0, tzinfo=UTC)
    return Slot(slot_id=f"s2-1-{location.location_id}-1-{start:%Y%m%d%H}", start=start, end=start + timedelta(hours=1),
                location=location, mode=location.kind, counsellor="Anna")


@dataclass
class FakeCalendar:
    """Our SlotClient port: answers from a list, remembers the questions, or does not answer at all."""

    slots: list[Slot]
    down: bool = False
    broken: bool = False  # a bug of ours behind the page
    speakers: set[str] | None = None  # the languages the counsellors speak (None: every language)
    questions: list[dict[str, Any]] = field(default_factory=list)

    def search(self, date_from: date, date_to: date, topic: Topic | None = None, language: str | None = None,
               location_id: int | None = None, mode: Mode | None = None) -> list[Slot]:
        self.questions.append({"from": date_from, "to": date_to, "topic": topic, "language": language,
                               "location_id": location_id})
        if self.broken:
            raise RuntimeError("a bug")
        if self.down:
            raise SchedulerUnavailable("The calendar did not answer in time. Please try again in a minute.")
        if language is not None and self.speakers is not None and language not in self.speakers:
            return []
        return [s for s in self.slots if date_from <= s.start.date() <= date_to
                and location_id in (None, s.location.location_id)]


@dataclass
class Site:
    client: TestClient
    calendar: FakeCalendar
    bookings: BookingService
    engine: Engine
    pages: list[str] = field(default_factory=list)

    def get(self, url: str, **kwargs: Any) -> Any:
        response = self.client.get(url, follow_redirects=False, **kwargs)
        self.pages.append(response.text)
        return response

    def post(self, url: str, data: dict[str, str], **kwargs: Any) -> Any:
        response = self.client.post(url, data=data, follow_redirects=False, **kwargs)
        self.pages.append(response.text)
        return response

    def rows(self) -> list[BookingRequest]:
        with Session(self.engine) as session:
            return list(session.exec(select(BookingRequest)).all())

    def book(self, slot_id: str, phone: str = PHONE, key: str = "", **extra: str) -> Any:
        return self.post("/book", {"slot_id": slot_id, "phone": phone, "lang": "de", "topic": "", "place": "",
                                   "week": "0", "key": key, **extra})

    def token(self, slot_id: str, **extra: str) -> str:
        response = self.book(slot_id, **extra)
        assert response.status_code == 303, response.text
        return str(response.headers["location"]).removeprefix("/m/")

    def decide(self, token: str, payload: BookingConfirmed | BookingRejected) -> None:
        apply = handlers.apply_confirmed if isinstance(payload, BookingConfirmed) else handlers.apply_rejected
        with UnitOfWork(self.engine, GatewayRepository)() as repository:
            apply(wrap(payload, payload.booking_id), repository, lambda: NOW)

    def booking_id(self, token: str) -> UUID:
        return self.bookings.view(token).booking_id


# Pages as most tests here see them: limits far out of reach (tests/integration/test_abuse_limits.py and the tests
# at the end of this file check them).
ROOMY = ClientLimitPolicy(**dict.fromkeys(ClientLimitPolicy.__dataclass_fields__, 10_000))


def make_site(tmp_path: Path, policy: ClientLimitPolicy = ROOMY, wait: float = 0,
              countries: tuple[str, ...] = ("DE",)) -> Iterator[Site]:
    engine = make_engine(f"sqlite:///{tmp_path / 'gateway.sqlite'}")
    migrations.upgrade(engine)
    cipher = DataCipher(parse_data_key(generate_data_key()))
    limits = ClientLimits(policy, cipher.lookup_hash, engine, lambda: NOW)
    bookings = BookingService(engine, cipher, lambda: None, lambda: NOW, limits, countries)
    calendar = FakeCalendar([slot(0, 10), slot(0, 11), slot(1, 9), slot(4, 10, PHONE_LINE), slot(8, 10)])
    # No wait for the decision by default (the fake calendar decides only when a test says so).
    settings = GatewaySettings(var_dir=tmp_path, timezone="Europe/Berlin", gateway_database_url="sqlite://",
                               booking_wait_seconds=wait, sms_allowed_countries=",".join(countries))
    app = FastAPI()
    errors.install(app)
    app.include_router(pages.router)
    app.state.gateway = SimpleNamespace(bookings=bookings, slots=calendar, settings=settings, limits=limits)
    # A German browser, as most tests here read German; tests of the language choice say what they send.
    with TestClient(app, raise_server_exceptions=False, headers={"Accept-Language": "de-DE,de;q=0.9"}) as client:
        yield Site(client, calendar, bookings, engine)
    engine.dispose()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    yield from make_site(tmp_path)


# The quick-leave button's link to a neutral site and its script: the only outside address and script a page has.
QUICK_LEAVE = re.compile(r'<script src="/leave\.js" defer></script>|'
                         r'<a id="leave" class="leave" href="https://www\.google\.com/" rel="noreferrer">')


def discreet(html: str) -> str:
    """The page as FORBIDDEN checks it: without random tokens and without the quick-leave button's link."""
    return without_random_tokens(QUICK_LEAVE.sub(" ", html))


def page_title(html: str) -> str:
    """The only title a page may have: "Appointment" in the page's language."""
    found = re.search(r'<html lang="([a-z]+)">', html)
    return gettext(found.group(1) if found else "en", "Appointment")


def radios(html: str) -> list[str]:
    return re.findall(r'name="slot_id" value="([^"]+)"', html)


def checked(html: str) -> list[str]:
    return re.findall(r'name="slot_id" value="([^"]+)" required checked', html)


# --- the booking page ------------------------------------------------------------------------------------------


def test_booking_page_is_german_by_default_and_offers_the_calendars_places(site: Site) -> None:
    page = site.get("/")
    assert page.status_code == 200
    assert '<html lang="de">' in page.text
    assert "<title>Termin</title>" in page.text
    assert ">Rostock 1 (vor Ort)</option>" in page.text and ">am Telefon</option>" in page.text
    assert '<form method="post" action="/">' in page.text
    # Every place is offered whatever the page's language: a language mediator can come to any of them.
    assert site.calendar.questions[0]["language"] is None


def test_booking_page_speaks_english_when_the_browser_prefers_it(site: Site) -> None:
    page = site.get("/", headers={"Accept-Language": "fr-FR,en;q=0.8,de;q=0.5"})
    assert '<html lang="en">' in page.text and "<title>Appointment</title>" in page.text
    assert "Show free times" in page.text
    assert '<html lang="de">' in site.get("/?lang=de", headers={"Accept-Language": "en"}).text


def day_buttons(html: str) -> list[str]:
    return re.findall(r'name="day" value="([0-9-]+)" class="secondary">', html)


def test_search_offers_the_days_with_free_times_and_the_first_free_time_on_top(site: Site) -> None:
    page = site.post("/", {"lang": "de", "topic": "health", "place": "", "week": "0"})
    assert page.status_code == 200
    assert radios(page.text) == []  # no time yet: first the day
    assert day_buttons(page.text) == ["2025-03-03", "2025-03-04", "2025-03-07"]
    assert ">Montag, 3. März</button>" in page.text and ">Freitag, 7. März</button>" in page.text
    first = page.text.index("Nächster freier Termin")
    assert first < page.text.index("Tag wählen")
    assert f'name="first" value="{slot(0, 10).slot_id}">Montag, 3. März, 10:00 · Rostock 1 (vor Ort)</button>' \
        in page.text
    assert site.calendar.questions[-1] == {"from": date(2025, 3, 3), "to": date(2025, 3, 9),
                                           "topic": Topic.health, "language": "de", "location_id": None}


def test_a_day_shows_its_times_grouped_by_place_with_the_phone_step(site: Site) -> None:
    page = site.post("/", {"lang": "de", "topic": "health", "place": "", "week": "0", "day": "2025-03-03"})
    assert page.status_code == 200
    assert "<h1>Montag, 3. März</h1>" in page.text
    assert radios(page.text) == [slot(0, 10).slot_id, slot(0, 11).slot_id]
    assert "<legend>Rostock 1 (vor Ort)</legend>" in page.text
    assert "<strong>10:00</strong></label>" in page.text and "<strong>11:00</strong></label>" in page.text
    assert 'type="tel"' in page.text and 'autocomplete="off"' in page.text
    assert '<input type="hidden" name="day" value="2025-03-03">' in page.text
    # The topic stays in the POST body of the next form, never in a link.
    assert '<input type="hidden" name="topic" value="health">' in page.text
    assert "health" not in "".join(re.findall(r'href="([^"]*)"', page.text))
    assert site.calendar.questions[-1] == {"from": date(2025, 3, 3), "to": date(2025, 3, 9),
                                           "topic": Topic.health, "language": "de", "location_id": None}


def test_the_first_free_time_opens_its_day_with_that_time_chosen(site: Site) -> None:
    page = site.post("/", {"lang": "en", "week": "0", "first": slot(1, 9).slot_id})
    assert "<h1>Tuesday, 4 March</h1>" in page.text
    assert radios(page.text) == [slot(1, 9).slot_id] and checked(page.text) == [slot(1, 9).slot_id]


def test_a_busy_day_shows_at_most_twenty_times_at_once_and_the_rest_on_the_next_screen(site: Site) -> None:
    places = [PublicLocation(location_id=n, town="Rostock", kind=Mode.office, alias=f"Rostock {n}")
              for n in range(1, 6)]
    busy = [slot(2, hour, place) for hour in range(8, 18) for place in places]  # 50 times on Wednesday
    site.calendar.slots = busy
    first = site.post("/", {"lang": "de", "week": "0", "day": "2025-03-05"}).text
    assert len(radios(first)) == 20 and len(first.encode()) < 30_000  # the page budget of the benchmark
    earliest = {s.slot_id for s in sorted(busy, key=lambda s: (s.start, s.slot_id))[:20]}
    assert set(radios(first)) == earliest  # the earliest twenty, shown by place
    assert first.count("<legend>Rostock") == 5  # grouped by place
    assert 'name="part" value="1"' in first and "Spätere Uhrzeiten" in first
    last = site.post("/", {"lang": "de", "week": "0", "day": "2025-03-05", "part": "2"}).text
    assert len(radios(last)) == 10 and "Frühere Uhrzeiten" in last and "Spätere Uhrzeiten" not in last
    days = site.post("/", {"lang": "de", "week": "0"}).text
    assert day_buttons(days) == ["2025-03-05"] and len(radios(days)) == 0


def test_a_day_without_free_times_or_a_forged_day_shows_the_days_again(site: Site) -> None:
    for day in ("2025-03-05", "2025-13-45", "<b>"):
        page = site.post("/", {"lang": "de", "week": "0", "day": day})
        assert page.status_code == 200 and radios(page.text) == [] and day_buttons(page.text)
        assert "<b>" not in page.text


def test_later_week_and_place_narrow_the_search(site: Site) -> None:
    page = site.post("/", {"lang": "en", "topic": "", "place": "1", "week": "1"})
    assert day_buttons(page.text) == ["2025-03-11"]
    assert "Week from Monday, 10 March · Rostock 1 (in person)" in page.text
    assert 'name="week" value="0"' in page.text and 'name="week" value="2"' in page.text
    assert site.calendar.questions[-1]["location_id"] == 1


def test_a_week_without_free_times_says_so(site: Site) -> None:
    page = site.post("/", {"lang": "de", "week": "5", "conversation": "mediator"})
    assert radios(page.text) == []
    assert NO_SLOTS in visible_text(page.text)


def test_tampered_search_fields_fall_back_to_defaults(site: Site) -> None:
    page = site.post("/", {"lang": "xx", "topic": "<b>", "place": "-3", "week": "9999"})
    assert page.status_code == 200
    assert site.calendar.questions[-1]["topic"] is None and site.calendar.questions[-1]["location_id"] is None
    assert "<b>" not in page.text


def test_calendar_not_answering_asks_to_try_again_in_a_minute(site: Site) -> None:
    site.calendar.down = True
    start = site.get("/")
    assert start.status_code == 503 and start.headers["retry-after"] == "60"
    assert UNAVAILABLE in visible_text(start.text) and '<form method="post" action="/">' in start.text
    found = site.post("/", {"lang": "de", "topic": "safety", "week": "0"})
    assert found.status_code == 503 and found.headers["retry-after"] == "60"
    assert UNAVAILABLE in visible_text(found.text)
    assert RETRY_BUTTON in visible_text(found.text) and 'value="safety"' in found.text


# --- booking ---------------------------------------------------------------------------------------------------


def test_a_booking_still_pending_after_the_wait_shows_a_check_again_link_not_a_reload(site: Site) -> None:
    response = site.book(slot(0, 10).slot_id, key="form-key-0001")
    assert response.status_code == 303 and response.headers["location"].startswith("/m/")
    page = site.get(response.headers["location"])
    assert page.status_code == 200
    assert STATUS_PENDING in visible_text(page.text)
    assert 'http-equiv="refresh"' not in page.text
    token = response.headers["location"].removeprefix("/m/")
    assert f'<a class="button" href="/m/{token}?lang=de">Noch einmal nachsehen</a>' in page.text
    [row] = site.rows()
    assert (row.status, row.language, row.channel) == ("pending", "de", "web")


def test_pressing_book_twice_gives_one_booking(site: Site) -> None:
    first = site.book(slot(0, 10).slot_id, key="same-form-key-1")
    second = site.book(slot(0, 10).slot_id, key="same-form-key-1")
    assert first.headers["location"] == second.headers["location"]
    assert len(site.rows()) == 1


def test_the_form_sent_again_for_another_time_asks_to_check_and_send_again(site: Site) -> None:
    site.book(slot(0, 10).slot_id, key="same-form-key-2")
    again = site.book(slot(0, 11).slot_id, key="same-form-key-2")
    assert again.status_code == 422 and RESUBMITTED in visible_text(again.text)
    assert 'name="key" value="same-form-key-2"' not in again.text
    assert len(site.rows()) == 1


def test_a_malformed_form_key_asks_to_send_again_and_books_nothing(site: Site) -> None:
    response = site.book(slot(0, 10).slot_id, key="bad key!")
    assert response.status_code == 422 and RESUBMITTED in visible_text(response.text)
    assert site.rows() == []


@pytest.mark.parametrize("phone", ["98765", "0000 000000", "+49 151 1234 5678 9999 1234 5678 99", "not a phone"])
def test_invalid_phone_shows_a_message_keeps_the_choice_and_books_nothing(site: Site, phone: str) -> None:
    response = site.book(slot(0, 11).slot_id, phone=phone)
    assert response.status_code == 422
    assert INVALID_PHONE in visible_text(response.text)
    assert checked(response.text) == [slot(0, 11).slot_id]
    assert phone not in response.text
    assert re.search(r'<input id="phone"[^>]*value=', response.text) is None
    assert site.rows() == []


def test_booking_without_choosing_a_time_asks_for_one(site: Site) -> None:
    response = site.book("", phone=PHONE)
    assert response.status_code == 422 and CHOOSE_SLOT in visible_text(response.text)
    assert PHONE not in response.text and site.rows() == []
    forged = site.book("../../etc", phone="x")
    assert CHOOSE_SLOT in visible_text(forged.text) and INVALID_PHONE in visible_text(forged.text)


def test_a_bug_behind_a_page_is_a_page_in_its_language_not_json(site: Site) -> None:
    site.calendar.broken = True

    page = site.get("/?lang=en", headers={"Accept-Language": "de"})

    assert page.status_code == 500 and page.headers["content-type"].startswith("text/html")
    assert '<html lang="en">' in page.text
    assert "Something went wrong on our side. Please try again." in visible_text(page.text)
    assert "internal_error" not in page.text and "Traceback" not in page.text


def test_booking_while_the_calendar_is_down_still_says_what_is_wrong(site: Site) -> None:
    site.calendar.down = True
    response = site.book(slot(0, 11).slot_id, phone="12")
    assert response.status_code == 503 and UNAVAILABLE in visible_text(response.text)
    assert site.rows() == []


def test_english_booking_keeps_english_for_the_text_message_and_the_manage_page(site: Site) -> None:
    token = site.token(slot(0, 10).slot_id, lang="en")
    assert site.rows()[0].language == "en"
    page = site.get(f"/m/{token}", headers={"Accept-Language": "de"})
    assert '<html lang="en">' in page.text and STATUS_PENDING_EN in visible_text(page.text)


# --- the manage page -------------------------------------------------------------------------------------------


def test_confirmed_booking_shows_day_time_and_place_and_cancels_after_a_question(site: Site) -> None:
    token = site.token(slot(1, 9).slot_id)
    site.decide(token, BookingConfirmed(booking_id=site.booking_id(token), slot=slot(1, 9), language="de"))
    page = site.get(f"/m/{token}")
    assert STATUS_CONFIRMED in visible_text(page.text)
    assert "Dienstag, 4. März, 09:00" in page.text and "Rostock 1 (vor Ort)" in page.text
    assert "http-equiv" not in page.text
    question = site.get(f"/m/{token}/cancel")
    assert question.status_code == 200 and CANCEL_QUESTION in visible_text(question.text)
    assert site.bookings.view(token).status == "confirmed"  # asking changes nothing
    done = site.post(f"/m/{token}/cancel", {"lang": "de"})
    assert done.status_code == 303 and done.headers["location"] == f"/m/{token}"
    page = site.get(f"/m/{token}")
    assert STATUS_CANCELLED in visible_text(page.text) and CANCEL_LINK not in visible_text(page.text)
    assert site.get(f"/m/{token}/cancel").status_code == 303  # nothing left to ask about


def test_pending_booking_can_be_cancelled(site: Site) -> None:
    token = site.token(slot(0, 10).slot_id)
    assert site.post(f"/m/{token}/cancel", {}).status_code == 303
    assert STATUS_CANCELLED in visible_text(site.get(f"/m/{token}").text)


def test_taken_time_shows_the_reason_and_bookable_alternatives(site: Site) -> None:
    token = site.token(slot(0, 10).slot_id)
    past = Slot(**{**slot(0, 11).model_dump(), "start": NOW - timedelta(hours=1), "slot_id": "s2-1-1-1-2025030306"})
    site.decide(token, BookingRejected(booking_id=site.booking_id(token), reason="slot_taken",
                                       alternatives=[past, slot(0, 11), slot(1, 9)]))
    page = site.get(f"/m/{token}")
    assert STATUS_REJECTED in visible_text(page.text) and REASON_SLOT_TAKEN in visible_text(page.text)
    assert radios(page.text) == [slot(0, 11).slot_id, slot(1, 9).slot_id]  # a time gone by is not offered
    assert CANCEL_LINK not in visible_text(page.text)
    retry = site.post(f"/m/{token}/book", {"slot_id": slot(1, 9).slot_id, "phone": "0151 12345678", "lang": "de",
                                           "key": "alt-form-key-1"})
    assert retry.status_code == 303 and retry.headers["location"] != f"/m/{token}"
    assert STATUS_PENDING in visible_text(site.get(retry.headers["location"]).text)
    assert len(site.rows()) == 2


def test_alternative_with_an_invalid_phone_shows_the_message_on_the_manage_page(site: Site) -> None:
    token = site.token(slot(0, 10).slot_id)
    site.decide(token, BookingRejected(booking_id=site.booking_id(token), reason="language_not_offered",
                                       alternatives=[slot(0, 11)]))
    page = site.post(f"/m/{token}/book", {"slot_id": slot(0, 11).slot_id, "phone": "12", "key": "alt-form-key-2"})
    assert page.status_code == 422
    assert INVALID_PHONE in visible_text(page.text) and REASON_LANGUAGE_NOT_OFFERED in visible_text(page.text)
    assert len(site.rows()) == 1


def test_rejected_booking_cannot_be_cancelled_and_says_why(site: Site) -> None:
    token = site.token(slot(0, 10).slot_id)
    site.decide(token, BookingRejected(booking_id=site.booking_id(token), reason="slot_in_past"))
    assert site.get(f"/m/{token}/cancel").status_code == 303
    page = site.post(f"/m/{token}/cancel", {})
    assert page.status_code == 409 and NOT_CANCELLABLE in visible_text(page.text)
    assert site.bookings.view(token).status == "rejected"


@pytest.mark.parametrize("method,path", [("get", "/m/{t}"), ("get", "/m/{t}/cancel"), ("post", "/m/{t}/cancel"),
                                         ("post", "/m/{t}/book")])
@pytest.mark.parametrize("token", ["unknown-token-0123456789", "x", "a" * 200])
def test_unknown_or_expired_link_gives_a_human_404_page(site: Site, method: str, path: str, token: str) -> None:
    url = path.format(t=token)
    response = site.get(url) if method == "get" else site.post(url, {"phone": PHONE, "slot_id": slot(0, 10).slot_id})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert NOT_FOUND in visible_text(response.text) and f"/m/{token}" not in response.text
    assert site.rows() == []


# --- discretion ------------------------------------------------------------------------------------------------


def test_every_page_sends_the_privacy_headers(site: Site) -> None:
    token = site.token(slot(0, 10).slot_id)
    responses = [site.get("/"), site.post("/", {"lang": "de"}), site.book(slot(0, 11).slot_id, key="hdr-key-0001"),
                 site.get(f"/m/{token}"), site.get(f"/m/{token}/cancel"), site.get("/m/nothing-here-at-all"),
                 site.book("", phone="1"), site.get("/site.css")]
    for response in responses:
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["x-robots-tag"].startswith("noindex")
        assert response.headers["x-frame-options"] == "DENY"
        csp = response.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
        # The only script is a file of ours: nothing inline for the policy to allow.
        assert re.findall(r"<script[^>]*>", response.text) in ([], ['<script src="/leave.js" defer>'])


def test_no_page_names_the_service_or_holds_third_party_urls_or_the_phone_number(site: Site) -> None:
    token = site.token(slot(0, 10).slot_id)
    rejected = site.token(slot(0, 11).slot_id, key="discreet-key-1")
    site.decide(rejected, BookingRejected(booking_id=site.booking_id(rejected), reason="slot_taken",
                                          alternatives=[slot(1, 9)]))
    for lang in LANGUAGES:
        site.get(f"/?lang={lang}")
        site.post("/", {"lang": lang, "topic": "psychosocial"})
        site.get(f"/m/{token}?lang={lang}")
        site.get(f"/m/{token}/cancel?lang={lang}")
        site.get(f"/m/{rejected}?lang={lang}")
        site.get(f"/m/nothing-here-at-all?lang={lang}")
        site.book(slot(1, 9).slot_id, phone="12", lang=lang)
        site.post("/", {"lang": lang, "day": "2025-03-03"})
    site.get("/", headers={"Accept-Language": "fr"})
    site.calendar.down = True
    site.post("/", {"lang": "de"})
    for html in site.pages:
        assert not FORBIDDEN.search(discreet(html)), FORBIDDEN.search(discreet(html))
        assert all(form not in html for form in PHONE_FORMS)
        assert not html.startswith("<!doctype") or f"<title>{page_title(html)}</title>" in html


def test_stylesheet_comes_from_our_own_origin(site: Site) -> None:
    page = site.get("/")
    assert '<link rel="stylesheet" href="/site.css">' in page.text
    css = site.get("/site.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert "@import" not in css.text and "url(" not in css.text


# --- texts -----------------------------------------------------------------------------------------------------


def msgids_in_use() -> set[str]:
    """Every text the pages can show: `_("...")` in the templates and the texts the page code names."""
    templates = Path(pages.__file__).parent / "templates"
    written = "".join(path.read_text(encoding="utf-8") for path in templates.glob("*.html"))
    return set(re.findall(r'_\("([^"]*)"\)', written)) | set(TEXTS.values())


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_language_catalogue_translates_every_text_of_the_pages_discreetly(lang: str) -> None:
    translated = read_catalogs(LOCALE_DIR, lang)
    missing = msgids_in_use() - set(translated)
    assert not missing, f"{lang}: no usable translation (missing, empty or fuzzy) for {sorted(missing)}"
    for msgid, translation in translated.items():
        assert not FORBIDDEN.search(translation), (lang, translation)
        # A placeholder lost or renamed would show "{day}" to a client or fail the page.
        assert set(re.findall(r"{\w+}", translation)) == set(re.findall(r"{\w+}", msgid)), (lang, msgid)
    assert translated["Appointment"].strip() and len(translated["Appointment"]) < 20


def test_no_text_of_the_code_names_a_topic_beyond_the_neutral_labels() -> None:
    assert {f"topic.{topic.value}" for topic in Topic} <= set(TEXTS)
    assert {f"mode.{mode.value}" for mode in Mode} <= set(TEXTS)
    for msgid in msgids_in_use():
        assert not FORBIDDEN.search(msgid), msgid


def test_catalogue_files_of_a_language_are_merged_so_a_part_can_bring_its_own(tmp_path: Path) -> None:
    folder = tmp_path / "ro" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "pages.po").write_text('msgid "Where"\nmsgstr "Unde"\n', encoding="utf-8")
    (folder / "meeting.po").write_text('msgid "How"\nmsgstr "Cum"\n\n#, fuzzy\nmsgid "When"\nmsgstr "Cînd"\n\n'
                                       'msgid "Empty"\nmsgstr ""\n', encoding="utf-8")
    (folder / "broken.po").write_text('msgid "x\nmsgstr', encoding="utf-8")
    translations = Translations.from_directory(tmp_path)
    assert translations.gettext("ro", "Where") == "Unde" and translations.gettext("ro", "How") == "Cum"
    # Fuzzy, empty, unknown and unreadable: the English text, never an empty one.
    assert translations.gettext("ro", "When") == "When" and translations.gettext("ro", "Empty") == "Empty"
    assert translations.gettext("th", "Where") == "Where"


@pytest.mark.parametrize("explicit,accept,preferred,expected", [
    (None, None, None, None),
    (None, "fr-FR,fr;q=0.9", None, None),
    (None, "th-TH", None, "th"),
    (None, "uk,ru;q=0.8", None, "uk"),
    ("ro", "de", "en", "ro"),
    (None, "en-GB,en;q=0.9", None, "en"),
    (None, "fr,de;q=0.3,en;q=0.7", None, "en"),
    (None, "en;q=0,de;q=0.1", None, "de"),
    (None, "en;q=bogus", None, None),
    (None, "de", "en", "en"),
    ("de", "en", "en", "de"),
    ("xx", "en", None, "en"),
])
def test_page_language_follows_choice_then_booking_then_browser(explicit: str | None, accept: str | None,
                                                                 preferred: str | None, expected: str | None) -> None:
    assert negotiate(explicit, accept, preferred) == expected


# --- the client's choices about texts --------------------------------------------------------------------------

WEEKDAY_EVENINGS = ContactPreferences(safe_window=SafeWindow(days=("mon", "tue", "wed", "thu", "fri"),
                                                             start=time(17), end=time(20)))


def send(site: Site, url: str, data: dict[str, Any]) -> Any:
    """A form post whose fields may repeat (ticked checkboxes), as a browser sends it."""
    response = site.client.post(url, data=data, follow_redirects=False)
    site.pages.append(response.text)
    return response


def book_with(site: Site, slot_id: str, phone: str = PHONE, **fields: Any) -> Any:
    return send(site, "/book", {"slot_id": slot_id, "phone": phone, "lang": "de", "topic": "", "place": "",
                                "week": "0", "key": "", **fields})


def announced(site: Site, message_type: str) -> list[dict[str, Any]]:
    with Session(site.engine) as session:
        rows = session.exec(select(OutboxMessage).where(OutboxMessage.routing_key == message_type)
                            .order_by(col(OutboxMessage.id))).all()
    return [json.loads(row.body)["payload"] for row in rows]


def ticked(html: str) -> list[str]:
    return re.findall(r'name="days" value="(\w+)" checked', html)


def selected(html: str, name: str) -> str:
    block = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', html, re.DOTALL)
    assert block, name
    return str(re.findall(r"<option selected>([^<]+)</option>", block.group(1))[0])


def reminders_choice(html: str) -> str:
    return str(re.findall(r'name="reminders" value="(\w+)" checked', html)[0])


def test_phone_step_offers_reminders_and_safe_times_with_reminders_on_and_any_time_by_default(site: Site) -> None:
    page = site.post("/", {"lang": "de", "week": "0", "day": "2025-03-03"}).text
    assert "<legend>SMS</legend>" in page
    assert reminders_choice(page) == "yes"
    assert re.findall(r'name="days" value="(\w+)"', page) == ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    assert ticked(page) == []
    block = re.search(r'<select name="start">(.*?)</select>', page, re.DOTALL)
    assert block and re.findall(r"<option(?: selected)?>([^<]+)</option>", block.group(1)) == [
        f"{hour:02d}:00" for hour in range(8, 22)]
    assert (selected(page, "start"), selected(page, "end")) == ("10:00", "18:00")
    assert "Montag" in page and "Sonntag" in page


def test_booking_with_reminders_off_and_weekday_evenings_sends_that_to_the_notifier(site: Site) -> None:
    response = book_with(site, slot(0, 10).slot_id, reminders="no",
                         days=["mon", "tue", "wed", "thu", "fri"], start="17:00", end="20:00")
    assert response.status_code == 303, response.text
    token = response.headers["location"].removeprefix("/m/")
    expected = WEEKDAY_EVENINGS.model_copy(update={"reminders": False})
    assert site.bookings.view(token).preferences == expected
    [contact] = announced(site, "contact.registered")
    assert ContactPreferences.model_validate(contact["preferences"]) == expected
    [requested] = announced(site, "booking.requested")
    assert "preferences" not in requested
    # Nothing about the choice lands in the address bar either.
    assert response.headers["location"] == f"/m/{token}"


def test_times_without_a_ticked_day_mean_texts_at_any_time(site: Site) -> None:
    response = book_with(site, slot(0, 10).slot_id, reminders="yes", start="12:00", end="09:00")
    assert response.status_code == 303, response.text
    token = response.headers["location"].removeprefix("/m/")
    assert site.bookings.view(token).preferences == ContactPreferences()


def test_a_window_ending_before_it_starts_shows_the_page_again_with_everything_kept(site: Site) -> None:
    response = book_with(site, slot(0, 11).slot_id, reminders="no", days=["sat", "sun"], start="18:00", end="10:00")
    assert response.status_code == 422
    assert PREFS_WINDOW_ORDER in visible_text(response.text)
    assert checked(response.text) == [slot(0, 11).slot_id]
    assert reminders_choice(response.text) == "no" and ticked(response.text) == ["sat", "sun"]
    assert (selected(response.text, "start"), selected(response.text, "end")) == ("18:00", "10:00")
    assert PHONE not in response.text
    assert site.rows() == [] and announced(site, "contact.registered") == []


def test_an_equal_start_and_end_is_no_window_either(site: Site) -> None:
    response = book_with(site, slot(0, 11).slot_id, days=["mon"], start="10:00", end="10:00")
    assert response.status_code == 422 and PREFS_WINDOW_ORDER in visible_text(response.text)
    assert site.rows() == []


@pytest.mark.parametrize("fields", [
    pytest.param({"days": ["mon", "funday"]}, id="unknown-day"),
    pytest.param({"days": ["mon", "mon"]}, id="day-twice"),
    pytest.param({"days": ["mon"], "start": "25:00"}, id="hour-25"),
    pytest.param({"days": ["mon"], "end": "18:00:00+02:00"}, id="time-with-offset"),
    pytest.param({"reminders": "maybe"}, id="reminders-maybe"),
])
def test_tampered_text_choices_are_refused_and_book_nothing(site: Site, fields: dict[str, Any]) -> None:
    response = book_with(site, slot(0, 11).slot_id, **{"start": "10:00", "end": "18:00", **fields})
    assert response.status_code == 422 and PREFS_INVALID in visible_text(response.text)
    assert "funday" not in response.text and "25:00" not in response.text
    assert site.rows() == []


def test_a_bad_phone_and_a_bad_window_are_both_named(site: Site) -> None:
    response = book_with(site, slot(0, 11).slot_id, phone="12", days=["mon"], start="18:00", end="10:00")
    assert response.status_code == 422
    assert INVALID_PHONE in visible_text(response.text) and PREFS_WINDOW_ORDER in visible_text(response.text)


def _confirmed(site: Site, token: str, at: Slot) -> None:
    site.decide(token, BookingConfirmed(booking_id=site.booking_id(token), slot=at, language="de"))


def test_manage_page_shows_the_choice_and_saves_a_change_with_a_notice(site: Site) -> None:
    token = book_with(site, slot(1, 9).slot_id, reminders="no").headers["location"].removeprefix("/m/")
    _confirmed(site, token, slot(1, 9))
    page = site.get(f"/m/{token}").text
    assert PREFS_SUMMARY_OFF in visible_text(page) and PREFS_SUMMARY_ANY_TIME in visible_text(page)
    assert f'action="/m/{token}/preferences"' in page
    assert reminders_choice(page) == "no" and ticked(page) == []
    assert PREFS_SAVED not in visible_text(page)

    saved = send(site, f"/m/{token}/preferences", {"lang": "de", "reminders": "yes",
                                                     "days": ["mon", "tue", "wed", "thu", "fri"],
                                                     "start": "17:00", "end": "20:00"})
    assert saved.status_code == 303 and saved.headers["location"] == f"/m/{token}?saved=1&lang=de"
    page = site.get(saved.headers["location"]).text
    assert PREFS_SAVED in visible_text(page)
    assert PREFS_SUMMARY_ON in visible_text(page)
    assert "SMS nur Montag, Dienstag, Mittwoch, Donnerstag, Freitag, 17:00–20:00 Uhr" in page
    assert ticked(page) == ["mon", "tue", "wed", "thu", "fri"]
    assert (selected(page, "start"), selected(page, "end")) == ("17:00", "20:00")
    assert site.bookings.view(token).preferences == WEEKDAY_EVENINGS
    [change] = announced(site, "contact.preferences_changed")
    assert ContactPreferences.model_validate(change["preferences"]) == WEEKDAY_EVENINGS
    assert PREFS_SAVED not in visible_text(site.get(f"/m/{token}").text)  # the notice is for once


def test_manage_page_in_english_names_days_and_times(site: Site) -> None:
    token = book_with(site, slot(1, 9).slot_id, lang="en", days=["sat", "sun"], start="09:00",
                      end="12:00").headers["location"].removeprefix("/m/")
    _confirmed(site, token, slot(1, 9))
    page = site.get(f"/m/{token}").text
    assert "Texts only on Saturday, Sunday, 09:00–12:00" in page and PREFS_SUMMARY_ON_EN in visible_text(page)
    assert "<h2>Text messages</h2>" in page


def test_a_time_set_through_the_api_is_shown_and_kept_by_the_form(site: Site) -> None:
    token = site.token(slot(1, 9).slot_id)
    _confirmed(site, token, slot(1, 9))
    odd = ContactPreferences(safe_window=SafeWindow(days=("wed",), start=time(10, 30), end=time(11, 45)))
    site.bookings.change_preferences(token, odd)
    page = site.get(f"/m/{token}").text
    assert (selected(page, "start"), selected(page, "end")) == ("10:30", "11:45")
    assert "10:30–11:45" in page


def test_pending_manage_page_shows_the_choice_and_no_form_yet(site: Site) -> None:
    token = book_with(site, slot(0, 10).slot_id, reminders="no").headers["location"].removeprefix("/m/")
    page = site.get(f"/m/{token}").text
    assert 'http-equiv="refresh"' not in page and PREFS_SUMMARY_OFF in visible_text(page)
    assert "/preferences" not in page


def test_a_bad_change_shows_the_manage_page_again_with_the_entry_kept_and_stores_nothing(site: Site) -> None:
    token = site.token(slot(1, 9).slot_id)
    _confirmed(site, token, slot(1, 9))
    response = send(site, f"/m/{token}/preferences", {"reminders": "no", "days": ["fri"], "start": "20:00",
                                                       "end": "08:00"})
    assert response.status_code == 422 and PREFS_WINDOW_ORDER in visible_text(response.text)
    assert reminders_choice(response.text) == "no" and ticked(response.text) == ["fri"]
    assert selected(response.text, "start") == "20:00"
    assert PREFS_SUMMARY_ON in visible_text(response.text)  # what is stored is unchanged
    assert site.bookings.view(token).preferences == ContactPreferences()
    assert announced(site, "contact.preferences_changed") == []


def test_a_cancelled_booking_takes_no_new_choice_and_says_why(site: Site) -> None:
    token = site.token(slot(0, 10).slot_id)
    assert site.post(f"/m/{token}/cancel", {}).status_code == 303
    page = site.get(f"/m/{token}").text
    assert "/preferences" not in page and "<h2>SMS</h2>" not in page
    response = send(site, f"/m/{token}/preferences", {"reminders": "no"})
    assert response.status_code == 409 and PREFS_NOT_CHANGEABLE in visible_text(response.text)
    assert announced(site, "contact.preferences_changed") == []


def test_alternatives_after_a_refusal_keep_the_choice_made_for_the_first_time(site: Site) -> None:
    token = book_with(site, slot(0, 10).slot_id, reminders="no", days=["sat"], start="11:00",
                      end="13:00").headers["location"].removeprefix("/m/")
    site.decide(token, BookingRejected(booking_id=site.booking_id(token), reason="slot_taken",
                                       alternatives=[slot(1, 9)]))
    page = site.get(f"/m/{token}").text
    assert reminders_choice(page) == "no" and ticked(page) == ["sat"]
    retry = send(site, f"/m/{token}/book", {"slot_id": slot(1, 9).slot_id, "phone": PHONE, "key": "alt-prefs-01",
                                            "reminders": "no", "days": ["sat"], "start": "11:00", "end": "13:00"})
    assert retry.status_code == 303
    new = site.bookings.view(retry.headers["location"].removeprefix("/m/"))
    assert new.preferences == ContactPreferences(reminders=False, safe_window=SafeWindow(
        days=("sat",), start=time(11), end=time(13)))


def test_an_unknown_link_cannot_take_a_choice(site: Site) -> None:
    response = send(site, "/m/unknown-token-0123456789/preferences", {"reminders": "no"})
    assert response.status_code == 404 and NOT_FOUND in visible_text(response.text)


def test_pages_with_the_text_choices_stay_discreet(site: Site) -> None:
    token = book_with(site, slot(1, 9).slot_id, days=["mon"], start="10:00",
                      end="18:00").headers["location"].removeprefix("/m/")
    _confirmed(site, token, slot(1, 9))
    for lang in LANGUAGES:
        site.get(f"/m/{token}?lang={lang}&saved=1")
        site.post("/", {"lang": lang})
    for html in site.pages:
        assert not FORBIDDEN.search(discreet(html)), FORBIDDEN.search(discreet(html))
        assert all(form not in html for form in PHONE_FORMS)


# --- limits and refused numbers on the pages (issue "Lotse 5/7") -------------------------------------------------

TOO_MANY_DE = text("de", "too_many")


@pytest.fixture
def strict_site(tmp_path: Path) -> Iterator[Site]:
    yield from make_site(tmp_path, ClientLimitPolicy(bookings_per_address_hour=1, searches_per_address_minute=4,
                                                     cancels_per_address_hour=1))


def test_a_second_booking_from_one_address_is_refused_in_german_with_retry_after(strict_site: Site) -> None:
    strict_site.token(slot(0, 10).slot_id)
    refused = strict_site.book(slot(0, 11).slot_id, phone="0151 23456780")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) == 3600
    assert TOO_MANY_DE in visible_text(refused.text)
    assert len(strict_site.rows()) == 1


def test_too_many_searches_from_one_address_are_refused_on_the_page(strict_site: Site) -> None:
    answers = [strict_site.post("/", {"lang": "en", "week": "0"}).status_code for _ in range(5)]
    assert answers == [200, 200, 200, 200, 429]
    refused = strict_site.get("/?lang=en")
    assert refused.status_code == 429 and text("en", "too_many") in visible_text(refused.text)
    assert int(refused.headers["Retry-After"]) == 60


def test_too_many_cancellations_are_refused_on_the_manage_page(tmp_path: Path) -> None:
    for site in make_site(tmp_path, ClientLimitPolicy(bookings_per_address_hour=10, cancels_per_address_hour=1)):
        first, second = site.token(slot(0, 10).slot_id), site.token(slot(0, 11).slot_id, phone="0151 23456780")
        assert site.post(f"/m/{first}/cancel", {"lang": "de"}).status_code == 303
        refused = site.post(f"/m/{second}/cancel", {"lang": "de"})
        assert refused.status_code == 429 and TOO_MANY_DE in visible_text(refused.text)
        assert site.bookings.view(second).status == "pending"


@pytest.mark.parametrize("phone", ["+881612345678", "+447911123456"], ids=["satellite", "uk"])
def test_a_number_texts_may_not_go_to_is_refused_on_the_page_in_its_language(site: Site, phone: str) -> None:
    refused = site.book(slot(0, 10).slot_id, phone=phone, lang="en")
    assert refused.status_code == 422
    assert text("en", "phone_not_accepted") in visible_text(refused.text)
    assert phone not in refused.text and site.rows() == []


# --- languages, quick leave, errors at the field, waiting for the decision (issue "Lotse 6/7") -------------------


def language_links(html: str) -> dict[str, str]:
    return dict(re.findall(r'href="/\?lang=([a-z]+)" hreflang="[a-z]+">([^<]+)</a>', html))


@pytest.mark.parametrize("accept", [None, "fr-FR,fr;q=0.9", "xx", "*"])
def test_a_visitor_in_a_language_the_pages_do_not_speak_is_asked_to_choose_not_given_german(
        site: Site, accept: str | None) -> None:
    page = site.get("/?lang=zz", headers={"Accept-Language": accept or ""})
    assert page.status_code == 200
    assert language_links(page.text) == {"de": "Deutsch", "en": "English", "ro": "Română", "bg": "Български",
                                         "hu": "Magyar", "pl": "Polski", "ru": "Русский", "uk": "Українська",
                                         "es": "Español", "th": "ไทย"}
    # Each choice asks in its own language, marked as such for a screen reader.
    assert '<li lang="th">' in page.text and "เลือกภาษา" in page.text and "Alegeți limba" in page.text
    assert radios(page.text) == [] and "<select" not in page.text and site.calendar.questions == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_language_is_offered_by_address_and_by_browser(site: Site, lang: str) -> None:
    by_address = site.get(f"/?lang={lang}", headers={"Accept-Language": "fr"})
    by_browser = site.get("/", headers={"Accept-Language": f"fr;q=0.9,{lang};q=0.5"})
    for page in (by_address, by_browser):
        assert f'<html lang="{lang}">' in page.text
        assert f"<title>{gettext(lang, 'Appointment')}</title>" in page.text
        assert gettext(lang, "Show free times") in page.text
    # The search that follows asks for someone speaking the page's language (the form lists every place).
    site.post("/", {"lang": lang, "week": "0"})
    assert site.calendar.questions[-1]["language"] == lang


def test_the_manage_link_opens_in_the_bookings_language_whatever_the_browser_says(site: Site) -> None:
    token = site.token(slot(0, 10).slot_id, lang="ro")
    assert site.rows()[0].language == "ro"
    for accept in ("de-DE,de", "", "th"):
        page = site.get(f"/m/{token}", headers={"Accept-Language": accept})
        assert '<html lang="ro">' in page.text
        assert "Verificăm dacă ora mai este liberă." in visible_text(page.text)
    assert '<html lang="en">' in site.get(f"/m/{token}?lang=en").text  # an explicit choice still wins


def test_a_thai_client_books_and_reads_every_step_in_thai(site: Site) -> None:
    days = site.post("/", {"lang": "th", "week": "0"})
    assert '<html lang="th">' in days.text and "เลือกวัน" in days.text
    times = site.post("/", {"lang": "th", "week": "0", "day": "2025-03-03"})
    assert "วันจันทร์ที่ 3 มีนาคม" in times.text and "ขอนัดหมาย" in times.text
    wrong = site.book(slot(0, 10).slot_id, phone="12", lang="th", day="2025-03-03")
    assert "เราใช้เบอร์มือถือนี้ไม่ได้" in visible_text(wrong.text)
    token = site.token(slot(0, 10).slot_id, lang="th")
    assert "นัดหมายของคุณ" in site.get(f"/m/{token}").text


def test_every_page_has_a_quick_leave_link_and_the_script_that_keeps_it_out_of_the_history(site: Site) -> None:
    token = site.token(slot(0, 10).slot_id)
    for page in (site.get("/"), site.get("/", headers={"Accept-Language": "fr"}), site.post("/", {"lang": "ro"}),
                 site.post("/", {"lang": "de", "day": "2025-03-03"}), site.get(f"/m/{token}"),
                 site.get(f"/m/{token}/cancel"), site.get("/m/nothing-here-at-all"), site.book("", phone="1")):
        assert page.text.count('<a id="leave" class="leave" href="https://www.google.com/" rel="noreferrer">') == 1
        assert '<script src="/leave.js" defer></script>' in page.text
    script = site.get("/leave.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert "location.replace" in script.text and "http" not in script.text


def test_the_quick_leave_address_is_a_setting_and_must_be_a_plain_web_address(tmp_path: Path) -> None:
    for wrong in ("javascript:alert(1)", "//evil.example", 'https://x.example/" onclick="x'):
        with pytest.raises(ValueError, match="QUICK_EXIT_URL"):
            GatewaySettings(var_dir=tmp_path, gateway_database_url="sqlite://", quick_exit_url=wrong)
    settings = GatewaySettings(var_dir=tmp_path, gateway_database_url="sqlite://",
                               quick_exit_url="https://www.wikipedia.org/")
    pages.configure(settings)
    try:
        rendered = bytes(rendering.render("not_found.html", "de", 404).body).decode()
        assert 'href="https://www.wikipedia.org/"' in rendered
    finally:
        pages.configure(GatewaySettings(var_dir=tmp_path, gateway_database_url="sqlite://"))


def test_a_bad_phone_is_named_at_the_phone_field_which_takes_the_focus(site: Site) -> None:
    page = site.book(slot(0, 11).slot_id, phone="0151 2345678", day="2025-03-03").text  # the old, invalid hint
    field = re.search(r'<input id="phone"[^>]*>', page)
    assert field and 'aria-invalid="true"' in field.group(0) and "autofocus" in field.group(0)
    assert 'aria-describedby="phone-error phone-hint"' in field.group(0)
    assert f'<p class="field-error" id="phone-error">{INVALID_PHONE} </p>' in page
    assert 'role="alert"' not in page  # said at the field, not in a notice above the page
    assert page.index('id="phone-error"') > page.index('<label for="phone">')
    assert page.count("autofocus") == 1


def test_no_time_chosen_is_named_at_the_times_and_focuses_the_first(site: Site) -> None:
    page = site.book("", phone=PHONE, day="2025-03-03").text
    assert f'<p class="field-error" id="slot-error">{CHOOSE_SLOT} </p>' in page
    first = re.search(r'<input type="radio" name="slot_id"[^>]*>', page)
    assert first and 'aria-invalid="true"' in first.group(0) and "autofocus" in first.group(0)
    assert page.count("autofocus") == 1 and 'id="phone" name="phone" type="tel" inputmode="tel" autocomplete="off" ' \
        'required maxlength="32" aria-describedby="phone-hint">' in page


def test_a_wrong_window_is_named_at_the_times_fieldset(site: Site) -> None:
    page = book_with(site, slot(0, 11).slot_id, days=["sat"], start="18:00", end="10:00").text
    assert f'<p class="field-error" id="texts-error">{PREFS_WINDOW_ORDER} </p>' in page
    start = re.search(r'<select name="start"[^>]*>', page)
    assert start and 'aria-invalid="true"' in start.group(0) and "autofocus" in start.group(0)


@pytest.mark.parametrize("lang,country,international", [
    ("de", "DE", "+49 1512 3456789"), ("ro", "RO", "+40 712 034 567"), ("pl", "PL", "+48 512 345 678"),
    ("th", "TH", "+66 81 234 5678"), ("uk", "UA", "+380 50 123 4567"), ("en", "GB", "+44 7400 123456"),
])
def test_the_phone_hint_shows_numbers_the_form_accepts_for_the_languages_country(
        tmp_path: Path, lang: str, country: str, international: str) -> None:
    for site in make_site(tmp_path, countries=("DE", country)):
        page = site.post("/", {"lang": lang, "week": "0", "day": "2025-03-03"}).text
        hint = visible_text(re.findall(r'<p class="hint" id="phone-hint">([^<]*)</p>', page)[0])
        assert "01512 3456789" in hint and international in hint
        for number in ("01512 3456789", international):
            booked = site.book(slot(0, 10).slot_id, phone=number, lang=lang)
            assert booked.status_code == 303, (number, visible_text(booked.text))


def test_the_hint_gives_the_german_number_with_its_code_where_texts_may_not_go_abroad(site: Site) -> None:
    page = site.post("/", {"lang": "ro", "week": "0", "day": "2025-03-03"}).text
    assert "De exemplu 01512 3456789 sau +49 1512 3456789." in page and "+40" not in page


@pytest.mark.parametrize("lang,phone,expected", [
    ("ro", "+40 712 34", "Nu putem folosi acest număr de mobil."),  # too short for Romania
    ("th", "+66 2 123 4567", "เราใช้เบอร์มือถือนี้ไม่ได้"),  # a Bangkok landline
    ("pl", "+48 12 345 67 89", "Nie możemy użyć tego numeru komórkowego."),  # a Kraków landline
    ("de", "030 1234567", "Diese Handynummer können wir nicht verwenden."),  # a Berlin landline
])
def test_a_number_wrong_for_its_country_is_refused_in_the_page_language(tmp_path: Path, lang: str, phone: str,
                                                                        expected: str) -> None:
    for site in make_site(tmp_path, countries=("DE", "RO", "TH", "PL")):
        refused = site.book(slot(0, 10).slot_id, phone=phone, lang=lang, day="2025-03-03")
        assert refused.status_code == 422 and expected in visible_text(refused.text)
        assert 'aria-invalid="true"' in refused.text and site.rows() == []


def test_the_booking_post_waits_for_the_decision_and_shows_it_at_once(tmp_path: Path) -> None:
    for site in make_site(tmp_path, wait=5):
        def decide_soon(site: Site) -> None:
            deadline = monotonic() + 5
            while not site.rows() and monotonic() < deadline:
                sleep(0.02)
            row = site.rows()[0]
            payload = BookingConfirmed(booking_id=UUID(row.booking_id), slot=slot(0, 10), language="de")
            with UnitOfWork(site.engine, GatewayRepository)() as repository:
                handlers.apply_confirmed(wrap(payload, payload.booking_id), repository, lambda: NOW)

        decider = Thread(target=decide_soon, args=(site,))
        started = monotonic()
        decider.start()
        response = site.book(slot(0, 10).slot_id)
        waited = monotonic() - started
        decider.join()
        assert response.status_code == 303 and waited < 4
        page = site.get(response.headers["location"])
        assert STATUS_CONFIRMED in visible_text(page.text) and "Noch einmal nachsehen" not in page.text


def test_a_decision_that_takes_longer_than_the_wait_leaves_a_check_again_link(tmp_path: Path) -> None:
    for site in make_site(tmp_path, wait=0.3):
        started = monotonic()
        response = site.book(slot(0, 10).slot_id)
        assert response.status_code == 303 and 0.3 <= monotonic() - started < 3
        token = response.headers["location"].removeprefix("/m/")
        pending = site.get(f"/m/{token}")
        assert STATUS_PENDING in visible_text(pending.text) and 'http-equiv="refresh"' not in pending.text
        assert f'href="/m/{token}?lang=de">Noch einmal nachsehen</a>' in pending.text
        _confirmed(site, token, slot(0, 10))
        assert STATUS_CONFIRMED in visible_text(site.get(f"/m/{token}?lang=de").text)


def test_when_too_many_bookings_wait_already_the_next_one_does_not_wait(site: Site) -> None:
    token = site.token(slot(0, 10).slot_id)
    naps: list[float] = []
    assert wait_for_decision(site.bookings, token, 5, sleep=naps.append, waiters=Semaphore(0)) == "pending"
    assert naps == []
    free = Semaphore(1)
    assert wait_for_decision(site.bookings, token, 0.05, sleep=sleep, waiters=free) == "pending"
    assert free.acquire(blocking=False)  # given back after the wait
    _confirmed(site, token, slot(0, 10))
    assert wait_for_decision(site.bookings, token, 5, sleep=naps.append) == "confirmed" and naps == []


# --- the language of the conversation ----------------------------------------------------------------------------

NOBODY_SPEAKS_THAI = "สัปดาห์นี้ไม่มีคนที่พูดภาษาของคุณว่างเลย"
WITH_MEDIATOR_DE = "Auf Deutsch oder Englisch mit Sprachmittlung"
CHOOSE_CONVERSATION = "Bitte wählen Sie, wie Sie sprechen möchten."
FORM = re.compile(r'<form method="post" action="([^"]+)"[^>]*>(.*?)</form>', re.DOTALL)


def form_with(html: str, marker: str) -> tuple[str, dict[str, str]]:
    """The action and hidden fields of the form holding `marker`, as a browser would send them."""
    for action, body in FORM.findall(html):
        if marker in body:
            return action, dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', body))
    raise AssertionError(f"no form with {marker!r}")


def test_the_search_form_asks_how_to_talk_in_a_radio_group_with_own_language_first(site: Site) -> None:
    page = site.get("/")
    group = re.search(r"<fieldset[^>]*>\s*<legend>Sprache im Gespräch</legend>(.*?)</fieldset>", page.text, re.DOTALL)
    assert group, page.text
    assert re.findall(r'name="conversation" value="(\w+)"', group.group(1)) == ["own_language", "mediator"]
    assert 'value="own_language" checked' in group.group(1)
    assert "Jemand, der meine Sprache spricht" in visible_text(group.group(1))
    assert WITH_MEDIATOR_DE in visible_text(group.group(1))


def test_the_mediator_choice_reaches_the_slot_search_the_day_and_time_screens_and_the_booking(site: Site) -> None:
    days = site.post("/", {"lang": "de", "topic": "", "place": "", "week": "0", "conversation": "mediator"})
    assert days.status_code == 200 and day_buttons(days.text)
    assert site.calendar.questions[-1]["language"] is None  # every counsellor, as GET /v1/slots?conversation=mediator
    assert WITH_MEDIATOR_DE in visible_text(days.text)
    action, fields = form_with(days.text, 'name="day"')
    assert action == "/" and fields["conversation"] == "mediator"
    times = site.post(action, {**fields, "day": "2025-03-03"})
    assert radios(times.text) == [slot(0, 10).slot_id, slot(0, 11).slot_id]
    assert site.calendar.questions[-1]["language"] is None
    action, fields = form_with(times.text, 'name="slot_id"')
    assert action == "/book" and fields["conversation"] == "mediator"
    booked = site.post(action, {**fields, "slot_id": slot(0, 10).slot_id, "phone": PHONE})
    assert booked.status_code == 303, booked.text
    [row] = site.rows()
    assert row.conversation == "mediator" and row.language == "de"
    [requested] = announced(site, "booking.requested")
    assert requested["conversation"] == "mediator"


def test_without_a_choice_the_search_and_booking_keep_to_the_clients_own_language(site: Site) -> None:
    days = site.post("/", {"lang": "de", "week": "0", "conversation": "own_language"})
    assert site.calendar.questions[-1]["language"] == "de"
    assert form_with(days.text, 'name="day"')[1]["conversation"] == "own_language"
    site.token(slot(0, 10).slot_id)  # a form from before the choice: no field at all
    site.token(slot(0, 11).slot_id, conversation="own_language", key="second-key-0123456789")
    assert [row.conversation for row in site.rows()] == ["own_language", "own_language"]


def test_a_thai_page_with_nobody_speaking_thai_offers_the_mediator_and_then_books(site: Site) -> None:
    site.calendar.speakers = {"de", "en"}
    days = site.post("/", {"lang": "th", "topic": "", "place": "", "week": "0", "conversation": "own_language"})
    assert days.status_code == 200 and day_buttons(days.text) == [] and radios(days.text) == []
    assert site.calendar.questions[-1]["language"] == "th"
    assert NOBODY_SPEAKS_THAI in visible_text(days.text)
    # One press: the same search again, with a mediator.
    action, fields = form_with(days.text, 'name="conversation" value="mediator"')
    offered = site.post(action, {**fields, "conversation": "mediator"})
    assert '<html lang="th">' in offered.text and day_buttons(offered.text)
    assert NOBODY_SPEAKS_THAI not in visible_text(offered.text)
    action, fields = form_with(offered.text, 'name="first"')
    times = site.post(action, {**fields, "first": slot(0, 10).slot_id})
    assert checked(times.text) == [slot(0, 10).slot_id]
    action, fields = form_with(times.text, 'name="slot_id"')
    booked = site.post(action, {**fields, "slot_id": slot(0, 10).slot_id, "phone": PHONE})
    assert booked.status_code == 303, booked.text
    [row] = site.rows()
    assert (row.language, row.conversation) == ("th", "mediator")
    manage = site.get(booked.headers["location"])
    assert "นัดหมายของคุณ" in manage.text
    manage_token = booked.headers["location"].removeprefix("/m/")
    site.decide(manage_token, BookingConfirmed(booking_id=site.booking_id(manage_token), slot=slot(0, 10),
                                               language="th"))
    # The client reads back how the talk will be held, next to the time and place.
    assert "เป็นภาษาเยอรมันหรืออังกฤษ โดยมีล่ามช่วยแปล" in visible_text(site.get(f"/m/{manage_token}").text)


@pytest.mark.parametrize("value", ["interpreter", "<b>", "own_language " * 3])
def test_an_unknown_conversation_is_named_at_its_field_and_books_nothing(site: Site, value: str) -> None:
    for answer in (site.post("/", {"lang": "de", "week": "0", "conversation": value}),
                   site.book(slot(0, 10).slot_id, conversation=value)):
        assert answer.status_code == 422, answer.text
        error = re.search(r'<p class="field-error" id="conversation-error">(.*?)</p>', answer.text, re.DOTALL)
        assert error and CHOOSE_CONVERSATION in error.group(1)
        assert 'aria-describedby="conversation-error"' in answer.text
        assert 'value="own_language" checked aria-invalid="true" autofocus' in answer.text
        assert "<b>" not in answer.text
    assert site.rows() == []
