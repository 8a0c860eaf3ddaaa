"""Is a webhook really from Twilio? The `X-Twilio-Signature` check over the URL Twilio called (pure, no I/O).

Twilio signs the full public URL (scheme, host, path, query string) followed by every form parameter. Behind a
TLS-terminating proxy the gateway sees an internal URL, so the signed one is rebuilt from PUBLIC_BASE_URL and the
path and query exactly as received. Every doubt refuses: no configured secret, no header, an unknown algorithm.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from twilio.request_validator import HMAC_SHA1, RequestValidator, get_signature_algorithm

SIGNATURE_HEADER = "X-Twilio-Signature"
# Present when a Twilio Webhook Setting signs with a SharedKey instead of the auth token (`key=…,algorithm=…`).
SIGNATURE_SETTINGS_HEADER = "X-Twilio-Webhooks-Signature-Settings"


class SignedParams(Protocol):
    """Form fields with every value of a repeated key (a multi-dict); the validator signs them all."""

    def getlist(self, key: str) -> list[str]: ...
    def __iter__(self) -> Iterator[str]: ...


def public_url(base_url: str, raw_path: bytes, query_string: bytes) -> str:
    """The URL Twilio called: the configured public base, then path and query byte for byte as they arrived (a
    re-encoded `%2F` or a re-ordered query would no longer match the signature)."""
    url = base_url.rstrip("/") + raw_path.decode("latin-1")
    return f"{url}?{query_string.decode('latin-1')}" if query_string else url


def is_signed_by_twilio(url: str, params: SignedParams, signature: str | None, settings_header: str | None,
                        auth_token: str, shared_key: str = "") -> bool:
    """True only if `signature` is Twilio's over `url` and `params` with the secret the request says it used: the
    auth token (HMAC-SHA1) or, when the settings header is present, the webhook SharedKey and its algorithm."""
    if not signature:
        return False
    if settings_header is None:
        secret, algorithm = auth_token, HMAC_SHA1
    else:
        secret, algorithm = shared_key, get_signature_algorithm(settings_header)
    if not secret:
        return False
    return bool(RequestValidator(secret).validate(url, params, signature, algorithm=algorithm))
