"""The texts the staff page code picks by name (refusals, states, modes, topics), as msgids of the staff catalogues.

Templates write their fixed texts inline as `_("...")`; these are the ones chosen in code. The scheduler's and the
accounts' own sentences are English for the JSON API: a page says its own words, chosen by the refusal's code.
"""

from __future__ import annotations

from gateway.web.catalogs import N_
from gateway.web.staff.setup_texts import SETUP_FIELD_OF, SETUP_FIELD_ORDER, SETUP_TEXTS

TEXTS: dict[str, str] = {
    "wrong_credentials": N_("The username or password is not correct."),
    "username_missing": N_("Please enter your username."),
    "password_missing": N_("Please enter your password."),
    # TRANSLATORS: {minutes} is a whole number of minutes, at least 1.
    "throttled": N_("Too many failed sign-ins. Please wait {minutes} minutes and try again."),
    "current_wrong": N_("The current password is not correct."),
    "new_weak": N_("Please choose a longer password: at least 12 characters, not the username, with more than a "
                   "few different characters (a few unrelated words make a good one)."),
    "new_mismatch": N_("The two new passwords are not the same. Please type it again."),
    "password_changed": N_("Your password was changed and every session of your account was ended. Please sign "
                           "in with the new password."),
    "signed_out": N_("You are signed out."),
    "form_expired": N_("This form is no longer valid (it came from an older session or another site). Nothing "
                       "was changed. Please open the page again and repeat."),
    "scheduler_away": N_("The calendar is not answering right now. Nothing was changed. Please try again in a "
                         "minute."),
    "scheduler_late_write": N_("The calendar did not answer in time. The change may still have been made: look "
                               "at the calendar before trying again."),
    "away": N_("We cannot handle this request right now. Nothing was saved or changed. Please try again in a "
               "minute."),
    "broken": N_("Something went wrong on our side. Nothing was changed. Please try again."),
    "admins_only": N_("This page is for admins only."),
    "no_calendar": N_("This account has no calendar of its own."),
    "bad_week": N_("This is not a week the calendar can show. Please pick a week from the links."),
    "reason_invalid": N_("The reason may have at most 200 characters, at most four digits and no '+' (it must not "
                         "hold a phone number)."),
    "done.attended": N_("Recorded: the client came."),
    "done.no_show": N_("Recorded: the client did not come."),
    "done.cancelled": N_("The appointment is cancelled; the client is told."),
    "refused.already_done": N_("This was already recorded."),
    "refused.not_started": N_("The appointment has not begun yet; record attended or no-show once it has."),
    "refused.not_confirmed": N_("This appointment is no longer confirmed, so it cannot be changed."),
    "refused.already_begun": N_("This appointment has already begun; record attended or no-show instead of "
                                "cancelling."),
    "refused.unknown_booking": N_("There is no such appointment (any more)."),
    "refused.forbidden": N_("This appointment is in another counsellor's calendar."),
    "refused.other": N_("The calendar refused this change. Nothing was changed."),
    "done.moved": N_("The appointment is moved; the client is told."),
    "choose_slot": N_("Please choose one of the times."),
    "refused.slot_taken": N_("That time is no longer free. Nothing was changed. Please choose another time."),
    "refused.unknown_slot": N_("This is not a time the calendar offered. Please choose one from the list."),
    "refused.slot_in_past": N_("That time is in the past or too soon. Please choose a later time."),
    "refused.language_not_offered": N_("The counsellor at that time does not speak the client's language."),
    "refused.topic_not_offered": N_("The counsellor at that time does not offer this kind of appointment."),
    "refused.counsellor_absent": N_("The counsellor is absent at that time. Please choose another time."),
    "refused.unknown_exception": N_("There is no such absence (any more)."),
    "done.absence_added": N_("The absence is saved."),
    "done.absence_removed": N_("The absence is removed."),
    "absence.first_day_invalid": N_("Please enter the first day as a date."),
    "absence.last_day_invalid": N_("Please enter the last day as a date, or leave it empty."),
    "absence.range_reversed": N_("The last day is before the first day."),
    "absence.range_too_long": N_("An absence may cover at most 90 days. Please enter a longer one in parts."),
    "absence.too_far": N_("The calendar does not reach that day. Please choose days from today up to a year "
                          "ahead."),
    "absence.times_invalid": N_("From and to are times such as 09:30, both given, the first earlier, and only "
                                "for an absence of a single day."),
    "done.feed_revoked": N_("The feed is stopped: its address no longer works."),
    "feed.none": N_("There was no feed to stop."),
    "done.hours_saved": N_("The weekly hours are saved."),
    "hours.invalid": N_("Please check the marked lines: from and to are times such as 09:30, the first earlier, "
                        "and a place is chosen (or all three are empty)."),
    "hours.refused": N_("The calendar refused these hours (two of them may overlap). Nothing was saved."),
    # TRANSLATORS: {day} is a day with its weekday and month, "Monday, 5 January".
    "hours.from": N_("from {day}"),
    # TRANSLATORS: {day} is a day with its weekday and month, "Tuesday, 30 June".
    "hours.until": N_("until {day}"),
    "hours.on_holidays": N_("also on public holidays"),
    "weekday.0": N_("Monday"),
    "weekday.1": N_("Tuesday"),
    "weekday.2": N_("Wednesday"),
    "weekday.3": N_("Thursday"),
    "weekday.4": N_("Friday"),
    "weekday.5": N_("Saturday"),
    "weekday.6": N_("Sunday"),
    "status.confirmed": N_("confirmed"),
    "status.cancelled": N_("cancelled"),
    "status.no_show": N_("did not come"),
    "status.attended": N_("came"),
    "mode.office": N_("in person"),
    "mode.outreach": N_("outreach, meeting point by arrangement"),
    "mode.phone": N_("by phone"),
    "mode.video": N_("by video"),
    "topic.career": N_("Work and future"),
    "topic.health": N_("Health"),
    "topic.safety": N_("Safety"),
    "topic.psychosocial": N_("Psychosocial"),
    "topic.none": N_("General"),
    "topic.general": N_("General"),  # the type every counsellor offers (scheduler migration 0004)
    "conversation.own_language": N_("in the client's language"),
    "conversation.mediator": N_("with a language mediator"),
    "contact_problem": N_("Texts do not reach the client; reach them another way."),
    "needs_attention": N_("Needs attention (an absence covers it)."),
    # Two-factor sign-in, new passwords from a link, the accounts page.
    "code_missing": N_("Please enter the 6 digits your authenticator app shows, or one of your recovery codes."),
    "code_wrong": N_("The code is not correct. Enter the 6 digits your authenticator app shows now, or one of your "
                     "recovery codes."),
    "code_used": N_("This code was used already. Please wait for the next code in your authenticator app."),
    "recovery_code_wrong": N_("This recovery code is not correct or was used already; each one works once."),
    "sign_in_expired": N_("Your sign-in took longer than five minutes and has expired. Please enter your username "
                          "and password again."),
    "password_set": N_("Your new password is set. Please sign in with it."),
    "two_factor_on": N_("Two-factor sign-in is on."),
    "two_factor_off": N_("Two-factor sign-in is off."),
    "recovery_codes_new": N_("These are your new recovery codes; the old ones no longer work."),
    "two_factor_not_started": N_("No set-up is waiting for its first code. Please start the set-up again."),
    "admins_keep_two_factor": N_("Admin accounts must keep two-factor sign-in. If your phone is lost, another admin "
                                 "can reset it on the accounts page."),
    "reset_link_invalid": N_("This link to set a new password has expired or was used already. Please ask an admin "
                             "for a new one."),
    "account_created": N_("The account is created."),
    "password_link_made": N_("A new link to set the password is made; an earlier one no longer works. The password "
                             "stays as it is until the link is used."),
    "link_for_new_account": N_("Give this link to the new colleague in person or by a safe way. It works once, for 24 "
                               "hours, and is shown only now."),
    "link_for_new_password": N_("Give this link to the colleague in person or by a safe way. It works once, for 24 "
                                "hours, and is shown only now."),
    "account_deactivated": N_("The account is deactivated; its sessions have ended."),
    "account_reactivated": N_("The account is active again."),
    "account_unlocked": N_("The account is unlocked."),
    "account_two_factor_reset": N_("Two-factor sign-in of the account is reset; its sessions have ended."),
    "account_not_found": N_("There is no such staff account."),
    "account_own": N_("You cannot do this to your own account; please ask another admin."),
    "account_inactive": N_("This account is deactivated: reactivate it first."),
    "account_invalid": N_("The account could not be created with these details. Nothing was saved."),
    "account_username_invalid": N_("The username must be 2 to 64 letters a-z, digits, '.', '_', '@' or '-', starting "
                                   "with a letter or digit."),
    "account_username_taken": N_("This username is already taken."),
    "account_name_invalid": N_("The name may have at most 80 characters and no control characters."),
    "account_role_invalid": N_("Please choose a role."),
    "account_counsellor_id_needed": N_("A counsellor account needs the counsellor's number in the calendar."),
    "account_counsellor_id_admin": N_("An admin account sees every calendar and has no counsellor number: please "
                                      "leave it empty."),
    # The delivery dashboard (/admin/deliveries). The retry refusals are the notifier's own sentences, so the list's
    # "why not" (which comes as that sentence) finds its German in the same catalogue entry.
    "period_invalid": N_("Please give the period as two days (year-month-day) within the last few years."),
    "period_reversed": N_("The period ends before it starts. Please swap the two days."),
    "period_too_long": N_("A period may cover at most 366 days."),
    "no_figure": N_("no figure yet"),
    # TRANSLATORS: {seconds} is a whole number.
    "duration_seconds": N_("{seconds} s"),
    # TRANSLATORS: {minutes} and {seconds} are whole numbers.
    "duration_minutes": N_("{minutes} min {seconds} s"),
    "notifier_away": N_("The text service is not answering right now, so the figures cannot be shown. Please try "
                        "again in a minute."),
    "notifier_late_retry": N_("The text service did not answer in time. The text may still be sent again: look at "
                              "the list before retrying."),
    "retry_queued": N_("The text is queued to be sent once more. Its new state shows here once the provider "
                       "answers."),
    "retry_refused.unknown_delivery": N_("There is no such text."),
    "retry_refused.already_retried": N_("This text was already sent once more; it is not retried again."),
    "retry_refused.not_failed": N_("This text did not fail; there is nothing to retry."),
    "retry_refused.not_retryable": N_("Sending again cannot help with this error; see what to do instead."),
    "retry_refused.superseded": N_("The notifier already tried this text again by itself; see its latest "
                                   "attempt."),
    "retry_refused.too_late": N_("The time for this text has passed; sending it now would only confuse."),
    "retry_refused.other": N_("The text service refused to send this text again. Nothing was changed."),
    "delivery.queued": N_("queued"),
    "delivery.sending": N_("being sent"),
    "delivery.sent": N_("sent, not yet confirmed"),
    "delivery.delivered": N_("delivered"),
    "delivery.undelivered": N_("undelivered"),
    "delivery.failed": N_("failed"),
    "series.delivered": N_("delivered"),
    "series.not_arrived": N_("did not arrive"),
    "series.on_the_way": N_("on the way"),
    "account_problem.authentication": N_("The SMS provider does not accept our account's credentials."),
    "account_problem.account": N_("The SMS account is out of credit or suspended."),
    "account_problem.sender": N_("The SMS account may not send from our sender."),
    # The health page (/admin/health).
    "broker_away": N_("The message broker cannot be reached right now: queues and dead letters cannot be shown, "
                      "and the figures below are what each process last reported."),
    "letter_requeued": N_("The dead letter is back on its queue."),
    "letter_discarded": N_("The dead letter is discarded."),
    "letter_gone": N_("This dead letter is no longer there: it may have been requeued or discarded meanwhile."),
    "broker_away_change": N_("The message broker cannot be reached right now. Nothing was changed. Please try "
                             "again in a minute."),
    "role.ok": N_("running"),
    "role.stale": N_("silent: no heartbeat for a while"),
    "role.never_seen": N_("never seen"),
    # Appointment types and their reminders (/admin/types), the SMS text previews (/admin/texts).
    "type.topic_invalid": N_("The topic must be a code of 2 to 40 lower-case letters a-z and '_', such as "
                             "'career'."),
    # TRANSLATORS: {low} and {high} are whole numbers of minutes.
    "type.duration_invalid": N_("The duration must be a whole number of minutes, {low} to {high}."),
    # TRANSLATORS: {low} and {high} are whole numbers of minutes.
    "type.buffer_before_invalid": N_("The buffer before must be a whole number of minutes, {low} to {high}."),
    # TRANSLATORS: {low} and {high} are whole numbers of minutes.
    "type.buffer_after_invalid": N_("The buffer after must be a whole number of minutes, {low} to {high}."),
    # TRANSLATORS: {low} and {high} are whole numbers of minutes ({high} is a week).
    "type.notice_invalid": N_("The minimum notice must be a whole number of minutes, {low} to {high} (a week)."),
    # TRANSLATORS: {low} and {high} are whole numbers of days.
    "type.horizon_invalid": N_("The booking horizon must be a whole number of days, {low} to {high}."),
    "type.modes_invalid": N_("Please tick at least one way of meeting."),
    "type.reminder_number_invalid": N_("Each reminder is a whole number with its unit, such as 2 hours; or leave "
                                       "the line empty."),
    # TRANSLATORS: {low} is a number of minutes, {high} a number of days.
    "type.reminder_range": N_("Each reminder must be {low} minutes to {high} days before the start."),
    "type.reminder_twice": N_("Two lines give the same reminder time: each time may be given once."),
    "type.created": N_("The appointment type is created."),
    "type.saved": N_("The appointment type is saved. A changed reminder policy applies to appointments confirmed "
                     "or moved from now on; earlier ones keep their reminders."),
    "type.unchanged": N_("Nothing was changed: the form held the values already saved."),
    "type.deactivated": N_("The appointment type is deactivated: clients can no longer book it. Appointments "
                           "already made stay as they are."),
    "type.reactivated": N_("The appointment type is active again: clients can book it."),
    "type_refused.ambiguous_type": N_("Another active appointment type already offers this topic in one of these "
                                      "ways of meeting, and a client's search must find one type. Nothing was "
                                      "saved. Deactivate the other type first, or choose other ways."),
    "type_refused.unknown_type": N_("There is no such appointment type (any more)."),
    "type_refused.other": N_("The calendar refused this appointment type. Nothing was saved."),
    "texts.kind_invalid": N_("Please choose a kind of text from the list."),
    "texts.language_invalid": N_("Please choose a language from the list."),
    "texts.notifier_away": N_("The text service is not answering right now, so the texts cannot be shown. Please "
                              "try again in a minute."),
    # The audit log's filter (/admin/audit).
    "audit.username_invalid": N_("A username has at most 64 characters and no control characters."),
    "audit.action_invalid": N_("Please choose an action from the list."),
    "audit.target_kind_invalid": N_("Please choose what it was done to from the list."),
    "audit.target_kind_missing": N_("A number or id needs what it belongs to: please choose that too."),
    "audit.target_id_invalid": N_("The number or id may have at most 64 characters."),
    "audit.from_invalid": N_("Please enter the first day as a date."),
    "audit.to_invalid": N_("Please enter the last day as a date."),
    "audit.range_reversed": N_("The last day is before the first day."),
    "audit.cursor_invalid": N_("This link to older entries is not valid. Please start again from the first page."),
}

# The form field an error is about: said next to it, marked invalid, and given the focus.
FIELD_OF = {
    "wrong_credentials": "password",
    "username_missing": "username",
    "password_missing": "password",
    "current_wrong": "current_password",
    "new_weak": "new_password",
    "new_mismatch": "new_password_again",
    "reason_invalid": "reason",
    "code_missing": "code",
    "code_wrong": "code",
    "code_used": "code",
    "recovery_code_wrong": "code",
    "account_username_invalid": "username",
    "account_username_taken": "username",
    "account_name_invalid": "display_name",
    "account_role_invalid": "role",
    "account_counsellor_id_needed": "counsellor_id",
    "account_counsellor_id_admin": "counsellor_id",
    "absence.first_day_invalid": "first_day",
    "absence.too_far": "first_day",
    "absence.last_day_invalid": "last_day",
    "absence.range_reversed": "last_day",
    "absence.range_too_long": "last_day",
    "absence.times_invalid": "start",
    "type.topic_invalid": "topic",
    "type.duration_invalid": "duration_minutes",
    "type.buffer_before_invalid": "buffer_before_minutes",
    "type.buffer_after_invalid": "buffer_after_minutes",
    "type.notice_invalid": "min_notice_minutes",
    "type.horizon_invalid": "horizon_days",
    "type.modes_invalid": "modes",
    "type.reminder_number_invalid": "reminders",
    "type.reminder_range": "reminders",
    "type.reminder_twice": "reminders",
    "texts.kind_invalid": "kind",
    "texts.language_invalid": "language",
    "audit.username_invalid": "username",
    "audit.action_invalid": "action",
    "audit.target_kind_invalid": "target_kind",
    "audit.target_kind_missing": "target_kind",
    "audit.target_id_invalid": "target_id",
    "audit.from_invalid": "from",
    "audit.to_invalid": "to",
    "audit.range_reversed": "to",
}
FIELD_ORDER: tuple[str, ...] = (
               "username", "password", "current_password", "new_password", "new_password_again", "first_day",
               "last_day", "start", "end", "reason", "code", "display_name", "role", "counsellor_id",
               "action", "target_kind", "target_id", "from", "to",
               "topic", "duration_minutes", "modes", "buffer_before_minutes", "buffer_after_minutes",
               "min_notice_minutes", "horizon_days", "reminders", "kind", "language")


def known(key: str) -> str:
    """`key` if it names a text, else its kind's fallback ("refused.other" for an unknown refusal code)."""
    if key in TEXTS:
        return key
    return key.split(".")[0] + ".other" if f"{key.split('.')[0]}.other" in TEXTS else key


# The counsellors' and locations' pages keep their texts in their own module and catalogue (setup.po).
TEXTS.update(SETUP_TEXTS)
FIELD_OF.update(SETUP_FIELD_OF)
FIELD_ORDER += SETUP_FIELD_ORDER
