"""AES-GCM sealing of personal data with key ids and rotation, keyed look-up hashes, and bearer tokens."""

from __future__ import annotations

import base64
import hashlib
import stat
import string
from pathlib import Path
from uuid import uuid4

import pytest

from shared.contracts.contacts import manage_token_context, phone_context
from shared.crypto import (
    DataCipher,
    DecryptionError,
    generate_data_key,
    load_or_create_key_file,
    new_token,
    parse_data_key,
    token_hash,
)

PHONE = "+4915112345678"
OTHER_PHONE = "+4915112345679"
URLSAFE = set(string.ascii_letters + string.digits + "-_")


def key_text(kid: str, fill: int) -> str:
    """A DATA_KEY entry with recognisable, distinct key material."""
    return f"{kid}:{base64.urlsafe_b64encode(bytes([fill]) * 32).decode()}"


OLD = key_text("old", 1)
NEW = key_text("new", 2)


def cipher(*entries: str) -> DataCipher:
    return DataCipher.from_text(",".join(entries))


def replace_char(text: str, index: int) -> str:
    replacement = "A" if text[index] != "A" else "B"
    return text[:index] + replacement + text[index + 1 :]


# --- sealing and opening ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("plaintext", [PHONE, "", "Grüße – ünïcødé ✓", "x" * 2000])
def test_decrypt_returns_what_was_encrypted(plaintext: str) -> None:
    c = cipher(OLD)
    context = phone_context(uuid4())

    assert c.decrypt(c.encrypt(plaintext, context), context) == plaintext


def test_ciphertext_does_not_contain_the_plaintext() -> None:
    sealed = cipher(OLD).encrypt(PHONE, "ctx")

    assert PHONE not in sealed
    assert PHONE[1:] not in sealed


def test_same_plaintext_encrypts_differently_each_time() -> None:
    c = cipher(OLD)
    sealed = {c.encrypt(PHONE, "ctx") for _ in range(20)}

    assert len(sealed) == 20
    nonces = {s.split(".")[2] for s in sealed}
    assert len(nonces) == 20
    assert all(c.decrypt(s, "ctx") == PHONE for s in sealed)


def test_ciphertext_has_the_versioned_shape_with_the_key_id() -> None:
    version, kid, nonce, body = cipher(OLD).encrypt(PHONE, "ctx").split(".")

    assert (version, kid) == ("v1", "old")
    assert len(base64.urlsafe_b64decode(nonce + "=" * (-len(nonce) % 4))) == 12  # the GCM nonce size
    assert set(nonce + body) <= URLSAFE


def test_ciphertext_moved_to_another_booking_does_not_decrypt() -> None:
    c = cipher(OLD)
    mine, theirs = uuid4(), uuid4()
    sealed = c.encrypt(PHONE, phone_context(mine))

    with pytest.raises(DecryptionError):
        c.decrypt(sealed, phone_context(theirs))


def test_ciphertext_moved_to_another_field_of_the_same_booking_does_not_decrypt() -> None:
    c = cipher(OLD)
    booking = uuid4()
    sealed = c.encrypt(PHONE, phone_context(booking))

    with pytest.raises(DecryptionError):
        c.decrypt(sealed, manage_token_context(booking))


@pytest.mark.parametrize("part", [2, 3], ids=["nonce", "ciphertext"])
@pytest.mark.parametrize("where", [0, -1], ids=["first-char", "last-char"])
def test_tampered_ciphertext_does_not_decrypt(part: int, where: int) -> None:
    c = cipher(OLD)
    pieces = c.encrypt(PHONE, "ctx").split(".")
    pieces[part] = replace_char(pieces[part], where % len(pieces[part]))

    with pytest.raises(DecryptionError):
        c.decrypt(".".join(pieces), "ctx")


def test_truncated_ciphertext_does_not_decrypt() -> None:
    c = cipher(OLD)
    sealed = c.encrypt(PHONE, "ctx")

    with pytest.raises(DecryptionError):
        c.decrypt(sealed[:-4], "ctx")


@pytest.mark.parametrize(
    "token",
    ["", "garbage", "v1.old.AAAA", "v1.old.AAAA.BBBB.CCCC", PHONE, "v2.old.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAA"],
)
def test_malformed_ciphertext_raises_decryption_error(token: str) -> None:
    with pytest.raises(DecryptionError):
        cipher(OLD).decrypt(token, "ctx")


def test_ciphertext_with_another_version_prefix_does_not_decrypt() -> None:
    c = cipher(OLD)
    sealed = c.encrypt(PHONE, "ctx")

    with pytest.raises(DecryptionError):
        c.decrypt("v2" + sealed[2:], "ctx")


def test_ciphertext_made_with_an_unknown_key_id_does_not_decrypt() -> None:
    sealed = cipher(OLD).encrypt(PHONE, "ctx")

    with pytest.raises(DecryptionError, match="unknown key id"):
        cipher(NEW).decrypt(sealed, "ctx")


def test_ciphertext_relabelled_with_another_known_key_id_does_not_decrypt() -> None:
    both = cipher(NEW, OLD)
    sealed = cipher(OLD).encrypt(PHONE, "ctx")

    with pytest.raises(DecryptionError):
        both.decrypt(sealed.replace("v1.old.", "v1.new.", 1), "ctx")


def test_decryption_error_does_not_reveal_the_plaintext_or_the_context() -> None:
    booking = uuid4()
    sealed = cipher(OLD).encrypt(PHONE, phone_context(booking))

    with pytest.raises(DecryptionError) as caught:
        cipher(OLD).decrypt(sealed, phone_context(uuid4()))

    assert PHONE not in str(caught.value)
    assert str(booking) not in str(caught.value)


# --- key rotation ----------------------------------------------------------------------------------------------


def test_rotated_cipher_decrypts_ciphertexts_made_with_the_old_key() -> None:
    booking = uuid4()
    old_sealed = cipher(OLD).encrypt(PHONE, phone_context(booking))

    assert cipher(NEW, OLD).decrypt(old_sealed, phone_context(booking)) == PHONE


def test_rotated_cipher_encrypts_with_the_first_key() -> None:
    rotated = cipher(NEW, OLD)
    sealed = rotated.encrypt(PHONE, "ctx")

    assert sealed.split(".")[1] == "new"
    assert cipher(NEW).decrypt(sealed, "ctx") == PHONE
    with pytest.raises(DecryptionError):
        cipher(OLD).decrypt(sealed, "ctx")


def test_lookup_hash_is_stable_across_rotation_while_the_oldest_key_is_kept() -> None:
    before = cipher(OLD).lookup_hash(PHONE)

    assert cipher(NEW, OLD).lookup_hash(PHONE) == before
    assert cipher(key_text("newest", 3), NEW, OLD).lookup_hash(PHONE) == before


def test_lookup_hash_is_deterministic_and_tells_numbers_apart() -> None:
    c = cipher(OLD)

    assert c.lookup_hash(PHONE) == c.lookup_hash(PHONE)
    assert c.lookup_hash(PHONE) != c.lookup_hash(OTHER_PHONE)


def test_lookup_hash_depends_on_the_key_and_does_not_contain_the_number() -> None:
    digest = cipher(OLD).lookup_hash(PHONE)

    assert digest != cipher(NEW).lookup_hash(PHONE)
    assert PHONE[1:] not in digest
    assert len(digest) == 64
    assert set(digest) <= set(string.hexdigits.lower())


def test_lookup_hash_is_not_the_plain_sha256_of_the_number() -> None:
    digest = cipher(OLD).lookup_hash(PHONE)

    assert digest != hashlib.sha256(PHONE.encode()).hexdigest()


# --- DATA_KEY parsing ------------------------------------------------------------------------------------------


def test_generated_data_key_parses_to_its_kid_and_32_bytes() -> None:
    [(kid, raw)] = parse_data_key(generate_data_key("k9"))

    assert kid == "k9"
    assert len(raw) == 32


def test_generated_data_keys_differ() -> None:
    assert generate_data_key() != generate_data_key()


def test_data_key_accepts_standard_padded_base64_as_openssl_prints_it() -> None:
    raw = bytes([0xFB, 0xFF] * 16)
    text = "k1:" + base64.b64encode(raw).decode()
    assert "+" in text and "/" in text and text.endswith("=")

    assert parse_data_key(text) == [("k1", raw)]


def test_data_key_keeps_order_and_ignores_spaces_and_empty_entries() -> None:
    keys = parse_data_key(f" {NEW} , {OLD} ,")

    assert [kid for kid, _ in keys] == ["new", "old"]
    assert keys[0][1] != keys[1][1]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no key"),
        (" , ", "no key"),
        ("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "kid:base64key"),
        (":" + "A" * 43, "kid:base64key"),
        ("a-kid-that-is-too-long:" + "A" * 43, "kid:base64key"),
        ("k 1:" + "A" * 43, "kid:base64key"),
        ("k1:" + base64.urlsafe_b64encode(b"x" * 16).decode(), "32 bytes"),
        ("k1:" + base64.urlsafe_b64encode(b"x" * 33).decode(), "32 bytes"),
        ("k1:", "32 bytes"),
        ("k1:" + "A" * 41, "base64"),
        ("k1:not base64 at all!!", "base64"),
    ],
)
def test_malformed_data_key_is_a_value_error_saying_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_data_key(text)


def test_data_key_error_names_the_key_id_but_never_the_key_material() -> None:
    material = base64.urlsafe_b64encode(b"secret-material!").decode()

    with pytest.raises(ValueError) as caught:
        parse_data_key(f"{OLD},k2:{material}")

    assert "'k2'" in str(caught.value)
    assert material not in str(caught.value)
    assert OLD.split(":")[1] not in str(caught.value)


def test_repeated_key_id_is_rejected() -> None:
    # "The first encrypts, all decrypt" cannot hold for two keys under one id: a ciphertext names only the id.
    # Today the later key silently wins: the first key never encrypts, and when the "old" entry is removed
    # every record (all sealed with it) becomes unreadable and every look-up hash changes.
    with pytest.raises(ValueError, match="k1"):
        parse_data_key(f"{key_text('k1', 1)},{key_text('k1', 2)}")


# --- the embedded key file -------------------------------------------------------------------------------------


def test_key_file_is_created_once_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "var" / "data.key"

    first = load_or_create_key_file(path)
    second = load_or_create_key_file(path)

    assert first == second
    assert parse_data_key(first)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


# --- bearer tokens ---------------------------------------------------------------------------------------------


def test_new_token_carries_128_random_bits_in_url_safe_characters() -> None:
    token = new_token()

    assert set(token) <= URLSAFE
    assert len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))) >= 16


def test_new_tokens_do_not_repeat() -> None:
    tokens = {new_token() for _ in range(1000)}

    assert len(tokens) == 1000


def test_token_hash_is_stable_and_not_the_token() -> None:
    token = new_token()
    digest = token_hash(token)

    assert digest == token_hash(token)
    assert digest != token
    assert token not in digest
    assert digest != token_hash(new_token())
    assert len(digest) == 64
