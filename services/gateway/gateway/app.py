"""Composition root of the gateway: settings, engine, cipher, broker publisher and listener, services, FastAPI."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from uuid import uuid4
from zoneinfo import ZoneInfo

from celery import Celery
from fastapi import FastAPI
from kombu import Message, Queue
from sqlalchemy import Engine
from sqlmodel import Session

from gateway import handlers, migrations
from gateway.api import bookings as bookings_api
from gateway.api import deliveries as deliveries_api
from gateway.api import errors, health, staff_accounts, staff_auth, staff_two_factor
from gateway.api import feeds as feeds_api
from gateway.api import slots as slots_api
from gateway.api import sms_preview as sms_preview_api
from gateway.api import staff as staff_api
from gateway.api import system_health as system_health_api
from gateway.api import twilio as twilio_api
from gateway.api.limits import BodySizeLimit, HeaderLimit
from gateway.api.observe import Observe
from gateway.api.openapi import public_description
from gateway.api.schemas import COMMON_PROBLEMS
from gateway.bookings import BookingService
from gateway.contact_numbers import ContactNumbers
from gateway.delivery_reports import DeliveryReports
from gateway.feeds import FeedTokens
from gateway.limits import ClientLimits
from gateway.listener import Listener
from gateway.metrics import EVENTS_APPLIED
from gateway.repository import GatewayRepository
from gateway.settings import GatewaySettings
from gateway.slots import ReplyWaiter, SlotClient
from gateway.sms_conversation.service import ConversationPolicy, SmsConversations
from gateway.sms_preview import SmsPreviewClient
from gateway.staff.accounts import StaffAccounts
from gateway.staff.audit import AuditLog
from gateway.staff_client import StaffClient
from gateway.system_health.report import SystemHealth
from gateway.twilio_webhooks import TwilioWebhooks, webhook_auth_token
from gateway.web import pages
from shared.cipher import load_cipher
from shared.clock import Clock, system_clock
from shared.consumer import Consumer
from shared.contracts import Envelope
from shared.db import make_engine, wait_for_database
from shared.heartbeat import Heartbeat, outbox_status
from shared.messaging import Publisher, broker_connection, declare_topology_when_reachable, make_celery, queues_for
from shared.metrics import dead_lettered
from shared.outbox import Relay
from shared.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)
HOUSEKEEPING_EVERY_SECONDS = 3600.0
# Requests run in the server's thread pool, each with a connection while it works; the relay, the listener and
# housekeeping hold one each. 20 covers a few dozen requests in flight without opening connections per request.
POOL_SIZE = 20
TITLE, VERSION = "Lotse gateway", "1"


@dataclass
class Gateway:
    settings: GatewaySettings
    engine: Engine
    celery: Celery
    publisher: Publisher
    relay: Relay
    consumer: Consumer
    listener: Listener
    bookings: BookingService
    limits: ClientLimits
    slots: SlotClient
    staff: StaffAccounts
    calendars: StaffClient
    feeds: FeedTokens
    twilio: TwilioWebhooks
    sms_previews: SmsPreviewClient
    conversations: SmsConversations
    deliveries: DeliveryReports
    health: SystemHealth
    heartbeat: Heartbeat
    contact_numbers: ContactNumbers  # a counsellor's look at a client's number
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        declare_topology_when_reachable(self.settings, "gateway")
        self.consumer.resume()
        self.relay.start()
        self.listener.start()
        self.heartbeat.start()
        threading.Thread(target=self._housekeeping, name="gateway-housekeeping", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        self.consumer.stop()  # an event waiting for the database goes back to the queue
        self.heartbeat.stop()
        self.listener.stop()
        self.relay.stop()

    def _housekeeping(self) -> None:
        while not self._stop.wait(HOUSEKEEPING_EVERY_SECONDS):
            try:
                self.bookings.forget_replay_tokens()
                self.limits.purge()
                self.conversations.purge()
                self.staff.housekeeping()
            except Exception:  # noqa: BLE001 - housekeeping retries next hour
                log.warning("housekeeping failed; will retry")

    def readiness(self) -> dict[str, str]:
        checks = {}
        try:
            with UnitOfWork(self.engine, GatewayRepository)() as repository:
                repository.ping()
            checks["database"] = "ok"
        except Exception as exc:  # noqa: BLE001 - readiness reports, it does not raise
            checks["database"] = f"unreachable ({type(exc).__name__})"
        try:
            with broker_connection(self.settings, connect_timeout=2) as connection:
                connection.ensure_connection(max_retries=1, timeout=2)
            checks["broker"] = "ok"
        except Exception as exc:  # noqa: BLE001
            checks["broker"] = f"unreachable ({type(exc).__name__})"
        return checks


def build(settings: GatewaySettings, clock: Clock = system_clock) -> Gateway:
    engine = make_engine(settings.gateway_database_url, pool_size=POOL_SIZE)
    wait_for_database(engine, "gateway")  # a role started before its database waits for it
    migrations.upgrade(engine)
    cipher = load_cipher(settings, public_key=settings.notifier_public_key)
    celery = make_celery("gateway", settings)
    publisher = Publisher(celery, settings)
    relay = Relay(engine, publisher.publish_outbox, "gateway")

    waiter = ReplyWaiter()
    # One reply queue per gateway process; on RabbitMQ it disappears with the process.
    replies = Queue(f"gateway.replies.{uuid4().hex[:12]}", durable=False, exclusive=True, auto_delete=True,
                    queue_arguments=None if settings.is_embedded_broker else {"x-expires": 60_000})
    slots = SlotClient(publisher, waiter, replies.name, settings.slots_timeout_seconds,
                       settings.slots_cache_seconds)

    def applied(handler: Callable[[Envelope, GatewayRepository, Clock], None]) -> Callable[[Envelope, Session], None]:
        """A handler on the repository of the consumer's transaction (the session it opened for the message)."""
        def run(envelope: Envelope, session: Session) -> None:
            handler(envelope, GatewayRepository(session), clock)
            EVENTS_APPLIED.labels(envelope.type).inc()
            slots.forget()  # a slot was taken, freed or moved: answers given so far are out of date
        return run

    limits = ClientLimits(settings.client_limits, cipher.lookup_hash, engine, clock)
    bookings = BookingService(engine, cipher, relay.wake, clock, limits, settings.allowed_countries)
    conversations = SmsConversations(
        engine, cipher, relay.wake, clock, limits, bookings, slots,
        ConversationPolicy(timeout=timedelta(minutes=settings.sms_conversation_minutes),
                           texts_per_minute=settings.sms_per_phone_minute,
                           pause=timedelta(minutes=settings.sms_pause_minutes)),
        ZoneInfo(settings.timezone))

    def rejected(envelope: Envelope, repository: GatewayRepository, now: Clock) -> None:
        handlers.apply_rejected(envelope, repository, now)
        conversations.answer_refused(envelope, repository.session, now())  # a booking made by SMS: fresh times

    def move_refused(envelope: Envelope, repository: GatewayRepository, now: Clock) -> None:
        handlers.apply_move_refused(envelope, repository, now)
        conversations.answer_move_refused(envelope, repository.session, now())  # a move asked by SMS: told so

    health = SystemHealth(engine, settings, settings.rabbitmq_management_url.get_secret_value(),
                          settings.heartbeat_stale_after, clock)
    consumer = Consumer(
        "gateway",
        engine,
        commands={
            "booking.confirmed": applied(handlers.apply_confirmed),
            "booking.rejected": applied(rejected),
            "booking.cancelled": applied(handlers.apply_cancelled),
            "booking.rescheduled": applied(handlers.apply_rescheduled),
            "booking.move_refused": applied(move_refused),
        },
        dead_letter=lambda raw, reason: publisher.publish_dead_letter(raw, "gateway", reason),
        # No inbox row for a heartbeat (the newest wins), and none is worth waiting out a database outage for.
        queries={"role.heartbeat": health.record},
    )
    events = queues_for("gateway", settings)[0]

    def dead_letter(message: Message, reason: str) -> None:
        dead_lettered("gateway", "malformed")
        publisher.publish_dead_letter_message(message.body, message.content_type, message.content_encoding,
                                              message.headers, events.name, reason)

    listener = Listener(broker_connection(settings), events, replies, on_event=consumer.handle,
                        on_reply=waiter.resolve, dead_letter=dead_letter)
    staff = StaffAccounts(engine, clock, cipher=cipher,
                          audit=AuditLog(engine, clock, timedelta(days=settings.audit_retention_days),
                                         cipher.lookup_hash))
    calendars = StaffClient(publisher, waiter, replies.name, settings.slots_timeout_seconds, on_write=slots.forget)
    feeds = FeedTokens(engine, clock)
    twilio = TwilioWebhooks(engine, cipher, relay.wake, clock, conversations, webhook_auth_token(settings))
    sms_previews = SmsPreviewClient(publisher, waiter, replies.name, settings.slots_timeout_seconds)
    deliveries = DeliveryReports(publisher, waiter, replies.name, settings.slots_timeout_seconds, clock,
                                 ZoneInfo(settings.timezone))
    contact_numbers = ContactNumbers(publisher, waiter, replies.name, settings.slots_timeout_seconds, cipher)
    heartbeat = Heartbeat("gateway", publisher.publish, lambda now: outbox_status(engine, now),
                          settings.heartbeat_seconds, clock)
    return Gateway(settings, engine, celery, publisher, relay, consumer, listener, bookings, limits, slots, staff,
                   calendars, feeds, twilio, sms_previews, conversations, deliveries, health, heartbeat,
                   contact_numbers)


def create_app(gateway: Gateway) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        gateway.start()
        try:
            yield
        finally:
            gateway.stop()

    # Every operation declares the problems any request may meet (its input refused, headers too large, a part of
    # the system away) besides its own: the OpenAPI document names every status the gateway answers. The whole
    # document is served on the internal port only (gateway.internal); /openapi.json here is the public part.
    app = FastAPI(title=TITLE, version=VERSION, lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None,
                  responses=COMMON_PROBLEMS)
    public_openapi = public_description(TITLE, VERSION)
    app.add_api_route("/openapi.json", lambda: public_openapi, include_in_schema=False)
    app.state.gateway = gateway
    app.state.staff_accounts = gateway.staff
    errors.install(app)
    app.include_router(bookings_api.router)
    app.include_router(slots_api.router)
    app.include_router(staff_auth.router)
    app.include_router(staff_two_factor.router)
    app.include_router(staff_accounts.router)
    app.include_router(staff_api.router)
    app.include_router(system_health_api.router)
    app.include_router(feeds_api.router)
    app.include_router(twilio_api.router)
    app.include_router(sms_preview_api.router)
    app.include_router(deliveries_api.router)
    app.include_router(health.router)
    pages.configure(gateway.settings)
    app.include_router(pages.router)
    app.add_middleware(Observe)
    app.add_middleware(BodySizeLimit)
    app.add_middleware(HeaderLimit)  # the outermost: headers are refused before anything else runs
    return app

