"""The gateway's one broker consumer, in a thread of the web process: its event queue and its reply queue.

Events (booking decisions) go through the shared idempotent consumer, one at a time, and are acknowledged once it
committed; replies resolve waiting slot searches. kombu's ConsumerMixin reconnects after a broker outage and
declares the queues again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from kombu import Connection, Message, Queue
from kombu.mixins import ConsumerMixin

log = logging.getLogger(__name__)

# Decisions the broker may hand over before the previous ones are acknowledged: the next one is already here when
# the listener is done with one.
EVENT_PREFETCH = 8


class Listener(ConsumerMixin):  # type: ignore[misc]
    def __init__(
        self,
        connection: Connection,
        events: Queue,
        replies: Queue,
        on_event: Callable[[Any], None],
        on_reply: Callable[[str, Any], None],
    ) -> None:
        self.connection = connection
        self.events = events
        self.replies = replies
        self.on_event = on_event
        self.on_reply = on_reply
        self.ready = threading.Event()
        self._thread: threading.Thread | None = None

    def get_consumers(self, consumer_cls: Any, channel: Any) -> list[Any]:
        return [
            consumer_cls(queues=[self.events], callbacks=[self._event], accept=["json"], prefetch_count=EVENT_PREFETCH),
            consumer_cls(queues=[self.replies], callbacks=[self._reply], accept=["json"], no_ack=True),
        ]

    def on_consume_ready(self, connection: Any, channel: Any, consumers: Any, **kwargs: Any) -> None:
        self.ready.set()

    def on_connection_error(self, exc: Exception, interval: float) -> None:
        self.ready.clear()
        log.warning("gateway listener: broker unreachable (%s), retrying in %.0fs", type(exc).__name__, interval)

    def _event(self, body: Any, message: Message) -> None:
        # Celery task protocol 2: the body is [args, kwargs, embed] and args[0] is the envelope.
        try:
            envelope = body[0][0]
        except (TypeError, IndexError, KeyError):
            envelope = body
        self.on_event(envelope)
        message.ack()

    def _reply(self, body: Any, message: Message) -> None:
        correlation_id = message.properties.get("correlation_id")
        if correlation_id:
            self.on_reply(correlation_id, body)

    def start(self, wait_seconds: float = 5.0) -> None:
        self.should_stop = False  # a listener stopped before may be started again
        self._thread = threading.Thread(target=self.run, name="gateway-listener", daemon=True)
        self._thread.start()
        self.ready.wait(wait_seconds)

    def stop(self) -> None:
        self.should_stop = True
        if self._thread is not None:
            self._thread.join(5)
