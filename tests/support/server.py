"""An ASGI application served by a real uvicorn in a thread of the test, with the options `python -m gateway`
passes (gateway.api.limits.server_options): for tests that need a real socket and the real HTTP parser."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import uvicorn
from gateway.api.limits import server_options

from tests.support.system import free_port


@contextmanager
def serving(app: Any, lifespan: Literal["auto", "on", "off"] = "off") -> Iterator[str]:
    """The base URL while the app is served; the server is shut down afterwards."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan=lifespan,
                            **server_options())
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="test-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
