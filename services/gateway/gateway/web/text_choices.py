"""The "text messages" fieldset: the client's choices about reminders as a form shows and reads them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time

from gateway.web.texts import text
from shared.contracts import ContactPreferences, SafeWindow
from shared.contracts.contacts import WEEKDAYS

# The times the form offers; a window set through the API at another time is offered too, so it shows as stored.
HOURS = tuple(f"{hour:02d}:00" for hour in range(8, 22))


@dataclass(frozen=True)
class TextChoices:
    """The "text messages" fieldset as the client filled it in, or as stored: what a page shows again."""

    reminders: bool = True
    days: tuple[str, ...] = ()
    start: str = "10:00"
    end: str = "18:00"

    @classmethod
    def of(cls, preferences: ContactPreferences) -> TextChoices:
        window = preferences.safe_window
        if window is None:
            return cls(reminders=preferences.reminders)
        return cls(preferences.reminders, tuple(window.days), f"{window.start:%H:%M}", f"{window.end:%H:%M}")

    def hours(self) -> list[str]:
        return sorted({*HOURS, *(value for value in (self.start, self.end) if clock_time(value) is not None)})

    def summary(self, lang: str) -> list[str]:
        lines = [text(lang, "prefs_summary_on" if self.reminders else "prefs_summary_off")]
        if self.days:
            days = ", ".join(text(lang, f"day.{day}") for day in self.days)
            lines.append(text(lang, "prefs_summary_window").format(days=days, start=self.start, end=self.end))
        else:
            lines.append(text(lang, "prefs_summary_any_time"))
        return lines


def clock_time(value: str) -> time | None:
    try:
        return time.fromisoformat(value) if len(value) == 5 else None
    except ValueError:
        return None


def read_choices(reminders: str, days: list[str], start: str, end: str
                 ) -> tuple[TextChoices, ContactPreferences | list[str]]:
    """What the form says, kept to show it again, and the preferences it means or the text keys of what is wrong.
    No day ticked means no window: texts may come on any day (the times are then not looked at)."""
    ticked = tuple(day for day in WEEKDAYS if day in days)
    choices = TextChoices(reminders != "no", ticked, start[:5], end[:5])
    if reminders not in ("", "yes", "no") or len(days) != len(ticked):
        return choices, ["prefs_invalid"]
    if not ticked:
        return choices, ContactPreferences(reminders=choices.reminders)
    begins, ends = clock_time(start), clock_time(end)
    if begins is None or ends is None:
        return choices, ["prefs_invalid"]
    if ends <= begins:
        return choices, ["prefs_window_order"]
    return choices, ContactPreferences(reminders=choices.reminders,
                                       safe_window=SafeWindow(days=ticked, start=begins, end=ends))
