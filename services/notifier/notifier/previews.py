"""The admin's look at every text in every language, rendered exactly as a client's phone would get it."""

from __future__ import annotations

from collections.abc import Callable
from zoneinfo import ZoneInfo

from sqlmodel import Session

from notifier.domain.texts import preview_all
from notifier.settings import NotifierSettings
from shared.contracts import Envelope, SmsPreview, SmsPreviewed, SmsPreviewRequested, wrap


def answer_preview(envelope: Envelope, session: Session, settings: NotifierSettings,
                   reply: Callable[[str, Envelope], None]) -> None:
    asked = envelope.payload_as(SmsPreviewRequested)
    previews = [
        SmsPreview(kind=kind, language=language, rendered_language=rendered.language,
                   body=rendered.body, encoding=rendered.encoding, segments=rendered.segments,
                   fell_back=rendered.fell_back)
        for kind, language, rendered in preview_all(ZoneInfo(settings.timezone), settings.sms_signature,
                                                    settings.public_base_url)
        if asked.kind in (None, kind) and asked.language in (None, language)
    ]
    reply(asked.reply_to, wrap(SmsPreviewed(sender_id=settings.sms_sender_id, previews=previews),
                               envelope.correlation_id))
