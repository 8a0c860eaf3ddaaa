"""The health view's figures and the dead letters' care, as the admin API serves them.

Heartbeats arrive on the gateway's event queue; whichever replica hears one writes it to the table every replica
reads. A process is stale once its last heartbeat is older than HEARTBEAT_STALE_AFTER of its own intervals; a
process not heard from for a day is forgotten (a replica that was replaced, say).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import get_args

from pydantic import AwareDatetime, BaseModel
from sqlalchemy import Engine
from sqlmodel import Session

from gateway.errors import GatewayError
from gateway.system_health import repository
from gateway.system_health.queues import BrokerFigures, broker_figures
from gateway.system_health.tables import RoleHeartbeatRow
from shared import dead_letters
from shared.clock import Clock, system_clock
from shared.contracts import Envelope, RoleHeartbeat
from shared.contracts.health import Role
from shared.dead_letters import DeadLetter
from shared.settings import CommonSettings
from shared.unit_of_work import transaction

FORGET_AFTER = timedelta(days=1)
ROLES: tuple[Role, ...] = get_args(Role)
# The roles with an outbox of their own, by the service whose tables it is in.
OUTBOX_ROLES: tuple[Role, ...] = ("gateway", "scheduler", "notifier")
# The staff API answers at once when the broker is away (503, try again) instead of waiting it out as the
# command does.
DEAD_LETTER_CONNECT_RETRIES = 0


class QueueOut(BaseModel):
    name: str
    ready: int | None = None
    unacked: int | None = None
    consumers: int | None = None


class BrokerOut(BaseModel):
    reachable: bool
    source: str | None = None  # management (RabbitMQ's HTTP API) or amqp (a passive declare)
    note: str | None = None
    queues: list[QueueOut] = []
    dead_letters: int | None = None


class InstanceOut(BaseModel):
    instance: str
    last_seen: AwareDatetime
    age_seconds: float
    interval_seconds: float
    stale: bool


class RoleOut(BaseModel):
    role: str
    status: str  # ok (a process of it is fresh), stale, never_seen
    instances: list[InstanceOut] = []


class OutboxOut(BaseModel):
    service: str
    backlog: int | None = None
    oldest_unsent_seconds: float | None = None
    reported_at: AwareDatetime | None = None


class HealthReport(BaseModel):
    checked_at: AwareDatetime
    broker: BrokerOut
    outbox: list[OutboxOut]
    dispatcher_lag_seconds: float | None = None
    last_beat_tick_at: AwareDatetime | None = None
    roles: list[RoleOut]


class DeadLetterOut(BaseModel):
    """What a dead letter is, never what it holds (its body may carry a sealed phone number)."""

    id: str
    queue: str
    type: str
    reason: str
    dead_at: AwareDatetime | None = None


class DeadLetterNotFound(GatewayError):
    code, status = "dead_letter_not_found", 404


def _stale(row: RoleHeartbeatRow, now: datetime, stale_after: int) -> bool:
    return now - row.seen_at > timedelta(seconds=row.interval_seconds * stale_after)


def summarize(rows: list[RoleHeartbeatRow], broker: BrokerOut, now: datetime, stale_after: int) -> HealthReport:
    """The report from the heartbeats kept (newest first per role) and the broker's figures."""
    by_role: dict[str, list[RoleHeartbeatRow]] = {role: [] for role in ROLES}
    for row in sorted(rows, key=lambda r: r.seen_at, reverse=True):
        by_role.setdefault(row.role, []).append(row)
    roles = []
    for role, seen in by_role.items():
        instances = [InstanceOut(instance=r.instance, last_seen=r.seen_at, interval_seconds=r.interval_seconds,
                                 age_seconds=max(0.0, (now - r.seen_at).total_seconds()),
                                 stale=_stale(r, now, stale_after)) for r in seen]
        status = "never_seen" if not seen else "stale" if all(i.stale for i in instances) else "ok"
        roles.append(RoleOut(role=role, status=status, instances=instances))
    # Every process of a service reads the same outbox table: the newest word on it counts.
    outbox = []
    for role in OUTBOX_ROLES:
        newest = next((r for r in by_role[role] if r.outbox_backlog is not None), None)
        outbox.append(OutboxOut(service=role) if newest is None else OutboxOut(
            service=role, backlog=newest.outbox_backlog, oldest_unsent_seconds=newest.oldest_unsent_seconds,
            reported_at=newest.seen_at))
    notifiers = by_role["notifier"]
    lag = next((r.dispatcher_lag_seconds for r in notifiers), None)
    ticks = [r.last_beat_tick_at for r in notifiers if r.last_beat_tick_at is not None]
    return HealthReport(checked_at=now, broker=broker, outbox=outbox, dispatcher_lag_seconds=lag,
                        last_beat_tick_at=max(ticks, default=None), roles=roles)


def _broker_out(figures: BrokerFigures) -> BrokerOut:
    return BrokerOut(reachable=True, source=figures.source, note=figures.note, dead_letters=figures.dead_letters,
                     queues=[QueueOut(name=q.name, ready=q.ready, unacked=q.unacked, consumers=q.consumers)
                             for q in figures.queues])


def _letter_out(letter: DeadLetter) -> DeadLetterOut:
    return DeadLetterOut(id=letter.letter_id, queue=letter.queue, type=letter.message_type, reason=letter.reason,
                         dead_at=letter.dead_at)


class SystemHealth:
    def __init__(self, engine: Engine, settings: CommonSettings, management_url: str, stale_after: int,
                 clock: Clock = system_clock) -> None:
        self.engine = engine
        self.settings = settings
        self.management_url = management_url
        self.stale_after = stale_after
        self.clock = clock

    def record(self, envelope: Envelope, session: Session) -> None:
        """A heartbeat heard (the consumer's session; a heartbeat keeps no inbox row: the newest one wins, so a
        redelivered one changes nothing)."""
        beat = envelope.payload_as(RoleHeartbeat)
        repository.remember(session, RoleHeartbeatRow(
            role=beat.role, instance=beat.instance, seen_at=envelope.occurred_at,
            interval_seconds=beat.interval_seconds, outbox_backlog=beat.outbox_backlog,
            oldest_unsent_seconds=beat.oldest_unsent_seconds, dispatcher_lag_seconds=beat.dispatcher_lag_seconds,
            last_beat_tick_at=beat.last_beat_tick_at))
        repository.forget_before(session, self.clock() - FORGET_AFTER)
        session.commit()

    def report(self) -> HealthReport:
        """Answers while the broker is away (reachable: false): the heartbeats say what each process last saw."""
        try:
            broker = _broker_out(broker_figures(self.settings, self.management_url))
        except Exception as exc:  # noqa: BLE001 - any way of not reaching the broker is the same answer here
            broker = BrokerOut(reachable=False, note=f"the broker cannot be reached ({type(exc).__name__})")
        with transaction(self.engine) as session:
            rows = repository.latest(session)
        return summarize(rows, broker, self.clock(), self.stale_after)

    def dead_letters(self) -> list[DeadLetterOut]:
        letters = dead_letters.list_letters(self.settings, retries=DEAD_LETTER_CONNECT_RETRIES)
        return [_letter_out(letter) for letter in letters]

    def requeue(self, letter_id: str) -> DeadLetterOut:
        return self._one(dead_letters.requeue(self.settings, {letter_id}, retries=DEAD_LETTER_CONNECT_RETRIES),
                         letter_id)

    def discard(self, letter_id: str) -> DeadLetterOut:
        return self._one(dead_letters.discard(self.settings, {letter_id}, retries=DEAD_LETTER_CONNECT_RETRIES),
                         letter_id)

    @staticmethod
    def _one(done: Collection[DeadLetter], letter_id: str) -> DeadLetterOut:
        if not done:
            raise DeadLetterNotFound(f"There is no dead letter {letter_id} (any longer): it may have been requeued "
                                     "or discarded meanwhile. List the dead letters again.")
        return _letter_out(next(iter(done)))
