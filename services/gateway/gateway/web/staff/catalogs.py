"""The words of the staff pages in German and English, from their own gettext catalogues (`web/staff/locale`).

Kept apart from the client pages' catalogues (`gateway/locale`, ten languages each): staff read German or English,
and a staff text in the client catalogues would demand eight translations nobody reads. The English text is the
msgid; tests/unit/test_staff_pages.py keeps both catalogues complete.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from babel import Locale, UnknownLocaleError

from gateway.web.catalogs import Translations, read_catalogs
from gateway.web.texts import best_of

STAFF_LANGUAGES: tuple[str, ...] = ("de", "en")
# The office works in German; English for colleagues who ask for it (a switch on every page, or the browser).
DEFAULT_STAFF_LANGUAGE = "de"
STAFF_LOCALE_DIR = Path(__file__).resolve().parent / "locale"


@cache
def staff_translations() -> Translations:
    """The staff catalogues in the package, read once on first use."""
    return Translations({language: read_catalogs(STAFF_LOCALE_DIR, language) for language in STAFF_LANGUAGES})


def staff_gettext(language: str, msgid: str) -> str:
    return staff_translations().gettext(language, msgid)


def staff_language(explicit: str | None, remembered: str | None, accept_language: str | None) -> str:
    """The page language: a choice made now (`?lang=`, a form's `lang`), else the one chosen before (cookie), else
    the browser's first of German and English, else German."""
    for candidate in (explicit, remembered):
        if candidate in STAFF_LANGUAGES:
            return candidate
    return best_of(accept_language, STAFF_LANGUAGES) or DEFAULT_STAFF_LANGUAGE


@cache
def language_label(code: str, language: str) -> str:
    """A client's language named in the staff page's language ("Thailändisch", "Thai"); the code if Babel has none."""
    try:
        name = Locale.parse(code).get_display_name(language)
    except (UnknownLocaleError, ValueError):
        return code
    return (name[:1].upper() + name[1:]) if name else code
