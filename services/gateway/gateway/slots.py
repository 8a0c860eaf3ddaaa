"""Asking the scheduler for free slots: request/reply over the broker, with a deadline.

The gateway owns no calendar. Each question goes out with this process's reply queue and a correlation id; the
listener thread hands the answer to the waiting request. No answer in time means 503.

Under load the scheduler answers one question at a time (its searches take tens of milliseconds each): many
clients asking at once queue up behind each other until the deadline answers 503 (bench/abuse.py). So the same
question asked while it is on its way waits for that one answer instead of asking again, and an answer is reused
for the same question for SLOTS_CACHE_SECONDS. Whatever changes what is free and passes through this gateway (a
decision it hears, a staff change it forwards) forgets the answers at once; on other replicas they age out within
those seconds. A slot shown that was taken meanwhile is refused at booking with alternatives, as before.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import date
from typing import Any
from uuid import UUID, uuid4

from gateway.errors import InvalidSearch, SchedulerUnavailable
from gateway.metrics import SLOT_SEARCHES
from shared.contracts import Mode, Slot, SlotsOffered, SlotsRequested, Topic, UnknownMessage, parse, wrap
from shared.contracts.envelope import P, Payload
from shared.messaging import Publisher


class ReplyWaiter:
    """Futures keyed by correlation id; the listener resolves them, late answers are dropped."""

    def __init__(self) -> None:
        self._pending: dict[str, Future[Any]] = {}
        self._lock = threading.Lock()

    def expect(self, correlation_id: str) -> Future[Any]:
        future: Future[Any] = Future()
        with self._lock:
            self._pending[correlation_id] = future
        return future

    def resolve(self, correlation_id: str, body: Any) -> None:
        with self._lock:
            future = self._pending.pop(correlation_id, None)
        if future is not None and not future.done():
            future.set_result(body)

    def forget(self, correlation_id: str) -> None:
        with self._lock:
            self._pending.pop(correlation_id, None)


def ask_scheduler(publisher: Publisher, waiter: ReplyWaiter, key: str, request: Payload, timeout: float,
                  late: str, unreadable: str | None = None, who: str = "The calendar", *, expect: type[P]) -> P:
    """Publish a question and wait for the answer (the scheduler's, or `who`'s) on this process's reply queue.

    SchedulerUnavailable (503) when the broker refuses, no answer arrives within `timeout`, or the answer cannot be
    read or is not an `expect`; `late` (and `unreadable`, default `late`) finish those sentences for the asker.
    """
    future = waiter.expect(key)
    try:
        publisher.publish(wrap(request, key).to_wire(), request.message_type, expires=timeout)
        raw = future.result(timeout=timeout)
    except FutureTimeout:
        raise SchedulerUnavailable(f"{who} did not answer in time." + late) from None
    except Exception:  # noqa: BLE001 - any broker failure means: no answer right now
        raise SchedulerUnavailable(f"{who} cannot be reached right now. Please try again later.") from None
    finally:
        waiter.forget(key)
    try:
        return parse(raw).payload_as(expect)
    except UnknownMessage:  # WrongPayload too: an answer to another question
        raise SchedulerUnavailable(
            f"{who} gave an answer we cannot read." + (late if unreadable is None else unreadable)
        ) from None


Question = tuple[date, date, Topic | None, str | None, int | None, Mode | None, str | None, UUID | None]
_MAX_ANSWERS = 1000  # distinct questions kept; clients mostly ask the same few (language, week, place)


class SlotClient:
    """Asks the scheduler for free slots over the broker and waits for its answer on this process's reply queue;
    shares an answer between the same questions asked at once, and reuses it for `cache_seconds` (0: neither)."""

    def __init__(self, publisher: Publisher, waiter: ReplyWaiter, reply_to: str, timeout: float,
                 cache_seconds: float = 0.0, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.publisher = publisher
        self.waiter = waiter
        self.reply_to = reply_to
        self.timeout = timeout
        self.cache_seconds = cache_seconds
        self.monotonic = monotonic
        self._lock = threading.Lock()
        self._answers: dict[Question, tuple[float, list[Slot]]] = {}
        self._asking: dict[Question, Future[list[Slot]]] = {}
        self._generation = 0  # counts forget(): an answer asked for before a change is not kept after it

    def forget(self) -> None:
        """Something changed what is free: answers given so far are not reused."""
        with self._lock:
            self._answers.clear()
            self._generation += 1

    def search(
        self,
        date_from: date,
        date_to: date,
        topic: Topic | None = None,
        language: str | None = None,
        location_id: int | None = None,
        mode: Mode | None = None,
        counsellor: str | None = None,
        for_booking: UUID | None = None,
    ) -> list[Slot]:
        """Free slots (`for_booking`: those this confirmed booking may move to); InvalidSearch with the scheduler's
        sentence when it refuses the query."""
        if self.cache_seconds <= 0:
            return self._ask(date_from, date_to, topic, language, location_id, mode, counsellor, for_booking)
        question: Question = (date_from, date_to, topic, language, location_id, mode, counsellor, for_booking)
        with self._lock:
            kept = self._answers.get(question)
            if kept is not None and kept[0] > self.monotonic():
                SLOT_SEARCHES.labels("remembered").inc()
                return kept[1]
            asking = self._asking.get(question)
            mine = asking is None
            if asking is None:
                asking = self._asking[question] = Future()
            generation = self._generation
        if not mine:
            # The same question is on its way: its answer, or its SchedulerUnavailable / InvalidSearch, is ours.
            SLOT_SEARCHES.labels("shared").inc()
            try:
                return asking.result(timeout=self.timeout + 1)
            except FutureTimeout:  # the asker is held up past its own deadline (a broker that does not answer)
                raise SchedulerUnavailable("The calendar did not answer in time. Please try again in a minute.") \
                    from None
        try:
            slots = self._ask(*question)
        except BaseException as exc:
            with self._lock:
                del self._asking[question]
            asking.set_exception(exc)
            raise
        with self._lock:
            del self._asking[question]
            if generation == self._generation:
                if len(self._answers) >= _MAX_ANSWERS:
                    now = self.monotonic()
                    self._answers = {q: a for q, a in self._answers.items() if a[0] > now}
                    if len(self._answers) >= _MAX_ANSWERS:
                        self._answers.clear()
                self._answers[question] = (self.monotonic() + self.cache_seconds, slots)
        asking.set_result(slots)
        return slots

    def _ask(self, date_from: date, date_to: date, topic: Topic | None, language: str | None,
             location_id: int | None, mode: Mode | None, counsellor: str | None,
             for_booking: UUID | None = None) -> list[Slot]:
        SLOT_SEARCHES.labels("asked").inc()
        request_id = str(uuid4())
        query = SlotsRequested(topic=topic, language=language, location_id=location_id, mode=mode,
                               counsellor=counsellor, date_from=date_from, date_to=date_to, reply_to=self.reply_to,
                               for_booking=for_booking)
        offered = ask_scheduler(self.publisher, self.waiter, request_id, query, self.timeout,
                                late=" Please try again in a minute.", unreadable=" Please try again later.",
                                expect=SlotsOffered)
        if offered.error is not None:
            raise InvalidSearch(offered.error.message)
        return offered.slots
