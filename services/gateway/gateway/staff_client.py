"""Asking the scheduler about and for changes to staff calendars: request/reply over the broker, with a deadline.

The same mechanism as the slot search (`slots.ReplyWaiter` on this process's reply queue). The scheduler decides
and answers with one typed answer per operation, or a refusal of a kind (`RefusalKind`), a code and a sentence,
which becomes `CalendarRefused`; the staff API maps the kind to an HTTP status (`api/staff/answers.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TypeVar
from uuid import UUID, uuid4

from pydantic import BaseModel

from gateway.errors import GatewayError, SchedulerUnavailable
from gateway.slots import ReplyWaiter, ask_scheduler
from gateway.staff.accounts import Staff
from gateway.staff.audit import Actor as AuditActor
from gateway.staff.audit import AuditLog
from gateway.staff.audit_requests import event_of
from shared.contracts import CounsellorRequested, FeedRequested, StaffAnswered, StaffRequested
from shared.contracts.envelope import Payload
from shared.contracts.staff import (
    WRITES,
    Actor,
    AlreadyDone,
    CounsellorAnswer,
    CounsellorData,
    FeedAnswer,
    FeedData,
    RefusalKind,
    StaffAction,
)
from shared.messaging import Publisher

Answer = TypeVar("Answer", bound=BaseModel)


class CalendarRefused(GatewayError):
    """The scheduler refused: the kind of refusal, its code and its sentence go to the asker."""

    def __init__(self, kind: RefusalKind, code: str, message: str) -> None:
        super().__init__(message)
        self.kind, self.code = kind, code


class AlreadyCarriedOut(GatewayError):
    """The scheduler had carried out this very request before (it was delivered twice) and changed nothing now."""

    code, status = "already_done", 409


def actor_of(staff: Staff) -> Actor:
    return Actor(staff_id=staff.id, role=staff.role, counsellor_id=staff.counsellor_id)


class StaffClient:
    def __init__(self, publisher: Publisher, waiter: ReplyWaiter, reply_to: str, timeout: float,
                 on_write: Callable[[], None] = lambda: None) -> None:
        self.publisher = publisher
        self.waiter = waiter
        self.reply_to = reply_to
        self.timeout = timeout
        self.on_write = on_write  # a write may have changed what is free (SlotClient.forget)

    def ask(self, staff: Staff, action: StaffAction, expected: type[Answer]) -> Answer:
        """The scheduler's answer to the action, as the answer model of its operation; CalendarRefused when it
        refused, SchedulerUnavailable without an answer (or with one we cannot read)."""
        request_id = uuid4()
        request = StaffRequested(request_id=request_id, actor=actor_of(staff), action=action, reply_to=self.reply_to)
        return self._exchange(request_id, request, expected, write=action.action in WRITES)

    def feed(self, counsellor_id: int, date_from: date, date_to: date) -> FeedData:
        request_id = uuid4()
        request = FeedRequested(request_id=request_id, counsellor_id=counsellor_id, date_from=date_from,
                                date_to=date_to, reply_to=self.reply_to)
        return self._exchange(request_id, request, FeedAnswer, write=False).data

    def counsellor(self, counsellor_id: int) -> CounsellorData:
        """The scheduler's counsellor with this id; CalendarRefused (UNKNOWN) when there is none."""
        request_id = uuid4()
        request = CounsellorRequested(request_id=request_id, counsellor_id=counsellor_id, reply_to=self.reply_to)
        return self._exchange(request_id, request, CounsellorAnswer, write=False).data

    def _exchange(self, request_id: UUID, request: Payload, expected: type[Answer], write: bool) -> Answer:
        key = str(request_id)
        # A write whose answer is late may still be carried out (the message expires only if nobody took it).
        late = (" The change may still have been made: look at the calendar before trying again." if write
                else " Please try again in a minute.")
        try:
            answered = ask_scheduler(self.publisher, self.waiter, key, request, self.timeout, late,
                                     expect=StaffAnswered)
        finally:
            if write:  # carried out, refused or late: it may have changed the calendar
                self.on_write()
        if answered.request_id != request_id:
            raise SchedulerUnavailable("The calendar gave an answer we cannot read." + late)
        if answered.refusal is not None:
            raise CalendarRefused(answered.refusal.kind, answered.refusal.code, answered.message)
        if isinstance(answered.answer, AlreadyDone):
            raise AlreadyCarriedOut(answered.message + " Look at the calendar to see the change.")
        if not isinstance(answered.answer, expected):
            raise SchedulerUnavailable("The calendar gave an answer we cannot read." + late)
        return answered.answer


class AuditedStaffClient:
    """The StaffClient as one staff member's request uses it: every request to the scheduler and its answer,
    refusal or silence go to the audit log. The staff API (gateway.api.staff.answers) and the staff pages
    (gateway.web.staff) both ask through it, so neither can forget to record."""

    def __init__(self, client: StaffClient, log: AuditLog, source: str) -> None:
        self.client, self.log, self.source = client, log, source

    def ask(self, staff: Staff, action: StaffAction, expected: type[Answer], audited: bool = True) -> Answer:
        """As StaffClient.ask; `audited=False` for a check made before a change the caller records itself."""
        if not audited:
            return self.client.ask(staff, action, expected)
        with self.log.recording(AuditActor(staff.id, staff.username, self.source), event_of(action)):
            return self.client.ask(staff, action, expected)
