"""Encryption of personal data (phone numbers, manage tokens in flight) and keyed hashes for look-ups.

DATA_KEY holds one or more keys as `kid:base64key` separated by commas; the first encrypts, all decrypt, so a key
can be rotated without losing old records. Ciphertexts carry their key id: `v1.<kid>.<nonce>.<ciphertext>`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_KID = re.compile(r"^[A-Za-z0-9_-]{1,16}$")


class DecryptionError(Exception):
    """A ciphertext is malformed, was made with an unknown key, or was tampered with."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _derive(key: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"lotse:" + purpose).derive(key)


def parse_data_key(text: str) -> list[tuple[str, bytes]]:
    """Parse DATA_KEY; raises ValueError with a message fit to show next to the variable's name."""
    keys: list[tuple[str, bytes]] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        kid, sep, material = part.partition(":")
        if not sep or not _KID.match(kid):
            raise ValueError("each key must look like 'kid:base64key' (kid: 1-16 letters, digits, - or _)")
        try:
            raw = _unb64(material)
        except (ValueError, TypeError):
            raise ValueError(f"key {kid!r} is not valid base64") from None
        if len(raw) != 32:
            raise ValueError(f"key {kid!r} must be 32 bytes (256 bits), got {len(raw)}")
        if any(kid == known for known, _ in keys):
            raise ValueError(f"key id {kid!r} is given twice; give each key its own id")
        keys.append((kid, raw))
    if not keys:
        raise ValueError("no key given")
    return keys


def generate_data_key(kid: str = "k1") -> str:
    return f"{kid}:{_b64(secrets.token_bytes(32))}"


def load_or_create_key_file(path: Path) -> str:
    """Embedded default only: a key generated once into var/, readable by this user alone."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = generate_data_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key


# --- sealed for the notifier: X25519 + HKDF-SHA256 + AES-256-GCM ---------------------------------------------------
#
# With NOTIFIER_PUBLIC_KEY set, the gateway seals a number (and a manage link) for the notifier with the notifier's
# public key: `x1.<kid>.<ephemeral public key>.<nonce>.<ciphertext>`. Only NOTIFIER_PRIVATE_KEY opens it, so a
# stolen gateway (its settings, its outbox) cannot open what it sent. The notifier stores it again under DATA_KEY.

SEALED_VERSION = "x1"


def generate_box_key(kid: str = "n1") -> tuple[str, str]:
    """A new key pair as (`kid:base64 private`, `kid:base64 public`)."""
    private = secrets.token_bytes(32)
    public = X25519PrivateKey.from_private_bytes(private).public_key().public_bytes_raw()
    return f"{kid}:{_b64(private)}", f"{kid}:{_b64(public)}"


def parse_box_key(text: str) -> tuple[str, bytes]:
    """One `kid:base64key` (32 bytes); ValueError with a message fit to show next to the variable's name."""
    keys = parse_data_key(text)
    if len(keys) != 1:
        raise ValueError("give exactly one key")
    return keys[0]


def _box_key(shared: bytes, ephemeral: bytes, recipient: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=ephemeral + recipient,
                info=b"lotse:sealed-for-notifier").derive(shared)


class SealingKey:
    """The notifier's public key, as the gateway holds it: seals, cannot open."""

    def __init__(self, text: str) -> None:
        self.kid, raw = parse_box_key(text)
        self._public = X25519PublicKey.from_public_bytes(raw)
        self._raw = raw

    def seal(self, plaintext: str, context: str) -> str:
        ephemeral = X25519PrivateKey.generate()
        ephemeral_public = ephemeral.public_key().public_bytes_raw()
        key = _box_key(ephemeral.exchange(self._public), ephemeral_public, self._raw)
        nonce = secrets.token_bytes(12)
        sealed = AESGCM(key).encrypt(nonce, plaintext.encode(), context.encode())
        return f"{SEALED_VERSION}.{self.kid}.{_b64(ephemeral_public)}.{_b64(nonce)}.{_b64(sealed)}"


class OpeningKey:
    """The notifier's private key: opens what the gateway sealed for it."""

    def __init__(self, text: str) -> None:
        self.kid, raw = parse_box_key(text)
        self._private = X25519PrivateKey.from_private_bytes(raw)
        self._public_raw = self._private.public_key().public_bytes_raw()

    def public_key_text(self) -> str:
        return f"{self.kid}:{_b64(self._public_raw)}"

    def open(self, token: str, context: str) -> str:
        try:
            version, kid, ephemeral, nonce, sealed = token.split(".")
        except ValueError:
            raise DecryptionError("malformed sealed value") from None
        if version != SEALED_VERSION or kid != self.kid:
            raise DecryptionError(f"sealed for unknown key id {kid!r}")
        try:
            ephemeral_raw = _unb64(ephemeral)
            shared = self._private.exchange(X25519PublicKey.from_public_bytes(ephemeral_raw))
            key = _box_key(shared, ephemeral_raw, self._public_raw)
            return AESGCM(key).decrypt(_unb64(nonce), _unb64(sealed), context.encode()).decode()
        except (InvalidTag, ValueError):
            raise DecryptionError("sealed value does not verify") from None


class DataCipher:
    """AES-256-GCM for personal data at rest and in flight, HMAC-SHA256 for look-ups (derived keys).

    `sealing`: the gateway's copy of the notifier's public key (values for the notifier are sealed with it);
    `opening`: the notifier's private key (values sealed with its public key are opened with it)."""

    def __init__(self, keys: list[tuple[str, bytes]], sealing: SealingKey | None = None,
                 opening: OpeningKey | None = None) -> None:
        self._sealing, self._opening = sealing, opening
        self._current_kid = keys[0][0]
        self._aeads = {kid: AESGCM(_derive(raw, b"aead")) for kid, raw in keys}
        # The look-up key must not change when the encryption key rotates, or old hashes stop matching;
        # it is derived from the oldest key, which is kept for as long as any record made with it lives.
        self._hash_key = _derive(keys[-1][1], b"lookup-hmac")
        self._lookup_kid = keys[-1][0]

    @classmethod
    def from_text(cls, text: str) -> DataCipher:
        return cls(parse_data_key(text))

    @property
    def current_key_id(self) -> str:
        """The id of the key new ciphertexts are made with (the first in DATA_KEY)."""
        return self._current_kid

    @property
    def lookup_key_id(self) -> str:
        """The id of the key the look-up hashes are derived from (the last in DATA_KEY)."""
        return self._lookup_kid

    def reseal(self, token: str, context: str) -> str | None:
        """`token` made again with the current key, or None if it already is (key rotation).
        Raises DecryptionError if no listed key opens it."""
        if key_id_of(token) == self._current_kid:
            return None
        return self.encrypt(self.decrypt(token, context), context)

    def encrypt(self, plaintext: str, context: str) -> str:
        """`context` is bound as associated data: a ciphertext cannot be moved to another field or record."""
        nonce = secrets.token_bytes(12)
        sealed = self._aeads[self._current_kid].encrypt(nonce, plaintext.encode(), context.encode())
        return f"v1.{self._current_kid}.{_b64(nonce)}.{_b64(sealed)}"

    def seal_for_notifier(self, plaintext: str, context: str) -> str:
        """A value only the notifier may open: sealed with its public key when the gateway has it, else under
        DATA_KEY (which the notifier shares)."""
        return self._sealing.seal(plaintext, context) if self._sealing else self.encrypt(plaintext, context)

    def at_rest(self, token: str, context: str) -> str:
        """A value as the notifier stores it: one sealed with its public key is opened and stored under
        DATA_KEY (what the dispatcher and the key rotation read); anything else as it is."""
        if token.startswith(SEALED_VERSION + "."):
            return self.encrypt(self.decrypt(token, context), context)
        return token

    def decrypt(self, token: str, context: str) -> str:
        if token.startswith(SEALED_VERSION + "."):
            if self._opening is None:
                raise DecryptionError("sealed with the notifier's public key, but no private key is set")
            return self._opening.open(token, context)
        try:
            version, kid, nonce, sealed = token.split(".")
        except ValueError:
            raise DecryptionError("malformed ciphertext") from None
        aead = self._aeads.get(kid)
        if version != "v1" or aead is None:
            raise DecryptionError(f"ciphertext made with unknown key id {kid!r}")
        try:
            return aead.decrypt(_unb64(nonce), _unb64(sealed), context.encode()).decode()
        except (InvalidTag, ValueError):
            raise DecryptionError("ciphertext does not verify") from None

    def lookup_hash(self, value: str) -> str:
        return hmac.new(self._hash_key, value.encode(), hashlib.sha256).hexdigest()


def key_id_of(token: str) -> str | None:
    """The key id a ciphertext names (`v1.<kid>.…`), None for anything else."""
    parts = token.split(".")
    return parts[1] if len(parts) == 4 and parts[0] == "v1" else None


def new_token() -> str:
    """A bearer token with 128 random bits, short enough for an SMS link."""
    return secrets.token_urlsafe(16)


def token_hash(token: str) -> str:
    """Tokens are stored only as this hash; 128 random bits need no salt or stretching."""
    return hashlib.sha256(token.encode()).hexdigest()
