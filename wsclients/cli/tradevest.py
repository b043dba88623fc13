"""``wsclients tail tradevest prices EUR/BTC EUR/ETH`` and the Tradevest demo.

Markets are written as the API takes them: ``CURRENCY/CRYPTO`` (the venue's ``currency`` /
``cryptoSymbol`` pair, upper case) or as the symbol events carry (``BTC-EUR``); none means
every market. ``--url`` must name the
server: no production host is documented (docs/venues/tradevest.rst#tradevest-endpoint), so the
default is
the Test server. The token can come from ``$TRADEVEST_TOKEN`` rather than the command line,
where other users of the machine could read it.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Optional

from wsclients.cli._fake import add_fake_options, serve
from wsclients.cli._ladder import LadderPrinter
from wsclients.cli._output import add_output_options, banner, positive_int, run_client_loop
from wsclients.venues.tradevest import TradevestClient

__all__ = ["add_book_parser", "add_fake_parser", "add_tail_parser", "run_demo"]

TOKEN_VARIABLE = "TRADEVEST_TOKEN"


def _headers(pairs: Optional[list[str]]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for pair in pairs or []:
        name, sep, value = pair.partition(":")
        if not sep or not name.strip():
            raise SystemExit(f"wsclients: --header wants 'Name: value', not {pair!r}")
        headers[name.strip()] = value.strip()
    return headers


def add_tail_parser(subparsers: Any) -> None:
    """``wsclients tail tradevest prices [MARKET ...] [--url URL] [--token TOKEN] …``."""
    tradevest = subparsers.add_parser(
        "tradevest",
        help="Tradevest Websocket Prices",
        description="Print live bid/ask ladders from Tradevest Websocket Prices.",
    )
    streams = tradevest.add_subparsers(dest="stream", metavar="STREAM", required=True)
    prices = streams.add_parser(
        "prices",
        help="bid/ask ladders per market (one book line per change)",
        description="Subscribe to prices and print the top of each market's ladder. "
        "Keep-alives (no change) print nothing.",
    )
    prices.add_argument(
        "markets",
        nargs="*",
        metavar="MARKET",
        help="CURRENCY/CRYPTO such as EUR/BTC (or the event symbol BTC-EUR); none: every market",
    )
    _connection_options(prices)
    prices.set_defaults(func=_run_prices)


def _connection_options(prices: argparse.ArgumentParser) -> None:
    prices.add_argument(
        "--url",
        default=TradevestClient.default_url,
        help="WebSocket URL, path included (default: %(default)s; the OpenAPI's path is "
        "/websocket/prices, some copies of the docs say /websockets/prices)",
    )
    prices.add_argument(
        "--token",
        default=None,
        help=f"bearer token sent on the upgrade (default: ${TOKEN_VARIABLE} if set)",
    )
    prices.add_argument(
        "--header",
        dest="headers",
        action="append",
        metavar="'NAME: VALUE'",
        help="extra upgrade header, e.g. 'Requestor-ID: <uuid>' (repeatable)",
    )
    prices.add_argument(
        "--max-failures",
        type=positive_int,
        default=5,
        help="give up after this many connections in a row without prices (default 5)",
    )
    add_output_options(prices)


def _client(args: argparse.Namespace, markets: list[str]) -> TradevestClient:
    token = args.token or os.environ.get(TOKEN_VARIABLE) or None
    return TradevestClient(
        markets,
        url=args.url,
        token=token,
        headers=_headers(args.headers),
        max_failures=args.max_failures,
    )


def _run_prices(args: argparse.Namespace) -> int:
    client = _client(args, args.markets)
    return run_client_loop(client, args, kinds={"book", "message", "error"})


def add_book_parser(subparsers: Any) -> None:
    """``wsclients book tradevest MARKET [--depth N]``."""
    parser = subparsers.add_parser(
        "tradevest", help="a Tradevest market's bid/ask ladder",
        description="Print one market's bid/ask ladder live (redrawn in place on a terminal, "
                    "one block per change when piped).",
    )
    parser.add_argument("market", metavar="MARKET",
                        help="CURRENCY/CRYPTO such as EUR/BTC (or the event symbol BTC-EUR)")
    parser.add_argument("--depth", type=positive_int, default=10,
                        help="levels a side (default 10)")
    _connection_options(parser)
    parser.set_defaults(func=_run_book)


def _run_book(args: argparse.Namespace) -> int:
    client = _client(args, [args.market])
    return run_client_loop(
        client, args, kinds={"book", "error"},
        printer=LadderPrinter(sys.stdout, depth=args.depth, as_json=args.json),
    )


def add_fake_parser(subparsers: Any) -> None:
    """``wsclients fake tradevest [--port N] [--rate R]``."""
    parser = subparsers.add_parser(
        "tradevest", help="a fake Tradevest prices server",
        description="Serve FakeTradevest on 127.0.0.1 with simulated EUR ladders; connect "
                    "with --url ws://127.0.0.1:PORT/websocket/prices.",
    )
    add_fake_options(parser, rate_help="price updates per second", rate=3.0)
    parser.set_defaults(func=_run_fake)


def _run_fake(args: argparse.Namespace) -> int:
    from wsclients.testing.tradevest import FakeTradevest  # the testing extra

    fake = FakeTradevest(price_interval=1.0 / args.rate)
    return serve(fake, args, title="fake Tradevest prices server")


def run_demo(args: argparse.Namespace) -> int:
    """``wsclients demo --venue tradevest``: a fake prices server in-process; prints the top
    of the EUR/BTC and EUR/ETH ladders as they change."""
    from wsclients.testing.tradevest import FakeTradevest  # the demo only: the testing extra

    with FakeTradevest(price_interval=0.3) as fake:
        banner(f"fake Tradevest prices server on {fake.url}", args)
        client = TradevestClient(
            ["EUR/BTC", "EUR/ETH"], url=fake.url
        )
        return run_client_loop(client, args, kinds={"book", "error"})
