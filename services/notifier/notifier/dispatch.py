"""The dispatcher: claims due messages, renders them and hands them to the SMS provider, once.

A message is claimed (pending → sending) and its delivery row written (queued) in one committed transaction
before the provider is called, so no second dispatcher, retry or redelivery can send it again. If the process
dies during the provider call the delivery stays `queued`: its outcome is unknown, and it is reconciled with the
provider (or settled by the provider's status callback, which carries the delivery's ref), never resent blindly.

Sending is paced to SMS_RATE_PER_SECOND in order of due time. Only one dispatcher loop sends at a time (a lock in
the process, an advisory lock across processes on PostgreSQL): the limit is per sender, not per process. The
claim itself never relies on that lock: rows are claimed with FOR UPDATE SKIP LOCKED (PostgreSQL) or under
SQLite's write lock, so two dispatchers can never claim the same row.
"""

from __future__ import annotations

import logging
import math
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, bindparam, text, update
from sqlmodel import Session, col, delete, select

from notifier import deliveries
from notifier.domain import texts
from notifier.domain.planning import recheck
from notifier.plans import Policy, rules_for
from notifier.sms import SendFailed, SendOutcomeUnknown, SendResult, SmsSender
from notifier.tables import BookingFacts, Contact, Delivery, OptOut, Reminder
from shared.contracts.contacts import manage_token_context, phone_context
from shared.crypto import DataCipher
from shared.db import is_postgres
from shared.logging import correlation_id
from shared.phones import mask_phone

log = logging.getLogger(__name__)

_LOCK_KEY = 0x4C6F747367  # one sending loop per notifier database on PostgreSQL
_WINDOW_KINDS = ("reminder", "rescheduled", "cancelled")  # what the client's safe window and quiet hours govern
_UNSETTLED_AFTER = timedelta(minutes=2)  # a send that has not reported back after this is asked about
_GIVE_UP_ASKING_AFTER = timedelta(minutes=15)
_GATHER_SECONDS = 0.05  # a woken dispatch waits this long, so that messages made due together share one claim
_CATCH_UP_SECONDS = 0.5  # pacing: a pause up to this long is made up by sending at once


@dataclass(frozen=True)
class DispatchConfig:
    rate_per_second: float  # 0: no limit
    max_attempts: int
    signature: str
    public_base_url: str
    batch: int = 100
    send_threads: int = 8  # provider calls in flight when the rate is not limited (they wait on the network)


@dataclass(frozen=True)
class _Job:
    reminder_id: int
    delivery_id: int
    ref: str
    booking_id: str | None
    kind: str
    language: str
    phone_ciphertext: str
    phone_context: str
    token_ciphertext: str | None
    starts_at: datetime | None
    place_alias: str | None


@dataclass(frozen=True)
class _Outcome:
    job: _Job
    result: SendResult | None = None
    refused: SendFailed | None = None
    unknown: bool = False
    to_masked: str = ""
    segments: int = 0
    render_failed: bool = False


class Dispatcher:
    def __init__(self, engine: Engine, cipher: DataCipher, sender: SmsSender, policy: Policy, config: DispatchConfig,
                 clock: Callable[[], datetime], sleep: Callable[[float], None] = time.sleep,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.engine = engine
        self.cipher = cipher
        self.sender = sender
        self.policy = policy
        self.config = config
        self.clock = clock
        self.sleep = sleep
        self.monotonic = monotonic  # the pacing's time line (a test gives one that its sleep advances)
        self._loop = threading.Lock()
        self._next_send = 0.0  # monotonic time the next paced send may start
        self._pool = ThreadPoolExecutor(max_workers=config.send_threads, thread_name_prefix="sms-send")
        self._woken: threading.Event | None = None

    # --- after a handler made something due ----------------------------------------------------------------------

    def start_background(self) -> None:
        """In the worker: a thread of its own sends what handlers made due, so that a consumer never waits for the
        provider or the rate limit, and messages made due together go out in one claim (under load, one claim
        serves many bookings instead of one each)."""
        self._woken = threading.Event()
        threading.Thread(target=self._send_when_woken, name="dispatch-woken", daemon=True).start()

    def wake(self, max_seconds: float = 0.0) -> int:
        """After a handler's commit, and the beat's periodic tick. In a worker it only wakes the dispatch thread, so
        the caller (a consumer thread) is never held by a send loop; without that thread (tests, tools) it sends at
        once in the caller's thread: one batch, or for up to max_seconds while messages are due."""
        if self._woken is None:
            return self.dispatch_due(max_seconds=max_seconds)
        self._woken.set()
        return 0

    def _send_when_woken(self) -> None:
        assert self._woken is not None
        while True:
            self._woken.wait()
            time.sleep(_GATHER_SECONDS)
            self._woken.clear()
            try:
                # Until nothing is due: a loop that stopped at a deadline would leave a gap until the next tick,
                # and with the rate limit on, that tick may go to a worker that finds the sender's lock still held
                # and returns (two workers, 50/s: 41.9/s achieved, pauses up to 1 s).
                self.dispatch_due(max_seconds=math.inf)
            except Exception:  # the beat's next tick sends what this missed
                log.exception("dispatch after a wake failed")

    @property
    def zone(self) -> ZoneInfo:
        return self.policy.zone

    # --- the loop ------------------------------------------------------------------------------------------------

    def dispatch_due(self, max_seconds: float = 0.0) -> int:
        """Send what is due now. With max_seconds, keep going while more falls due or waits for the rate limit;
        otherwise one batch (after a handler's commit, so a confirmation leaves at once)."""
        sent = 0
        with self._exclusive() as mine:
            if not mine:
                return 0  # another loop is sending; it will pick these up in order of due time
            deadline = time.monotonic() + max_seconds
            while True:
                jobs = self._claim(self._batch_size())
                sent += self._send_all(jobs)
                if not jobs or time.monotonic() >= deadline:
                    break
        return sent

    def _batch_size(self) -> int:
        # Paced: claim about one second of sends at a time, so that a crash leaves few messages unsettled.
        rate = self.config.rate_per_second
        return self.config.batch if rate <= 0 else max(1, min(self.config.batch, math.ceil(rate)))

    @contextmanager
    def _exclusive(self) -> Iterator[bool]:
        if not self._loop.acquire(blocking=False):
            yield False
            return
        try:
            if not is_postgres(self.engine) or self.config.rate_per_second <= 0:
                # Without a rate there is nothing to share between processes: their claims never overlap.
                yield True
                return
            with self.engine.connect() as connection:
                got = bool(connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": _LOCK_KEY}).scalar())
                connection.commit()
                try:
                    yield got
                finally:
                    if got:
                        connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _LOCK_KEY})
                        connection.commit()
        finally:
            self._loop.release()

    # --- claiming ------------------------------------------------------------------------------------------------

    def _claim(self, limit: int) -> list[_Job]:
        now = self.clock()
        with Session(self.engine, expire_on_commit=False) as session:
            query = (select(Reminder).where(Reminder.status == "pending", col(Reminder.due_at) <= now)
                     .order_by(col(Reminder.due_at), col(Reminder.id)).limit(limit))
            if is_postgres(self.engine):
                query = query.with_for_update(skip_locked=True)
            rows = list(session.exec(query))
            booking_ids = [r.booking_id for r in rows if r.booking_id]
            contacts = {c.booking_id: c for c in session.exec(
                select(Contact).where(col(Contact.booking_id).in_(booking_ids)))} if booking_ids else {}
            facts = {f.booking_id: f for f in session.exec(
                select(BookingFacts).where(col(BookingFacts.booking_id).in_(booking_ids)))} if booking_ids else {}
            hashes = [c.phone_hash for c in contacts.values()]
            opted_out = set(session.exec(select(OptOut.phone_hash).where(
                col(OptOut.phone_hash).in_(hashes), OptOut.opted_out == True))) if hashes else set()  # noqa: E712
            claimed = []
            for row in rows:
                delivery = self._decide(session, row, contacts, facts, opted_out, now)
                if delivery is not None:
                    claimed.append((row, delivery))
            # One flush for the batch (the deliveries' ids come back from one multi-row INSERT): a flush per row
            # cost two round trips each and was half the time of a burst.
            session.flush()
            jobs = [job for row, delivery in claimed if (job := self._job_for(session, row, delivery)) is not None]
            session.commit()
            return jobs

    def _decide(self, session: Session, row: Reminder, contacts: dict[str, Contact],
                facts_by_id: dict[str, BookingFacts], opted_out: set[str], now: datetime) -> Delivery | None:
        def skip(outcome: str) -> None:
            row.status, row.outcome = "skipped", outcome
            session.add(row)
            log.info("%s message not sent: %s", row.kind, outcome)

        if now > row.not_after:
            skip("too_late")  # never late: past this moment the message would only confuse
            return None
        contact = contacts.get(row.booking_id) if row.booking_id else None
        facts = facts_by_id.get(row.booking_id) if row.booking_id else None
        if row.booking_id is not None:
            if contact is None or facts is None:
                skip("no_contact")
                return None
            if contact.phone_hash in opted_out:
                skip("opted_out")
                return None
            if contact.unreachable in ("invalid_number", "unreachable"):
                skip(contact.unreachable)
                return None
            wanted_status = "cancelled" if row.kind == "cancelled" else "confirmed"
            if facts.status != wanted_status:
                skip(f"booking_{facts.status}")
                return None
            if row.kind in _WINDOW_KINDS:
                if not contact.reminders:
                    skip("texts_off")
                    return None
                # The plan honoured quiet hours and the client's window; a dispatcher running late must too.
                moment = recheck(row.due_at, row.not_after, now, rules_for(contact, self.policy))
                if moment is None:
                    skip("no_safe_time")
                    return None
                if moment > now:
                    row.due_at = moment
                    session.add(row)
                    return None
        row.status, row.attempts = "sending", row.attempts + 1
        session.add(row)
        delivery = Delivery(reminder_id=row.id or 0, attempt=row.attempts, booking_id=row.booking_id,
                            ref=secrets.token_urlsafe(16), provider=self.sender.name, status="queued",
                            created_at=now, updated_at=now)
        session.add(delivery)
        return delivery

    # --- sending -------------------------------------------------------------------------------------------------

    def _send_all(self, jobs: list[_Job]) -> int:
        if not jobs:
            return 0
        if self.config.rate_per_second > 0:
            outcomes = []
            for job in jobs:
                self._wait_for_turn()
                outcomes.append(self._send(job))
        else:
            outcomes = []
            # As many as there are send threads at a time, each marked requested (one statement for all) just
            # before the threads take them: every marked message is then really on its way to the provider.
            width = self.config.send_threads
            for chunk in (jobs[i:i + width] for i in range(0, len(jobs), width)):
                marked = self._mark_requested_all([job.delivery_id for job in chunk])
                outcomes += [_Outcome(job, unknown=True) for job in chunk if job.delivery_id not in marked]
                outcomes += self._pool.map(partial(self._send, marked=True),
                                           [job for job in chunk if job.delivery_id in marked])
        self._record(outcomes)
        return sum(1 for o in outcomes if o.result is not None)

    def _wait_for_turn(self) -> None:
        interval = 1.0 / self.config.rate_per_second
        now = self.monotonic()
        if self._next_send > now:
            self.sleep(self._next_send - now)
        # A short pause (claiming and recording between batches, the next tick) is made up, or the rate would fall
        # short by that much; after a longer one the schedule starts afresh, so no burst follows an idle spell.
        behind = now - self._next_send
        self._next_send = (now if behind > _CATCH_UP_SECONDS else self._next_send) + interval

    def body_of(self, job: _Job, phone: str) -> texts.Rendered:
        link = None
        if job.token_ciphertext is not None and job.booking_id is not None:
            token = self.cipher.decrypt(job.token_ciphertext, manage_token_context(UUID(job.booking_id)))
            link = f"{self.config.public_base_url}/m/{token}"
        return texts.render(job.kind, job.language, starts_at=job.starts_at, place=job.place_alias, link=link,
                            zone=self.zone, signature=self.config.signature)

    def _send(self, job: _Job, marked: bool = False) -> _Outcome:
        token = correlation_id.set(job.booking_id or job.ref)
        try:
            phone = self.cipher.decrypt(job.phone_ciphertext, job.phone_context)
            try:
                rendered = self.body_of(job, phone)
            except Exception:
                log.exception("ALERT %s message in %s could not be rendered, not even in English: not sent",
                              job.kind, job.language)
                return _Outcome(job, render_failed=True)
            masked = mask_phone(phone)
            if not marked and not self._mark_requested_all([job.delivery_id]):
                # Released by reconciliation (this process looked dead): whoever claims it again sends it.
                log.warning("%s message was released before it was requested: not sent here", job.kind)
                return _Outcome(job, unknown=True)
            try:
                result = self.sender.send(phone, rendered.body, job.ref)
            except SendFailed as refused:
                return _Outcome(job, refused=refused, to_masked=masked, segments=rendered.segments)
            except SendOutcomeUnknown:
                log.warning("%s message: no answer from %s; its outcome is asked later, it is not resent", job.kind,
                            self.sender.name)
                return _Outcome(job, unknown=True)
            except Exception:
                log.exception("%s message: outcome unknown, left for reconciliation", job.kind)
                return _Outcome(job, unknown=True)
            log.info("%s message handed to %s (%s, %d segment(s))", job.kind, self.sender.name, rendered.encoding,
                     rendered.segments)
            return _Outcome(job, result=result, to_masked=masked, segments=rendered.segments)
        finally:
            correlation_id.reset(token)

    def _mark_requested_all(self, delivery_ids: list[int]) -> set[int]:
        """Committed before the provider calls: from here on each outcome is unknown until the provider answers.
        Conditional, so that it and a release by reconciliation cannot both win; returns the ids this call won."""
        table = Delivery.__table__  # type: ignore[attr-defined]
        with self.engine.begin() as connection:
            won = connection.execute(update(table).where(
                table.c.id.in_(delivery_ids), table.c.status == "queued", table.c.requested_at.is_(None),
            ).values(requested_at=self.clock()).returning(table.c.id))
            return {int(row[0]) for row in won}

    def _record(self, outcomes: list[_Outcome]) -> None:
        now = self.clock()
        accepted = [o for o in outcomes if o.result is not None]
        settled = [o for o in outcomes if not o.unknown and o.result is None]
        if accepted:
            self._record_accepted(accepted, now)
        if not settled:
            return
        # Refusals and render failures (rare): through the domain rules for retries and unreachable numbers.
        with Session(self.engine, expire_on_commit=False) as session:
            reminders = {r.id: r for r in session.exec(
                select(Reminder).where(col(Reminder.id).in_([o.job.reminder_id for o in settled])))}
            query = select(Delivery).where(col(Delivery.id).in_([o.job.delivery_id for o in settled]))
            if is_postgres(self.engine):
                query = query.with_for_update()  # a status callback applied meanwhile is not overwritten
            found = {d.id: d for d in session.exec(query)}
            for outcome in settled:
                reminder, delivery = reminders[outcome.job.reminder_id], found[outcome.job.delivery_id]
                delivery.to_masked, delivery.segments, delivery.updated_at = outcome.to_masked, outcome.segments, now
                if outcome.result is not None:
                    delivery.provider_sid = outcome.result.provider_sid
                    deliveries.advance(delivery, deliveries.PROVIDER_STATUS.get(outcome.result.status, "sending"))
                    reminder.status, reminder.outcome = "sent", None
                elif outcome.render_failed:
                    delivery.status, delivery.error_code = "failed", "render"
                    reminder.status, reminder.outcome = "failed", "render_failed"
                else:
                    assert outcome.refused is not None
                    delivery.status, delivery.error_code = "failed", outcome.refused.code
                    deliveries.refused(session, reminder, delivery, outcome.refused.code,
                                       outcome.refused.http_status, now, self.config.max_attempts)
                session.add(delivery)
                session.add(reminder)
            session.commit()

    def _record_accepted(self, accepted: list[_Outcome], now: datetime) -> None:
        """The common case in a few statements for the whole batch (no rows loaded): the delivery gets its SID and
        moves forward only from a lower status (a status callback applied meanwhile wins), the message is sent."""
        table, reminders = Delivery.__table__, Reminder.__table__  # type: ignore[attr-defined]
        by_status: dict[str, list[int]] = {}
        for outcome in accepted:
            assert outcome.result is not None
            status = deliveries.PROVIDER_STATUS.get(outcome.result.status, "sending")
            by_status.setdefault(status, []).append(outcome.job.delivery_id)
        with self.engine.begin() as connection:
            connection.execute(
                update(table).where(table.c.id == bindparam("d_id"))
                .values(provider_sid=bindparam("sid"), to_masked=bindparam("masked"),
                        segments=bindparam("segs"), updated_at=now),
                [{"d_id": o.job.delivery_id, "sid": o.result.provider_sid, "masked": o.to_masked,
                  "segs": o.segments} for o in accepted if o.result is not None])
            for status, ids in by_status.items():
                lower = [s for s, rank in deliveries.RANK.items() if rank < deliveries.RANK[status]]
                connection.execute(update(table).where(table.c.id.in_(ids), table.c.status.in_(lower))
                                   .values(status=status))
            connection.execute(update(reminders).where(reminders.c.id == bindparam("r_id"))
                               .values(status="sent", outcome=None),
                               [{"r_id": o.job.reminder_id} for o in accepted])

    # --- housekeeping (beat) -------------------------------------------------------------------------------------

    def reconcile(self, limit: int = 50) -> int:
        """Ask the provider about sends that never reported back; settle them, never resend them."""
        now = self.clock()
        with Session(self.engine, expire_on_commit=False) as session:
            settled = self._release_never_requested(session, now, limit)
            pending = deliveries.unsettled(session, now - _UNSETTLED_AFTER, limit)
            for delivery in pending:
                reminder = session.get(Reminder, delivery.reminder_id)
                if reminder is None or reminder.status != "sending":
                    continue
                job = self._job_for(session, reminder, delivery)
                found = None
                if job is not None:
                    phone = self.cipher.decrypt(job.phone_ciphertext, job.phone_context)
                    body = self.body_of(job, phone).body
                    found = self.sender.find_sent(phone, body, delivery.created_at)
                if found is not None:
                    delivery.provider_sid = found.provider_sid
                    deliveries.advance(delivery, deliveries.PROVIDER_STATUS.get(found.status, "sending"))
                    reminder.status, reminder.outcome = "sent", None
                    settled += 1
                elif now - delivery.created_at > _GIVE_UP_ASKING_AFTER:
                    reminder.status, reminder.outcome = "unknown", "outcome_unknown"
                    log.error("ALERT %s message: the provider never confirmed it and does not know it; not resent "
                              "(an admin decides)", reminder.kind)
                else:
                    continue
                delivery.updated_at = now
                session.add(delivery)
                session.add(reminder)
            session.commit()
            return settled

    def _release_never_requested(self, session: Session, now: datetime, limit: int) -> int:
        """A dispatcher that died between its claim and the provider call left messages that never left: they go
        back to pending (the attempt did not count) and are sent by the next dispatch, once."""
        table = Delivery.__table__  # type: ignore[attr-defined]
        released = 0
        for delivery in deliveries.never_requested(session, now - _UNSETTLED_AFTER, limit):
            won = session.connection().execute(update(table).where(
                table.c.id == delivery.id, table.c.status == "queued", table.c.requested_at.is_(None),
            ).values(status="failed", error_code="not_sent", updated_at=now))
            reminder = session.get(Reminder, delivery.reminder_id)
            if won.rowcount != 1 or reminder is None:
                continue
            reminder.status, reminder.outcome = "pending", "released"
            reminder.attempts = max(0, reminder.attempts - 1)
            session.add(reminder)
            released += 1
            log.warning("%s message claimed by a dispatcher that stopped before sending it: released", reminder.kind)
        return released

    def _job_for(self, session: Session, reminder: Reminder, delivery: Delivery) -> _Job | None:
        if reminder.booking_id is None:
            if reminder.phone_ciphertext is None or reminder.phone_context is None:
                return None
            return _Job(reminder.id or 0, delivery.id or 0, delivery.ref, None, reminder.kind, reminder.language,
                        reminder.phone_ciphertext, reminder.phone_context, None, None, None)
        contact = session.get(Contact, reminder.booking_id)
        facts = session.get(BookingFacts, reminder.booking_id)
        if contact is None or facts is None:
            return None
        return _Job(reminder.id or 0, delivery.id or 0, delivery.ref, reminder.booking_id, reminder.kind,
                    reminder.language, contact.phone_ciphertext, phone_context(UUID(reminder.booking_id)),
                    contact.manage_token_ciphertext, facts.starts_at, facts.place_alias)

    def purge_expired(self) -> int:
        """Personal data expires: contacts whose appointment is long past are deleted, and the sealed numbers
        kept for answers to STOP/START once those answers are settled."""
        now = self.clock()
        with Session(self.engine) as session:
            result = session.exec(delete(Contact).where(col(Contact.purge_after) < now))
            reminders = Reminder.__table__  # type: ignore[attr-defined]
            session.connection().execute(
                update(reminders).where(reminders.c.phone_ciphertext.is_not(None),
                                        reminders.c.not_after < now - timedelta(days=1),
                                        reminders.c.status != "sending")
                .values(phone_ciphertext=None, phone_context=None))
            # Even the masked number on a delivery goes with its contact; the delivery's history stays for admins.
            deliveries_t, contacts = Delivery.__table__, Contact.__table__  # type: ignore[attr-defined]
            session.connection().execute(
                update(deliveries_t).where(
                    deliveries_t.c.to_masked != "",
                    (deliveries_t.c.booking_id.is_not(None) & deliveries_t.c.booking_id.not_in(
                        select(contacts.c.booking_id))) |
                    (deliveries_t.c.booking_id.is_(None) & (deliveries_t.c.created_at < now - timedelta(days=1))))
                .values(to_masked=""))
            session.commit()
            count = int(result.rowcount or 0)
        if count:
            log.info("purged %d expired contacts", count)
        return count
