"""What a person sees of an HTML page: its words, without markup, entities decoded, any run of whitespace one
space. Page tests assert on this with the sentence written out, so a broken text fails them."""

from __future__ import annotations

import html
import re

_INVISIBLE = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>")


def visible_text(page: str) -> str:
    return " ".join(html.unescape(_TAG.sub(" ", _INVISIBLE.sub(" ", page))).split())


# Manage tokens and form keys are random URL-safe strings (22 characters and more); by chance they can hold any
# short word ("sex", "exit"). No word a page says runs 16 characters without a space.
_RANDOM_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,}")


def without_random_tokens(page: str) -> str:
    """The page with every run of 16 or more token characters blanked, for checks on the words it holds."""
    return _RANDOM_TOKEN.sub(" ", page)
