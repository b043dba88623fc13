"""Keep a Cadenza instrument's order book and print its top levels as it changes.

    CADENZA_TOKEN=<jwt> python examples/cadenza_book.py BINANCE:BTC/USDT      # Cadenza UAT
    CADENZA_TOKEN=<jwt> python examples/cadenza_book.py BINANCE:BTC/USDT --production
    python examples/cadenza_book.py --fake                                   # a local FakeCadenza

The client applies SNAPSHOT and DIFF publications to a local book. After a reconnect it asks
the server for what it missed; when the server cannot replay it (a ``RecoveryFailed``
message), or an offset is skipped, the book is dropped and taken afresh from a new snapshot —
a book built on missing data is never printed. ``--channels unified`` uses Cadenza's 2026-05
channel names.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Iterator
from typing import Optional

from wsclients import (
    DOCUMENTED_CHANNELS,
    UNIFIED_CHANNELS,
    Book,
    CadenzaClient,
    ErrorEvent,
    RecoveryFailed,
)


def show(book: Book, depth: int) -> None:
    kind = "snapshot" if book.is_snapshot else "update"
    print(f"--- {book.symbol} offset {book.sequence} ({kind}) spread {book.spread}")
    for ask in reversed(book.asks[:depth]):
        print(f"              {ask.price:>14} | {ask.size}")
    for bid in book.bids[:depth]:
        print(f"{bid.size:>14} {bid.price:>14} |")


@contextlib.contextmanager
def fake_cadenza(instrument: str) -> Iterator[tuple[str, str]]:
    """A local FakeCadenza streaming a simulated market: (url, token)."""
    from wsclients.testing.cadenza import FakeCadenza  # needs the "testing" extra

    with FakeCadenza(instruments=(instrument,)) as fake:
        fake.start_streaming(5.0)
        try:
            yield fake.url, fake.make_token("example")
        finally:
            fake.stop_streaming()


def main(argv: Optional[list[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("instrument", nargs="?", default="BINANCE:BTC/USDT",
                        help="instrument id, VENUE:BASE/QUOTE (default: %(default)s)")
    parser.add_argument("--production", action="store_true", help="production, not UAT")
    parser.add_argument("--channels", choices=("documented", "unified"), default="documented")
    parser.add_argument("--depth", type=int, default=5, help="levels per side to print")
    parser.add_argument("--updates", type=int, default=20, help="stop after this many books")
    parser.add_argument("--fake", action="store_true", help="run against a local fake")
    args = parser.parse_args(argv)
    channels = UNIFIED_CHANNELS if args.channels == "unified" else DOCUMENTED_CHANNELS
    with contextlib.ExitStack() as stack:
        url, token = None, os.environ.get("CADENZA_TOKEN")
        if args.fake:
            url, token = stack.enter_context(fake_cadenza(args.instrument))
            channels = DOCUMENTED_CHANNELS
        if not token:
            parser.error("set CADENZA_TOKEN to your Cadenza JWT (or use --fake)")
        client = CadenzaClient(token=token, url=url, production=args.production,
                               channels=channels, book_depth=args.depth)
        client.subscribe_order_book(args.instrument)
        with client:
            seen = 0
            for event in client.events(kinds={"book", "message", "error"}):
                if isinstance(event, RecoveryFailed):
                    print(f"!! {event.channel}: publications lost, taking a fresh snapshot")
                elif isinstance(event, ErrorEvent):
                    print(f"!! {event.message}")
                    if event.fatal:
                        break
                elif isinstance(event, Book):
                    show(event, args.depth)
                    seen += 1
                    if seen >= args.updates:
                        break
            print(f"resyncs: {client.resyncs}")


if __name__ == "__main__":
    main()
