"""A local Twilio-compatible SMS endpoint for benchmarks: answers like Twilio's Messages API and records requests.

    python bench/twilio_recorder.py PORT

POST /2010-04-01/Accounts/{sid}/Messages.json (form) answers 201 with a Message JSON (a fresh "SM" + 32 hex sid,
status queued, To and Body echoed) and records (arrival time as time.time(), To, Body, the `d=` of the
StatusCallback URL). GET on the same path lists recorded messages (filter To=), as the notifier's reconciliation
asks. GET /_bench/count says how many were recorded, GET /_bench/records returns them as JSON
`[[at, to, body, ref], ...]`, POST /_bench/reset forgets them. It runs in a process of its own, so the
benchmark's own work never slows its answers.
"""

from __future__ import annotations

import json
import re
import secrets
import socket
import sys
import threading
import time
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

_MESSAGES = re.compile(r"^/2010-04-01/Accounts/(AC[0-9a-fA-F]{32})/Messages\.json$")


class Recorder:
    def __init__(self) -> None:
        self.records: list[tuple[float, str, str, str]] = []
        self.messages: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def reset(self) -> None:
        with self.lock:
            self.records.clear()
            self.messages.clear()


def message_json(account: str, form: dict[str, str]) -> dict[str, Any]:
    sid = "SM" + secrets.token_hex(16)
    now = formatdate(usegmt=True)
    return {
        "account_sid": account, "api_version": "2010-04-01", "body": form.get("Body", ""),
        "date_created": now, "date_sent": None, "date_updated": now, "direction": "outbound-api",
        "error_code": None, "error_message": None, "from": form.get("From"),
        "messaging_service_sid": form.get("MessagingServiceSid"), "num_media": "0", "num_segments": "1",
        "price": None, "price_unit": "USD", "sid": sid, "status": "queued",
        "subresource_uris": {"media": f"/2010-04-01/Accounts/{account}/Messages/{sid}/Media.json"},
        "to": form.get("To"), "uri": f"/2010-04-01/Accounts/{account}/Messages/{sid}.json",
    }


def make_handler(recorder: Recorder) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as Twilio's API: the SDK reuses its connections

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def setup(self) -> None:
            super().setup()
            # Headers and body leave in one write and without Nagle's delay: otherwise each answer waits for the
            # client's delayed ACK (about 40 ms) and this server, not the sender, would set the pace.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def _answer(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            reason = HTTPStatus(status).phrase
            head = f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n"
            self.wfile.write(head.encode() + b"\r\n" + data)

        def _form(self) -> dict[str, str]:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode() if length else ""
            return {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}

        def do_POST(self) -> None:
            arrived = time.time()
            parts = urlsplit(self.path)
            if parts.path == "/_bench/reset":
                self._form()
                recorder.reset()
                self._answer(200, {"ok": True})
                return
            match = _MESSAGES.match(parts.path)
            if match is None:
                self._answer(404, {"code": 20404, "message": "The requested resource was not found", "status": 404})
                return
            form = self._form()
            if not form.get("To") or not (form.get("Body") or form.get("MediaUrl")):
                self._answer(400, {"code": 21604, "message": "A 'To' phone number and a Body are required.",
                                   "status": 400})
                return
            ref = parse_qs(urlsplit(form.get("StatusCallback", "")).query).get("d", [""])[0]
            message = message_json(match.group(1), form)
            with recorder.lock:
                recorder.records.append((arrived, form["To"], form["Body"], ref))
                recorder.messages.append(message)
            self._answer(201, message)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path == "/_bench/count":
                self._answer(200, len(recorder.records))
                return
            if parts.path == "/_bench/records":
                with recorder.lock:
                    records = list(recorder.records)
                self._answer(200, records)
                return
            match = _MESSAGES.match(parts.path)
            if match is None:
                self._answer(404, {"code": 20404, "message": "The requested resource was not found", "status": 404})
                return
            to = parse_qs(parts.query).get("To", [""])[0]
            with recorder.lock:
                found = [m for m in recorder.messages if not to or m["to"] == to][-50:]
            self._answer(200, {"messages": found, "end": max(0, len(found) - 1), "start": 0, "page": 0,
                               "page_size": 50, "first_page_uri": parts.path, "next_page_uri": None,
                               "previous_page_uri": None, "uri": parts.path})

    return Handler


def serve(port: int) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", port), make_handler(Recorder()))
    server.daemon_threads = True
    server.serve_forever(poll_interval=0.5)


if __name__ == "__main__":
    serve(int(sys.argv[1]))
