"""The scheduler's admin lists and new counsellors and locations (issue 12): every counsellor and location, active
or not, for admins only; a new one with the same checks as a change (an alias another has is a conflict, an unknown
location unknown, a topic none of the calendar's invalid), refused whole, and carried out once when the request is
delivered twice. Straight to the scheduler's staff handler on its own SQLite file with the demo calendar."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest
from scheduler import demo, migrations, staff
from scheduler.bookings import SchedulerDeps
from scheduler.calendar import Calendar
from scheduler.domain.availability import SearchSettings
from sqlalchemy import Engine
from sqlmodel import Session

from shared.contracts import StaffAnswered, StaffRequested, wrap
from shared.contracts.staff import (
    Actor,
    AlreadyDone,
    CounsellorAnswer,
    CounsellorsAction,
    CounsellorsAnswer,
    CreateCounsellorAction,
    CreateLocationAction,
    LocationAnswer,
    LocationsAction,
    LocationsAnswer,
    RefusalKind,
    UpdateLocationAction,
)
from shared.db import make_engine

ADMIN = Actor(staff_id=1, role="admin")
ANNA = Actor(staff_id=2, role="counsellor", counsellor_id=1)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    made = make_engine(f"sqlite:///{tmp_path_factory.mktemp('setup-lists') / 'scheduler.sqlite'}")
    migrations.upgrade(made)
    demo.seed(made)
    yield made
    made.dispose()


def decide(engine: Engine, action: Any, actor: Actor = ADMIN, request_id: UUID | None = None) -> StaffAnswered:
    deps = staff.StaffDeps(SchedulerDeps(calendar=Calendar(SearchSettings()), clock=lambda: datetime.now(UTC),
                                         reply=lambda *_: None), engine)
    request = StaffRequested(request_id=request_id or uuid4(), actor=actor, action=action,
                             reply_to="gateway.replies.0123456789ab")
    with Session(engine) as session:
        return staff.decide(wrap(request, "test"), session, deps)


def counsellors(engine: Engine) -> dict[str, Any]:
    answer = decide(engine, CounsellorsAction()).answer
    assert isinstance(answer, CounsellorsAnswer)
    return {person.alias: person for person in answer.data.counsellors}


def locations(engine: Engine) -> dict[str, Any]:
    answer = decide(engine, LocationsAction()).answer
    assert isinstance(answer, LocationsAnswer)
    return {place.alias: place for place in answer.data.locations}


def refusal(answered: StaffAnswered) -> tuple[RefusalKind, str]:
    assert answered.refusal is not None, answered
    return answered.refusal.kind, answered.refusal.code


def test_an_admin_lists_every_counsellor_and_location_with_what_the_pages_show(engine: Engine) -> None:
    people = counsellors(engine)
    places = locations(engine)

    assert list(people)[:4] == ["Anna", "Bogdan", "Csilla", "Dana"]
    anna = people["Anna"]
    assert (anna.languages, anna.active, anna.daily_cap) == (["de", "en", "ro"], True, None)
    assert sorted(places[p].alias for p in places if places[p].location_id in anna.location_ids) == [
        "Rostock 1", "Telefon"]
    rostock = places["Rostock 1"]
    assert (rostock.town, rostock.kind, rostock.address) == ("Rostock", "office", "Beispielstraße 1, 18055 Rostock")
    assert "Klingel" in rostock.directions


@pytest.mark.parametrize("action", [CounsellorsAction(), LocationsAction()])
def test_a_counsellor_may_not_read_the_lists(engine: Engine, action: Any) -> None:
    assert refusal(decide(engine, action, ANNA)) == (RefusalKind.FORBIDDEN, "forbidden")


def test_a_new_location_and_a_new_counsellor_serving_it(engine: Engine) -> None:
    made = decide(engine, CreateLocationAction(town="Wismar", kind="office", alias="Wismar  1",
                                               address=" Am Hafen 5, 23966 Wismar ", directions="Klingel 3"))
    assert isinstance(made.answer, LocationAnswer) and made.answer.operation == "create_location"
    place = made.answer.data
    assert (place.alias, place.address, place.active) == ("Wismar 1", "Am Hafen 5, 23966 Wismar", True)

    person = decide(engine, CreateCounsellorAction(alias="Emil", languages=["de", "uk"], topics=["career"],
                                                   location_ids=[place.location_id], daily_cap=4))

    assert isinstance(person.answer, CounsellorAnswer) and person.answer.operation == "create_counsellor"
    emil = counsellors(engine)["Emil"]
    assert (emil.languages, emil.topics, emil.location_ids, emil.daily_cap, emil.active) == (
        ["de", "uk"], ["career"], [place.location_id], 4, True)
    assert locations(engine)["Wismar 1"].directions == "Klingel 3"


@pytest.mark.parametrize(("action", "expected"), [
    (CreateCounsellorAction(alias="anna", languages=["de"]), (RefusalKind.CONFLICT, "alias_taken")),
    (CreateCounsellorAction(alias="Fritz", languages=["de"], location_ids=[1, 999]),
     (RefusalKind.UNKNOWN, "unknown_location")),
    (CreateCounsellorAction(alias="Fritz", languages=["de"], topics=["astrology"]),
     (RefusalKind.INVALID, "unknown_topic")),
    (CreateLocationAction(town="Rostock", kind="office", alias="rostock 1"), (RefusalKind.CONFLICT, "alias_taken")),
    (UpdateLocationAction(location_id=2, alias="Rostock 1"), (RefusalKind.CONFLICT, "alias_taken")),
], ids=["counsellor-alias-taken", "unknown-location", "unknown-topic", "location-alias-taken",
        "renamed-to-a-taken-alias"])
def test_a_refused_new_counsellor_or_location_saves_nothing(engine: Engine, action: Any,
                                                            expected: tuple[RefusalKind, str]) -> None:
    before = (counsellors(engine), locations(engine))

    answered = decide(engine, action)

    assert refusal(answered) == expected and answered.message.endswith(".")
    assert (counsellors(engine), locations(engine)) == before


@pytest.mark.parametrize("action", [CreateCounsellorAction(alias="Gerd", languages=["de"]),
                                    CreateLocationAction(town="Gerdshagen", kind="outreach", alias="Gerdshagen")])
def test_only_an_admin_creates(engine: Engine, action: Any) -> None:
    assert refusal(decide(engine, action, ANNA)) == (RefusalKind.FORBIDDEN, "forbidden")
    assert "Gerd" not in counsellors(engine) and "Gerdshagen" not in locations(engine)


def test_a_request_delivered_twice_creates_once(engine: Engine) -> None:
    request_id = uuid4()
    action = CreateLocationAction(town="Parchim", kind="outreach", alias="Parchim")

    first = decide(engine, action, request_id=request_id)
    again = decide(engine, action, request_id=request_id)

    assert isinstance(first.answer, LocationAnswer) and isinstance(again.answer, AlreadyDone)
    assert sum(alias == "Parchim" for alias in locations(engine)) == 1
