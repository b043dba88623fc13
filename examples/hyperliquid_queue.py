"""A blocking loop: read Hyperliquid events from the client's queue, no callbacks at all.

    python examples/hyperliquid_queue.py                     # mainnet
    python examples/hyperliquid_queue.py --url ws://127.0.0.1:8765/ws
    python examples/hyperliquid_queue.py --fake --count 20   # a local FakeHyperliquid

Also shows ``info()``: an /info request over the same socket, answered by id.
"""

from __future__ import annotations

import argparse
import contextlib
import queue
from collections.abc import Iterator
from typing import Optional

from wsclients import Book, BookLevel, ErrorEvent, Message, Trade
from wsclients.venues.hyperliquid import HyperliquidClient


def level(entry: Optional[BookLevel]) -> str:
    return "-" if entry is None else f"{entry.size} @ {entry.price}"


@contextlib.contextmanager
def fake_server() -> Iterator[str]:
    from wsclients.testing import FakeHyperliquid  # needs the "testing" extra

    with FakeHyperliquid(stream=True, rate=20.0) as fake:
        yield fake.url


def main(argv: Optional[list[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("coin", nargs="?", default="BTC")
    parser.add_argument("--url", default=None, help="WebSocket URL (default: mainnet)")
    parser.add_argument("--testnet", action="store_true")
    parser.add_argument("--fake", action="store_true", help="run against a local fake")
    parser.add_argument("--count", type=int, default=50, help="stop after this many events")
    args = parser.parse_args(argv)
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(fake_server()) if args.fake else args.url
        client = HyperliquidClient(url=url, testnet=args.testnet)
        with client:  # start() … stop()
            book = client.info({"type": "l2Book", "coin": args.coin}, timeout=5)
            if book is not None:
                bids, asks = book["levels"]
                print(f"{args.coin} via info(): bid {bids[0]['px']} ask {asks[0]['px']}")
            client.subscribe_trades(args.coin)
            client.subscribe_candles(args.coin, "1m")
            client.subscribe_bbo(args.coin)
            for _ in range(args.count):
                try:
                    event = client.get(timeout=30)
                except queue.Empty:
                    print("nothing for 30 s")
                    break
                if isinstance(event, Trade):
                    print(f"trade  {event.side} {event.size} @ {event.price}")
                elif isinstance(event, Book):
                    print(f"bbo    {level(event.best_bid)} / {level(event.best_ask)}")
                elif isinstance(event, Message):
                    print(f"{event.channel:<6} {event.data}")
                elif isinstance(event, ErrorEvent):
                    print(f"error  {event.message}")


if __name__ == "__main__":
    main()
