"""Limits on the public booking path (issue "Lotse 5/7"): bookings, cancellations and searches per client address
and per phone number, the appointments one number may hold, numbers texts may not go to, and which address a
request comes from (X-Forwarded-For only from FORWARDED_ALLOW_IPS). In process: the gateway built on a SQLite
file with an in-memory broker (the lifespan is not started, the scheduler is not there: searches answer 503 fast),
with a clock the test moves."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from gateway.app import Gateway, build, create_app
from gateway.settings import GatewaySettings
from sqlalchemy import text

from shared.crypto import generate_data_key
from tests.support.system import running_system_in_own_dir

NOW = datetime(2026, 6, 10, 10, 0, tzinfo=UTC)
SLOT = "s2-1-1-1-29580000"
DATA_KEY = generate_data_key()
PROXY = "10.0.0.5"
numbers = (f"+49151{n:08d}" for n in itertools.count(10_000_000))


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Site:
    gateway: Gateway
    clock: Clock

    def client(self, peer: str = "203.0.113.7") -> TestClient:
        return TestClient(create_app(self.gateway), raise_server_exceptions=False, client=(peer, 50000))


def make_site(tmp_path: Path, clock: Clock, **overrides: Any) -> Site:
    settings = GatewaySettings(**{"gateway_database_url": f"sqlite:///{tmp_path / 'gateway.sqlite'}",
                                  "broker_url": "memory://", "var_dir": tmp_path, "data_key": DATA_KEY,
                                  "slots_timeout_seconds": 0.05, **overrides})
    return Site(build(settings, clock=clock), clock)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sites(tmp_path: Path, clock: Clock) -> Iterator[list[Site]]:
    made: list[Site] = []
    yield made
    for site in made:
        site.gateway.engine.dispose()


def site(sites: list[Site], tmp_path: Path, clock: Clock, **overrides: Any) -> Site:
    made = make_site(tmp_path, clock, **overrides)
    sites.append(made)
    return made


def book(client: TestClient, phone: str | None = None, **headers: str) -> httpx.Response:
    return client.post("/v1/bookings", json={"slot_id": SLOT, "phone": phone or next(numbers), "language": "de"},
                       headers=headers)


def bookings_stored(site: Site) -> int:
    with site.gateway.engine.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM booking_requests")).scalar_one())


def assert_429(response: httpx.Response, code: str, *words: str) -> int:
    assert response.status_code == 429, response.text
    assert response.json()["code"] == code
    assert all(word in response.json()["detail"] for word in words), response.json()["detail"]
    retry_after = int(response.headers["Retry-After"])
    assert retry_after >= 1
    return retry_after


# --- bookings per address and per number -------------------------------------------------------------------------

def test_one_address_books_at_most_its_hourly_limit_then_429_with_retry_after_until_the_hour_is_over(
        sites: list[Site], tmp_path: Path, clock: Clock) -> None:
    here = site(sites, tmp_path, clock, bookings_per_address_hour=3)
    client = here.client()
    for minute in range(3):
        clock.now = NOW + timedelta(minutes=minute)
        assert book(client).status_code == 202
    retry_after = assert_429(book(client), "too_many_requests", "Too many bookings", "try again later")
    assert retry_after == 58 * 60  # the first of the three leaves the window at 10:58 + 1 h ... from 10:02
    assert bookings_stored(here) == 3
    clock.now = NOW + timedelta(hours=1, seconds=1)
    assert book(client).status_code == 202


def test_the_daily_limit_per_address_holds_when_each_hour_stays_under_its_own(
        sites: list[Site], tmp_path: Path, clock: Clock) -> None:
    here = site(sites, tmp_path, clock, bookings_per_address_hour=2, bookings_per_address_day=5)
    client = here.client()
    accepted = 0
    for hour in range(6):
        clock.now = NOW + timedelta(hours=hour)
        accepted += sum(book(client).status_code == 202 for _ in range(2))
    assert accepted == 5
    assert_429(book(client), "too_many_requests")


def test_one_number_is_limited_from_any_address(sites: list[Site], tmp_path: Path, clock: Clock) -> None:
    here = site(sites, tmp_path, clock, bookings_per_phone_hour=2, future_appointments_per_phone=10)
    phone = next(numbers)
    answers = [book(here.client(peer=f"198.51.100.{n}"), phone).status_code for n in range(4)]
    assert answers == [202, 202, 429, 429]


def test_a_number_holds_at_most_three_appointments_that_have_not_begun(
        sites: list[Site], tmp_path: Path, clock: Clock) -> None:
    here = site(sites, tmp_path, clock, bookings_per_phone_hour=100, bookings_per_phone_day=100)
    client, phone = here.client(), next(numbers)
    tokens = [book(client, phone).json()["manage_token"] for _ in range(3)]
    assert_429(book(client, phone), "too_many_appointments", "3 appointments", "cancel one")
    assert client.post(f"/v1/bookings/{tokens[0]}/cancel").status_code == 202
    assert book(client, phone).status_code == 202  # a cancelled one no longer counts
    # One that has taken place no longer counts either: confirmed for yesterday.
    with here.gateway.engine.begin() as connection:
        connection.execute(text("UPDATE booking_requests SET status = 'confirmed', starts_at = :past "
                                "WHERE manage_token_hash IS NOT NULL AND status = 'pending' AND booking_id = "
                                "(SELECT min(booking_id) FROM booking_requests WHERE status = 'pending')"),
                           {"past": NOW - timedelta(days=1)})
    assert book(client, phone).status_code == 202


def test_book_and_cancel_cycles_for_one_number_stop_at_the_daily_cancel_limit(
        sites: list[Site], tmp_path: Path, clock: Clock) -> None:
    here = site(sites, tmp_path, clock, bookings_per_phone_hour=100, bookings_per_phone_day=100,
                cancels_per_phone_day=3, bookings_per_address_hour=100)
    client, phone = here.client(), next(numbers)
    answers = []
    for _ in range(5):
        token = book(client, phone).json()["manage_token"]
        answers.append(client.post(f"/v1/bookings/{token}/cancel").status_code)
    assert answers == [202, 202, 202, 429, 429]
    assert_429(client.post(f"/v1/bookings/{token}/cancel"), "too_many_requests", "Too many cancellations")


def test_searches_per_address_are_limited(sites: list[Site], tmp_path: Path, clock: Clock) -> None:
    here = site(sites, tmp_path, clock, searches_per_address_minute=3)
    client = here.client()
    answers = [client.get("/v1/slots").status_code for _ in range(4)]
    assert answers == [503, 503, 503, 429]  # no scheduler here: the first three were asked, and no answer came
    assert here.client(peer="198.51.100.99").get("/v1/slots").status_code == 503  # another address is not held


# --- which address a request comes from -------------------------------------------------------------------------

def test_rotating_x_forwarded_for_from_an_untrusted_peer_does_not_dodge_the_limit(
        sites: list[Site], tmp_path: Path, clock: Clock) -> None:
    here = site(sites, tmp_path, clock, bookings_per_address_hour=3)  # FORWARDED_ALLOW_IPS empty: no proxy
    client = here.client(peer="127.0.0.1")  # even a local peer is not a proxy unless named
    answers = [book(client, **{"X-Forwarded-For": f"192.0.2.{n}"}).status_code for n in range(5)]
    assert answers == [202, 202, 202, 429, 429]


def test_a_trusted_proxys_forwarded_for_names_the_client(sites: list[Site], tmp_path: Path, clock: Clock) -> None:
    here = site(sites, tmp_path, clock, bookings_per_address_hour=2, forwarded_allow_ips=f"{PROXY},10.1.0.0/16")
    proxy = here.client(peer=PROXY)
    # Different clients behind the proxy each have their own limit ...
    assert [book(proxy, **{"X-Forwarded-For": f"192.0.2.{n}"}).status_code for n in range(4)] == [202] * 4
    # ... one client is held whatever it writes in front of what the proxies appended (10.1.x is a proxy too).
    answers = [book(proxy, **{"X-Forwarded-For": f"198.51.100.{n}, 192.0.2.77, 10.1.2.3"}).status_code
               for n in range(3)]
    assert answers == [202, 202, 429]
    # An untrusted peer sending the same header is counted as itself.
    other = here.client(peer="203.0.113.50")
    assert [book(other, **{"X-Forwarded-For": "192.0.2.200"}).status_code for _ in range(3)] == [202, 202, 429]


def test_limits_hold_across_two_gateway_instances_sharing_one_database(
        sites: list[Site], tmp_path: Path, clock: Clock) -> None:
    one = site(sites, tmp_path, clock, bookings_per_address_hour=3)
    two = site(sites, tmp_path, clock, bookings_per_address_hour=3)
    answers = [book((one if n % 2 else two).client()).status_code for n in range(5)]
    assert answers == [202, 202, 202, 429, 429]


def test_staff_sign_in_limit_ignores_x_forwarded_for_from_an_untrusted_peer(
        sites: list[Site], tmp_path: Path, clock: Clock) -> None:
    here = site(sites, tmp_path, clock)
    client = here.client(peer="127.0.0.1")
    answers = [client.post("/v1/staff/login", json={"username": f"nobody{n}", "password": "wrong password!"},
                           headers={"X-Forwarded-For": f"192.0.2.{n}"}).status_code for n in range(21)]
    assert answers == [401] * 20 + [429]


# --- numbers texts may not go to -------------------------------------------------------------------------------

@pytest.mark.parametrize(("phone", "words"), [
    ("+881612345678", "satellite"),
    ("+8816 3123 4567", "satellite"),
    ("+447911123456", "this country"),
    ("+43664123456", "this country"),
], ids=["satellite", "satellite-spaced", "uk", "austria-by-default"])
def test_numbers_texts_may_not_go_to_are_refused_with_a_sentence_and_nothing_is_stored(
        sites: list[Site], tmp_path: Path, clock: Clock, phone: str, words: str) -> None:
    here = site(sites, tmp_path, clock)
    response = book(here.client(), phone)
    assert response.status_code == 422 and response.json()["code"] == "phone_not_accepted"
    assert words in response.json()["detail"] and "mobile number" in response.json()["detail"]
    assert phone not in response.text
    assert bookings_stored(here) == 0


@pytest.mark.parametrize("phone", ["+499001234567", "+4932212345678", "+4918012345"],
                         ids=["premium-rate", "voip", "shared-cost"])
def test_premium_rate_voip_and_shared_cost_numbers_are_refused(
        sites: list[Site], tmp_path: Path, clock: Clock, phone: str) -> None:
    here = site(sites, tmp_path, clock)
    response = book(here.client(), phone)
    assert response.status_code == 422 and "mobile number" in response.json()["detail"]
    assert bookings_stored(here) == 0


def test_a_country_in_sms_allowed_countries_is_accepted(sites: list[Site], tmp_path: Path, clock: Clock) -> None:
    here = site(sites, tmp_path, clock, sms_allowed_countries="AT,PL,RO")
    assert book(here.client(), "+43664123456").status_code == 202
    assert book(here.client(), "+447911123456").status_code == 422


def test_housekeeping_forgets_counted_requests_older_than_a_day(sites: list[Site], tmp_path: Path,
                                                                 clock: Clock) -> None:
    here = site(sites, tmp_path, clock, bookings_per_address_hour=2)
    client = here.client()
    assert [book(client).status_code for _ in range(3)] == [202, 202, 429]
    clock.now = NOW + timedelta(days=1, seconds=1)
    assert here.gateway.limits.purge() == 8  # two bookings, each counted per address and number, hour and day
    with here.gateway.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM rate_events")).scalar_one() == 0
    assert book(client).status_code == 202


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.infra)])
def test_a_burst_split_across_two_gateways_gets_exactly_the_limit_on_either_database(
        request: pytest.FixtureRequest, sites: list[Site], tmp_path: Path, clock: Clock, backend: str) -> None:
    url = (request.getfixturevalue("databases").gateway if backend == "postgresql"
           else f"sqlite:///{tmp_path / 'gateway.sqlite'}")
    one = site(sites, tmp_path, clock, gateway_database_url=url, bookings_per_address_hour=3,
               bookings_per_phone_hour=100, bookings_per_phone_day=100, future_appointments_per_phone=100)
    two = site(sites, tmp_path, clock, gateway_database_url=url, bookings_per_address_hour=3,
               bookings_per_phone_hour=100, bookings_per_phone_day=100, future_appointments_per_phone=100)
    clients = [one.client(), two.client()]
    phone = next(numbers)  # one number too: its limits are checked in the same transactions
    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(lambda n: book(clients[n % 2], phone).status_code, range(24)))
    assert sorted(answers) == [202] * 3 + [429] * 21
    assert bookings_stored(one) == 3


# --- the real server: uvicorn must not take X-Forwarded-For from a local peer on its own ---------------------------

def test_the_running_gateway_ignores_x_forwarded_for_from_a_local_peer_unless_it_is_a_named_proxy() -> None:
    limits = {"BOOKINGS_PER_ADDRESS_HOUR": "2", "BOOKINGS_PER_PHONE_HOUR": "100"}
    with running_system_in_own_dir("lotse-forwarded-", limits) as system, \
            httpx.Client(base_url=system.url, timeout=20) as http:
        answers = [http.post("/v1/bookings", json={"slot_id": SLOT, "phone": next(numbers), "language": "de"},
                             headers={"X-Forwarded-For": f"192.0.2.{n}"}).status_code for n in range(4)]
        assert answers == [202, 202, 429, 429]
        # The sign-in case: 40 failures with a new X-Forwarded-For each got no 429.
        failures = [http.post("/v1/staff/login", json={"username": f"x{n}", "password": "not the password"},
                              headers={"X-Forwarded-For": f"198.51.100.{n}"}).status_code for n in range(21)]
        assert failures == [401] * 20 + [429]

        system.stop("gateway")
        system.env["FORWARDED_ALLOW_IPS"] = "127.0.0.1"
        system.start("gateway")
        system.wait_ready()
        answers = [http.post("/v1/bookings", json={"slot_id": SLOT, "phone": next(numbers), "language": "de"},
                             headers={"X-Forwarded-For": f"203.0.113.{n}"}).status_code for n in range(3)]
        assert answers == [202, 202, 202]  # three clients behind the named proxy
