"""The audit log as staff routes use it: `AuditTrailDep` knows who asks and from where (gateway.forwarding), so a
route names only what happened. Built on the staff accounts' AuditLog (gateway.staff.audit), from the composition
root."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session

from gateway.api.deps import gateway
from gateway.api.staff_deps import CurrentStaff, client_address, staff_actor
from gateway.staff.accounts import Staff, StaffAccounts
from gateway.staff.audit import Actor, AuditLog, Event
from gateway.staff_client import AuditedStaffClient


def audit_log(request: Request) -> AuditLog:
    accounts: StaffAccounts = request.app.state.staff_accounts
    return accounts.audit


def audited_calendars(request: Request) -> AuditedStaffClient:
    """The scheduler's staff requests for this request's staff member, each recorded (API routes and pages)."""
    return AuditedStaffClient(gateway(request).calendars, audit_log(request), client_address(request))


@dataclass(frozen=True)
class AuditTrail:
    log: AuditLog
    actor: Actor

    @classmethod
    def of(cls, request: Request, staff: Staff) -> AuditTrail:
        return cls(audit_log(request), staff_actor(request, staff))

    def record(self, event: Event) -> None:
        """In a transaction of its own: a read, or what the scheduler answered."""
        self.log.record(self.actor, event)

    def recording(self, event: Event) -> AbstractContextManager[None]:
        """Recorded once the block's request to another service is answered, refused or left unanswered."""
        return self.log.recording(self.actor, event)

    def within(self, event: Event) -> Callable[[Session], None]:
        """For a service that makes the change: it writes the row in the change's own transaction."""
        return lambda session: self.log.write(session, self.actor, event)


async def _trail(request: Request, staff: CurrentStaff) -> AuditTrail:
    return AuditTrail.of(request, staff)


AuditTrailDep = Annotated[AuditTrail, Depends(_trail)]
