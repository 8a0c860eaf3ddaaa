"""Asking the notifier to render every SMS text for an admin (request/reply, like the slot search)."""

from __future__ import annotations

from uuid import uuid4

from gateway.slots import ReplyWaiter, ask_scheduler
from shared.contracts import SmsPreviewed, SmsPreviewRequested
from shared.contracts.previews import SmsKind
from shared.messaging import Publisher


class SmsPreviewClient:
    def __init__(self, publisher: Publisher, waiter: ReplyWaiter, reply_to: str, timeout: float) -> None:
        self.publisher, self.waiter, self.reply_to, self.timeout = publisher, waiter, reply_to, timeout

    def preview(self, kind: SmsKind | None, language: str | None) -> SmsPreviewed:
        asked = SmsPreviewRequested(kind=kind, language=language, reply_to=self.reply_to)
        return ask_scheduler(self.publisher, self.waiter, uuid4().hex, asked, self.timeout,
                             " Please try again in a moment.", who="The text service", expect=SmsPreviewed)
