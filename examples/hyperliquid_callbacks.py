"""A callback bot: react to Hyperliquid trades and books as they arrive.

    python examples/hyperliquid_callbacks.py                    # mainnet
    python examples/hyperliquid_callbacks.py --testnet
    python examples/hyperliquid_callbacks.py --url ws://127.0.0.1:8765/ws
    python examples/hyperliquid_callbacks.py --fake --seconds 5 # a local FakeHyperliquid

Callbacks run on the client's dispatcher thread, one at a time, in arrival order; a slow or
raising callback never stalls the socket (its exception becomes an ErrorEvent). Reconnects,
heartbeats and restoring the subscriptions happen on their own.
"""

from __future__ import annotations

import argparse
import contextlib
import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Optional

from wsclients import Book, BookLevel, ErrorEvent, Status, Trade
from wsclients.venues.hyperliquid import HyperliquidClient


class VolumeBot:
    """Counts traded notional per coin and prints the spread of each new book."""

    def __init__(self) -> None:
        self.notional: dict[str, Decimal] = {}

    def on_trade(self, trade: Trade) -> None:
        total = self.notional.get(trade.symbol, Decimal(0)) + trade.price * trade.size
        self.notional[trade.symbol] = total
        print(f"{trade.symbol:>5} {trade.side} {trade.size} @ {trade.price}  "
              f"(notional so far {total:.2f})")

    def on_book(self, book: Book) -> None:
        print(f"{book.symbol:>5} book: {level(book.best_bid)} / {level(book.best_ask)}  "
              f"spread {book.spread}")

    def on_error(self, error: ErrorEvent) -> None:
        print(f"error: {error.message}")

    def on_status(self, status: Status) -> None:
        print(f"status: {status.state} {status.reason}")


def level(entry: Optional[BookLevel]) -> str:
    return "-" if entry is None else f"{entry.size} @ {entry.price}"


@contextlib.contextmanager
def fake_server() -> Iterator[str]:
    from wsclients.testing import FakeHyperliquid  # needs the "testing" extra

    with FakeHyperliquid(stream=True, rate=5.0) as fake:
        yield fake.url


def main(argv: Optional[list[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("coins", nargs="*", default=["BTC", "ETH"], help="coins to follow")
    parser.add_argument("--url", default=None, help="WebSocket URL (default: mainnet)")
    parser.add_argument("--testnet", action="store_true")
    parser.add_argument("--fake", action="store_true", help="run against a local fake")
    parser.add_argument("--seconds", type=float, default=None, help="stop after N seconds")
    args = parser.parse_args(argv)
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(fake_server()) if args.fake else args.url
        bot = VolumeBot()
        client = HyperliquidClient(
            url=url, testnet=args.testnet,
            on_trade=bot.on_trade, on_book=bot.on_book,
            on_error=bot.on_error, on_status=bot.on_status,
        )
        for coin in args.coins:
            client.subscribe_trades(coin)
            client.subscribe_l2_book(coin, fast=True)
        if args.seconds is not None:
            threading.Timer(args.seconds, client.stop).start()
        client.run_forever()  # blocks until stop() or Ctrl-C
        print("notional per coin:", {c: f"{n:.2f}" for c, n in bot.notional.items()})


if __name__ == "__main__":
    main()
