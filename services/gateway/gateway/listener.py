"""The gateway's broker consumers, in threads of the web process: its event queue and its reply queue.

Events (booking decisions) go through the shared idempotent consumer, one at a time, and are acknowledged once it
committed; while the gateway's database is unreachable the event waits in hand (the consumer retries it) and the
rest wait in the queue. What is not a task message with one envelope goes to the dead-letter queue with the reason.
Replies resolve waiting slot searches, on a connection and thread of their own, so a database outage that holds an
event does not hold the answers. kombu's ConsumerMixin reconnects after a broker outage and declares the queues
again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from kombu import Connection, Message, Queue
from kombu.mixins import ConsumerMixin

from shared.consumer import Stopping
from shared.messaging import MESSAGE_TASK

log = logging.getLogger(__name__)

# Decisions the broker may hand over before the previous ones are acknowledged: the next one is already here when
# the listener is done with one.
EVENT_PREFETCH = 8
# Puts a message as it arrived onto the dead-letter queue with the reason.
DeadLetterMessageFn = Callable[[Message, str], None]


def _envelope(body: Any) -> tuple[Any, str | None]:
    """The envelope of a task message (Celery protocol 2: [args, kwargs, embed], args[0] the envelope), or why
    there is none."""
    if not (isinstance(body, list) and len(body) == 3 and isinstance(body[0], list) and isinstance(body[1], dict)):
        return None, "body is not a Celery task message ([args, kwargs, embed])"
    if len(body[0]) != 1 or body[1]:
        return None, f"lotse.message called with {len(body[0])} arguments and {len(body[1])} keyword arguments"
    return body[0][0], None


class _Thread(ConsumerMixin):  # type: ignore[misc]
    def __init__(self, connection: Connection, name: str, consumers: Callable[[Any, Any], list[Any]]) -> None:
        self.connection = connection
        self.name = name
        self.consumers = consumers
        self.ready = threading.Event()
        self._thread: threading.Thread | None = None

    def get_consumers(self, consumer_cls: Any, channel: Any) -> list[Any]:
        return self.consumers(consumer_cls, channel)

    def on_consume_ready(self, connection: Any, channel: Any, consumers: Any, **kwargs: Any) -> None:
        self.ready.set()

    def on_connection_error(self, exc: Exception, interval: float) -> None:
        self.ready.clear()
        log.warning("gateway %s: broker unreachable (%s), retrying in %.0fs", self.name, type(exc).__name__,
                    interval)

    def start(self) -> None:
        self.should_stop = False  # a listener stopped before may be started again
        self._thread = threading.Thread(target=self.run, name=f"gateway-{self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.should_stop = True
        if self._thread is not None:
            self._thread.join(5)


class Listener:
    def __init__(
        self,
        connection: Connection,
        events: Queue,
        replies: Queue,
        on_event: Callable[[Any], None],
        on_reply: Callable[[str, Any], None],
        dead_letter: DeadLetterMessageFn,
    ) -> None:
        self.events = events
        self.replies = replies
        self.on_event = on_event
        self.on_reply = on_reply
        self.dead_letter = dead_letter
        self._events = _Thread(connection, "listener", self._event_consumers)
        self._replies = _Thread(connection.clone(), "replies", self._reply_consumers)

    @property
    def ready(self) -> threading.Event:
        return self._events.ready

    def _event_consumers(self, consumer_cls: Any, channel: Any) -> list[Any]:
        return [consumer_cls(queues=[self.events], callbacks=[self._event], accept=["json"],
                             prefetch_count=EVENT_PREFETCH, on_decode_error=self._undecodable)]

    def _reply_consumers(self, consumer_cls: Any, channel: Any) -> list[Any]:
        return [consumer_cls(queues=[self.replies], callbacks=[self._reply], accept=["json"], no_ack=True,
                             on_decode_error=self._undecodable_reply)]

    def _event(self, body: Any, message: Message) -> None:
        if not isinstance(message.headers, dict) or "task" not in message.headers or "id" not in message.headers:
            self._reject(message, "no Celery task headers (task, id)")
            return
        if message.headers["task"] != MESSAGE_TASK:
            self._reject(message, f"unknown task {str(message.headers['task'])[:80]!r}")
            return
        envelope, problem = _envelope(body)
        if problem is not None:
            self._reject(message, problem)
            return
        try:
            self.on_event(envelope)
        except Stopping:
            message.requeue()  # the gateway stops while the event waits for the database: it stays queued
            return
        except Exception:
            # What the consumer could not even dead-letter (the broker went away meanwhile): back to the queue,
            # and this thread lives on (an exception out of a callback would end it).
            log.exception("gateway: an event could not be handled or dead-lettered; it goes back to its queue")
            message.requeue()
            return
        message.ack()

    def _undecodable(self, message: Message, exc: Exception) -> None:
        self._reject(message, f"body cannot be decoded ({type(exc).__name__})")

    def _reject(self, message: Message, reason: str) -> None:
        log.error("gateway: dead-lettered a message from %s: %s", self.events.name, reason)
        try:
            self.dead_letter(message, reason)
        except Exception:
            log.exception("gateway: could not dead-letter a message; it goes back to %s", self.events.name)
            message.requeue()
            return
        message.ack()

    def _undecodable_reply(self, message: Message, exc: Exception) -> None:
        log.error("gateway: dropped an undecodable reply (%s)", type(exc).__name__)

    def _reply(self, body: Any, message: Message) -> None:
        correlation_id = message.properties.get("correlation_id")
        if correlation_id:
            self.on_reply(correlation_id, body)

    def start(self, wait_seconds: float = 5.0) -> None:
        self._events.start()
        self._replies.start()
        self._events.ready.wait(wait_seconds)
        self._replies.ready.wait(wait_seconds)

    def stop(self) -> None:
        self._events.stop()
        self._replies.stop()
