"""The gateway's answer when a part it needs is away, for the causes the PostgreSQL outage test does not produce:
a connection pool with none free, and a broker that cannot be reached. Both are 503 with Retry-After and one log
line without a traceback; a page gets a page (issue "Lotse 5/7")."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from gateway import migrations
from gateway.api import bookings as bookings_api
from gateway.api import errors
from gateway.bookings import BookingService
from gateway.limits import ClientLimitPolicy, ClientLimits
from gateway.settings import GatewaySettings
from gateway.web import pages
from kombu.exceptions import OperationalError as BrokerUnreachable
from sqlalchemy import Engine, create_engine

from shared.crypto import DataCipher, generate_data_key, parse_data_key

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class UnreachableBroker:
    """Our SlotClient port, as kombu fails when the broker refuses the connection."""

    def search(self, *_args: object, **_kwargs: object) -> list[object]:
        raise BrokerUnreachable("[Errno 111] Connection refused")


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    # One connection and no wait for another: a request that needs one while it is held meets an empty pool.
    engine = create_engine(f"sqlite:///{tmp_path / 'gateway.sqlite'}", pool_size=1, max_overflow=0, pool_timeout=0.1)
    migrations.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def client(engine: Engine, tmp_path: Path) -> Iterator[TestClient]:
    cipher = DataCipher(parse_data_key(generate_data_key()))
    limits = ClientLimits(ClientLimitPolicy(), cipher.lookup_hash, engine, lambda: NOW)
    bookings = BookingService(engine, cipher, lambda: None, lambda: NOW, limits)
    settings = GatewaySettings(var_dir=tmp_path, timezone="Europe/Berlin", gateway_database_url="sqlite://")
    app = FastAPI()
    errors.install(app)
    app.include_router(bookings_api.router)
    app.include_router(pages.router)
    app.state.gateway = SimpleNamespace(bookings=bookings, slots=UnreachableBroker(), settings=settings, limits=limits)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def outage_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    assert not [r for r in caplog.records if r.exc_info is not None or r.levelno >= logging.ERROR]
    return [r.getMessage() for r in caplog.records if r.name == "gateway.api.errors"]


def test_no_free_database_connection_is_503_with_retry_after(client: TestClient, engine: Engine,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    with engine.connect(), caplog.at_level(logging.INFO):  # the pool's one connection, held
        api = client.get("/v1/bookings/" + "x" * 22)
        page = client.get("/m/" + "x" * 22, headers={"Accept-Language": "en"})

    assert api.status_code == 503 and api.headers["retry-after"] == "60"
    assert api.json()["code"] == "database_unavailable"
    assert page.status_code == 503 and page.headers["content-type"].startswith("text/html")
    assert '<html lang="en">' in page.text and "Nothing was saved or changed." in page.text
    assert outage_lines(caplog) == [
        "database unavailable: TimeoutError during GET /v1/bookings/{manage_token}; answered 503",
        "database unavailable: TimeoutError during GET /m/{token}; answered 503",
    ]
    assert client.get("/v1/bookings/" + "x" * 22).status_code == 404  # the connection is back in the pool


def test_an_unreachable_broker_behind_a_page_is_a_503_page_in_its_language(client: TestClient,
                                                                           caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        page = client.post("/", data={"lang": "en", "topic": "", "place": "", "week": "0"},
                           headers={"Accept-Language": "de"})

    assert page.status_code == 503 and page.headers["retry-after"] == "60"
    assert '<html lang="en">' in page.text and "Nothing was saved or changed." in page.text
    assert outage_lines(caplog) == ["broker unavailable: OperationalError during POST /; answered 503"]
