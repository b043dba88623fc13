"""Latency: send → user code, at a steady 2,000 frames/s.

Run: ``python benchmarks/bench_latency.py [--quick] [--seconds S] [--rounds R]
[--only KEYS] [--before LABEL=PATH]``

A feed process (``_feed.py paced``) sends one ``trades`` frame every 0.5 ms, each trade carrying
the sender's ``time.perf_counter_ns()`` (CLOCK_MONOTONIC, one clock for every process on the
machine) in an extra ``sent_ns`` field. User code subtracts it from its own clock on arrival.
The first 200 samples of a run (connection warm-up) are dropped. Contenders run in turn,
round after round; the table gives, per contender, the median over rounds of each
percentile, and the difference to baseline A (issue 6 targets for wsclients ``on_trade``:
p50 within 100 µs of A, p99 within 1 ms; issue 17: p99.9 at most A's, p50 and p99 below it).
With ``--before``, every wsclients row also runs with an older checkout, each in a fresh
process of its own.

- ``baseline A``: ``websocket.WebSocketApp``, default ``run_forever()``, ``json.loads``.
- ``wsclients on_trade``: ``HyperliquidClient(on_trade=…)``, the default dispatcher thread
  (which, idle between frames at this rate, reads each frame itself: docs/threading.rst,
  "Who reads the socket").
- ``wsclients on_trade inline``, ``wsclients get() loop``: for comparison.
- ``wsclients on_trade, queue_size=1000``: with callbacks, the default ``get()`` queue still
  keeps up to ``queue_size`` events nobody reads; the full garbage collections that walk them
  are what the tail of ``on_trade`` is made of (``gc.callbacks`` show 30-115 ms gen-2 passes on
  this machine, each delaying every frame that arrives meanwhile). A small ``queue_size``
  bounds that heap.
"""

from __future__ import annotations

import argparse
import gc
import json
import queue
import statistics
import sys
import threading
import time
from functools import partial
from typing import Any, Callable, Optional

import websocket
from _common import SUBSCRIBE_TRADES, before_versions, machine_line, rst_table, run_child
from _feed import Feed

from wsclients import HyperliquidClient

WARMUP = 200
RATE = 2000.0


class Samples:
    """Latencies in ns, appended by user code; ``done`` once ``expected`` frames came."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.values: list[int] = []
        self.done = threading.Event()

    def add(self, sent_ns: int) -> None:
        values = self.values
        values.append(time.perf_counter_ns() - sent_ns)
        if len(values) >= self.expected:
            self.done.set()

    def percentiles(self) -> tuple[float, float, float]:
        """p50, p99, p99.9 in microseconds, warm-up dropped."""
        data = sorted(self.values[WARMUP:])
        if not data:
            return (float("nan"),) * 3  # type: ignore[return-value]

        def pick(q: float) -> float:
            return data[min(len(data) - 1, int(q * len(data)))] / 1000.0

        return pick(0.50), pick(0.99), pick(0.999)


def run_baseline_a(url: str, expected: int, wait: float) -> tuple[float, float, float]:
    samples = Samples(expected)
    add = samples.add

    def on_message(ws: Any, message: Any) -> None:
        frame = json.loads(message)
        if frame["channel"] == "trades":
            for item in frame["data"]:
                add(item["sent_ns"])

    app = websocket.WebSocketApp(
        url, on_open=lambda ws: ws.send(SUBSCRIBE_TRADES), on_message=on_message
    )
    thread = threading.Thread(target=app.run_forever, daemon=True)
    thread.start()
    samples.done.wait(wait)
    app.close()
    thread.join(5)
    return samples.percentiles()


def run_wsclients(
    url: str, expected: int, wait: float, *, mode: str, queue_size: int = 100_000
) -> tuple[float, float, float]:
    samples = Samples(expected)
    add = samples.add

    def on_trade(trade: Any) -> None:
        add(trade.raw["sent_ns"])

    options: dict[str, Any] = {"url": url, "queue_size": queue_size}
    if mode != "get":
        options.update(on_trade=on_trade, dispatch=mode)
    client = HyperliquidClient(**options)
    client.subscribe_trades("BTC")
    client.start()
    try:
        if mode == "get":
            deadline = time.monotonic() + wait
            while not samples.done.is_set() and time.monotonic() < deadline:
                try:
                    event = client.get(0.5)
                except queue.Empty:
                    continue
                if event.kind == "trade":
                    on_trade(event)
        else:
            samples.done.wait(wait)
    finally:
        client.stop()
    return samples.percentiles()


def run_in_subprocess(
    url: str, expected: int, wait: float, mode: str, queue_size: int, lib: Optional[str]
) -> tuple[float, float, float]:
    """``run_wsclients`` in a fresh process, importing wsclients from ``lib`` if given."""
    p50, p99, p999 = run_child(
        __file__, [url, str(expected), str(wait), mode, str(queue_size)], lib)[-3:]
    return float(p50), float(p99), float(p999)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 s runs, 2 rounds")
    parser.add_argument("--seconds", type=float, default=None, help="seconds per run (10)")
    parser.add_argument("--rounds", type=int, default=None, help="alternating rounds (3)")
    parser.add_argument("--only", default="", help="comma-separated row keys to run")
    parser.add_argument(
        "--before", metavar="LABEL=PATH", action="append", default=[],
        help="also run the wsclients rows with the wsclients package found in PATH (an older "
        "checkout); every wsclients row then runs in a subprocess of its own (repeatable)",
    )
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:  # one wsclients run in a subprocess: URL EXPECTED WAIT MODE QUEUE_SIZE
        url, count, seconds_to_wait, mode, size = args.child
        print(*run_wsclients(url, int(count), float(seconds_to_wait), mode=mode,
                             queue_size=int(size)))
        return 0
    seconds = args.seconds or (3.0 if args.quick else 10.0)
    rounds = args.rounds or (2 if args.quick else 3)
    expected = int(RATE * seconds)
    wait = seconds + 10.0

    print(machine_line())
    print(f"{RATE:,.0f} frames/s for {seconds:g} s per run, {rounds} rounds", flush=True)
    runs: dict[str, Callable[[str], tuple[float, float, float]]] = {
        "baseline A": lambda url: run_baseline_a(url, expected, wait),
    }
    rows_wanted = {
        "wsclients on_trade": ("thread", 100_000),
        "wsclients on_trade inline": ("inline", 100_000),
        "wsclients get() loop": ("get", 100_000),
        "wsclients on_trade, queue_size=1000": ("thread", 1000),
    }
    for row, (mode, size) in rows_wanted.items():
        if args.before:
            runs[row] = partial(_subprocess_run, expected, wait, mode, size, None)
            for label, path in before_versions(args.before).items():
                runs[f"{row} [{label}]"] = partial(
                    _subprocess_run, expected, wait, mode, size, path)
        else:
            runs[row] = partial(_in_process_run, expected, wait, mode, size)
    if args.only:
        keys = [k.strip() for k in args.only.split(",")]
        runs = {k: v for k, v in runs.items() if k == "baseline A" or any(x in k for x in keys)}
    results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in runs}
    names = list(runs)
    with Feed("paced", "--rate", str(RATE), "--seconds", str(seconds)) as feed:
        for r in range(rounds):
            for name in names[r % len(names):] + names[:r % len(names)]:
                gc.collect()  # the last run's client is cyclic garbage: not in this run's time
                p = runs[name](feed.url)
                results[name].append(p)
                print(f"  round {r + 1}/{rounds} {name:<40} p50 {p[0]:8.1f} us  p99 {p[1]:8.1f} us"
                      f"  p99.9 {p[2]:8.1f} us", file=sys.stderr, flush=True)

    med = {name: tuple(statistics.median(p[i] for p in values) for i in range(3))
           for name, values in results.items()}
    a = med["baseline A"]
    rows = []
    for name, (p50, p99, p999) in med.items():
        rows.append([name, f"{p50:,.0f}", f"{p99:,.0f}", f"{p999:,.0f}",
                     f"{p50 - a[0]:+,.0f}", f"{p99 - a[1]:+,.0f}", f"{p999 - a[2]:+,.0f}"])
    print()
    print(f"``python benchmarks/bench_latency.py{' --quick' if args.quick else ''}`` "
          f"({RATE:,.0f} frames/s, {seconds:g} s x {rounds} rounds; microseconds)")
    print()
    print(rst_table(["contender", "p50", "p99", "p99.9", "p50 vs A", "p99 vs A",
                     "p99.9 vs A"], rows))
    return 0


def _in_process_run(
    expected: int, wait: float, mode: str, size: int, url: str
) -> tuple[float, float, float]:
    return run_wsclients(url, expected, wait, mode=mode, queue_size=size)


def _subprocess_run(
    expected: int, wait: float, mode: str, size: int, lib: Optional[str], url: str
) -> tuple[float, float, float]:
    return run_in_subprocess(url, expected, wait, mode, size, lib)


if __name__ == "__main__":
    sys.exit(main())
