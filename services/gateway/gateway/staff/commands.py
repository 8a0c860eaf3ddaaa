"""`python -m gateway create-admin|create-staff`: make staff accounts from the command line (the first admin).

The password comes from a prompt (typed twice, not echoed) or, with --password-stdin, from the first line of
standard input, so that it never appears in the process list or the shell history.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import TextIO

from gateway import migrations
from gateway.errors import GatewayError
from gateway.settings import GatewaySettings
from gateway.staff.accounts import MIN_PASSWORD_LENGTH, StaffAccounts
from shared.db import make_engine
from shared.settings import load_settings_or_exit


class CommandError(Exception):
    """Ends the command with this message and exit code 1."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m gateway",
                                     description="Without a command: serve the gateway. With one: manage staff.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        command = commands.add_parser(name, help=help_text, description=help_text)
        command.add_argument("--username", required=True, help="sign-in name; letters a-z, digits, . _ @ -")
        command.add_argument("--name", default="", help="display name (default: the username)")
        command.add_argument("--password-stdin", action="store_true",
                             help="read the password from the first line of standard input instead of a prompt")
        return command

    add("create-admin", "Create an admin account (sees every calendar and the account list).")
    staff = add("create-staff", "Create a staff account.")
    staff.add_argument("--role", required=True, choices=("counsellor", "admin"))
    staff.add_argument("--counsellor-id", type=int, default=None,
                       help="the scheduler's counsellor id; required for --role counsellor")
    return parser


def read_password(from_stdin: bool, stdin: TextIO) -> str:
    if from_stdin:
        password = stdin.readline().rstrip("\r\n")
        if not password:
            raise CommandError("No password on standard input; nothing was created.")
        return password
    if not stdin.isatty():
        raise CommandError("Standard input is not a terminal, so there is no one to ask for the password; "
                           "pipe it in with --password-stdin.")
    first = getpass.getpass(f"Password (at least {MIN_PASSWORD_LENGTH} characters): ")
    if getpass.getpass("The same password again: ") != first:
        raise CommandError("The two passwords differ; nothing was created.")
    return first


def run(argv: list[str], stdin: TextIO = sys.stdin) -> int:
    args = _parser().parse_args(argv)
    role = "admin" if args.command == "create-admin" else args.role
    counsellor_id = getattr(args, "counsellor_id", None)
    settings = load_settings_or_exit(GatewaySettings)
    engine = make_engine(settings.gateway_database_url)
    try:
        password = read_password(args.password_stdin, stdin)
        migrations.upgrade(engine)  # a fresh installation may create its first admin before the first start
        staff = StaffAccounts(engine).create(args.username, args.name, role, password, counsellor_id)
    except (CommandError, GatewayError) as exc:
        print(f"lotse: {exc}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    print(f"Created {staff.role} account {staff.username!r} (id {staff.id}).")
    return 0
