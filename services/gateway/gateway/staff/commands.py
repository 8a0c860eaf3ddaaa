"""`python -m gateway create-admin|create-staff`: make staff accounts from the command line (the first admin).

The password comes from a prompt (typed twice, not echoed) or, with --password-stdin, from the first line of
standard input, so that it never appears in the process list or the shell history. A counsellor's account is
linked to a calendar only if the scheduler knows its counsellor id (asked over the broker, so Lotse must run).
"""

from __future__ import annotations

import argparse
import getpass
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO
from uuid import uuid4

from kombu import Connection, Message, Queue
from kombu.exceptions import OperationalError as KombuOperationalError

from gateway import migrations
from gateway.errors import GatewayError, SchedulerUnavailable
from gateway.settings import GatewaySettings
from gateway.slots import ReplyWaiter
from gateway.staff.accounts import MIN_PASSWORD_LENGTH, StaffAccounts
from gateway.staff_client import CalendarRefused, StaffClient
from shared.db import make_engine
from shared.messaging import Publisher, broker_connection, make_celery
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


@contextmanager
def _calendar(settings: GatewaySettings) -> Iterator[StaffClient]:
    """A client of the scheduler for this command, with its own reply queue read by a thread while it is open."""
    celery = make_celery("gateway", settings)
    waiter = ReplyWaiter()
    replies = Queue(f"gateway.replies.{uuid4().hex[:12]}", durable=False, exclusive=True, auto_delete=True,
                    queue_arguments=None if settings.is_embedded_broker else {"x-expires": 60_000})
    stop = threading.Event()

    def on_reply(body: Any, message: Message) -> None:
        waiter.resolve(str(message.properties.get("correlation_id", "")), body)

    def drain(connection: Connection) -> None:
        while not stop.is_set():
            try:
                connection.drain_events(timeout=0.2)
            except TimeoutError:
                continue

    try:
        with broker_connection(settings) as connection:
            try:  # declares the reply queue: the first contact with the broker
                consumer = connection.Consumer([replies], callbacks=[on_reply], accept=["json"], no_ack=True)
            except (KombuOperationalError, *connection.connection_errors):
                raise SchedulerUnavailable("The message broker cannot be reached.") from None
            with consumer:
                reader = threading.Thread(target=drain, args=(connection,), name="create-staff-replies",
                                          daemon=True)
                reader.start()
                try:
                    yield StaffClient(Publisher(celery, settings), waiter, replies.name,
                                      settings.slots_timeout_seconds)
                finally:
                    stop.set()
                    reader.join(5)
    finally:
        celery.close()


def check_counsellor(settings: GatewaySettings, counsellor_id: int) -> None:
    """CommandError unless the scheduler has a counsellor with this id."""
    try:
        with _calendar(settings) as calendar:
            calendar.counsellor(counsellor_id)
    except CalendarRefused:
        raise CommandError(f"The calendar has no counsellor with id {counsellor_id}; nothing was created.") from None
    except SchedulerUnavailable as exc:
        raise CommandError(f"Counsellor id {counsellor_id} could not be checked, so nothing was created: {exc} "
                           "Is Lotse running?") from None


def run(argv: list[str], stdin: TextIO = sys.stdin) -> int:
    args = _parser().parse_args(argv)
    role = "admin" if args.command == "create-admin" else args.role
    counsellor_id = getattr(args, "counsellor_id", None)
    settings = load_settings_or_exit(GatewaySettings)
    engine = make_engine(settings.gateway_database_url)
    try:
        password = read_password(args.password_stdin, stdin)
        migrations.upgrade(engine)  # a fresh installation may create its first admin before the first start
        if role == "counsellor" and counsellor_id is not None:
            check_counsellor(settings, counsellor_id)
        staff = StaffAccounts(engine).create(args.username, args.name, role, password, counsellor_id)
    except (CommandError, GatewayError) as exc:
        print(f"lotse: {exc}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    print(f"Created {staff.role} account {staff.username!r} (id {staff.id}).")
    if staff.is_admin:
        print("At its first sign-in it sets up two-factor sign-in with an authenticator app; until then it can do "
              "nothing else (README: Staff sign-in).")
    return 0
