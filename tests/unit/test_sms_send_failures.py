"""What a failed provider call means for the text: tried again later, given up, or (when the request may have
reached Twilio) never sent again blindly but asked about.

The failures are real ones: the official SDK talks HTTP to a server on this machine that refuses, answers with
Twilio's errors, hangs or drops the connection; only a connect timeout, which needs a network that drops packets,
is raised from the SDK's http client hook as requests raises it.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import urllib3
from notifier.domain.provider_errors import classify
from notifier.settings import NotifierSettings
from notifier.sms import BaseUrlHttpClient, SendFailed, SendOutcomeUnknown, TwilioSender
from twilio.http.http_client import TwilioHttpClient

from shared.crypto import generate_data_key
from shared.settings import load_settings

RETRIED = "tried again later"
GIVEN_UP = "given up"
ASKED = "not resent: the provider is asked what became of it"

Answer = Callable[[socket.socket], None]


def fate(sender: TwilioSender) -> str:
    try:
        sender.send("+4915112345678", "Your appointment", "ref")
    except SendFailed as refused:
        return RETRIED if classify(refused.code, refused.http_status).verdict == "transient" else GIVEN_UP
    except SendOutcomeUnknown:
        return ASKED
    raise AssertionError("the provider accepted the message")


@pytest.fixture
def settings(tmp_path: Path) -> NotifierSettings:
    return load_settings(NotifierSettings, var_dir=tmp_path, broker_url="memory://", data_key=generate_data_key(),
                         sms_provider="twilio",
                         twilio_account_sid="AC" + "0" * 32, twilio_auth_token="secret",
                         twilio_from="+4915100000000", public_base_url="https://t.example.org")


class FakeTwilio:
    """One request at a time on 127.0.0.1; `answer` decides what the client gets once the request has arrived."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.answer: Answer = lambda connection: None
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            with connection:
                _read_request(connection)
                self.answer(connection)

    def stop(self) -> None:
        self.stopped.set()
        self.listener.close()


def _read_request(connection: socket.socket) -> None:
    data = b""
    while b"\r\n\r\n" not in data:
        data += connection.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        body += connection.recv(65536)


def twilio_error(status: int, code: int | None) -> Answer:
    body = json.dumps({"code": code, "message": "refused", "more_info": "", "status": status} if code else
                      {"message": "refused", "status": status}).encode()

    def answer(connection: socket.socket) -> None:
        connection.sendall(b"HTTP/1.1 %d Error\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                           b"Connection: close\r\n\r\n%s" % (status, len(body), body))
    return answer


def problem_details(status: int, code: int) -> Answer:
    """An error in RFC 9457's form, which the SDK raises as TwilioServiceException."""
    body = json.dumps({"type": f"https://www.twilio.com/docs/errors/{code}", "title": "refused",
                       "status": status, "code": code}).encode()

    def answer(connection: socket.socket) -> None:
        connection.sendall(b"HTTP/1.1 %d Error\r\nContent-Type: application/problem+json\r\nContent-Length: %d\r\n"
                           b"Connection: close\r\n\r\n%s" % (status, len(body), body))
    return answer


def plain_error(status: int) -> Answer:
    def answer(connection: socket.socket) -> None:
        connection.sendall(b"HTTP/1.1 %d Busy\r\nContent-Type: text/html\r\nContent-Length: 4\r\n"
                           b"Connection: close\r\n\r\nbusy" % status)
    return answer


@pytest.fixture
def server() -> Iterator[FakeTwilio]:
    running = FakeTwilio()
    yield running
    running.stop()


def sender_at(settings: NotifierSettings, url: str, timeout: float = 5) -> TwilioSender:
    return TwilioSender(settings, http_client=BaseUrlHttpClient(url, timeout=timeout))


@pytest.mark.parametrize(("answer", "expected"), [
    (twilio_error(429, 20429), RETRIED),
    (twilio_error(500, 20500), RETRIED),
    (plain_error(503), RETRIED),
    (plain_error(502), RETRIED),
    (problem_details(429, 20429), RETRIED),
    (problem_details(503, 20503), RETRIED),
    (twilio_error(400, 21211), GIVEN_UP),  # not a valid number: never again to it
    (twilio_error(400, 21617), GIVEN_UP),  # a code we do not know: the same request would be refused again
    (problem_details(400, 21211), GIVEN_UP),
    (twilio_error(400, 21610), GIVEN_UP),  # the recipient sent STOP
    (twilio_error(401, 20003), GIVEN_UP),  # our credentials: retrying cannot help
    (plain_error(400), GIVEN_UP),
    (plain_error(404), GIVEN_UP),
], ids=["429", "500", "503-no-code", "502-no-code", "429-problem-details", "503-problem-details",
        "400-invalid-number", "400-unknown-code", "400-problem-details", "400-opted-out", "401-credentials",
        "400-no-code", "404-no-code"])
def test_twilios_answer_decides_by_status_and_code(settings: NotifierSettings, server: FakeTwilio, answer: Answer,
                                                    expected: str) -> None:
    server.answer = answer
    assert fate(sender_at(settings, server.url)) == expected


def test_a_refused_connection_never_reached_twilio_and_is_tried_again(settings: NotifierSettings) -> None:
    closed = socket.create_server(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{closed.getsockname()[1]}"
    closed.close()
    assert fate(sender_at(settings, url)) == RETRIED


def test_a_name_that_does_not_resolve_never_reached_twilio_and_is_tried_again(settings: NotifierSettings) -> None:
    assert fate(sender_at(settings, "http://twilio.invalid")) == RETRIED


def test_an_answer_that_never_came_is_not_sent_again(settings: NotifierSettings, server: FakeTwilio) -> None:
    answered = threading.Event()
    server.answer = lambda connection: answered.wait(5)  # the request arrived; the answer does not
    try:
        assert fate(sender_at(settings, server.url, timeout=0.3)) == ASKED
    finally:
        answered.set()


def test_a_connection_dropped_after_the_request_arrived_is_not_sent_again(settings: NotifierSettings,
                                                                          server: FakeTwilio) -> None:
    server.answer = lambda connection: None  # closed without a word: requests reports urllib3's ProtocolError
    assert fate(sender_at(settings, server.url)) == ASKED


class RaisingHttpClient(TwilioHttpClient):  # type: ignore[misc]
    def __init__(self, failure: Callable[[], Exception]) -> None:
        super().__init__()
        self.failure = failure

    def request(self, *args: Any, **kwargs: Any) -> Any:
        raise self.failure()


def raised_by_requests(outer: Callable[[Exception], Exception], inner: Exception) -> Callable[[], Exception]:
    """`outer`, raised while `inner` was being handled (as requests wraps urllib3's errors)."""
    def make() -> Exception:
        try:
            try:
                raise inner
            except Exception as cause:
                raise outer(cause) from None  # only __context__ links them, as in requests' adapter
        except Exception as raised:
            return raised
    return make


def test_a_connect_timeout_never_reached_twilio_and_is_tried_again(settings: NotifierSettings) -> None:
    timed_out = urllib3.exceptions.ConnectTimeoutError(None, "connect timed out")
    failure = raised_by_requests(requests.exceptions.ConnectTimeout, timed_out)
    assert fate(TwilioSender(settings, http_client=RaisingHttpClient(failure))) == RETRIED


def test_a_connection_error_that_may_have_reached_twilio_is_not_sent_again(settings: NotifierSettings) -> None:
    broken = urllib3.exceptions.ProtocolError("Connection aborted.", ConnectionResetError(104, "reset"))
    failure = raised_by_requests(requests.exceptions.ConnectionError, broken)
    assert fate(TwilioSender(settings, http_client=RaisingHttpClient(failure))) == ASKED
