"""Where the data key comes from: DATA_KEY, or on the embedded default a key file generated once in var/."""

from __future__ import annotations

from shared.crypto import DataCipher, load_or_create_key_file, parse_data_key
from shared.settings import ConfigurationError, DataKeySettings


def load_cipher(settings: DataKeySettings) -> DataCipher:
    text = settings.data_key.get_secret_value()
    if not text:
        if settings.lotse_env == "production":
            raise ConfigurationError("DATA_KEY: must be set in production")
        text = load_or_create_key_file(settings.var_dir.resolve() / "data.key")
    try:
        return DataCipher(parse_data_key(text))
    except ValueError as exc:
        raise ConfigurationError(f"DATA_KEY: {exc}") from None
