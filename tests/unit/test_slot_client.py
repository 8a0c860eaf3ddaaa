"""The gateway's slot client: a query the scheduler refuses becomes InvalidSearch (422) with its sentence; an answer
that is not a slot offer is no answer (503)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from gateway.errors import InvalidSearch, SchedulerUnavailable
from gateway.slots import ReplyWaiter, SlotClient

from shared.contracts import QueryError, SlotsOffered, SlotsRequested, wrap
from shared.contracts.envelope import Payload


class AnsweringPublisher:
    """Stands in for the broker and the scheduler: answers every question with one reply."""

    def __init__(self, waiter: ReplyWaiter, answer: Payload) -> None:
        self.waiter = waiter
        self.answer = answer
        self.asked: list[dict[str, Any]] = []

    def publish(self, wire: dict[str, Any], routing_key: str, expires: float | None = None) -> None:
        self.asked.append(wire["payload"])
        self.waiter.resolve(wire["correlation_id"], wrap(self.answer, wire["correlation_id"]).to_wire())


def client_answering(answer: Payload) -> tuple[SlotClient, AnsweringPublisher]:
    waiter = ReplyWaiter()
    publisher = AnsweringPublisher(waiter, answer)
    return SlotClient(publisher, waiter, "gateway.replies.0123456789ab", 1.0), publisher  # type: ignore[arg-type]


def test_a_refused_query_raises_invalid_search_with_the_schedulers_sentence() -> None:
    message = "Appointments of this kind can be booked at most 90 days ahead (until 2026-09-01)."
    client, _ = client_answering(SlotsOffered(slots=[], error=QueryError(code="beyond_horizon", message=message)))
    with pytest.raises(InvalidSearch) as raised:
        client.search(date(2026, 6, 1), date(2026, 9, 30))
    assert str(raised.value) == message
    assert raised.value.status == 422


def test_counsellor_and_mode_are_passed_to_the_scheduler() -> None:
    client, publisher = client_answering(SlotsOffered(slots=[]))
    assert client.search(date(2026, 6, 1), date(2026, 6, 7), counsellor="Anna") == []
    assert publisher.asked[0]["counsellor"] == "Anna"


def test_an_answer_of_another_type_is_no_answer_and_says_so() -> None:
    other = SlotsRequested(date_from=date(2026, 6, 1), date_to=date(2026, 6, 7),
                           reply_to="gateway.replies.0123456789ab")
    client, _ = client_answering(other)
    with pytest.raises(SchedulerUnavailable) as raised:
        client.search(date(2026, 6, 1), date(2026, 6, 7))
    assert raised.value.status == 503
    assert str(raised.value) == "The calendar gave an answer we cannot read. Please try again later."
