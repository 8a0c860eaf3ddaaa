"""Pacing the sends: the rate holds on average across the pauses between batches, with no burst after idling."""

from __future__ import annotations

from itertools import pairwise

from notifier.dispatch.pacing import Pacer


class Timeline:
    """Monotonic time that moves only when the pacing sleeps or the test says work took time."""

    def __init__(self) -> None:
        self.now = 1000.0

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def paced(timeline: Timeline, rate: float) -> Pacer:
    return Pacer(rate, sleep=timeline.sleep, monotonic=lambda: timeline.now)


def send_times(pacer: Pacer, timeline: Timeline, count: int) -> list[float]:
    times = []
    for _ in range(count):
        pacer.wait_for_turn()
        times.append(timeline.now)
    return times


def test_a_short_pause_between_batches_is_made_up_so_the_rate_holds() -> None:
    timeline = Timeline()
    pacer = paced(timeline, rate=50)
    first = send_times(pacer, timeline, 50)
    timeline.now += 0.3  # claiming the next batch and recording this one took 0.3 s
    second = send_times(pacer, timeline, 50)
    # 100 sends in two seconds from the first, as if there had been no pause: the pause's sends go at once.
    assert round(second[-1] - first[0], 6) == round(99 / 50, 6)
    assert second[:15] == [second[0]] * 15


def test_after_an_idle_spell_sending_starts_afresh_without_a_burst() -> None:
    timeline = Timeline()
    pacer = paced(timeline, rate=4)
    send_times(pacer, timeline, 4)
    timeline.now += 60  # nothing was due for a minute
    later = send_times(pacer, timeline, 4)
    assert [round(b - a, 6) for a, b in pairwise(later)] == [0.25] * 3
