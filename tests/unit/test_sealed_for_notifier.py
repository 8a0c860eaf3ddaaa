"""With NOTIFIER_PUBLIC_KEY the gateway seals numbers and links for the notifier (X25519 + HKDF + AES-GCM): the
notifier opens them with NOTIFIER_PRIVATE_KEY and stores them under DATA_KEY; the gateway itself cannot open what it
sent, even holding DATA_KEY."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter

from shared.contracts.common import Ciphertext
from shared.crypto import (
    DataCipher,
    DecryptionError,
    OpeningKey,
    SealingKey,
    generate_box_key,
    generate_data_key,
    key_id_of,
    parse_data_key,
)

PRIVATE, PUBLIC = generate_box_key("n1")
DATA_KEY = generate_data_key("k1")
PHONE, CONTEXT = "+4915112345678", "phone:9f1c"


def gateway() -> DataCipher:
    return DataCipher(parse_data_key(DATA_KEY), sealing=SealingKey(PUBLIC))


def notifier() -> DataCipher:
    return DataCipher(parse_data_key(DATA_KEY), opening=OpeningKey(PRIVATE))


def test_the_notifier_opens_what_the_gateway_sealed_and_the_gateway_cannot() -> None:
    sealed = gateway().seal_for_notifier(PHONE, CONTEXT)

    assert sealed.startswith("x1.n1.") and PHONE not in sealed and PHONE[3:] not in sealed
    assert notifier().decrypt(sealed, CONTEXT) == PHONE
    with pytest.raises(DecryptionError, match="no private key"):
        gateway().decrypt(sealed, CONTEXT)  # DATA_KEY does not help


def test_each_sealing_differs() -> None:
    assert gateway().seal_for_notifier(PHONE, CONTEXT) != gateway().seal_for_notifier(PHONE, CONTEXT)


def test_the_notifier_stores_it_under_the_data_key() -> None:
    stored = notifier().at_rest(gateway().seal_for_notifier(PHONE, CONTEXT), CONTEXT)

    assert key_id_of(stored) == "k1"
    assert DataCipher.from_text(DATA_KEY).decrypt(stored, CONTEXT) == PHONE
    under_data_key = DataCipher.from_text(DATA_KEY).encrypt(PHONE, CONTEXT)
    assert notifier().at_rest(under_data_key, CONTEXT) == under_data_key, "a v1 value is stored as it came"


@pytest.mark.parametrize("change", ["context", "other key", "tampered", "truncated"])
def test_a_sealed_value_opens_only_whole_for_its_field_with_its_key(change: str) -> None:
    sealed, context, opener = gateway().seal_for_notifier(PHONE, CONTEXT), CONTEXT, notifier()
    if change == "context":
        context = "phone:another-booking"
    elif change == "other key":
        opener = DataCipher(parse_data_key(DATA_KEY), opening=OpeningKey(generate_box_key("n1")[0]))
    elif change == "tampered":
        sealed = sealed[:-2] + ("AA" if not sealed.endswith("AA") else "BB")
    else:
        sealed = sealed.rsplit(".", 1)[0]
    with pytest.raises(DecryptionError):
        opener.decrypt(sealed, context)


def test_without_a_public_key_the_gateway_seals_under_the_data_key_as_before() -> None:
    plain = DataCipher.from_text(DATA_KEY)
    sealed = plain.seal_for_notifier(PHONE, CONTEXT)
    assert key_id_of(sealed) == "k1" and notifier().decrypt(sealed, CONTEXT) == PHONE


def test_messages_accept_both_forms_and_never_a_number() -> None:
    field = TypeAdapter(Ciphertext)
    for value in (gateway().seal_for_notifier(PHONE, CONTEXT), DataCipher.from_text(DATA_KEY).encrypt(PHONE, CONTEXT)):
        assert field.validate_python(value) == value
    for value in (PHONE, "x1.n1.a.b", "v1.k1.a.b.c"):
        with pytest.raises(ValueError, match="pattern"):
            field.validate_python(value)


def test_the_public_key_is_derived_from_the_private_one() -> None:
    assert OpeningKey(PRIVATE).public_key_text() == PUBLIC
