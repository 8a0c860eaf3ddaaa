"""`python -m lotse run` starts the whole system; `python -m lotse dead-letters` looks after the dead-letter queue;
`python -m lotse phone` texts the running system as a phone would. See README for the environment variables."""

from __future__ import annotations

import argparse
import sys

from gateway.settings import GatewaySettings
from notifier.settings import NotifierSettings

from lotse import launcher, phone
from shared import dead_letters
from shared.private_files import owner_only_from_now
from shared.settings import CommonSettings, load_settings_or_exit


def main() -> None:
    owner_only_from_now()  # var/, its databases and the roles' logs are the owner's alone (the roles inherit it)
    parser = argparse.ArgumentParser(prog="lotse", description="Run the whole Lotse system on this machine.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="start gateway, scheduler, notifier and beat; Ctrl-C stops them")
    run.add_argument("--no-demo", action="store_true", help="do not load the demo calendar into an empty one")
    letters = sub.add_parser("dead-letters", help="list, requeue or discard the messages on the dead-letter queue "
                                                  "(type, reason, time and id are shown, never a payload)")
    action = letters.add_subparsers(dest="action", required=True)
    action.add_parser("list", help="every dead letter: id, time, queue, type, reason, message id")
    requeue = action.add_parser("requeue", help="put dead letters back on the queue they came from")
    requeue.add_argument("ids", nargs="*", metavar="ID")
    requeue.add_argument("--all", action="store_true", help="every dead letter")
    discard = action.add_parser("discard", help="delete dead letters for good")
    discard.add_argument("ids", nargs="+", metavar="ID")
    texting = sub.add_parser("phone", help="send a text to the running system as a phone would (signed like Twilio's "
                                           "webhooks) and print the replies the SMS sink records")
    texting.add_argument("--from", dest="sender", required=True, metavar="NUMBER", help="the phone's number")
    texting.add_argument("--wait", type=float, default=10.0, metavar="SECONDS",
                         help="how long to wait for replies (default 10)")
    texting.add_argument("body", help='the text, e.g. "Termin"')
    args = parser.parse_args()
    if args.command == "phone":
        raise SystemExit(phone.send(load_settings_or_exit(GatewaySettings), args.sender, args.body, args.wait))
    if args.command == "dead-letters":
        raise SystemExit(dead_letters_command(args))
    gateway, notifier = load_settings_or_exit(GatewaySettings), load_settings_or_exit(NotifierSettings)
    problem = notifier.sender_problem()
    if problem is not None:
        print(f"lotse: configuration error: {problem}", file=sys.stderr)
        raise SystemExit(2)
    raise SystemExit(launcher.run(gateway, notifier, demo=not args.no_demo))


def _table(letters: list[dead_letters.DeadLetter]) -> str:
    rows = [("ID", "DEAD AT (UTC)", "QUEUE", "TYPE", "REASON", "MESSAGE ID")]
    rows += [(d.letter_id, d.dead_at.strftime("%Y-%m-%d %H:%M:%S") if d.dead_at else "?", d.queue, d.message_type,
              d.reason, d.message_id) for d in letters]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    return "\n".join("  ".join([*(cell.ljust(w) for cell, w in zip(row[:5], widths, strict=True)), row[5]])
                     for row in rows)


def dead_letters_command(args: argparse.Namespace) -> int:
    settings = load_settings_or_exit(CommonSettings)
    if args.action == "list":
        found = dead_letters.list_letters(settings)
        print(_table(found) if found else "No dead letters.")
        return 0
    if args.action == "requeue" and args.all == bool(args.ids):
        print("lotse: name the dead letters to requeue (their ID from `dead-letters list`) or give --all",
              file=sys.stderr)
        return 2
    ids = None if args.action == "requeue" and args.all else set(args.ids)
    act = dead_letters.requeue if args.action == "requeue" else dead_letters.discard
    done = act(settings, ids)
    verb = "Requeued" if args.action == "requeue" else "Discarded"
    for letter in done:
        print(f"{verb} {letter.letter_id} ({letter.message_type}) to {letter.queue}" if args.action == "requeue"
              else f"{verb} {letter.letter_id} ({letter.message_type})")
    missing = sorted((ids or set()) - {letter.letter_id for letter in done})
    if missing:
        print(f"lotse: no dead letter with the ID {', '.join(missing)} (see `dead-letters list`)", file=sys.stderr)
        return 1
    if not done:
        print("No dead letters.")
    return 0
