"""Staff reasons and aliases travel to the scheduler, which must never see a phone number: a number written in any
script, with any separators, is refused, both where the gateway reads the request and where a message is read."""

from __future__ import annotations

from uuid import uuid4

import pytest
from pydantic import TypeAdapter, ValidationError

from shared.contracts.bookings import BookingCancellationRequested
from shared.contracts.common import FreeText, digit_count

FREE_TEXT = TypeAdapter(FreeText)

PHONE_NUMBERS = {
    "ascii": "ruf an 0151 2345678",
    "fullwidth": "ruf an ０１５１２３４５６７８",
    "arabic-indic": "اتصل ٠١٥١٢٣٤٥٦٧٨",
    "extended arabic-indic (persian)": "تماس ۰۱۵۱۲۳۴۵۶۷۸",
    "devanagari": "कॉल करें ०१५१२३४५६७८",
    "thai": "โทร ๐๑๕๑๒๓๔๕๖๗๘",
    "bengali": "কল ০১৫১২৩৪৫৬৭৮",
    "spaced": "0 1 5 1 2 3 4 5 6 7 8",
    "dotted": "0.1.5.1.2.3.4.5",
    "dashed fullwidth": "０１５-１２３-４５",
    "mixed scripts": "0١५๑２ 3",
    "superscript": "¹²³⁴⁵",
    "circled": "①②③④⑤",
    "ideographic": "电话 一五一二三四五六七八",
}


@pytest.mark.parametrize("text", PHONE_NUMBERS.values(), ids=PHONE_NUMBERS.keys())
def test_a_number_in_any_script_is_refused(text: str) -> None:
    with pytest.raises(ValidationError, match="at most 4 digits"):
        FREE_TEXT.validate_python(text)


@pytest.mark.parametrize("plus", ["+", "＋", "﹢", "⁺", "₊"])
def test_every_plus_sign_is_refused(plus: str) -> None:
    with pytest.raises(ValidationError, match="'\\+'"):
        FREE_TEXT.validate_python(f"ruf an {plus}49")


@pytest.mark.parametrize("text", ["Beraterin krank", "Raum 2", "Raum ٢", "ab १२:३० Uhr", "Zimmer ４０４", "2026"])
def test_up_to_four_digits_in_any_script_pass_unchanged(text: str) -> None:
    assert FREE_TEXT.validate_python(text) == text


def test_digits_are_counted_in_every_script() -> None:
    assert digit_count("0١५๑２") == 5
    assert digit_count("Beraterin krank") == 0


def test_a_message_carrying_a_number_in_another_script_is_not_read() -> None:
    """The scheduler reads a cancellation through the contract: a gateway that let one through (an old version, a
    bug) still cannot get the number into the scheduler's database."""
    with pytest.raises(ValidationError):
        BookingCancellationRequested(booking_id=uuid4(), by="staff", reason="ruf an ٠١٥١٢٣٤٥٦٧٨")
