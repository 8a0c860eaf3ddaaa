"""Every role's Prometheus metrics, served on an internal port only; the public address serves neither /metrics nor
/docs, and its /openapi.json describes the clients' API in neutral words."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from uuid import uuid4

import httpx
import pytest
import yaml
from celery.signals import after_task_publish
from gateway.app import create_app
from gateway.internal import create_internal_app, serve_internal
from gateway.settings import GatewaySettings
from kombu import Producer
from notifier.app import DISPATCH_TASK
from notifier.metrics import BEAT_TICK, TICK_RECEIVED, DispatchLag, count_text, record_beat_ticks
from notifier.settings import NotifierSettings
from notifier.tables import Reminder
from prometheus_client import REGISTRY, CollectorRegistry, Gauge
from scheduler.domain.decisions import Changed, Refused, Unchanged
from scheduler.metrics import count_decision
from scheduler.settings import SchedulerSettings
from sqlalchemy import Engine
from sqlmodel import Session, SQLModel
from starlette.testclient import TestClient

from shared.clock import system_clock
from shared.consumer import Consumer
from shared.contracts import BookingCancellationRequested, BookingCancelled, wrap
from shared.contracts.common import Topic
from shared.db import make_engine
from shared.inbox import ProcessedMessage
from shared.messaging import DEAD_LETTERS, broker_connection, declare_topology
from shared.metrics import DeadLetterQueue, OutboxBacklog, metric_names, serve_metrics
from shared.outbox import OutboxMessage, add_to_outbox
from shared.settings import CommonSettings
from tests.support.system import free_port

NOW = datetime(2026, 3, 29, 9, 30, tzinfo=UTC)


def value(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


@pytest.fixture(scope="module")
def public_app(tmp_path_factory: pytest.TempPathFactory) -> Any:
    var_dir = tmp_path_factory.mktemp("gateway")
    gateway = SimpleNamespace(settings=GatewaySettings(var_dir=var_dir), staff=None,
                              twilio=SimpleNamespace(auth_token="a-token-for-the-test"))
    return create_app(gateway)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def public(public_app: Any) -> TestClient:
    # No lifespan: nothing starts; a route that needs the rest of the gateway answers 500.
    return TestClient(public_app, raise_server_exceptions=False)


def engine_with(tmp_path: Path, *tables: type[SQLModel]) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    SQLModel.metadata.create_all(engine, tables=[table.__table__ for table in tables])  # type: ignore[attr-defined]
    return engine


# --- exposure ---------------------------------------------------------------------------------------------------


def test_public_openapi_describes_the_clients_api_only_in_neutral_words(public: TestClient) -> None:
    response = public.get("/openapi.json")
    assert response.status_code == 200
    paths = set(response.json()["paths"])
    assert {"/v1/bookings", "/v1/bookings/{manage_token}", "/v1/slots", "/healthz", "/readyz"} <= paths
    assert not [path for path in paths if path.startswith(("/v1/staff", "/v1/feeds", "/twilio", "/metrics"))]
    text = response.text
    for word in ("counsel", "staff", "sex"):
        assert word not in text.lower(), word
    for topic in Topic:  # whole words: /healthz is no topic
        assert not re.search(rf"\b{topic.value}\b", text, re.IGNORECASE), topic.value


def test_public_address_serves_no_metrics_and_no_docs(public: TestClient) -> None:
    for path in ("/metrics", "/docs", "/redoc", "/docs/oauth2-redirect"):
        assert public.get(path).status_code == 404, path


def test_internal_port_serves_metrics_and_the_whole_description_on_loopback(public_app: Any) -> None:
    assert GatewaySettings().metrics_host == "127.0.0.1"
    port = free_port()
    server = serve_internal(create_internal_app(public_app), "127.0.0.1", port)
    assert server is not None
    try:
        metrics = _get_when_up(f"http://127.0.0.1:{port}/metrics")
        assert metrics.status_code == 200 and "lotse_gateway_http_requests_total" in metrics.text
        described = httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=5).json()["paths"]
        assert "/v1/staff/login" in described and "/v1/bookings" in described
        assert httpx.get(f"http://127.0.0.1:{port}/docs", timeout=5).status_code == 404  # no CDN-loaded Swagger
    finally:
        server.should_exit = True


def _get_when_up(url: str, seconds: float = 5.0) -> httpx.Response:
    deadline = datetime.now(UTC) + timedelta(seconds=seconds)
    while True:
        try:
            return httpx.get(url, timeout=5)
        except httpx.TransportError:
            if datetime.now(UTC) > deadline:
                raise
            time.sleep(0.05)


def test_each_role_has_its_own_metrics_port_and_zero_switches_it_off(tmp_path: Path) -> None:
    ports = [GatewaySettings().gateway_metrics_port, SchedulerSettings().scheduler_metrics_port,
             NotifierSettings().notifier_metrics_port, NotifierSettings().notifier_beat_metrics_port]
    assert len(set(ports)) == 4 and all(ports)  # all roles run on one machine on the embedded default
    assert serve_metrics(0, "127.0.0.1") is None
    assert serve_internal(create_internal_app(create_app(SimpleNamespace(  # type: ignore[arg-type]
        settings=GatewaySettings(var_dir=tmp_path), staff=None))), "127.0.0.1", 0) is None


def test_a_taken_metrics_port_is_logged_and_the_role_runs_on(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        assert serve_metrics(taken.getsockname()[1], "127.0.0.1", registry=CollectorRegistry()) is None
    assert "metrics not served" in caplog.text and "_METRICS_PORT" in caplog.text


# --- worker metrics -----------------------------------------------------------------------------------------------


def test_worker_serves_its_outbox_backlog_on_its_internal_port(tmp_path: Path) -> None:
    engine = engine_with(tmp_path, OutboxMessage)
    with Session(engine) as session:
        add_to_outbox(session, *(wrap(BookingCancellationRequested(booking_id=uuid4(), by="client"), "c", NOW)
                                 for i in range(2)))
        session.commit()
    server = serve_metrics(free_port(), "127.0.0.1", [OutboxBacklog(engine, "scheduler")], CollectorRegistry())
    assert server is not None
    try:
        text = httpx.get(f"http://127.0.0.1:{server.server_port}/metrics", timeout=5).text
    finally:
        server.shutdown()
        server.server_close()
        engine.dispose()
    assert 'lotse_outbox_backlog{service="scheduler"} 2.0' in text


def reminder(key: str, due_at: datetime, status: str = "pending") -> Reminder:
    return Reminder(key=key, kind="reminder", language="de", due_at=due_at, not_after=due_at + timedelta(hours=1),
                    status=status)


def lag(collector: DispatchLag) -> list[float]:
    return [sample.value for family in collector.collect() for sample in family.samples]


def test_dispatch_lag_is_the_age_of_the_oldest_due_message_not_yet_claimed(tmp_path: Path) -> None:
    engine = engine_with(tmp_path, Reminder)
    collector = DispatchLag(engine, lambda: NOW)
    assert lag(collector) == [0.0]  # nothing waits
    with Session(engine) as session:
        session.add_all([reminder("late", NOW - timedelta(seconds=90)), reminder("due", NOW - timedelta(seconds=5)),
                         reminder("claimed", NOW - timedelta(hours=2), status="sending"),
                         reminder("later", NOW + timedelta(days=2))])
        session.commit()
    assert lag(collector) == [90.0]
    engine.dispose()


def test_a_gauge_whose_database_does_not_answer_is_left_out_not_a_failed_scrape(tmp_path: Path) -> None:
    unreachable = make_engine(f"sqlite:///{tmp_path / 'missing' / 'db.sqlite'}")
    assert lag(DispatchLag(unreachable, lambda: NOW)) == []
    assert [s for family in OutboxBacklog(unreachable, "notifier").collect() for s in family.samples] == []


def test_decisions_and_bookings_are_counted_by_outcome() -> None:
    before = (value("lotse_scheduler_decisions_total", {"operation": "book", "decision": "refused"}),
              value("lotse_scheduler_bookings_total", {"outcome": "rejected", "reason": "slot_taken"}),
              value("lotse_scheduler_decisions_total", {"operation": "cancel", "decision": "unchanged"}))
    count_decision("book", Refused("slot_taken"))
    count_decision("cancel", Unchanged())
    after = (value("lotse_scheduler_decisions_total", {"operation": "book", "decision": "refused"}),
             value("lotse_scheduler_bookings_total", {"outcome": "rejected", "reason": "slot_taken"}),
             value("lotse_scheduler_decisions_total", {"operation": "cancel", "decision": "unchanged"}))
    assert [b - a for a, b in zip(before, after, strict=True)] == [1, 1, 1]


def test_a_cancellation_counts_as_a_booking_cancelled() -> None:
    labels = {"outcome": "cancelled", "reason": ""}
    before = value("lotse_scheduler_bookings_total", labels)
    count_decision("staff", Changed(BookingCancelled(booking_id=uuid4(), by="staff")))
    assert value("lotse_scheduler_bookings_total", labels) == before + 1


def sampled(gauge: Gauge) -> float:
    return next(sample.value for family in gauge.collect() for sample in family.samples)


def test_beat_records_when_it_sends_the_dispatchers_tick_and_no_other_task() -> None:
    receiver = record_beat_ticks(DISPATCH_TASK)
    try:
        BEAT_TICK.set(0)
        after_task_publish.send(sender="notifier.reconcile")
        assert sampled(BEAT_TICK) == 0
        after_task_publish.send(sender=DISPATCH_TASK)
        assert time.time() - 5 < sampled(BEAT_TICK) <= time.time()
    finally:
        after_task_publish.disconnect(receiver, sender=DISPATCH_TASK)


@pytest.mark.parametrize(("code", "label"), [("30003", "30003"), ("20003", "20003"), ("render", "render"),
                                             ("63999", "other"), ("+4915112345678", "other"), (None, "")])
def test_texts_are_counted_by_status_and_a_known_error_code_only(code: str | None, label: str) -> None:
    before = value("lotse_notifier_texts_total", {"status": "failed", "error_code": label})
    count_text("failed", code)
    assert value("lotse_notifier_texts_total", {"status": "failed", "error_code": label}) == before + 1


def test_consumer_counts_redeliveries_and_dead_letters(tmp_path: Path) -> None:
    engine = engine_with(tmp_path, ProcessedMessage)
    letters: list[str] = []
    consumer = Consumer("scheduler", engine, commands={"booking.cancellation_requested": lambda _e, _s: None},
                        dead_letter=lambda _raw, reason: letters.append(reason))
    message = wrap(BookingCancellationRequested(booking_id=uuid4(), by="client"), "c", system_clock()).to_wire()
    redelivered = value("lotse_consumer_redeliveries_total", {"service": "scheduler"})
    unknown = value("lotse_dead_letters_total", {"service": "scheduler", "cause": "unknown_message"})
    consumer.handle(message)
    consumer.handle(message)
    consumer.handle({"type": "no.such", "version": 1})
    assert value("lotse_consumer_redeliveries_total", {"service": "scheduler"}) == redelivered + 1
    assert value("lotse_dead_letters_total", {"service": "scheduler", "cause": "unknown_message"}) == unknown + 1
    assert len(letters) == 1
    engine.dispose()


@pytest.mark.parametrize(("headers", "problem"), [({}, "unsigned"), ({"X-Twilio-Signature": "forged"}, "mismatch")])
def test_webhooks_with_a_missing_or_wrong_signature_are_counted(public: TestClient, headers: dict[str, str],
                                                                problem: str) -> None:
    labels = {"webhook": "status", "problem": problem}
    before = value("lotse_gateway_webhook_signature_failures_total", labels)
    response = public.post("/twilio/status", content=b"MessageSid=SM0&MessageStatus=sent",
                           headers={"Content-Type": "application/x-www-form-urlencoded", **headers})
    assert response.status_code == 403
    assert value("lotse_gateway_webhook_signature_failures_total", labels) == before + 1


def test_no_metric_label_holds_a_number_or_a_token(public: TestClient) -> None:
    token = "Zk3mQ9v2Lr8xT1wBn5cYpA"
    public.get(f"/v1/bookings/{token}")
    count_text("failed", "+4915112345678")
    labels = [value for family in REGISTRY.collect() for sample in family.samples
              for value in sample.labels.values()]
    assert "/v1/bookings/{manage_token}" in labels
    assert not [label for label in labels if token in label or re.search(r"\d{7,}", label)]


# --- the dashboard and the alerts -----------------------------------------------------------------------------------

DOCS = Path(__file__).resolve().parents[2] / "docs"
METRIC = re.compile(r"\blotse_[a-z0-9_]+\b")


def exported_names() -> set[str]:
    """What the roles' registries can expose, collected in-process: every module that defines metrics is imported
    here (gateway.metrics through create_app, scheduler.metrics, notifier.metrics, shared.metrics); the scrape-time
    gauges answer `describe` without a database, and the tick gauges each role registers itself are added."""
    unused = make_engine("sqlite://")
    return set(metric_names(REGISTRY, [OutboxBacklog(unused, "gateway"), DispatchLag(unused, lambda: NOW),
                                       DeadLetterQueue(CommonSettings()), BEAT_TICK, TICK_RECEIVED]))


def dashboard_expressions(panels: list[dict[str, Any]]) -> Iterator[str]:
    for panel in panels:
        yield from dashboard_expressions(panel.get("panels", []))
        yield from (target["expr"] for target in panel.get("targets", []))


def test_grafana_dashboard_is_a_dashboard_on_a_prometheus_datasource_variable() -> None:
    dashboard = json.loads((DOCS / "grafana-dashboard.json").read_text())
    assert dashboard["title"] and dashboard["uid"] and isinstance(dashboard["schemaVersion"], int)
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
    for panel in panels:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert {"h", "w", "x", "y"} <= set(panel["gridPos"]) and panel["targets"], panel["title"]


def test_alert_rules_are_a_prometheus_rule_file_with_the_four_alerts() -> None:
    rules = yaml.safe_load((DOCS / "prometheus-alerts.yml").read_text())
    alerts = {rule["alert"]: rule for group in rules["groups"] for rule in group["rules"]}
    assert {"LotseDeliveryFailureRateHigh", "LotseDeadLettersPresent", "LotseOutboxBacklogGrowing",
            "LotseBeatSilent"} <= set(alerts)
    for name, rule in alerts.items():
        assert rule["expr"] and rule["labels"]["severity"] in ("warning", "critical"), name
        assert rule["annotations"]["summary"], name
        assert re.fullmatch(r"\d+[smh]", rule.get("for", "0s")), name
    promtool = shutil.which("promtool")
    if promtool is not None:  # where Prometheus' own checker is installed, it has the last word
        checked = subprocess.run([promtool, "check", "rules", str(DOCS / "prometheus-alerts.yml")],
                                 capture_output=True, text=True, timeout=30, check=False)
        assert checked.returncode == 0, checked.stdout + checked.stderr


def test_every_metric_the_dashboard_and_the_alerts_use_is_exported_by_a_role() -> None:
    rules = yaml.safe_load((DOCS / "prometheus-alerts.yml").read_text())
    expressions = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    expressions += dashboard_expressions(json.loads((DOCS / "grafana-dashboard.json").read_text())["panels"])
    exported = exported_names()
    for expression in expressions:
        used = set(METRIC.findall(expression))
        assert used, expression
        assert used <= exported, (used - exported, expression)


def test_compose_exposes_the_internal_ports_to_its_network_only() -> None:
    compose = yaml.safe_load((DOCS.parent / "docker-compose.yml").read_text())
    internal = {"gateway": "9100", "scheduler": "9101", "notifier": "9102", "notifier-beat": "9103"}
    for role, port in internal.items():
        service = compose["services"][role]
        assert service.get("expose") == [port], role
        assert not [mapping for mapping in service.get("ports", []) if str(mapping).endswith(f":{port}")], role


def test_dead_letter_queue_depth_is_read_from_the_broker(tmp_path: Path) -> None:
    settings = CommonSettings(var_dir=tmp_path)
    with broker_connection(settings) as connection:
        declare_topology(connection, settings)
        producer = Producer(connection.default_channel)
        for _ in range(2):
            producer.publish({"type": "broken"}, exchange=DEAD_LETTERS, routing_key="scheduler.events")
    assert [s.value for f in DeadLetterQueue(settings).collect() for s in f.samples] == [2]
    unreachable = CommonSettings(broker_url="amqp://guest:guest@127.0.0.1:1//")
    assert [s for f in DeadLetterQueue(unreachable).collect() for s in f.samples] == []
