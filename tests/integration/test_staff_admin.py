"""Admin-only staff actions against the real system (embedded default): appointment types, counsellors, locations.

Issue "Lotse 2/6": an admin edits appointment types (topic, duration, modes, buffers, notice, horizon, active;
the reminder policy since "Lotse 3/6"), counsellors (languages, topics, served locations, active, daily cap) and
locations (active, neutral alias); the scheduler checks the calendar the change would make and refuses it whole
(422 with a sentence) or for a counsellor (403). The slot search follows at once. One system serves the whole
module; demo counsellors: 1 Anna, 2 Bogdan, 3 Csilla, 4 Dana; locations 1 Rostock 1 ... 5 Stralsund 1 (outreach),
6 Telefon, 7 Video."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest

from tests.integration.test_staff_api import assert_problem, rows, sign_in, today
from tests.support.staff import PASSWORD, create_staff
from tests.support.system import REPO, System, running_system_in_own_dir

ANNA, BOGDAN, DANA = 1, 2, 4
STRALSUND, TELEFON, VIDEO = 5, 6, 7


@pytest.fixture(scope="module")
def system() -> Iterator[System]:
    with running_system_in_own_dir("lotse-staff-admin-", {"SLOTS_TIMEOUT_SECONDS": "10"}) as running:
        create_staff(running, "create-admin", "--username", "admin")
        create_staff(running, "create-staff", "--username", "anna", "--role", "counsellor",
                     "--counsellor-id", str(ANNA))
        yield running


@pytest.fixture(scope="module")
def admin(system: System) -> Iterator[httpx.Client]:
    http = sign_in(system, "admin")
    yield http
    http.close()


@pytest.fixture(scope="module")
def anna(system: System) -> Iterator[httpx.Client]:
    http = sign_in(system, "anna")
    yield http
    http.close()


@pytest.fixture
def public(system: System) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=system.url, timeout=30) as http:
        yield http


def slots(public: httpx.Client, **params: str) -> list[dict[str, Any]]:
    response = public.get("/v1/slots", params={"from": str(today() + timedelta(days=2)),
                                               "to": str(today() + timedelta(days=30)), **params})
    assert response.status_code == 200, response.text
    return list(response.json()["slots"])


def calendar_rows(system: System) -> list[Any]:
    """Everything the admin actions could change, to show that a refusal changed nothing."""
    return [rows(system, "SELECT * FROM appointment_types ORDER BY id"),
            rows(system, "SELECT * FROM counsellors ORDER BY id"),
            rows(system, "SELECT * FROM counsellor_locations ORDER BY counsellor_id, location_id"),
            rows(system, "SELECT * FROM locations ORDER BY id")]


def test_any_staff_member_reads_the_appointment_types(anna: httpx.Client) -> None:
    response = anna.get("/v1/staff/appointment-types")

    assert response.status_code == 200, response.text
    types = response.json()["types"]
    assert {t["topic"] for t in types} >= {"career", "health", "safety", "psychosocial"}
    career = next(t for t in types if t["topic"] == "career")
    assert career["duration_minutes"] == 50 and career["active"] is True
    assert career["modes"] == ["office", "outreach", "phone", "video"]


def test_a_new_type_offers_slots_only_where_a_counsellor_covers_it_and_not_once_deactivated(
        system: System, admin: httpx.Client, public: httpx.Client) -> None:
    # Nobody offers psychosocial counselling by outreach yet (the demo type has no outreach mode).
    created = admin.post("/v1/staff/appointment-types", json={
        "topic": "psychosocial", "duration_minutes": 40, "modes": ["outreach"], "buffer_after_minutes": 10,
        "min_notice_minutes": 120, "horizon_days": 60})
    assert created.status_code == 201, created.text
    kind = created.json()
    assert kind["topic"] == "psychosocial" and kind["modes"] == ["outreach"] and kind["active"] is True
    search = {"topic": "psychosocial", "mode": "outreach"}
    assert slots(public, **search) == []  # only Bogdan works at Stralsund, and he does not cover the topic

    covered = admin.patch(f"/v1/staff/counsellors/{BOGDAN}", json={"topics": ["career", "safety", "psychosocial"]})
    assert covered.status_code == 200, covered.text
    assert covered.json()["topics"] == ["career", "psychosocial", "safety"]
    offered = slots(public, **search)
    assert offered and {s["location"]["location_id"] for s in offered} == {STRALSUND}
    assert {s["counsellor"] for s in offered} == {"Bogdan"}
    assert all(s["slot_id"].split("-")[3] == str(kind["type_id"]) for s in offered)

    # A second active type for the same topic and mode would make the search ambiguous.
    before = calendar_rows(system)
    assert_problem(admin.post("/v1/staff/appointment-types", json={
        "topic": "psychosocial", "duration_minutes": 30, "modes": ["outreach", "video"]}), 422, "ambiguous_type")
    assert calendar_rows(system) == before

    off = admin.patch(f"/v1/staff/appointment-types/{kind['type_id']}", json={"active": False})
    assert off.status_code == 200, off.text
    assert off.json()["active"] is False
    assert slots(public, **search) == []
    listed = {t["type_id"]: t for t in admin.get("/v1/staff/appointment-types").json()["types"]}
    assert listed[kind["type_id"]]["active"] is False

    assert admin.patch(f"/v1/staff/counsellors/{BOGDAN}", json={"topics": ["career", "safety"]}).status_code == 200


def test_an_admin_edits_a_type_and_the_slots_follow(admin: httpx.Client, public: httpx.Client) -> None:
    types = admin.get("/v1/staff/appointment-types").json()["types"]
    health = next(t for t in types if t["topic"] == "health" and t["active"])
    search = {"topic": "health", "counsellor": "Anna", "mode": "office"}
    assert slots(public, **search)

    changed = admin.patch(f"/v1/staff/appointment-types/{health['type_id']}",
                          json={"duration_minutes": 30, "modes": ["phone", "video"], "buffer_before_minutes": 0})
    assert changed.status_code == 200, changed.text
    assert changed.json()["duration_minutes"] == 30 and changed.json()["modes"] == ["phone", "video"]
    assert slots(public, **search) == []
    phone = slots(public, topic="health", counsellor="Anna", mode="phone")
    assert phone and all(s["start"][:16] < s["end"][:16] for s in phone)

    back = admin.patch(f"/v1/staff/appointment-types/{health['type_id']}", json={
        "duration_minutes": health["duration_minutes"], "modes": health["modes"],
        "buffer_before_minutes": health["buffer_before_minutes"]})
    assert back.status_code == 200, back.text
    assert slots(public, **search)


def test_an_admin_sets_a_types_reminder_policy_and_staff_see_it(system: System, admin: httpx.Client,
                                                                 anna: httpx.Client) -> None:
    types = {t["topic"]: t for t in anna.get("/v1/staff/appointment-types").json()["types"] if t["active"]}
    assert types["career"]["reminder_offsets_minutes"] == [10080, 1440, 120]  # demo: a week, a day, two hours
    health = types["health"]

    changed = admin.patch(f"/v1/staff/appointment-types/{health['type_id']}",
                          json={"reminder_offsets_minutes": [60, 2880]})
    assert changed.status_code == 200, changed.text
    assert changed.json()["reminder_offsets_minutes"] == [2880, 60]
    listed = {t["type_id"]: t for t in anna.get("/v1/staff/appointment-types").json()["types"]}
    assert listed[health["type_id"]]["reminder_offsets_minutes"] == [2880, 60]
    assert listed[health["type_id"]]["duration_minutes"] == health["duration_minutes"]  # nothing else changed

    off = admin.patch(f"/v1/staff/appointment-types/{health['type_id']}", json={"reminder_offsets_minutes": []})
    assert off.status_code == 200 and off.json()["reminder_offsets_minutes"] == [], off.text
    assert rows(system, "SELECT reminder_offsets_minutes FROM appointment_types WHERE id = ?",
                health["type_id"]) == [("",)]

    back = admin.patch(f"/v1/staff/appointment-types/{health['type_id']}",
                       json={"reminder_offsets_minutes": health["reminder_offsets_minutes"]})
    assert back.status_code == 200 and back.json()["reminder_offsets_minutes"] == [1440, 120], back.text


def test_a_counsellor_gets_403_on_every_admin_write_and_nothing_changes(system: System,
                                                                       anna: httpx.Client) -> None:
    before = calendar_rows(system)

    for method, path, body in (
            ("POST", "/v1/staff/appointment-types", {"topic": "career", "duration_minutes": 30, "modes": ["video"]}),
            ("PATCH", "/v1/staff/appointment-types/1", {"duration_minutes": 20}),
            ("PATCH", "/v1/staff/appointment-types/1", {"reminder_offsets_minutes": []}),
            ("PATCH", f"/v1/staff/counsellors/{ANNA}", {"languages": ["de"]}),
            ("PATCH", f"/v1/staff/counsellors/{BOGDAN}", {"active": False}),
            ("PATCH", f"/v1/staff/locations/{TELEFON}", {"active": False})):
        assert_problem(anna.request(method, path, json=body), 403, "forbidden", "admin")
    assert calendar_rows(system) == before


@pytest.mark.parametrize(("path", "body", "code", "words"), [
    ("/v1/staff/appointment-types/1", {"duration_minutes": 5}, "invalid_duration_minutes", ("10", "240")),
    ("/v1/staff/appointment-types/1", {"duration_minutes": 241}, "invalid_duration_minutes", ("duration",)),
    ("/v1/staff/appointment-types/1", {"modes": []}, "invalid_modes", ("office",)),
    ("/v1/staff/appointment-types/1", {"modes": ["fax"]}, "invalid_modes", ("video",)),
    ("/v1/staff/appointment-types/1", {"topic": "Career Advice"}, "invalid_topic", ("topic",)),
    ("/v1/staff/appointment-types/1", {"buffer_after_minutes": 121}, "invalid_buffer_after_minutes", ("buffer",)),
    ("/v1/staff/appointment-types/1", {"min_notice_minutes": 10081}, "invalid_min_notice_minutes", ("notice",)),
    ("/v1/staff/appointment-types/1", {"horizon_days": 0}, "invalid_horizon_days", ("horizon",)),
    ("/v1/staff/appointment-types/1", {"reminder_offsets_minutes": [10]}, "invalid_reminder_offsets",
     ("15 to 20160", "not 10")),
    ("/v1/staff/appointment-types/1", {"reminder_offsets_minutes": [1440, 20161]}, "invalid_reminder_offsets",
     ("20160", "14 days")),
    ("/v1/staff/appointment-types/1", {"reminder_offsets_minutes": [15, 30, 45, 60, 75, 90]},
     "invalid_reminder_offsets", ("at most 5",)),
    ("/v1/staff/appointment-types/1", {"reminder_offsets_minutes": [120, 1440, 120]}, "invalid_reminder_offsets",
     ("once", "120")),
    ("/v1/staff/appointment-types", {"topic": "legal", "duration_minutes": 30, "modes": ["video"],
                                     "reminder_offsets_minutes": [5]}, "invalid_reminder_offsets", ("15",)),
    ("/v1/staff/appointment-types/1", {"topic": "health"}, "ambiguous_type", ("health",)),
    ("/v1/staff/appointment-types/999", {"active": False}, "unknown_type", ("999",)),
    ("/v1/staff/appointment-types", {"topic": "career", "modes": ["video"]}, "incomplete_type", ("duration",)),
    (f"/v1/staff/counsellors/{ANNA}", {"languages": ["xx"]}, "invalid_languages", ("de",)),
    (f"/v1/staff/counsellors/{ANNA}", {"languages": []}, "invalid_languages", ("languages",)),
    (f"/v1/staff/counsellors/{ANNA}", {"daily_cap": 21}, "invalid_daily_cap", ("1 to 20",)),
    (f"/v1/staff/counsellors/{ANNA}", {"topics": ["astrology"]}, "unknown_topic", ("astrology",)),
    (f"/v1/staff/counsellors/{ANNA}", {"location_ids": [1, 999]}, "unknown_location", ("999",)),
    (f"/v1/staff/counsellors/{ANNA}", {"location_ids": [1]}, "location_not_served", ("weekly rules", "6")),
    ("/v1/staff/counsellors/999", {"active": False}, "unknown_counsellor", ("999",)),
    (f"/v1/staff/locations/{TELEFON}", {"alias": "+49 151 2345678"}, "invalid_alias", ("letters",)),
    (f"/v1/staff/locations/{TELEFON}", {"alias": "Ruf 0381 123456"}, "invalid_alias", ("digits",)),
    (f"/v1/staff/locations/{TELEFON}", {"alias": "T"}, "invalid_alias", ("2 to 40",)),
    (f"/v1/staff/locations/{TELEFON}", {"alias": "Büro-Nord"}, "invalid_alias", ("spaces",)),
    ("/v1/staff/locations/999", {"active": False}, "unknown_location", ("999",)),
])
def test_bad_values_are_refused_with_a_sentence_and_nothing_is_saved(
        system: System, admin: httpx.Client, path: str, body: dict[str, Any], code: str,
        words: tuple[str, ...]) -> None:
    before = calendar_rows(system)

    method = "POST" if path.endswith("appointment-types") else "PATCH"
    expected = 404 if "999" in path else 422
    assert_problem(admin.request(method, path, json=body), expected, code, *words)
    assert calendar_rows(system) == before


def test_the_daily_cap_is_set_and_cleared(system: System, admin: httpx.Client) -> None:
    capped = admin.patch(f"/v1/staff/counsellors/{DANA}", json={"daily_cap": 3})
    assert capped.status_code == 200 and capped.json()["daily_cap"] == 3, capped.text
    unchanged = admin.patch(f"/v1/staff/counsellors/{DANA}", json={"active": True})
    assert unchanged.json()["daily_cap"] == 3
    cleared = admin.patch(f"/v1/staff/counsellors/{DANA}", json={"daily_cap": None})
    assert cleared.status_code == 200 and cleared.json()["daily_cap"] is None, cleared.text
    assert rows(system, "SELECT daily_cap FROM counsellors WHERE id = ?", DANA) == [(None,)]


def test_a_deactivated_location_offers_no_slots_and_a_new_alias_shows(admin: httpx.Client,
                                                                      public: httpx.Client) -> None:
    search = {"topic": "health", "mode": "video"}
    assert {s["location"]["location_id"] for s in slots(public, **search)} == {VIDEO}

    renamed = admin.patch(f"/v1/staff/locations/{VIDEO}", json={"alias": "  Online  Beratung 2 "})
    assert renamed.status_code == 200 and renamed.json()["alias"] == "Online Beratung 2", renamed.text
    assert {s["location"]["alias"] for s in slots(public, **search)} == {"Online Beratung 2"}

    off = admin.patch(f"/v1/staff/locations/{VIDEO}", json={"active": False})
    assert off.status_code == 200 and off.json()["active"] is False, off.text
    assert slots(public, **search) == []

    assert admin.patch(f"/v1/staff/locations/{VIDEO}", json={"active": True, "alias": "Video"}).status_code == 200
    assert slots(public, **search)


def test_an_inactive_counsellor_offers_no_slots(admin: httpx.Client, public: httpx.Client) -> None:
    assert slots(public, counsellor="Dana", topic="career")

    off = admin.patch(f"/v1/staff/counsellors/{DANA}", json={"active": False})
    assert off.status_code == 200 and off.json()["active"] is False, off.text
    assert slots(public, counsellor="Dana", topic="career") == []
    assert {s["counsellor"] for s in slots(public, topic="career", mode="office")} <= {"Anna", "Bogdan"}

    assert admin.patch(f"/v1/staff/counsellors/{DANA}", json={"active": True}).status_code == 200
    assert slots(public, counsellor="Dana", topic="career")


def test_a_served_location_no_rule_uses_can_be_added_and_removed(system: System, admin: httpx.Client) -> None:
    served = admin.patch(f"/v1/staff/counsellors/{ANNA}", json={"location_ids": [1, TELEFON, VIDEO]})
    assert served.status_code == 200 and served.json()["location_ids"] == [1, TELEFON, VIDEO], served.text
    back = admin.patch(f"/v1/staff/counsellors/{ANNA}", json={"location_ids": [1, TELEFON]})
    assert back.status_code == 200, back.text
    assert rows(system, "SELECT location_id FROM counsellor_locations WHERE counsellor_id = ? ORDER BY 1",
                ANNA) == [(1,), (TELEFON,)]


def test_create_staff_refuses_a_counsellor_id_the_calendar_does_not_know(system: System) -> None:
    result = subprocess.run([sys.executable, "-m", "gateway", "create-staff", "--username", "nobody", "--role",
                             "counsellor", "--counsellor-id", "99", "--password-stdin"], input=PASSWORD + "\n",
                            env=system.env, cwd=REPO, capture_output=True, text=True, check=False, timeout=120)

    assert result.returncode == 1, result
    assert "no counsellor with id 99" in result.stderr and "nothing was created" in result.stderr, result.stderr
    with sqlite3.connect(f"file:{system.var_dir / 'gateway.sqlite'}?mode=ro", uri=True, timeout=30) as db:
        assert db.execute("SELECT count(*) FROM staff_accounts WHERE username = 'nobody'").fetchone() == (0,)


def test_the_scheduler_checks_the_role_again_and_applies_an_admin_write_once(tmp_path: Path) -> None:
    """Straight to the scheduler, past the gateway: a counsellor actor is refused, a redelivered admin write is
    applied once, a refused one leaves nothing (not even its request id in the inbox)."""
    from scheduler import demo, migrations, staff
    from scheduler.bookings import SchedulerDeps
    from scheduler.calendar import Calendar
    from scheduler.domain.availability import SearchSettings
    from sqlmodel import Session

    from shared.contracts import StaffRequested, wrap
    from shared.contracts.staff import (
        Actor,
        AlreadyDone,
        AppointmentTypeAnswer,
        CreateTypeAction,
        RefusalKind,
        UpdateCounsellorAction,
        UpdateLocationAction,
    )
    from shared.db import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'scheduler.sqlite'}")
    migrations.upgrade(engine)
    demo.seed(engine)
    deps = staff.StaffDeps(SchedulerDeps(calendar=Calendar(SearchSettings()), clock=lambda: datetime.now(UTC),
                                         reply=lambda *_: None), engine)
    admin_actor = Actor(staff_id=1, role="admin")
    anna_actor = Actor(staff_id=2, role="counsellor", counsellor_id=ANNA)

    def decide(actor: Actor, action: Any, request_id: Any = None) -> Any:
        request = StaffRequested(request_id=request_id or uuid4(), actor=actor, action=action,
                                 reply_to="gateway.replies.0123456789ab")
        with Session(engine) as session:
            return staff.decide(wrap(request, "test"), session, deps)

    def count(sql: str) -> int:
        with sqlite3.connect(tmp_path / "scheduler.sqlite") as db:
            return int(db.execute(sql).fetchone()[0])

    new_type = CreateTypeAction(topic="psychosocial", duration_minutes=40, modes=["outreach"])
    for action in (new_type, UpdateCounsellorAction(counsellor_id=ANNA, active=False),
                   UpdateLocationAction(location_id=VIDEO, active=False)):
        refused = decide(anna_actor, action)
        assert (refused.refusal.kind, refused.refusal.code) == (RefusalKind.FORBIDDEN, "forbidden"), refused
        assert "admin" in refused.message
    types = count("SELECT count(*) FROM appointment_types")  # the demo's: four topics and the general one
    assert types == 5
    assert count("SELECT count(*) FROM counsellors WHERE active") == 4
    assert count("SELECT count(*) FROM locations WHERE active") == 7

    request_id = uuid4()
    first = decide(admin_actor, new_type, request_id)
    again = decide(admin_actor, new_type, request_id)
    assert isinstance(first.answer, AppointmentTypeAnswer) and isinstance(again.answer, AlreadyDone)
    assert count("SELECT count(*) FROM appointment_types") == types + 1

    inbox_before = count("SELECT count(*) FROM processed_messages")
    refused = decide(admin_actor, UpdateCounsellorAction(counsellor_id=ANNA, location_ids=[TELEFON]))
    assert (refused.refusal.kind, refused.refusal.code) == (RefusalKind.INVALID, "location_not_served"), refused
    assert "weekly rules" in refused.message and refused.message[0].isupper()
    assert count("SELECT count(*) FROM counsellor_locations WHERE counsellor_id = 1") == 2
    assert count("SELECT count(*) FROM processed_messages") == inbox_before


# --- SMS texts (Lotse 3/6): an admin sees every text in every language before a client does -------------------


def test_an_admin_previews_every_text_in_every_language_as_a_phone_would_show_it(admin: httpx.Client) -> None:
    response = admin.get("/v1/staff/sms-texts")

    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    answer = response.json()
    previews = answer["previews"]
    assert {(p["kind"], p["language"]) for p in previews} == {
        (kind, language)
        for kind in ("confirmation", "reminder", "rescheduled", "cancelled", "opted_out", "opted_in")
        for language in ("de", "en", "ro", "bg", "hu", "pl", "ru", "uk", "es", "th")}
    assert answer["sender_id"] == "Termin"
    assert all(p["segments"] <= 2 and not p["fell_back"] and p["body"] for p in previews)
    assert {p["encoding"] for p in previews if p["language"] in ("de", "en")} == {"GSM-7"}
    assert {p["encoding"] for p in previews if p["language"] in ("bg", "ru", "uk", "th")} == {"UCS-2"}
    german = {p["kind"]: p["body"] for p in previews if p["language"] == "de"}
    assert "/m/" in german["reminder"] and "STOP" in german["reminder"]
    assert german["reminder"] != german["confirmation"]


def test_the_preview_can_show_one_kind_in_one_language(admin: httpx.Client) -> None:
    response = admin.get("/v1/staff/sms-texts", params={"kind": "reminder", "language": "ro"})

    assert response.status_code == 200, response.text
    [only] = response.json()["previews"]
    assert (only["kind"], only["language"], only["rendered_language"]) == ("reminder", "ro", "ro")


def test_the_preview_is_for_admins_only_and_refuses_unknown_choices(system: System, anna: httpx.Client,
                                                                     admin: httpx.Client) -> None:
    assert anna.get("/v1/staff/sms-texts").status_code == 403
    with httpx.Client(base_url=system.url, timeout=30) as stranger:
        assert stranger.get("/v1/staff/sms-texts").status_code == 401
    for params in ({"language": "xx"}, {"kind": "love_letter"}):
        response = admin.get("/v1/staff/sms-texts", params=params)
        assert response.status_code == 422, response.text
        assert response.json()["detail"]


def test_a_new_location_and_counsellor_offer_slots_until_deactivated(admin: httpx.Client,
                                                                     public: httpx.Client) -> None:
    """Issue 12, over the real broker and scheduler: the lists, a new place and a new person serving it, weekly
    hours there, and the slots that follow; the same alias again is a conflict."""
    place = admin.post("/v1/staff/locations", json={"town": "Wismar", "kind": "office", "alias": "Wismar 1",
                                                    "address": "Am Hafen 5", "directions": "Klingel 3"})
    assert place.status_code == 201, place.text
    place_id = place.json()["location_id"]
    person = admin.post("/v1/staff/counsellors", json={"alias": "Emil", "languages": ["de", "uk"],
                                                       "topics": ["career"], "location_ids": [place_id]})
    assert person.status_code == 201, person.text
    emil = person.json()["counsellor_id"]
    try:
        again = admin.post("/v1/staff/locations", json={"town": "Wismar", "kind": "office", "alias": "wismar 1"})
        assert (again.status_code, again.json()["code"]) == (409, "alias_taken")
        listed = admin.get("/v1/staff/counsellors").json()["counsellors"]
        assert {"alias": "Emil", "location_ids": [place_id], "active": True}.items() <= next(
            c for c in listed if c["counsellor_id"] == emil).items()
        assert any(p["alias"] == "Wismar 1" for p in admin.get("/v1/staff/locations").json()["locations"])

        hours = [{"location_id": place_id, "weekday": day, "start": "09:00", "end": "15:00"} for day in range(5)]
        assert admin.put(f"/v1/staff/calendars/{emil}/rules", json={"rules": hours}).status_code == 200
        offered = slots(public, counsellor="Emil", topic="career")
        assert offered and {s["location"]["alias"] for s in offered} == {"Wismar 1"}

        assert admin.patch(f"/v1/staff/locations/{place_id}", json={"active": False}).status_code == 200
        assert slots(public, counsellor="Emil", topic="career") == []
    finally:  # the other tests count whose slots they see
        assert admin.patch(f"/v1/staff/counsellors/{emil}", json={"active": False}).status_code == 200
