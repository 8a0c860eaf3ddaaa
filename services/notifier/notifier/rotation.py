"""`python -m notifier rotate-key`: every sealed value the notifier stores, made again with the current data key.

How a key is rotated while the system runs (docs/privacy.md has it for operators):

1. Give the gateway and the notifier `DATA_KEY=<new>,<old>`: the first key seals everything new, every listed key
   opens what is stored, so nothing stops working.
2. Run `python -m notifier rotate-key`. It walks each sealed column in primary-key order, in batches of one
   transaction each, and writes a value again only where it is still the one it read (compare-and-set): a row a
   handler changed or deleted meanwhile is left to the next run. It is idempotent (a value already under the
   current key is skipped without opening it) and resumable (stopped halfway, the next run finds what is left).
   It ends by counting what is still sealed under each key.
3. When that count shows nothing under the old key, the old key may leave DATA_KEY, unless it is the last one
   listed: the look-up hashes (opt-outs, a number's bookings) are derived from the last key, and hashes cannot be
   re-derived without the numbers (an opt-out keeps only its hash). So the last key stays listed, for hashing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from uuid import UUID

from sqlalchemy import Engine

from notifier.repository import SEALED_COLUMNS, SealedColumn, SealedValue, key_usage, replace_sealed, sealed_not_under
from shared.contracts.contacts import manage_token_context, phone_context
from shared.crypto import DataCipher, DecryptionError

DEFAULT_BATCH_SIZE = 500


@dataclass
class RotationReport:
    resealed: int = 0
    changed_meanwhile: int = 0  # a handler changed or deleted the row between read and write: the next run's
    unreadable: int = 0  # no listed key opens it (a key left DATA_KEY too early): never overwritten
    batches: int = 0
    seconds: float = 0.0
    # Still sealed under each key id after the run, over every sealed column.
    remaining: dict[str, int] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        return self.resealed / self.seconds if self.seconds > 0 else 0.0


def _context(column: SealedColumn, value: SealedValue) -> str:
    if column.context == "phone":
        return phone_context(UUID(str(value.key)))
    if column.context == "manage_token":
        return manage_token_context(UUID(str(value.key)))
    return value.context or ""  # the row names its own context (an answer to STOP/START)


def rotate(engine: Engine, cipher: DataCipher, batch_size: int = DEFAULT_BATCH_SIZE, max_batches: int | None = None,
           progress: Callable[[RotationReport], None] | None = None) -> RotationReport:
    """Reseal every stored value not under `cipher`'s current key; `max_batches` stops early (the rest is resumed
    by the next run)."""
    report = RotationReport()
    started = time.monotonic()
    current = cipher.current_key_id
    for column in SEALED_COLUMNS:
        after: object = None
        while max_batches is None or report.batches < max_batches:
            with engine.begin() as connection:
                values = sealed_not_under(connection, column, current, after, batch_size)
                if not values:
                    break
                changes: list[tuple[SealedValue, str]] = []
                for value in values:
                    try:
                        sealed = cipher.reseal(value.sealed, _context(column, value))
                    except DecryptionError:
                        report.unreadable += 1
                        continue
                    if sealed is not None:
                        changes.append((value, sealed))
                written = replace_sealed(connection, column, changes)
            report.resealed += written
            report.changed_meanwhile += len(changes) - written
            report.batches += 1
            after = values[-1].key
            if progress is not None:
                progress(report)
    report.seconds = time.monotonic() - started
    with engine.connect() as connection:
        report.remaining = key_usage(connection)
    return report
