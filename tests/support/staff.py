"""Staff accounts for tests of a running system, made as an operator makes them: with the gateway's commands."""

from __future__ import annotations

import subprocess
import sys

from tests.support.system import REPO, System

PASSWORD = "correct horse battery staple"


def create_staff(system: System, *args: str) -> None:
    """`python -m gateway create-admin|create-staff ARGS --password-stdin` against the system's data."""
    result = subprocess.run([sys.executable, "-m", "gateway", *args, "--password-stdin"], input=PASSWORD + "\n",
                            env=system.env, cwd=REPO, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
