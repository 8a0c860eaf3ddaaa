"""The SMS conversation's state machine (gateway.sms_conversation.machine) and its replies' length, without servers.

Issue "Lotse 6/7", "Booking by SMS": a list answered with a number books that time; a list past its timeout books
nothing; CANCEL asks first; what is not understood is answered once, never in a loop; every reply fits two SMS.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from gateway.sms_conversation.machine import Appointment, Conversation, Offer, offered, respond
from gateway.sms_conversation.repository import conversation_of, store
from gateway.sms_keywords import Intent
from gateway.tables import SmsConversation
from notifier.domain.texts import LANGUAGES, REPLY_KINDS, render_reply

from shared.crypto import new_token

NOW = datetime(2026, 10, 24, 22, 0, tzinfo=UTC)
TIMEOUT = timedelta(minutes=15)
OFFERS = [Offer(f"s2-1-1-1-{29_000_000 + n}", NOW + timedelta(days=1, hours=n), "Rostock 1") for n in range(3)]
APPOINTMENT = Appointment("7d0c1c9e-5a53-4d53-9b1c-2f7a7c1e0001", NOW + timedelta(days=2), "Rostock 1")
BERLIN = ZoneInfo("Europe/Berlin")


def listed(language: str | None = "de") -> Conversation:
    step = respond(Conversation(), Intent("book", language), NOW, TIMEOUT, None)
    assert step.offer_kind == "offer"
    return offered(step.conversation, OFFERS, "offer").conversation


def test_a_number_from_a_live_list_books_that_time() -> None:
    step = respond(listed(), Intent("number", None, 2), NOW + timedelta(minutes=14), TIMEOUT, None)
    assert step.book == OFFERS[1] and step.reply is None
    assert step.conversation.state == "idle" and step.conversation.language == "de"


def test_a_number_after_the_timeout_books_nothing_and_gets_fresh_times() -> None:
    step = respond(listed(), Intent("number", None, 2), NOW + TIMEOUT, TIMEOUT, None)
    assert step.book is None and step.offer_kind == "offer_again"


def test_a_number_beyond_the_list_is_not_understood() -> None:
    step = respond(listed(), Intent("number", None, 7), NOW, TIMEOUT, None)
    assert step.book is None and step.reply == "not_understood"


def test_cancel_asks_first_and_only_yes_cancels() -> None:
    asked = respond(Conversation(), Intent("cancel", "ro"), NOW, TIMEOUT, APPOINTMENT)
    assert asked.reply == "confirm_cancel" and asked.cancel is None and asked.appointment == APPOINTMENT
    yes = respond(asked.conversation, Intent("yes"), NOW + timedelta(minutes=1), TIMEOUT, APPOINTMENT)
    assert yes.cancel == APPOINTMENT and yes.reply == "cancel_requested"
    no = respond(asked.conversation, Intent("no", "ro"), NOW + timedelta(minutes=1), TIMEOUT, APPOINTMENT)
    assert no.cancel is None and no.reply == "cancel_kept"
    late = respond(asked.conversation, Intent("yes"), NOW + TIMEOUT, TIMEOUT, APPOINTMENT)
    assert late.cancel is None and late.reply == "not_understood"


@pytest.mark.parametrize("kind", ["change", "cancel"])
def test_change_or_cancel_without_an_appointment_says_so(kind: str) -> None:
    step = respond(Conversation(), Intent(kind), NOW, TIMEOUT, None)  # type: ignore[arg-type]
    assert step.reply == "no_appointment" and step.cancel is None


def moving_listed() -> Conversation:
    step = respond(Conversation(), Intent("change", "en"), NOW, TIMEOUT, APPOINTMENT)
    assert step.offer_kind == "move_offer" and step.appointment == APPOINTMENT and step.reply is None
    listed_step = offered(step.conversation, OFFERS, "move_offer")
    assert listed_step.reply == "move_offer" and listed_step.appointment == APPOINTMENT
    assert listed_step.conversation.state == "offered_move"
    return listed_step.conversation


def test_change_lists_the_times_the_next_appointment_may_move_to_and_a_number_moves_it() -> None:
    step = respond(moving_listed(), Intent("number", None, 3), NOW + timedelta(minutes=14), TIMEOUT, APPOINTMENT)
    assert step.move == OFFERS[2] and step.appointment == APPOINTMENT
    assert step.book is None and step.reply is None  # the notifier's "moved" notice is the answer
    assert step.conversation.state == "idle"


def test_a_number_after_the_move_list_timed_out_moves_nothing_and_gets_fresh_times_to_move_to() -> None:
    step = respond(moving_listed(), Intent("number", None, 1), NOW + TIMEOUT, TIMEOUT, APPOINTMENT)
    assert step.move is None and step.book is None
    assert step.offer_kind == "move_offer" and step.appointment == APPOINTMENT
    gone = respond(moving_listed(), Intent("number", None, 1), NOW + TIMEOUT, TIMEOUT, None)
    assert gone.move is None and gone.offer_kind is None and gone.reply == "no_appointment"


def test_a_number_beyond_the_move_list_is_not_understood() -> None:
    step = respond(moving_listed(), Intent("number", None, 4), NOW, TIMEOUT, APPOINTMENT)
    assert step.move is None and step.reply == "not_understood"


def test_change_with_no_time_free_to_move_to_sends_the_manage_link_and_keeps_the_appointment() -> None:
    step = respond(Conversation(), Intent("change", "en"), NOW, TIMEOUT, APPOINTMENT)
    nothing = offered(step.conversation, [], "move_offer")
    assert nothing.reply == "change_link" and nothing.appointment == APPOINTMENT and nothing.move is None


def test_a_refused_move_lists_fresh_times_for_the_same_appointment() -> None:
    refused = Conversation(language="pl", appointment=APPOINTMENT, expires_at=NOW + TIMEOUT)
    step = offered(refused, OFFERS[1:], "move_taken")
    assert step.reply == "move_taken" and step.conversation.state == "offered_move"
    again = respond(step.conversation, Intent("number", None, 1), NOW, TIMEOUT, APPOINTMENT)
    assert again.move == OFFERS[1] and again.appointment == APPOINTMENT


def test_gibberish_is_answered_once_per_timeout() -> None:
    first = respond(Conversation(), Intent("other"), NOW, TIMEOUT, None)
    assert first.reply == "not_understood"
    again = respond(first.conversation, Intent("other"), NOW + timedelta(minutes=5), TIMEOUT, None)
    assert again.reply is None
    later = respond(again.conversation, Intent("other"), NOW + TIMEOUT, TIMEOUT, None)
    assert later.reply == "not_understood"


def test_the_language_of_the_word_stays_with_the_conversation() -> None:
    conversation = listed("uk")
    step = respond(conversation, Intent("number", None, 1), NOW, TIMEOUT, None)
    assert step.conversation.language == "uk"


def test_a_search_with_nothing_free_says_so() -> None:
    assert offered(Conversation(), [], "offer").reply == "no_times"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_reply_fits_two_sms_with_the_longest_alias_and_link(language: str) -> None:
    alias = ("Neubrandenburg Süd Ost Côte " * 3)[:40]
    link = f"https://t{'x' * 17}.de/m/{new_token()}"
    for month in range(1, 13):
        start = datetime(2026, month, 7, 9, 5, tzinfo=BERLIN)
        times = [(start + timedelta(days=n), alias) for n in range(5)]
        for kind in REPLY_KINDS:
            rendered = render_reply(kind, language, BERLIN, times=times, starts_at=start, place=alias, link=link,
                                    also="en" if language == "de" else None)
            assert rendered.segments <= 2 and not rendered.fell_back, (kind, rendered.body)
            if kind in ("reply_offer", "reply_offer_again", "reply_taken", "reply_move_offer", "reply_move_taken"):
                assert "1) " in rendered.body  # at least the first time is always listed


def test_offered_times_are_numbered_and_discreet() -> None:
    times = [(datetime(2026, 12, 8, 10, 30, tzinfo=BERLIN), "Rostock 1"),
             (datetime(2026, 12, 9, 14, 0, tzinfo=BERLIN), "am Telefon")]
    body = render_reply("reply_offer", "de", BERLIN, times=times).body
    assert body == ("Freie Termine, antworten Sie mit der Nummer:\n"
                    "1) Di 08.12. 10:30, Rostock 1\n2) Mi 09.12. 14:00, am Telefon")


def test_a_stored_conversation_keeps_the_mediator_choice_of_its_times_and_the_move_it_waits_for() -> None:
    row = SmsConversation(conversation_id="c", phone_hash="h", phone_ciphertext="", state="idle", expires_at=NOW,
                          updated_at=NOW)
    mediated = [Offer(o.slot_id, o.starts_at, o.place, "th", "mediator") for o in OFFERS]
    conversation = Conversation(state="offered_move", language="th", offers=tuple(mediated),
                                appointment=APPOINTMENT, expires_at=NOW + TIMEOUT, moving="move-1")
    store(row, conversation, NOW)
    assert conversation_of(row) == conversation


def test_times_to_move_to_name_the_appointment_first_and_are_numbered_and_discreet() -> None:
    times = [(datetime(2026, 12, 9, 14, 0, tzinfo=BERLIN), "Rostock 1")]
    body = render_reply("reply_move_offer", "de", BERLIN, times=times,
                        starts_at=datetime(2026, 12, 8, 10, 30, tzinfo=BERLIN)).body
    assert body == ("Ihr Termin: Di 08.12. 10:30. Andere freie Termine, antworten Sie mit der Nummer:\n"
                    "1) Mi 09.12. 14:00, Rostock 1")
