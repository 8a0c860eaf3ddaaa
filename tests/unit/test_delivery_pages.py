"""The admins' delivery dashboard page (/admin/deliveries) as a browser without JavaScript sees it: the period form,
the account banner, the totals, the daily chart and its table, the failed texts with their retry, and each refusal
(a counsellor, no session, no CSRF token, a period that is no period, a refused retry, the notifier not answering).
The staff pages in process (tests/support/staff_pages) with a fake of our DeliveryReports port answering as the
notifier does (its answers are the real contract models)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from gateway.delivery_reports import RetryRefused
from gateway.errors import SchedulerUnavailable
from gateway.staff.audit_repository import AuditFilter
from gateway.web.catalogs import read_catalogs
from gateway.web.staff.catalogs import STAFF_LOCALE_DIR
from notifier.domain.delivery_errors import ERRORS, explain

from shared.contracts import DeliveriesReported, DeliveryRetried, FailedDeliveriesListed
from shared.contracts.delivery_reports import AccountBanner, DayCounts, ErrorCount, ErrorExplained, FailedDelivery
from tests.support.staff_pages import PASSWORD, StaffDesk, staff_desk
from tests.unit.test_staff_pages import csrf_of, seen

TODAY = date(2025, 3, 31)  # the staff desk's Monday (tests/support/staff_pages.NOW)
NO_CREDIT = ErrorExplained(code="30001", reason="The provider's queue for our account overflowed (too many texts "
                           "at once).", action="Send it again; if this repeats, lower SMS_RATE_PER_SECOND.",
                           retryable=True)
UNREACHABLE = ErrorExplained(code="30003", reason="The phone could not be reached (switched off or out of coverage "
                             "for too long).", action="Check the number with the client at the next contact (in "
                             "person or by phone); texts to it stopped.", retryable=False)


def _failed(number: int, error: ErrorExplained, refused: str | None) -> FailedDelivery:
    return FailedDelivery(id=number, created_at=datetime(2025, 3, 30, 8, number, tzinfo=UTC), status="failed",
                          kind="reminder", language="ro", to_masked="+49 151 ••• ••78", error=error,
                          retried_at=None, retry_refused=refused)


@dataclass
class FakeDeliveries:
    """Our DeliveryReports port, answering as the notifier does."""

    down: bool = False
    banner: bool = False
    asked: list[tuple[str, object]] = field(default_factory=list)
    refusal: str | None = None

    def today(self) -> date:
        return TODAY

    def _check(self) -> None:
        if self.down:
            raise SchedulerUnavailable("The text service did not answer in time.")

    def report(self, date_from: date, date_to: date) -> DeliveriesReported:
        self.asked.append(("report", (date_from, date_to)))
        self._check()
        days = [date_from + timedelta(days=n) for n in range((date_to - date_from).days)]
        daily = [DayCounts(day=day, counts={"delivered": 3 + n, "failed": n % 2, "undelivered": 1 if n == 2 else 0,
                                            "sent": 1 if n == 6 else 0}) for n, day in enumerate(days)]
        banner = AccountBanner(kinds=["account"], codes=["30002"], count=4, last_at=datetime(2025, 3, 30, 9,
                               tzinfo=UTC), message="Texts were refused because of the SMS account.")
        return DeliveriesReported(
            date_from=date_from, date_to=date_to, timezone="Europe/Berlin", total=36,
            by_status={"queued": 0, "sending": 0, "sent": 1, "delivered": 30, "undelivered": 2, "failed": 3},
            by_language={"de": 20, "ro": 16}, by_error=[ErrorCount(error=NO_CREDIT, count=3),
                                                       ErrorCount(error=UNREACHABLE, count=2)],
            delivery_rate=30 / 35, median_seconds_to_delivered=154.0, daily=daily,
            banner=banner if self.banner else None)

    def failed(self, date_from: date, date_to: date, limit: int, cursor: str | None) -> FailedDeliveriesListed:
        self.asked.append(("failed", (date_from, date_to)))
        self._check()
        return FailedDeliveriesListed(items=[
            _failed(7, NO_CREDIT, None),
            _failed(8, UNREACHABLE, "Sending again cannot help with this error; see what to do instead.")])

    def send_again(self, delivery_id: int) -> DeliveryRetried:
        self.asked.append(("retry", delivery_id))
        self._check()
        if self.refusal:
            raise RetryRefused(DeliveryRetried(delivery_id=delivery_id, refused=self.refusal,
                                               message="refused"))
        return DeliveryRetried(delivery_id=delivery_id, message="Queued.")


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StaffDesk]:
    with staff_desk(tmp_path_factory.mktemp("delivery-pages")) as made:
        yield made


@pytest.fixture
def deliveries(desk: StaffDesk) -> FakeDeliveries:
    desk.app.state.gateway.deliveries = fake = FakeDeliveries()
    return fake


def client(desk: StaffDesk, lang: str = "en") -> TestClient:
    return TestClient(desk.app, raise_server_exceptions=False, follow_redirects=False,
                      headers={"Accept-Language": lang})


@pytest.fixture
def admin(desk: StaffDesk, deliveries: FakeDeliveries) -> Iterator[TestClient]:
    with client(desk) as browser:
        assert browser.post("/login", data={"username": "admin", "password": PASSWORD}).status_code == 303
        assert browser.post("/login/code", data={"code": desk.code("admin")}).status_code == 303
        yield browser


def test_without_a_period_the_page_shows_the_last_seven_berlin_days(admin: TestClient,
                                                                    deliveries: FakeDeliveries) -> None:
    page = admin.get("/admin/deliveries")

    assert page.status_code == 200
    text = seen(page)
    # The page names the last day; the notifier is asked for [first, last + 1).
    assert deliveries.asked[0] == ("report", (date(2025, 3, 25), date(2025, 4, 1)))
    assert 'name="from" type="date" value="2025-03-25"' in page.text
    assert 'name="to" type="date" value="2025-03-31"' in page.text
    assert "Texts in the period 36 Delivery rate 85.7 % Median time to delivered 2 min 34 s" in text
    assert "delivered 30 undelivered 2 failed 3" in text
    assert "German 20 Romanian 16" in text
    assert ("30001 3 The provider's queue for our account overflowed (too many texts at once). Send it again; if "
            "this repeats, lower SMS_RATE_PER_SECOND. 30003 2 The phone could not be reached") in text
    assert "Texts refused because of the SMS account" not in text


def test_the_charts_bars_say_the_same_numbers_as_the_table(admin: TestClient) -> None:
    page = admin.get("/admin/deliveries?from=2025-03-20&to=2025-03-28").text

    svg = page[page.index("<svg"):page.index("</svg>")]
    assert 'role="img"' in svg and 'aria-labelledby="chart-title chart-desc"' in svg
    assert "<title id=\"chart-title\">Texts per day, from 2025-03-20 to 2025-03-28</title>" in svg
    drawn = {(day, series): int(count) for day, series, count in
             re.findall(r'data-day="([\d-]+)" data-series="(\w+)" data-count="(\d+)"', svg)}
    table = page[page.index('<table class="figures daily">'):]
    tabled = {(day, series): int(count)
              for day, row in re.findall(r'<tr data-day="([\d-]+)">(.*?)</tr>', table)
              for series, count in re.findall(r'<td data-series="(\w+)">(\d+)</td>', row)}
    assert len({day for day, _ in tabled}) == 9
    assert drawn == {key: count for key, count in tabled.items() if count}  # an empty group draws no bar
    assert tabled[("2025-03-21", "not_arrived")] == 1 and tabled[("2025-03-22", "not_arrived")] == 1
    heights = {float(h) for h in re.findall(r'height="([\d.]+)" data-day', svg)}
    assert max(heights) <= 120


def test_texts_refused_because_of_the_sms_account_show_as_a_banner(admin: TestClient,
                                                                  deliveries: FakeDeliveries) -> None:
    deliveries.banner = True

    text = seen(admin.get("/admin/deliveries"))

    assert ("Texts refused because of the SMS account The SMS account is out of credit or suspended. 4 texts in this "
            "period reached nobody (error codes 30002; the last at 3/30/25, 11:00 AM).") in text


def test_failed_texts_show_the_masked_number_the_reason_and_a_retry_only_where_it_helps(admin: TestClient) -> None:
    page = admin.get("/admin/deliveries")
    text = seen(page)

    assert ("3/30/25, 10:07 AM +49 151 ••• ••78 failed The provider's queue for our account overflowed (too many "
            "texts at once). (30001) Send it again; if this repeats, lower SMS_RATE_PER_SECOND. Retry") in text
    assert ("(30003) Check the number with the client at the next contact (in person or by phone); texts to it "
            "stopped. Sending again cannot help with this error; see what to do instead.") in text
    forms = re.findall(r'<form method="post" action="(/admin/deliveries/\d+/retry)">', page.text)
    assert forms == ["/admin/deliveries/7/retry"]


def test_a_retry_is_queued_and_said_in_a_sentence(admin: TestClient, deliveries: FakeDeliveries) -> None:
    page = admin.get("/admin/deliveries?from=2025-03-28&to=2025-03-30")

    answer = admin.post("/admin/deliveries/7/retry", data={"csrf": csrf_of(page.text), "first": "2025-03-28",
                                                          "last": "2025-03-30"})

    assert answer.status_code == 303
    assert answer.headers["location"] == "/admin/deliveries?from=2025-03-28&to=2025-03-30&done=retry"
    assert ("retry", 7) in deliveries.asked
    shown = seen(admin.get(answer.headers["location"]))
    assert "The text is queued to be sent once more." in shown


@pytest.mark.parametrize(("refusal", "status", "sentence"), [
    ("already_retried", 409, "This text was already sent once more; it is not retried again."),
    ("too_late", 409, "The time for this text has passed; sending it now would only confuse."),
    ("unknown_delivery", 404, "There is no such text."),
])
def test_a_refused_retry_says_why(admin: TestClient, deliveries: FakeDeliveries, refusal: str, status: int,
                                 sentence: str) -> None:
    deliveries.refusal = refusal
    csrf = csrf_of(admin.get("/admin/deliveries").text)

    answer = admin.post("/admin/deliveries/7/retry", data={"csrf": csrf})

    assert answer.status_code == status
    assert sentence in seen(answer)


def test_a_retry_without_the_forms_token_is_refused_and_nothing_is_sent(admin: TestClient,
                                                                       deliveries: FakeDeliveries) -> None:
    answer = admin.post("/admin/deliveries/7/retry", data={"csrf": "not-the-token"})

    assert answer.status_code == 403
    assert "This form is no longer valid" in seen(answer)
    assert not [a for a in deliveries.asked if a[0] == "retry"]


def test_the_notifier_not_answering_is_a_503_page_that_says_so(admin: TestClient,
                                                              deliveries: FakeDeliveries) -> None:
    deliveries.down = True

    page = admin.get("/admin/deliveries")

    assert page.status_code == 503 and page.headers["retry-after"] == "60"
    assert "The text service is not answering right now, so the figures cannot be shown." in seen(page)


def test_a_retry_the_notifier_does_not_answer_says_it_may_still_happen(admin: TestClient,
                                                                      deliveries: FakeDeliveries) -> None:
    csrf = csrf_of(admin.get("/admin/deliveries").text)
    deliveries.down = True

    answer = admin.post("/admin/deliveries/7/retry", data={"csrf": csrf})

    assert answer.status_code == 503
    assert "The text may still be sent again: look at the list before retrying." in seen(answer)


@pytest.mark.parametrize(("query", "sentence"), [
    ("from=2025-03-30&to=2025-03-20", "The period ends before it starts."),
    ("from=2024-01-01&to=2025-03-20", "A period may cover at most 366 days."),
    ("from=yesterday", "Please give the period as two days"),
    ("from=0001-01-01", "Please give the period as two days"),
])
def test_a_period_that_is_no_period_is_said_at_the_form_without_asking_the_notifier(
        admin: TestClient, deliveries: FakeDeliveries, query: str, sentence: str) -> None:
    page = admin.get(f"/admin/deliveries?{query}")

    assert page.status_code == 422
    assert sentence in seen(page)
    assert deliveries.asked == []


def test_the_page_speaks_german_for_the_german_office(desk: StaffDesk, admin: TestClient) -> None:
    text = seen(admin.get("/admin/deliveries?lang=de"))

    assert "Zustellrate 85,7 %" in text
    assert "Zustellung der SMS" in text
    assert "Mit erneutem Senden ist bei diesem Fehler nicht zu helfen" in text  # the notifier's sentence, in German
    assert "Das Telefon war nicht erreichbar (zu lange ausgeschaltet oder ohne Netz). (30003)" in text


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/admin/deliveries"), ("POST", "/admin/deliveries/7/retry")])
def test_a_counsellor_gets_a_403_page_and_a_visitor_the_sign_in(desk: StaffDesk, deliveries: FakeDeliveries,
                                                                method: str, path: str) -> None:
    with client(desk) as visitor:
        answer = visitor.request(method, path, data={"csrf": "x"} if method == "POST" else None)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
        assert visitor.post("/login", data={"username": "anna", "password": PASSWORD}).status_code == 303
        csrf = csrf_of(visitor.get("/staff/password").text)
        answer = visitor.request(method, path, data={"csrf": csrf} if method == "POST" else None)
    assert answer.status_code == 403
    assert "This page is for admins only." in seen(answer)
    assert deliveries.asked == []


def test_every_provider_error_the_notifier_explains_has_its_german_words() -> None:
    """The notifier explains errors in English (its contract's words); the dashboard shows them in the office's
    German from the staff catalogue, so a new error code needs its translation there too."""
    german = read_catalogs(STAFF_LOCALE_DIR, "de")
    sentences = {s for info in [*ERRORS.values(), explain(None), explain("no-such-code")]
                 for s in (info.reason, info.action)}
    assert sorted(s for s in sentences if s not in german) == []


def test_reading_the_dashboard_and_retrying_go_to_the_audit_log_as_the_api_records_them(
        desk: StaffDesk, admin: TestClient, deliveries: FakeDeliveries) -> None:
    csrf = csrf_of(admin.get("/admin/deliveries?from=2025-03-28&to=2025-03-30").text)
    deliveries.refusal = "too_late"
    assert admin.post("/admin/deliveries/7/retry", data={"csrf": csrf}).status_code == 409

    rows, _more = desk.accounts.audit.page(AuditFilter(action="delivery_retried"), None, 1)
    assert [(r.action, r.outcome, r.target_id) for r in rows] == [("delivery_retried", "refused", "7")]
    rows, _more = desk.accounts.audit.page(AuditFilter(action="delivery_report_read"), None, 10)
    assert '{"from":"2025-03-28","to":"2025-03-31"}' in [r.detail_json for r in rows]  # the API's `to`: excluded
    assert all("+49" not in (r.detail_json or "") for r in rows)
