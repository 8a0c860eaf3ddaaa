"""Composition root of the notifier: settings, engine, cipher, SMS sender, dispatcher, Celery app and beat."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from zoneinfo import ZoneInfo

from celery import Celery
from sqlalchemy import Engine
from sqlmodel import Session

from notifier import contact_numbers, delivery_dashboard, handlers, migrations, previews
from notifier.dispatch import DispatchConfig, Dispatcher
from notifier.domain.planning import QuietHours
from notifier.domain.provider_errors import Retries
from notifier.metrics import tick_received
from notifier.plans import Policy
from notifier.repository import NotifierRepository
from notifier.settings import NotifierSettings
from notifier.sms import SmsSender, make_sender
from notifier.status import WorkerStatus
from shared.cipher import load_cipher
from shared.clock import Clock, system_clock
from shared.consumer import CommandHandler, Consumer
from shared.contracts import Envelope
from shared.db import make_engine, wait_for_database
from shared.messaging import TIMERS, Publisher, make_celery, timer_queue
from shared.outbox import Relay
from shared.worker import register_message_task

# The beat's tick (DISPATCH_EVERY_SECONDS, default of the setting) runs the dispatcher for what falls due later
# (reminders, retries after a backoff of 15 s or more); what a handled message makes due at once is sent after its
# commit, not at a tick. Every tick costs the idle system a message through the broker and a claim.
DISPATCH_EVERY_SECONDS: float = NotifierSettings.model_fields["dispatch_every_seconds"].default
# A tick wakes the worker's dispatch thread, which sends until nothing is due. Without that thread (tests, tools)
# a tick sends for up to this long while messages are due.
DISPATCH_LOOP_SECONDS = 5.0
RECONCILE_EVERY_SECONDS = 60.0
DISPATCH_TASK = "notifier.dispatch_due"
PURGE_EVERY_SECONDS = 3600.0


@dataclass
class Notifier:
    settings: NotifierSettings
    engine: Engine
    celery: Celery
    relay: Relay
    consumer: Consumer
    dispatcher: Dispatcher
    publisher: Publisher
    status: WorkerStatus  # its heartbeat's (shared.heartbeat)


def build(settings: NotifierSettings, clock: Clock = system_clock, sender: SmsSender | None = None) -> Notifier:
    # The worker's threads, the relay, the dispatch thread and its lock's connection and a spare.
    engine = make_engine(settings.notifier_database_url, pool_size=settings.worker_concurrency + 5)
    wait_for_database(engine, "notifier")  # a role started before its database waits for it
    migrations.upgrade(engine)
    cipher = load_cipher(settings, private_key=settings.notifier_private_key.get_secret_value())
    celery = make_celery("notifier", settings)
    publisher = Publisher(celery, settings)
    relay = Relay(engine, publisher.publish_outbox, "notifier")
    policy = Policy(zone=ZoneInfo(settings.timezone),
                    quiet=QuietHours.parse(settings.quiet_hours_start, settings.quiet_hours_end))
    retries = Retries(settings.sms_max_attempts, settings.sms_retry_base_seconds)
    config = DispatchConfig(rate_per_second=settings.sms_rate_per_second, retries=retries,
                            signature=settings.sms_signature, public_base_url=settings.public_base_url,
                            daily_budget=settings.sms_daily_budget, allowed_countries=settings.allowed_countries)
    dispatcher = Dispatcher(engine, cipher, sender or make_sender(settings), policy, config, clock)
    def reply(to: str, envelope: Envelope) -> None:
        publisher.reply(to, envelope.to_wire(), envelope.correlation_id, settings.slots_timeout_seconds)

    # Set by a handler that may have made a reminder due, per worker thread; read after its commit.
    due = threading.local()

    def may_be_due() -> None:
        due.flag = True

    deps = handlers.NotifierDeps(cipher=cipher, clock=clock, retention=timedelta(days=settings.contact_retention_days),
                                 policy=policy, retries=retries, may_be_due=may_be_due)

    def after_commit() -> None:
        # Few notifier handlers write to the outbox (contact.unreachable), so the relay is not woken after each
        # commit (that cost a transaction per message); what is written there is sent at the relay's next tick.
        # The dispatcher runs only after a message that may have made a message due at once (otherwise its claim
        # finds nothing); the beat timer still runs it every DISPATCH_EVERY_SECONDS for everything else.
        if getattr(due, "flag", False):
            due.flag = False
            dispatcher.wake()

    def command(handler: Callable[[Envelope, NotifierRepository, handlers.NotifierDeps], None]) -> CommandHandler:
        # The consumer opens the transaction (with its inbox row); the handler works through the repository on it.
        def run(envelope: Envelope, session: Session) -> None:
            repo = NotifierRepository(session)
            booking_id = getattr(envelope.payload, "booking_id", None)
            if booking_id is not None:
                repo.serialize_booking(str(booking_id))  # one booking's messages, one at a time (see there)
            handler(envelope, repo, deps)
        return run

    consumer = Consumer(
        "notifier",
        engine,
        commands={
            "contact.registered": command(handlers.register_contact),
            "contact.preferences_changed": command(handlers.change_preferences),
            "delivery.status_reported": command(handlers.apply_status),
            "sms.received": command(handlers.answer_keyword),
            "sms.reply_requested": command(handlers.queue_reply),
            "booking.confirmed": command(handlers.schedule_confirmation),
            "booking.rejected": command(handlers.forget_rejected),
            "booking.cancelled": command(handlers.cancel_reminders),
            "booking.rescheduled": command(handlers.record_rescheduled),
            "booking.no_show": command(handlers.record_no_show),
            "booking.attended": command(handlers.record_attended),
            "client.erasure_requested": command(handlers.erase_client),
        },
        dead_letter=lambda raw, reason: publisher.publish_dead_letter(raw, "notifier", reason),
        after_commit=after_commit,
        queries={
            "sms.preview_requested": partial(previews.answer_preview, settings=settings, reply=reply),
            "deliveries.report_requested": partial(delivery_dashboard.answer_report, zone=policy.zone, clock=clock,
                                                   reply=reply),
            "deliveries.failed_requested": partial(delivery_dashboard.answer_failed, zone=policy.zone, clock=clock,
                                                   reply=reply),
            "delivery.retry_requested": partial(delivery_dashboard.answer_retry, clock=clock, reply=reply,
                                                wake=dispatcher.wake),
            "contact.number_requested": partial(contact_numbers.answer_number, cipher=cipher, reply=reply),
        },
    )
    register_message_task(celery, consumer, publisher)
    status = WorkerStatus(engine)
    _register_timers(celery, dispatcher, settings.dispatch_every_seconds, lambda: status.ticked(clock()))
    _register_day_counts(celery, engine, policy.zone, clock)
    return Notifier(settings, engine, celery, relay, consumer, dispatcher, publisher, status)


def _register_timers(celery: Celery, dispatcher: Dispatcher, dispatch_every: float,
                     ticked: Callable[[], None]) -> None:
    queue = timer_queue("notifier")
    route = {"exchange": TIMERS.name, "routing_key": queue.name}

    @celery.task(name=DISPATCH_TASK, ignore_result=True, shared=False)  # this app only (shared/worker.py)
    def dispatch_due() -> int:
        tick_received()
        ticked()
        return dispatcher.wake(max_seconds=DISPATCH_LOOP_SECONDS)

    @celery.task(name="notifier.reconcile", ignore_result=True, shared=False)  # this app only (shared/worker.py)
    def reconcile() -> int:
        return dispatcher.reconcile()

    @celery.task(name="notifier.purge_expired", ignore_result=True, shared=False)  # this app only (shared/worker.py)
    def purge_expired() -> int:
        return dispatcher.purge_expired()

    celery.conf.beat_schedule = {
        "dispatch-due-reminders": {
            "task": DISPATCH_TASK,
            "schedule": dispatch_every,
            "options": {**route, "expires": dispatch_every * 5},
        },
        "reconcile-unsettled-sends": {
            "task": "notifier.reconcile",
            "schedule": RECONCILE_EVERY_SECONDS,
            "options": {**route, "expires": RECONCILE_EVERY_SECONDS},
        },
        "purge-expired-contacts": {
            "task": "notifier.purge_expired",
            "schedule": PURGE_EVERY_SECONDS,
            "options": {**route, "expires": 600},
        },
    }


def _register_day_counts(celery: Celery, engine: Engine, zone: ZoneInfo, clock: Clock) -> None:
    """The delivery dashboard's counts of settled days (notifier.delivery_dashboard.count_settled_days)."""

    @celery.task(name="notifier.count_delivery_days", ignore_result=True, shared=False)  # this app only
    def count_delivery_days() -> int:
        with Session(engine) as session:
            return delivery_dashboard.count_settled_days(session, zone, clock())

    celery.conf.beat_schedule["count-delivery-days"] = {
        "task": "notifier.count_delivery_days",
        "schedule": PURGE_EVERY_SECONDS,
        "options": {"exchange": TIMERS.name, "routing_key": timer_queue("notifier").name, "expires": 600},
    }
