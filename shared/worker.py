"""The Celery side shared by the workers: the one message task and how a worker process is started."""

from __future__ import annotations

import os
from typing import Any, ClassVar

from celery import Celery
from celery.worker.consumer import Consumer as CeleryConsumer
from kombu import Queue

from shared.consumer import Consumer
from shared.messaging import MESSAGE_TASK


def register_message_task(app: Celery, consumer: Consumer) -> None:
    """A thin task: the consumer decodes the envelope, checks the inbox and calls the handler."""

    # shared=False: the task is this app's only. Celery's default adds every decorated task to each app finalized
    # later in the process, so a second app (tests build several) would get this closure and its consumer.
    @app.task(name=MESSAGE_TASK, acks_late=True, reject_on_worker_lost=True, ignore_result=True, shared=False)
    def message(raw: Any) -> None:
        consumer.handle(raw)


class WorkerConsumer(CeleryConsumer):
    """Celery's consumer without native delayed delivery: we never publish ETA/countdown tasks (long waits are
    database rows), so its exchanges and the 28 quorum queues it declares on RabbitMQ are not wanted. Chosen by
    the `worker_consumer` setting (`make_celery`)."""

    class Blueprint(CeleryConsumer.Blueprint):
        default_steps: ClassVar[list[str]] = [
            step for step in CeleryConsumer.Blueprint.default_steps
            if step != "celery.worker.consumer.delayed_delivery:DelayedDelivery"]


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
