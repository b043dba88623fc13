"""Scale: 100 clients in one process on one fake server — threads, idle CPU, CPU under load.

Run: ``python benchmarks/bench_scale.py [--quick] [--clients N] [--load MSGS_PER_S]``

``FakeHyperliquid`` runs in a process of its own (``_fake_hl.py``) so that only the clients'
CPU is counted. N clients (100) each subscribe to BTC trades with an ``on_trade`` callback;
then the process's threads are counted (``threading.active_count()``), its CPU time
(``resource.getrusage``, user + system) is measured over an idle window, and again while the
fake publishes trades at ``load / N`` per second, so that every client gets its share of
``load`` (10,000) messages per second in total. Every client must receive; the table shows
the slowest and fastest client. Targets (issue 6): at most 2 threads per client plus a
constant, idle CPU under 5 %.

Under load, every client also takes the latency of each trade from the fake's send (the fake
puts its ``time.perf_counter_ns()`` in the trade's ``users[0]``; CLOCK_MONOTONIC is one clock
for every process) to its callback: the p50 and p99 over all clients. It includes the
fake's own fan-out (one frame written to 100 sockets in turn), the same for every row.

The same is measured for 100 ``websocket.WebSocketApp`` clients (baseline A: default
``run_forever()`` with a 20 s ``ping_interval``, ``json.loads`` in ``on_message``) for
context. CPU is a percentage of one core.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
from typing import Any, Callable, Optional

import websocket
from _common import SUBSCRIBE_TRADES, machine_line, rst_table

from wsclients import HyperliquidClient
from wsclients.venues.hyperliquid.limits import ConnectionBudget

UNLIMITED = ConnectionBudget(max_open=10**9, max_per_window=10**9)
stops: list[Callable[[], None]] = []  # second phase of stopping (baseline threads to join)


class Latencies:
    """Send → callback latencies in ns, kept only while ``recording`` (the load window)."""

    recording = False
    values: list[int] = []

    @classmethod
    def add(cls, users: Any) -> None:
        if cls.recording:
            cls.values.append(time.perf_counter_ns() - int(users[0]))

    @classmethod
    def percentiles(cls) -> tuple[float, float]:
        """p50 and p99 in microseconds."""
        data = sorted(cls.values)
        if not data:
            return float("nan"), float("nan")
        return (data[len(data) // 2] / 1000.0,
                data[min(len(data) - 1, int(0.99 * len(data)))] / 1000.0)


class Fake:
    """The fake in its subprocess."""

    def __init__(self) -> None:
        here = os.path.dirname(os.path.abspath(__file__))
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(here, "_fake_hl.py")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        line = self._read()
        self.url = f"ws://127.0.0.1:{int(line.split()[1])}/ws"

    def _read(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline()

    def command(self, text: str) -> str:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()
        return self._read().strip()

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure_cpu(seconds: float) -> float:
    """Percent of one core this process used over the next ``seconds``."""
    before = cpu_seconds()
    start = time.monotonic()
    time.sleep(seconds)
    return (cpu_seconds() - before) / (time.monotonic() - start) * 100


def run(
    name: str, fake: Fake, n: int, load: float, window: float,
    make: Callable[[int, list[int]], tuple[Callable[[], None], Callable[[], None]]],
) -> list[str]:
    """Start ``n`` clients with ``make(i, counts)`` → (start, stop); measure; stop them."""
    threads_before = threading.active_count()
    counts = [0] * n
    clients = [make(i, counts) for i in range(n)]
    started = time.monotonic()
    for start, _ in clients:
        start()
    # Every client subscribed: wait until each has seen a trade while the fake trickles.
    fake.command(f"rate {min(50.0, load / n)}")
    deadline = time.monotonic() + 60
    while min(counts) == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    fake.command("rate 0")
    ready = time.monotonic() - started
    time.sleep(1.0)  # let the trickle drain
    threads = threading.active_count() - threads_before
    idle = measure_cpu(window)
    fake.command(f"rate {load / n}")
    time.sleep(1.0)  # warm up
    base = list(counts)
    Latencies.values = []
    Latencies.recording = True
    t0 = time.monotonic()
    busy = measure_cpu(window)
    got = [c - b for c, b in zip(counts, base)]
    elapsed = time.monotonic() - t0
    Latencies.recording = False
    p50, p99 = Latencies.percentiles()
    fake.command("rate 0")
    stop_started = time.monotonic()
    for _, stop in clients:
        stop()
    while stops:
        stops.pop()()
    stop_took = time.monotonic() - stop_started
    print(f"  {name}: ready in {ready:.1f} s, stopped in {stop_took:.1f} s, "
          f"threads left {threading.active_count() - threads_before}", file=sys.stderr,
          flush=True)
    per_s = sum(got) / elapsed
    low, high = min(got) / elapsed, max(got) / elapsed
    return [name, str(n), f"{threads} ({threads / n:.2f}/client)", f"{idle:.1f} %",
            f"{per_s:,.0f}", f"{busy:.0f} %", f"{low:,.0f}-{high:,.0f}",
            f"{p50:,.0f}", f"{p99:,.0f}"]


add = Latencies.add


def make_wsclients(url: str, dispatch: str) -> Callable[
        [int, list[int]], tuple[Callable[[], None], Callable[[], None]]]:
    def make(i: int, counts: list[int]) -> tuple[Callable[[], None], Callable[[], None]]:
        def on_trade(trade: Any) -> None:
            counts[i] += 1
            add(trade.raw["users"])

        # A local fake has no per-IP connection limits: do not count against the venue's.
        client = HyperliquidClient(url=url, on_trade=on_trade, dispatch=dispatch,
                                   connection_budget=UNLIMITED)
        client.subscribe_trades("BTC")
        return client.start, client.stop

    return make


def make_baseline(url: str) -> Callable[[int, list[int]], tuple[Callable[[], None],
                                                                   Callable[[], None]]]:
    def make(i: int, counts: list[int]) -> tuple[Callable[[], None], Callable[[], None]]:
        opened = threading.Event()

        def on_message(ws: Any, message: Any) -> None:
            frame = json.loads(message)
            if frame.get("channel") == "trades":
                counts[i] += len(frame["data"])
                for item in frame["data"]:
                    add(item["users"])

        def on_open(ws: Any) -> None:
            ws.send(SUBSCRIBE_TRADES)
            opened.set()

        app = websocket.WebSocketApp(url, on_open=on_open, on_message=on_message)
        thread = threading.Thread(target=app.run_forever, kwargs={"ping_interval": 20},
                                  daemon=True)

        def start() -> None:
            thread.start()
            opened.wait(10)

        def stop() -> None:
            app.close()  # joined below, after every app was told to close

        stops.append(lambda: thread.join(5))
        return start, stop

    return make


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 s windows")
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--load", type=float, default=10_000.0, help="messages/s, all clients")
    parser.add_argument("--window", type=float, default=None, help="seconds per CPU window (5)")
    parser.add_argument("--only", default="", help="run only rows whose name contains this")
    args = parser.parse_args(argv)
    window = args.window or (2.0 if args.quick else 5.0)
    print(machine_line())
    print(f"{args.clients} clients, load {args.load:,.0f} msg/s in total, {window:g} s windows",
          flush=True)
    fake = Fake()
    cases = {
        "wsclients on_trade": lambda: make_wsclients(fake.url, "thread"),
        "wsclients on_trade inline": lambda: make_wsclients(fake.url, "inline"),
        "baseline A (WebSocketApp)": lambda: make_baseline(fake.url),
    }
    try:
        rows = [run(name, fake, args.clients, args.load, window, make())
                for name, make in cases.items() if args.only in name]
    finally:
        fake.close()
    print()
    print(f"``python benchmarks/bench_scale.py{' --quick' if args.quick else ''}`` "
          f"({window:g} s windows; CPU in % of one core, this process only)")
    print()
    print(rst_table(["clients", "n", "threads added", "CPU idle", "msg/s delivered",
                     "CPU at load", "per client msg/s", "p50 µs", "p99 µs"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
