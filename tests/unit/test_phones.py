"""Phone numbers: any way a person types a mobile number becomes one E.164 string; anything else is refused."""

from __future__ import annotations

import re

import phonenumbers
import pytest

from shared.phones import (
    InvalidPhoneNumber,
    RefusedDestination,
    check_destination,
    mask_phone,
    normalise_phone,
    parse_country_list,
)

GERMAN_MOBILE = "+4915112345678"


def example_mobile(region: str) -> phonenumbers.PhoneNumber:
    number = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    assert number is not None, region
    return number


def e164(number: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@pytest.mark.parametrize(
    "typed",
    [
        "015112345678",
        "0151 12345678",
        "0151-1234-5678",
        "(0151) 12345678",
        "+4915112345678",
        "+49 151 12345678",
        "+49 (0)151 12345678",
        "0049 151 12345678",
        " +49 151 12345678 ",
    ],
)
def test_german_mobile_in_any_usual_notation_becomes_the_same_e164(typed: str) -> None:
    assert normalise_phone(typed) == GERMAN_MOBILE


@pytest.mark.parametrize("region", ["RO", "BG", "HU", "PL", "UA"])
def test_mobile_from_a_clients_home_country_is_accepted_in_international_format(region: str) -> None:
    number = example_mobile(region)
    typed = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)

    result = normalise_phone(typed)

    assert result == e164(number)
    assert result.startswith(f"+{number.country_code}")
    assert re.fullmatch(r"\+[1-9]\d{6,14}", result)


@pytest.mark.parametrize("region", ["RO", "BG", "HU"])
def test_mobile_in_national_format_is_read_with_the_given_default_region(region: str) -> None:
    number = example_mobile(region)
    typed = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)

    assert normalise_phone(typed, default_region=region) == e164(number)


def test_national_format_defaults_to_germany() -> None:
    assert normalise_phone("015112345678").startswith("+49")


@pytest.mark.parametrize(
    ("typed", "why"),
    [
        ("hello", "not a number"),
        ("", "empty"),
        ("0151", "too short"),
        ("0151 123", "too short"),
        ("+49 151 123456789012345", "too long for the plan"),
        ("+" + "1" * 40, "longer than any number"),
        ("+49 30 12345678", "Berlin landline"),
        ("030 12345678", "Berlin landline, national"),
        ("+49 800 1234567", "German toll-free"),
        ("+40 21 123 4567", "Bucharest landline"),
        ("+999 1234567", "no such country code"),
    ],
)
def test_not_an_sms_capable_number_is_refused(typed: str, why: str) -> None:
    with pytest.raises(InvalidPhoneNumber):
        normalise_phone(typed)


def test_landline_is_refused_with_a_message_asking_for_a_mobile() -> None:
    with pytest.raises(InvalidPhoneNumber, match="mobile"):
        normalise_phone("+49 30 12345678")


@pytest.mark.parametrize(
    "typed",
    ["015112345", "+49 30 12345678", "call me 0151", "+" + "4" * 40, "+999 1234567", "0049 30 1234 5678 9999"],
)
def test_refusal_message_does_not_repeat_the_input(typed: str) -> None:
    with pytest.raises(InvalidPhoneNumber) as caught:
        normalise_phone(typed)

    message = str(caught.value)
    assert typed.strip() not in message
    assert not re.search(r"\d{3,}", message), "no run of digits from the input"
    assert message  # a person gets told something


def test_invalid_phone_number_is_a_value_error() -> None:
    assert issubclass(InvalidPhoneNumber, ValueError)


# --- masking ---------------------------------------------------------------------------------------------------


def test_mask_keeps_country_and_prefix_and_last_digits_and_hides_the_middle() -> None:
    masked = mask_phone(GERMAN_MOBILE)

    assert masked.startswith("+49151")
    assert masked.endswith("678")
    middle = masked[len("+49151") : -3]
    assert middle and set(middle) == {"•"}
    assert len(masked) == len(GERMAN_MOBILE)
    assert "12345" not in masked


def test_mask_tells_two_numbers_apart() -> None:
    assert mask_phone("+4915112345678") != mask_phone("+4915112345999")


def test_mask_of_a_very_short_string_hides_everything() -> None:
    assert set(mask_phone("+4912")) == {"•"}


def accepted_example_mobiles() -> list[str]:
    numbers = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        number = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
        if number is None:
            continue
        try:
            numbers.append(normalise_phone(e164(number)))
        except InvalidPhoneNumber:
            continue
    return sorted(set(numbers))


def is_proper_mask(number: str, masked: str) -> bool:
    """Same length, some characters hidden, and what is shown is the number's own prefix and suffix."""
    parts = re.fullmatch(r"([^•]*)(•+)([^•]*)", masked)
    return (
        parts is not None
        and len(masked) == len(number)
        and number.startswith(parts[1])
        and number.endswith(parts[3])
    )


def test_mask_hides_part_of_every_number_normalise_phone_accepts() -> None:
    # Every region's example mobile number, so short numbering plans (Falklands, St Helena, ...) are included.
    numbers = accepted_example_mobiles()
    assert len(numbers) > 100, "the sweep covers most of the world's numbering plans"

    leaks = {number: mask_phone(number) for number in numbers if not is_proper_mask(number, mask_phone(number))}

    assert leaks == {}


# --- where texts may go (issue "Lotse 5/7") ---------------------------------------------------------------------


@pytest.mark.parametrize(("number", "words"), [
    ("+881612345678", "satellite"),         # Iridium: "mobile" to phonenumbers, but belongs to no country
    ("+882354123456", "satellite"),         # an international network
    ("+447911123456", r"from \+49 \(DE\)"),  # a real mobile number, in a country not allowed
    ("+4932212345678", "landline"),        # German VoIP ("national" numbers)
    ("+499001234567", "premium-rate"),
    ("+4918012345", "shared-cost"),
])
def test_numbers_texts_may_not_go_to_are_refused_saying_why(number: str, words: str) -> None:
    with pytest.raises(RefusedDestination, match=words):
        check_destination(number, ("DE",))


def test_a_mobile_number_of_an_allowed_country_may_be_texted() -> None:
    check_destination("+4915112345678", ("DE",))
    check_destination("+43664123456", ("DE", "AT"))
    with pytest.raises(RefusedDestination, match=r"\+43 \(AT\)"):
        check_destination("+40712345678", ("DE", "AT"))


def test_the_country_list_always_holds_germany_and_refuses_unknown_codes() -> None:
    assert parse_country_list("") == ("DE",)
    assert parse_country_list("at,PL, de ,ro") == ("DE", "AT", "PL", "RO")
    with pytest.raises(ValueError, match="XX"):
        parse_country_list("AT,XX")
