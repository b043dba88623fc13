"""Keep a Vega market's order book and print its top levels as it changes.

    python examples/vega_book.py <market-id>                      # the public testnet node
    python examples/vega_book.py <market-id> --url http://127.0.0.1:8080
    python examples/vega_book.py --fake                           # a local FakeVegaNode

The client reads ``markets/depth/updates``, takes the full depth over REST, chains updates on
their sequence numbers and resyncs by itself after a gap, a crossed book or a reconnect; each
resync shows up as a book marked "snapshot" and in ``client.stats.resyncs``.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from typing import Optional

from wsclients import Book, ErrorEvent
from wsclients.venues.vega import VegaClient


def show(book: Book, depth: int) -> None:
    kind = "snapshot" if book.is_snapshot else "update"
    print(f"--- {book.symbol[:12]}… seq {book.sequence} ({kind}) spread {book.spread}")
    for ask in reversed(book.asks[:depth]):
        print(f"        {ask.price:>14} | {ask.size:<12} ({ask.count} orders)")
    for bid in book.bids[:depth]:
        print(f"{bid.size:>12} ({bid.count}) {bid.price:>14} |")


@contextlib.contextmanager
def fake_node() -> Iterator[tuple[str, str]]:
    from wsclients.testing import FakeVegaNode  # needs the "testing" extra

    with FakeVegaNode() as node:
        node.start_blocks(0.25)
        yield node.url, node.market_ids[0]


def main(argv: Optional[list[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("market_id", nargs="?", help="the market id (64 hex characters)")
    parser.add_argument("--url", default=VegaClient.default_url, help="data node base URL")
    parser.add_argument("--depth", type=int, default=5, help="levels per side to print")
    parser.add_argument("--updates", type=int, default=20, help="stop after this many books")
    parser.add_argument("--fake", action="store_true", help="run against a local fake node")
    args = parser.parse_args(argv)
    with contextlib.ExitStack() as stack:
        url, market_id = args.url, args.market_id
        if args.fake:
            url, market_id = stack.enter_context(fake_node())
        if not market_id:
            parser.error("a market id is needed (or --fake)")
        with VegaClient(url=url) as client:
            client.subscribe_book(market_id, depth=args.depth)
            seen = 0
            for event in client.events(kinds={"book", "error"}):
                if isinstance(event, ErrorEvent):
                    print(f"!! {event.message}")
                    if event.fatal:
                        break
                elif isinstance(event, Book):
                    show(event, args.depth)
                    seen += 1
                    if seen >= args.updates:
                        break
            print(f"resyncs: {client.stats.resyncs}")


if __name__ == "__main__":
    main()
