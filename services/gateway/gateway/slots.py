"""Asking the scheduler for free slots: request/reply over the broker, with a deadline.

The gateway owns no calendar. Each question goes out with this process's reply queue and a correlation id; the
listener thread hands the answer to the waiting request. No answer in time means 503, never a stale guess.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import date
from typing import Any
from uuid import uuid4

from gateway.errors import InvalidSearch, SchedulerUnavailable
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


class SlotClient:
    """Asks the scheduler for free slots over the broker and waits for its answer on this process's reply queue."""

    def __init__(self, publisher: Publisher, waiter: ReplyWaiter, reply_to: str, timeout: float) -> None:
        self.publisher = publisher
        self.waiter = waiter
        self.reply_to = reply_to
        self.timeout = timeout

    def search(
        self,
        date_from: date,
        date_to: date,
        topic: Topic | None = None,
        language: str | None = None,
        location_id: int | None = None,
        mode: Mode | None = None,
        counsellor: str | None = None,
    ) -> list[Slot]:
        """Free slots; InvalidSearch with the scheduler's sentence when it refuses the query."""
        request_id = str(uuid4())
        query = SlotsRequested(topic=topic, language=language, location_id=location_id, mode=mode,
                               counsellor=counsellor, date_from=date_from, date_to=date_to, reply_to=self.reply_to)
        offered = ask_scheduler(self.publisher, self.waiter, request_id, query, self.timeout,
                                late=" Please try again in a minute.", unreadable=" Please try again later.",
                                expect=SlotsOffered)
        if offered.error is not None:
            raise InvalidSearch(offered.error.message)
        return offered.slots
