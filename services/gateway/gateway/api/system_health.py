"""Admin only: the system's health (queues, outboxes, dispatcher, beat, every process's heartbeat) and the dead
letters, listed, requeued or discarded one at a time. Answers are no-store: they describe the running system.
A dead letter may hold personal data (sealed), so its list, requeue and discard go to the staff audit log.

A broker that cannot be reached makes the dead-letter routes 503 with Retry-After (api/errors.py); the health
report still answers, with what the heartbeats last said."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response

from gateway.api.audit_trail import AuditTrailDep
from gateway.api.deps import gateway
from gateway.api.schemas import problems
from gateway.api.staff_deps import AdminStaff, no_store
from gateway.staff.audit import Action, Event, TargetKind
from gateway.system_health.report import DeadLetterOut, HealthReport, SystemHealth

router = APIRouter(prefix="/v1/staff", tags=["staff health"])
ERRORS = problems(401, 403, 404, 503)
LetterId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="a dead letter's id from the list")]


async def _health(request: Request) -> SystemHealth:
    return gateway(request).health


HealthDep = Annotated[SystemHealth, Depends(_health)]


@router.get("/health", responses=ERRORS)
def read_health(_admin: AdminStaff, health: HealthDep, response: Response) -> HealthReport:
    """Queues (depth, consumers, unacknowledged), dead letters, outbox backlog per service, dispatcher lag, beat's
    last tick, and every process's heartbeat, stale when older than a few of its intervals."""
    no_store(response)
    return health.report()


@router.get("/dead-letters", responses=ERRORS)
def list_dead_letters(_admin: AdminStaff, health: HealthDep, response: Response,
                      trail: AuditTrailDep) -> list[DeadLetterOut]:
    """Each dead letter's id, queue, type, reason and time; never what it holds."""
    no_store(response)
    with trail.recording(Event(Action.DEAD_LETTERS_READ)):
        return health.dead_letters()


@router.post("/dead-letters/{letter_id}/requeue", responses=ERRORS)
def requeue_dead_letter(letter_id: LetterId, _admin: AdminStaff, health: HealthDep, response: Response,
                        trail: AuditTrailDep) -> DeadLetterOut:
    """Back onto the queue it came from, as it first arrived."""
    no_store(response)
    with trail.recording(Event(Action.DEAD_LETTER_REQUEUED, target_kind=TargetKind.DEAD_LETTER, target_id=letter_id)):
        return health.requeue(letter_id)


@router.post("/dead-letters/{letter_id}/discard", responses=ERRORS)
def discard_dead_letter(letter_id: LetterId, _admin: AdminStaff, health: HealthDep, response: Response,
                        trail: AuditTrailDep) -> DeadLetterOut:
    """Gone for good."""
    no_store(response)
    with trail.recording(Event(Action.DEAD_LETTER_DISCARDED, target_kind=TargetKind.DEAD_LETTER,
                               target_id=letter_id)):
        return health.discard(letter_id)
