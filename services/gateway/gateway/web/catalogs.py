"""The words of the client pages in every language, read from the gettext catalogues in `gateway/locale` (Babel).

Every `*.po` file in `<locale>/<language>/LC_MESSAGES/` is read and merged, so a part of the pages can bring its own
file (`meeting.po` next to `pages.po`) without touching another's. The English text is the msgid: a text with no
usable translation is shown in English, and tests/unit/test_web_pages.py keeps every catalogue complete.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from babel import Locale
from babel.messages.pofile import PoFileError, read_po

log = logging.getLogger(__name__)

# The languages the pages speak, in the order the language choice lists them; the notifier texts the same ten.
LANGUAGES: tuple[str, ...] = ("de", "en", "ro", "bg", "hu", "pl", "ru", "uk", "es", "th")
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"


def N_(msgid: str) -> str:
    """Marks a text for translation where it is written; it is translated where it is shown."""
    return msgid


def read_catalogs(root: Path, language: str) -> dict[str, str]:
    """msgid -> translation from every `*.po` file of `language` under `root`, merged in file-name order.

    Fuzzy and empty entries are left out (gettext would not use them either). A file that does not parse is left
    out with an ERROR: its texts show in English rather than a page failing.
    """
    merged: dict[str, str] = {}
    for path in sorted((root / language / "LC_MESSAGES").glob("*.po")):
        try:
            catalog = read_po(io.BytesIO(path.read_bytes()), locale=language, abort_invalid=True)
        except (PoFileError, ValueError, UnicodeDecodeError):
            log.error("page catalogue %s/%s does not parse; its texts are shown in English", language, path.name)
            continue
        for message in catalog:
            if not message.id or message.fuzzy or not isinstance(message.id, str):
                continue
            if isinstance(message.string, str) and message.string.strip():
                if merged.get(message.id, message.string) != message.string:
                    log.warning("page catalogue %s/%s translates a text another file translates too",
                                language, path.name)
                merged[message.id] = message.string
    return merged


class Translations:
    """The page texts of every language; `gettext(language, msgid)` never fails (English is the fallback)."""

    def __init__(self, by_language: Mapping[str, Mapping[str, str]]) -> None:
        self._by_language = {language: dict(messages) for language, messages in by_language.items()}

    @classmethod
    def from_directory(cls, root: Path) -> Translations:
        return cls({language: read_catalogs(root, language) for language in LANGUAGES})

    def gettext(self, language: str, msgid: str) -> str:
        return self._by_language.get(language, {}).get(msgid, msgid)

    def translated(self, language: str) -> frozenset[str]:
        """The msgids `language` has a usable translation for."""
        return frozenset(self._by_language.get(language, {}))


@cache
def shipped_translations() -> Translations:
    """The catalogues in the package, read once on first use."""
    return Translations.from_directory(LOCALE_DIR)


def gettext(language: str, msgid: str) -> str:
    return shipped_translations().gettext(language, msgid)


@cache
def language_name(language: str) -> str:
    """A language in its own name ("Deutsch", "Română", "ไทย"), from Babel's locale data, not a table of ours."""
    name = Locale.parse(language).get_display_name(language) or language
    return name[:1].upper() + name[1:]


def language_names() -> list[tuple[str, str]]:
    return [(language, language_name(language)) for language in LANGUAGES]
