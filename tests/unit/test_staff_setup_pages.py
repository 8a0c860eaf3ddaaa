"""The admin's counsellors and locations pages (issue 12) as a browser without JavaScript sees them: the tables, a
new counsellor or location, changing one, deactivating and reactivating, and every way each can fail (a field
wrong, said at the field; an alias another has; a place the weekly hours still use; the form of another session; a
counsellor at the page; the calendar away). The real StaffAccounts on SQLite (tests/support/staff_pages); the
scheduler a fake (tests/support/staff_setup)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from shared.contracts.staff import CreateCounsellorAction, CreateLocationAction, UpdateCounsellorAction
from tests.support.pages import visible_text
from tests.support.staff_pages import PASSWORD, StaffDesk, staff_desk
from tests.support.staff_setup import FakeSetup
from tests.unit.test_staff_pages import assert_page_rules, csrf_of


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StaffDesk]:
    with staff_desk(tmp_path_factory.mktemp("setup-pages")) as made:
        made.app.state.gateway.calendars = FakeSetup(made.calendars)
        yield made


@pytest.fixture
def setup(desk: StaffDesk) -> FakeSetup:
    fake: FakeSetup = desk.app.state.gateway.calendars
    fake.reset()
    return fake


@pytest.fixture
def browser(desk: StaffDesk, setup: FakeSetup) -> Iterator[TestClient]:
    with TestClient(desk.app, raise_server_exceptions=False, follow_redirects=False,
                    headers={"Accept-Language": "de-DE,de;q=0.9"}) as client:
        yield client


def sign_in(browser: TestClient, desk: StaffDesk, username: str = "admin") -> str:
    response = browser.post("/login", data={"username": username, "password": PASSWORD})
    if response.headers["location"].startswith("/login/code"):
        response = browser.post("/login/code", data={"code": desk.code(username)})
    assert response.status_code == 303, response.text
    return csrf_of(browser.get("/staff/password").text)


@pytest.fixture
def admin(browser: TestClient, desk: StaffDesk) -> str:
    return sign_in(browser, desk)


def seen(response: Any) -> str:
    assert_page_rules(response)
    return visible_text(response.text)


def error_at(response: Any, name: str) -> bool:
    return f'aria-describedby="{name}-error"' in response.text


# --- counsellors -----------------------------------------------------------------------------------------------------


def test_the_counsellors_table_names_languages_topics_and_places_in_words(browser: TestClient, admin: str) -> None:
    page = browser.get("/admin/counsellors")

    assert page.status_code == 200
    text = seen(page)
    assert "Anna Deutsch, Englisch, Rumänisch" in text
    assert "Rostock 1, Telefon" in text and "Bogdan Bulgarisch, Deutsch" in text
    assert "kein Limit aktiv" in text and "5 deaktiviert" in text
    assert 'href="/admin/counsellors/1"' in page.text
    assert csrf_of(page.text) == admin


def test_a_new_counsellor_is_added_and_the_page_says_so(browser: TestClient, admin: str, setup: FakeSetup) -> None:
    response = browser.post("/admin/counsellors", data={
        "csrf": admin, "alias": " Emil ", "languages": ["de", "uk"], "topics": ["career"], "locations": ["6"],
        "daily_cap": "4"})

    assert response.status_code == 303 and response.headers["location"] == "/admin/counsellors?done=counsellor_created"
    assert setup.asked[-1] == CreateCounsellorAction(alias="Emil", languages=["de", "uk"], topics=["career"],
                                                     location_ids=[6], daily_cap=4)
    after = seen(browser.get(response.headers["location"]))
    assert "Die Beraterin oder der Berater ist angelegt." in after
    assert "Emil Deutsch, Ukrainisch" in after


def test_wrong_fields_of_a_new_counsellor_are_said_at_each_and_kept(browser: TestClient, admin: str,
                                                                     setup: FakeSetup) -> None:
    response = browser.post("/admin/counsellors", data={"csrf": admin, "alias": "+49 171 2345678",
                                                        "topics": ["career"], "daily_cap": "25"})

    assert response.status_code == 422
    assert all(error_at(response, name) for name in ("alias", "languages", "daily_cap"))
    assert 'value="+49 171 2345678"' in response.text and 'value="career" checked' in response.text
    assert "Bitte kreuzen Sie mindestens eine Sprache an." in seen(response)
    assert not any(isinstance(action, CreateCounsellorAction) for action in setup.asked)


def test_a_group_of_boxes_in_error_describes_each_box_the_focus_lands_on(browser: TestClient, admin: str) -> None:
    """The first box takes the focus, and a screen reader says the focused control's description: the sentence
    must be each box's, not only the fieldset's (Chromium found the focused box described by nothing)."""
    response = browser.post("/admin/counsellors", data={"csrf": admin, "alias": "Clara", "locations": ["1"]})

    assert response.status_code == 422
    boxes = re.findall(r'<input type="checkbox" name="languages"[^>]*>', response.text)
    assert boxes and all('aria-invalid="true" aria-describedby="languages-error"' in box for box in boxes)
    assert boxes[0].endswith(" autofocus>")
    assert '<fieldset id="languages">' in response.text  # described once, at the box, not again by its group
    assert not re.search(r'name="(topics|locations)"[^>]*aria-invalid', response.text)  # only the wrong group


def test_a_name_another_counsellor_has_is_said_at_the_name(browser: TestClient, admin: str) -> None:
    response = browser.post("/admin/counsellors", data={"csrf": admin, "alias": "anna", "languages": ["de"]})

    assert response.status_code == 409 and error_at(response, "alias")
    assert "Diesen Namen hat schon jemand anderes." in seen(response)


def test_changing_a_counsellor(browser: TestClient, admin: str, setup: FakeSetup) -> None:
    form = browser.get("/admin/counsellors/1")
    assert form.status_code == 200
    assert 'value="en" checked' in form.text and 'value="1" checked' in form.text and 'value="th">' in form.text

    kept_in_hours = browser.post("/admin/counsellors/1", data={"csrf": admin, "languages": ["de"],
                                                               "locations": ["6"]})
    assert kept_in_hours.status_code == 422 and error_at(kept_in_hours, "locations")
    assert "Wochenzeiten" in seen(kept_in_hours)

    saved = browser.post("/admin/counsellors/1", data={"csrf": admin, "languages": ["de", "th"],
                                                       "topics": ["health"], "locations": ["1", "6"],
                                                       "daily_cap": ""})
    assert saved.status_code == 303 and saved.headers["location"] == "/admin/counsellors?done=counsellor_saved"
    assert setup.asked[-1] == UpdateCounsellorAction(counsellor_id=1, languages=["de", "th"], topics=["health"],
                                                     location_ids=[1, 6], change_daily_cap=True, daily_cap=None)
    assert "Anna Deutsch, Thailändisch" in seen(browser.get(saved.headers["location"]))


def test_deactivating_and_reactivating_a_counsellor(browser: TestClient, admin: str, setup: FakeSetup) -> None:
    page = browser.get("/admin/counsellors/1")
    assert "Beim Deaktivieren bleiben die gebuchten Termine bestehen" in seen(page)

    off = browser.post("/admin/counsellors/1/active", data={"csrf": admin, "active": "0"})
    assert off.headers["location"] == "/admin/counsellors?done=counsellor_deactivated"
    assert not setup.counsellors[0].active
    assert "Beraterin oder Berater wieder aktivieren" in seen(browser.get("/admin/counsellors/1"))
    on = browser.post("/admin/counsellors/1/active", data={"csrf": admin, "active": "1"})
    assert on.headers["location"] == "/admin/counsellors?done=counsellor_reactivated"
    assert setup.counsellors[0].active


@pytest.mark.parametrize("path", ["/admin/counsellors/99", "/admin/counsellors/abc", "/admin/locations/99"])
def test_an_unknown_counsellor_or_location_is_a_404_page(browser: TestClient, admin: str, path: str) -> None:
    response = browser.get(path)
    assert response.status_code == 404 and "gibt es nicht" in seen(response)


# --- locations -------------------------------------------------------------------------------------------------------


def test_the_locations_table_and_the_hint_on_what_clients_see(browser: TestClient, admin: str) -> None:
    page = browser.get("/admin/locations")

    text = seen(page)
    assert "Rostock 1 Rostock vor Ort aktiv" in text and "Wismar Wismar aufsuchend" in text
    assert "Den Alias zeigt eine SMS" in text
    assert "nur auf der Verwaltungsseite eines bestätigten Termins" in text


def test_a_new_location_is_added(browser: TestClient, admin: str, setup: FakeSetup) -> None:
    response = browser.post("/admin/locations", data={
        "csrf": admin, "town": "Frankfurt-Oder", "kind": "office", "alias": "Oder 1", "address": "Am Markt 1",
        "directions": "Hof links,\r\nKlingel 2"})

    assert response.status_code == 303 and response.headers["location"] == "/admin/locations?done=location_created"
    assert setup.asked[-1] == CreateLocationAction(town="Frankfurt-Oder", kind="office", alias="Oder 1",
                                                   address="Am Markt 1", directions="Hof links,\nKlingel 2")
    assert "Der Ort ist angelegt." in seen(browser.get(response.headers["location"]))


def test_wrong_fields_of_a_new_location_are_said_at_each(browser: TestClient, admin: str, setup: FakeSetup) -> None:
    response = browser.post("/admin/locations", data={
        "csrf": admin, "town": "18055", "kind": "castle", "alias": "Beratung Frauen +49", "address": "x" * 201,
        "directions": "Anrufen: +49 381 1234567"})

    assert response.status_code == 422
    assert all(error_at(response, name) for name in ("town", "kind", "alias", "address", "directions"))
    assert "Anrufen: +49 381 1234567</textarea>" in response.text  # kept to correct, not lost
    assert not any(isinstance(action, CreateLocationAction) for action in setup.asked)


def test_changing_a_location_and_an_alias_another_has(browser: TestClient, admin: str, setup: FakeSetup) -> None:
    form = browser.get("/admin/locations/1")
    assert "Klingel Büro 3</textarea>" in form.text and "Den Alias zeigt eine SMS" in seen(form)

    taken = browser.post("/admin/locations/1", data={"csrf": admin, "alias": "telefon", "address": "",
                                                     "directions": ""})
    assert taken.status_code == 409 and error_at(taken, "alias")

    saved = browser.post("/admin/locations/1", data={"csrf": admin, "alias": "Rostock Mitte",
                                                     "address": "Neue Straße 2", "directions": "Tür rechts"})
    assert saved.headers["location"] == "/admin/locations?done=location_saved"
    assert (setup.locations[0].alias, setup.locations[0].address) == ("Rostock Mitte", "Neue Straße 2")


def test_deactivating_and_reactivating_a_location(browser: TestClient, admin: str, setup: FakeSetup) -> None:
    off = browser.post("/admin/locations/1/active", data={"csrf": admin, "active": "0"})
    assert off.headers["location"] == "/admin/locations?done=location_deactivated"
    assert "Der Ort ist deaktiviert" in seen(browser.get(off.headers["location"]))
    assert browser.post("/admin/locations/1/active", data={"csrf": admin, "active": "1"}).status_code == 303
    assert setup.locations[0].active


# --- who and when not ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "data"), [
    ("/admin/counsellors", {"alias": "Emil", "languages": ["de"]}),
    ("/admin/counsellors/1/active", {"active": "0"}),
    ("/admin/locations", {"town": "Rostock", "kind": "office", "alias": "Neu"}),
    ("/admin/locations/1", {"alias": "Neu"}),
])
def test_a_form_of_another_session_changes_nothing(browser: TestClient, admin: str, setup: FakeSetup, path: str,
                                                   data: dict[str, Any]) -> None:
    response = browser.post(path, data={**data, "csrf": "not-the-token"})
    assert response.status_code == 403 and "Dieses Formular gilt nicht mehr" in seen(response)
    assert setup.asked == []


@pytest.mark.parametrize("path", ["/admin/counsellors", "/admin/locations/1"])
def test_a_counsellor_gets_the_admins_only_page(browser: TestClient, desk: StaffDesk, setup: FakeSetup,
                                                path: str) -> None:
    sign_in(browser, desk, "anna")
    response = browser.get(path)
    assert response.status_code == 403 and setup.asked == []


def test_the_calendar_away_is_a_503_page_saying_nothing_changed(browser: TestClient, admin: str,
                                                                setup: FakeSetup) -> None:
    setup.down = True
    read = browser.get("/admin/locations")
    write = browser.post("/admin/counsellors", data={"csrf": admin, "alias": "Emil", "languages": ["de"]})

    assert read.status_code == write.status_code == 503 and read.headers["retry-after"] == "60"
    assert "Der Kalender antwortet gerade nicht." in seen(read)
    assert "Die Änderung kann trotzdem ausgeführt worden sein" in seen(write)


def test_the_english_page(browser: TestClient, admin: str) -> None:
    text = seen(browser.get("/admin/counsellors?lang=en"))
    assert "Anna German, English, Romanian" in text and "no limit active" in text
    assert re.search(r"Bogdan Bulgarian, German Safety Telefon 5 deactivated", text)
