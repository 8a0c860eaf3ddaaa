"""Logging state a test borrows from the process and must give back."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def logging_kept() -> Iterator[None]:
    """Put the root logger's level and handlers back afterwards.

    celery.contrib.testing's `start_worker` sets up Celery's logging: the root logger's handlers go and its level
    becomes the worker's ('error'). Left so, every later test of the session that checks a warning or an info line
    (caplog) finds none: a CI run failed two such tests that happened to run after the browser test."""
    root = logging.getLogger()
    level, handlers = root.level, root.handlers[:]
    try:
        yield
    finally:
        root.setLevel(level)
        root.handlers[:] = handlers
