"""The gateway's one broker consumer, in a thread of the web process: its event queue and its reply queue.

Events (booking decisions) go through the shared idempotent consumer; replies resolve waiting slot searches.
kombu's ConsumerMixin reconnects after a broker outage and declares the queues again.

Events are taken in batches: up to EVENT_BATCH are delivered unacknowledged, and whatever has arrived when the
socket holds no more is applied in one transaction, then acknowledged. Under load that is one commit for many
decisions; alone, an event is applied as soon as it arrives. A crash before the acknowledgement redelivers the
batch, and the inbox makes the second application a no-op.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from kombu import Connection, Message, Queue
from kombu.mixins import ConsumerMixin

log = logging.getLogger(__name__)

# Enough to make a commit per batch cheap under load, few enough that a redelivered batch is small.
EVENT_BATCH = 32


class Listener(ConsumerMixin):  # type: ignore[misc]
    def __init__(
        self,
        connection: Connection,
        events: Queue,
        replies: Queue,
        on_events: Callable[[list[Any]], None],
        on_reply: Callable[[str, Any], None],
    ) -> None:
        self.connection = connection
        self.events = events
        self.replies = replies
        self.on_events = on_events
        self.on_reply = on_reply
        self.ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._pending: list[tuple[Any, Message]] = []

    def get_consumers(self, consumer_cls: Any, channel: Any) -> list[Any]:
        return [
            consumer_cls(queues=[self.events], callbacks=[self._event], accept=["json"], prefetch_count=EVENT_BATCH),
            consumer_cls(queues=[self.replies], callbacks=[self._reply], accept=["json"], no_ack=True),
        ]

    def consume(self, limit: int | None = None, timeout: float | None = None, safety_interval: float = 1,
                **kwargs: Any) -> Any:
        """kombu's loop, except that while events are pending it only reads what the socket already holds, and
        applies them once it holds no more (or EVENT_BATCH are pending)."""
        with self.consumer_context(**kwargs) as (conn, _channel, _consumers):
            try:
                while not self.should_stop:
                    try:
                        conn.drain_events(timeout=0 if self._pending else safety_interval)
                    except TimeoutError:
                        if self._pending:
                            self._apply_pending()
                        else:
                            conn.heartbeat_check()
                    except OSError:
                        if not self.should_stop:
                            raise
                    else:
                        if len(self._pending) >= EVENT_BATCH:
                            self._apply_pending()
                        yield
            finally:
                # Unacknowledged on a channel that is gone: the broker delivers them again.
                self._pending.clear()

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
        self._pending.append((envelope, message))

    def _apply_pending(self) -> None:
        batch, self._pending = self._pending, []
        self.on_events([envelope for envelope, _ in batch])
        for _, message in batch:
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
