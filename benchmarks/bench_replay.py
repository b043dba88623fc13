"""Replay speed: frames per second a recording is played back through the venue's parser.

Run: ``python benchmarks/bench_replay.py [--quick] [--frames N] [--rounds R]``

First a live ``HyperliquidClient`` records N ``trades`` frames from the blast feed
(``_feed.py``) to a ``.jsonl`` and a ``.jsonl.gz`` file. Then, round after round, each file
is replayed as fast as possible (``wsclients.replay(path)``) with an ``on_trade`` callback
(default dispatcher thread, and ``dispatch="inline"``) and with a ``get()`` loop; the rate is
recorded frames over the time from ``start()`` to the last trade delivered. The live
``on_trade`` row (the same client on the feed, not recording) is in the same run for scale.
Every replayed frame is parsed by ``HyperliquidProtocol`` into a full ``Trade`` (and checked
for duplicates), exactly as live.
"""

from __future__ import annotations

import argparse
import os
import queue
import statistics
import sys
import tempfile
import time
from functools import partial
from typing import Any, Callable, Optional

from _common import Counter, alternate, machine_line, ratio, rst_table, spread
from _feed import Feed

import wsclients
from wsclients import HyperliquidClient

TIMEOUT = 120.0


def record(feed: Feed, n: int, path: str) -> None:
    """Record the feed's N trades frames to ``path``."""
    counter = Counter(n)
    client = HyperliquidClient(url=feed.url, on_trade=lambda trade: counter.hit())
    recorder = client.record(path)
    client.subscribe_trades("BTC")
    client.start()
    try:
        counter.wait(TIMEOUT)
    finally:
        client.stop()
    if recorder.frames < n:
        raise SystemExit(f"recorded {recorder.frames} of {n} frames")


def run_live(feed: Feed, n: int) -> float:
    counter = Counter(n)
    client = HyperliquidClient(url=feed.url, on_trade=lambda trade: counter.hit())
    client.subscribe_trades("BTC")
    client.start()
    try:
        counter.wait(TIMEOUT)
    finally:
        client.stop()
    return counter.rate()


def run_replay(path: str, n: int, mode: str) -> float:
    """``mode``: "thread", "inline" or "get"; frames per second from start() to the last."""
    count = 0
    options: dict[str, Any] = {}
    if mode in ("thread", "inline"):
        counter = Counter(n)
        options = {"on_trade": lambda trade: counter.hit(), "dispatch": mode}
    client = wsclients.replay(path, **options)
    started = time.perf_counter()
    client.start()
    try:
        if mode == "get":
            get = client.get
            while True:
                try:
                    event = get(TIMEOUT)
                except queue.Empty:
                    break
                if event.kind == "trade":
                    count += 1
            last = time.perf_counter()
        else:
            counter.wait(TIMEOUT)
            count, last = counter.count, counter.last
    finally:
        client.stop()
    if count < n:
        print(f"  {mode}: only {count} of {n} trades", file=sys.stderr)
    return count / (last - started)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="50,000 frames, 3 rounds")
    parser.add_argument("--frames", type=int, default=None, help="frames (200,000)")
    parser.add_argument("--rounds", type=int, default=None, help="alternating rounds (5)")
    args = parser.parse_args(argv)
    n = args.frames or (50_000 if args.quick else 200_000)
    rounds = args.rounds or (3 if args.quick else 5)
    print(machine_line())
    with tempfile.TemporaryDirectory() as folder, Feed("blast", "--frames", str(n)) as feed:
        paths = {suffix: os.path.join(folder, "trades" + suffix)
                 for suffix in (".jsonl", ".jsonl.gz")}
        for path in paths.values():
            record(feed, n, path)
        sizes = {s: os.path.getsize(p) for s, p in paths.items()}
        runs: dict[str, Callable[[], float]] = {"live on_trade (feed)": partial(run_live, feed, n)}
        for suffix, path in paths.items():
            for mode, label in (("thread", "on_trade"), ("inline", "on_trade inline"),
                                ("get", "get() loop")):
                runs[f"replay {suffix} {label}"] = partial(run_replay, path, n, mode)
        started = time.monotonic()
        results = alternate(rounds, runs)
        took = time.monotonic() - started
    med = {name: statistics.median(values) for name, values in results.items()}
    live = med["live on_trade (feed)"]
    rows = [[name, f"{med[name]:,.0f}", spread(values), ratio(med[name], live)]
            for name, values in results.items()]
    print()
    print(f"``python benchmarks/bench_replay.py{' --quick' if args.quick else ''}`` "
          f"({n:,} frames x {rounds} rounds, {took:.0f} s; files: "
          + ", ".join(f"{s} {size / 1e6:.1f} MB" for s, size in sizes.items()) + ")")
    print()
    print(rst_table(["contender", "frames/s (median)", "min/max", "vs live"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
