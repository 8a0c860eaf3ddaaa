"""Every word the booking and manage pages show, one flat dict per language; a new language is one more dict.

Discretion: no text names an organisation or what the appointments are about beyond the neutral topic labels,
and no title says more than "appointment". tests/unit/test_web_pages.py checks every language has every key.
"""

from __future__ import annotations

DEFAULT_LANGUAGE = "de"

TEXTS: dict[str, dict[str, str]] = {
    "de": {
        "language_name": "Deutsch",
        "title": "Termin",
        "date_pattern": "EEEE, d. MMMM",
        "intro": "Hier können Sie einen Termin ausmachen. Sie bekommen eine SMS mit Uhrzeit und Ort, sonst nichts.",
        "search_heading": "Termin suchen",
        "language_label": "Sprache",
        "topic_label": "Worum geht es? (freiwillig)",
        "topic_any": "Möchte ich nicht sagen",
        "place_label": "Wo?",
        "place_any": "Egal",
        "search_button": "Freie Termine zeigen",
        "week_label": "Woche ab {day}",
        "earlier_button": "Frühere Woche",
        "later_button": "Spätere Woche",
        "slots_heading": "Freie Termine",
        "no_slots": "In dieser Woche ist nichts frei. Bitte sehen Sie in einer anderen Woche nach.",
        "phone_label": "Ihre Handynummer (nur für die SMS)",
        "phone_hint": "Zum Beispiel 0151 2345678 oder +40 712 345 678. Wir zeigen die Nummer nirgends an.",
        "book_button": "Termin anfragen",
        "choose_slot": "Bitte wählen Sie eine Uhrzeit aus der Liste.",
        "invalid_phone": "Diese Handynummer können wir nicht verwenden. Bitte prüfen Sie sie und geben Sie sie "
                         "neu ein.",
        "resubmitted": "Dieses Formular wurde schon einmal gesendet. Bitte prüfen Sie Ihre Auswahl und senden Sie "
                       "erneut.",
        "unavailable": "Der Kalender antwortet gerade nicht. Bitte versuchen Sie es in einer Minute noch einmal.",
        "too_many": "Es kamen zu viele Anfragen von Ihrer Verbindung oder für diese Nummer. Bitte versuchen Sie es "
                    "später noch einmal.",
        "too_many_appointments": "Für diese Nummer gibt es schon mehrere Termine, die noch nicht stattgefunden haben. "
                                 "Bitte sagen Sie zuerst einen über den Link in seiner SMS ab.",
        "phone_not_accepted": "An diese Nummer können wir keine SMS schicken (nur an Handynummern aus bestimmten "
                              "Ländern, nicht an Satelliten-, Sonder- oder Internetnummern). Bitte geben Sie eine "
                              "andere Handynummer an.",
        "status_heading": "Ihr Termin",
        "status_pending": "Wir prüfen, ob die Uhrzeit noch frei ist. Diese Seite aktualisiert sich von selbst.",
        "status_confirmed": "Ihr Termin ist bestätigt.",
        "status_rejected": "Diese Uhrzeit hat leider nicht geklappt.",
        "status_cancelled": "Dieser Termin ist abgesagt.",
        "when_label": "Wann",
        "where_label": "Wo",
        "how_label": "Wie",
        "reason.slot_taken": "Jemand anderes war gerade schneller. Bitte wählen Sie eine andere Uhrzeit.",
        "reason.unknown_slot": "Diese Uhrzeit wird nicht angeboten. Bitte wählen Sie eine Uhrzeit aus der Liste.",
        "reason.slot_in_past": "Diese Uhrzeit ist vorbei oder zu bald. Bitte wählen Sie eine spätere.",
        "reason.language_not_offered": "Zu dieser Uhrzeit gibt es niemanden in Ihrer Sprache. Bitte wählen Sie eine "
                                       "andere.",
        "reason.topic_not_offered": "Diese Uhrzeit gibt es nicht für Ihr Thema. Bitte wählen Sie eine andere.",
        "reason.counsellor_absent": "Zu dieser Uhrzeit ist leider niemand da. Bitte wählen Sie eine andere.",
        "reason.other": "Bitte wählen Sie eine andere Uhrzeit.",
        "alternatives_heading": "Diese Uhrzeiten sind noch frei",
        "search_again": "Andere Termine suchen",
        "cancel_link": "Termin absagen",
        "cancel_question": "Möchten Sie diesen Termin wirklich absagen?",
        "cancel_confirm": "Ja, absagen",
        "cancel_keep": "Nein, Termin behalten",
        "not_cancellable": "Dieser Termin wurde nicht bestätigt, es gibt also nichts abzusagen.",
        "erase_link": "Meine Daten löschen",
        "erase_heading": "Daten löschen",
        "erase_question": "Möchten Sie Ihre Daten zu diesem Termin wirklich löschen?",
        "erase_explain": "Ein Termin, der noch kommt, wird dabei abgesagt. Ihre Handynummer und alles zu diesem Link "
                         "werden gelöscht; Sie bekommen keine SMS mehr dazu. Das lässt sich nicht rückgängig machen.",
        "erase_confirm": "Ja, alles löschen",
        "erase_keep": "Nein, zurück",
        "erased": "Ihre Daten werden gelöscht. Unter diesem Link ist nichts mehr gespeichert.",
        "not_erasable_yet": "Wir prüfen den Termin noch. Bitte versuchen Sie es in einem Moment noch einmal.",
        "outage_heading": "Gerade nicht erreichbar",
        "outage": "Wir können Ihre Anfrage gerade nicht bearbeiten. Es wurde nichts gespeichert oder geändert. Bitte "
                  "versuchen Sie es in einer Minute noch einmal.",
        "error_heading": "Etwas ist schiefgegangen",
        "error": "Bei uns ist etwas schiefgegangen. Bitte versuchen Sie es noch einmal.",
        "not_found_heading": "Nicht gefunden",
        "not_found": "Zu diesem Link gibt es keinen Termin. Vielleicht ist er abgelaufen. Sie können einen neuen "
                     "Termin ausmachen.",
        "new_booking": "Neuen Termin ausmachen",
        "topic.career": "Arbeit und Zukunft",
        "topic.health": "Gesundheit",
        "topic.safety": "Sicherheit",
        "topic.psychosocial": "Wie es mir geht",
        "mode.office": "vor Ort",
        "mode.outreach": "Treffpunkt nach Absprache",
        "mode.phone": "am Telefon",
        "mode.video": "per Video",
        "retry_button": "Noch einmal versuchen",
        "prefs_heading": "SMS",
        "prefs_reminders_yes": "Erinnerung vor dem Termin schicken",
        "prefs_reminders_no": "Keine Erinnerung, nur die Bestätigung",
        "prefs_window_label": "SMS nur zu diesen Zeiten (freiwillig)",
        "prefs_window_hint": "Ohne Häkchen kann eine SMS an jedem Tag kommen.",
        "prefs_from": "von",
        "prefs_to": "bis",
        "prefs_save": "Speichern",
        "prefs_saved": "Gespeichert.",
        "prefs_summary_on": "Erinnerung vor dem Termin: ja",
        "prefs_summary_off": "Erinnerung vor dem Termin: nein",
        "prefs_summary_any_time": "SMS zu jeder Zeit",
        "prefs_summary_window": "SMS nur {days}, {start}–{end} Uhr",
        "prefs_window_order": "Die Uhrzeit bei „bis“ muss nach der bei „von“ liegen. Bitte wählen Sie die Zeiten "
                              "neu.",
        "prefs_invalid": "Diese Auswahl für SMS können wir nicht verwenden. Bitte wählen Sie noch einmal.",
        "prefs_not_changeable": "Dieser Termin ist abgesagt oder wurde nicht bestätigt. Dazu kommen keine SMS mehr.",
        "day.mon": "Montag",
        "day.tue": "Dienstag",
        "day.wed": "Mittwoch",
        "day.thu": "Donnerstag",
        "day.fri": "Freitag",
        "day.sat": "Samstag",
        "day.sun": "Sonntag",
    },
    "en": {
        "language_name": "English",
        "title": "Appointment",
        "date_pattern": "EEEE d MMMM",
        "intro": "Make an appointment here. You get a text message with the time and place, nothing else.",
        "search_heading": "Find a time",
        "language_label": "Language",
        "topic_label": "What is it about? (optional)",
        "topic_any": "I prefer not to say",
        "place_label": "Where?",
        "place_any": "Anywhere",
        "search_button": "Show free times",
        "week_label": "Week from {day}",
        "earlier_button": "Earlier week",
        "later_button": "Later week",
        "slots_heading": "Free times",
        "no_slots": "Nothing is free this week. Please look at another week.",
        "phone_label": "Your mobile number (only for the text message)",
        "phone_hint": "For example 0151 2345678 or +40 712 345 678. We never show the number anywhere.",
        "book_button": "Request appointment",
        "choose_slot": "Please choose a time from the list.",
        "invalid_phone": "We cannot use this mobile number. Please check it and enter it again.",
        "resubmitted": "This form was already sent once. Please check your choice and send it again.",
        "unavailable": "The calendar is not answering right now. Please try again in a minute.",
        "too_many": "Too many requests came from your connection or for this number. Please try again later.",
        "too_many_appointments": "This number already has several appointments that have not taken place yet. Please "
                                 "first cancel one with the link in its text message.",
        "phone_not_accepted": "We cannot send text messages to this number (only to mobile numbers from certain "
                              "countries, not to satellite, premium-rate or internet numbers). Please give another "
                              "mobile number.",
        "status_heading": "Your appointment",
        "status_pending": "We are checking that the time is still free. This page updates itself.",
        "status_confirmed": "Your appointment is confirmed.",
        "status_rejected": "Sorry, this time did not work out.",
        "status_cancelled": "This appointment is cancelled.",
        "when_label": "When",
        "where_label": "Where",
        "how_label": "How",
        "reason.slot_taken": "Someone else was just quicker. Please choose another time.",
        "reason.unknown_slot": "This time is not offered. Please choose a time from the list.",
        "reason.slot_in_past": "This time has passed or is too soon. Please choose a later one.",
        "reason.language_not_offered": "Nobody speaks your language at this time. Please choose another one.",
        "reason.topic_not_offered": "This time is not for your topic. Please choose another one.",
        "reason.counsellor_absent": "Nobody is there at this time after all. Please choose another one.",
        "reason.other": "Please choose another time.",
        "alternatives_heading": "These times are still free",
        "search_again": "Look for other times",
        "cancel_link": "Cancel appointment",
        "cancel_question": "Do you really want to cancel this appointment?",
        "cancel_confirm": "Yes, cancel",
        "cancel_keep": "No, keep it",
        "not_cancellable": "This appointment was not confirmed, so there is nothing to cancel.",
        "erase_link": "Delete my data",
        "erase_heading": "Delete data",
        "erase_question": "Do you really want to delete your data for this appointment?",
        "erase_explain": "An appointment still to come is cancelled. Your mobile number and everything about this "
                         "link are deleted; no more texts will come about it. This cannot be undone.",
        "erase_confirm": "Yes, delete everything",
        "erase_keep": "No, go back",
        "erased": "Your data is being deleted. Nothing is stored under this link any more.",
        "not_erasable_yet": "We are still checking the appointment. Please try again in a moment.",
        "outage_heading": "Not available right now",
        "outage": "We cannot handle your request right now. Nothing was saved or changed. Please try again in a "
                  "minute.",
        "error_heading": "Something went wrong",
        "error": "Something went wrong on our side. Please try again.",
        "not_found_heading": "Not found",
        "not_found": "There is no appointment for this link. It may have expired. You can make a new appointment.",
        "new_booking": "Make a new appointment",
        "topic.career": "Work and future",
        "topic.health": "Health",
        "topic.safety": "Safety",
        "topic.psychosocial": "How I am doing",
        "mode.office": "in person",
        "mode.outreach": "meeting point by arrangement",
        "mode.phone": "by phone",
        "mode.video": "by video",
        "retry_button": "Try again",
        "prefs_heading": "Text messages",
        "prefs_reminders_yes": "Send me a reminder before the appointment",
        "prefs_reminders_no": "No reminders, only the confirmation",
        "prefs_window_label": "Texts only at these times (optional)",
        "prefs_window_hint": "With no day ticked, a text may come on any day.",
        "prefs_from": "from",
        "prefs_to": "until",
        "prefs_save": "Save",
        "prefs_saved": "Saved.",
        "prefs_summary_on": "Reminder before the appointment: yes",
        "prefs_summary_off": "Reminder before the appointment: no",
        "prefs_summary_any_time": "Texts at any time",
        "prefs_summary_window": "Texts only on {days}, {start}–{end}",
        "prefs_window_order": "The 'until' time must be after the 'from' time. Please choose the times again.",
        "prefs_invalid": "We cannot use this choice for text messages. Please choose again.",
        "prefs_not_changeable": "This appointment is cancelled or was not confirmed, so no more texts will come "
                                "for it.",
        "day.mon": "Monday",
        "day.tue": "Tuesday",
        "day.wed": "Wednesday",
        "day.thu": "Thursday",
        "day.fri": "Friday",
        "day.sat": "Saturday",
        "day.sun": "Sunday",
    },
}


def supported(language: str | None) -> bool:
    return language is not None and language in TEXTS


def negotiate(explicit: str | None, accept_language: str | None, preferred: str | None = None) -> str:
    """The page language: an explicit choice, else the booking's own language, else the browser's, else German."""
    for candidate in (explicit, preferred):
        if candidate and supported(candidate):
            return candidate
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
        if supported(primary) and weight > 0:
            ranked.append((-weight, position, primary))
    return sorted(ranked)[0][2] if ranked else DEFAULT_LANGUAGE
