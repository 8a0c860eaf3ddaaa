"""A phone appointment's number, shown once to its counsellor (issue 12): the staff page as a browser without
JavaScript sees it (the scheduler is the fake of our StaffClient port in tests/support/staff_pages, the notifier a
fake of the gateway's ContactNumbers port; sign-in is real), and the notifier's answer over the real contract, from a
real contact row on SQLite to the gateway's ContactNumbers opening it (a publisher that hands the question to the
notifier's handler in-process)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from fastapi.testclient import TestClient
from gateway.contact_numbers import ContactNumbers, NumberWithheld
from gateway.errors import SchedulerUnavailable
from gateway.slots import ReplyWaiter
from gateway.staff.audit_repository import AuditFilter
from gateway.staff_client import CalendarRefused
from notifier import contact_numbers
from notifier import migrations as notifier_migrations
from notifier.tables import Contact
from sqlalchemy import Engine
from sqlmodel import Session

from shared.contracts import ContactNumberAnswered, ContactNumberRequested, Envelope, parse, wrap
from shared.contracts.contact_numbers import reply_key_context, reveal_context
from shared.contracts.contacts import phone_context
from shared.contracts.staff import RefusalKind
from shared.crypto import DataCipher, DecryptionError, generate_box_key, generate_data_key
from shared.db import make_engine
from tests.support.staff_pages import NOW, StaffDesk, staff_desk, standard_calendar
from tests.unit.test_staff_pages import FORM_EXPIRED, seen, sign_in

PHONE = "+4915112348765"
PHONE_BOOKING = UUID(int=2)  # Anna's phone appointment today at 14:00 (standard_calendar)
OFFICE_BOOKING = UUID(int=1)  # Anna's office appointment today at 10:00
BOGDANS_BOOKING = UUID(int=9)
TODAY = "2025-03-31"
REPLY_TO = "gateway.replies.0123456789ab"


def number_url(booking: UUID) -> str:
    return f"/staff/appointments/{booking}/number"


@dataclass
class FakeNumbers:
    """The gateway's port to the notifier (gateway.contact_numbers.NumberSource), as the notifier answers."""

    numbers: dict[UUID, str] = field(default_factory=lambda: {PHONE_BOOKING: PHONE})
    down: bool = False
    withheld: str | None = None  # the notifier's refusal for every booking: unreadable, unverified
    asked: list[UUID] = field(default_factory=list)

    def number(self, booking_id: UUID) -> str:
        self.asked.append(booking_id)
        if self.down:
            raise SchedulerUnavailable("The text service did not answer in time.")
        if self.withheld:
            raise NumberWithheld(self.withheld)
        if booking_id not in self.numbers:
            raise NumberWithheld("no_contact")
        return self.numbers[booking_id]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("number-reveal")


@pytest.fixture(scope="module")
def desk(folder: Path) -> Iterator[StaffDesk]:
    with staff_desk(folder) as made:
        yield made


@pytest.fixture
def numbers(desk: StaffDesk) -> FakeNumbers:
    fake = FakeNumbers()
    desk.app.state.gateway.contact_numbers = fake
    return fake


@pytest.fixture
def browser(desk: StaffDesk, numbers: FakeNumbers) -> Iterator[TestClient]:
    desk.calendars.bookings = standard_calendar()
    desk.calendars.down = desk.calendars.broken = False
    with TestClient(desk.app, raise_server_exceptions=False, follow_redirects=False,
                    headers={"Accept-Language": "de-DE,de;q=0.9"}) as client:
        yield client


def reveal(browser: TestClient, csrf: str, booking: UUID = PHONE_BOOKING, **form: str) -> Any:
    return browser.post(number_url(booking), data={"csrf": csrf, "view": "day", "on": TODAY, **form})


def audit_rows(desk: StaffDesk, booking: UUID | None = None) -> list[Any]:
    rows, _ = desk.accounts.audit.page(AuditFilter(action="contact_number_shown",
                                                   target_id=str(booking) if booking else None), None, 100)
    return rows


# --- the page ------------------------------------------------------------------------------------------------------

def test_the_day_offers_a_button_for_the_phone_appointment_only(browser: TestClient) -> None:
    sign_in(browser)
    page = browser.get("/staff").text

    assert f'<form method="post" action="{number_url(PHONE_BOOKING)}"' in page
    assert number_url(OFFICE_BOOKING) not in page
    assert "Nummer der Person zeigen" in page
    assert f'href="{number_url(PHONE_BOOKING)}' not in page  # never a link: nothing lands in the history


def test_the_counsellor_sees_the_number_once_it_is_recorded_and_kept_nowhere(
        browser: TestClient, desk: StaffDesk, numbers: FakeNumbers, caplog: pytest.LogCaptureFixture,
        folder: Path) -> None:
    csrf = sign_in(browser)
    before = len(audit_rows(desk, PHONE_BOOKING))  # the desk is the module's: other tests' rows may be there
    with caplog.at_level(logging.DEBUG):
        answer = reveal(browser, csrf)

    assert answer.status_code == 200
    text = seen(answer)  # no-store, strict CSP
    assert f'<a href="tel:{PHONE}">{PHONE}</a>' in answer.text
    assert "Telefontermin am Montag, 31. März um 14:00–15:00." in text
    assert "Sie wird nicht gespeichert" in text and "steht im Audit-Log" in text
    assert numbers.asked == [PHONE_BOOKING]
    assert "location" not in answer.headers and PHONE not in str(answer.headers) and PHONE not in str(answer.url)
    assert all(PHONE not in cookie and PHONE[3:] not in cookie for cookie in answer.headers.get_list("set-cookie"))
    assert "a client's number was shown to its counsellor" in caplog.text  # the one line, and it is not in it
    assert PHONE not in caplog.text and PHONE[3:] not in caplog.text
    row, *_ = audit_rows(desk, PHONE_BOOKING)
    assert len(audit_rows(desk, PHONE_BOOKING)) == before + 1
    assert (row.username, row.outcome, row.target_kind) == ("anna", "ok", "booking")
    assert row.at == desk.clock()
    assert PHONE[3:] not in repr(row)
    # Not in the gateway's database either, in any of its files.
    files = list(folder.glob("gateway.sqlite*"))
    assert files
    for path in files:
        assert PHONE[3:].encode() not in path.read_bytes()
    # Reloading is a new form post (browsers ask first), never a cached copy; in English the same.
    again = reveal(browser, csrf, lang="en")
    assert "The number is shown only on this page, this once: it is not stored" in seen(again)
    assert len(audit_rows(desk, PHONE_BOOKING)) == before + 2


def test_another_counsellors_booking_is_refused_and_the_notifier_not_asked(browser: TestClient, desk: StaffDesk,
                                                                          numbers: FakeNumbers) -> None:
    csrf = sign_in(browser, "bogdan")
    answer = reveal(browser, csrf)

    assert answer.status_code == 403
    assert "Dieser Termin steht im Kalender einer anderen Beratungsperson." in seen(answer)
    assert PHONE not in answer.text and numbers.asked == []
    newest = audit_rows(desk, PHONE_BOOKING)[0]
    assert (newest.username, newest.outcome, newest.detail_json) == ("bogdan", "refused", '{"code":"not_own_booking"}')


def test_an_admin_is_refused_with_a_sentence(browser: TestClient, desk: StaffDesk, numbers: FakeNumbers) -> None:
    from tests.unit.test_staff_calendar_pages import sign_in_admin

    csrf = sign_in_admin(browser, desk)
    answer = reveal(browser, csrf)

    assert answer.status_code == 403
    assert "Admins nicht" in seen(answer) and numbers.asked == []


@pytest.mark.parametrize(("booking", "status", "says"), [
    (OFFICE_BOOKING, 409, "Das ist kein Telefontermin"),
    (BOGDANS_BOOKING, 403, "im Kalender einer anderen Beratungsperson"),
])
def test_an_office_or_foreign_booking_is_refused(browser: TestClient, numbers: FakeNumbers, booking: UUID,
                                                 status: int, says: str) -> None:
    answer = reveal(browser, sign_in(browser), booking)

    assert answer.status_code == status
    assert says in seen(answer) and numbers.asked == []


def test_an_appointment_moved_to_another_week_is_still_shown_to_its_counsellor(
        browser: TestClient, desk: StaffDesk, numbers: FakeNumbers) -> None:
    later = datetime(2025, 4, 16, 12, 0, tzinfo=UTC)  # Wednesday two weeks on, 14:00 in Berlin
    desk.calendars.bookings = [
        (owner, b.model_copy(update={"start": later, "end": later + timedelta(hours=1)})
         if b.booking_id == PHONE_BOOKING else b) for owner, b in desk.calendars.bookings]
    answer = reveal(browser, sign_in(browser))  # the form of the day it was on before it moved

    assert answer.status_code == 200
    assert f'<a href="tel:{PHONE}">{PHONE}</a>' in answer.text
    assert "Telefontermin am Mittwoch, 16. April um 14:00–15:00." in seen(answer)
    assert numbers.asked == [PHONE_BOOKING]
    assert audit_rows(desk, PHONE_BOOKING)[0].outcome == "ok"


def test_a_booking_the_calendar_does_not_know_is_a_404_sentence_and_recorded(
        browser: TestClient, desk: StaffDesk, numbers: FakeNumbers) -> None:
    gone = UUID(int=77)
    answer = reveal(browser, sign_in(browser), gone)

    assert answer.status_code == 404
    assert "Diesen Termin gibt es nicht (mehr)." in seen(answer) and numbers.asked == []
    assert audit_rows(desk, gone)[0].detail_json == '{"code":"unknown_booking"}'


def test_a_cancelled_phone_appointment_shows_no_number(browser: TestClient, desk: StaffDesk,
                                                       numbers: FakeNumbers) -> None:
    desk.calendars.bookings = [(owner, b.model_copy(update={"status": "cancelled"}) if b.booking_id == PHONE_BOOKING
                                else b) for owner, b in desk.calendars.bookings]
    answer = reveal(browser, sign_in(browser))

    assert answer.status_code == 409
    assert "nicht mehr bestätigt" in seen(answer) and numbers.asked == []


def test_a_silent_notifier_is_a_503_with_a_sentence_and_recorded_unanswered(browser: TestClient, desk: StaffDesk,
                                                                           numbers: FakeNumbers) -> None:
    numbers.down = True
    answer = reveal(browser, sign_in(browser))

    assert answer.status_code == 503 and answer.headers["retry-after"] == "60"
    assert "Der SMS-Dienst antwortet gerade nicht" in seen(answer)
    assert audit_rows(desk, PHONE_BOOKING)[0].outcome == "unanswered"


def test_a_silent_calendar_is_a_503_and_the_notifier_is_not_asked(browser: TestClient, desk: StaffDesk,
                                                                  numbers: FakeNumbers) -> None:
    desk.calendars.down = True
    answer = reveal(browser, sign_in(browser))

    assert answer.status_code == 503
    assert "Der Kalender antwortet gerade nicht" in seen(answer) and numbers.asked == []


def test_a_booking_read_that_failed_in_the_scheduler_is_a_503_and_the_notifier_is_not_asked(
        browser: TestClient, desk: StaffDesk, numbers: FakeNumbers, monkeypatch: pytest.MonkeyPatch) -> None:
    def failed(*_: object) -> None:
        raise CalendarRefused(RefusalKind.FAILED, "internal_error", "Something went wrong in the calendar.")

    csrf = sign_in(browser)
    monkeypatch.setattr(desk.calendars, "ask", failed)
    answer = reveal(browser, csrf)

    assert answer.status_code == 503
    assert "Der Kalender antwortet gerade nicht" in seen(answer) and numbers.asked == []


def test_no_contact_any_more_is_said_in_words(browser: TestClient, desk: StaffDesk, numbers: FakeNumbers) -> None:
    numbers.numbers.clear()  # never given, erased by the client, or past retention
    answer = reveal(browser, sign_in(browser))

    assert answer.status_code == 404
    assert "Zu diesem Termin gibt es keine Nummer" in seen(answer)
    assert audit_rows(desk, PHONE_BOOKING)[0].detail_json == '{"code":"no_contact"}'


@pytest.mark.parametrize("reason", ["unreadable", "unverified"])
def test_a_number_the_notifier_cannot_give_is_a_409_sentence_for_an_admin(browser: TestClient, desk: StaffDesk,
                                                                          numbers: FakeNumbers, reason: str) -> None:
    numbers.withheld = reason
    answer = reveal(browser, sign_in(browser))

    assert answer.status_code == 409
    assert "Bitte geben Sie einem Admin Bescheid." in seen(answer)
    assert audit_rows(desk, PHONE_BOOKING)[0].detail_json == f'{{"code":"{reason}"}}'


def test_a_get_is_not_allowed(browser: TestClient, numbers: FakeNumbers) -> None:
    sign_in(browser)
    assert browser.get(number_url(PHONE_BOOKING)).status_code == 405
    assert numbers.asked == []


@pytest.mark.parametrize("csrf", ["", "not-the-sessions-token"])
def test_a_form_without_the_sessions_token_is_refused(browser: TestClient, numbers: FakeNumbers, csrf: str) -> None:
    sign_in(browser)
    answer = reveal(browser, csrf)

    assert answer.status_code == 403
    assert FORM_EXPIRED in seen(answer) and numbers.asked == []


def test_without_a_session_the_form_goes_to_sign_in(browser: TestClient, numbers: FakeNumbers) -> None:
    answer = reveal(browser, "whatever")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
    assert numbers.asked == []


def test_a_booking_id_that_is_none_is_a_404_sentence(browser: TestClient, numbers: FakeNumbers) -> None:
    answer = browser.post("/staff/appointments/not-a-booking/number", data={"csrf": sign_in(browser)})
    assert answer.status_code == 404
    assert "Diesen Termin gibt es nicht (mehr)." in seen(answer) and numbers.asked == []


# --- the notifier's answer, over the contract -------------------------------------------------------------------------

class InProcessNotifier:
    """A publisher that hands the question to the notifier's handler and its answer to the gateway's waiter."""

    def __init__(self, engine: Engine, cipher: DataCipher, waiter: ReplyWaiter) -> None:
        self.engine, self.cipher, self.waiter, self.silent = engine, cipher, waiter, False
        self.wires: list[dict[str, Any]] = []

    def publish(self, wire: dict[str, Any], routing_key: str, expires: float | None = None) -> None:
        self.wires.append(wire)
        if self.silent:
            return

        def reply(to: str, answer: Envelope) -> None:
            assert to == REPLY_TO
            self.wires.append(answer.to_wire())
            self.waiter.resolve(answer.correlation_id, answer.to_wire())

        with Session(self.engine) as session:
            contact_numbers.answer_number(parse(wire), session, self.cipher, reply)


@dataclass
class Line:
    numbers: ContactNumbers
    notifier: InProcessNotifier
    engine: Engine
    cipher: DataCipher


@pytest.fixture
def line(tmp_path: Path) -> Iterator[Line]:
    engine = make_engine(f"sqlite:///{tmp_path / 'notifier.sqlite'}")
    notifier_migrations.upgrade(engine)
    cipher = DataCipher.from_text(generate_data_key())  # shared by gateway and notifier, as DATA_KEY is
    waiter = ReplyWaiter()
    notifier = InProcessNotifier(engine, cipher, waiter)
    yield Line(ContactNumbers(notifier, waiter, REPLY_TO, 0.2, cipher), notifier, engine,  # type: ignore[arg-type]
               cipher)
    engine.dispose()


def add_contact(line: Line, booking: UUID) -> None:
    with Session(line.engine) as session:
        sealed = line.cipher.encrypt(PHONE, phone_context(booking))  # as the notifier stores it, under DATA_KEY
        session.add(Contact(booking_id=str(booking), phone_ciphertext=sealed,
                            phone_hash=line.cipher.lookup_hash(PHONE), manage_token_ciphertext="v1.k1.AA.AA",
                            language="de", purge_after=NOW))
        session.commit()


def test_the_notifier_answers_the_bookings_number_sealed_for_the_asking_request_only(
        line: Line, caplog: pytest.LogCaptureFixture) -> None:
    booking, other = uuid4(), uuid4()
    add_contact(line, booking)
    add_contact(line, other)

    with caplog.at_level(logging.DEBUG):
        assert line.numbers.number(booking) == PHONE
        assert line.numbers.number(booking) == PHONE  # read-only: asked again, the same

    question, answer = (parse(wire) for wire in line.notifier.wires[:2])
    assert isinstance(question.payload, ContactNumberRequested) and question.payload.booking_id == booking
    assert isinstance(answer.payload, ContactNumberAnswered) and answer.payload.phone is not None
    assert all(PHONE[3:] not in str(wire) for wire in line.notifier.wires)  # sealed on the broker both ways
    with pytest.raises(DecryptionError):  # not the data key: only the question's own key opens it
        line.cipher.decrypt(answer.payload.phone, reveal_context(booking, question.payload.request_id))
    assert PHONE not in caplog.text and PHONE[3:] not in caplog.text and str(booking) not in caplog.text
    with Session(line.engine) as session:
        assert session.get(Contact, str(booking)) is not None  # nothing changed, nothing deleted


def test_no_contact_for_the_booking_is_a_refusal_with_its_reason(line: Line) -> None:
    add_contact(line, uuid4())  # someone else's
    with pytest.raises(NumberWithheld) as withheld:
        line.numbers.number(uuid4())
    assert withheld.value.code == "no_contact" and withheld.value.status == 404


def test_a_question_not_sealed_under_the_data_key_is_refused(line: Line) -> None:
    booking = uuid4()
    add_contact(line, booking)
    stranger = DataCipher.from_text(generate_data_key())  # someone on the broker without DATA_KEY
    request_id = uuid4()
    asked = ContactNumberRequested(request_id=request_id, booking_id=booking, reply_to=REPLY_TO,
                                   reply_key=stranger.encrypt(generate_box_key()[1],
                                                              reply_key_context(booking, request_id)))
    answers: list[Envelope] = []
    with Session(line.engine) as session:
        contact_numbers.answer_number(wrap(asked, request_id.hex), session, line.cipher,
                                      lambda _to, answer: answers.append(answer))
    [answer] = answers
    assert isinstance(answer.payload, ContactNumberAnswered)
    assert (answer.payload.phone, answer.payload.refused) == (None, "unverified")


def test_a_silent_notifier_is_scheduler_unavailable(line: Line) -> None:
    line.notifier.silent = True
    with pytest.raises(SchedulerUnavailable, match="The text service did not answer in time"):
        line.numbers.number(uuid4())
