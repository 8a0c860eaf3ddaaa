"""The texts the page code picks by name (errors, states, topics, days), as msgids of the page catalogues, and the
choice of a page's language.

The words themselves live in the gettext catalogues (gateway.web.catalogs); templates write their fixed texts
inline as `_("...")`. Discretion: no text names an organisation or what the appointments are about beyond the
neutral topic labels, and no title says more than "appointment".
"""

from __future__ import annotations

from collections.abc import Collection

from gateway.web.catalogs import LANGUAGES, N_, gettext

# The language of a page that must say something before anyone chose (a broken link, an outage) and of a
# booking's texts when nothing else is known. Never German by default: most clients do not read it.
FALLBACK_LANGUAGE = "en"

TEXTS: dict[str, str] = {
    # TRANSLATORS: {day} is a date such as "Monday 3 March".
    "week_label": N_("Week from {day}"),
    # TRANSLATORS: {example} is a German mobile number, {international} one with a country code.
    "phone_hint": N_("For example {example} or {international}. We never show the number anywhere."),
    "choose_slot": N_("Please choose a time from the list."),
    "choose_conversation": N_("Please choose how you would like to talk."),
    "invalid_phone": N_("We cannot use this mobile number. Please check it and enter it again."),
    "resubmitted": N_("This form was already sent once. Please check your choice and send it again."),
    "unavailable": N_("The calendar is not answering right now. Please try again in a minute."),
    "too_many": N_("Too many requests came from your connection or for this number. Please try again later."),
    "too_many_appointments": N_("This number already has several appointments that have not taken place yet. "
                                "Please first cancel one with the link in its text message."),
    "phone_not_accepted": N_("We cannot send text messages to this number (only to mobile numbers from certain "
                             "countries, not to satellite, premium-rate or internet numbers). Please give another "
                             "mobile number."),
    "not_cancellable": N_("This appointment was not confirmed, so there is nothing to cancel."),
    "not_erasable_yet": N_("We are still checking the appointment. Please try again in a moment."),
    "status_pending": N_("We are checking that the time is still free. This usually takes a few seconds."),
    "status_confirmed": N_("Your appointment is confirmed."),
    "status_rejected": N_("Sorry, this time did not work out."),
    "status_cancelled": N_("This appointment is cancelled."),
    "reason.slot_taken": N_("Someone else was just quicker. Please choose another time."),
    "reason.unknown_slot": N_("This time is not offered. Please choose a time from the list."),
    "reason.slot_in_past": N_("This time has passed or is too soon. Please choose a later one."),
    "reason.language_not_offered": N_("Nobody speaks your language at this time. Please choose another one."),
    "reason.topic_not_offered": N_("This time is not for your topic. Please choose another one."),
    "reason.counsellor_absent": N_("Nobody is there at this time after all. Please choose another one."),
    "reason.other": N_("Please choose another time."),
    "topic.career": N_("Work and future"),
    "topic.health": N_("Health"),
    "topic.safety": N_("Safety"),
    "topic.psychosocial": N_("How I am doing"),
    "mode.office": N_("in person"),
    "mode.outreach": N_("meeting point by arrangement"),
    "mode.phone": N_("by phone"),
    "mode.video": N_("by video"),
    "prefs_summary_on": N_("Reminder before the appointment: yes"),
    "prefs_summary_off": N_("Reminder before the appointment: no"),
    "prefs_summary_any_time": N_("Texts at any time"),
    # TRANSLATORS: {days} is a list of weekdays, {start} and {end} are times such as 18:00.
    "prefs_summary_window": N_("Texts only on {days}, {start}–{end}"),
    "prefs_window_order": N_("The 'until' time must be after the 'from' time. Please choose the times again."),
    "prefs_invalid": N_("We cannot use this choice for text messages. Please choose again."),
    "prefs_not_changeable": N_("This appointment is cancelled or was not confirmed, so no more texts will come "
                               "for it."),
    "day.mon": N_("Monday"),
    "day.tue": N_("Tuesday"),
    "day.wed": N_("Wednesday"),
    "day.thu": N_("Thursday"),
    "day.fri": N_("Friday"),
    "day.sat": N_("Saturday"),
    "day.sun": N_("Sunday"),
}


# The form field an error is about: said next to it, not above the page. In the order of the fields on the page,
# which also picks the one that takes the focus.
FIELD_OF = {
    "choose_conversation": "conversation",
    "choose_slot": "slot",
    "invalid_phone": "phone",
    "phone_not_accepted": "phone",
    "prefs_window_order": "texts",
    "prefs_invalid": "texts",
}
FIELD_ORDER = ("conversation", "slot", "phone", "texts")


def text(language: str, key: str) -> str:
    """The text named `key` in `language` (English where the catalogue has none)."""
    return gettext(language, TEXTS[key])


def supported(language: str | None) -> bool:
    return language is not None and language in LANGUAGES


def best_of(accept_language: str | None, languages: Collection[str]) -> str | None:
    """The browser's most wanted of `languages` by its Accept-Language header (ties: the one it names first)."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in languages and weight > 0:
            ranked.append((-weight, position, primary))
    return sorted(ranked)[0][2] if ranked else None


def negotiate(explicit: str | None, accept_language: str | None, preferred: str | None = None) -> str | None:
    """The page language: an explicit choice, else the booking's own language, else the browser's best among ours;
    None when none of these is a language the pages speak (the caller then offers the choice)."""
    for candidate in (explicit, preferred):
        if candidate and supported(candidate):
            return candidate
    return best_of(accept_language, LANGUAGES)


def page_language(explicit: str | None, accept_language: str | None, preferred: str | None = None) -> str:
    """A language for a page that has to speak at once (an error, a form sent back): the negotiated one or English."""
    return negotiate(explicit, accept_language, preferred) or FALLBACK_LANGUAGE
