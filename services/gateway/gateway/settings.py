"""The gateway's settings: the common ones, the data key, its HTTP address and what checks Twilio's webhooks."""

from __future__ import annotations

from typing import Self

from pydantic import SecretStr, field_validator, model_validator

from shared.crypto import parse_box_key
from shared.settings import DatabaseUrl, DataKeySettings, PublicUrlSettings


class GatewaySettings(DataKeySettings, PublicUrlSettings):
    """Read once by `python -m gateway` (and its commands), passed to `gateway.app.build`."""

    gateway_database_url: DatabaseUrl = ""
    host: str = "127.0.0.1"
    # Twilio signs its webhooks with the account's auth token, or (a Webhook Setting with a SharedKey) with this
    # secret (HMAC-SHA256); a webhook the gateway cannot check with either is refused.
    twilio_auth_token: SecretStr = SecretStr("")
    twilio_webhook_shared_key: SecretStr = SecretStr("")
    # The notifier's public key (`python -m notifier generate-box-key`): numbers and links for the notifier are
    # sealed with it, so this gateway cannot open what it sent. Without it they go under DATA_KEY, as before.
    notifier_public_key: str = ""

    @field_validator("notifier_public_key")
    @classmethod
    def _well_formed_public_key(cls, value: str) -> str:
        if value:
            parse_box_key(value)
        return value

    @model_validator(mode="after")
    def _embedded_gateway_database(self) -> Self:
        self.gateway_database_url = self.gateway_database_url or self.embedded_database_url("gateway")
        return self
