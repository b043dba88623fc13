"""``wsclients tail centrifugo URL CHANNEL…`` and a demo on a local fake Centrifugo.

The connection token can come from ``$CENTRIFUGO_TOKEN`` rather than the command line, where
other users of the machine could read it.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import threading
from typing import Any

from wsclients.cli._output import add_output_options, banner, run_client_loop
from wsclients.errors import SubscriptionRejected
from wsclients.venues.centrifugo.client import CentrifugoClient

__all__ = ["TOKEN_VARIABLE", "add_tail_parser", "run_demo"]

TOKEN_VARIABLE = "CENTRIFUGO_TOKEN"


def add_tail_parser(subparsers: Any) -> None:
    """``wsclients tail centrifugo URL CHANNEL [CHANNEL …] [--token TOKEN]``."""
    parser = subparsers.add_parser(
        "centrifugo", help="any Centrifugo server (client protocol v2, JSON)",
        description="Connect to a Centrifugo server, subscribe to channels and print every "
                    "publication (recovered after reconnects where the channel allows).",
    )
    parser.add_argument("url", help="the WebSocket endpoint, e.g. "
                                    "wss://example.com/connection/websocket")
    parser.add_argument("channels", nargs="+", metavar="CHANNEL", help="channels to subscribe")
    parser.add_argument("--token", default=None,
                        help=f"connection JWT (default: ${TOKEN_VARIABLE} if set)")
    parser.add_argument("--name", default="wsclients", help="client name sent in connect")
    add_output_options(parser)
    parser.set_defaults(func=_run_tail)


def _run_tail(args: argparse.Namespace) -> int:
    token = args.token or os.environ.get(TOKEN_VARIABLE) or None
    client = CentrifugoClient(url=args.url, token=token, name=args.name)
    try:
        for channel in args.channels:
            client.subscribe(channel)
    except SubscriptionRejected as exc:
        print(f"wsclients: {exc}", file=sys.stderr)
        return 2
    return run_client_loop(client, args, kinds={"message", "error"})


def run_demo(args: argparse.Namespace) -> int:
    """``wsclients demo --venue centrifugo``: a fake Centrifugo in-process publishing a
    counter into ``chat`` every 0.3 s; prints the publications."""
    from wsclients.testing.centrifugo import FakeCentrifugo  # the demo only: testing extra

    with FakeCentrifugo() as fake:
        banner(f"fake Centrifugo on {fake.url}", args)
        stop = threading.Event()

        def publish() -> None:
            for n in itertools.count():
                if stop.wait(0.3):
                    return
                fake.publish("chat", {"n": n, "text": f"message {n}"})

        publisher = threading.Thread(target=publish, name="wsclients-demo-publisher",
                                     daemon=True)
        publisher.start()
        client = CentrifugoClient(url=fake.url, token=fake.make_token("demo"))
        client.subscribe("chat")
        try:
            return run_client_loop(client, args, kinds={"message", "error"})
        finally:
            stop.set()
            publisher.join(2.0)
