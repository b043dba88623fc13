"""``wsclients tail vega …``, ``wsclients book vega <market-id>`` and the Vega demo.

Every stream route of a data node has a ``tail`` sub-command whose options carry the node's
own filters (``--market-id`` and ``--party-id`` repeat where the node takes lists); ``raw``
opens any route with ``--param name=value``. ``--url`` picks the data node (default: the public
testnet node named in docs/venues/vega.rst).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Callable, Optional

from wsclients.cli._fake import add_fake_options, serve
from wsclients.cli._ladder import LadderPrinter
from wsclients.cli._output import add_output_options, banner, positive_int, run_client_loop
from wsclients.venues.vega import VegaClient

__all__ = ["add_book_parser", "add_fake_parser", "add_tail_parser", "run_demo"]

Subscribe = Callable[[VegaClient, argparse.Namespace], object]


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", default=VegaClient.default_url,
                        help="data node base URL (default: %(default)s)")
    add_output_options(parser)


def _params(pairs: Optional[list[str]]) -> dict[str, Any]:
    params: dict[str, list[str]] = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise SystemExit(f"--param wants name=value, not {pair!r}")
        params.setdefault(name, []).append(value)
    return {name: values[0] if len(values) == 1 else values for name, values in params.items()}


# An option: (flag, help, repeatable, required). Repeatable flags collect into "<flag>s".
Option = tuple[str, str, bool, bool]
MARKETS: Option = ("market-id", "market (repeat for several)", True, False)
MARKETS_REQUIRED: Option = ("market-id", "market (repeat for several)", True, True)
PARTIES: Option = ("party-id", "party (repeat for several)", True, False)
MARKET: Option = ("market-id", "market", False, False)
PARTY: Option = ("party-id", "party", False, False)

# (command, help, options, subscribe)
_STREAMS: list[tuple[str, str, tuple[Option, ...], Subscribe]] = [
    ("trades", "trades (all markets unless --market-id; --party-id: buyer or seller)",
     (MARKETS, PARTIES),
     lambda c, a: c.subscribe_trades(a.market_ids, party_ids=a.party_ids)),
    ("orders", "orders: a snapshot of live orders, then changes", (MARKETS, PARTIES),
     lambda c, a: c.subscribe_orders(a.market_ids, party_ids=a.party_ids)),
    ("depth", "full market depth on every change (raw levels)", (MARKETS_REQUIRED,),
     lambda c, a: c.subscribe_depth(a.market_ids)),
    ("depth-updates", "changed depth levels per block (raw)", (MARKETS_REQUIRED,),
     lambda c, a: c.subscribe_depth_updates(a.market_ids)),
    ("market-data", "mark price, best bid/offer, open interest …", (MARKETS_REQUIRED,),
     lambda c, a: c.subscribe_market_data(a.market_ids)),
    ("positions", "positions: a snapshot, then changes", (PARTY, MARKET),
     lambda c, a: c.subscribe_positions(a.party_id, market_id=a.market_id)),
    ("accounts", "account balances: a snapshot, then changes",
     (PARTY, MARKET, ("asset", "asset id", False, False)),
     lambda c, a: c.subscribe_accounts(a.party_id, market_id=a.market_id, asset=a.asset)),
    ("candles", "candles of one candle id (see the REST candle intervals)",
     (("candle-id", "candle id", False, True),),
     lambda c, a: c.subscribe_candles(a.candle_id)),
    ("margin-levels", "margin levels", (PARTY, MARKET),
     lambda c, a: c.subscribe_margin_levels(a.party_id, market_id=a.market_id)),
    ("ledger", "every ledger movement on the network", (),
     lambda c, a: c.subscribe_ledger_movements()),
    ("liquidity-provisions", "liquidity provisions", (MARKET, PARTY),
     lambda c, a: c.subscribe_liquidity_provisions(a.market_id, party_id=a.party_id)),
    ("governance", "governance proposals and votes", (PARTY,),
     lambda c, a: c.subscribe_governance(a.party_id)),
    ("votes", "votes of a party or on a proposal",
     (PARTY, ("proposal-id", "proposal", False, False)),
     lambda c, a: c.subscribe_votes(a.party_id, proposal_id=a.proposal_id)),
    ("transaction-results", "transaction results", (PARTIES,),
     lambda c, a: c.subscribe_transaction_results(a.party_ids)),
    ("event-bus", "raw bus events of some types",
     (("type", "BUS_EVENT_TYPE_… (repeat for several)", True, True),),
     lambda c, a: c.subscribe_event_bus(a.types)),
    ("raw", "any stream route: PATH with --param name=value (repeat; repeated names: a list)",
     (("param", "NAME=VALUE query parameter", True, False),),
     lambda c, a: c.subscribe(a.path, **_params(a.params))),
]


def add_tail_parser(subparsers: Any) -> None:
    """``wsclients tail vega STREAM [options]``."""
    vega = subparsers.add_parser(
        "vega", help="Vega data-node streams",
        description="Print a live stream of a Vega data node. Each stream is its own socket.",
    )
    streams = vega.add_subparsers(dest="stream", metavar="STREAM", required=True)
    for name, help_text, options, subscribe in _STREAMS:
        parser = streams.add_parser(name, help=help_text, description=help_text)
        if name == "raw":
            parser.add_argument("path", help="route under /api/v2/stream/, e.g. trades")
        for flag, what, repeat, required in options:
            dest = flag.replace("-", "_") + ("s" if repeat else "")
            parser.add_argument(f"--{flag}", dest=dest, action="append" if repeat else "store",
                                required=required, help=what)
        _common(parser)
        parser.set_defaults(func=_tail(subscribe))


def _tail(subscribe: Subscribe) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        client = VegaClient(url=args.url)
        return run_client_loop(client, args, subscribe=lambda: subscribe(client, args))

    return run


def add_book_parser(subparsers: Any) -> None:
    """``wsclients book vega MARKET_ID [--depth N]``."""
    parser = subparsers.add_parser(
        "vega", help="a Vega market's order book",
        description="Keep a local order book from depth updates and REST snapshots "
                    "(resynced on gaps, crossed books and reconnects) and print it.",
    )
    parser.add_argument("market_id", help="the market id (64 hex characters)")
    parser.add_argument("--depth", type=positive_int, default=10,
                        help="levels per side (default 10)")
    _common(parser)
    parser.set_defaults(func=_run_book)


def _run_book(args: argparse.Namespace) -> int:
    client = VegaClient(url=args.url)
    return run_client_loop(
        client, args, kinds={"book", "error"},
        subscribe=lambda: client.subscribe_book(args.market_id, depth=args.depth),
        printer=LadderPrinter(sys.stdout, depth=args.depth, as_json=args.json),
    )


def add_fake_parser(subparsers: Any) -> None:
    """``wsclients fake vega [--port N] [--rate R]``."""
    parser = subparsers.add_parser(
        "vega", help="a fake Vega data node with a simulated market",
        description="Serve FakeVegaNode on 127.0.0.1 (streams and REST on one port) with "
                    "blocks of simulated trades and depth; connect with --url "
                    "http://127.0.0.1:PORT. Its market ids are printed at start.",
    )
    add_fake_options(parser, rate_help="blocks per second", rate=5.0)
    parser.set_defaults(func=_run_fake)


def _run_fake(args: argparse.Namespace) -> int:
    from wsclients.testing.vega import FakeVegaNode  # the testing extra

    node = FakeVegaNode()

    def begin() -> None:
        node.start_blocks(1.0 / args.rate)
        for market_id in node.market_ids:
            print(f"market {market_id} {node.markets[market_id].code}", flush=True)

    return serve(node, args, title="fake Vega data node", begin=begin, end=node.stop_blocks)


def run_demo(args: argparse.Namespace) -> int:
    """``wsclients demo --venue vega``: a fake data node in-process, a block every 0.2 s;
    prints its trades and the top of one market's book."""
    from wsclients.testing.vega import FakeVegaNode  # the demo only: needs the testing extra

    with FakeVegaNode() as node:
        node.start_blocks(0.2)
        banner(f"fake Vega data node on {node.url}", args)
        client = VegaClient(url=node.url)
        client.subscribe_trades(node.market_ids)
        client.subscribe_book(node.market_ids[0], depth=5)
        try:
            return run_client_loop(client, args, kinds={"trade", "book", "error"})
        finally:
            node.stop_blocks()
