"""Where the data key comes from: DATA_KEY, or on the embedded default a key file generated once in var/."""

from __future__ import annotations

from shared.crypto import DataCipher, OpeningKey, SealingKey, load_or_create_key_file, parse_data_key
from shared.settings import ConfigurationError, DataKeySettings


def load_cipher(settings: DataKeySettings, public_key: str = "", private_key: str = "") -> DataCipher:
    """`public_key`: NOTIFIER_PUBLIC_KEY (the gateway seals for the notifier with it); `private_key`:
    NOTIFIER_PRIVATE_KEY (the notifier opens with it). Both were checked by the settings."""
    sealing = SealingKey(public_key) if public_key else None
    opening = OpeningKey(private_key) if private_key else None
    text = settings.data_key.get_secret_value()
    if not text:
        if settings.lotse_env == "production":
            raise ConfigurationError("DATA_KEY: must be set in production")
        text = load_or_create_key_file(settings.var_dir.resolve() / "data.key")
    try:
        return DataCipher(parse_data_key(text), sealing=sealing, opening=opening)
    except ValueError as exc:
        raise ConfigurationError(f"DATA_KEY: {exc}") from None
