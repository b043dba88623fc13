"""Slow consumer: a callback that sleeps must not stall the reader, nor grow memory without bound.

Run: ``python benchmarks/bench_slow_consumer.py [--quick]``

A feed process (``_feed.py blast``) writes N ``trades`` frames (500,000; ``--quick``: 100,000)
as fast as the client reads them, into a ``HyperliquidClient`` whose ``on_trade`` sleeps 1 ms
per trade (at most ~1,000 trades/s reach user code). Each configuration runs in a fresh
process, so its peak RSS (``ru_maxrss``) is its own. Reported: how long the reader took to
read every frame (it never waits for the callback), reconnects (must be 0: the socket was
never stalled long enough to be declared stale or dropped), callbacks run, events dropped
(``stats.dropped`` counts both the callback queue's overflow and the default ``get()`` queue's,
which nobody reads here; the table splits them), and the RSS growth from just before
``start()`` to the peak.

Configurations: ``queue_size`` small (1,000) and large (100,000), each with a stream of N/5
and of N frames. The issue 6 target: RSS growth bounded by the queue, not by the stream:
the two stream lengths must give about the same growth for the same ``queue_size``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from typing import Any, Optional

from _common import machine_line, rst_table
from _feed import Feed


def child(url: str, frames: int, queue_size: int, sleep: float) -> dict[str, Any]:
    """One configuration, in this (fresh) process."""
    from wsclients import HyperliquidClient

    calls = [0]

    def on_trade(trade: Any) -> None:
        calls[0] += 1
        time.sleep(sleep)

    client = HyperliquidClient(url=url, on_trade=on_trade, queue_size=queue_size)
    client.subscribe_trades("BTC")
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    client.start()
    started = time.monotonic()
    deadline = started + 600
    # Every frame read: the ack plus the stream.
    while client.stats.messages < frames + 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    read_s = time.monotonic() - started
    stats = client.stats
    hub = client._hub  # private, for the split below: the benchmark's own business
    inbox = hub._inbox
    callback_drops = inbox.dropped if inbox is not None else 0
    unread_drops = hub.default_queue.dropped
    client.stop()
    return {
        "read_s": read_s,
        "messages": stats.messages - 1,
        "reconnects": stats.reconnects,
        "callbacks": calls[0],
        "dropped": stats.dropped,
        "callback_drops": callback_drops,
        "unread_drops": unread_drops,
        "rss_growth_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before)
        / 1024,
    }


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100,000 frames")
    parser.add_argument("--frames", type=int, default=None, help="the long stream (500,000)")
    parser.add_argument("--sleep", type=float, default=0.001, help="seconds per callback")
    parser.add_argument("--child", nargs=3, metavar=("URL", "FRAMES", "QUEUE_SIZE"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        url, frames, queue_size = args.child
        print(json.dumps(child(url, int(frames), int(queue_size), args.sleep)))
        return 0

    long = args.frames or (100_000 if args.quick else 500_000)
    short = long // 5
    print(machine_line())
    print(f"streams of {short:,} and {long:,} frames; callback sleeps {args.sleep * 1000:g} ms",
          flush=True)
    rows = []
    for frames in (short, long):
        with Feed("blast", "--frames", str(frames)) as feed:
            for queue_size in (1_000, 100_000):
                out = subprocess.run(
                    [sys.executable, os.path.abspath(__file__), "--sleep", str(args.sleep),
                     "--child", feed.url, str(frames), str(queue_size)],
                    capture_output=True, text=True, check=True,
                )
                r = json.loads(out.stdout.strip().splitlines()[-1])
                print(f"  {frames:,} frames, queue_size {queue_size:,}: {r}", file=sys.stderr,
                      flush=True)
                rows.append([f"{queue_size:,}", f"{frames:,}", f"{r['messages']:,}",
                             f"{r['read_s']:.1f}", f"{r['messages'] / r['read_s']:,.0f}",
                             str(r["reconnects"]), f"{r['callbacks']:,}",
                             f"{r['callback_drops']:,}", f"{r['unread_drops']:,}",
                             f"{r['rss_growth_mb']:,.0f}"])
    rows.sort(key=lambda row: (int(row[0].replace(",", "")), int(row[1].replace(",", ""))))
    print()
    print(f"``python benchmarks/bench_slow_consumer.py{' --quick' if args.quick else ''}``")
    print()
    print(rst_table(["queue_size", "frames sent", "frames read", "read in s", "read msg/s",
                     "reconnects", "callbacks run", "dropped (callbacks)",
                     "dropped (unread get() queue)", "RSS growth MB"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
