"""``wsclients allium get|post …``, ``wsclients tail allium TOPIC`` and the Allium demo.

``allium get /api/v1/… [-p name=value …]`` and ``allium post /api/v1/… --body '{…}'`` send
one request over Allium's API WebSocket and print the reply's ``data`` as JSON.
``tail allium ethereum.blocks [--filter '{…}']`` prints a data stream. The key comes from
``--api-key`` or, better (the command line is visible to other users of the machine), from
``$ALLIUM_API_KEY``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Optional

from wsclients.cli._output import add_output_options, banner, run_client_loop
from wsclients.errors import WSClientError
from wsclients.venues.allium.api_client import AlliumApiClient
from wsclients.venues.allium.api_protocol import API_URL
from wsclients.venues.allium.filters import F
from wsclients.venues.allium.stream_client import AlliumStreamClient
from wsclients.venues.allium.stream_protocol import STREAM_URL

__all__ = ["KEY_VARIABLE", "add_commands", "add_tail_parser", "run_demo"]

KEY_VARIABLE = "ALLIUM_API_KEY"
"""The environment variable the commands read the API key from."""


def _json_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not JSON: {exc}") from exc


def _json_object(text: str) -> dict[str, Any]:
    value = _json_value(text)
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("expected a JSON object: {…}")
    return value


def _param(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, not {text!r}")
    return name, value


def _add_key_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--api-key", default=None,
                        help=f"the Allium API key (default: ${KEY_VARIABLE})")


def _api_key(args: argparse.Namespace) -> Optional[str]:
    key = args.api_key or os.environ.get(KEY_VARIABLE)
    if not key:
        print(f"wsclients: an Allium API key is needed: set ${KEY_VARIABLE} or pass --api-key",
              file=sys.stderr)
    return key or None


def add_commands(commands: Any) -> None:
    """``wsclients allium get PATH …`` and ``wsclients allium post PATH --body JSON``."""
    allium = commands.add_parser(
        "allium", help="call Allium's API over WebSocket and print the reply as JSON",
        description="Send one request over Allium's API WebSocket and print its data as JSON.",
    )
    verbs = allium.add_subparsers(dest="verb", metavar="VERB", required=True)
    get = verbs.add_parser("get", help="a GET request (query parameters go in the body)")
    get.add_argument("path", help="the API path, e.g. /api/v1/developer/assets")
    get.add_argument("-p", "--param", dest="params", action="append", type=_param,
                     default=[], metavar="NAME=VALUE", help="a query parameter (repeatable)")
    get.add_argument("--body", type=_json_object, default=None, metavar="JSON",
                     help="the query parameters as one JSON object")
    post = verbs.add_parser("post", help="a POST request with a JSON body")
    post.add_argument("path", help="the API path, e.g. /api/v1/developer/prices")
    post.add_argument("--body", type=_json_value, default=None, metavar="JSON",
                      help="the body: a JSON object or array")
    for parser, method in ((get, "GET"), (post, "POST")):
        parser.add_argument("--url", default=API_URL, help="WebSocket URL (default: %(default)s)")
        _add_key_option(parser)
        parser.add_argument("--timeout", type=float, default=30.0,
                            help="seconds to wait for the reply (default: %(default)s)")
        parser.add_argument("--compact", action="store_true", help="one line of JSON")
        parser.set_defaults(func=_run_request, method=method)


def _run_request(args: argparse.Namespace) -> int:
    key = _api_key(args)
    if key is None:
        return 2
    body: Any = args.body
    if args.method == "GET" and args.params:
        body = {**(body or {}), **dict(args.params)}
    try:
        client = AlliumApiClient(api_key=key, url=args.url, max_attempts=3,
                                 request_timeout=args.timeout)
        with client:
            data = client.request(args.method, args.path, body)
    except (WSClientError, ValueError) as exc:
        print(f"wsclients: {exc}", file=sys.stderr)
        return 1
    indent = None if args.compact else 2
    print(json.dumps(data, indent=indent, ensure_ascii=False))
    return 0


def add_tail_parser(subparsers: Any) -> None:
    """``wsclients tail allium TOPIC [--filter JSON] [--paused] …``."""
    allium = subparsers.add_parser(
        "allium", help="an Allium data stream (blockchain records)",
        description="Print the records of an Allium data stream, one line each. Delivery is "
                    "best-effort: records sent while reconnecting are not replayed.",
    )
    allium.add_argument("topic", help="the topic, e.g. ethereum.blocks or ethereum.transactions")
    allium.add_argument("--filter", type=_json_object, default=None, metavar="JSON",
                        help='a filter in the venue\'s JSON, e.g. '
                             '\'{"field":"value","operator":">","value":"1000000000000000000"}\'')
    allium.add_argument("--url", default=STREAM_URL,
                        help="the stream endpoint; the topic is added (default: %(default)s)")
    _add_key_option(allium)
    add_output_options(allium)
    allium.set_defaults(func=_run_tail)


def _run_tail(args: argparse.Namespace) -> int:
    key = _api_key(args)
    if key is None:
        return 2
    client = AlliumStreamClient(api_key=key, url=args.url)
    try:
        client.subscribe(args.topic, filter=args.filter)
    except (ValueError, TypeError) as exc:
        client.stop()
        print(f"wsclients: {exc}", file=sys.stderr)
        return 2
    return run_client_loop(client, args, kinds={"message", "error"})


def run_demo(args: argparse.Namespace) -> int:
    """``wsclients demo --venue allium``: a FakeAllium in-process; one API request, then
    Ethereum blocks and the transactions worth more than 1 ETH as they stream."""
    from wsclients.testing.allium import FakeAllium  # the demo only: the testing extra

    with FakeAllium(rate=4.0) as fake:
        banner(f"fake Allium on {fake.http_url} (simulated chains, no network)", args)
        key = fake.api_key or "demo"
        with AlliumApiClient(api_key=key, url=fake.api_url) as api:
            chains = api.get("/api/v1/supported-chains/realtime-apis/simple")
        banner(f"supported chains: {json.dumps(chains)}", args)
        client = AlliumStreamClient(api_key=key, url=fake.stream_url("ethereum.blocks"))
        client.subscribe("ethereum.blocks")
        client.subscribe("ethereum.transactions", filter=F("value") > "1000000000000000000")
        return run_client_loop(client, args, kinds={"message", "error"})
