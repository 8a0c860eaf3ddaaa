"""Which counsellor gets a start time that several could take: the least booked that ISO week, then round-robin.

The round-robin order is the counsellors' ids sorted, rotated by a turn number (by default the slot start counted in
steps, so neighbouring start times begin the rotation at different people). With the least-booked rule first, a
stream of bookings made from the offered slots spreads evenly; the rotation only breaks ties.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence


class RoundRobin:
    def __init__(self, counsellor_ids: Iterable[int]) -> None:
        self.order = sorted(set(counsellor_ids))
        self._position = {cid: i for i, cid in enumerate(self.order)}

    def ordered(self, candidates: Sequence[int], load: Callable[[int], int], turn: int) -> list[int]:
        """The candidates by load, smallest first; among equals, nearest the turn in the rotation first."""
        size = len(self.order)
        position = self._position
        return sorted(candidates, key=lambda cid: (load(cid), (position[cid] - turn) % size))

    def choose(self, candidates: Sequence[int], load: Callable[[int], int], turn: int) -> int:
        return candidates[0] if len(candidates) == 1 else self.ordered(candidates, load, turn)[0]
