"""The scheduler's "rules" read: a counsellor's weekly rules as stored (dates and holidays included) and the places
they serve, for the weekly hours page to edit them as they are; only for whom may see the calendar. Straight to the
scheduler's staff handler on its own SQLite file with the demo calendar."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any
from uuid import uuid4

import pytest
from scheduler import demo, migrations, staff
from scheduler.bookings import SchedulerDeps
from scheduler.calendar import Calendar
from scheduler.domain.availability import SearchSettings
from sqlalchemy import Engine
from sqlmodel import Session

from shared.contracts import StaffAnswered, StaffRequested, wrap
from shared.contracts.staff import Actor, RefusalKind, RuleIn, RulesAction, RulesAnswer, SetRulesAction
from shared.db import make_engine

ANNA, BOGDAN = 1, 2  # the demo calendar's first two counsellors
ANNA_ACTOR = Actor(staff_id=2, role="counsellor", counsellor_id=ANNA)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    made = make_engine(f"sqlite:///{tmp_path_factory.mktemp('rules-read') / 'scheduler.sqlite'}")
    migrations.upgrade(made)
    demo.seed(made)
    yield made
    made.dispose()


def decide(engine: Engine, actor: Actor, action: Any) -> StaffAnswered:
    deps = staff.StaffDeps(SchedulerDeps(calendar=Calendar(SearchSettings()), clock=lambda: datetime.now(UTC),
                                         reply=lambda *_: None), engine)
    request = StaffRequested(request_id=uuid4(), actor=actor, action=action, reply_to="gateway.replies.0123456789ab")
    with Session(engine) as session:
        return staff.decide(wrap(request, "test"), session, deps)


def test_a_counsellor_reads_their_weekly_rules_and_places_as_stored(engine: Engine) -> None:
    answered = decide(engine, ANNA_ACTOR, RulesAction(counsellor_id=ANNA))

    assert isinstance(answered.answer, RulesAnswer) and answered.answer.operation == "rules"
    data = answered.answer.data
    assert [(r.weekday, r.start, r.end, r.location_id) for r in data.rules] == [
        (0, "09:00", "16:00", data.rules[0].location_id), (2, "09:00", "16:00", data.rules[0].location_id),
        (4, "10:00", "14:00", data.rules[2].location_id)]
    assert sorted((place.alias, place.kind) for place in data.locations) == [("Rostock 1", "office"),
                                                                              ("Telefon", "phone")]


def test_dates_and_holidays_of_a_rule_are_read_back(engine: Engine) -> None:
    before = decide(engine, ANNA_ACTOR, RulesAction(counsellor_id=ANNA)).answer
    assert isinstance(before, RulesAnswer)
    stored = [RuleIn(**r.model_dump(exclude={"rule_id"})) for r in before.data.rules]
    limited = RuleIn(location_id=stored[0].location_id, weekday=1, start="08:30", end="12:00",
                     valid_from=date(2026, 1, 5), valid_until=date(2026, 6, 30), on_holidays=True)
    assert isinstance(decide(engine, ANNA_ACTOR, SetRulesAction(counsellor_id=ANNA, rules=[limited])).answer,
                      RulesAnswer)
    try:
        read = decide(engine, ANNA_ACTOR, RulesAction(counsellor_id=ANNA)).answer
        assert isinstance(read, RulesAnswer)
        assert [RuleIn(**r.model_dump(exclude={"rule_id"})) for r in read.data.rules] == [limited]
    finally:  # the other tests read the demo's rules
        decide(engine, ANNA_ACTOR, SetRulesAction(counsellor_id=ANNA, rules=stored))


@pytest.mark.parametrize(("actor", "counsellor", "kind"), [
    (ANNA_ACTOR, BOGDAN, RefusalKind.FORBIDDEN),
    (Actor(staff_id=1, role="admin"), 999, RefusalKind.UNKNOWN),
])
def test_rules_are_read_only_by_whom_may_see_the_calendar(engine: Engine, actor: Actor, counsellor: int,
                                                          kind: RefusalKind) -> None:
    refused = decide(engine, actor, RulesAction(counsellor_id=counsellor))
    assert refused.refusal is not None and refused.refusal.kind == kind
