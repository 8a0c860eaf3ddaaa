"""Messaging topology in one place, the Celery app every service builds, and publishing with confirms.

One topic exchange carries every message, routed by its type. Each consumer has its own durable queue bound to
the types it handles; on RabbitMQ these are quorum queues with a delivery limit that dead-letter to one
dead-letter queue. The embedded transport gets the same names (it ignores the RabbitMQ arguments).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from celery import Celery
from celery.utils.nodenames import anon_nodename
from kombu import Connection, Exchange, Producer, Queue, binding

from shared import embedded_broker
from shared.settings import CommonSettings

log = logging.getLogger(__name__)

EVENTS = Exchange("lotse.events", type="topic", durable=True)
DEAD_LETTERS = Exchange("lotse.dead", type="topic", durable=True)
DEAD_LETTER_QUEUE = Queue("lotse.dead-letter", DEAD_LETTERS, routing_key="#", durable=True)
# Every envelope travels as this one Celery task: the type inside the envelope picks the handler, so an unknown
# type reaches our code (and the dead-letter queue) instead of Celery's "unregistered task" path.
MESSAGE_TASK = "lotse.message"
# Periodic work (the notifier's dispatcher) is sent by beat to a queue of its own on this direct exchange.
TIMERS = Exchange("lotse.timers", type="direct", durable=True)
DELIVERY_LIMIT = 5
# What a dead letter carries besides the message as it arrived (body, content type and headers unchanged, so it can
# be put back): why, from which queue, when, and an id of its own (`python -m lotse dead-letters`).
REASON_HEADER = "x-lotse-reason"
QUEUE_HEADER = "x-lotse-queue"
DEAD_AT_HEADER = "x-lotse-dead-at"
LETTER_ID_HEADER = "x-lotse-id"


@dataclass(frozen=True)
class Subscription:
    queue: str
    message_types: tuple[str, ...]


SUBSCRIPTIONS: dict[str, tuple[Subscription, ...]] = {
    "scheduler": (
        Subscription("scheduler.bookings", ("booking.requested", "booking.cancellation_requested",
                                            "contact.unreachable", "client.erasure_requested",
                                            "booking.move_requested")),
        Subscription("scheduler.queries", ("slots.requested", "staff.requested", "feed.requested",
                                           "counsellor.requested")),
    ),
    "notifier": (
        Subscription(
            "notifier.events",
            ("contact.registered", "contact.preferences_changed", "booking.confirmed", "booking.rejected",
             "booking.cancelled", "booking.rescheduled", "booking.no_show", "booking.attended",
             "delivery.status_reported", "sms.received", "sms.reply_requested", "client.erasure_requested"),
        ),
        Subscription("notifier.queries", ("sms.preview_requested", "deliveries.report_requested",
                                          "deliveries.failed_requested", "delivery.retry_requested",
                                          "contact.number_requested")),
    ),
    # role.heartbeat: every role's, for the admins' health view (shared.heartbeat).
    "gateway": (Subscription("gateway.events", ("booking.confirmed", "booking.rejected", "booking.cancelled",
                                                "booking.rescheduled", "booking.move_refused",
                                                "role.heartbeat")),),
}


def _queue(subscription: Subscription, settings: CommonSettings) -> Queue:
    arguments: dict[str, Any] | None = None
    if not settings.is_embedded_broker:
        arguments = {
            "x-queue-type": "quorum",
            "x-delivery-limit": DELIVERY_LIMIT,
            "x-dead-letter-exchange": DEAD_LETTERS.name,
            "x-dead-letter-routing-key": subscription.queue,
        }
    return Queue(
        subscription.queue,
        bindings=[binding(EVENTS, routing_key=t) for t in subscription.message_types],
        durable=True,
        queue_arguments=arguments,
    )


def timer_queue(service: str) -> Queue:
    """Ticks are worthless once late (the next one follows), so this queue is classic and its messages expire."""
    name = f"{service}.timers"
    return Queue(name, TIMERS, routing_key=name, durable=True, message_ttl=30)


TIMER_SERVICES = ("notifier",)


def queues_for(service: str, settings: CommonSettings) -> list[Queue]:
    queues = [_queue(s, settings) for s in SUBSCRIPTIONS[service]]
    if service in TIMER_SERVICES:
        queues.append(timer_queue(service))
    return queues


def origin_queue(service: str, routing_key: str | None) -> str:
    """The queue of `service` a message with this routing key came from: a message published straight to a queue
    (the default exchange) carries the queue's name, one published on the events exchange its type. A key the
    service does not know (a type nobody handles) counts as its first queue's."""
    names: list[str] = [s.queue for s in SUBSCRIPTIONS[service]]
    if service in TIMER_SERVICES:
        names.append(f"{service}.timers")
    if routing_key in names:
        return str(routing_key)
    for subscription in SUBSCRIPTIONS[service]:
        if routing_key in subscription.message_types:
            return subscription.queue
    return names[0]


def dead_letter_headers(queue: str, reason: str) -> dict[str, str]:
    return {REASON_HEADER: reason[:500], QUEUE_HEADER: queue, DEAD_AT_HEADER: datetime.now(UTC).isoformat(),
            LETTER_ID_HEADER: uuid4().hex[:12]}


def all_queues(settings: CommonSettings) -> list[Queue]:
    return [DEAD_LETTER_QUEUE, *(q for service in SUBSCRIPTIONS for q in queues_for(service, settings))]


def declare_topology(connection: Connection, settings: CommonSettings) -> None:
    """Idempotent; every publisher calls it so that no message is published into an exchange without queues."""
    channel = connection.default_channel
    for exchange in (EVENTS, DEAD_LETTERS, TIMERS):
        exchange(channel).declare()
    for queue in all_queues(settings):
        queue(channel).declare()


# While the broker is unreachable at start, a line every so often says so.
BROKER_WAIT_LOG_EVERY_SECONDS = 5.0


def declare_topology_when_reachable(settings: CommonSettings, role: str) -> threading.Thread:
    """Every role declares the whole topology (exchanges, queues, the dead-letter exchange and queue) as soon as
    the broker answers, in a thread of its own (a role does not wait for it to start). Before this, the dead-letter
    exchange existed only once something had been published, and a message RabbitMQ dead-lettered on a fresh
    broker (a delivery limit reached, a reject) was dropped."""

    def declare() -> None:
        started = time.monotonic()
        last_said = 0.0
        while True:
            try:
                with broker_connection(settings, connect_timeout=4) as connection:
                    connection.ensure_connection(max_retries=1, timeout=4)
                    declare_topology(connection, settings)
                if last_said:
                    log.warning("%s: broker reachable after %.0f s; topology declared", role,
                                time.monotonic() - started)
                return
            except Exception as exc:  # noqa: BLE001 - retried until the broker answers
                now = time.monotonic()
                if not last_said or now - last_said >= BROKER_WAIT_LOG_EVERY_SECONDS:
                    log.warning("%s: broker unreachable (%s); waiting for it (%.0f s so far)", role,
                                type(exc).__name__, now - started)
                    last_said = now
            time.sleep(1.0)

    thread = threading.Thread(target=declare, name=f"{role}-topology", daemon=True)
    thread.start()
    return thread


def broker_connection(settings: CommonSettings, **options: Any) -> Connection:
    """A kombu connection to the configured broker (the embedded one through our own transport)."""
    url, transport = embedded_broker.connection_args(settings.broker_url)
    return Connection(url, transport=transport, **options)


def make_celery(service: str, settings: CommonSettings) -> Celery:
    url, transport = embedded_broker.connection_args(settings.broker_url)
    app = Celery(service, broker=url, set_as_current=False)
    app.conf.update(
        broker_transport=transport,
        worker_consumer="shared.worker:WorkerConsumer",
        task_queues=queues_for(service, settings),
        task_default_queue=SUBSCRIPTIONS[service][0].queue,
        task_create_missing_queues=False,
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        result_backend=None,
        # A message is acknowledged only after its handler committed; a killed worker hands it back.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        # No task has a rate limit; this skips the token-bucket check Celery makes for every message.
        worker_disable_rate_limits=True,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        worker_enable_remote_control=not settings.is_embedded_broker,
        worker_detect_quorum_queues=True,
        broker_connection_retry_on_startup=True,
        # A worker started before its broker (or whose broker is down for long) waits for it, never gives up.
        broker_connection_max_retries=None,
        broker_connection_timeout=4,
        timezone="UTC",
        enable_utc=True,
    )
    return app


@dataclass(frozen=True)
class OutgoingMessage:
    """An outbox row on its way to the broker."""
    message_id: str
    routing_key: str
    body: str  # the envelope as JSON (Envelope.to_wire)


@dataclass(frozen=True)
class _Message:
    body: Any
    exchange: Exchange | str
    routing_key: str
    headers: dict[str, Any] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)
    delivery_mode: int = 2
    expiration: float | None = None
    content_type: str | None = None  # set: the body is bytes already, sent as they are
    content_encoding: str | None = None


CONFIRM_TIMEOUT_SECONDS = 10.0
# Threads of one process publishing at once (request threads, worker threads, the relay); more wait for one.
PUBLISHING_CONNECTIONS = 10


class NotConfirmed(Exception):
    """The broker nacked a message (e.g. a queue over its limit) or did not answer in time: it does not count as
    sent (not an OSError, so it is not taken for a dropped connection)."""


class _Confirms:
    """Publisher confirms on one RabbitMQ channel, through py-amqp's public API: `confirm_select()` puts the channel
    in confirm mode, and the broker's answers reach the `basic_ack` / `basic_nack` callbacks of `channel.events`.
    Delivery tags number the channel's publishes from 1, so each publish is the next tag."""

    def __init__(self, channel: Any) -> None:
        self.channel = channel
        self.published = 0
        self.unconfirmed: set[int] = set()
        self.refused: set[int] = set()
        channel.events["basic_ack"].add(self._ack)
        channel.events["basic_nack"].add(self._nack)
        channel.confirm_select()

    def sent(self) -> None:
        self.published += 1
        self.unconfirmed.add(self.published)

    def _ack(self, delivery_tag: int, multiple: bool) -> None:
        self._settle(delivery_tag, multiple)

    def _nack(self, delivery_tag: int, multiple: bool) -> None:
        self.refused |= self._settle(delivery_tag, multiple)

    def _settle(self, delivery_tag: int, multiple: bool) -> set[int]:
        settled = {tag for tag in self.unconfirmed if tag <= delivery_tag} if multiple else {delivery_tag}
        self.unconfirmed -= settled
        return settled

    def wait(self, connection: Connection, tags: range, timeout: float) -> None:
        """Returns once the broker confirmed every one of `tags`; raises if it refused one or took too long."""
        deadline = time.monotonic() + timeout
        while not self.unconfirmed.isdisjoint(tags):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise NotConfirmed("the broker did not confirm a publish in time")
            try:
                connection.drain_events(timeout=remaining)
            except TimeoutError:
                continue  # the deadline decides
        if not self.refused.isdisjoint(tags):
            raise NotConfirmed("the broker refused (nacked) a message")


class Publisher:
    """Everything a service sends goes through `_send`: kombu's `Producer.publish` on a pooled connection of its
    own. On RabbitMQ the call returns once the broker confirmed every message it sent (raises if it refused one or
    did not answer in time); the messages go out first and their confirms are awaited together, so a batch of
    outbox rows waits for the broker once. The embedded transport's publish is a committed insert.

    Envelopes travel as the one Celery task (`MESSAGE_TASK`), its message built by Celery's `as_task_v2`."""

    def __init__(self, app: Celery, settings: CommonSettings) -> None:
        self.app = app
        self.settings = settings
        self.origin = anon_nodename()
        # The embedded transport keeps exchanges and bindings per connection (kombu's BrokerState lives on each
        # Transport instance): a message published on a pooled connection that never declared them is routed
        # nowhere and silently lost. So every connection declares the topology once before its first publish.
        self._declared: weakref.WeakSet[Connection] = weakref.WeakSet()
        self._confirms: weakref.WeakKeyDictionary[Connection, _Confirms] = weakref.WeakKeyDictionary()
        # Connections of the publisher's own (not Celery's pool, which Celery may publish on too): the delivery tags
        # of a channel number every publish on it, so only this publisher may publish on these channels.
        self.connections = broker_connection(settings).Pool(limit=PUBLISHING_CONNECTIONS)
        self._lock = threading.Lock()
        self._connection_errors = tuple(broker_connection(settings).connection_errors)

    def publish(self, wire: dict[str, Any], routing_key: str, expires: float | None = None) -> None:
        """One envelope, now (a question whose answer is awaited; `expires`: worthless after so many seconds)."""
        self._send([self._event(wire, routing_key, expires)])

    def publish_outbox(self, messages: Sequence[OutgoingMessage]) -> None:
        """The outbox's rows, in order; returns once the broker confirmed every one (some may have arrived when it
        raises: at-least-once)."""
        self._send([self._event(json.loads(m.body), m.routing_key) for m in messages])

    def publish_dead_letter(self, raw: Any, service: str, reason: str) -> None:
        """An envelope (or whatever stood in its place) the service's consumer cannot handle, as the task message
        it came in, onto the dead-letter queue with `reason`; requeued, it goes back to the queue it came from."""
        message_type = raw.get("type") if isinstance(raw, dict) else None
        message_id = raw.get("message_id") if isinstance(raw, dict) else None
        queue = origin_queue(service, message_type if isinstance(message_type, str) else None)
        task = self._task(raw, str(message_id or uuid4()), queue)
        self._send([_Message(task.body, DEAD_LETTERS, queue, headers={**task.headers,
                                                                     **dead_letter_headers(queue, reason)},
                             properties=task.properties)])

    def publish_dead_letter_message(self, body: bytes, content_type: str | None, content_encoding: str | None,
                                    headers: dict[str, Any] | None, queue: str, reason: str) -> None:
        """A message as it arrived (its bytes, content type and headers), onto the dead-letter queue with
        `reason`: what a worker cannot even decode."""
        self._send([_Message(body, DEAD_LETTERS, queue, headers={**(headers or {}),
                                                                 **dead_letter_headers(queue, reason)},
                             content_type=content_type or "application/data",
                             content_encoding=content_encoding or "binary")])

    def reply(self, reply_to: str, wire: dict[str, Any], correlation_id: str, ttl_seconds: float) -> None:
        """Answer a request on the asker's own queue (default exchange), expiring with the asker's patience."""
        # Transient: the asker's queue does not outlive the asker.
        self._send([_Message(wire, "", reply_to, properties={"correlation_id": correlation_id},
                             delivery_mode=1, expiration=ttl_seconds)])

    def _task(self, wire: Any, message_id: str, routing_key: str, expires: float | None = None) -> Any:
        # The argument's repr in the headers would repeat the envelope (up to 1 KB every queue stores and nobody
        # reads): the message type says what it is.
        return self.app.amqp.as_task_v2(message_id, MESSAGE_TASK, args=(wire,), expires=expires,
                                        origin=self.origin, argsrepr=f"({routing_key!r},)", kwargsrepr="{}",
                                        ignore_result=True)

    def _event(self, wire: dict[str, Any], routing_key: str, expires: float | None = None) -> _Message:
        task = self._task(wire, str(wire["message_id"]), routing_key, expires)
        return _Message(task.body, EVENTS, routing_key, headers=task.headers, properties=task.properties)

    def _send(self, messages: Sequence[_Message]) -> None:
        try:
            self._send_on_a_pooled_connection(messages)
        except self._connection_errors:
            # A pooled connection the broker dropped meanwhile (a restart) fails on first use: once more on a
            # fresh one. Messages that did arrive go twice, which consumers tolerate (at-least-once).
            self._send_on_a_pooled_connection(messages)

    def _send_on_a_pooled_connection(self, messages: Sequence[_Message]) -> None:
        with self.connections.acquire(block=True) as connection:
            try:
                producer = Producer(connection)
                self._ensure_topology(connection)
                confirms = None if self.settings.is_embedded_broker else self._confirms_on(connection, producer)
                first = confirms.published + 1 if confirms else 0
                for message in messages:
                    producer.publish(
                        message.body, exchange=message.exchange, routing_key=message.routing_key,
                        headers=message.headers, serializer="json", content_type=message.content_type,
                        content_encoding=message.content_encoding, delivery_mode=message.delivery_mode,
                        expiration=message.expiration, retry=False, **message.properties)
                    if confirms:
                        confirms.sent()
                if confirms:
                    confirms.wait(connection, range(first, confirms.published + 1), CONFIRM_TIMEOUT_SECONDS)
            except BaseException:
                # A connection that failed mid-publish may still owe confirms (or was dropped by the broker): the
                # pool gets a fresh one, which declares the topology and enters confirm mode again.
                self._declared.discard(connection)
                self._confirms.pop(connection, None)
                connection.collect()
                raise

    def _confirms_on(self, connection: Connection, producer: Producer) -> _Confirms:
        confirms = self._confirms.get(connection)
        if confirms is None or confirms.channel is not producer.channel:
            confirms = self._confirms[connection] = _Confirms(producer.channel)
        return confirms

    def _ensure_topology(self, connection: Connection) -> None:
        if connection in self._declared:
            return
        with self._lock:
            if connection not in self._declared:
                declare_topology(connection, self.settings)
                self._declared.add(connection)
