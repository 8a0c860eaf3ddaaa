"""Composition root of the scheduler: settings, engine, Celery app, outbox relay and handlers wired together."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from celery import Celery
from sqlalchemy import Engine

from scheduler import feeds, handlers, migrations, staff
from scheduler.bookings import SchedulerDeps
from scheduler.calendar import Calendar
from scheduler.domain.availability import SearchSettings
from scheduler.settings import SchedulerSettings
from shared.clock import Clock, system_clock
from shared.consumer import Consumer
from shared.contracts import Envelope
from shared.db import make_engine, wait_for_database
from shared.messaging import Publisher, make_celery
from shared.outbox import Relay
from shared.worker import register_message_task


@dataclass
class Scheduler:
    settings: SchedulerSettings
    engine: Engine
    celery: Celery
    publisher: Publisher
    relay: Relay
    consumer: Consumer
    deps: SchedulerDeps


def build(settings: SchedulerSettings, clock: Clock = system_clock) -> Scheduler:
    # The worker's threads, the relay and a spare.
    engine = make_engine(settings.scheduler_database_url, pool_size=settings.worker_concurrency + 3)
    wait_for_database(engine, "scheduler")  # a role started before its database waits for it
    migrations.upgrade(engine)
    celery = make_celery("scheduler", settings)
    publisher = Publisher(celery, settings)
    relay = Relay(engine, publisher.publish_outbox, "scheduler")

    def reply(to: str, envelope: Envelope, ttl: float) -> None:
        publisher.reply(to, envelope.to_wire(), envelope.correlation_id, ttl)

    deps = SchedulerDeps(
        calendar=Calendar(SearchSettings(timezone=settings.timezone, step_minutes=settings.slot_step_minutes,
                                         travel_minutes=settings.travel_buffer_minutes)),
        clock=clock,
        reply=reply,
        reply_ttl_seconds=settings.slots_timeout_seconds,
        video_base_url=settings.video_base_url,
    )
    staff_deps = staff.StaffDeps(booking=deps, engine=engine, after_commit=relay.wake)
    consumer = Consumer(
        "scheduler",
        engine,
        commands={
            "booking.requested": partial(handlers.decide_booking, deps=deps),
            "booking.cancellation_requested": partial(handlers.cancel_booking, deps=deps),
            "booking.move_requested": partial(handlers.move_booking, deps=deps),
            "contact.unreachable": partial(handlers.record_contact_problem, deps=deps),
            "client.erasure_requested": partial(handlers.erase_client, deps=deps),
        },
        queries={
            "slots.requested": partial(handlers.answer_slot_query, deps=deps),
            # Staff writes are answered after their own commit, inbox row included (see scheduler/staff/answers.py).
            "staff.requested": partial(staff.answer_staff_request, deps=staff_deps),
            "feed.requested": partial(feeds.answer_feed_request, deps=staff_deps),
            "counsellor.requested": partial(staff.answer_counsellor_request, deps=staff_deps),
        },
        dead_letter=lambda raw, reason: publisher.publish_dead_letter(raw, "scheduler", reason),
        after_commit=relay.wake,
    )
    register_message_task(celery, consumer, publisher)
    return Scheduler(settings, engine, celery, publisher, relay, consumer, deps)
