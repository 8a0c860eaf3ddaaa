"""TOTP codes (RFC 6238: 6 digits, 30 s, SHA-1, what every authenticator app reads), recovery codes, the QR code.

Pure functions: no database, no clock of their own. The QR code is drawn here (segno, inline SVG), so enrolling
makes no request to anyone else; the provisioning URI names the issuer "Lotse" and the username, nothing else.
"""

from __future__ import annotations

import hmac
import re
import secrets
from datetime import datetime

import pyotp
import segno

ISSUER = "Lotse"
RECOVERY_CODE_COUNT = 10
# A code is accepted for the step it belongs to and the step before and after: a phone's clock that is 30 s off,
# or a code typed just as it changed.
ALLOWED_DRIFT_STEPS = 1
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread from paper
_RECOVERY_LENGTH = 10  # about 49 bits each
_TOTP_CODE = re.compile(r"^[0-9]{6}$")  # ASCII only: compare_digest refuses other characters


def new_secret() -> str:
    """160 random bits in base32, the length RFC 4226 recommends."""
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The URI as an inline SVG QR code, dark on white so any phone camera reads it."""
    svg: str = segno.make(uri, error="m").svg_inline(scale=4, dark="#000", light="#fff")
    return svg


def normalise_code(raw: str) -> str:
    """What people type: spaces, dashes and capitals are not part of a code."""
    return re.sub(r"[\s-]", "", raw).lower()


def looks_like_totp(code: str) -> bool:
    return bool(_TOTP_CODE.match(code))


def matching_step(secret: str, code: str, at: datetime) -> int | None:
    """The time step whose code `code` is (within the allowed drift), or None; compared in constant time."""
    if not looks_like_totp(code):
        return None
    totp = pyotp.TOTP(secret)
    moment = int(at.timestamp())
    step = totp.timecode(moment)
    found: int | None = None
    for offset in range(-ALLOWED_DRIFT_STEPS, ALLOWED_DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.at(moment, counter_offset=offset), code):
            found = step + offset
    return found


def code_at(secret: str, at: datetime) -> str:
    """The code an authenticator app shows at `at` (for the first admin's tests and tools, not for checking)."""
    return pyotp.TOTP(secret).at(int(at.timestamp()))


def new_recovery_codes() -> list[str]:
    """Ten codes shown once, as `xxxxx-xxxxx`; normalise_code makes them what is hashed."""
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    return codes
