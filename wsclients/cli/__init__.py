"""The ``wsclients`` command: a demo on a local fake venue, and live tails of real venues.

Each venue's commands live in ``wsclients/cli/<venue>.py``, which provides
``add_tail_parser(subparsers)``, ``run_demo(args)`` and, optionally,
``add_book_parser(subparsers)`` (``wsclients book``), ``add_fake_parser(subparsers)``
(``wsclients fake``) and ``add_commands(commands)`` (top-level commands of its own, e.g.
``wsclients allium get``). ``wsclients/cli/redis.py`` adds ``publish`` (a feed process
writing to Redis Streams) and ``tail redis``. This module only assembles them.

Exit codes: 0 done (``--seconds`` ran out, SIGTERM); 1 the venue failed the command (could
not connect, a fatal error, no live subscription left); 2 the command was wrong (a bad
argument, an invalid option or URL, a subscription refused before it was sent); 130 Ctrl-C.
Every failure is one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Optional

from wsclients._version import __version__
from wsclients.cli import redis as redis_commands
from wsclients.cli._output import complain, positive_seconds
from wsclients.cli.recording import add_record_parser, add_replay_parser
from wsclients.errors import WSClientError

__all__ = ["build_parser", "main"]

VENUES = ("hyperliquid", "vega", "tradevest", "cadenza", "centrifugo", "allium")
"""Venues with commands, in the order ``--help`` lists them; the first is the demo default."""


def _venue_modules() -> dict[str, ModuleType]:
    return {name: importlib.import_module(f"wsclients.cli.{name}") for name in VENUES}


def _has_testing_extra() -> bool:
    """The fake venues need the ``testing`` extra (websockets); say so when it is missing."""
    try:
        import websockets  # noqa: F401
    except ImportError:
        complain("the fake venue servers need the testing extra: "
                 "pip install 'wsclients[testing]'")
        return False
    return True


def _run_demo(module: ModuleType, args: argparse.Namespace) -> int:
    """The demo runs a fake venue in-process."""
    if not _has_testing_extra():
        return 2
    return int(module.run_demo(args))


def build_parser() -> argparse.ArgumentParser:
    """The whole command line, venue commands included."""
    modules = _venue_modules()
    parser = argparse.ArgumentParser(
        prog="wsclients",
        description="Live market data from WebSocket venues, in plain synchronous Python.",
    )
    parser.add_argument("--version", action="version", version=f"wsclients {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="log to stderr (-v info, -vv debug)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = commands.add_parser(
        "demo", help="stream a simulated market from a local fake venue (no network needed)",
        description="Start a fake venue server in-process on 127.0.0.1, connect a real client "
                    "to it and print live trades and books.",
    )
    demo.add_argument("--venue", choices=VENUES, default=VENUES[0],
                      help="which venue's fake to run (default: %(default)s)")
    demo.add_argument("--seconds", type=positive_seconds, default=None,
                      help="stop after this many seconds (default: until Ctrl-C)")
    demo.add_argument("--json", action="store_true", help="one JSON line per event")
    demo.add_argument("--status", action="store_true", help="also print status events")
    demo.set_defaults(func=lambda args: _run_demo(modules[args.venue], args))

    tail = commands.add_parser("tail", help="print a live stream from a venue")
    tail_venues = tail.add_subparsers(dest="venue", metavar="VENUE", required=True)
    book = commands.add_parser("book", help="keep and print a live order book from a venue")
    book_venues = book.add_subparsers(dest="venue", metavar="VENUE", required=True)
    fake = commands.add_parser(
        "fake", help="serve a fake venue on 127.0.0.1 for other programs (no network needed)",
        description="Serve a venue's fake with a simulated market until Ctrl-C, so that "
                    "`wsclients tail`, a notebook or your own program can connect to it "
                    "offline. Needs the testing extra.",
    )
    fake_venues = fake.add_subparsers(dest="venue", metavar="VENUE", required=True)
    for module in modules.values():
        module.add_tail_parser(tail_venues)
        # Optional commands: a venue module registers them by providing the function.
        for hook, venues in (("add_book_parser", book_venues), ("add_fake_parser", fake_venues)):
            add = getattr(module, hook, None)
            if add is not None:
                add(venues)
        add_commands = getattr(module, "add_commands", None)
        if add_commands is not None:
            add_commands(commands)
    add_record_parser(commands, modules.values())
    add_replay_parser(commands)
    redis_commands.add_tail_parser(tail_venues)
    redis_commands.add_publish_parser(commands)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.verbose:
        logging.basicConfig(
            level=logging.DEBUG if args.verbose > 1 else logging.INFO,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            stream=sys.stderr,
        )
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        if args.command == "fake" and not _has_testing_extra():
            return 2
        return int(func(args) or 0)
    except WSClientError as exc:
        # A refused subscription, an invalid option, a bad URL: the command was wrong.
        # One line, never a traceback.
        complain(str(exc))
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `wsclients tail … | head`: the reader went away; leave quietly, as Unix tools do.
        # Point stdout at devnull so the interpreter's own flush at exit does not fail too.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
