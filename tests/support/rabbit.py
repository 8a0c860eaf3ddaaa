"""A RabbitMQ node of a test's own, for tests that stop or kill the broker.

The machine's RabbitMQ (127.0.0.1:5672) is shared by every test and every other user of this machine: nothing may
stop it. A broker-outage test starts this node instead (its own node name, ports and data folder under a temporary
directory), points the system under test at `url`, and stops or kills only this node. `/usr/sbin/rabbitmq-server`
cannot be used (it switches user and forces the node name from /etc/rabbitmq); the scripts it wraps can, with every
path pointed at the node's folder (/work/shared/recipes.md).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from types import TracebackType

RABBIT_BIN = Path(os.environ.get("LOTSE_TEST_RABBITMQ_BIN", "/usr/lib/rabbitmq/bin"))
STARTUP_SECONDS = 90.0  # a cold node boots in ~5 s here; CI machines under load take longer
STOP_SECONDS = 60.0
_RESERVED_PORTS = {5672, 15672, 25672}
_DIR_PREFIX = "lotse-rabbit-"  # the shared node's AMQP, management and Erlang distribution ports


class RabbitNodeFailed(RuntimeError):
    pass


def _free_ports(count: int) -> list[int]:
    """Ports nothing listens on now, all different (held open together so the kernel cannot hand one out twice)."""
    sockets: list[socket.socket] = []
    try:
        while len(sockets) < count:
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            if sock.getsockname()[1] in _RESERVED_PORTS:
                sock.close()
                continue
            sockets.append(sock)
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"  # a killed process nobody has reaped yet is gone as far as anyone can tell


def _remove_orphans() -> None:
    """Nodes whose test session was killed before it could stop them (their owner process is gone): a detached
    node would otherwise run on for good."""
    for folder in Path(tempfile.gettempdir()).glob(f"{_DIR_PREFIX}*"):
        try:
            owner = int((folder / "owner").read_text())
        except (OSError, ValueError):
            continue
        if _alive(owner):
            continue
        try:
            node = int((folder / "pid").read_text().strip())
            # Only the VM that runs on this folder (its command line names it), not a process that got its pid.
            if _alive(node) and str(folder) in Path(f"/proc/{node}/cmdline").read_text().replace("\0", " "):
                os.kill(node, signal.SIGKILL)
        except (OSError, ValueError):
            pass
        shutil.rmtree(folder, ignore_errors=True)


class PrivateRabbit:
    """One private node: `start()`, `stop()` (graceful, as an operator would), `kill()` (SIGKILL, as a crash would),
    `start()` again with the same ports and data (durable queues and their messages survive), `close()` at the end
    (stops it if running and removes its folder). A context manager does the last."""

    def __init__(self) -> None:
        if not (RABBIT_BIN / "rabbitmq-server").exists():
            raise RabbitNodeFailed(f"{RABBIT_BIN}/rabbitmq-server not found: install the rabbitmq-server package "
                                   "(or set LOTSE_TEST_RABBITMQ_BIN to the folder holding its scripts)")
        _remove_orphans()
        self.dir = Path(tempfile.mkdtemp(prefix=_DIR_PREFIX))
        (self.dir / "owner").write_text(str(os.getpid()))
        self.node = f"lotsetest-{uuid.uuid4().hex[:8]}@localhost"
        self.port, self.dist_port = _free_ports(2)
        for sub in ("home", "mnesia", "log"):
            (self.dir / sub).mkdir()
        (self.dir / "enabled_plugins").write_text("[].\n")
        (self.dir / "advanced.config").write_text("[].\n")
        (self.dir / "rabbitmq-env.conf").write_text("")
        (self.dir / "rabbitmq.conf").write_text(f"listeners.tcp.default = 127.0.0.1:{self.port}\n")

    @property
    def url(self) -> str:
        """The AMQP URL of the node's default vhost "/"."""
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
        d = self.dir
        env.update({
            "HOME": str(d / "home"),  # the Erlang cookie lives here; rabbitmqctl needs the same one
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(d / "mnesia"),
            "RABBITMQ_LOG_BASE": str(d / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(d / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(d / "rabbitmq"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(d / "advanced.config"),
            "RABBITMQ_CONF_ENV_FILE": str(d / "rabbitmq-env.conf"),
            "RABBITMQ_PID_FILE": str(d / "pid"),
            "RABBITMQ_SERVER_START_ARGS": (f"-kernel inet_dist_listen_min {self.dist_port} inet_dist_listen_max "
                                           f"{self.dist_port} -kernel inet_dist_use_interface {{127,0,0,1}}"),
        })
        return env

    def _ctl(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(RABBIT_BIN / "rabbitmqctl"), "-n", self.node, *args], env=self._env(),
                              capture_output=True, text=True, timeout=timeout, check=False)

    def _pid(self) -> int | None:
        try:
            return int((self.dir / "pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def running(self) -> bool:
        pid = self._pid()
        return pid is not None and _alive(pid)

    def log_tail(self, chars: int = 3000) -> str:
        logs = sorted((self.dir / "log").glob("*.log"))
        return "\n".join(path.read_text(errors="replace")[-chars:] for path in logs)

    def start(self, seconds: float = STARTUP_SECONDS) -> None:
        """Boot the node and return once it accepts AMQP connections; fails with its log after `seconds`."""
        (self.dir / "pid").unlink(missing_ok=True)
        subprocess.run([str(RABBIT_BIN / "rabbitmq-server"), "-detached"], env=self._env(), check=True,
                       capture_output=True, timeout=60)
        deadline = time.monotonic() + seconds
        while not _listening(self.port):
            # The pid file appears once the VM runs; a VM that is gone again died at boot (a port taken, say).
            if self._pid() is not None and not self.running():
                raise RabbitNodeFailed(f"private RabbitMQ {self.node} died while starting:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise RabbitNodeFailed(f"private RabbitMQ {self.node} not up within {seconds:.0f} s:\n"
                                       f"{self.log_tail()}")
            time.sleep(0.3)
        # The listener opens late in the boot; await_startup confirms the rest of the node is up as well.
        remaining = max(5.0, deadline - time.monotonic())
        answer = self._ctl("await_startup", "--timeout", str(int(remaining)), timeout=remaining + 30)
        if answer.returncode != 0:
            raise RabbitNodeFailed(f"private RabbitMQ {self.node} did not finish starting: {answer.stderr[-2000:]}")

    def stop(self) -> None:
        """A graceful stop: clients see their connections closed by the broker."""
        if not self.running():
            return
        self._ctl("stop", timeout=STOP_SECONDS)
        self._wait_gone()

    def kill(self) -> None:
        """A crash: SIGKILL to the Erlang VM, connections reset without a word."""
        pid = self._pid()
        if pid is not None and self.running():
            os.kill(pid, signal.SIGKILL)
        self._wait_gone()

    def _wait_gone(self) -> None:
        deadline = time.monotonic() + STOP_SECONDS
        while self.running() or _listening(self.port):
            if time.monotonic() > deadline:
                raise RabbitNodeFailed(f"private RabbitMQ {self.node} still running after {STOP_SECONDS:.0f} s")
            time.sleep(0.2)

    def close(self) -> None:
        try:
            if self.running():
                self.kill()  # nothing of it is kept, so nothing needs a graceful stop
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> PrivateRabbit:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()
