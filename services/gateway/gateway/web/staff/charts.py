"""The delivery dashboard's daily chart as numbers and shapes for an inline SVG (drawn on the server: no script, no
third party). The same rows make the table under the chart, so what the bars show and what the table says agree."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from shared.contracts.delivery_reports import DayCounts

# A day's texts in three groups, stacked from the bottom: arrived, did not arrive, still on their way.
SERIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("delivered", ("delivered",)),
    ("not_arrived", ("undelivered", "failed")),
    ("on_the_way", ("queued", "sending", "sent")),
)
BAR_WIDTH, GAP, PLOT_HEIGHT, TOP, BOTTOM = 14, 6, 120, 16, 4


@dataclass(frozen=True)
class Segment:
    series: str
    count: int
    y: float
    height: float


@dataclass(frozen=True)
class DayBar:
    day: date
    total: int
    counts: dict[str, int]  # by series
    x: int
    segments: list[Segment]


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    highest: int
    bars: list[DayBar]


def daily_chart(daily: list[DayCounts]) -> Chart:
    """One stacked bar per day, scaled to the busiest day (an empty period draws no bars but keeps its size)."""
    grouped = [(d.day, {name: sum(d.counts.get(s, 0) for s in statuses)  # type: ignore[call-overload]
                        for name, statuses in SERIES}) for d in daily]
    highest = max((sum(c.values()) for _, c in grouped), default=0)
    scale = PLOT_HEIGHT / highest if highest else 0.0
    bars = []
    for index, (day, counts) in enumerate(grouped):
        x = GAP + index * (BAR_WIDTH + GAP)
        base = float(TOP + PLOT_HEIGHT)
        segments = []
        for name, _ in SERIES:
            height = counts[name] * scale
            base -= height
            if counts[name]:
                segments.append(Segment(name, counts[name], round(base, 2), round(height, 2)))
        bars.append(DayBar(day, sum(counts.values()), counts, x, segments))
    width = max(GAP + len(bars) * (BAR_WIDTH + GAP), 200)
    return Chart(width, TOP + PLOT_HEIGHT + BOTTOM, highest, bars)
