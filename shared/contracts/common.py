"""Value types used by several messages."""

from __future__ import annotations

import unicodedata
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints


class Topic(StrEnum):
    """What an appointment is about. Never shown to a client's phone; only the booking page names it."""

    career = "career"
    health = "health"
    safety = "safety"
    psychosocial = "psychosocial"


class Mode(StrEnum):
    office = "office"
    outreach = "outreach"
    phone = "phone"
    video = "video"


# Languages a client can be served in. Templates for SMS exist for a subset (notifier.texts).
LanguageCode = Annotated[str, StringConstraints(pattern=r"^(de|en|ro|bg|hu|pl|ru|uk|es|th)$")]
# `s2-<counsellor>-<location>-<appointment type>-<UTC minutes since the epoch>`, issued by the scheduler.
SLOT_ID_PATTERN = r"^s2-(0|[1-9][0-9]{0,8})-(0|[1-9][0-9]{0,8})-(0|[1-9][0-9]{0,8})-[1-9][0-9]{7,11}$"
SlotId = Annotated[str, StringConstraints(pattern=SLOT_ID_PATTERN)]
# Short free text that may travel to the scheduler (a staff reason, a counsellor's alias): at most four digits and
# no "+", so that no phone number can hide in it (the scheduler must never see one).
MAX_FREE_TEXT_DIGITS = 4


def digit_count(text: str) -> int:
    """Every character that writes a number, in any script: ASCII, fullwidth (U+FF10), Arabic-Indic (٣), Devanagari (३),
    Thai (๓), superscript (³), circled (③), and numerals such as 三 or Ⅷ (`str.isnumeric`, a superset of
    `str.isdigit` and of what `unicodedata.digit` knows). Counted over the whole text, so spaces, dots, dashes or a
    mix of scripts between them change nothing."""
    return sum(1 for char in text if char.isnumeric() or unicodedata.digit(char, None) is not None)


def _no_phone_number(text: str) -> str:
    # NFKC folds the fullwidth, small, superscript and subscript plus signs (＋ ﹢ ⁺ ₊) into "+".
    if "+" in unicodedata.normalize("NFKC", text):
        raise ValueError("must not contain '+' (it must not hold a phone number)")
    if digit_count(text) > MAX_FREE_TEXT_DIGITS:
        raise ValueError(f"may have at most {MAX_FREE_TEXT_DIGITS} digits (it must not hold a phone number)")
    return text


FreeText = Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(_no_phone_number)]
# `v1.<kid>.<nonce>.<ciphertext>` (DATA_KEY) or `x1.<kid>.<ephemeral key>.<nonce>.<ciphertext>` (sealed with the
# notifier's public key) from shared.crypto; a clear phone number can never match this.
_KID, _B64 = r"[A-Za-z0-9_-]{1,16}", r"[A-Za-z0-9_-]+"
Ciphertext = Annotated[str, StringConstraints(
    pattern=rf"^(v1\.{_KID}\.{_B64}\.{_B64}|x1\.{_KID}\.{_B64}\.{_B64}\.{_B64})$")]


class PublicLocation(BaseModel):
    """A place as a client may see it before booking: a neutral alias, never the street address."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    location_id: int
    town: str
    kind: Mode
    alias: str


class Slot(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    slot_id: SlotId
    start: AwareDatetime
    end: AwareDatetime
    location: PublicLocation
    mode: Mode
    counsellor: str = Field(description="the counsellor's public alias")
