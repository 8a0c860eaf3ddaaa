"""`python -m lotse run` starts the whole system; see README for the environment variables."""

from __future__ import annotations

import argparse

from gateway.settings import GatewaySettings
from notifier.settings import NotifierSettings

from lotse import launcher
from shared.settings import load_settings_or_exit


def main() -> None:
    parser = argparse.ArgumentParser(prog="lotse", description="Run the whole Lotse system on this machine.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="start gateway, scheduler, notifier and beat; Ctrl-C stops them")
    run.add_argument("--no-demo", action="store_true", help="do not load the demo calendar into an empty one")
    args = parser.parse_args()
    gateway, notifier = load_settings_or_exit(GatewaySettings), load_settings_or_exit(NotifierSettings)
    raise SystemExit(launcher.run(gateway, notifier, demo=not args.no_demo))
