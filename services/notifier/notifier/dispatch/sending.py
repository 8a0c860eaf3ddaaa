"""Handing claimed messages to the provider: each is marked requested (committed) just before its provider call,
so that every marked message is really on its way and an unmarked one is known never to have left."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from notifier.dispatch.jobs import Composer, Job
from notifier.dispatch.pacing import Pacer
from notifier.repository import NotifierRepository
from notifier.sms import SendFailed, SendOutcomeUnknown, SendResult, SmsSender
from shared.logging import correlation_id
from shared.phones import RefusedDestination, check_destination, mask_phone
from shared.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """What became of one job's provider call: accepted (`result`), refused, not rendered, or unknown."""

    job: Job
    result: SendResult | None = None
    refused: SendFailed | None = None
    unknown: bool = False
    to_masked: str = ""
    segments: int = 0
    render_failed: bool = False
    destination_refused: bool = False


class Sending:
    """Without a rate, `threads` provider calls at a time (they wait on the network); with one, one at a time, each
    at its turn."""

    def __init__(self, uow: UnitOfWork[NotifierRepository], sender: SmsSender, composer: Composer,
                 pacer: Pacer | None, threads: int, clock: Callable[[], datetime],
                 allowed_countries: tuple[str, ...] = ("DE",)) -> None:
        self.uow = uow
        self.allowed_countries = allowed_countries
        self.sender = sender
        self.composer = composer
        self.pacer = pacer
        self.width = 1 if pacer is not None else threads
        self.clock = clock
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="sms-send")

    def send_all(self, jobs: list[Job]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for chunk in (jobs[i:i + self.width] for i in range(0, len(jobs), self.width)):
            if self.pacer is not None:
                self.pacer.wait_for_turn()
            with self.uow() as repo:
                marked = repo.mark_requested([job.delivery_id for job in chunk], self.clock())
            for job in chunk:
                if job.delivery_id not in marked:
                    # Released by reconciliation (this process looked dead): whoever claims it again sends it.
                    log.warning("%s message was released before it was requested: not sent here", job.kind)
                    outcomes.append(Outcome(job, unknown=True))
            outcomes += self._pool.map(self._send, [job for job in chunk if job.delivery_id in marked])
        return outcomes

    def _send(self, job: Job) -> Outcome:
        token = correlation_id.set(job.booking_id or job.ref)
        try:
            phone = self.composer.phone_of(job)
            masked = mask_phone(phone)
            try:
                # The gateway refuses such numbers; this is the second line, for anything that got past it (a
                # booking made before the rule, a country removed from SMS_ALLOWED_COUNTRIES since).
                check_destination(phone, self.allowed_countries)
            except RefusedDestination:
                log.warning("%s message not sent: its number is in a country or network texts may not go to",
                            job.kind)
                return Outcome(job, to_masked=masked, destination_refused=True)
            try:
                rendered = self.composer.text_of(job)
            except Exception:
                log.exception("ALERT %s message in %s could not be rendered, not even in English: not sent",
                              job.kind, job.language)
                return Outcome(job, render_failed=True)
            try:
                result = self.sender.send(phone, rendered.body, job.ref)
            except SendFailed as refused:
                return Outcome(job, refused=refused, to_masked=masked, segments=rendered.segments)
            except SendOutcomeUnknown:
                log.warning("%s message: no answer from %s; its outcome is asked later, it is not resent", job.kind,
                            self.sender.name)
                return Outcome(job, unknown=True)
            except Exception:
                log.exception("%s message: outcome unknown, left for reconciliation", job.kind)
                return Outcome(job, unknown=True)
            log.info("%s message handed to %s (%s, %d segment(s))", job.kind, self.sender.name, rendered.encoding,
                     rendered.segments)
            return Outcome(job, result=result, to_masked=masked, segments=rendered.segments)
        finally:
            correlation_id.reset(token)
