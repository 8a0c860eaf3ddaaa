"""A fake of the scheduler's side of the admin's counsellors and locations (StaffClient.ask), deciding as the
scheduler does (admins only, an alias once, known locations, a served location its rules still use kept), and
handing every other action to the calendar fake it wraps (tests/support/staff_pages.FakeCalendars). For
tests/unit/test_staff_setup_api.py and test_staff_setup_pages.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gateway.errors import SchedulerUnavailable
from gateway.staff.accounts import Staff
from gateway.staff_client import CalendarRefused

from shared.contracts.staff import (
    AppointmentTypeData,
    CounsellorAnswer,
    CounsellorData,
    CounsellorsAction,
    CounsellorsAnswer,
    CounsellorsData,
    CreateCounsellorAction,
    CreateLocationAction,
    LocationAnswer,
    LocationData,
    LocationsAction,
    LocationsAnswer,
    LocationsData,
    RefusalKind,
    StaffAction,
    TypesAction,
    TypesAnswer,
    TypesData,
    UpdateCounsellorAction,
    UpdateLocationAction,
)

SETUP_ACTIONS = (CounsellorsAction, LocationsAction, CreateCounsellorAction, CreateLocationAction,
                 UpdateCounsellorAction, UpdateLocationAction)
# The appointment types' topics the counsellor pages offer ("general" is everyone's, not offered).
TOPICS = ("career", "health", "safety", "general")


def appointment_types() -> TypesData:
    return TypesData(types=[AppointmentTypeData(type_id=n, topic=topic, duration_minutes=45, modes=["office"],
                                                buffer_before_minutes=0, buffer_after_minutes=0,
                                                min_notice_minutes=60, horizon_days=90, active=True)
                            for n, topic in enumerate(TOPICS, start=1)])


def standard_counsellors() -> list[CounsellorData]:
    return [CounsellorData(counsellor_id=1, alias="Anna", languages=["de", "en", "ro"], topics=["career", "health"],
                           location_ids=[1, 6], active=True, daily_cap=None),
            CounsellorData(counsellor_id=2, alias="Bogdan", languages=["bg", "de"], topics=["safety"],
                           location_ids=[6], active=False, daily_cap=5)]


def standard_locations() -> list[LocationData]:
    return [LocationData(location_id=1, town="Rostock", kind="office", alias="Rostock 1", active=True,
                         address="Beispielstraße 1, 18055 Rostock", directions="Klingel Büro 3"),
            LocationData(location_id=6, town="Telefon", kind="phone", alias="Telefon", active=True),
            LocationData(location_id=7, town="Wismar", kind="outreach", alias="Wismar", active=False)]


@dataclass
class FakeSetup:
    fallback: Any = None  # asked every other action
    counsellors: list[CounsellorData] = field(default_factory=standard_counsellors)
    locations: list[LocationData] = field(default_factory=standard_locations)
    # counsellor id -> location ids their weekly rules use (cannot be taken from them)
    in_rules: dict[int, set[int]] = field(default_factory=lambda: {1: {1}})
    down: bool = False
    asked: list[StaffAction] = field(default_factory=list)

    def reset(self) -> None:
        self.counsellors, self.locations = standard_counsellors(), standard_locations()
        self.down = False
        self.asked.clear()

    def ask(self, staff: Staff, action: StaffAction, expected: type[Any]) -> Any:
        if isinstance(action, TypesAction):  # any staff member reads them
            return TypesAnswer(data=appointment_types())
        if not isinstance(action, SETUP_ACTIONS):
            return self.fallback.ask(staff, action, expected)
        self.asked.append(action)
        if self.down:
            raise SchedulerUnavailable("The calendar did not answer in time.")
        if not staff.is_admin:
            raise CalendarRefused(RefusalKind.FORBIDDEN, "forbidden", "Only an admin can.")
        match action:
            case CounsellorsAction():
                return CounsellorsAnswer(data=CounsellorsData(counsellors=self.counsellors))
            case LocationsAction():
                return LocationsAnswer(data=LocationsData(locations=self.locations))
            case CreateCounsellorAction():
                self._known_places(action.location_ids)
                self._free(action.alias, [c.alias for c in self.counsellors])
                made = CounsellorData(counsellor_id=max(c.counsellor_id for c in self.counsellors) + 1,
                                      alias=action.alias, languages=sorted(action.languages),
                                      topics=sorted(action.topics), location_ids=sorted(action.location_ids),
                                      active=True, daily_cap=action.daily_cap)
                self.counsellors.append(made)
                return CounsellorAnswer(operation="create_counsellor", data=made)
            case CreateLocationAction():
                self._free(action.alias, [p.alias for p in self.locations])
                place = LocationData(location_id=max(p.location_id for p in self.locations) + 1, town=action.town,
                                     kind=action.kind, alias=action.alias, active=True, address=action.address,
                                     directions=action.directions)
                self.locations.append(place)
                return LocationAnswer(operation="create_location", data=place)
            case UpdateCounsellorAction():
                return CounsellorAnswer(operation="update_counsellor", data=self._update_counsellor(action))
            case UpdateLocationAction():
                return LocationAnswer(data=self._update_location(action))
        raise AssertionError(action)

    def _known_places(self, location_ids: list[int]) -> None:
        if set(location_ids) - {p.location_id for p in self.locations}:
            raise CalendarRefused(RefusalKind.UNKNOWN, "unknown_location", "No such location.")

    @staticmethod
    def _free(alias: str, taken: list[str]) -> None:
        if alias.casefold() in {other.casefold() for other in taken}:
            raise CalendarRefused(RefusalKind.CONFLICT, "alias_taken", "Another has this alias.")

    def _update_counsellor(self, action: UpdateCounsellorAction) -> CounsellorData:
        index = next((i for i, c in enumerate(self.counsellors) if c.counsellor_id == action.counsellor_id), -1)
        if index < 0:
            raise CalendarRefused(RefusalKind.UNKNOWN, "unknown_counsellor", "No such counsellor.")
        changes: dict[str, Any] = {name: getattr(action, name) for name in ("languages", "topics", "location_ids",
                                                                             "active")
                                   if getattr(action, name) is not None}
        if action.location_ids is not None:
            self._known_places(action.location_ids)
            if self.in_rules.get(action.counsellor_id, set()) - set(action.location_ids):
                raise CalendarRefused(RefusalKind.INVALID, "location_not_served", "Rules still use it.")
        if action.change_daily_cap:
            changes["daily_cap"] = action.daily_cap
        self.counsellors[index] = self.counsellors[index].model_copy(update=changes)
        return self.counsellors[index]

    def _update_location(self, action: UpdateLocationAction) -> LocationData:
        index = next((i for i, p in enumerate(self.locations) if p.location_id == action.location_id), -1)
        if index < 0:
            raise CalendarRefused(RefusalKind.UNKNOWN, "unknown_location", "No such location.")
        if action.alias is not None:
            self._free(action.alias, [p.alias for p in self.locations if p.location_id != action.location_id])
        changes = {name: getattr(action, name) for name in ("active", "alias", "address", "directions")
                   if getattr(action, name) is not None}
        self.locations[index] = self.locations[index].model_copy(update=changes)
        return self.locations[index]
