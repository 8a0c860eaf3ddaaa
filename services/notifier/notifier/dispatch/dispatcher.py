"""The sending loop: woken after a handler made something due and by the beat's tick, it claims, sends and
records batch after batch; and the beat's housekeeping (reconciliation, retention).

Sending is paced to SMS_RATE_PER_SECOND in order of due time. With a rate, only one loop sends at a time (a lock
in the process, and the sender's advisory lock across processes on PostgreSQL): the limit is per sender, not per
process. The claim itself never relies on that lock (see `NotifierRepository.due_reminders`), so without a rate
several loops send side by side.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from notifier.dispatch.budget import DailyBudget
from notifier.dispatch.claims import claim_due
from notifier.dispatch.jobs import Composer
from notifier.dispatch.outcomes import record_outcomes
from notifier.dispatch.pacing import Pacer
from notifier.dispatch.reconciliation import reconcile
from notifier.dispatch.sending import Sending
from notifier.domain.provider_errors import Retries
from notifier.plans import Policy
from notifier.repository import NotifierRepository, sender_lock
from notifier.sms import SmsSender
from shared.crypto import DataCipher
from shared.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

_GATHER_SECONDS = 0.05  # a woken dispatch waits this long, so that messages made due together share one claim
# A woken dispatch that finds another process sending tries again after this long: what made it wake may have
# committed after the other loop's last claim, and would otherwise wait for the beat's next tick.
_LOCK_RETRY_SECONDS = 0.25
_RECONCILE_BATCH = 50


@dataclass(frozen=True)
class DispatchConfig:
    rate_per_second: float  # 0: no limit
    retries: Retries
    signature: str
    public_base_url: str
    batch: int = 100
    send_threads: int = 8  # provider calls in flight when the rate is not limited (they wait on the network)
    daily_budget: int = 0  # texts per business day (notifier.dispatch.budget); 0: no budget
    allowed_countries: tuple[str, ...] = ("DE",)  # where texts may go (shared.phones.check_destination)


class Dispatcher:
    def __init__(self, engine: Engine, cipher: DataCipher, sender: SmsSender, policy: Policy, config: DispatchConfig,
                 clock: Callable[[], datetime], sleep: Callable[[float], None] = time.sleep,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.engine = engine
        self.uow = UnitOfWork(engine, NotifierRepository)
        self.cipher = cipher
        self.sender = sender
        self.policy = policy
        self.config = config
        self.clock = clock
        self.composer = Composer(cipher, policy.zone, config.signature, config.public_base_url)
        pacer = Pacer(config.rate_per_second, sleep, monotonic) if config.rate_per_second > 0 else None
        self.sending = Sending(self.uow, sender, self.composer, pacer, config.send_threads, clock,
                               config.allowed_countries)
        self.budget = DailyBudget(config.daily_budget, policy.zone) if config.daily_budget > 0 else None
        self._loop = threading.Lock()
        self._woken: threading.Event | None = None

    # --- after a handler made something due ----------------------------------------------------------------------

    def start_background(self) -> None:
        """In the worker: a thread of its own sends what handlers made due, so that a consumer never waits for the
        provider or the rate limit, and messages made due together go out in one claim (under load, one claim
        serves many bookings instead of one each)."""
        self._woken = threading.Event()
        threading.Thread(target=self._send_when_woken, name="dispatch-woken", daemon=True).start()

    def wake(self, max_seconds: float = 0.0) -> int:
        """After a handler's commit, and the beat's periodic tick. In a worker it only wakes the dispatch thread, so
        the caller (a consumer thread) is never held by a send loop; without that thread (tests, tools) it sends at
        once in the caller's thread: one batch, or for up to max_seconds while messages are due."""
        if self._woken is None:
            return self.dispatch_due(max_seconds=max_seconds)
        self._woken.set()
        return 0

    def _send_when_woken(self) -> None:
        assert self._woken is not None
        while True:
            self._woken.wait()
            time.sleep(_GATHER_SECONDS)
            self._woken.clear()
            try:
                # Until nothing is due: a loop that stopped at a deadline would leave a gap until the next tick,
                # and with the rate limit on, that tick may go to a worker that finds the sender's lock still held
                # and returns (two workers, 50/s: 41.9/s achieved, pauses up to 1 s).
                if self._dispatch(math.inf) is None:
                    time.sleep(_LOCK_RETRY_SECONDS)
                    self._woken.set()
            except Exception:  # the beat's next tick sends what this missed
                log.exception("dispatch after a wake failed")

    # --- the loop ------------------------------------------------------------------------------------------------

    def dispatch_due(self, max_seconds: float = 0.0) -> int:
        """Send what is due now. With max_seconds, keep going while more falls due or waits for the rate limit;
        otherwise one batch (after a handler's commit, so a confirmation leaves at once). Returns how many the
        provider accepted."""
        return self._dispatch(max_seconds) or 0

    def _dispatch(self, max_seconds: float) -> int | None:
        """dispatch_due; None when another loop holds the sender (it sends in order of due time, but may have made
        its last claim before what woke us committed)."""
        sent = 0
        with self._exclusive() as mine:
            if not mine:
                return None
            deadline = time.monotonic() + max_seconds
            while True:
                with self.uow() as repo:
                    now = self.clock()
                    room = self._batch_size() if self.budget is None else min(self._batch_size(),
                                                                               self.budget.room(repo, now))
                    jobs = claim_due(repo, now, room, self.policy, self.sender.name) if room > 0 else []
                if jobs:
                    outcomes = self.sending.send_all(jobs)
                    with self.uow() as repo:
                        record_outcomes(repo, outcomes, self.clock(), self.config.retries)
                    sent += sum(1 for o in outcomes if o.result is not None)
                if not jobs or time.monotonic() >= deadline:
                    break
        return sent

    def _batch_size(self) -> int:
        # Paced: claim about one second of sends at a time, so that a crash leaves few messages unsettled.
        rate = self.config.rate_per_second
        return self.config.batch if rate <= 0 else max(1, min(self.config.batch, math.ceil(rate)))

    @contextmanager
    def _exclusive(self) -> Iterator[bool]:
        if not self._loop.acquire(blocking=False):
            yield False
            return
        try:
            if self.config.rate_per_second <= 0:
                # Without a rate there is nothing to share between processes: their claims never overlap.
                yield True
                return
            with sender_lock(self.engine) as got:
                yield got
        finally:
            self._loop.release()

    # --- housekeeping (beat) -------------------------------------------------------------------------------------

    def reconcile(self, limit: int = _RECONCILE_BATCH) -> int:
        """Ask the provider about sends that never reported back; settle them, never resend them."""
        with self.uow() as repo:
            return reconcile(repo, self.sender, self.composer, self.clock(), limit)

    def purge_expired(self) -> int:
        """Personal data expires (NotifierRepository.purge_expired)."""
        with self.uow() as repo:
            count = repo.purge_expired(self.clock())
        if count:
            log.info("purged %d expired contacts", count)
        return count
