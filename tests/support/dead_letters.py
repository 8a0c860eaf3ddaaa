"""What lies on the dead-letter queue, taken off it (for assertions)."""

from __future__ import annotations

import json
from typing import Any

from shared.messaging import DEAD_LETTER_QUEUE, QUEUE_HEADER, REASON_HEADER, broker_connection
from shared.settings import CommonSettings


def take_dead_letters(settings: CommonSettings) -> list[dict[str, Any]]:
    """Each dead letter as {"message": the envelope inside (None when the body is no task message), "body": the
    bytes, "reason", "queue", "headers"}; the queue is empty afterwards."""
    with broker_connection(settings) as connection:
        queue = DEAD_LETTER_QUEUE(connection.default_channel)
        queue.declare()
        found = []
        while (message := queue.get(no_ack=True)) is not None:
            try:
                envelope = json.loads(message.body)[0][0]
            except (ValueError, TypeError, IndexError, KeyError):
                envelope = None
            headers = dict(message.headers or {})
            found.append({"message": envelope, "body": message.body, "reason": headers.get(REASON_HEADER),
                          "queue": headers.get(QUEUE_HEADER), "headers": headers})
        return found
