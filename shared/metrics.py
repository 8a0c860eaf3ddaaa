"""Prometheus metrics every role shares (consumer, outbox) and how a worker serves them on its internal port.

Labels hold a service name, a message type or a fixed cause: never a token, a phone number or an id. Gauges that
need the database are read when Prometheus scrapes (a collector with one cheap query), not kept up to date.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Literal, TypeVar
from wsgiref.simple_server import WSGIServer

from prometheus_client import REGISTRY, Counter, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry
from sqlalchemy import Engine

from shared.messaging import DEAD_LETTER_QUEUE, broker_connection
from shared.outbox import unsent
from shared.settings import CommonSettings

log = logging.getLogger(__name__)
T = TypeVar("T")

# A message delivered again after it was handled (the inbox knew its id): the broker or a publisher sent it twice.
REDELIVERIES = Counter("lotse_consumer_redeliveries_total", "Messages received again after they were handled",
                       ["service"])
DeadLetterCause = Literal["unknown_message", "no_handler", "handler_failed", "malformed", "task_failed"]
DEAD_LETTERS = Counter("lotse_dead_letters_total", "Messages a service put on the dead-letter queue, by cause",
                       ["service", "cause"])
MESSAGES_HANDLED = Counter("lotse_consumer_messages_total", "Messages handled (first delivery only)",
                           ["service", "type"])

OUTBOX_BACKLOG = "lotse_outbox_backlog"
DEAD_LETTER_QUEUE_MESSAGES = "lotse_dead_letter_queue_messages"
BROKER_TIMEOUT_SECONDS = 2.0


def dead_lettered(service: str, cause: DeadLetterCause) -> None:
    DEAD_LETTERS.labels(service, cause).inc()


class OutboxBacklog(Collector):
    """`lotse_outbox_backlog{service}`: rows written but not yet published. The relay deletes what it publishes,
    so the table is near empty and counting it is cheap; a count that grows means the broker is not taking them."""

    def __init__(self, engine: Engine, service: str) -> None:
        self.engine = engine
        self.service = service

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return [self._family()]

    def collect(self) -> Iterable[GaugeMetricFamily]:
        family = self._family()
        count = scrape_query(self._count, f"{self.service} outbox backlog")
        if count is not None:
            family.add_metric([self.service], count)
        return [family]

    def _family(self) -> GaugeMetricFamily:
        return GaugeMetricFamily(OUTBOX_BACKLOG, "Outbox rows not yet published to the broker", labels=["service"])

    def _count(self) -> int:
        return unsent(self.engine)[0]


class DeadLetterQueue(Collector):
    """`lotse_dead_letter_queue_messages`: what waits on the dead-letter queue, ours and what RabbitMQ dead-lettered
    itself (a delivery limit reached). A passive declare on a short connection per scrape; served by one role only
    (the notifier's beat, of which there is exactly one), so that the series is not repeated per replica."""

    def __init__(self, settings: CommonSettings) -> None:
        self.settings = settings

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return [self._family()]

    def collect(self) -> Iterable[GaugeMetricFamily]:
        family = self._family()
        depth = scrape_query(self._depth, "dead-letter queue")
        if depth is not None:
            family.add_metric([], depth)
        return [family]

    def _family(self) -> GaugeMetricFamily:
        return GaugeMetricFamily(DEAD_LETTER_QUEUE_MESSAGES, "Messages waiting on the dead-letter queue")

    def _depth(self) -> int:
        with broker_connection(self.settings, connect_timeout=BROKER_TIMEOUT_SECONDS) as connection:
            connection.ensure_connection(max_retries=0, timeout=BROKER_TIMEOUT_SECONDS)
            declared = DEAD_LETTER_QUEUE.bind(connection.default_channel).queue_declare(passive=True)
            return int(declared.message_count)


def scrape_query(query: Callable[[], T], what: str) -> T | None:
    """A scrape-time query's value, or None when the database does not answer: the scrape still serves every
    other metric, and the missing series is what an alert on `absent()` sees."""
    try:
        return query()
    except Exception as exc:  # noqa: BLE001 - a scrape must never fail for one gauge
        log.warning("metrics: %s not read (%s)", what, type(exc).__name__)
        return None


def serve_metrics(port: int, host: str, collectors: Iterable[Collector] = (),
                  registry: CollectorRegistry = REGISTRY) -> WSGIServer | None:
    """Register `collectors` and serve `registry` on host:port (prometheus_client's own HTTP server, in a thread of
    this process); port 0 serves nothing. Returns the server, or None. Called once per process by its entry point,
    never by `build` (tests build a service many times in one process)."""
    if not port:
        return None
    for collector in collectors:
        registry.register(collector)
    try:
        server, _thread = start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        # Metrics never stop a role from booking or sending: it runs on, and Prometheus sees the target down.
        log.error("metrics not served: %s:%d cannot be bound (%s); set this role's *_METRICS_PORT", host, port,
                  exc.strerror or type(exc).__name__)
        return None
    log.info("metrics served on %s:%d", host, server.server_port)
    return server


def metric_names(registry: CollectorRegistry, collectors: Iterable[Collector] = ()) -> Iterator[str]:
    """Every sample name `registry` and `collectors` can expose (`x_total`, `x_bucket`, ...), as PromQL uses them:
    what the alerts and the dashboard may refer to (tests/unit/test_metrics.py)."""
    suffixes = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_count", "_sum", "_created"),
                "summary": ("_count", "_sum", "_created"), "gauge": ("",), "info": ("_info",)}
    families = [*registry.collect()]
    for collector in collectors:
        describe = getattr(collector, "describe", None)
        families += describe() if describe is not None else collector.collect()
    for family in families:
        for suffix in suffixes.get(family.type, ("",)):
            yield family.name + suffix
