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
from dataclasses import dataclass
from typing import Any

from celery import Celery
from celery.utils.nodenames import anon_nodename
from kombu import Connection, Exchange, Queue, binding

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


@dataclass(frozen=True)
class Subscription:
    queue: str
    message_types: tuple[str, ...]


SUBSCRIPTIONS: dict[str, tuple[Subscription, ...]] = {
    "scheduler": (
        Subscription("scheduler.bookings", ("booking.requested", "booking.cancellation_requested",
                                            "contact.unreachable")),
        Subscription("scheduler.queries", ("slots.requested", "staff.requested", "feed.requested",
                                           "counsellor.requested")),
    ),
    "notifier": (
        Subscription(
            "notifier.events",
            ("contact.registered", "contact.preferences_changed", "booking.confirmed", "booking.rejected",
             "booking.cancelled", "booking.rescheduled", "booking.no_show", "booking.attended",
             "delivery.status_reported", "sms.received"),
        ),
        Subscription("notifier.queries", ("sms.preview_requested",)),
    ),
    "gateway": (Subscription("gateway.events", ("booking.confirmed", "booking.rejected", "booking.cancelled",
                                                "booking.rescheduled")),),
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


def all_queues(settings: CommonSettings) -> list[Queue]:
    return [DEAD_LETTER_QUEUE, *(q for service in SUBSCRIPTIONS for q in queues_for(service, settings))]


def declare_topology(connection: Connection, settings: CommonSettings) -> None:
    """Idempotent; every publisher calls it so that no message is published into an exchange without queues."""
    channel = connection.default_channel
    for exchange in (EVENTS, DEAD_LETTERS, TIMERS):
        exchange(channel).declare()
    for queue in all_queues(settings):
        queue(channel).declare()


def make_celery(service: str, settings: CommonSettings) -> Celery:
    if settings.is_embedded_broker:
        embedded_broker.install()
    app = Celery(service, broker=settings.broker_url, set_as_current=False)
    app.conf.update(
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
        broker_connection_timeout=4,
        broker_transport_options={} if settings.is_embedded_broker else {"confirm_publish": True},
        timezone="UTC",
        enable_utc=True,
    )
    return app


class Publisher:
    """Publishes envelopes on the topic exchange, waiting for the broker's confirm (RabbitMQ)."""

    def __init__(self, app: Celery, settings: CommonSettings) -> None:
        self.app = app
        self.settings = settings
        # The embedded transport keeps exchanges and bindings per connection (kombu's BrokerState lives on each
        # Transport instance): a message published on a pooled connection that never declared them is routed
        # nowhere and silently lost. So every connection declares the topology once before its first publish.
        self._declared: weakref.WeakSet[Connection] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._batch: ConfirmedBatch | None = None

    def _ensure_topology(self, connection: Connection) -> None:
        if connection in self._declared:
            return
        with self._lock:
            if connection not in self._declared:
                declare_topology(connection, self.settings)
                self._declared.add(connection)

    def publish(self, wire: dict[str, Any], routing_key: str, expires: float | None = None) -> None:
        with self.app.producer_or_acquire() as producer:
            self._ensure_topology(producer.connection)
            self.app.send_task(
                MESSAGE_TASK,
                args=[wire],
                task_id=str(wire["message_id"]),
                exchange=EVENTS,
                routing_key=routing_key,
                producer=producer,
                retry=False,
                expires=expires,
                declare=[],  # the topology is declared once above, with its RabbitMQ arguments
            )

    def publish_batch(self, messages: Sequence[OutgoingMessage]) -> None:
        """Publishes envelopes already serialised (the outbox's rows) and returns once the broker confirmed every
        one; raises if it did not (some may have arrived: at-least-once). On RabbitMQ the batch goes out at once
        and its confirms are awaited together, on a connection of the caller's own (`ConfirmedBatch`)."""
        if self.settings.is_embedded_broker:
            for message in messages:
                self.publish(json.loads(message.body), message.routing_key)
            return
        with self._lock:
            if self._batch is None:
                self._batch = ConfirmedBatch(self.app, self.settings)
            batch = self._batch
        batch.publish(messages)

    def close(self) -> None:
        if self._batch is not None:
            self._batch.close()

    def publish_dead_letter(self, raw: Any, from_queue: str, reason: str) -> None:
        with self.app.producer_or_acquire() as producer:
            self._ensure_topology(producer.connection)
            producer.publish(
                {"message": raw, "reason": reason, "queue": from_queue},
                exchange=DEAD_LETTERS,
                routing_key=from_queue,
                serializer="json",
                delivery_mode=2,
                retry=True,
                retry_policy={"max_retries": 3},
            )

    def reply(self, reply_to: str, wire: dict[str, Any], correlation_id: str, ttl_seconds: float) -> None:
        """Answer a request on the asker's own queue (default exchange), expiring with the asker's patience."""
        with self.app.producer_or_acquire() as producer:
            self._ensure_topology(producer.connection)
            producer.publish(
                wire,
                exchange="",
                routing_key=reply_to,
                correlation_id=correlation_id,
                serializer="json",
                expiration=ttl_seconds,
                retry=False,
            )


@dataclass(frozen=True)
class OutgoingMessage:
    message_id: str
    routing_key: str
    body: str  # the envelope as JSON (Envelope.to_wire)


# Celery's task protocol 2, as `send_task` writes it for MESSAGE_TASK: the body is [args, kwargs, embed].
_EMBED = '{"callbacks": null, "errbacks": null, "chain": null, "chord": null}'
CONFIRM_TIMEOUT_SECONDS = 10.0


def task_headers(message_id: str, routing_key: str, origin: str) -> dict[str, Any]:
    """The headers `send_task` writes, except the argument's repr: the message type instead of a repr of the whole
    envelope (up to 1 KB that every queue would store and every consumer decode, and that nobody reads)."""
    return {
        "lang": "py", "task": MESSAGE_TASK, "id": message_id, "shadow": None, "eta": None, "expires": None,
        "group": None, "group_index": None, "retries": 0, "timelimit": [None, None], "root_id": message_id,
        "parent_id": None, "argsrepr": f"({routing_key!r},)", "kwargsrepr": "{}", "origin": origin,
        "ignore_result": None, "replaced_task_nesting": 0, "stamped_headers": None, "stamps": {},
    }


class ConfirmedBatch:
    """Publishes batches of envelopes as the one Celery task on RabbitMQ with publisher confirms pipelined: every
    message of a batch is written, then the confirms are awaited together (one wait instead of one per message),
    and the body is built from the stored JSON without decoding and encoding it again.

    It owns its connection and channel, so it can count the delivery tags the broker confirms (tags number the
    channel's publishes from 1). Not thread-safe: one caller (an outbox relay) at a time. After any error the
    connection is dropped and the next batch opens a new one."""

    def __init__(self, app: Celery, settings: CommonSettings, confirm_timeout: float = CONFIRM_TIMEOUT_SECONDS) -> None:
        self.app = app
        self.settings = settings
        self.confirm_timeout = confirm_timeout
        self._origin = anon_nodename()
        self._connection: Connection | None = None
        self._channel: Any = None
        self._published = 0  # delivery tag of the last message written on this channel
        self._unconfirmed: set[int] = set()  # tags of this batch the broker has not confirmed yet
        self._refused = False

    def publish(self, messages: Sequence[OutgoingMessage]) -> None:
        if not messages:
            return
        try:
            channel = self._open()
            for message in messages:
                payload = f"[[{message.body}], {{}}, {_EMBED}]".encode()
                amqp_message = channel.prepare_message(
                    payload, 0, "application/json", "utf-8",
                    task_headers(message.message_id, message.routing_key, self._origin),
                    {"correlation_id": message.message_id, "reply_to": "", "delivery_mode": 2},
                )
                channel._basic_publish(amqp_message, exchange=EVENTS.name, routing_key=message.routing_key)
                self._published += 1
                self._unconfirmed.add(self._published)
            self._wait_for_confirms()
        except BaseException:
            self.close()
            raise

    def _open(self) -> Any:
        if self._channel is not None:
            return self._channel
        connection = self.app.connection_for_write()
        try:
            connection.connect()
            declare_topology(connection, self.settings)
            channel = connection.default_channel
            channel.events["basic_ack"].add(self._on_ack)
            channel.events["basic_nack"].add(self._on_nack)
            channel.confirm_select()
            channel._confirm_selected = True
        except BaseException:
            connection.release()
            raise
        self._connection, self._channel = connection, channel
        self._published = 0
        self._unconfirmed = set()
        self._refused = False
        return channel

    def _on_ack(self, delivery_tag: int, multiple: bool) -> None:
        if multiple:
            self._unconfirmed = {tag for tag in self._unconfirmed if tag > delivery_tag}
        else:
            self._unconfirmed.discard(delivery_tag)

    def _on_nack(self, delivery_tag: int, multiple: bool) -> None:
        self._refused = True

    def _wait_for_confirms(self) -> None:
        assert self._connection is not None
        deadline = time.monotonic() + self.confirm_timeout
        while self._unconfirmed and not self._refused:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("the broker did not confirm a batch in time")
            self._connection.drain_events(timeout=remaining)
        if self._refused:
            raise MessageRefused("the broker refused (nacked) a message of the batch")

    def close(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None:
            try:
                connection.release()
            except Exception:  # a broken connection may fail to close; it is dropped either way
                log.debug("closing a broken publishing connection failed", exc_info=True)


class MessageRefused(Exception):
    """The broker nacked a message (e.g. a queue over its limit): nothing of the batch counts as sent."""
