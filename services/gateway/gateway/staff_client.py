"""Asking the scheduler about and for changes to staff calendars: request/reply over the broker, with a deadline.

The same mechanism as the slot search (`slots.ReplyWaiter` on this process's reply queue). The scheduler decides
and answers with an HTTP-like status; a refusal becomes `CalendarRefused` with the scheduler's sentence.
"""

from __future__ import annotations

from datetime import date
from uuid import UUID, uuid4

from gateway.errors import GatewayError, SchedulerUnavailable
from gateway.slots import ReplyWaiter, ask_scheduler
from gateway.staff.accounts import Staff
from shared.contracts import FeedRequested, StaffAnswered, StaffRequested
from shared.contracts.envelope import Payload
from shared.contracts.staff import WRITES, Actor, StaffAction
from shared.messaging import Publisher


class CalendarRefused(GatewayError):
    """The scheduler refused (403, 404, 409, 422, ...): its status, code and sentence go to the asker."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


def actor_of(staff: Staff) -> Actor:
    return Actor(staff_id=staff.id, role=staff.role, counsellor_id=staff.counsellor_id)


class StaffClient:
    def __init__(self, publisher: Publisher, waiter: ReplyWaiter, reply_to: str, timeout: float) -> None:
        self.publisher = publisher
        self.waiter = waiter
        self.reply_to = reply_to
        self.timeout = timeout

    def ask(self, staff: Staff, action: StaffAction) -> StaffAnswered:
        """The scheduler's answer; CalendarRefused when it refused, SchedulerUnavailable without an answer."""
        request_id = uuid4()
        request = StaffRequested(request_id=request_id, actor=actor_of(staff), action=action, reply_to=self.reply_to)
        return self._exchange(request_id, request, write=action.action in WRITES)

    def feed(self, counsellor_id: int, date_from: date, date_to: date) -> StaffAnswered:
        request_id = uuid4()
        request = FeedRequested(request_id=request_id, counsellor_id=counsellor_id, date_from=date_from,
                                date_to=date_to, reply_to=self.reply_to)
        return self._exchange(request_id, request, write=False)

    def _exchange(self, request_id: UUID, request: Payload, write: bool) -> StaffAnswered:
        key = str(request_id)
        # A write whose answer is late may still be carried out (the message expires only if nobody took it).
        late = (" The change may still have been made: look at the calendar before trying again." if write
                else " Please try again in a minute.")
        answer = ask_scheduler(self.publisher, self.waiter, key, request, self.timeout, late, expect=StaffAnswered)
        if not isinstance(answer, StaffAnswered) or answer.request_id != request_id:
            raise SchedulerUnavailable("The calendar gave an answer we cannot read." + late)
        if not answer.ok:
            raise CalendarRefused(answer.status, answer.code, answer.message)
        return answer
