"""Pacing: sends at most `rate` per second, in order, holding the rate on average across short pauses."""

from __future__ import annotations

from collections.abc import Callable

_CATCH_UP_SECONDS = 0.5  # a pause up to this long is made up by sending at once


class Pacer:
    def __init__(self, rate_per_second: float, sleep: Callable[[float], None],
                 monotonic: Callable[[], float]) -> None:
        self.interval = 1.0 / rate_per_second
        self.sleep = sleep
        self.monotonic = monotonic  # the pacing's time line (a test gives one that its sleep advances)
        self._next_send = 0.0  # monotonic time the next send may start

    def wait_for_turn(self) -> None:
        """Returns when the next send may start."""
        now = self.monotonic()
        if self._next_send > now:
            self.sleep(self._next_send - now)
        # A short pause (claiming and recording between batches, the next tick) is made up, or the rate would fall
        # short by that much; after a longer one the schedule starts afresh, so no burst follows an idle spell.
        behind = now - self._next_send
        self._next_send = (now if behind > _CATCH_UP_SECONDS else self._next_send) + self.interval
