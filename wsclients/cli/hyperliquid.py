"""``wsclients tail hyperliquid …`` and the Hyperliquid demo (the default ``wsclients demo``).

``tail hyperliquid trades SOL`` / ``book BTC`` / ``bbo ETH`` / ``candles BTC 1m`` / ``mids`` /
``raw --subscription '{"type": …}'`` print a live stream from mainnet, ``--testnet``, or any
``--url`` (a ``FakeHyperliquid`` for instance).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Callable

from wsclients.cli._fake import add_fake_options, serve
from wsclients.cli._ladder import LadderPrinter
from wsclients.cli._output import add_output_options, banner, positive_int, run_client_loop
from wsclients.venues.hyperliquid import CANDLE_INTERVALS, HyperliquidClient

__all__ = [
    "DEMO_COINS", "add_book_parser", "add_fake_parser", "add_tail_parser", "run_demo",
]

DEMO_COINS = ("BTC", "ETH", "SOL")
"""Coins the demo shows."""

Subscribe = Callable[[HyperliquidClient, argparse.Namespace], object]


def _subscription(text: str) -> dict[str, Any]:
    """``--subscription`` value: one JSON object."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError('a subscription is a JSON object: {"type": …}')
    return value


def _each(method: str) -> Subscribe:
    def subscribe(client: HyperliquidClient, args: argparse.Namespace) -> None:
        for coin in args.coins:
            getattr(client, method)(coin)

    return subscribe


def _book(client: HyperliquidClient, args: argparse.Namespace) -> None:
    for coin in args.coins:
        client.subscribe_l2_book(coin, n_sig_figs=args.n_sig_figs, mantissa=args.mantissa,
                                 fast=args.fast)


def _raw(client: HyperliquidClient, args: argparse.Namespace) -> None:
    for subscription in args.subscriptions:
        client.subscribe(subscription)


def add_tail_parser(subparsers: Any) -> None:
    """``wsclients tail hyperliquid STREAM …``."""
    venue = subparsers.add_parser(
        "hyperliquid", help="Hyperliquid streams",
        description="Print a live Hyperliquid stream (mainnet unless --testnet or --url).",
    )
    streams = venue.add_subparsers(dest="stream", metavar="STREAM", required=True)

    trades = streams.add_parser("trades", help="trades of one or more coins")
    trades.add_argument("coins", nargs="+", metavar="COIN", help='e.g. SOL, "PURR/USDC", @107')
    trades.set_defaults(func=_tail(_each("subscribe_trades")))

    book = streams.add_parser("book", help="l2 book snapshots (top of book per line)")
    book.add_argument("coins", nargs="+", metavar="COIN")
    book.add_argument("--n-sig-figs", type=int, default=None, choices=(2, 3, 4, 5),
                      help="aggregate prices to this many significant figures")
    book.add_argument("--mantissa", type=int, default=None, choices=(1, 2, 5),
                      help="with --n-sig-figs 5: step multiplier")
    book.add_argument("--fast", action="store_true", help="5 levels, about ten times as often")
    book.set_defaults(func=_tail(_book))

    bbo = streams.add_parser("bbo", help="best bid and offer on every change")
    bbo.add_argument("coins", nargs="+", metavar="COIN")
    bbo.set_defaults(func=_tail(_each("subscribe_bbo")))

    candles = streams.add_parser("candles", help="the current candle of one interval")
    candles.add_argument("coin", metavar="COIN")
    candles.add_argument("interval", choices=sorted(CANDLE_INTERVALS), metavar="INTERVAL",
                         help="1m 3m 5m 15m 30m 1h 2h 4h 8h 12h 1d 3d 1w 1M")
    candles.set_defaults(func=_tail(lambda c, a: c.subscribe_candles(a.coin, a.interval)))

    mids = streams.add_parser("mids", help="mid prices of every coin")
    mids.add_argument("--dex", default=None, help="a builder dex instead of the first one")
    mids.set_defaults(func=_tail(lambda c, a: c.subscribe_all_mids(dex=a.dex)))

    raw = streams.add_parser("raw", help="any subscription object(s)")
    raw.add_argument("--subscription", dest="subscriptions", action="append", required=True,
                     type=_subscription, metavar="JSON",
                     help='e.g. \'{"type":"userFills","user":"0x…"}\' (repeat for several)')
    raw.set_defaults(func=_tail(_raw))

    for parser in (trades, book, bbo, candles, mids, raw):
        where = parser.add_mutually_exclusive_group()
        where.add_argument("--testnet", action="store_true", help="connect to testnet")
        where.add_argument("--url", default=None, help="any WebSocket URL (e.g. a local fake)")
        add_output_options(parser)


def _tail(subscribe: Subscribe) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        client = HyperliquidClient(url=args.url, testnet=args.testnet)
        return run_client_loop(client, args, subscribe=lambda: subscribe(client, args))

    return run


def add_book_parser(subparsers: Any) -> None:
    """``wsclients book hyperliquid COIN [--depth N]``."""
    parser = subparsers.add_parser(
        "hyperliquid", help="a Hyperliquid coin's l2 book",
        description="Print a Hyperliquid coin's l2 book as a live ladder (redrawn in place "
                    "on a terminal, one block per update when piped).",
    )
    parser.add_argument("coin", metavar="COIN", help="e.g. BTC, PURR/USDC, @107")
    parser.add_argument("--depth", type=positive_int, default=10,
                        help="levels a side (default 10; the venue sends up to 20)")
    parser.add_argument("--n-sig-figs", type=int, default=None, choices=(2, 3, 4, 5),
                        help="aggregate prices to this many significant figures")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--testnet", action="store_true", help="connect to testnet")
    where.add_argument("--url", default=None, help="any WebSocket URL (e.g. a local fake)")
    add_output_options(parser)
    parser.set_defaults(func=_run_book)


def _run_book(args: argparse.Namespace) -> int:
    client = HyperliquidClient(url=args.url, testnet=args.testnet)
    return run_client_loop(
        client, args, kinds={"book", "error"},
        subscribe=lambda: client.subscribe_l2_book(args.coin, n_sig_figs=args.n_sig_figs),
        printer=LadderPrinter(sys.stdout, depth=args.depth, as_json=args.json),
    )


def add_fake_parser(subparsers: Any) -> None:
    """``wsclients fake hyperliquid [--port N] [--rate R]``."""
    parser = subparsers.add_parser(
        "hyperliquid", help="a fake Hyperliquid with a simulated market",
        description="Serve FakeHyperliquid on 127.0.0.1 with a live simulated market "
                    f"({', '.join(DEMO_COINS)}); connect with --url ws://127.0.0.1:PORT/ws.",
    )
    add_fake_options(parser, rate_help="market ticks per second (a trade and a book step)",
                     rate=6.0)
    parser.set_defaults(func=_run_fake)


def _run_fake(args: argparse.Namespace) -> int:
    from wsclients.testing.hyperliquid import FakeHyperliquid  # the testing extra

    fake = FakeHyperliquid(coins=DEMO_COINS, stream=True, rate=args.rate)
    return serve(fake, args, title="fake Hyperliquid", end=fake.stop_streaming)


def run_demo(args: argparse.Namespace) -> int:
    """``wsclients demo``: ``FakeHyperliquid`` in-process with its market streaming, a real
    ``HyperliquidClient`` on it, live trades and a top-of-book line for a few coins."""
    from wsclients.testing.hyperliquid import FakeHyperliquid  # demo only: the testing extra

    with FakeHyperliquid(coins=DEMO_COINS, stream=True, rate=6.0) as fake:
        banner(f"fake Hyperliquid on {fake.url} (simulated market, no network)", args)
        client = HyperliquidClient(url=fake.url)
        for coin in DEMO_COINS:
            client.subscribe_trades(coin)
            client.subscribe_l2_book(coin, fast=True)
        try:
            return run_client_loop(client, args, kinds={"trade", "book", "error"})
        finally:
            fake.stop_streaming()
