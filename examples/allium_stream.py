"""Stream Ethereum blocks from Allium through a filter, pausing and resuming on the way.

    ALLIUM_API_KEY=… python examples/allium_stream.py
    python examples/allium_stream.py --fake --blocks 6     # a local FakeAllium

The client opens a socket for the topic and sends the filter, then ``start``; after a
reconnect it does both again by itself. Halfway, ``pause`` sends ``stop`` (the socket stays
open, nothing arrives) and ``resume`` sends ``start``. Delivery is best-effort, as Allium
says of its WebSocket streams: records sent while the client was away are not replayed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import threading
from collections.abc import Iterator
from typing import Optional

from wsclients import AlliumStreamClient, ErrorEvent, F, Message, Status
from wsclients.venues.allium.stream_protocol import STREAM_URL

TOPIC = "ethereum.blocks"


@contextlib.contextmanager
def fake_server() -> Iterator[tuple[str, str]]:
    from wsclients.testing.allium import FakeAllium  # needs the "testing" extra

    with FakeAllium(rate=20.0) as fake:
        yield fake.stream_url(TOPIC), fake.api_key or ""


def main(argv: Optional[list[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=STREAM_URL, help="the stream endpoint")
    parser.add_argument("--api-key", default=os.environ.get("ALLIUM_API_KEY"),
                        help="the API key (default: $ALLIUM_API_KEY)")
    parser.add_argument("--min-transactions", type=int, default=100,
                        help="only blocks with more transactions than this")
    parser.add_argument("--blocks", type=int, default=10, help="stop after this many blocks")
    parser.add_argument("--pause", type=float, default=1.0, help="seconds to pause halfway")
    parser.add_argument("--fake", action="store_true", help="run against a local fake server")
    args = parser.parse_args(argv)

    halfway, done = threading.Event(), threading.Event()
    count = 0

    def on_message(message: Message) -> None:
        # Runs on the client's dispatcher thread, one record at a time.
        nonlocal count
        block = message.data
        count += 1
        print(f"block {block.get('number')} with {block.get('transaction_count')} "
              f"transactions, gas used {block.get('gas_used')}")
        if count == args.blocks // 2:
            halfway.set()
        if count >= args.blocks:
            done.set()

    def on_error(error: ErrorEvent) -> None:
        print(f"!! {error.message}")
        if error.fatal:  # a refused key or topic: that stream has stopped
            halfway.set()
            done.set()

    def on_status(status: Status) -> None:
        print(f"-- {status.state}" + (f" ({status.reason})" if status.reason else ""))

    with contextlib.ExitStack() as stack:
        url, key = stack.enter_context(fake_server()) if args.fake else (args.url, args.api_key)
        if not key:
            parser.error("an API key is needed: --api-key or $ALLIUM_API_KEY")
        client = AlliumStreamClient(api_key=key, url=url, on_message=on_message,
                                    on_error=on_error, on_status=on_status)
        client.subscribe(TOPIC, filter=F("transaction_count") > args.min_transactions)
        with client:
            while not halfway.wait(0.5):  # short waits keep Ctrl-C responsive
                pass
            if not done.is_set():
                client.pause(TOPIC)
                print(f"paused for {args.pause:g} s (the socket stays open)")
                done.wait(args.pause)
                client.resume(TOPIC)
                print("resumed")
            while not done.wait(0.5):
                pass
        print(f"stats: {client.stats}")


if __name__ == "__main__":
    main()
