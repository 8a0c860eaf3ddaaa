"""Consuming envelopes: validate, dead-letter what we do not know, run the handler once per message id.

A handler gets the envelope and an open session; it writes its state and any outbox messages there. The message
id is recorded in the same transaction, so a redelivered message changes nothing and announces nothing twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session

from shared.contracts import Envelope, UnknownMessage, parse
from shared.inbox import already_processed, remember_processed
from shared.logging import correlation_id

log = logging.getLogger(__name__)

CommandHandler = Callable[[Envelope, Session], None]
QueryHandler = Callable[[Envelope, Session], None]
DeadLetterFn = Callable[[Any, str], None]

_TRANSIENT_RETRIES = (0.2, 1.0, 3.0)


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

    def handle(self, raw: Any) -> None:
        try:
            envelope = parse(raw)
        except UnknownMessage as exc:
            log.error("%s: dead-lettered a message: %s", self.service, exc)
            self.dead_letter(raw, str(exc))
            return
        token = correlation_id.set(envelope.correlation_id)
        try:
            if envelope.type in self.queries:
                # A question changes no state: no inbox row, and a lost answer is asked again by the client.
                with Session(self.engine) as session:
                    self.queries[envelope.type](envelope, session)
            elif envelope.type in self.commands:
                try:
                    self._run_command(envelope)
                except Exception as exc:
                    log.exception("%s: handler for %s failed; dead-lettered", self.service, envelope.type)
                    self.dead_letter(raw, f"handler failed: {type(exc).__name__}")
            else:
                log.error("%s: dead-lettered %s v%s: no handler here", self.service, envelope.type, envelope.version)
                self.dead_letter(raw, f"{self.service} has no handler for {envelope.type}")
        finally:
            correlation_id.reset(token)

    def _run_command(self, envelope: Envelope) -> None:
        handler = self.commands[envelope.type]
        for attempt, pause in enumerate((*_TRANSIENT_RETRIES, None)):
            try:
                with Session(self.engine, expire_on_commit=False) as session:
                    # The inbox row goes in first (one round trip instead of a look-up and an insert): for a
                    # message already processed it fails on the primary key at once, before the handler runs;
                    # a concurrent delivery of the same message waits here until the first one commits or
                    # rolls back.
                    try:
                        remember_processed(session, envelope.message_id, envelope.type)
                    except IntegrityError:
                        session.rollback()
                        if already_processed(session, envelope.message_id):
                            log.info("%s: %s %s already processed", self.service, envelope.type,
                                     envelope.message_id)
                            return
                        raise
                    handler(envelope, session)
                    session.commit()
                break
            except IntegrityError:
                # A concurrent delivery of the same message committed first; handlers map their own
                # integrity errors (e.g. a taken slot) to decisions before they reach here.
                with Session(self.engine) as session:
                    if already_processed(session, envelope.message_id):
                        return
                raise
            except OperationalError:
                if pause is None:
                    raise
                log.warning("%s: database busy or unreachable, retry %d for %s", self.service, attempt + 1,
                            envelope.type)
                time.sleep(pause)
        log.info("%s: handled %s", self.service, envelope.type)
        self.after_commit()
