"""The admins' appointment types page (/admin/types, a page per type) and the SMS texts page (/admin/texts) as a
browser without JavaScript sees them: the list in words, a new type, each kind of wrong field said at the field,
changing the reminders, deactivating and reactivating, the scheduler's refusal of two active types for one topic and
mode, the calendar or the text service away, a counsellor, a form without the session's token; every text in every
language with its encoding, segments and a fallback warning. The real StaffAccounts on SQLite; the scheduler and the
notifier are fakes (tests/support/staff_pages)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import get_args

import pytest
from fastapi.testclient import TestClient
from gateway.errors import SchedulerUnavailable
from gateway.staff.audit_repository import AuditFilter
from gateway.web.catalogs import LANGUAGES

from shared.contracts import SmsPreviewed
from shared.contracts.previews import SmsKind, SmsPreview
from shared.contracts.staff import CreateTypeAction, TypesAction, UpdateTypeAction
from tests.support.staff_pages import PASSWORD, StaffDesk, staff_desk, standard_types
from tests.unit.test_staff_pages import csrf_of, seen

KINDS: tuple[str, ...] = get_args(SmsKind)
FORM_EXPIRED_EN = "This form is no longer valid (it came from an older session or another site). Nothing was changed."
FELL_BACK = ("reminder", "th")  # the fake's broken translation: the Thai reminder comes in English


@dataclass
class FakePreviews:
    """The notifier's SMS previews (gateway.sms_preview.SmsPreviewClient's `preview`)."""

    down: bool = False
    asked: list[tuple[str | None, str | None]] = field(default_factory=list)

    def preview(self, kind: str | None, language: str | None) -> SmsPreviewed:
        self.asked.append((kind, language))
        if self.down:
            raise SchedulerUnavailable("The text service did not answer in time.")
        previews = []
        for code in KINDS:
            for lang in LANGUAGES:
                if kind in (None, code) and language in (None, lang):
                    broken = (code, lang) == FELL_BACK
                    previews.append(SmsPreview(
                        kind=code, language=lang, rendered_language="en" if broken else lang,  # type: ignore[arg-type]
                        body=f"[{code}/{'en' if broken else lang}] Mon 31 Mar 10:00, Rostock 1. https://t.example/x",
                        encoding="UCS-2" if lang in ("bg", "ru", "uk", "th") and not broken else "GSM-7",
                        segments=2 if lang == "th" and not broken else 1, fell_back=broken))
        return SmsPreviewed(sender_id="Lotse", previews=previews)


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StaffDesk]:
    with staff_desk(tmp_path_factory.mktemp("type-pages")) as made:
        made.app.state.gateway.sms_previews = FakePreviews()
        yield made


@pytest.fixture
def previews(desk: StaffDesk) -> FakePreviews:
    fake: FakePreviews = desk.app.state.gateway.sms_previews
    fake.down = False
    fake.asked.clear()
    return fake


def browser(desk: StaffDesk, language: str) -> TestClient:
    return TestClient(desk.app, raise_server_exceptions=False, follow_redirects=False,
                      headers={"Accept-Language": language})


@pytest.fixture
def admin(desk: StaffDesk) -> Iterator[TestClient]:
    """The admin signed in (password, then the code), in English, on the standard types."""
    desk.calendars.types = standard_types()
    desk.calendars.down = False
    desk.calendars.asked.clear()
    with browser(desk, "en") as client:
        assert client.post("/login", data={"username": "admin", "password": PASSWORD}).status_code == 303
        assert client.post("/login/code", data={"code": desk.code("admin")}).status_code == 303
        yield client


def csrf(admin: TestClient) -> str:
    return csrf_of(admin.get("/admin/types").text)


def new_type(**changed: str) -> dict[str, str | list[str]]:
    """A new type's form as an admin fills it: safety by video, 50 minutes, reminders 2 days and 30 minutes."""
    form: dict[str, str | list[str]] = {
        "topic": "safety", "duration_minutes": "50", "modes": ["video"], "buffer_before_minutes": "0",
        "buffer_after_minutes": "10", "min_notice_minutes": "120", "horizon_days": "60", "active": "on",
        "reminder0": "2", "reminder0_unit": "days", "reminder1": "30", "reminder1_unit": "minutes"}
    form.update(changed)
    return form


def test_the_list_says_each_type_in_words(admin: TestClient) -> None:
    page = admin.get("/admin/types")
    assert page.status_code == 200
    text = seen(page)
    assert ("Work and future (career) Change : Work and future (career) 1 hour in person, by phone 0 minutes before, "
            "15 minutes after 1 hour 90 days 1 day and 2 hours before active Deactivate") in text
    assert "Health (health) 45 minutes by video 5 minutes before, 5 minutes after 1 day 30 days no reminders active" \
        in text
    assert "Safety (safety) Change : Safety (safety) 30 minutes in person 0 minutes before, 0 minutes after 2 hours " \
           "60 days 1 hour 30 minutes before deactivated Reactivate" in text  # inactive types last
    assert "they never say what an appointment is about" in text and 'href="/admin/texts"' in page.text
    assert "New appointment type" in text


def test_the_list_speaks_german(admin: TestClient) -> None:
    text = seen(admin.get("/admin/types?lang=de"))
    assert "Arbeit und Zukunft (career) Ändern : Arbeit und Zukunft (career) 1 Stunde vor Ort, am Telefon 0 Minuten " \
           "davor, 15 Minuten danach 1 Stunde 90 Tage 1 Tag und 2 Stunden vorher aktiv Deaktivieren" in text


def test_an_admin_creates_a_type_with_reminders_in_days_and_minutes(admin: TestClient, desk: StaffDesk) -> None:
    made = admin.post("/admin/types", data={"csrf": csrf(admin), **new_type()})

    assert made.status_code == 303 and made.headers["location"] == "/admin/types?done=created"
    created = desk.calendars.asked[-1]
    assert created == CreateTypeAction(topic="safety", duration_minutes=50, modes=["video"], buffer_before_minutes=0,
                                       buffer_after_minutes=10, min_notice_minutes=120, horizon_days=60, active=True,
                                       reminder_offsets_minutes=(2880, 30))
    text = seen(admin.get(made.headers["location"]))
    assert "The appointment type is created." in text
    assert "Safety (safety) 50 minutes by video 0 minutes before, 10 minutes after 2 hours 60 days " \
           "2 days and 30 minutes before active" in text


def test_a_new_type_without_reminders_and_the_forms_defaults(admin: TestClient, desk: StaffDesk) -> None:
    page = admin.get("/admin/types").text
    assert 'name="min_notice_minutes" type="text" inputmode="numeric" value="60"' in page  # the contract's default
    assert 'name="reminder0" type="text" inputmode="numeric" value="1"' in page  # 1 day, as the default policy
    made = admin.post("/admin/types", data={"csrf": csrf(admin), **new_type(reminder0="", reminder1="")})
    assert made.status_code == 303
    assert desk.calendars.types[-1].reminder_offsets_minutes == []
    assert "Safety (safety) 50 minutes by video 0 minutes before, 10 minutes after 2 hours 60 days no reminders" \
        in seen(admin.get("/admin/types"))


@pytest.mark.parametrize(("changed", "at", "said"), [
    ({"topic": "Safety!"}, "topic", "The topic must be a code of 2 to 40 lower-case letters a-z and '_'"),
    ({"duration_minutes": "5"}, "duration_minutes", "The duration must be a whole number of minutes, 10 to 240."),
    ({"duration_minutes": "an hour"}, "duration_minutes", "The duration must be a whole number of minutes"),
    ({"modes": []}, "modes", "Please tick at least one way of meeting."),
    ({"modes": ["office", "teleport"]}, "modes", "Please tick at least one way of meeting."),
    ({"buffer_before_minutes": "121"}, "buffer_before_minutes", "The buffer before must be a whole number of "
                                                                 "minutes, 0 to 120."),
    ({"buffer_after_minutes": "-5"}, "buffer_after_minutes", "The buffer after must be"),
    ({"min_notice_minutes": "20000"}, "min_notice_minutes", "The minimum notice must be a whole number of minutes, "
                                                            "0 to 10080 (a week)."),
    ({"horizon_days": "0"}, "horizon_days", "The booking horizon must be a whole number of days, 1 to"),
    ({"reminder1": "10"}, "reminders", "Each reminder must be 15 minutes to 14 days before the start."),
    ({"reminder0": "15"}, "reminders", "Each reminder must be 15 minutes to 14 days before the start."),
    ({"reminder1": "48", "reminder1_unit": "hours"}, "reminders", "Two lines give the same reminder time"),
    ({"reminder1": "half"}, "reminders", "Each reminder is a whole number with its unit"),
    ({"reminder1_unit": "weeks"}, "reminders", "Each reminder is a whole number with its unit"),
])
def test_each_wrong_field_is_said_at_it_and_nothing_is_made(admin: TestClient, desk: StaffDesk,
                                                          changed: dict[str, str], at: str, said: str) -> None:
    response = admin.post("/admin/types", data={"csrf": csrf(admin), **new_type(**changed)})

    assert response.status_code == 422
    assert f'aria-invalid="true" aria-describedby="{at}-error"' in response.text
    assert f'<p class="field-error" id="{at}-error">' in response.text and said in seen(response)
    assert response.text.count('class="field-error"') == 1  # only the wrong field is marked
    assert not any(isinstance(action, CreateTypeAction) for action in desk.calendars.asked)
    assert len(desk.calendars.types) == len(standard_types())
    typed = new_type(**changed)  # what was typed comes back for correcting
    assert f'name="horizon_days" type="text" inputmode="numeric" value="{typed["horizon_days"]}"' in response.text
    assert f'name="reminder1" type="text" inputmode="numeric" value="{typed["reminder1"]}"' in response.text


@pytest.mark.parametrize(("changed", "group", "control"), [
    ({"modes": []}, "modes", r'<input type="checkbox" name="modes"[^>]*>'),
    ({"reminder1": "10"}, "reminders", r'<input id="reminder\d" name="reminder\d"[^>]*>'),
])
def test_a_wrong_group_describes_each_of_its_controls_the_focus_lands_on(
        admin: TestClient, changed: dict[str, str], group: str, control: str) -> None:
    """The group's first control takes the focus, and a screen reader says the focused control's description: the
    sentence must be each control's, not only the fieldset's (Chromium found the focused one described by nothing)."""
    response = admin.post("/admin/types", data={"csrf": csrf(admin), **new_type(**changed)})

    assert response.status_code == 422
    controls = re.findall(control, response.text)
    assert controls and all(f'aria-invalid="true" aria-describedby="{group}-error"' in one for one in controls)
    assert controls[0].endswith(" autofocus>")
    assert f'<fieldset class="{group}">' in response.text  # described once, at the control


def test_every_wrong_field_at_once_is_said_at_each(admin: TestClient) -> None:
    response = admin.post("/admin/types", data={"csrf": csrf(admin), "topic": "", "duration_minutes": "",
                                                "reminder0": "x"})
    assert response.status_code == 422
    for name in ("topic", "duration_minutes", "modes", "buffer_before_minutes", "horizon_days", "reminders"):
        assert f'aria-describedby="{name}-error"' in response.text
    assert 'id="topic" name="topic" type="text" value="" autocomplete="off" aria-invalid="true" ' \
           'aria-describedby="topic-error" autofocus' in response.text


def test_changing_the_reminders_of_a_type(admin: TestClient, desk: StaffDesk) -> None:
    form = admin.get("/admin/types/1")
    assert form.status_code == 200
    assert "Change appointment type Work and future (career)" in seen(form)
    assert 'name="reminder0" type="text" inputmode="numeric" value="1"' in form.text
    assert '<option value="days" selected>' in form.text and '<option value="hours" selected>' in form.text
    assert 'value="office" checked' in form.text and 'value="video" checked' not in form.text

    saved = admin.post("/admin/types/1", data={
        "csrf": csrf_of(form.text), "topic": "career", "duration_minutes": "60", "modes": ["office", "phone"],
        "buffer_before_minutes": "0", "buffer_after_minutes": "15", "min_notice_minutes": "60", "horizon_days": "90",
        "active": "on", "reminder0": "3", "reminder0_unit": "hours", "reminder1": "", "reminder1_unit": "hours"})

    assert saved.status_code == 303 and saved.headers["location"] == "/admin/types?done=saved"
    assert desk.calendars.asked[-1] == UpdateTypeAction(type_id=1, reminder_offsets_minutes=(180,))  # only that
    text = seen(admin.get(saved.headers["location"]))
    assert "A changed reminder policy applies to appointments confirmed or moved from now on" in text
    assert "Work and future (career) 1 hour in person, by phone 0 minutes before, 15 minutes after 1 hour 90 days " \
           "3 hours before" in text


def test_saving_a_type_unchanged_asks_nothing_of_the_calendar(admin: TestClient, desk: StaffDesk) -> None:
    form = admin.get("/admin/types/2").text
    saved = admin.post("/admin/types/2", data={
        "csrf": csrf_of(form), "topic": "health", "duration_minutes": "45", "modes": ["video"],
        "buffer_before_minutes": "5", "buffer_after_minutes": "5", "min_notice_minutes": "1440",
        "horizon_days": "30", "active": "on"})
    assert saved.headers["location"] == "/admin/types?done=unchanged"
    assert not any(isinstance(action, UpdateTypeAction) for action in desk.calendars.asked)


def test_a_wrong_field_on_a_types_page_is_said_there(admin: TestClient, desk: StaffDesk) -> None:
    response = admin.post("/admin/types/2", data={"csrf": csrf(admin), "topic": "health", "duration_minutes": "300",
                                                  "modes": ["video"]})
    assert response.status_code == 422 and "Change appointment type Health (health)" in seen(response)
    assert "The duration must be a whole number of minutes, 10 to 240." in seen(response)
    assert desk.calendars.types == standard_types()


def test_deactivating_and_reactivating(admin: TestClient, desk: StaffDesk) -> None:
    token = csrf(admin)
    off = admin.post("/admin/types/1/deactivate", data={"csrf": token})
    assert off.status_code == 303 and off.headers["location"] == "/admin/types?done=deactivated"
    assert "clients can no longer book it" in seen(admin.get(off.headers["location"]))
    on = admin.post("/admin/types/3/reactivate", data={"csrf": token})
    assert on.headers["location"] == "/admin/types?done=reactivated"
    assert [(kind.type_id, kind.active) for kind in desk.calendars.types] == [(1, False), (2, True), (3, True)]
    assert desk.calendars.asked[-1] == UpdateTypeAction(type_id=3, active=True)


def test_the_schedulers_refusal_is_a_sentence_not_a_500(admin: TestClient, desk: StaffDesk) -> None:
    token = csrf(admin)
    both = admin.post("/admin/types", data={"csrf": token, **new_type(topic="career", modes=["office"])})
    assert both.status_code == 409
    assert "Another active appointment type already offers this topic in one of these ways of meeting" in seen(both)
    assert 'id="topic" name="topic" type="text" value="career"' in both.text  # kept for changing
    moved = admin.post("/admin/types/2", data={"csrf": token, **new_type(topic="career", modes=["phone"])})
    assert moved.status_code == 409 and "Nothing was saved." in seen(moved)
    desk.calendars.types[0] = desk.calendars.types[0].model_copy(update={"active": False})
    desk.calendars.types.append(desk.calendars.types[0].model_copy(update={"type_id": 4, "active": True}))
    again = admin.post("/admin/types/1/reactivate", data={"csrf": token})
    assert again.status_code == 409 and "Deactivate the other type first" in seen(again)
    assert desk.calendars.types[0].active is False


@pytest.mark.parametrize(("method", "path"), [("GET", "/admin/types/99"), ("POST", "/admin/types/99"),
                                              ("GET", "/admin/types/one"), ("POST", "/admin/types/99/deactivate"),
                                              ("POST", "/admin/types/1/delete")])
def test_an_unknown_type_is_a_404_page(admin: TestClient, desk: StaffDesk, method: str, path: str) -> None:
    response = admin.request(method, path, data={"csrf": csrf(admin), **new_type()} if method == "POST" else None)
    assert response.status_code == 404 and "There is no such appointment type (any more)." in seen(response)
    assert desk.calendars.types == standard_types()


def test_when_the_calendar_does_not_answer_the_page_says_so(admin: TestClient, desk: StaffDesk) -> None:
    token = csrf(admin)
    desk.calendars.down = True
    page = admin.get("/admin/types")
    assert page.status_code == 503 and page.headers["retry-after"] == "60"
    assert "The calendar is not answering right now. Nothing was changed." in seen(page)
    for path in ("/admin/types", "/admin/types/1/deactivate"):
        late = admin.post(path, data={"csrf": token, **new_type()})
        assert late.status_code == 503 and "The change may still have been made" in seen(late)


def test_a_counsellor_gets_a_403_page_everywhere(desk: StaffDesk, previews: FakePreviews) -> None:
    with browser(desk, "de") as anna:
        assert anna.post("/login", data={"username": "anna", "password": PASSWORD}).status_code == 303
        token = csrf_of(anna.get("/staff/password").text)
        desk.calendars.asked.clear()
        for method, path in (("GET", "/admin/types"), ("GET", "/admin/types/1"), ("GET", "/admin/texts"),
                             ("POST", "/admin/types"), ("POST", "/admin/types/1"),
                             ("POST", "/admin/types/1/deactivate")):
            response = anna.request(method, path, data={"csrf": token, **new_type()} if method == "POST" else None)
            assert response.status_code == 403, path
            assert "Diese Seite ist nur für die Verwaltung." in seen(response)
    assert desk.calendars.asked == [] and previews.asked == []


@pytest.mark.parametrize(("token", "headers"), [("", {}), ("wrong", {}), (None, {"Origin": "https://evil.example"})])
def test_a_form_without_the_sessions_token_changes_nothing(admin: TestClient, desk: StaffDesk, token: str | None,
                                                           headers: dict[str, str]) -> None:
    sent = token if token is not None else csrf(admin)
    desk.calendars.asked.clear()
    for path in ("/admin/types", "/admin/types/1", "/admin/types/1/deactivate"):
        response = admin.post(path, data={"csrf": sent, **new_type()}, headers=headers)
        assert response.status_code == 403 and FORM_EXPIRED_EN in seen(response)
    assert desk.calendars.asked == [] and desk.calendars.types == standard_types()


def test_without_a_session_the_pages_send_to_sign_in(desk: StaffDesk) -> None:
    with browser(desk, "en") as nobody:
        assert nobody.get("/admin/types/1").headers["location"] == "/login?next=%2Fadmin%2Ftypes%2F1"
        assert nobody.get("/admin/texts?kind=reminder").headers["location"] == \
            "/login?next=%2Fadmin%2Ftexts%3Fkind%3Dreminder"
        assert nobody.post("/admin/types", data={"csrf": "x"}).headers["location"] == "/login"


def test_what_an_admin_does_is_in_the_audit_log_as_the_api_records_it(admin: TestClient, desk: StaffDesk) -> None:
    token = csrf(admin)
    assert admin.post("/admin/types", data={"csrf": token, **new_type()}).status_code == 303
    assert admin.post("/admin/types/2/deactivate", data={"csrf": token}).status_code == 303
    assert admin.post("/admin/types", data={"csrf": token, **new_type(topic="career", modes=["phone"])}
                      ).status_code == 409
    rows, _more = desk.accounts.audit.page(AuditFilter(staff_id=1), None, 5)
    assert [(row.action, row.outcome, row.target_id) for row in reversed(rows)] == [
        ("types_read", "ok", None),  # the list the form was on
        ("type_created", "ok", None), ("type_updated", "ok", "2"),
        ("type_created", "refused", None), ("types_read", "ok", None)]  # the refused form comes back with the list
    assert {(row.username, row.source) for row in rows} == {("admin", "testclient")}
    assert isinstance(desk.calendars.asked[0], TypesAction)


# --- the SMS texts ---------------------------------------------------------------------------------------------------

def test_every_text_in_every_language_with_encoding_segments_and_fallback(admin: TestClient,
                                                                          previews: FakePreviews) -> None:
    page = admin.get("/admin/texts")
    assert page.status_code == 200 and previews.asked == [(None, None)]
    text = seen(page)
    assert text.count("Encoding:") == len(KINDS) * len(LANGUAGES) == 60
    assert "the same for every appointment type: on purpose they never say what an appointment is about" in text
    assert "Sender shown on the phone: Lotse" in text
    assert ("Confirmation of a booking German [confirmation/de] Mon 31 Mar 10:00, Rostock 1. https://t.example/x "
            "Encoding: GSM-7. SMS segments: 1.") in text
    assert ("Thai Warning: there is no usable Thai text, so clients who chose Thai get it in English. "
            "[reminder/en]") in text
    assert "Encoding: UCS-2. SMS segments: 2." in text
    assert text.count("Warning:") == 1
    assert '<p class="sms-body" lang="th">' in page.text and '<p class="sms-body" lang="en">[reminder/en]' in page.text


def test_the_texts_are_filtered_by_kind_and_language(admin: TestClient, previews: FakePreviews) -> None:
    page = admin.get("/admin/texts?kind=reminder&language=th")
    assert page.status_code == 200 and previews.asked == [("reminder", "th")]
    text = seen(page)
    assert text.count("Encoding:") == 1 and "Reminder before an appointment Thai Warning:" in text
    assert '<option value="reminder" selected>' in page.text and '<option value="th" selected>' in page.text
    assert 'href="/admin/texts?kind=reminder&amp;language=th&amp;lang=de"' in page.text  # the switch keeps it
    german = seen(admin.get("/admin/texts?kind=cancelled&lang=de"))
    assert "Termin abgesagt Deutsch" in german and "Kodierung: GSM-7. SMS-Teile: 1." in german


@pytest.mark.parametrize(("query", "at", "said"), [
    ("kind=topic_reveal", "kind", "Please choose a kind of text from the list."),
    ("language=xx", "language", "Please choose a language from the list."),
])
def test_a_filter_not_of_the_list_is_said_at_it(admin: TestClient, previews: FakePreviews, query: str, at: str,
                                                said: str) -> None:
    response = admin.get(f"/admin/texts?{query}")
    assert response.status_code == 422 and said in seen(response)
    assert f'aria-describedby="{at}-error"' in response.text
    assert previews.asked == []


def test_when_the_text_service_does_not_answer_the_page_says_so(admin: TestClient, previews: FakePreviews) -> None:
    previews.down = True
    page = admin.get("/admin/texts?kind=reminder")
    assert page.status_code == 503 and page.headers["retry-after"] == "60"
    assert "The text service is not answering right now, so the texts cannot be shown." in seen(page)
    assert 'href="/admin/texts?kind=reminder">Try again' in page.text
