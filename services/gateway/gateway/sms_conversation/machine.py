"""The SMS conversation as a state machine (pure: no I/O, no clock of its own).

idle ── book ──► offered ── a number ──► (booking asked for) idle
  │                 └── timeout ──► idle (a number then gets fresh times, never a booking from an old list)
  ├── change ──► offered_move ── a number ──► (move asked for) idle; the notifier's "moved" notice confirms
  │                 └── timeout ──► idle (a number then gets fresh times to move to, never a move from an old list)
  └── cancel ──► confirm_cancel ── yes ──► (cancellation asked for) idle / ── no ──► idle

Whatever is not understood is answered once per timeout, never again, so that two machines (or a confused client)
cannot ping-pong texts. Replies are kinds (shared.contracts.sms.ReplyKind), never text.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from gateway.sms_keywords import Intent
from shared.contracts import Conversation as Conversation_
from shared.contracts.sms import ReplyKind

State = Literal["idle", "offered", "offered_move", "confirm_cancel"]
# How many times one list offers: more do not fit two SMS in Cyrillic or Thai.
MAX_OFFERS = 5


@dataclass(frozen=True)
class Offer:
    """A time listed to the client: the slot it books, and what the client saw (time, place alias)."""

    slot_id: str
    starts_at: datetime
    place: str
    language: str = "de"  # the client's language: the booking's (and its texts')
    # own_language: the slot's counsellor speaks `language`; mediator: found without it (no counsellor speaks it)
    conversation: Conversation_ = "own_language"


@dataclass(frozen=True)
class Appointment:
    """The client's next appointment, as the gateway knows it from the scheduler's confirmation."""

    booking_id: str
    starts_at: datetime
    place: str


@dataclass(frozen=True)
class Conversation:
    state: State = "idle"
    language: str | None = None
    offers: tuple[Offer, ...] = ()
    appointment: Appointment | None = None  # confirm_cancel: the one to cancel; offered_move: the one to move
    expires_at: datetime | None = None
    not_understood_at: datetime | None = None
    moving: str | None = None  # the move id of the last move asked by SMS: its refusal is answered by SMS


@dataclass(frozen=True)
class Step:
    """What to do with one text: the next conversation, and at most one of: a reply, a search whose result is
    offered with `offer_kind` (for "move_offer": times `appointment` may move to), a booking of `book`, a
    cancellation of `cancel`, a move of `appointment` to `move`."""

    conversation: Conversation
    reply: ReplyKind | None = None
    appointment: Appointment | None = None  # what the reply is about
    offer_kind: ReplyKind | None = None
    book: Offer | None = None
    cancel: Appointment | None = None
    move: Offer | None = None


def respond(conversation: Conversation, intent: Intent, now: datetime, timeout: timedelta,
            next_appointment: Appointment | None) -> Step:
    """The step for `intent` (never stop/start: those are answered by the notifier's opt-out path)."""
    live = conversation.expires_at is not None and now < conversation.expires_at
    had_offers = conversation.state == "offered"
    had_move_offers = conversation.state == "offered_move"
    current = conversation if live else replace(conversation, state="idle", offers=(), appointment=None)
    current = replace(current, language=intent.language or conversation.language)
    awaiting = replace(current, expires_at=now + timeout)
    idle = replace(awaiting, state="idle", offers=(), appointment=None)

    if intent.kind == "book":
        return Step(idle, offer_kind="offer")
    if intent.kind == "number" and intent.number is not None:
        if current.state == "offered" and intent.number <= len(current.offers):
            return Step(idle, book=current.offers[intent.number - 1])
        if current.state == "offered_move" and current.appointment is not None \
                and intent.number <= len(current.offers):
            return Step(idle, move=current.offers[intent.number - 1], appointment=current.appointment)
        if current.state == "idle" and had_move_offers:
            # The list to move to ran out: fresh times for the appointment as it is now (if it still is).
            if next_appointment is None:
                return Step(idle, reply="no_appointment")
            return Step(replace(idle, appointment=next_appointment), offer_kind="move_offer",
                        appointment=next_appointment)
        if current.state == "idle" and (intent.number == 1 or had_offers):
            # "1" is how the flyer says "an appointment"; any number after a list has run out gets fresh times.
            return Step(idle, offer_kind="offer_again" if had_offers else "offer")
    if intent.kind in ("change", "cancel"):
        if next_appointment is None:
            return Step(idle, reply="no_appointment")
        if intent.kind == "change":
            return Step(replace(idle, appointment=next_appointment), offer_kind="move_offer",
                        appointment=next_appointment)
        return Step(replace(idle, state="confirm_cancel", appointment=next_appointment), reply="confirm_cancel",
                    appointment=next_appointment)
    if intent.kind in ("yes", "no") and current.state == "confirm_cancel" and current.appointment is not None:
        if intent.kind == "yes":
            return Step(idle, reply="cancel_requested", appointment=current.appointment,
                        cancel=current.appointment)
        return Step(idle, reply="cancel_kept", appointment=current.appointment)
    if intent.kind == "help":
        return Step(awaiting, reply="help")
    return not_understood(current, now, timeout)


def not_understood(conversation: Conversation, now: datetime, timeout: timedelta) -> Step:
    """One helpful reply, then silence until the timeout has passed since it."""
    last = conversation.not_understood_at
    if last is not None and now < last + timeout:
        return Step(conversation)
    return Step(replace(conversation, not_understood_at=now,
                        expires_at=max(conversation.expires_at or now, now + timeout)),
                reply="not_understood")


def offered(conversation: Conversation, offers: list[Offer], kind: ReplyKind) -> Step:
    """A search came back: list its times (numbered from 1), or say that nothing is free. Times to move
    `conversation.appointment` to ("move_offer", "move_taken"): with none free, the link to the manage page, where
    other days can be looked at; the appointment stays as it is."""
    moving = kind in ("move_offer", "move_taken") and conversation.appointment is not None
    if not offers:
        if moving:
            return Step(replace(conversation, state="idle", offers=()), reply="change_link",
                        appointment=conversation.appointment)
        return Step(replace(conversation, state="idle", offers=(), appointment=None), reply="no_times")
    state: State = "offered_move" if moving else "offered"
    return Step(replace(conversation, state=state, offers=tuple(offers[:MAX_OFFERS])), reply=kind,
                appointment=conversation.appointment if moving else None)
