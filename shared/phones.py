"""Phone numbers: parsed with `phonenumbers`, kept in E.164, never shown whole in a log or a page."""

from __future__ import annotations

import phonenumbers


class InvalidPhoneNumber(ValueError):
    """The text is not a phone number that can receive an SMS."""


_SMS_CAPABLE = {
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
}


def normalise_phone(text: str, default_region: str = "DE") -> str:
    """Return the number in E.164 or raise InvalidPhoneNumber with a message a person understands."""
    if len(text) > 32:
        raise InvalidPhoneNumber("The phone number is too long.")
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException:
        raise InvalidPhoneNumber("This does not look like a phone number.") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneNumber("This phone number is not valid. Please check it, with the country code.")
    if phonenumbers.number_type(number) not in _SMS_CAPABLE:
        raise InvalidPhoneNumber("Please give a mobile number that can receive text messages.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask_phone(e164: str) -> str:
    """Enough to tell two numbers apart on an admin screen, not enough to call: +49151•••••678."""
    if len(e164) < 7:
        return "•" * len(e164)
    hidden = max(len(e164) - 9, 3)  # short numbering plans (+500 51234) must still lose some digits
    shown = len(e164) - hidden - 3
    return e164[:shown] + "•" * hidden + e164[-3:]
