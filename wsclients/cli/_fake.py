"""``wsclients fake <venue>``: serve a venue's fake from the command line.

So that ``tail``, a notebook or a user's own program can be tried offline in two terminals:
``wsclients fake hyperliquid --port 8765`` in one, ``wsclients tail hyperliquid trades BTC
--url ws://127.0.0.1:8765/ws`` in the other. Each venue's CLI module registers its fake with
``add_fake_parser(subparsers)`` (see ``wsclients/cli/__init__.py``) and serves it with
``serve`` below, which owns the common part: the port, the banner, and running until Ctrl-C,
SIGTERM or ``--seconds``.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from typing import Any, Callable, Optional

from wsclients.cli._output import positive_seconds

__all__ = ["add_fake_options", "positive_rate", "serve"]


def positive_rate(text: str) -> float:
    """``--rate``: a positive number (per second)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be positive, got {text!r}")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0..65535, got {value}")
    return value


def add_fake_options(parser: argparse.ArgumentParser, *, rate_help: str, rate: float) -> None:
    """``--port``, ``--rate``, ``--seconds`` for one venue's ``fake`` sub-command."""
    parser.add_argument("--port", type=_port, default=0,
                        help="port on 127.0.0.1 (default: a free one, printed at start)")
    parser.add_argument("--rate", type=positive_rate, default=rate,
                        help=f"{rate_help} (default: %(default)s)")
    parser.add_argument("--seconds", type=positive_seconds, default=None,
                        help="stop after this many seconds (default: until Ctrl-C)")


def serve(
    fake: Any,
    args: argparse.Namespace,
    *,
    title: str,
    begin: Optional[Callable[[], None]] = None,
    end: Optional[Callable[[], None]] = None,
) -> int:
    """Start ``fake`` (a ``FakeServer``) on ``--port``, print where it listens, run until
    Ctrl-C, SIGTERM or ``--seconds``, stop it. Returns the exit code: 0, or 1 when the port
    cannot be bound (one line on stderr).

    Args:
        title: names the fake in the banner ("fake Hyperliquid").
        begin, end: start and stop the fake's simulated market.
    """
    fake.port = args.port
    try:
        fake.start()
    except OSError as exc:
        print(f"wsclients: cannot listen on 127.0.0.1:{args.port}: {exc.strerror or exc}",
              file=sys.stderr)
        return 1
    done = threading.Event()
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        print(f"{title} on {fake.url} (Ctrl-C stops it)", flush=True)
        if begin is not None:
            begin()
        deadline = None if args.seconds is None else time.monotonic() + args.seconds
        while not done.wait(0.2):  # short waits keep Ctrl-C prompt everywhere
            if deadline is not None and time.monotonic() >= deadline:
                break
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        if end is not None:
            end()
        fake.stop()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
