"""Request headers are bounded, over a real socket against the gateway served as `python -m gateway` serves it.

Issue "Lotse 5/7": there was no limit on header size or count (uvicorn's default parser, httptools, takes 2 MB of
headers or 20 000 of them). Too many or too large headers get 431 with a sentence; a request head past what the
server buffers at all gets 400 and a closed connection; ordinary requests, a large cookie included, go through.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from gateway.api.limits import HEADER_BLOCK_BYTES, MAX_HEADER_BYTES, MAX_HEADERS
from gateway.app import build, create_app
from gateway.settings import GatewaySettings

from shared.crypto import generate_data_key
from tests.support.server import serving


@pytest.fixture(scope="module")
def address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    var_dir = tmp_path_factory.mktemp("gateway")
    settings = GatewaySettings(var_dir=var_dir, broker_url="memory://", data_key=generate_data_key())
    gateway = build(settings)
    try:
        with serving(create_app(gateway)) as url:
            parts = urlsplit(url)
            yield str(parts.hostname), int(parts.port or 80)
    finally:
        gateway.engine.dispose()


def exchange(address: tuple[str, int], headers: list[tuple[str, str]], path: str = "/healthz") -> tuple[int, bytes]:
    """Send one GET with exactly these extra headers; the status and body of the answer."""
    head = f"GET {path} HTTP/1.1\r\nHost: gateway\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    with socket.create_connection(address, timeout=30) as sock:
        try:
            sock.sendall(head.encode("latin-1"))
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before it has read all of a huge head
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
        status_line, _, rest = received.partition(b"\r\n")
        raw_headers, _, body = rest.partition(b"\r\n\r\n")
        length = next((int(line.split(b":", 1)[1]) for line in raw_headers.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
    return int(status_line.split()[1]), body


def test_ordinary_headers_and_a_large_cookie_go_through(address: tuple[str, int]) -> None:
    browser_like = [(f"X-Header-{i}", "v" * 40) for i in range(30)] + [("Cookie", "c=" + "x" * 8000)]

    status, body = exchange(address, browser_like)

    assert (status, json.loads(body)) == (200, {"status": "ok"})


def test_too_many_headers_get_431_with_a_sentence(address: tuple[str, int]) -> None:
    status, body = exchange(address, [(f"X-Header-{i}", "v") for i in range(MAX_HEADERS)])

    assert status == 431
    problem = json.loads(body)
    assert problem["code"] == "too_many_headers" and f"at most {MAX_HEADERS}" in problem["detail"]
    assert exchange(address, [(f"X-Header-{i}", "v") for i in range(MAX_HEADERS - 2)])[0] == 200


def test_too_large_headers_get_431_with_a_sentence(address: tuple[str, int]) -> None:
    status, body = exchange(address, [("X-Large", "v" * (MAX_HEADER_BYTES + 1))])

    assert status == 431
    problem = json.loads(body)
    assert problem["code"] == "headers_too_large" and f"{MAX_HEADER_BYTES // 1024} KB" in problem["detail"]


def test_a_head_past_what_the_server_buffers_is_refused_and_the_server_goes_on(address: tuple[str, int]) -> None:
    status, _body = exchange(address, [("X-Huge", "v" * (4 * HEADER_BLOCK_BYTES))])
    assert status == 400
    status, _body = exchange(address, [(f"X-Header-{i}", "v" * 100) for i in range(20_000)])
    assert status in (400, 431)

    assert exchange(address, [])[0] == 200


def test_the_document_declares_431_for_every_operation(address: tuple[str, int]) -> None:
    status, body = exchange(address, [], path="/openapi.json")
    assert status == 200
    operations = [operation for path in json.loads(body)["paths"].values() for operation in path.values()]
    assert operations and all("431" in operation["responses"] for operation in operations)
