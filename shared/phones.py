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


# Numbers that belong to no country (+881 satellite phones, +882/+883 international networks, +800 freephone):
# texts to them cost many times a German SMS and no client of a counselling service in Germany needs one.
NON_GEOGRAPHIC_REGION = "001"
DEFAULT_ALLOWED_COUNTRIES = ("DE",)


class RefusedDestination(InvalidPhoneNumber):
    """A real mobile number, but in a country or kind of network we do not send texts to."""


def parse_country_list(text: str) -> tuple[str, ...]:
    """`SMS_ALLOWED_COUNTRIES`: ISO 3166 two-letter codes separated by commas; Germany is always in."""
    codes = [code.strip().upper() for code in text.split(",") if code.strip()]
    supported = phonenumbers.SUPPORTED_REGIONS
    unknown = [code for code in codes if code not in supported]
    if unknown:
        raise ValueError(f"unknown country code(s) {', '.join(unknown)} (expected two-letter codes like DE,AT,PL)")
    return tuple(dict.fromkeys([*DEFAULT_ALLOWED_COUNTRIES, *codes]))


def check_destination(e164: str, allowed_countries: tuple[str, ...]) -> None:
    """Raise RefusedDestination unless a text to this E.164 number may be sent: a mobile number (no satellite,
    premium-rate, shared-cost, VoIP or fixed-line number) in one of the allowed countries."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        raise RefusedDestination("This does not look like a phone number.") from None
    region = phonenumbers.region_code_for_number(number)
    if region == NON_GEOGRAPHIC_REGION or region is None:
        raise RefusedDestination("We cannot send texts to satellite or international service numbers. "
                                 "Please give a mobile number from a country's network.")
    if phonenumbers.number_type(number) not in _SMS_CAPABLE:
        raise RefusedDestination("We can only send texts to mobile numbers, not to premium-rate, shared-cost, "
                                 "internet (VoIP) or landline numbers. Please give a mobile number.")
    if region not in allowed_countries:
        raise RefusedDestination("We cannot send texts to mobile numbers from this country. Please give a mobile "
                                 "number from " + ", ".join(_country_names(allowed_countries)) + ".")


def _country_names(codes: tuple[str, ...]) -> list[str]:
    # The calling code names the country without a table of names in every language: "+49 (DE)".
    return [f"+{phonenumbers.country_code_for_region(code)} ({code})" for code in codes]


def mask_phone(e164: str) -> str:
    """Enough to tell two numbers apart on an admin screen, not enough to call: +49151•••••678."""
    if len(e164) < 7:
        return "•" * len(e164)
    hidden = max(len(e164) - 9, 3)  # short numbering plans (+500 51234) must still lose some digits
    shown = len(e164) - hidden - 3
    return e164[:shown] + "•" * hidden + e164[-3:]
