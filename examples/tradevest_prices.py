"""Print Tradevest bid/ask ladders as they change, with callbacks.

    python examples/tradevest_prices.py --url wss://<host>/websocket/prices --token "$TOKEN"
    python examples/tradevest_prices.py EUR/BTC EUR/ETH --url ws://127.0.0.1:8765/websocket/prices
    python examples/tradevest_prices.py --fake --switch EUR/SOL  # a local FakeTradevest

The server sends full ladders per market whenever prices change and an empty "keep-alive"
entry every second otherwise; the client turns the first into ``Book`` events, swallows the
second (it only keeps the connection's watchdog fed) and reconnects by itself after an error
or a silence. Halfway through, the example switches markets with ``set_markets``: the venue
cannot change a live subscription, so the client reconnects with the new set.
"""

from __future__ import annotations

import argparse
import contextlib
import threading
from collections.abc import Iterator
from typing import Optional

from wsclients import Book, ErrorEvent, Status, TradevestClient


@contextlib.contextmanager
def fake_server() -> Iterator[str]:
    from wsclients.testing import FakeTradevest  # needs the "testing" extra

    with FakeTradevest(price_interval=0.25) as fake:
        yield fake.url


def main(argv: Optional[list[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("markets", nargs="*", default=["EUR/BTC", "EUR/ETH"],
                        help="CURRENCY/CRYPTO pairs (default: EUR/BTC EUR/ETH)")
    parser.add_argument("--url", default=TradevestClient.default_url, help="WebSocket URL")
    parser.add_argument("--token", default=None, help="bearer token, if the server wants one")
    parser.add_argument("--books", type=int, default=20, help="stop after this many books")
    parser.add_argument("--switch", nargs="+", metavar="CUR/CRYPTO",
                        help="halfway through, switch to these markets (set_markets)")
    parser.add_argument("--fake", action="store_true", help="run against a local fake server")
    args = parser.parse_args(argv)

    halfway, done = threading.Event(), threading.Event()
    count = 0

    def on_book(book: Book) -> None:
        # Runs on the client's dispatcher thread, one event at a time.
        nonlocal count
        count += 1
        bid, ask = book.best_bid, book.best_ask
        print(f"{book.datetime:%H:%M:%S.%f} {book.symbol:<8} "
              f"{bid.size if bid else '-'} @ {bid.price if bid else '-'}  |  "
              f"{ask.price if ask else '-'} x {ask.size if ask else '-'}  "
              f"({len(book.bids)}/{len(book.asks)} levels)")
        if count >= args.books // 2:
            halfway.set()
        if count >= args.books:
            done.set()

    def on_error(error: ErrorEvent) -> None:
        print(f"!! {error.message}")
        if error.fatal:  # the client has stopped (bad token, unknown market …)
            halfway.set()
            done.set()

    def on_status(status: Status) -> None:
        print(f"-- {status.state}" + (f" ({status.reason})" if status.reason else ""))

    with contextlib.ExitStack() as stack:
        url = stack.enter_context(fake_server()) if args.fake else args.url
        client = TradevestClient(
            args.markets, url=url, token=args.token,
            on_book=on_book, on_error=on_error, on_status=on_status,
        )
        with client:
            if args.switch:
                while not halfway.wait(0.5):  # short waits keep Ctrl-C responsive
                    pass
                if not done.is_set():
                    client.set_markets(args.switch)
            while not done.wait(0.5):
                pass
        print(f"stats: {client.stats}")


if __name__ == "__main__":
    main()
