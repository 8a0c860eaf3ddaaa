"""How full each of Lotse's queues is and who reads it, from the broker.

RabbitMQ's management HTTP API where it answers (messages ready and unacknowledged, consumers); otherwise a passive
declare over AMQP, which gives the ready messages and the consumers (no unacknowledged count), and which the
embedded broker answers too (its messages; it keeps no consumer count). Only Lotse's own queues are shown: not the
gateways' per-process reply queues.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Literal

from kombu import Connection

from shared.messaging import DEAD_LETTER_QUEUE, all_queues, broker_connection
from shared.settings import CommonSettings

MANAGEMENT_PORT = 15672
MANAGEMENT_TIMEOUT_SECONDS = 2.0
AMQP_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True)
class QueueFigures:
    name: str
    ready: int | None  # None: the queue does not exist (yet)
    unacked: int | None  # None: not known (AMQP gives no such figure)
    consumers: int | None  # None: not known (the embedded broker keeps none)


@dataclass(frozen=True)
class BrokerFigures:
    source: Literal["management", "amqp"]
    queues: list[QueueFigures]
    # Why the management API was not used although the broker is RabbitMQ (it answered an error, say).
    note: str | None = None

    @property
    def dead_letters(self) -> int | None:
        dead = next((q for q in self.queues if q.name == DEAD_LETTER_QUEUE.name), None)
        if dead is None or dead.ready is None:
            return None
        return dead.ready + (dead.unacked or 0)


class ManagementUnavailable(Exception):
    """The management API did not answer usefully; the message says how, in a few words."""


@dataclass(frozen=True)
class ManagementApi:
    base_url: str  # without credentials, ending in /
    username: str
    password: str
    vhost: str


def management_api(settings: CommonSettings, configured: str) -> ManagementApi | None:
    """Where to ask: RABBITMQ_MANAGEMENT_URL, or the broker's host on the management port; its user and password
    unless the URL names others. None on the embedded broker."""
    if settings.is_embedded_broker:
        return None
    broker = Connection(settings.broker_url)
    parts = urllib.parse.urlsplit(configured or f"http://{broker.hostname}:{MANAGEMENT_PORT}/")
    netloc = parts.hostname or ""
    if ":" in netloc:
        netloc = f"[{netloc}]"
    if parts.port:
        netloc += f":{parts.port}"
    base = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path.rstrip("/") + "/", "", ""))
    username = urllib.parse.unquote(parts.username) if parts.username else (broker.userid or "")
    password = urllib.parse.unquote(parts.password) if parts.password else (broker.password or "")
    return ManagementApi(base, username, password, broker.virtual_host or "/")


def _from_management(api: ManagementApi, names: list[str]) -> list[QueueFigures]:
    query = urllib.parse.urlencode({"columns": "name,messages_ready,messages_unacknowledged,consumers"})
    url = f"{api.base_url}api/queues/{urllib.parse.quote(api.vhost, safe='')}?{query}"
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310 - http(s) only
    token = base64.b64encode(f"{api.username}:{api.password}".encode()).decode()
    request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=MANAGEMENT_TIMEOUT_SECONDS) as answer:  # noqa: S310
            listed: Any = json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        raise ManagementUnavailable(f"the management API answered {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        raise ManagementUnavailable(f"the management API is not reachable ({type(reason).__name__})") from None
    except ValueError:
        raise ManagementUnavailable("the management API answered no JSON") from None
    if not isinstance(listed, list):
        raise ManagementUnavailable("the management API answered no list of queues")
    by_name = {str(q.get("name")): q for q in listed if isinstance(q, dict)}

    def figure(entry: dict[str, Any] | None, key: str) -> int | None:
        value = entry.get(key) if entry else None
        return value if isinstance(value, int) else None

    return [QueueFigures(name, figure(by_name.get(name), "messages_ready"),
                         figure(by_name.get(name), "messages_unacknowledged"),
                         figure(by_name.get(name), "consumers")) for name in names]


def _from_amqp(settings: CommonSettings, names: list[str]) -> list[QueueFigures]:
    """Raises kombu's OperationalError (or a connection error) when the broker cannot be reached."""
    figures = []
    with broker_connection(settings, connect_timeout=AMQP_TIMEOUT_SECONDS) as connection:
        connection.ensure_connection(max_retries=0, timeout=AMQP_TIMEOUT_SECONDS)
        for name in names:
            # A passive declare of a missing queue closes its channel on RabbitMQ: one channel per queue.
            channel = connection.channel()
            try:
                _, ready, consumers = channel.queue_declare(queue=name, passive=True)
            except connection.channel_errors:
                figures.append(QueueFigures(name, None, None, None))
                continue
            finally:
                try:
                    channel.close()
                except (*connection.channel_errors, *connection.connection_errors):
                    pass  # closed by the broker already
            figures.append(QueueFigures(name, int(ready), None,
                                        None if settings.is_embedded_broker else int(consumers)))
    return figures


def broker_figures(settings: CommonSettings, management_url: str) -> BrokerFigures:
    """Raises kombu's OperationalError (or a connection error) when neither way reaches the broker."""
    names = list(dict.fromkeys(q.name for q in all_queues(settings)))
    api = management_api(settings, management_url)
    note = None
    if api is not None:
        try:
            return BrokerFigures("management", _from_management(api, names))
        except ManagementUnavailable as exc:
            note = str(exc)
    return BrokerFigures("amqp", _from_amqp(settings, names), note)
