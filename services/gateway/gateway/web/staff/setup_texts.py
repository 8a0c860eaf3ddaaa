"""The texts the counsellors' and locations' admin pages (`setup_pages`) pick by name, kept apart from `texts` so
that their catalogue (locale/*/LC_MESSAGES/setup.po) is theirs too; `texts` merges them into its tables."""

from __future__ import annotations

from gateway.web.catalogs import N_

SETUP_TEXTS: dict[str, str] = {
    "setup.counsellor_created": N_("The counsellor is added. Give them weekly hours and a staff account next."),
    "setup.counsellor_saved": N_("The counsellor is saved."),
    "setup.counsellor_deactivated": N_("The counsellor is deactivated: their booked appointments stay, no new ones "
                                       "are offered."),
    "setup.counsellor_reactivated": N_("The counsellor is active again: their free times are offered."),
    "setup.location_created": N_("The location is added. Add it to counsellors, who then give it hours."),
    "setup.location_saved": N_("The location is saved."),
    "setup.location_deactivated": N_("The location is deactivated: appointments booked there stay, no new ones "
                                     "are offered."),
    "setup.location_reactivated": N_("The location is active again: its free times are offered."),
    "setup.counsellor_not_found": N_("There is no such counsellor."),
    "setup.location_not_found": N_("There is no such location."),
    "setup.counsellor_alias_invalid": N_("The name must be 2 to 40 characters: letters, spaces and at most four "
                                         "digits, no '+'."),
    "setup.location_alias_invalid": N_("The alias must be 2 to 40 characters: letters, spaces and at most four "
                                       "digits, no '+'. An SMS shows it: keep it neutral."),
    "setup.alias_taken": N_("Another one already has this name. Please choose another."),
    "setup.languages_invalid": N_("Please tick at least one language."),
    "setup.topics_invalid": N_("Please tick only topics from the list."),
    "setup.locations_invalid": N_("Please tick only places from the list."),
    "setup.location_in_use": N_("A place the counsellor's weekly hours still use cannot be removed. Change the "
                                "weekly hours first."),
    "setup.daily_cap_invalid": N_("The daily limit is a number from 1 to 20, or empty for no limit."),
    "setup.town_invalid": N_("The town must be 2 to 80 letters, spaces, '-', '.' or an apostrophe, no digits."),
    "setup.kind_invalid": N_("Please choose what kind of place it is."),
    "setup.address_invalid": N_("The address may have at most 200 characters and no '+' (no phone numbers)."),
    "setup.directions_invalid": N_("The directions may have at most 500 characters and no '+' (no phone "
                                   "numbers)."),
    "setup.refused": N_("The calendar refused this change. Nothing was changed."),
    "setup.no_limit": N_("no limit"),
    "setup.active": N_("active"),
    "setup.inactive": N_("deactivated"),
}

# The form field an error is about (its input or its group of boxes).
SETUP_FIELD_OF = {
    "setup.counsellor_alias_invalid": "alias",
    "setup.location_alias_invalid": "alias",
    "setup.alias_taken": "alias",
    "setup.languages_invalid": "languages",
    "setup.topics_invalid": "topics",
    "setup.locations_invalid": "locations",
    "setup.location_in_use": "locations",
    "setup.daily_cap_invalid": "daily_cap",
    "setup.town_invalid": "town",
    "setup.kind_invalid": "kind",
    "setup.address_invalid": "address",
    "setup.directions_invalid": "directions",
}
SETUP_FIELD_ORDER = ("town", "kind", "alias", "languages", "topics", "locations", "daily_cap", "address",
                     "directions")
