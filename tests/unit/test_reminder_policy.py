"""An admin's reminder policy for an appointment type: the limits of the booking messages (each 15 minutes to
14 days before the start, at most 5), no time twice, stored and announced largest first; refused with a sentence
naming the limit."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from shared.contracts.bookings import ReminderOffsets
from shared.contracts.staff import (
    MAX_REMINDERS,
    REMINDER_OFFSET_MAX,
    REMINDER_OFFSET_MIN,
    UpdateTypeAction,
    reminder_policy,
)


@pytest.mark.parametrize(("offsets", "expected"), [
    ([120, 1440], (1440, 120)),
    ([], ()),
    ([REMINDER_OFFSET_MIN, REMINDER_OFFSET_MAX], (REMINDER_OFFSET_MAX, REMINDER_OFFSET_MIN)),
    ([15, 30, 45, 60, 75], (75, 60, 45, 30, 15)),
])
def test_a_policy_within_the_limits_is_kept_largest_first(offsets: list[int], expected: tuple[int, ...]) -> None:
    assert reminder_policy(offsets) == expected
    assert UpdateTypeAction(type_id=1, reminder_offsets_minutes=offsets).reminder_offsets_minutes == expected


@pytest.mark.parametrize(("offsets", "words"), [
    ([14], ("15 to 20160", "not 14")),
    ([60, 20161], ("15 to 20160", "14 days", "not 20161")),
    ([15, 30, 45, 60, 75, 90], ("at most 5", "not 6")),
    ([120, 1440, 120], ("once", "120 minutes")),
    ([True], ("not true",)),
])
def test_a_policy_outside_the_limits_is_refused_with_a_sentence_naming_the_limit(
        offsets: list[int], words: tuple[str, ...]) -> None:
    with pytest.raises(ValueError) as refused:
        reminder_policy(offsets)
    sentence = str(refused.value)
    assert sentence[0].isupper() and sentence.endswith(".")
    for word in words:
        assert word.lower() in sentence.lower()
    # The staff contract refuses it too, so no message carries a policy the notifier would not accept.
    with pytest.raises(ValidationError):
        UpdateTypeAction(type_id=1, reminder_offsets_minutes=offsets)


def test_the_limits_are_those_of_the_booking_messages() -> None:
    offsets = TypeAdapter(ReminderOffsets)
    offsets.validate_python((REMINDER_OFFSET_MIN, REMINDER_OFFSET_MAX))
    for outside in ((REMINDER_OFFSET_MIN - 1,), (REMINDER_OFFSET_MAX + 1,), tuple(range(15, 15 + MAX_REMINDERS + 1))):
        with pytest.raises(ValidationError):
            offsets.validate_python(outside)
