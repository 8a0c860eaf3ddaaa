"""The dispatcher's pacing: the rate holds on average across the pauses between batches, with no burst after idling."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

from notifier.dispatch import DispatchConfig, Dispatcher
from notifier.domain.planning import QuietHours
from notifier.plans import Policy
from notifier.sms import SinkSender
from sqlalchemy import create_engine

from shared.crypto import DataCipher, generate_data_key


class Timeline:
    """Monotonic time that moves only when the pacing sleeps or the test says work took time."""

    def __init__(self) -> None:
        self.now = 1000.0

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def paced_dispatcher(timeline: Timeline, rate: float, tmp_path: Path) -> Dispatcher:
    return Dispatcher(create_engine("sqlite://"), DataCipher.from_text(generate_data_key()),
                      SinkSender(tmp_path / "sink.jsonl", "Termin"),
                      Policy(ZoneInfo("Europe/Berlin"), QuietHours.parse("21:00", "08:00")),
                      DispatchConfig(rate_per_second=rate, max_attempts=5, signature="", public_base_url=""),
                      clock=lambda: datetime.now(UTC), sleep=timeline.sleep, monotonic=lambda: timeline.now)


def send_times(dispatcher: Dispatcher, timeline: Timeline, count: int) -> list[float]:
    times = []
    for _ in range(count):
        dispatcher._wait_for_turn()
        times.append(timeline.now)
    return times


def test_a_short_pause_between_batches_is_made_up_so_the_rate_holds(tmp_path: Path) -> None:
    timeline = Timeline()
    dispatcher = paced_dispatcher(timeline, rate=50, tmp_path=tmp_path)
    first = send_times(dispatcher, timeline, 50)
    timeline.now += 0.3  # claiming the next batch and recording this one took 0.3 s
    second = send_times(dispatcher, timeline, 50)
    # 100 sends in two seconds from the first, as if there had been no pause: the pause's sends go at once.
    assert round(second[-1] - first[0], 6) == round(99 / 50, 6)
    assert second[:15] == [second[0]] * 15


def test_after_an_idle_spell_sending_starts_afresh_without_a_burst(tmp_path: Path) -> None:
    timeline = Timeline()
    dispatcher = paced_dispatcher(timeline, rate=4, tmp_path=tmp_path)
    send_times(dispatcher, timeline, 4)
    timeline.now += 60  # nothing was due for a minute
    later = send_times(dispatcher, timeline, 4)
    assert [round(b - a, 6) for a, b in pairwise(later)] == [0.25] * 3
