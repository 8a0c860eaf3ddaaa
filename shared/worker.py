"""The Celery side shared by the workers: the one message task, the worker's check of every message it receives
(what is not a task it can run goes to the dead-letter queue with the reason), and how a worker process starts."""

from __future__ import annotations

import inspect
import logging
import os
import weakref
from collections.abc import Callable
from typing import Any, ClassVar

from celery import Celery
from celery.exceptions import Reject
from celery.signals import worker_shutting_down
from celery.worker.consumer import Consumer as CeleryConsumer
from kombu import Message, Queue

from shared.consumer import Consumer, Stopping
from shared.messaging import MESSAGE_TASK, Publisher, origin_queue
from shared.metrics import dead_lettered

log = logging.getLogger(__name__)

# The publisher each app's worker dead-letters with (set by register_message_task).
_DEAD_LETTERS: weakref.WeakKeyDictionary[Celery, Publisher] = weakref.WeakKeyDictionary()
ACCEPTED_CONTENT = "application/json"


def register_message_task(app: Celery, consumer: Consumer, publisher: Publisher) -> None:
    """A thin task: the consumer decodes the envelope, checks the inbox and calls the handler. A message waiting
    for the database when the worker stops goes back to its queue unacknowledged (Celery's `Reject(requeue=True)`)
    instead of being acknowledged as done."""
    _DEAD_LETTERS[app] = publisher

    # shared=False: the task is this app's only. Celery's default adds every decorated task to each app finalized
    # later in the process, so a second app (tests build several) would get this closure and its consumer.
    @app.task(name=MESSAGE_TASK, acks_late=True, reject_on_worker_lost=True, ignore_result=True, shared=False)
    def message(raw: Any) -> None:
        try:
            consumer.handle(raw)
        except Stopping:
            raise Reject("worker stopping while the database is unreachable", requeue=True) from None
        except Exception as exc:
            # A handler's own failure is dead-lettered inside handle(); this is a question that failed or a dead
            # letter that could not be sent. Acknowledged, it would be gone: dead-letter it here, and if even that
            # fails (the broker went away) hand it back to its queue.
            log.exception("%s: a message failed outside its handler", consumer.service)
            try:
                dead_lettered(consumer.service, "task_failed")
                consumer.dead_letter(raw, f"failed: {type(exc).__name__}")
            except Exception:  # noqa: BLE001 - the broker decides: redelivered, or dead-lettered at its limit
                raise Reject("could not be dead-lettered", requeue=True) from None

    def stopping(**_kwargs: Any) -> None:
        consumer.stop()

    worker_shutting_down.connect(stopping, weak=False)


def malformed(app: Celery, message: Message) -> str | None:
    """Why a message received by a worker of `app` is no task it can run, or None. Celery itself acknowledges a
    body it cannot decode and drops it, rejects a message without task headers or of an unknown task (gone,
    unless the broker dead-letters it), and fails and acknowledges a call with the wrong arguments."""
    headers = message.headers
    if not isinstance(headers, dict) or "task" not in headers or "id" not in headers:
        return "no Celery task headers (task, id)"
    task = app.tasks.get(str(headers["task"]))
    if task is None:
        return f"unknown task {str(headers['task'])[:80]!r}"
    if message.content_type != ACCEPTED_CONTENT:
        return f"content type {str(message.content_type)[:80]!r} is not {ACCEPTED_CONTENT}"
    try:
        body = message.decode()
    except Exception as exc:  # noqa: BLE001 - any decoding failure makes it undecodable
        return f"body is not valid JSON ({type(exc).__name__})"
    if not (isinstance(body, list) and len(body) == 3 and isinstance(body[0], list) and isinstance(body[1], dict)):
        return "body is not a Celery task message ([args, kwargs, embed])"
    try:
        inspect.signature(task.run).bind(*body[0], **body[1])
    except TypeError:
        return f"{task.name} called with {len(body[0])} arguments and {len(body[1])} keyword arguments"
    return None


def dead_letter_received(app: Celery, message: Message, reason: str) -> None:
    """`message` as it arrived onto the dead-letter queue with `reason`, then acknowledged. If it cannot be sent
    (the broker went away) it is handed back to its queue, not dropped."""
    queue = origin_queue(app.main or "", message.delivery_info.get("routing_key"))
    log.error("%s: dead-lettered a message from %s: %s", app.main, queue, reason)
    dead_lettered(app.main or "", "malformed")
    try:
        _DEAD_LETTERS[app].publish_dead_letter_message(message.body, message.content_type, message.content_encoding,
                                                       message.headers, queue, reason)
    except Exception:
        log.exception("%s: could not dead-letter a message; it goes back to %s", app.main, queue)
        message.requeue()
        return
    message.ack()


class WorkerConsumer(CeleryConsumer):
    """Celery's consumer without native delayed delivery: we never publish ETA/countdown tasks (long waits are
    database rows), so its exchanges and the 28 quorum queues it declares on RabbitMQ are not wanted. Chosen by
    the `worker_consumer` setting (`make_celery`)."""

    class Blueprint(CeleryConsumer.Blueprint):
        default_steps: ClassVar[list[str]] = [
            step for step in CeleryConsumer.Blueprint.default_steps
            if step != "celery.worker.consumer.delayed_delivery:DelayedDelivery"]

    def create_task_handler(self, promise: Any = None) -> Callable[[Message], Any]:
        """Celery's handler for every received message, after our check: a malformed message goes to the
        dead-letter queue with its reason (and is acknowledged) instead of being dropped."""
        handler = super().create_task_handler() if promise is None else super().create_task_handler(promise)

        def on_task_received(message: Message) -> Any:
            reason = malformed(self.app, message)
            if reason is not None:
                return dead_letter_received(self.app, message, reason)
            return handler(message)

        return on_task_received

    def on_decode_error(self, message: Message, exc: Exception) -> None:
        dead_letter_received(self.app, message, f"body cannot be decoded ({type(exc).__name__})")


def node_name(service: str, pid: int | None = None) -> str:
    return f"{service}-{os.getpid() if pid is None else pid}"


def is_node_of(service: str, node: str, host: str) -> bool:
    """Whether a Celery node name (`scheduler-1234@host`) is a worker of this role on this host."""
    name, _, node_host = node.partition("@")
    prefix, _, pid = name.rpartition("-")
    return prefix == service and pid.isdigit() and node_host == host


def run_worker(app: Celery, service: str, queues: list[Queue], concurrency: int, log_level: str) -> None:
    # A thread pool keeps one process per worker: one engine, one relay thread, one composition root.
    app.worker_main(
        [
            "worker",
            # The pid keeps two workers of one role on one host apart: on RabbitMQ each node's remote-control
            # queue is exclusive, and a second "scheduler@host" would fail to start (RESOURCE_LOCKED).
            f"--hostname={node_name(service)}@%h",
            "--pool=threads",
            f"--concurrency={concurrency}",
            f"--queues={','.join(q.name for q in queues)}",
            f"--loglevel={log_level}",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
    )
