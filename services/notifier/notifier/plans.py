"""Turning what is known about a booking into message rows: plan once both halves are here, re-plan on change.

A booking's messages are rows keyed `<booking>:…`. Re-planning upserts by key: a pending row moves, a row no
longer planned is cancelled, a row already sent is never touched, so a message can never be planned twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from notifier.domain.planning import (
    Planned,
    QuietHours,
    Rules,
    plan_confirmation,
    plan_notice,
    plan_reminders,
)
from notifier.repository import NotifierRepository
from notifier.tables import BookingFacts, Contact, Reminder
from shared.contracts import ContactPreferences, SafeWindow

# Rows the planner may move or revive; anything else (sending, sent, failed, unknown, skipped) is history.
_REPLANNABLE = ("pending", "cancelled")
_QUIET_AFTER_CONFIRMATION = timedelta(minutes=60)


@dataclass(frozen=True)
class Policy:
    zone: ZoneInfo
    quiet: QuietHours


def preferences_of(contact: Contact) -> ContactPreferences:
    window = SafeWindow.model_validate_json(contact.safe_window) if contact.safe_window else None
    return ContactPreferences(reminders=contact.reminders, safe_window=window)


def rules_for(contact: Contact, policy: Policy) -> Rules:
    return Rules(zone=policy.zone, quiet=policy.quiet, preferences=preferences_of(contact))


def confirmation_key(booking_id: str) -> str:
    return f"{booking_id}:confirmation"


def _generation_key(facts: BookingFacts, key: str) -> str:
    return f"{facts.booking_id}:g{facts.generation}:{key}"


def plan_booking(repo: NotifierRepository, booking_id: str, now: datetime, policy: Policy,
                 facts: BookingFacts | None = None, contact: Contact | None = None, first: bool = False) -> bool:
    """(Re)plan the confirmation and reminders of a confirmed booking whose contact is known.

    `facts`, `contact`: as the caller just read or wrote them in this transaction (saves the look-ups).
    `first`: the caller has just written the booking's facts, so no message of it can exist yet (nothing plans
    without facts, and facts are never deleted): the rows are inserted without looking for earlier ones.
    Returns True when a message may be due at once (the dispatcher is then worth running)."""
    facts = facts if facts is not None else repo.facts(booking_id)
    contact = contact if contact is not None else repo.contact(booking_id)
    if facts is None or contact is None or facts.status != "confirmed":
        return False
    rules = rules_for(contact, policy)
    confirmation = plan_confirmation(now, facts.starts_at)
    offsets = [int(m) for m in json.loads(facts.reminder_offsets)]
    rows = {} if first else repo.reminders_of(booking_id)
    # A reminder within the hour after the confirmation says nothing new (booked 2 h 5 min ahead: no 2 h reminder).
    existing = rows.get(confirmation_key(booking_id))
    confirmed_at = existing.due_at if existing is not None else confirmation.due_at
    reminders = [p for p in plan_reminders(facts.starts_at, offsets, now, rules)
                 if p.due_at > confirmed_at + _QUIET_AFTER_CONFIRMATION]
    wanted = {confirmation_key(booking_id): confirmation}
    wanted |= {_generation_key(facts, p.key): p for p in reminders}
    # The confirmation is planned once: a later re-plan (texts turned off, say) never sends or cancels it again.
    _upsert(repo, rows, booking_id, contact.language, wanted, now, keep_existing={confirmation_key(booking_id)},
            cancel_kinds=("reminder",), generation_prefix=f"{booking_id}:g{facts.generation}:")
    return any(p.due_at <= now for p in wanted.values())


def plan_change_notice(repo: NotifierRepository, facts: BookingFacts, kind: str, now: datetime, not_after: datetime,
                       policy: Policy) -> bool:
    """One neutral notice that the booking moved or was cancelled, at the earliest moment the client allows."""
    contact = repo.contact(facts.booking_id)
    if contact is None:
        return False
    planned = plan_notice(kind, now, not_after, rules_for(contact, policy))
    if planned is None:
        return False
    key = f"{facts.booking_id}:cancelled" if kind == "cancelled" else _generation_key(facts, kind)
    _upsert(repo, repo.reminders_of(facts.booking_id), facts.booking_id, contact.language, {key: planned}, now,
            keep_existing=set(), cancel_kinds=(), generation_prefix=None)
    return planned.due_at <= now


def cancel_pending(repo: NotifierRepository, booking_id: str, outcome: str,
                   kinds: Iterable[str] | None = None) -> None:
    for row in repo.pending_reminders_of(booking_id, kinds):
        row.status, row.outcome = "cancelled", outcome
        repo.save(row)


def _upsert(repo: NotifierRepository, existing: dict[str, Reminder], booking_id: str, language: str,
            wanted: dict[str, Planned], now: datetime, keep_existing: set[str], cancel_kinds: tuple[str, ...],
            generation_prefix: str | None) -> None:
    added = [{"key": key, "booking_id": booking_id, "kind": planned.kind, "language": language,
              "due_at": planned.due_at, "not_after": planned.not_after, "status": "pending", "attempts": 0,
              "created_at": now} for key, planned in wanted.items() if key not in existing]
    if added:
        repo.add_reminders(added)
    for key, planned in wanted.items():
        row = existing.get(key)
        if row is None:
            continue
        if key not in keep_existing and (row.status in _REPLANNABLE or
                                         (row.status == "skipped" and row.outcome == "opted_out")):
            row.status, row.outcome = "pending", None
            row.due_at, row.not_after, row.language = planned.due_at, planned.not_after, language
            repo.save(row)
    for key, row in existing.items():
        no_longer_planned = key not in wanted and row.kind in cancel_kinds and row.status == "pending"
        if no_longer_planned and (generation_prefix is None or key.startswith(generation_prefix)):
            row.status, row.outcome = "cancelled", "replanned"
            repo.save(row)
