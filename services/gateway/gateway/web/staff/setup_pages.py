"""`/admin/counsellors` and `/admin/locations`: the admin's counsellors (alias, languages, topics, places, daily
limit) and locations (town, kind, neutral alias, address and directions), each a table with a form for a new one, a
page per counsellor or location to change it, and a button to deactivate it (its booked appointments stay, no new
ones are offered) or make it active again.

The scheduler decides and checks again (an alias another has, a place the weekly hours still use); this page says
what is wrong at the field, in its own words chosen by the refusal's code. Every request goes through the audited
calendar client, as the API's do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, TypeAdapter, ValidationError

from gateway.api.staff.setup import LANGUAGES, MODES
from gateway.errors import SchedulerUnavailable
from gateway.staff.accounts import CurrentSession
from gateway.staff_client import AlreadyCarriedOut, CalendarRefused
from gateway.web.catalogs import N_
from gateway.web.staff.access import admin_form_session, admin_only, desk, language, to_sign_in
from gateway.web.staff.catalogs import language_label
from gateway.web.staff.rendering import named, redirect, render, say
from shared.contracts.staff import (
    CounsellorAnswer,
    CounsellorData,
    CounsellorsAction,
    CounsellorsAnswer,
    CreateCounsellorAction,
    CreateLocationAction,
    LocationAlias,
    LocationAnswer,
    LocationData,
    LocationsAction,
    LocationsAnswer,
    RefusalKind,
    StaffAction,
    TownName,
    TypesAction,
    TypesAnswer,
    UpdateCounsellorAction,
    UpdateLocationAction,
)

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Form()]
Ticked = Annotated[list[str] | None, Form()]  # a group of checkboxes: absent when none is ticked
COUNSELLORS, LOCATIONS = "/admin/counsellors", "/admin/locations"
COUNSELLORS_TITLE, LOCATIONS_TITLE = N_("Counsellors"), N_("Locations")
GENERAL_TOPIC = "general"  # every counsellor's (the scheduler adds it): not a box to tick
MAX_ID = 2_000_000_000
MAX_TICKED = 50
TOPIC = re.compile(r"^[a-z_]{2,40}$")
ALIAS = TypeAdapter(LocationAlias)
TOWN = TypeAdapter(TownName)
DONE = frozenset({"counsellor_created", "counsellor_saved", "counsellor_deactivated", "counsellor_reactivated",
                  "location_created", "location_saved", "location_deactivated", "location_reactivated"})
# The scheduler's refusal codes as this page's texts (the field they are about comes with the text).
REFUSED = {"alias_taken": "setup.alias_taken", "unknown_location": "setup.locations_invalid",
           "location_not_served": "setup.location_in_use", "unknown_topic": "setup.topics_invalid",
           "forbidden": "admins_only"}
Answer = TypeVar("Answer", bound=BaseModel)


class Away(Exception):
    """The calendar did not answer (in time); `key` says so for a read or a write."""

    def __init__(self, key: str) -> None:
        self.key = key


def _ask(request: Request, current: CurrentSession, action: StaffAction, expected: type[Answer]) -> Answer:
    try:
        return desk(request).calendars.ask(current.staff, action, expected)
    except SchedulerUnavailable:
        raise Away("scheduler_late_write" if isinstance(action, _WRITES) else "scheduler_away") from None


def _away(lang: str, current: CurrentSession, here: str, title: str, key: str) -> HTMLResponse:
    return render("message.html", lang, 503, here=here, errors=[key], staff=current.staff, csrf=current.csrf_token,
                  title=title, headers={"Retry-After": "60"})


def _not_found(lang: str, current: CurrentSession, here: str, title: str, key: str) -> HTMLResponse:
    return render("message.html", lang, 404, here=here, errors=[key], staff=current.staff, csrf=current.csrf_token,
                  title=title)


def _refusal(refused: CalendarRefused) -> tuple[int, str]:
    status = 409 if refused.kind == RefusalKind.CONFLICT else 403 if refused.kind == RefusalKind.FORBIDDEN else 422
    return status, REFUSED.get(refused.code, "setup.refused")


def _id(text: str) -> int | None:
    return int(text) if text.isdigit() and 1 <= int(text) <= MAX_ID else None


def _notice(done: str | None) -> str | None:
    return f"setup.{done}" if done in DONE else None


def _alias(text: str) -> str | None:
    try:
        return ALIAS.validate_python(" ".join(text.split()))
    except ValidationError:
        return None


# --- counsellors ---------------------------------------------------------------------------------------------------


@dataclass
class CounsellorForm:
    """What the form holds: as stored, or as typed and ticked."""

    alias: str = ""
    languages: list[str] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    locations: list[str] = field(default_factory=list)
    daily_cap: str = ""

    @classmethod
    def of(cls, person: CounsellorData) -> CounsellorForm:
        return cls(person.alias, list(person.languages), list(person.topics), [str(i) for i in person.location_ids],
                   "" if person.daily_cap is None else str(person.daily_cap))

    def errors(self, new: bool) -> list[str]:
        wrong = []
        if new and _alias(self.alias) is None:
            wrong.append("setup.counsellor_alias_invalid")
        if not self.languages or any(code not in LANGUAGES for code in self.languages):
            wrong.append("setup.languages_invalid")
        if any(not TOPIC.match(topic) for topic in self.topics):
            wrong.append("setup.topics_invalid")
        if any(_id(place) is None for place in self.locations):
            wrong.append("setup.locations_invalid")
        if self.daily_cap and not (self.daily_cap.isdigit() and 1 <= int(self.daily_cap) <= 20):
            wrong.append("setup.daily_cap_invalid")
        return wrong

    @property
    def cap(self) -> int | None:
        return int(self.daily_cap) if self.daily_cap else None

    @property
    def location_ids(self) -> list[int]:
        return sorted({int(place) for place in self.locations})


def _counsellor_form(alias: str, languages: list[str] | None, topics: list[str] | None,
                     locations: list[str] | None, daily_cap: str) -> CounsellorForm:
    def ticked(values: list[str] | None) -> list[str]:
        return sorted({value.strip()[:40] for value in (values or [])[:MAX_TICKED]})

    return CounsellorForm(alias[:80], ticked(languages), ticked(topics), ticked(locations), daily_cap.strip()[:4])


@dataclass(frozen=True)
class Choices:
    """What the boxes offer: languages, topics and places, each (value, words)."""

    languages: list[tuple[str, str]]
    topics: list[tuple[str, str]]
    places: list[tuple[str, str]]
    place_alias: dict[int, str]


def _choices(request: Request, lang: str, current: CurrentSession, people: list[CounsellorData]) -> Choices:
    places = _ask(request, current, LocationsAction(), LocationsAnswer).data.locations
    types = _ask(request, current, TypesAction(), TypesAnswer).data.types
    # The topics of the appointment types, and any a counsellor still has (so they can be unticked).
    topics = ({t.topic for t in types} | {topic for person in people for topic in person.topics}) - {GENERAL_TOPIC}
    return Choices(
        languages=[(code, language_label(code, lang)) for code in LANGUAGES],
        topics=sorted(((code, named(lang, "topic", code)) for code in topics), key=lambda item: item[1]),
        places=[(str(p.location_id), f"{p.alias} ({named(lang, 'mode', p.kind)})"
                 + ("" if p.active else f", {say(lang, 'setup.inactive')}")) for p in places],
        place_alias={p.location_id: p.alias for p in places})


def _counsellor_row(person: CounsellorData, lang: str, choices: Choices) -> dict[str, Any]:
    return {"id": person.counsellor_id, "alias": person.alias, "active": person.active,
            "languages": ", ".join(language_label(code, lang) for code in person.languages),
            "topics": ", ".join(named(lang, "topic", code) for code in person.topics if code != GENERAL_TOPIC),
            "places": ", ".join(choices.place_alias.get(i, str(i)) for i in person.location_ids),
            "daily_cap": str(person.daily_cap) if person.daily_cap else say(lang, "setup.no_limit")}


def _counsellors_page(request: Request, lang: str, current: CurrentSession, status: int = 200,
                      errors: list[str] | None = None, notice: str | None = None,
                      entered: CounsellorForm | None = None) -> HTMLResponse:
    try:
        people = _ask(request, current, CounsellorsAction(), CounsellorsAnswer).data.counsellors
        choices = _choices(request, lang, current, people)
    except Away as away:
        return _away(lang, current, COUNSELLORS, COUNSELLORS_TITLE, away.key)
    return render("counsellors.html", lang, status, here=COUNSELLORS, errors=errors, staff=current.staff,
                  csrf=current.csrf_token, notice=notice, choices=choices, form=entered or CounsellorForm(),
                  people=[_counsellor_row(person, lang, choices) for person in people])


@router.get(COUNSELLORS, response_class=HTMLResponse)
def counsellors_page(request: Request, done: str | None = None) -> Response:
    lang = language(request)
    current, refused = admin_only(request, lang, COUNSELLORS_TITLE, here=COUNSELLORS)
    if current is None:
        return refused or to_sign_in(request)
    return _counsellors_page(request, lang, current, notice=_notice(done))


@router.post(COUNSELLORS, response_model=None)
def create_counsellor(request: Request, alias: Text = "", languages: Ticked = None, topics: Ticked = None,
                      locations: Ticked = None, daily_cap: Text = "", csrf: Text = "", lang: Text = "") -> Response:
    lang = language(request, lang)
    current = admin_form_session(request, lang, csrf, COUNSELLORS_TITLE, here=COUNSELLORS)
    if isinstance(current, Response):
        return current
    form = _counsellor_form(alias, languages, topics, locations, daily_cap)
    errors = form.errors(new=True)
    if errors:
        return _counsellors_page(request, lang, current, 422, errors, entered=form)
    action = CreateCounsellorAction(alias=_alias(form.alias) or "", languages=form.languages, topics=form.topics,
                                    location_ids=form.location_ids, daily_cap=form.cap)
    try:
        _ask(request, current, action, CounsellorAnswer)
    except Away as away:
        return _away(lang, current, COUNSELLORS, COUNSELLORS_TITLE, away.key)
    except AlreadyCarriedOut:
        pass
    except CalendarRefused as refused:
        status, key = _refusal(refused)
        return _counsellors_page(request, lang, current, status, [key], entered=form)
    return redirect(f"{COUNSELLORS}?done=counsellor_created", lang)


def _one_counsellor(request: Request, current: CurrentSession, counsellor_id: int
                    ) -> tuple[CounsellorData | None, list[CounsellorData]]:
    people = _ask(request, current, CounsellorsAction(), CounsellorsAnswer).data.counsellors
    return next((p for p in people if p.counsellor_id == counsellor_id), None), people


def _counsellor_page(request: Request, lang: str, current: CurrentSession, counsellor_id: str, status: int = 200,
                     errors: list[str] | None = None, entered: CounsellorForm | None = None) -> HTMLResponse:
    here = f"{COUNSELLORS}/{counsellor_id}"
    number = _id(counsellor_id)
    try:
        person, people = _one_counsellor(request, current, number) if number else (None, [])
        if person is None:
            return _not_found(lang, current, here, COUNSELLORS_TITLE, "setup.counsellor_not_found")
        choices = _choices(request, lang, current, people)
    except Away as away:
        return _away(lang, current, here, COUNSELLORS_TITLE, away.key)
    return render("counsellor.html", lang, status, here=here, errors=errors, staff=current.staff,
                  csrf=current.csrf_token, person=person, choices=choices,
                  form=entered or CounsellorForm.of(person))


@router.get(COUNSELLORS + "/{counsellor_id}", response_class=HTMLResponse)
def counsellor_page(request: Request, counsellor_id: str) -> Response:
    lang = language(request)
    current, refused = admin_only(request, lang, COUNSELLORS_TITLE)
    if current is None:
        return refused or to_sign_in(request)
    return _counsellor_page(request, lang, current, counsellor_id)


@router.post(COUNSELLORS + "/{counsellor_id}", response_model=None)
def change_counsellor(request: Request, counsellor_id: str, languages: Ticked = None, topics: Ticked = None,
                      locations: Ticked = None, daily_cap: Text = "", csrf: Text = "", lang: Text = "") -> Response:
    lang = language(request, lang)
    current = admin_form_session(request, lang, csrf, COUNSELLORS_TITLE)
    if isinstance(current, Response):
        return current
    here, number = f"{COUNSELLORS}/{counsellor_id}", _id(counsellor_id)
    if number is None:
        return _not_found(lang, current, here, COUNSELLORS_TITLE, "setup.counsellor_not_found")
    form = _counsellor_form("", languages, topics, locations, daily_cap)
    errors = form.errors(new=False)
    if errors:
        return _counsellor_page(request, lang, current, counsellor_id, 422, errors, form)
    action = UpdateCounsellorAction(counsellor_id=number, languages=form.languages, topics=form.topics,
                                    location_ids=form.location_ids, change_daily_cap=True, daily_cap=form.cap)
    return _save_counsellor(request, lang, current, action, "counsellor_saved", form)


@router.post(COUNSELLORS + "/{counsellor_id}/active", response_model=None)
def counsellor_active(request: Request, counsellor_id: str, active: Text = "", csrf: Text = "",
                      lang: Text = "") -> Response:
    lang = language(request, lang)
    current = admin_form_session(request, lang, csrf, COUNSELLORS_TITLE)
    if isinstance(current, Response):
        return current
    number = _id(counsellor_id)
    if number is None or active not in ("0", "1"):
        return _not_found(lang, current, f"{COUNSELLORS}/{counsellor_id}", COUNSELLORS_TITLE,
                          "setup.counsellor_not_found")
    action = UpdateCounsellorAction(counsellor_id=number, active=active == "1")
    return _save_counsellor(request, lang, current, action,
                            "counsellor_reactivated" if active == "1" else "counsellor_deactivated", None)


def _save_counsellor(request: Request, lang: str, current: CurrentSession, action: UpdateCounsellorAction,
                     done: str, form: CounsellorForm | None) -> Response:
    here = f"{COUNSELLORS}/{action.counsellor_id}"
    try:
        _ask(request, current, action, CounsellorAnswer)
    except Away as away:
        return _away(lang, current, here, COUNSELLORS_TITLE, away.key)
    except AlreadyCarriedOut:
        pass
    except CalendarRefused as refused:
        if refused.code == "unknown_counsellor":
            return _not_found(lang, current, here, COUNSELLORS_TITLE, "setup.counsellor_not_found")
        status, key = _refusal(refused)
        return _counsellor_page(request, lang, current, str(action.counsellor_id), status, [key], form)
    return redirect(f"{COUNSELLORS}?done={done}", lang)


# --- locations -----------------------------------------------------------------------------------------------------


@dataclass
class LocationForm:
    town: str = ""
    kind: str = ""
    alias: str = ""
    address: str = ""
    directions: str = ""

    @classmethod
    def of(cls, place: LocationData) -> LocationForm:
        return cls(place.town, place.kind, place.alias, place.address, place.directions)

    def errors(self, new: bool) -> list[str]:
        wrong = []
        if new:
            try:
                TOWN.validate_python(" ".join(self.town.split()))
            except ValidationError:
                wrong.append("setup.town_invalid")
            if self.kind not in MODES:
                wrong.append("setup.kind_invalid")
        if _alias(self.alias) is None:
            wrong.append("setup.location_alias_invalid")
        if len(self.address.strip()) > 200 or "+" in self.address or "＋" in self.address:
            wrong.append("setup.address_invalid")
        if len(self.directions.strip()) > 500 or "+" in self.directions or "＋" in self.directions:
            wrong.append("setup.directions_invalid")
        return wrong


def _location_form(town: str, kind: str, alias: str, address: str, directions: str) -> LocationForm:
    # One more character than allowed is kept, so that a text too long is said to be, not cut silently.
    return LocationForm(town[:81], kind[:16], alias[:81], address[:201], directions.replace("\r\n", "\n")[:501])


def _kinds(lang: str) -> list[tuple[str, str]]:
    return [(kind, named(lang, "mode", kind)) for kind in MODES]


def _locations_page(request: Request, lang: str, current: CurrentSession, status: int = 200,
                    errors: list[str] | None = None, notice: str | None = None,
                    entered: LocationForm | None = None) -> HTMLResponse:
    try:
        places = _ask(request, current, LocationsAction(), LocationsAnswer).data.locations
    except Away as away:
        return _away(lang, current, LOCATIONS, LOCATIONS_TITLE, away.key)
    return render("locations.html", lang, status, here=LOCATIONS, errors=errors, staff=current.staff,
                  csrf=current.csrf_token, notice=notice, kinds=_kinds(lang), form=entered or LocationForm(),
                  places=[{"id": p.location_id, "town": p.town, "kind": named(lang, "mode", p.kind),
                           "alias": p.alias, "active": p.active} for p in places])


@router.get(LOCATIONS, response_class=HTMLResponse)
def locations_page(request: Request, done: str | None = None) -> Response:
    lang = language(request)
    current, refused = admin_only(request, lang, LOCATIONS_TITLE, here=LOCATIONS)
    if current is None:
        return refused or to_sign_in(request)
    return _locations_page(request, lang, current, notice=_notice(done))


@router.post(LOCATIONS, response_model=None)
def create_location(request: Request, town: Text = "", kind: Text = "", alias: Text = "", address: Text = "",
                    directions: Text = "", csrf: Text = "", lang: Text = "") -> Response:
    lang = language(request, lang)
    current = admin_form_session(request, lang, csrf, LOCATIONS_TITLE, here=LOCATIONS)
    if isinstance(current, Response):
        return current
    form = _location_form(town, kind, alias, address, directions)
    errors = form.errors(new=True)
    if errors:
        return _locations_page(request, lang, current, 422, errors, entered=form)
    action = CreateLocationAction(town=" ".join(form.town.split()), kind=form.kind,
                                  alias=_alias(form.alias) or "", address=form.address.strip(),
                                  directions=form.directions.strip())
    try:
        _ask(request, current, action, LocationAnswer)
    except Away as away:
        return _away(lang, current, LOCATIONS, LOCATIONS_TITLE, away.key)
    except AlreadyCarriedOut:
        pass
    except CalendarRefused as refused:
        status, key = _refusal(refused)
        return _locations_page(request, lang, current, status, [key], entered=form)
    return redirect(f"{LOCATIONS}?done=location_created", lang)


def _location_page(request: Request, lang: str, current: CurrentSession, location_id: str, status: int = 200,
                   errors: list[str] | None = None, entered: LocationForm | None = None) -> HTMLResponse:
    here = f"{LOCATIONS}/{location_id}"
    number = _id(location_id)
    try:
        places = _ask(request, current, LocationsAction(), LocationsAnswer).data.locations if number else []
    except Away as away:
        return _away(lang, current, here, LOCATIONS_TITLE, away.key)
    place = next((p for p in places if p.location_id == number), None)
    if place is None:
        return _not_found(lang, current, here, LOCATIONS_TITLE, "setup.location_not_found")
    return render("location.html", lang, status, here=here, errors=errors, staff=current.staff,
                  csrf=current.csrf_token, place=place, kind=named(lang, "mode", place.kind),
                  form=entered or LocationForm.of(place))


@router.get(LOCATIONS + "/{location_id}", response_class=HTMLResponse)
def location_page(request: Request, location_id: str) -> Response:
    lang = language(request)
    current, refused = admin_only(request, lang, LOCATIONS_TITLE)
    if current is None:
        return refused or to_sign_in(request)
    return _location_page(request, lang, current, location_id)


@router.post(LOCATIONS + "/{location_id}", response_model=None)
def change_location(request: Request, location_id: str, alias: Text = "", address: Text = "",
                    directions: Text = "", csrf: Text = "", lang: Text = "") -> Response:
    lang = language(request, lang)
    current = admin_form_session(request, lang, csrf, LOCATIONS_TITLE)
    if isinstance(current, Response):
        return current
    number = _id(location_id)
    if number is None:
        return _not_found(lang, current, f"{LOCATIONS}/{location_id}", LOCATIONS_TITLE, "setup.location_not_found")
    form = _location_form("", "", alias, address, directions)
    errors = form.errors(new=False)
    if errors:
        return _location_page(request, lang, current, location_id, 422, errors, form)
    action = UpdateLocationAction(location_id=number, alias=_alias(form.alias), address=form.address.strip(),
                                  directions=form.directions.strip())
    return _save_location(request, lang, current, action, "location_saved", form)


@router.post(LOCATIONS + "/{location_id}/active", response_model=None)
def location_active(request: Request, location_id: str, active: Text = "", csrf: Text = "",
                    lang: Text = "") -> Response:
    lang = language(request, lang)
    current = admin_form_session(request, lang, csrf, LOCATIONS_TITLE)
    if isinstance(current, Response):
        return current
    number = _id(location_id)
    if number is None or active not in ("0", "1"):
        return _not_found(lang, current, f"{LOCATIONS}/{location_id}", LOCATIONS_TITLE, "setup.location_not_found")
    return _save_location(request, lang, current, UpdateLocationAction(location_id=number, active=active == "1"),
                          "location_reactivated" if active == "1" else "location_deactivated", None)


def _save_location(request: Request, lang: str, current: CurrentSession, action: UpdateLocationAction, done: str,
                   form: LocationForm | None) -> Response:
    here = f"{LOCATIONS}/{action.location_id}"
    try:
        _ask(request, current, action, LocationAnswer)
    except Away as away:
        return _away(lang, current, here, LOCATIONS_TITLE, away.key)
    except AlreadyCarriedOut:
        pass
    except CalendarRefused as refused:
        if refused.code == "unknown_location":
            return _not_found(lang, current, here, LOCATIONS_TITLE, "setup.location_not_found")
        status, key = _refusal(refused)
        return _location_page(request, lang, current, str(action.location_id), status, [key], form)
    return redirect(f"{LOCATIONS}?done={done}", lang)


_WRITES = (CreateCounsellorAction, CreateLocationAction, UpdateCounsellorAction, UpdateLocationAction)
