"""The whole system on the embedded default, once for all browser tests, and Debian's Chromium driven by Playwright:
one browser per session, a fresh context (cookies, cache, history) per test. Every page of every test is watched:
a request to anywhere but the gateway's own origin fails the test that made it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from tests.support.browser import PHONE, BrowserMissing, RequestLog, chromium
from tests.support.system import System, running_system_in_own_dir

NewContext = Callable[..., BrowserContext]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in item.nodeid:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def lotse() -> Iterator[System]:
    """Every role of Lotse as processes, SQLite and the embedded broker, the demo calendar, the SMS sink."""
    with running_system_in_own_dir("lotse-browser-") as system:
        yield system


@pytest.fixture(scope="session")
def chrome() -> Iterator[Browser]:
    try:
        with chromium() as browser:
            yield browser
    except BrowserMissing as missing:
        pytest.fail(str(missing), pytrace=False)  # never a skip: CI must not pass without its browser tests


@pytest.fixture
def requests_made() -> RequestLog:
    return RequestLog()


@pytest.fixture
def new_context(chrome: Browser, lotse: System, requests_made: RequestLog) -> Iterator[NewContext]:
    """Opens contexts on the gateway (phone width unless told otherwise), each recording its requests; all closed
    after the test, which fails if any of their pages asked another origin for anything."""
    opened: list[BrowserContext] = []

    def open_context(**options: Any) -> BrowserContext:
        context = chrome.new_context(base_url=lotse.url, **{"viewport": PHONE, **options})
        context.set_default_timeout(15_000)
        context.on("request", requests_made.record)
        opened.append(context)
        return context

    yield open_context
    for context in opened:
        context.close()
    assert requests_made.foreign(lotse.url) == [], "a page asked another origin"


@pytest.fixture
def page(new_context: NewContext) -> Page:
    """A page in a fresh context at phone width, German browser."""
    return new_context(locale="de-DE").new_page()
