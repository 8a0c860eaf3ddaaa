"""Consuming envelopes: validate, dead-letter what we do not know, run the handler once per message id, and wait
out a database outage with the message in hand (it is never dead-lettered for that).

A handler gets the envelope and an open session; it writes its state and any outbox messages there. The message
id is recorded in the same transaction, so a redelivered message changes nothing and announces nothing twice.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from shared.contracts import Envelope, UnknownMessage, parse
from shared.db import is_outage
from shared.inbox import already_processed, remember_processed
from shared.logging import correlation_id
from shared.metrics import MESSAGES_HANDLED, REDELIVERIES, dead_lettered

log = logging.getLogger(__name__)

CommandHandler = Callable[[Envelope, Session], None]
QueryHandler = Callable[[Envelope, Session], None]
DeadLetterFn = Callable[[Any, str], None]

# A message whose handler cannot reach the database waits in place (not acknowledged, not handed back): the broker
# keeps it, its quorum queue's delivery limit is not spent, and the worker's prefetch stops further deliveries.
# It is tried again after 0.2 s, 0.4 s, ... at most every OUTAGE_MAX_PAUSE_SECONDS until the database answers.
OUTAGE_FIRST_PAUSE_SECONDS = 0.2
OUTAGE_MAX_PAUSE_SECONDS = 5.0


class Stopping(Exception):
    """The process stops while a message waits for its database: the caller hands the message back to the broker
    (unacknowledged), so it is neither lost nor dead-lettered."""


class Consumer:
    def __init__(
        self,
        service: str,
        engine: Engine,
        commands: dict[str, CommandHandler],
        dead_letter: DeadLetterFn,
        after_commit: Callable[[], None] = lambda: None,
        queries: dict[str, QueryHandler] | None = None,
    ) -> None:
        self.service = service
        self.engine = engine
        self.commands = commands
        self.queries = queries or {}
        self.dead_letter = dead_letter
        self.after_commit = after_commit
        self._stopping = threading.Event()

    def stop(self) -> None:
        """Messages waiting for the database give up waiting (`Stopping`); called when the process shuts down."""
        self._stopping.set()

    def resume(self) -> None:
        """Undo `stop` (a gateway started again in the same process)."""
        self._stopping.clear()

    def handle(self, raw: Any) -> None:
        """Raises `Stopping` only; anything a message or its handler gets wrong ends on the dead-letter queue."""
        try:
            envelope = parse(raw)
        except UnknownMessage as exc:
            log.error("%s: dead-lettered a message: %s", self.service, exc)
            dead_lettered(self.service, "unknown_message")
            self.dead_letter(raw, str(exc))
            return
        token = correlation_id.set(envelope.correlation_id)
        try:
            if envelope.type in self.queries:
                self._answer(envelope)
            elif envelope.type in self.commands:
                try:
                    self._run_command(envelope)
                except Stopping:
                    raise
                except Exception as exc:
                    log.exception("%s: handler for %s failed; dead-lettered", self.service, envelope.type)
                    dead_lettered(self.service, "handler_failed")
                    self.dead_letter(raw, f"handler failed: {type(exc).__name__}")
            else:
                log.error("%s: dead-lettered %s v%s: no handler here", self.service, envelope.type, envelope.version)
                dead_lettered(self.service, "no_handler")
                self.dead_letter(raw, f"{self.service} has no handler for {envelope.type}")
        finally:
            correlation_id.reset(token)

    def _answer(self, envelope: Envelope) -> None:
        # A question changes no state: no inbox row, and a lost answer is asked again by the client (who answers
        # its user "try again" after its timeout). So a question is not kept waiting through an outage.
        try:
            with Session(self.engine) as session:
                self.queries[envelope.type](envelope, session)
        except Exception as exc:
            if not is_outage(exc):
                raise
            log.warning("%s: database unreachable (%s); %s %s not answered", self.service, type(exc).__name__,
                        envelope.type, envelope.message_id)

    def _run_command(self, envelope: Envelope) -> None:
        attempt = 0
        pause = OUTAGE_FIRST_PAUSE_SECONDS
        while True:
            try:
                handled = self._attempt(envelope)
                break
            except Exception as exc:
                if not is_outage(exc):
                    raise
                attempt += 1
                # Type, id and error class only: never the payload (it may hold a sealed phone number).
                log.warning("%s: database unreachable (%s); %s %s waits, attempt %d, next in %.1f s",
                            self.service, type(exc).__name__, envelope.type, envelope.message_id, attempt, pause)
                if self._stopping.wait(pause):
                    raise Stopping(f"{envelope.type} {envelope.message_id} not handled: stopping") from None
                pause = min(pause * 2, OUTAGE_MAX_PAUSE_SECONDS)
        if attempt:
            log.warning("%s: database reachable again; %s %s handled after %d attempts", self.service,
                        envelope.type, envelope.message_id, attempt + 1)
        if handled:
            log.info("%s: handled %s", self.service, envelope.type)
            MESSAGES_HANDLED.labels(self.service, envelope.type).inc()  # a type this service handles: a known few
            self.after_commit()
        else:
            REDELIVERIES.labels(self.service).inc()

    def _attempt(self, envelope: Envelope) -> bool:
        """One transaction: the inbox row and the handler's work. False for a message already processed."""
        handler = self.commands[envelope.type]
        try:
            with Session(self.engine, expire_on_commit=False) as session:
                # The inbox row goes in first (one round trip instead of a look-up and an insert): for a message
                # already processed it fails on the primary key at once, before the handler runs; a concurrent
                # delivery of the same message waits here until the first one commits or rolls back.
                try:
                    remember_processed(session, envelope.message_id, envelope.type)
                except IntegrityError:
                    session.rollback()
                    if already_processed(session, envelope.message_id):
                        log.info("%s: %s %s already processed", self.service, envelope.type, envelope.message_id)
                        return False
                    raise
                handler(envelope, session)
                session.commit()
                return True
        except IntegrityError:
            # A concurrent delivery of the same message committed first; handlers map their own integrity errors
            # (e.g. a taken slot) to decisions before they reach here.
            with Session(self.engine) as session:
                if already_processed(session, envelope.message_id):
                    return False
            raise
