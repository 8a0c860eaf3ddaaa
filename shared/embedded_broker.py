"""The server-less broker of the embedded default: a kombu virtual transport of our own on one SQLite file.

It implements kombu's virtual-transport hooks (`_new_queue`, `_put`, `_get`, `_size`, `_purge`) on a table of
messages. Exchanges and bindings are kept in the file too, as RabbitMQ keeps them on the server: kombu's own
routing tables live in the memory of the process that declared them, so a process that publishes without declaring
(Celery beat sends its ticks to an exchange it never declared) would route into nothing. A message is deleted when
it is handed out (one `DELETE … RETURNING`), so the file keeps no payload longer than needed; like kombu's own SQL
transport it is at-most-once under a crash. RabbitMQ is the production broker.

`BROKER_URL=sqla+sqlite:///path` (the form Lotse has always documented) selects it: the file is the path, the
transport is this module's, passed to kombu and Celery by name (`transport=`, `broker_transport`).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from kombu.transport import virtual
from kombu.transport.virtual import Empty
from kombu.utils.json import dumps, loads

from shared.private_files import private_file

TRANSPORT = "shared.embedded_broker:Transport"
URL_PREFIX = "sqla+sqlite://"

# Poll fast while messages flow, slowly once the queues have been empty for a while: a worker polls each of its
# queues at every interval, and that is all an idle system does (the idle CPU figure). After a quiet spell a
# message waits up to SLOW_POLL_SECONDS per hop it has to be polled for.
FAST_POLL_SECONDS = 0.05
SLOW_POLL_SECONDS = 0.25
QUIET_AFTER_SECONDS = 2.0

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS lotse_broker_messages ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, queue TEXT NOT NULL, payload TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS lotse_broker_messages_queue ON lotse_broker_messages (queue, id)",
    "CREATE TABLE IF NOT EXISTS lotse_broker_exchanges (name TEXT PRIMARY KEY, type TEXT NOT NULL)",
    # pattern: the exchange type's compiled form of the routing key ('' for none), as kombu's tables hold it.
    "CREATE TABLE IF NOT EXISTS lotse_broker_bindings (exchange TEXT NOT NULL, routing_key TEXT NOT NULL,"
    " pattern TEXT NOT NULL, queue TEXT NOT NULL, PRIMARY KEY (exchange, routing_key, pattern, queue))",
)
_TAKE = ("DELETE FROM lotse_broker_messages WHERE id = "
         "(SELECT id FROM lotse_broker_messages WHERE queue = ? ORDER BY id LIMIT 1) RETURNING payload")


def connection_args(broker_url: str) -> tuple[str, str | None]:
    """The URL and transport to hand kombu for BROKER_URL: this transport for the embedded form, kombu's own for
    anything else (amqp://, memory://)."""
    if broker_url.startswith(URL_PREFIX):
        return broker_url.removeprefix("sqla+"), TRANSPORT
    return broker_url, None


def _database(url: str) -> str:
    return url.removeprefix("sqlite:///")


class Channel(virtual.Channel):
    def __init__(self, connection: Any, **kwargs: Any) -> None:
        super().__init__(connection, **kwargs)
        path = _database(self.connection.client.hostname)
        private_file(Path(path))  # messages carry sealed numbers and tokens: owner-only, as the databases
        # Autocommit: each statement is its own transaction (a message taken is gone at once).
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        for statement in _SCHEMA:
            self.db.execute(statement)
        self.lock = threading.Lock()

    def _new_queue(self, queue: str, **kwargs: Any) -> None:
        """Queues need no row of their own: a queue is the messages that name it."""

    def exchange_declare(self, exchange: str | None = None, type: str = "direct",
                         durable: bool = False, auto_delete: bool = False, arguments: Any = None,
                         nowait: bool = False, passive: bool = False) -> None:
        if passive:
            self._adopt(exchange)
        super().exchange_declare(exchange, type, durable, auto_delete, arguments, nowait, passive)
        if exchange and not passive:
            with self.lock:
                self.db.execute("INSERT OR IGNORE INTO lotse_broker_exchanges (name, type) VALUES (?, ?)",
                                (exchange, type or "direct"))

    def queue_bind(self, queue: str, exchange: str | None = None, routing_key: str = "", arguments: Any = None,
                   **kwargs: Any) -> None:
        exchange = exchange or "amq.direct"
        self._adopt(exchange)
        super().queue_bind(queue, exchange, routing_key, arguments, **kwargs)
        key, pattern, _ = self.typeof(exchange).prepare_bind(queue, exchange, routing_key, arguments)
        with self.lock:
            self.db.execute("INSERT OR IGNORE INTO lotse_broker_bindings (exchange, routing_key, pattern, queue)"
                            " VALUES (?, ?, ?, ?)", (exchange, key or "", pattern or "", queue))

    def queue_unbind(self, queue: str, exchange: str | None = None, routing_key: str = "", arguments: Any = None,
                     **kwargs: Any) -> None:
        super().queue_unbind(queue, exchange, routing_key, arguments, **kwargs)
        with self.lock:
            self.db.execute("DELETE FROM lotse_broker_bindings WHERE queue = ? AND exchange = ? AND routing_key = ?",
                            (queue, exchange or "amq.direct", routing_key or ""))

    def _delete(self, queue: str, *args: Any, **kwargs: Any) -> None:
        """A deleted queue leaves neither messages nor bindings behind (kombu's hook, called by `queue_delete`)."""
        self._purge(queue)
        with self.lock:
            self.db.execute("DELETE FROM lotse_broker_bindings WHERE queue = ?", (queue,))

    def typeof(self, exchange: str, default: str = "direct") -> Any:
        self._adopt(exchange)
        return super().typeof(exchange, default)

    def get_table(self, exchange: str) -> list[tuple[str, str | None, str]]:
        """The exchange's bindings as every process declared them, not only this one."""
        with self.lock:
            rows = self.db.execute("SELECT routing_key, pattern, queue FROM lotse_broker_bindings"
                                   " WHERE exchange = ? ORDER BY rowid", (exchange,)).fetchall()
        return [(key, pattern or None, queue) for key, pattern, queue in rows]

    def _adopt(self, exchange: str | None) -> None:
        """An exchange another process declared becomes known here with its type (kombu asks for it by name)."""
        if not exchange or exchange in self.state.exchanges:
            return
        with self.lock:
            row = self.db.execute("SELECT type FROM lotse_broker_exchanges WHERE name = ?", (exchange,)).fetchone()
        if row is not None:
            super().exchange_declare(exchange, row[0], durable=True)

    def _put(self, queue: str, message: Any, **kwargs: Any) -> None:
        with self.lock:
            self.db.execute("INSERT INTO lotse_broker_messages (queue, payload) VALUES (?, ?)",
                            (queue, dumps(message)))

    def _get(self, queue: str, timeout: float | None = None) -> Any:
        with self.lock:
            rows = self.db.execute(_TAKE, (queue,)).fetchall()
        if not rows:
            raise Empty()
        self.connection.saw_traffic()
        return loads(rows[0][0])

    def _size(self, queue: str) -> int:
        with self.lock:
            return int(self.db.execute("SELECT count(*) FROM lotse_broker_messages WHERE queue = ?",
                                       (queue,)).fetchone()[0])

    def _purge(self, queue: str) -> int:
        with self.lock:
            return self.db.execute("DELETE FROM lotse_broker_messages WHERE queue = ?", (queue,)).rowcount

    def close(self) -> None:
        super().close()
        with self.lock:
            self.db.close()


class Transport(virtual.Transport):
    Channel = Channel
    can_parse_url = True  # the URL names the file; kombu hands it to us as the hostname
    driver_type = driver_name = "sqlite"

    def __init__(self, client: Any, **kwargs: Any) -> None:
        self.last_traffic = time.monotonic()
        super().__init__(client, **kwargs)

    def saw_traffic(self) -> None:
        self.last_traffic = time.monotonic()

    @property
    def polling_interval(self) -> float:
        """kombu's documented sleep between empty polls, read at every `drain_events`: short while traffic is
        recent, longer when the system is quiet."""
        quiet = time.monotonic() - self.last_traffic > QUIET_AFTER_SECONDS
        return SLOW_POLL_SECONDS if quiet else FAST_POLL_SECONDS

    def driver_version(self) -> str:
        return sqlite3.sqlite_version
