"""A recording HTTP proxy in front of the Twilio contract mock, for tests that count what reached "Twilio".

The mock keeps no state and echoes nothing per request (every answer is the same example), so it cannot tell how
many messages were sent to whom. The proxy can: it keeps every Messages.json POST form in order. A hook runs when
a POST arrives; it can kill the sender before the request is forwarded (it never reached Twilio) or after Twilio
answered but before the answer goes back (Twilio has the message, the sender never learns it).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal
from urllib.parse import parse_qs, urlsplit

import httpx

# What the proxy does with one Messages POST: pass it on, pass it on and drop Twilio's answer, or drop it unsent;
# or answer it itself as a failing Twilio would: a server error, "too many requests", our credentials refused, or
# no answer until the sender gives up (it never reaches Twilio in these four). The contract mock cannot answer with
# Twilio's error codes (its spec declares only the 201), hence the proxy.
Verdict = Literal["forward", "forward_then_drop", "drop", "answer_500", "answer_429", "answer_401", "stall"]
# Twilio's error body (https://www.twilio.com/docs/usage/twilios-response#response-formats-exceptions).
_ERRORS = {
    "answer_500": (500, b'{"code": 20500, "message": "Internal Server Error", "more_info": '
                        b'"https://www.twilio.com/docs/errors/20500", "status": 500}'),
    "answer_429": (429, b'{"code": 20429, "message": "Too Many Requests", "more_info": '
                        b'"https://www.twilio.com/docs/errors/20429", "status": 429}'),
    "answer_401": (401, b'{"code": 20003, "message": "Authenticate", "more_info": '
                        b'"https://www.twilio.com/docs/errors/20003", "status": 401}'),
}
STALL_SECONDS = 15.0  # longer than the notifier's request timeout (10 s)
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding", "host"}


@dataclass(frozen=True)
class Post:
    """One Messages.json POST as the sender made it, and the status "Twilio" answered it with (None while it was
    not forwarded or not yet answered)."""

    form: dict[str, str]
    forwarded: bool
    status: int | None = None

    @property
    def delivery_ref(self) -> str:
        """The `?d=` the notifier put in the StatusCallback URL (how Twilio's callback names the delivery)."""
        return parse_qs(urlsplit(self.form["StatusCallback"]).query)["d"][0]


class TwilioProxy:
    """Listens on 127.0.0.1, forwards to `upstream`, records Messages POSTs. `on_post(n)` decides the n-th one
    (1-based) before it is forwarded; `on_answered(n)` runs once Twilio answered it, before the answer is passed
    on or dropped. Both run on the proxy's thread and may act (kill a process) before returning."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.on_post: Callable[[int], Verdict] = lambda _n: "forward"
        self.on_answered: Callable[[int], None] = lambda _n: None
        self._posts: list[Post] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def posts(self) -> list[Post]:
        """Messages POSTs that reached Twilio (were forwarded)."""
        with self._lock:
            return [post for post in self._posts if post.forwarded]

    @property
    def attempts(self) -> list[Post]:
        """Every Messages POST the sender made, forwarded or not."""
        with self._lock:
            return list(self._posts)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass  # the requests carry phone numbers: nothing goes to stderr

            def do_GET(self) -> None:
                proxy._relay(self, b"", None, 0)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if not urlsplit(self.path).path.endswith("/Messages.json"):
                    proxy._relay(self, body, None, 0)
                    return
                form = {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
                with proxy._lock:
                    number = len(proxy._posts) + 1
                    verdict = proxy.on_post(number)
                    proxy._posts.append(Post(form, forwarded=verdict in ("forward", "forward_then_drop")))
                proxy._relay(self, body, verdict, number)

        return Handler

    def _relay(self, handler: BaseHTTPRequestHandler, body: bytes, verdict: Verdict | None, number: int) -> None:
        if verdict == "drop":
            handler.close_connection = True
            return
        if verdict == "stall":
            time.sleep(STALL_SECONDS)
            handler.close_connection = True
            return
        if verdict in _ERRORS:
            status, content = _ERRORS[verdict]
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(content)))
            handler.end_headers()
            handler.wfile.write(content)
            return
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in _HOP_BY_HOP}
        answer = httpx.request(handler.command, self.upstream + handler.path, content=body, headers=headers,
                               timeout=10)
        if number:
            with self._lock:
                self._posts[number - 1] = replace(self._posts[number - 1], status=answer.status_code)
            self.on_answered(number)
        if verdict == "forward_then_drop":
            handler.close_connection = True  # Twilio took the message; its answer never reaches the sender
            return
        try:
            handler.send_response(answer.status_code)
            for key, value in answer.headers.items():
                if key.lower() not in _HOP_BY_HOP:
                    handler.send_header(key, value)
            handler.send_header("Content-Length", str(len(answer.content)))
            handler.end_headers()
            handler.wfile.write(answer.content)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the sender was killed while Twilio answered: Twilio has the message, the sender never learns


@contextmanager
def twilio_proxy(upstream: str) -> Iterator[TwilioProxy]:
    proxy = TwilioProxy(upstream)
    thread = threading.Thread(target=proxy._server.serve_forever, name="twilio-proxy", daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy._server.shutdown()
        proxy._server.server_close()
