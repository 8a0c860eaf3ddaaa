"""How many SMS segments a text is sent as, and the encoding the network will use for it (3GPP TS 23.038 / 23.040).

One character outside the GSM 7-bit alphabet switches the whole message to UCS-2, which more than halves what fits
in a segment (160 -> 70); the templates are written so that this happens only where a language's script needs it.
"""

from __future__ import annotations

import unicodedata

GSM7 = "GSM-7"
UCS2 = "UCS-2"

# GSM 03.38 default alphabet (one septet each) and its extension table (escape septet + one septet each).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

# A concatenated message spends part of each segment on the user data header (6 octets), hence 153 and 67.
_GSM7_SINGLE, _GSM7_PART = 160, 153
# Letters with no decomposition into a GSM letter plus an accent.
_PLAIN_FORMS = {"Ð": "D", "ð": "d", "Þ": "Th", "þ": "th", "Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "Œ": "OE", "œ": "oe"}
_UCS2_SINGLE, _UCS2_PART = 70, 67


def is_gsm7(text: str) -> bool:
    return all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text)


def segments(text: str) -> tuple[str, int]:
    """(encoding, number of segments) of `text`: "GSM-7" when every character is in the GSM alphabet, else "UCS-2"."""
    if is_gsm7(text):
        return GSM7, _parts([2 if c in GSM7_EXTENSION else 1 for c in text], _GSM7_SINGLE, _GSM7_PART)
    # UTF-16 code units: a character outside the Basic Multilingual Plane (most emoji) is a surrogate pair of two.
    return UCS2, _parts([2 if ord(c) > 0xFFFF else 1 for c in text], _UCS2_SINGLE, _UCS2_PART)


def _parts(sizes: list[int], single: int, per_part: int) -> int:
    if sum(sizes) <= single:
        return 1
    parts, used = 1, 0
    for size in sizes:  # an escape pair or a surrogate pair is never split across two parts
        if used + size > per_part:
            parts, used = parts + 1, 0
        used += size
    return parts


def fold_to_gsm7(text: str) -> str:
    """`text` with each letter outside the GSM alphabet replaced by its unaccented form when that one is in it.

    "Côte Ouest" -> "Cote Ouest"; letters with no GSM form (Cyrillic, Thai) stay as they are.
    """
    folded = []
    for c in text:
        if c in GSM7_BASIC or c in GSM7_EXTENSION:
            folded.append(c)
            continue
        base = _PLAIN_FORMS.get(c) or "".join(
            part for part in unicodedata.normalize("NFKD", c) if not unicodedata.combining(part))
        folded.append(base if base and is_gsm7(base) else c)
    return "".join(folded)
