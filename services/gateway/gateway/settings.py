"""The gateway's settings: the common ones, the data key, its HTTP address and what checks Twilio's webhooks."""

from __future__ import annotations

from typing import Self

from pydantic import SecretStr, model_validator

from shared.settings import DatabaseUrl, DataKeySettings, PublicUrlSettings


class GatewaySettings(DataKeySettings, PublicUrlSettings):
    """Read once by `python -m gateway` (and its commands), passed to `gateway.app.build`."""

    gateway_database_url: DatabaseUrl = ""
    host: str = "127.0.0.1"
    # Twilio signs its webhooks with the account's auth token, or (a Webhook Setting with a SharedKey) with this
    # secret (HMAC-SHA256); a webhook the gateway cannot check with either is refused.
    twilio_auth_token: SecretStr = SecretStr("")
    twilio_webhook_shared_key: SecretStr = SecretStr("")

    @model_validator(mode="after")
    def _embedded_gateway_database(self) -> Self:
        self.gateway_database_url = self.gateway_database_url or self.embedded_database_url("gateway")
        return self
