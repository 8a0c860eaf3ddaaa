"""Admin preview of every SMS text: gateway → notifier question, notifier → gateway answer (request/reply)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.common import LanguageCode
from shared.contracts.envelope import Payload, register

SmsKind = Literal["confirmation", "reminder", "rescheduled", "cancelled", "opted_out", "opted_in"]


@register
class SmsPreviewRequested(Payload):
    """gateway → notifier: render every text (or one kind / one language) with sample values."""

    message_type = "sms.preview_requested"
    message_version = 1
    kind: SmsKind | None = None
    language: LanguageCode | None = None
    reply_to: str = Field(pattern=r"^gateway\.replies\.[0-9a-f]{12}$")


class SmsPreview(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: SmsKind
    language: LanguageCode
    rendered_language: LanguageCode = Field(description="differs from language when the text fell back to English")
    body: str
    encoding: Literal["GSM-7", "UCS-2"]
    segments: int
    fell_back: bool


@register
class SmsPreviewed(Payload):
    """notifier → gateway: the texts as a client's phone would show them (sample time, place and link)."""

    message_type = "sms.previewed"
    message_version = 1
    sender_id: str
    previews: list[SmsPreview]
