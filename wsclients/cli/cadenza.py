"""``wsclients tail cadenza book|trades|account …``, ``wsclients book cadenza …`` and the demo.

UAT is the default endpoint (``--production`` for production). The JWT can come from
``$CADENZA_TOKEN`` rather than the command line, where other users of the machine could read
it. ``--channels unified`` switches to the 2026-05 channel names; ``--book-channel``,
``--trade-channel`` and ``--account-channel`` set any template (fields ``{instrument_id}``,
``{venue}``, ``{symbol}``, ``{account_id}``).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Callable

from wsclients.cli._output import add_output_options, banner, run_client_loop
from wsclients.venues.cadenza.channels import (
    DOCUMENTED_CHANNELS,
    UNIFIED_CHANNELS,
    ChannelTemplates,
)
from wsclients.venues.cadenza.client import CadenzaClient

__all__ = ["TOKEN_VARIABLE", "add_book_parser", "add_tail_parser", "run_demo"]

TOKEN_VARIABLE = "CADENZA_TOKEN"
DEMO_INSTRUMENTS = ("BINANCE:BTC/USDT", "BINANCE:ETH/USDT")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", default=None,
                        help="WebSocket endpoint (default: Cadenza UAT, or production with "
                             "--production)")
    parser.add_argument("--production", action="store_true", help="use the production endpoint")
    parser.add_argument("--token", default=None,
                        help=f"connection JWT (default: ${TOKEN_VARIABLE} if set)")
    parser.add_argument("--channels", choices=("documented", "unified"), default="documented",
                        help="channel-name form (default: %(default)s, as Cadenza's WebSocket "
                             "page lists them)")
    parser.add_argument("--book-channel", default=None, help="order-book channel template")
    parser.add_argument("--trade-channel", default=None, help="trades channel template")
    parser.add_argument("--account-channel", default=None, help="trading-account template")
    add_output_options(parser)


def _templates(args: argparse.Namespace) -> ChannelTemplates:
    base = UNIFIED_CHANNELS if args.channels == "unified" else DOCUMENTED_CHANNELS
    return ChannelTemplates(
        order_book=args.book_channel or base.order_book,
        trades=args.trade_channel or base.trades,
        trading_account=args.account_channel or base.trading_account,
    )


def _client(args: argparse.Namespace, **options: Any) -> CadenzaClient:
    token = args.token or os.environ.get(TOKEN_VARIABLE) or None
    if not token:
        raise ValueError(f"a Cadenza JWT is needed: --token or ${TOKEN_VARIABLE}")
    return CadenzaClient(token=token, url=args.url, production=args.production,
                         channels=_templates(args), **options)


def add_tail_parser(subparsers: Any) -> None:
    """``wsclients tail cadenza book|trades|account ID [ID …]``."""
    cadenza = subparsers.add_parser(
        "cadenza", help="Cadenza (algo724) WebSocket API",
        description="Print live Cadenza order books, trades or trading-account events.")
    streams = cadenza.add_subparsers(dest="stream", metavar="STREAM", required=True)
    for name, what, metavar in (
        ("book", "order books (top of book per update)", "INSTRUMENT"),
        ("trades", "public trades", "INSTRUMENT"),
        ("account", "trading-account events", "ACCOUNT_ID"),
    ):
        parser = streams.add_parser(name, help=what, description=f"Print {what}.")
        parser.add_argument("ids", nargs="+", metavar=metavar,
                            help="instrument ids such as BINANCE:BTC/USDT" if metavar ==
                            "INSTRUMENT" else "trading account ids")
        _common(parser)
        parser.set_defaults(func=_run_tail)


def _run_tail(args: argparse.Namespace) -> int:
    try:
        client = _client(args)
        helpers: dict[str, Callable[..., bool]] = {
            "book": client.subscribe_order_book, "trades": client.subscribe_trades,
            "account": client.subscribe_trading_account}
        subscribe = helpers[args.stream]
        for item in args.ids:
            subscribe(item)
    except (ValueError, TypeError) as exc:
        print(f"wsclients: {exc}", file=sys.stderr)
        return 2
    return run_client_loop(client, args, kinds={"trade", "book", "message", "error"})


def add_book_parser(subparsers: Any) -> None:
    """``wsclients book cadenza INSTRUMENT [--depth N]``."""
    parser = subparsers.add_parser(
        "cadenza", help="a Cadenza instrument's order book",
        description="Keep a local order book from SNAPSHOT and DIFF publications (taken "
                    "afresh after a gap or a failed recovery) and print it.")
    parser.add_argument("instrument", help="instrument id such as BINANCE:BTC/USDT")
    parser.add_argument("--depth", type=int, default=10, help="levels per side (default 10)")
    _common(parser)
    parser.set_defaults(func=_run_book)


def _run_book(args: argparse.Namespace) -> int:
    try:
        client = _client(args, book_depth=args.depth)
        client.subscribe_order_book(args.instrument)
    except (ValueError, TypeError) as exc:
        print(f"wsclients: {exc}", file=sys.stderr)
        return 2
    return run_client_loop(client, args, kinds={"book", "error"})


def run_demo(args: argparse.Namespace) -> int:
    """``wsclients demo --venue cadenza``: a fake Cadenza in-process streaming a simulated
    market; prints trades and the top of each book."""
    from wsclients.testing.cadenza import FakeCadenza  # the demo only: the testing extra

    with FakeCadenza(instruments=DEMO_INSTRUMENTS) as fake:
        banner(f"fake Cadenza on {fake.url} (simulated market, no network)", args)
        fake.start_streaming(4.0)
        client = CadenzaClient(token=fake.make_token("demo"), url=fake.url, book_depth=10)
        for instrument in DEMO_INSTRUMENTS:
            client.subscribe_order_book(instrument)
            client.subscribe_trades(instrument)
        try:
            return run_client_loop(client, args, kinds={"trade", "book", "error"})
        finally:
            fake.stop_streaming()
