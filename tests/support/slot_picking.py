"""Free slots for tests that book against one running system shared by a whole module.

A pending booking still lists its slot as free, and a booked slot also takes its counsellor's overlapping slots and
those within the travel buffer; a test that takes the "next free slot" by id alone is refused `slot_taken` when the
random test order puts it after a neighbour's booking (seen in CI with --randomly-seed=204581546).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx

# The scheduler's TRAVEL_BUFFER_MINUTES (60 by default): a counsellor's next appointment elsewhere starts no sooner.
NEAR = timedelta(minutes=60)

SlotJson = dict[str, Any]


def near(slot: SlotJson, used: SlotJson) -> bool:
    """Whether booking `used` may take `slot` too: the same counsellor, overlapping or within the travel buffer."""
    if slot["counsellor"] != used["counsellor"]:
        return False
    start, end = datetime.fromisoformat(slot["start"]), datetime.fromisoformat(slot["end"])
    return start < datetime.fromisoformat(used["end"]) + NEAR and datetime.fromisoformat(used["start"]) < end + NEAR


class SlotPicker:
    """Hands out listed slots that no slot handed out before (by this picker) can take."""

    def __init__(self) -> None:
        self.used: list[SlotJson] = []

    def take(self, slot: SlotJson) -> SlotJson:
        """Mark a slot as used that the test chose itself (an alternative offered, say)."""
        self.used.append(slot)
        return slot

    def free(self, slot: SlotJson) -> bool:
        return not any(near(slot, used) for used in self.used)

    def many(self, client: httpx.Client, count: int, language: str = "de") -> list[SlotJson]:
        response = client.get("/v1/slots", params={"language": language})
        assert response.status_code == 200, response.text
        slots: list[SlotJson] = []
        for slot in response.json()["slots"]:
            if len(slots) < count and self.free(slot) and not any(near(slot, chosen) for chosen in slots):
                slots.append(slot)
        assert len(slots) == count, f"only {len(slots)} of {count} free slots far enough apart"
        self.used.extend(slots)
        return slots

    def one(self, client: httpx.Client, language: str = "de") -> SlotJson:
        return self.many(client, 1, language)[0]
