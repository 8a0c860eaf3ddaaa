"""What is wrong with a client's choices about texts (shared.contracts.ContactPreferences), said in a sentence.

The contract model does the checking; this turns its findings into words a person can act on, for both places the
object arrives: inside a booking (`preferences.safe_window.days`) and alone on the manage token's route
(`safe_window.days`). No input value is echoed.
"""

from __future__ import annotations

from typing import Any

from shared.contracts.contacts import WEEKDAYS

# The fields of ContactPreferences and SafeWindow, and the one that holds them in a booking request.
FIELDS = frozenset({"preferences", "reminders", "safe_window"})
_WINDOW_RULES = {
    "each weekday at most once": "{window}.days must name each weekday at most once",
    "local wall-clock times without an offset": "{window}.start and {window}.end must be local times such as "
                                                "10:00, without an offset",
    "the window must end after it starts, on the same day": "{window} must end after it starts, on the same day "
                                                            "(for example 10:00 to 18:00)",
}


def describe_preference_error(location: list[str], error: dict[str, Any]) -> str | None:
    """A clause for one validation error under `location` (body prefix removed), or None if it is not ours."""
    if not location or location[0] not in FIELDS:
        return None
    names = [part for part in location if not part.isdigit()]
    path = ".".join(names)
    kind = error.get("type", "")
    leaf = names[-1]
    if kind == "extra_forbidden":
        return f"unexpected field '{path}'"
    if kind == "missing":
        return f"{path} is required"
    if leaf == "preferences":
        return "preferences must be an object such as {\"reminders\": false}"
    if leaf == "reminders":
        return f"{path} must be true or false"
    if leaf == "safe_window":
        rule = _WINDOW_RULES.get(str((error.get("ctx") or {}).get("error", "")))
        if rule is not None:
            return rule.format(window=path)
        return f"{path} must be null or an object with days, start and end"
    if leaf == "days":
        # pydantic counts the valid items after dropping bad ones: ["Mon"] is also "too short". Say the same as for
        # the bad item, so that the two findings become one sentence.
        if kind == "literal_error" or (kind == "too_short" and error.get("input")):
            return f"{path} must be weekdays written " + ", ".join(WEEKDAYS[:-1]) + f" or {WEEKDAYS[-1]}"
        if kind == "too_short":
            return f"{path} must name at least one weekday"
        if kind == "too_long":
            return f"{path} must name each weekday at most once"
        return f"{path} must be a list of weekdays such as [\"mon\", \"tue\"]"
    if leaf in ("start", "end"):
        return f"{path} must be a time of day such as 10:00"
    return None
