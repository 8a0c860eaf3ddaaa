"""The baseline bench/reminder_dispatch.py compares the notifier with: reminders as Celery ETA tasks.

    BENCH_ETA_BROKER=amqp://... python bench/eta_worker.py

A minimal Celery app with one task on a classic queue, a thread pool of one (as the notifier's worker). A worker
keeps every ETA task it has received in its own memory until the task is due, which is what a design with a broker
timer per reminder would have to hold. Prefetch is unlimited (multiplier 0) so that it takes them all in: with the
default multiplier Celery raises the prefetch by one per ETA task it holds, but Celery 5.7 on RabbitMQ sets a
per-consumer QoS that a running consumer does not see change, and the tasks trickled in at a few per second.
"""

from __future__ import annotations

import os

from celery import Celery
from kombu import Queue

QUEUE = "bench.eta"
TASK = "bench.send_reminder"

app = Celery("bench_eta", broker=os.environ.get("BENCH_ETA_BROKER", "memory://"))
app.conf.update(task_queues=[Queue(QUEUE, durable=True)], task_default_queue=QUEUE, task_ignore_result=True,
                worker_hijack_root_logger=False, worker_detect_quorum_queues=False,
                worker_prefetch_multiplier=0)


@app.task(name=TASK)  # type: ignore[untyped-decorator]
def send_reminder(booking_id: str, kind: str, language: str) -> None:
    """Never runs within the benchmark: every task is due a day later."""


if __name__ == "__main__":
    app.worker_main(["worker", "--pool=threads", "--concurrency=1", f"--queues={QUEUE}", "--loglevel=WARNING",
                     "--without-gossip", "--without-mingle", "--without-heartbeat"])
