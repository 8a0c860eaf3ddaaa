"""The staff API's counsellors and locations (issue 12): GET lists for admins (never cached), POST makes a new one
(201), bad input is a 422 with a sentence before the scheduler is asked, a refusal keeps its status (409 for an
alias another has), a counsellor gets 403; each request is in the audit log without the alias or address typed.
In process on SQLite (tests/support/staff_pages) with a fake scheduler (tests/support/staff_setup)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from gateway.api import errors
from gateway.api import staff as staff_api
from gateway.staff.accounts import CodeAwaited
from gateway.staff.tables import StaffAuditEntry
from sqlmodel import Session, col, select

from shared.contracts.staff import CreateCounsellorAction, CreateLocationAction
from tests.support.staff_pages import PASSWORD, StaffDesk, staff_desk
from tests.support.staff_setup import FakeSetup


@dataclass
class Api:
    desk: StaffDesk
    client: TestClient
    setup: FakeSetup

    def as_(self, username: str) -> TestClient:
        signed_in = self.desk.accounts.authenticate(username, PASSWORD, "127.0.0.1")
        if isinstance(signed_in, CodeAwaited):
            signed_in = self.desk.accounts.complete_sign_in(signed_in.token, self.desk.code(username), "127.0.0.1")
        self.client.cookies.set("lotse_staff", signed_in.token)
        self.client.headers["X-Lotse-CSRF"] = signed_in.csrf_token
        return self.client

    def audit(self) -> list[StaffAuditEntry]:
        with Session(self.desk.accounts.audit.uow.engine) as session:  # type: ignore[attr-defined]
            return list(session.exec(select(StaffAuditEntry).order_by(col(StaffAuditEntry.id))))


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with staff_desk(tmp_path_factory.mktemp("setup-api")) as desk:
        setup = FakeSetup(desk.calendars)
        desk.app.state.gateway.calendars = setup
        app = FastAPI()
        errors.install(app)
        app.include_router(staff_api.router)
        app.state.gateway, app.state.staff_accounts = desk.app.state.gateway, desk.accounts
        with TestClient(app, raise_server_exceptions=False) as client:
            yield Api(desk, client, setup)


@pytest.fixture
def admin(api: Api) -> TestClient:
    api.setup.reset()
    return api.as_("admin")


def test_an_admin_lists_counsellors_and_locations_uncached(admin: TestClient, api: Api) -> None:
    people = admin.get("/v1/staff/counsellors")
    places = admin.get("/v1/staff/locations")

    assert people.status_code == places.status_code == 200
    assert people.headers["cache-control"] == places.headers["cache-control"] == "no-store"
    assert [c["alias"] for c in people.json()["counsellors"]] == ["Anna", "Bogdan"]
    assert places.json()["locations"][0]["directions"] == "Klingel Büro 3"
    assert [row.action for row in api.audit()[-2:]] == ["counsellors_read", "locations_read"]


def test_a_new_counsellor_is_201_and_recorded_without_the_alias(admin: TestClient, api: Api) -> None:
    made = admin.post("/v1/staff/counsellors", json={"alias": "  Emil  Berg ", "languages": ["de", "uk"],
                                                     "topics": ["career"], "location_ids": [1], "daily_cap": 3})

    assert made.status_code == 201, made.text
    assert made.json() == {"counsellor_id": 3, "alias": "Emil Berg", "languages": ["de", "uk"],
                           "topics": ["career"], "location_ids": [1], "active": True, "daily_cap": 3}
    row = api.audit()[-1]
    assert (row.action, row.outcome, row.target_kind) == ("counsellor_created", "ok", "counsellor")
    assert "Emil" not in (row.detail_json or "")


def test_a_new_location_is_201_and_recorded_without_its_texts(admin: TestClient, api: Api) -> None:
    made = admin.post("/v1/staff/locations", json={"town": "Frankfurt-Oder", "kind": "office", "alias": "Oder 1",
                                                   "address": "Am Markt 1", "directions": "Hof links"})

    assert made.status_code == 201, made.text
    assert {k: made.json()[k] for k in ("town", "kind", "alias", "active")} == {
        "town": "Frankfurt-Oder", "kind": "office", "alias": "Oder 1", "active": True}
    row = api.audit()[-1]
    assert (row.action, row.outcome, json.loads(row.detail_json or "{}")["kind"]) == (
        "location_created", "ok", "office")
    assert "Markt" not in (row.detail_json or "") and "Oder" not in (row.detail_json or "")


@pytest.mark.parametrize(("path", "body", "code"), [
    ("/v1/staff/counsellors", {"alias": "+49 171 1234567", "languages": ["de"]}, "invalid_alias"),
    ("/v1/staff/counsellors", {"alias": "Emil", "languages": []}, "invalid_languages"),
    ("/v1/staff/counsellors", {"alias": "Emil", "languages": ["xx"]}, "invalid_languages"),
    ("/v1/staff/counsellors", {"alias": "Emil", "languages": ["de"], "topics": ["Career!"]}, "invalid_topic"),
    ("/v1/staff/counsellors", {"alias": "Emil", "languages": ["de"], "location_ids": [0]}, "invalid_location"),
    ("/v1/staff/counsellors", {"alias": "Emil", "languages": ["de"], "daily_cap": 21}, "invalid_daily_cap"),
    ("/v1/staff/locations", {"town": "Rostock", "kind": "castle", "alias": "Burg"}, "invalid_kind"),
    ("/v1/staff/locations", {"town": "18055", "kind": "office", "alias": "Burg"}, "invalid_town"),
    ("/v1/staff/locations", {"town": "Rostock", "kind": "office", "alias": "R"}, "invalid_alias"),
    ("/v1/staff/locations", {"town": "Rostock", "kind": "office", "alias": "Burg",
                             "directions": "call +49 381 123456"}, "invalid_location_text"),
])
def test_bad_input_is_a_422_with_a_sentence_and_the_scheduler_is_not_asked(
        admin: TestClient, api: Api, path: str, body: dict[str, Any], code: str) -> None:
    response = admin.post(path, json=body)

    assert response.status_code == 422 and response.json()["code"] == code, response.text
    assert response.json()["detail"].endswith(".")
    assert api.setup.asked == []


def test_a_body_without_its_fields_is_a_422(admin: TestClient) -> None:
    response = admin.post("/v1/staff/locations", json={"kind": "office"})
    assert response.status_code == 422 and response.json()["detail"]


@pytest.mark.parametrize(("path", "body", "status", "code"), [
    ("/v1/staff/counsellors", {"alias": "anna", "languages": ["de"]}, 409, "alias_taken"),
    ("/v1/staff/counsellors", {"alias": "Emil", "languages": ["de"], "location_ids": [99]}, 404,
     "unknown_location"),
    ("/v1/staff/locations", {"town": "Rostock", "kind": "office", "alias": "Rostock 1"}, 409, "alias_taken"),
])
def test_a_refusal_keeps_its_status_and_code(admin: TestClient, api: Api, path: str, body: dict[str, Any],
                                             status: int, code: str) -> None:
    response = admin.post(path, json=body)

    assert (response.status_code, response.json()["code"]) == (status, code)
    assert (api.audit()[-1].outcome, json.loads(api.audit()[-1].detail_json or "{}")["code"]) == ("refused", code)


@pytest.mark.parametrize(("method", "path"), [("GET", "/v1/staff/counsellors"), ("POST", "/v1/staff/counsellors"),
                                              ("GET", "/v1/staff/locations"), ("POST", "/v1/staff/locations")])
def test_a_counsellor_gets_403_and_the_scheduler_is_not_asked(api: Api, method: str, path: str) -> None:
    api.setup.reset()
    body = {"alias": "Emil", "languages": ["de"]} if "counsellors" in path else {
        "town": "Rostock", "kind": "office", "alias": "Neu"}
    response = api.as_("anna").request(method, path, json=body if method == "POST" else None)

    assert response.status_code == 403 and response.json()["detail"]
    assert api.setup.asked == []


def test_the_actions_are_the_contracts(admin: TestClient, api: Api) -> None:
    admin.post("/v1/staff/counsellors", json={"alias": "Emil", "languages": ["de"]})
    admin.post("/v1/staff/locations", json={"town": "Rostock", "kind": "video", "alias": "Video 2"})

    assert api.setup.asked == [CreateCounsellorAction(alias="Emil", languages=["de"]),
                               CreateLocationAction(town="Rostock", kind="video", alias="Video 2")]
