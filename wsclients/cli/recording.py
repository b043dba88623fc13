"""``wsclients record VENUE STREAM … -o FILE`` and ``wsclients replay FILE``.

``record`` takes every venue's ``tail`` streams as they are (same arguments, same
``--url``/``--testnet``) and adds ``-o/--output``: the client records the wire there instead
of printing events (errors still go to stdout). ``replay`` prints a recording's events the
way ``tail`` prints live ones, as fast as possible or paced with ``--speed``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from types import ModuleType
from typing import Any

from wsclients.cli._output import run_client_loop
from wsclients.errors import WSClientError

__all__ = ["add_record_parser", "add_replay_parser"]


def add_record_parser(commands: Any, modules: Iterable[ModuleType]) -> None:
    """``wsclients record VENUE STREAM … -o FILE [--seconds N]``."""
    record = commands.add_parser(
        "record", help="record a live stream's frames to a file (replay it later)",
        description="Record every frame a venue sends (JSON lines, gzip when FILE ends in "
                    ".gz) for `wsclients replay` or wsclients.replay().",
    )
    venues = record.add_subparsers(dest="venue", metavar="VENUE", required=True)
    for module in modules:
        module.add_tail_parser(venues)
    for stream in _leaf_parsers(record):
        stream.add_argument("-o", "--output", required=True, metavar="FILE",
                            help="where to record (gzip when the name ends in .gz)")


def add_replay_parser(commands: Any) -> None:
    """``wsclients replay FILE [--speed X] [--json] [--status]``."""
    replay = commands.add_parser(
        "replay", help="print the events of a recording, as `tail` prints live ones",
        description="Play a recording back through the venue's own parsers and print the "
                    "events it yields.",
    )
    replay.add_argument("path", metavar="FILE", help="a file written by `wsclients record`")
    replay.add_argument("--speed", type=_positive, default=None,
                        help="pace at recorded time x SPEED (default: as fast as possible)")
    replay.add_argument("--json", action="store_true",
                        help="print one JSON line per event (decimals as strings)")
    replay.add_argument("--status", action="store_true", help="also print status events")
    replay.add_argument("--seconds", type=float, default=None,
                        help="stop after this many seconds")
    replay.set_defaults(func=run_replay)


def run_replay(args: argparse.Namespace) -> int:
    """Print every event of the recording; 1 when it cannot be read."""
    from wsclients.recording import replay

    try:
        client = replay(args.path, speed=args.speed)
    except (OSError, WSClientError) as exc:
        print(f"wsclients: {exc}", file=sys.stderr)
        return 1
    return run_client_loop(client, args)


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


def _leaf_parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """Every parser under ``parser`` that has no sub-commands of its own."""
    children = [
        child
        for action in parser._actions
        if isinstance(action, argparse._SubParsersAction)
        for child in dict.fromkeys(action.choices.values())
    ]
    if not children:
        return [parser]
    return [leaf for child in children for leaf in _leaf_parsers(child)]
