"""The staff reply contract: one typed answer per operation or a refusal of a kind, and the gateway's one map
from kinds of refusal to HTTP statuses."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from gateway.api import errors
from gateway.api.staff.answers import STATUS_OF, StaffRequestRefused
from gateway.staff_client import CalendarRefused
from pydantic import ValidationError

from shared.contracts import StaffAnswered, UnknownMessage, parse, wrap
from shared.contracts.staff import (
    AlreadyDone,
    BookingsAnswer,
    BookingsData,
    RefusalKind,
    StaffRefusal,
    TypesAnswer,
    TypesData,
)


def test_every_kind_of_refusal_has_its_http_status() -> None:
    # FAILED: the scheduler broke on the request (its database away, say) and changed nothing: a 503 to try again
    # later, which the staff routes declare, not an undeclared 500.
    assert STATUS_OF == {RefusalKind.FORBIDDEN: 403, RefusalKind.UNKNOWN: 404, RefusalKind.CONFLICT: 409,
                         RefusalKind.INVALID: 422, RefusalKind.FAILED: 503}


def test_a_failed_request_is_503_with_retry_after_in_the_problem_body() -> None:
    app = FastAPI()
    errors.install(app)

    @app.get("/failing")
    def failing() -> None:
        raise StaffRequestRefused(CalendarRefused(RefusalKind.FAILED, "internal_error",
                                                  "Something went wrong in the calendar. Nothing was changed."))

    response = TestClient(app).get("/failing")

    assert (response.status_code, response.headers["retry-after"]) == (503, "5")
    assert response.json() == {"code": "internal_error",
                               "detail": "Something went wrong in the calendar. Nothing was changed."}


@pytest.mark.parametrize(("kind", "code", "status"), [
    (RefusalKind.FORBIDDEN, "forbidden", 403),
    (RefusalKind.UNKNOWN, "unknown_location", 404),
    (RefusalKind.INVALID, "unknown_location", 422),  # a rule naming a location the calendar has not got
    (RefusalKind.CONFLICT, "slot_taken", 409),
])
def test_a_refusal_keeps_its_code_and_sentence_and_gets_the_status_of_its_kind(kind: RefusalKind, code: str,
                                                                               status: int) -> None:
    refused = StaffRequestRefused(CalendarRefused(kind, code, "That time is no longer free; choose another slot."))

    assert (refused.status, refused.code, refused.message) == (
        status, code, "That time is no longer free; choose another slot.")


def test_an_answer_travels_as_the_model_of_its_operation() -> None:
    request_id = uuid4()
    answer = StaffAnswered(request_id=request_id, message="Bookings.",
                           answer=BookingsAnswer(data=BookingsData(counsellor_id=3, bookings=[])))

    read = parse(wrap(answer, "test").to_wire()).payload_as(StaffAnswered)

    assert isinstance(read.answer, BookingsAnswer) and read.answer.data.counsellor_id == 3
    assert not isinstance(read.answer, TypesAnswer)


@pytest.mark.parametrize("fields", [
    {},
    {"answer": TypesAnswer(data=TypesData(types=[])),
     "refusal": StaffRefusal(kind=RefusalKind.FORBIDDEN, code="forbidden")},
])
def test_a_staff_answer_holds_either_an_answer_or_a_refusal(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        StaffAnswered(request_id=uuid4(), message="Done.", **fields)


def test_a_redelivered_write_is_answered_as_already_done() -> None:
    answer = StaffAnswered(request_id=uuid4(), message="This request was already carried out.", answer=AlreadyDone())

    assert isinstance(parse(wrap(answer, "test").to_wire()).payload_as(StaffAnswered).answer, AlreadyDone)


def test_a_v1_answer_with_an_http_status_is_not_read_as_a_v2_one() -> None:
    wire = {"message_id": str(uuid4()), "type": "staff.answered", "version": 1,
            "occurred_at": datetime(2026, 6, 1, tzinfo=UTC).isoformat(), "correlation_id": "test",
            "payload": {"request_id": str(uuid4()), "ok": False, "status": 403, "code": "forbidden",
                        "message": "Only an admin can change appointment types, counsellors and locations.",
                        "data": {}}}

    with pytest.raises(UnknownMessage):
        parse(wire)
