"""`python -m lotse run` starts the whole system; see README for the environment variables."""

from __future__ import annotations

import argparse
import sys

from gateway.settings import GatewaySettings
from notifier.settings import NotifierSettings

from lotse import launcher
from shared.private_files import owner_only_from_now
from shared.settings import load_settings_or_exit


def main() -> None:
    owner_only_from_now()  # var/, its databases and the roles' logs are the owner's alone (the roles inherit it)
    parser = argparse.ArgumentParser(prog="lotse", description="Run the whole Lotse system on this machine.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="start gateway, scheduler, notifier and beat; Ctrl-C stops them")
    run.add_argument("--no-demo", action="store_true", help="do not load the demo calendar into an empty one")
    args = parser.parse_args()
    gateway, notifier = load_settings_or_exit(GatewaySettings), load_settings_or_exit(NotifierSettings)
    problem = notifier.sender_problem()
    if problem is not None:
        print(f"lotse: configuration error: {problem}", file=sys.stderr)
        raise SystemExit(2)
    raise SystemExit(launcher.run(gateway, notifier, demo=not args.no_demo))
