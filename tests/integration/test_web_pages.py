"""The booking and manage pages on the real system (embedded default), driven like a browser without JavaScript:
forms posted with httpx, 303 redirects followed, the scheduler deciding and the SMS landing in the sink.

One system serves the module; every test leaves it running as it found it, so the tests pass in any order. What a
page says is checked against the sentence written out here, never against the implementation's own texts.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator

import httpx
import pytest

from tests.support.pages import visible_text, without_random_tokens
from tests.support.system import System, base_env, free_port, poll, running_system

PHONE = "+4915112340987"
OTHER_PHONE = "0151 22334455"
PHONE_FORMS = (PHONE, PHONE[1:], "015112340987", "15112340987", "0151 12340987", "015122334455", "22334455")
FORBIDDEN = re.compile(
    r"beratung|counsel|sex|prostitut|ausstieg|\bexit|gesundheitsamt|health office|lotse|verein|<script",
    re.IGNORECASE,
)
CONFIRMED_DE = "Ihr Termin ist bestätigt."
CONFIRMED_EN = "Your appointment is confirmed."
PENDING_DE = "Wir prüfen, ob die Uhrzeit noch frei ist. Das dauert meist nur ein paar Sekunden."
REJECTED_DE = "Diese Uhrzeit hat leider nicht geklappt."
CANCELLED_DE = "Dieser Termin ist abgesagt."
UNAVAILABLE_DE = "Der Kalender antwortet gerade nicht. Bitte versuchen Sie es in einer Minute noch einmal."
INVALID_PHONE_DE = ("Diese Handynummer können wir nicht verwenden. Bitte prüfen Sie sie und geben Sie sie neu "
                    "ein.")


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    var_dir = tmp_path_factory.mktemp("web")
    # Every search asks the scheduler (no answers remembered, SLOTS_CACHE_SECONDS=0): the pages' answer to a calendar
    # that does not answer is checked right after it stops (test_slot_search_answers.py checks the remembering).
    with running_system(base_env(var_dir, free_port(), {"SLOTS_CACHE_SECONDS": "0"}), var_dir) as running:
        yield running


@pytest.fixture
def pages() -> list[str]:
    """Every HTML page the test's browser received."""
    return []


@pytest.fixture
def browser(system: System, pages: list[str]) -> Iterator[httpx.Client]:
    def keep(response: httpx.Response) -> None:
        response.read()
        if response.headers.get("content-type", "").startswith("text/html"):
            pages.append(response.text)

    with httpx.Client(base_url=system.url, timeout=15, follow_redirects=True,
                      headers={"Accept-Language": "de-DE,de;q=0.9"}, event_hooks={"response": [keep]}) as client:
        yield client


def radios(html: str) -> list[str]:
    return re.findall(r'name="slot_id" value="([^"]+)"', html)


def form_key(html: str) -> str:
    return str(re.findall(r'name="key" value="([^"]+)"', html)[0])


def search(browser: httpx.Client, lang: str = "de", topic: str = "", place: str = "", week: int = 0) -> str:
    """The times of the first day with free times, as the user finds them: a week ('later week' while none is
    free), then its first day."""
    for later in range(week, week + 4):
        page = browser.post("/", data={"lang": lang, "topic": topic, "place": place, "week": str(later)})
        assert page.status_code == 200, page.text
        days = re.findall(r'name="day" value="([0-9-]+)"', page.text)
        if days:
            times = browser.post("/", data={"lang": lang, "topic": topic, "place": place, "week": str(later),
                                            "day": days[0]})
            assert times.status_code == 200 and radios(times.text), times.text
            assert len(radios(times.text)) <= 20
            return times.text
    raise AssertionError("no free time in four weeks")


def book(browser: httpx.Client, page: str, phone: str = PHONE, index: int = 0,
         **fields: str | list[str]) -> httpx.Response:
    form = page[page.index('<form method="post" action="/book">'):]
    hidden = dict(re.findall(r'<input type="hidden" name="(week|day|part)" value="([^"]*)">', form))
    data = {"slot_id": radios(page)[index], "phone": phone, "key": form_key(page),
            "lang": re.findall(r'<html lang="(\w+)">', page)[0], "topic": "", "place": "", **hidden, **fields}
    return browser.post("/book", data=data)


# The quick-leave link to a neutral site and its script: the only outside address and script on a page.
QUICK_LEAVE = re.compile(r'<script src="/leave\.js" defer></script>|'
                         r'<a id="leave" class="leave" href="https://www\.google\.com/" rel="noreferrer">')


def decided_or_check_again(html: str, decided: str, check_again: str) -> bool:
    """The booking POST waits a few seconds: it shows the decision, or (a slow machine) a link to look again."""
    seen = visible_text(html)
    return 'http-equiv="refresh"' not in html and (decided in seen or check_again in seen)


def wait_for(browser: httpx.Client, path: str, text: str) -> str:
    """The page at `path` once it shows `text` (as a person reads it); returns the page's HTML."""
    def shown() -> str | None:
        page = browser.get(path)
        return page.text if text in visible_text(page.text) else None

    return str(poll(shown, seconds=30, interval=0.3))


def bookings_stored(system: System) -> int:
    with sqlite3.connect(system.var_dir / "gateway.sqlite") as db:
        return int(db.execute("SELECT count(*) FROM booking_requests").fetchone()[0])


def test_booking_through_the_page_is_confirmed_sent_by_sms_and_can_be_cancelled(
    system: System, browser: httpx.Client
) -> None:
    start = browser.get("/")
    assert start.status_code == 200 and "<title>Termin</title>" in start.text
    places = re.findall(r'<option value="(\d+)">([^<]+)</option>', start.text)
    assert any(label.startswith("Rostock 1") for _, label in places)  # from the demo calendar, not the template
    page = search(browser, topic="career")
    chosen = radios(page)[0]
    booked = book(browser, page, topic="career")
    assert [r.status_code for r in booked.history] == [303]
    path = booked.url.path
    assert path.startswith("/m/") and "career" not in str(booked.url)
    assert decided_or_check_again(booked.text, CONFIRMED_DE, "Noch einmal nachsehen")

    confirmed = wait_for(browser, path, CONFIRMED_DE)
    assert "<dt>Wann</dt>" in confirmed and "<dt>Wo</dt>" in confirmed
    assert "http-equiv" not in confirmed
    token = path.removeprefix("/m/")
    sms = poll(lambda: [m for m in system.sink() if f"/m/{token}" in m["body"]], seconds=30)
    assert sms[0]["body"].startswith("Termin bestätigt")

    question = browser.get(f"{path}/cancel")
    assert "Möchten Sie diesen Termin wirklich absagen?" in visible_text(question.text)
    assert browser.get(f"/v1/bookings/{token}").json()["status"] == "confirmed"  # asking cancels nothing
    cancelled = browser.post(f"{path}/cancel", data={"lang": "de"})
    assert [r.status_code for r in cancelled.history] == [303] and cancelled.url.path == path
    assert CANCELLED_DE in visible_text(cancelled.text)
    poll(lambda: chosen in radios(search(browser, topic="career")), seconds=30)  # the time is free again


def test_english_booking_gets_an_english_page_and_sms(system: System, browser: httpx.Client) -> None:
    page = search(browser, lang="en")
    assert '<html lang="en">' in page and "<title>Appointment</title>" in page
    booked = book(browser, page, phone=OTHER_PHONE)
    confirmed = wait_for(browser, booked.url.path, CONFIRMED_EN)
    assert '<html lang="en">' in confirmed  # the booking's language, although the browser asks for German
    token = booked.url.path.removeprefix("/m/")
    sms = poll(lambda: [m for m in system.sink() if f"/m/{token}" in m["body"]], seconds=30)
    assert sms[0]["body"].startswith("Appointment confirmed")


def test_romanian_booking_gets_a_romanian_sms_whose_link_opens_in_romanian(
    system: System, browser: httpx.Client
) -> None:
    page = search(browser, lang="ro", week=3)
    assert '<html lang="ro">' in page and "<title>Programare</title>" in page
    booked = book(browser, page, phone="0151 33445566")
    assert decided_or_check_again(booked.text, "Programarea dvs. este confirmată.", "Verificați din nou")
    token = booked.url.path.removeprefix("/m/")
    sms = poll(lambda: [m for m in system.sink() if f"/m/{token}" in m["body"]], seconds=30)
    link = re.findall(r"https?://\S+/m/\S+", sms[0]["body"])[0]
    opened = browser.get(httpx.URL(link).path)  # the browser asks for German; the link keeps the SMS's language
    assert '<html lang="ro">' in opened.text
    assert "Programarea dvs. este confirmată." in visible_text(opened.text)


def test_time_taken_meanwhile_shows_the_reason_and_alternatives_that_can_be_booked(
    system: System, browser: httpx.Client
) -> None:
    page = search(browser, week=1)
    someone_else = search(browser, week=1)  # a second person looking at the same week at the same time
    first = book(browser, page)
    wait_for(browser, first.url.path, CONFIRMED_DE)
    stale = book(browser, someone_else, phone=OTHER_PHONE)  # sent after the time was taken
    assert [r.status_code for r in stale.history] == [303] and stale.url.path != first.url.path
    rejected = wait_for(browser, stale.url.path, REJECTED_DE)
    seen = visible_text(rejected)
    assert "Jemand anderes war gerade schneller. Bitte wählen Sie eine andere Uhrzeit." in seen
    assert "Diese Uhrzeiten sind noch frei" in seen
    alternatives = radios(rejected)
    assert alternatives and radios(page)[0] not in alternatives
    retry = browser.post(f"{stale.url.path}/book", data={"slot_id": alternatives[0], "phone": OTHER_PHONE,
                                                         "key": form_key(rejected), "lang": "de"})
    assert [r.status_code for r in retry.history] == [303]
    wait_for(browser, retry.url.path, CONFIRMED_DE)


def test_invalid_phone_shows_the_message_and_creates_no_booking(system: System, browser: httpx.Client) -> None:
    page = search(browser)
    before = bookings_stored(system)
    for phone in ("0151", "+49 30 1", "call me", ""):
        answer = book(browser, page, phone=phone)
        assert answer.status_code == 422 and not answer.history
        assert INVALID_PHONE_DE in visible_text(answer.text)
        assert re.search(r'name="slot_id" value="[^"]+" required checked', answer.text)  # the choice is kept
    missing = browser.post("/book", data={"phone": PHONE, "lang": "de", "key": form_key(page)})
    assert missing.status_code == 422
    assert "Bitte wählen Sie eine Uhrzeit aus der Liste." in visible_text(missing.text)
    # No booking, so nothing a text could be about. (The sink's length is no measure here: another test's
    # cancellation text may still be on its way.)
    assert bookings_stored(system) == before


def test_text_choices_made_on_the_page_reach_the_notifier_and_change_on_the_manage_page(
    system: System, browser: httpx.Client
) -> None:
    page = search(browser, week=2)
    assert "<legend>SMS</legend>" in page
    refused = book(browser, page, reminders="no", days=["sat", "sun"], start="18:00", end="09:00")
    assert refused.status_code == 422
    assert ("Die Uhrzeit bei „bis“ muss nach der bei „von“ liegen. Bitte wählen Sie die Zeiten neu."
            in visible_text(refused.text))
    assert re.findall(r'name="days" value="(\w+)" checked', refused.text) == ["sat", "sun"]

    booked = book(browser, refused.text, reminders="no", days=["sat", "sun"], start="11:00", end="14:00")
    assert [r.status_code for r in booked.history] == [303], booked.text
    path = booked.url.path
    token = path.removeprefix("/m/")
    confirmed = visible_text(wait_for(browser, path, CONFIRMED_DE))
    assert "Erinnerung vor dem Termin: nein" in confirmed and "SMS nur Samstag, Sonntag, 11:00–14:00 Uhr" in confirmed
    # The confirmation the client asked for is sent even with reminders off.
    poll(lambda: [m for m in system.sink() if f"/m/{token}" in m["body"]], seconds=30)

    saved = browser.post(f"{path}/preferences", data={"lang": "de", "reminders": "yes"})
    assert [r.status_code for r in saved.history] == [303] and saved.url.path == path
    assert "Gespeichert." in visible_text(saved.text) and "SMS zu jeder Zeit" in visible_text(saved.text)
    assert set(saved.url.params) == {"saved", "lang"}  # a flag in the address, never the choice itself
    assert browser.get(f"/v1/bookings/{token}").json()["preferences"] == {"reminders": True, "safe_window": None}
    poll(lambda: processed(system, "notifier", "contact.preferences_changed") >= 1, seconds=30)


def processed(system: System, service: str, message_type: str) -> int:
    with sqlite3.connect(system.var_dir / f"{service}.sqlite") as db:
        return int(db.execute("SELECT count(*) FROM processed_messages WHERE message_type = ?",
                              (message_type,)).fetchone()[0])


def test_unknown_link_shows_a_human_404_page(browser: httpx.Client) -> None:
    for path in ("/m/AAAAAAAAAAAAAAAAAAAAAA", "/m/x", "/m/AAAAAAAAAAAAAAAAAAAAAA/cancel"):
        page = browser.get(path)
        assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
        assert ("Zu diesem Link gibt es keinen Termin. Vielleicht ist er abgelaufen. Sie können einen neuen Termin "
                "ausmachen.") in visible_text(page.text)
    assert browser.post("/m/AAAAAAAAAAAAAAAAAAAAAA/cancel", data={}).status_code == 404


def test_pages_send_privacy_headers_and_load_nothing_from_elsewhere(browser: httpx.Client, pages: list[str]) -> None:
    page = search(browser)
    for response in (browser.get("/"), browser.post("/", data={"lang": "de"}), browser.get("/m/unknown-link-0"),
                     book(browser, page, phone="0151"), browser.get("/site.css")):
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["x-robots-tag"].startswith("noindex")
        assert response.headers["x-frame-options"] == "DENY"
        csp = response.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert len(pages) >= 5
    for html in pages:
        assert QUICK_LEAVE.search(html)
        html = QUICK_LEAVE.sub(" ", html)
        assert not re.search(r"""(src|href|action)=["']?(https?:)?//""", html), "third-party URL in a page"
        assert "http://" not in html and "https://" not in html and "<script" not in html


def test_no_page_and_no_log_holds_the_phone_number_or_says_what_this_is(
    system: System, browser: httpx.Client, pages: list[str]
) -> None:
    """Every kind of page a client meets on the way, from the start page to a cancelled booking."""
    browser.get("/")
    page = search(browser, topic="health")
    book(browser, page, phone="0151 1234")  # refused: the form again, with the message
    booked = book(browser, page, topic="health")
    path = booked.url.path
    wait_for(browser, path, CONFIRMED_DE)
    browser.get(f"{path}/cancel")
    browser.post(f"{path}/cancel", data={"lang": "de"})
    browser.get("/m/AAAAAAAAAAAAAAAAAAAAAA")
    browser.post("/", data={"lang": "en"})

    assert len(pages) >= 8
    for html in pages:
        html = QUICK_LEAVE.sub(" ", html)
        assert not FORBIDDEN.search(without_random_tokens(html)), FORBIDDEN.search(without_random_tokens(html))
        assert re.search(r"<title>(Termin|Appointment)</title>", html)
        assert all(form not in html for form in PHONE_FORMS)
    logs = system.all_logs()
    assert all(form not in logs for form in PHONE_FORMS)
    assert "Traceback" not in logs and " 500" not in system.log("gateway")


def test_calendar_not_answering_asks_to_try_again_in_a_minute(system: System, browser: httpx.Client) -> None:
    system.stop("scheduler")
    try:
        page = browser.post("/", data={"lang": "de", "topic": "safety", "week": "0"})
        assert page.status_code == 503 and UNAVAILABLE_DE in visible_text(page.text)
        assert "Noch einmal versuchen" in visible_text(page.text)
        start = browser.get("/")
        assert start.status_code == 503 and UNAVAILABLE_DE in visible_text(start.text)
        assert start.headers["retry-after"] == "60"
    finally:
        system.start("scheduler")  # the other tests of the module need it, whatever their order
    poll(lambda: browser.post("/", data={"lang": "de"}).status_code == 200, seconds=60, interval=0.5)
