"""Limits on what a request may be: its headers (431) and its body (413), enforced before anything parses them.

Bodies here are small (a booking is a few hundred bytes), so the body middleware reads the body itself, refuses it
with 413 past the limit, whether the length was declared or streamed, and replays it to the application.

Headers: browsers send about 15 headers of 1-2 KB in all. The server (uvicorn's h11 parser) buffers at most
HEADER_BLOCK_BYTES of request line and headers and answers a longer block with 400 and a closed connection;
within that, HeaderLimit answers 431 with a sentence for more than MAX_HEADERS headers or more than
MAX_HEADER_BYTES of names and values. (uvicorn's other parser, httptools, has no limit at all: 2 MB of headers, or
20 000 of them, went through in a trial here.)
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 16 * 1024
MAX_HEADERS = 64
MAX_HEADER_BYTES = 16 * 1024
HEADER_BLOCK_BYTES = 32 * 1024


def server_options() -> dict[str, Any]:
    """uvicorn's options that bound what it reads of a request before the application sees it, and keep it from
    believing X-Forwarded-For: gateway.forwarding reads that header, from the proxies in FORWARDED_ALLOW_IPS only."""
    return {"http": "h11", "h11_max_incomplete_event_size": HEADER_BLOCK_BYTES, "proxy_headers": False}


async def _refuse(send: Send, status: int, code: str, detail: str) -> None:
    payload = json.dumps({"detail": detail, "code": code}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(payload)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": payload})


class HeaderLimit:
    def __init__(self, app: ASGIApp, max_headers: int = MAX_HEADERS, max_bytes: int = MAX_HEADER_BYTES) -> None:
        self.app = app
        self.max_headers = max_headers
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = scope.get("headers") or []
            if len(headers) > self.max_headers:
                await _refuse(send, 431, "too_many_headers",
                              f"The request has {len(headers)} headers; at most {self.max_headers} are accepted.")
                return
            if sum(len(name) + len(value) for name, value in headers) > self.max_bytes:
                await _refuse(send, 431, "headers_too_large",
                              f"The request's headers are larger than {self.max_bytes // 1024} KB in all.")
                return
        await self.app(scope, receive, send)


class BodySizeLimit:
    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._refuse(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send) -> None:
        await _refuse(send, 413, "body_too_large", f"The request body is larger than {self.limit // 1024} KB.")
