"""What the embedded default costs while nobody uses it, and how fast it still confirms a booking.

    python bench/idle.py [--seconds 60] [--keep]

Starts the four roles as processes on the embedded default (SQLite files, the server-less broker, the SMS sink)
in a temporary directory, as tests/support/system.py does, waits until the gateway is ready and a further
--settle seconds (start-up work is not idle), then measures the user + system CPU time of every role process
(and any child it has) over --seconds and prints it as % of one core, per role and in total. Then it books one
slot of the demo calendar and prints the time from the 202 to the booking showing as confirmed (polled every
5 ms), and the same for a second booking (the first may pay for warm-up).

Target (issue 9): under 2 % of one core idle over 60 s, a booking confirmed in under a second.
Other work on the machine does not add to the figure (it counts only the roles' own CPU time), but it can slow
a booking down.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
import psutil  # noqa: E402

from tests.support.system import System, base_env, free_port  # noqa: E402

TARGET_IDLE_PERCENT = 2.0
TARGET_CONFIRMED_SECONDS = 1.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children (living ones; the roles do not fork on this path)."""
    try:
        root = psutil.Process(pid)
        total = 0.0
        for process in (root, *root.children(recursive=True)):
            times = process.cpu_times()
            total += times.user + times.system
        return total
    except psutil.NoSuchProcess:
        return 0.0


def book_and_wait(client: httpx.Client, index: int) -> float:
    """Seconds from the 202 of a booking for the demo calendar's index-th free slot until it shows confirmed."""
    slots = client.get("/v1/slots", params={"language": "de"}).json()["slots"]
    response = client.post("/v1/bookings", json={"slot_id": slots[index]["slot_id"], "phone": "+4915112345678",
                                                 "language": "de", "channel": "web"})
    accepted = time.monotonic()
    if response.status_code != 202:
        raise RuntimeError(f"booking refused: {response.status_code}")
    token = response.json()["manage_token"]
    deadline = accepted + 30
    while time.monotonic() < deadline:
        status = client.get(f"/v1/bookings/{token}").json()["status"]
        if status == "confirmed":
            return time.monotonic() - accepted
        if status != "pending":
            raise RuntimeError(f"booking ended {status}")
        time.sleep(0.005)
    raise RuntimeError("booking not confirmed within 30 s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to measure idle CPU (default 60)")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds after ready before measuring")
    parser.add_argument("--keep", action="store_true", help="keep the var dir with the roles' logs")
    args = parser.parse_args()

    var_dir = Path(tempfile.mkdtemp(prefix="lotse-idle-"))
    system = System(base_env(var_dir, free_port()), var_dir)
    ok = False
    try:
        system.prepare()
        system.start()
        system.wait_ready()
        time.sleep(args.settle)
        pids = {role: process.pid for role, process in system.processes.items()}
        before = {role: cpu_seconds(pid) for role, pid in pids.items()}
        started = time.monotonic()
        time.sleep(args.seconds)
        elapsed = time.monotonic() - started
        used = {role: cpu_seconds(pid) - before[role] for role, pid in pids.items()}
        total = sum(used.values())
        print(f"idle CPU over {elapsed:.0f} s, % of one core:")
        for role, seconds in used.items():
            print(f"  {role:<14} {100 * seconds / elapsed:6.2f} %   ({seconds:.2f} s)")
        idle_percent = 100 * total / elapsed
        verdict = "met" if idle_percent < TARGET_IDLE_PERCENT else "missed"
        print(f"  {'all roles':<14} {idle_percent:6.2f} %   (target < {TARGET_IDLE_PERCENT:g} %: {verdict})")
        with httpx.Client(base_url=system.url, timeout=10) as client:
            first = book_and_wait(client, 0)
            second = book_and_wait(client, 1)
        slowest = max(first, second)
        verdict = "met" if slowest < TARGET_CONFIRMED_SECONDS else "missed"
        print(f"accept→confirmed after idling: first booking {1000 * first:.0f} ms, second {1000 * second:.0f} ms "
              f"(target < {TARGET_CONFIRMED_SECONDS * 1000:.0f} ms: {verdict})")
        ok = True
    finally:
        system.stop()
        if args.keep or not ok:
            print(f"logs kept in {var_dir / 'logs'}", file=sys.stderr)
        else:
            shutil.rmtree(var_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
