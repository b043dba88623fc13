"""``wsclients tail tradevest prices EUR/BTC EUR/ETH`` and the Tradevest demo.

Markets are written as the API takes them: ``CURRENCY/CRYPTO`` (the venue's ``currency`` /
``cryptoSymbol`` pair, upper case) or as the symbol events carry (``BTC-EUR``); none means
every market. ``--url`` must name the
server: no production host is documented (venues/allium-tradevest.md §4.1), so the default is
the Test server. The token can come from ``$TRADEVEST_TOKEN`` rather than the command line,
where other users of the machine could read it.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Optional

from wsclients.cli._output import add_output_options, run_client_loop
from wsclients.errors import SubscriptionRejected
from wsclients.venues.tradevest import TradevestClient

__all__ = ["add_tail_parser", "run_demo"]

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
        type=int,
        default=5,
        help="give up after this many connections in a row without prices (default 5)",
    )
    add_output_options(prices)
    prices.set_defaults(func=_run_prices)


def _run_prices(args: argparse.Namespace) -> int:
    token = args.token or os.environ.get(TOKEN_VARIABLE) or None
    try:
        client = TradevestClient(
            args.markets,
            url=args.url,
            token=token,
            headers=_headers(args.headers),
            max_failures=args.max_failures,
        )
    except (SubscriptionRejected, ValueError) as exc:
        print(f"wsclients: {exc}", file=sys.stderr)
        return 2
    return run_client_loop(client, args, kinds={"book", "message", "error"})


def run_demo(args: argparse.Namespace) -> int:
    """``wsclients demo --venue tradevest``: a fake prices server in-process; prints the top
    of the EUR/BTC and EUR/ETH ladders as they change."""
    from wsclients.testing.tradevest import FakeTradevest  # the demo only: the testing extra

    with FakeTradevest(price_interval=0.3) as fake:
        print(f"fake Tradevest prices server on {fake.url}", flush=True)
        client = TradevestClient(
            ["EUR/BTC", "EUR/ETH"], url=fake.url
        )
        return run_client_loop(client, args, kinds={"book", "error"})
