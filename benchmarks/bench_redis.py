"""Fan-out through Redis Streams: what the sink costs the feed, and what comes out the far end.

Run: ``python benchmarks/bench_redis.py [--quick] [--frames N] [--rounds R] [--redis URL]``

Needs the ``redis`` extra and a ``redis-server`` binary (a private one is started on a free
127.0.0.1 port, without persistence, unless ``--redis`` names a server; the benchmark
FLUSHALLs it between runs). A feed process (``_feed.py blast``) writes N pre-encoded
Hyperliquid ``trades`` frames as fast as TCP takes them. Rows, alternated round after round:

- ``feed on_trade, no sink``: ``HyperliquidClient(on_trade=…)``; trades/s reaching user code.
- ``feed on_trade + RedisStreamSink``: the same client with a sink attached, in the same run:
  its own callbacks' rate (the ratio to the row above is what the sink costs the feed), and
  the sink's: events written to Redis per second (first delivery → N-th written) and drops.
- ``venue → feed → Redis → source``: the same, with a ``RedisStreamSource`` in another process
  (as a consumer on another machine would be) counting the trades its ``on_trade`` gets.
- ``source reading a filled stream``: a source in another process reading N entries that are
  already in Redis (``start_id="0"``): the consumer side's own ceiling.

The sink's buffer holds N events, so no row drops; ``--buffer`` sets a smaller one.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from typing import Any, Callable, Optional

from _common import Counter, alternate, machine_line, ratio, rst_table, spread
from _feed import Feed

from wsclients import HyperliquidClient, Trade
from wsclients.sinks import RedisStreamSink, RedisStreamSource

TIMEOUT = 120.0
STREAM = "wsclients:hyperliquid:trade:BTC"

Result = tuple[float, float, Optional[float], Optional[int]]
"""(events/s at the row's end, fraction delivered, sink written/s, sink drops)."""


class PrivateRedis:
    """redis-server on a free port, no persistence, for the length of the benchmark."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server") or shutil.which("valkey-server")
        if binary is None:
            raise SystemExit("no redis-server on PATH (apt-get install redis-server), "
                             "or pass --redis URL")
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.dir = tempfile.mkdtemp(prefix="bench-redis-")
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        self.url = f"redis://127.0.0.1:{self.port}/0"
        import redis

        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis.from_url(self.url).ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def flush(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    client.flushall()
    client.close()


def run_feed(feed: Feed, n: int, url: Optional[str], buffer: int) -> Result:
    """The feed client, with a sink when ``url`` is given; its on_trade rate."""
    counter = Counter(n)
    hit = counter.hit

    def on_trade(trade: Any) -> None:
        hit()

    client = HyperliquidClient(url=feed.url, on_trade=on_trade)
    sink = None
    if url is not None:
        flush(url)
        sink = RedisStreamSink(url, maxlen=n, buffer_size=buffer)
        client.add_sink(sink)
    client.subscribe_trades("BTC")
    client.start()
    sink_rate: Optional[float] = None
    dropped: Optional[int] = None
    try:
        counter.wait(TIMEOUT)
        if sink is not None:
            deadline = time.monotonic() + TIMEOUT
            while sink.stats.written + sink.stats.dropped < counter.count:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.01)
            done = time.perf_counter()
            stats = sink.stats
            sink_rate = stats.written / (done - counter.first) if done > counter.first else 0.0
            dropped = stats.dropped
    finally:
        client.stop()
    return counter.rate(), counter.count / n, sink_rate, dropped


def start_consumer(url: str, n: int, start_id: str) -> subprocess.Popen[str]:
    """A ``RedisStreamSource`` in a process of its own; returns once it reads."""
    proc = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "--consume", url, str(n), start_id],
        stdout=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if line.strip() != "ready":
        proc.kill()
        raise RuntimeError(f"consumer did not start: {line!r}")
    return proc


def consumer_result(proc: subprocess.Popen[str], n: int) -> tuple[float, float]:
    out, _ = proc.communicate(timeout=TIMEOUT + 10)
    rate, count = out.split()[-2:]
    return float(rate), int(count) / n


def run_end_to_end(feed: Feed, n: int, url: str, buffer: int) -> Result:
    """Venue → feed client with sink → Redis → source in another process."""
    flush(url)
    consumer = start_consumer(url, n, "$")
    try:
        dropped = run_feed_keeping_stream(feed, n, url, buffer)
        rate, fraction = consumer_result(consumer, n)
    finally:
        consumer.kill()
    return rate, fraction, None, dropped


def run_feed_keeping_stream(feed: Feed, n: int, url: str, buffer: int) -> int:
    """A feed client with a sink, Redis left as it is (a consumer waits); the sink's drops."""
    counter = Counter(n)
    hit = counter.hit

    def on_trade(trade: Any) -> None:
        hit()

    client = HyperliquidClient(url=feed.url, on_trade=on_trade)
    sink = RedisStreamSink(url, maxlen=n, buffer_size=buffer)
    client.add_sink(sink)
    client.subscribe_trades("BTC")
    client.start()
    try:
        counter.wait(TIMEOUT)
    finally:
        client.stop(timeout=TIMEOUT)  # the sink flushes on stop
    return sink.stats.dropped


def run_filled(n: int, url: str) -> Result:
    """A source in another process reading ``n`` entries already in the stream."""
    flush(url)
    now = time.time_ns()
    events = [Trade(venue="hyperliquid", symbol="BTC", price=Decimal("97000.5") + i % 100,
                    size=Decimal("0.00123"), side=None, trade_id=str(i), timestamp_ns=now,
                    received_ns=now) for i in range(n)]
    with RedisStreamSink(url, maxlen=n, buffer_size=n) as sink:
        sink.accept(events)
        while sink.stats.written < n:
            time.sleep(0.01)
    consumer = start_consumer(url, n, "0")
    try:
        rate, fraction = consumer_result(consumer, n)
    finally:
        consumer.kill()
    return rate, fraction, None, None


def consume(url: str, n: int, start_id: str) -> int:
    """Child process: count ``n`` trades from the source; print the rate and the count."""
    counter = Counter(n)
    hit = counter.hit

    def on_trade(trade: Any) -> None:
        hit()

    source = RedisStreamSource(url, streams=STREAM, start_id=start_id, on_trade=on_trade)
    source.start()
    print("ready", flush=True)
    try:
        counter.wait(TIMEOUT, quiet=5.0)
    finally:
        source.stop()
    print(counter.rate(), counter.count, flush=True)
    return 0


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="20,000 frames, 2 rounds")
    parser.add_argument("--frames", type=int, default=None, help="frames per run (100,000)")
    parser.add_argument("--rounds", type=int, default=None, help="alternating rounds (3)")
    parser.add_argument("--buffer", type=int, default=None,
                        help="the sink's buffer_size (default: the frame count)")
    parser.add_argument("--redis", default=None, metavar="URL",
                        help="use this server (it is FLUSHALLed!) instead of a private one")
    parser.add_argument("--consume", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.consume:
        url, frames, start_id = args.consume
        return consume(url, int(frames), start_id)
    n = args.frames or (20_000 if args.quick else 100_000)
    rounds = args.rounds or (2 if args.quick else 3)
    buffer = args.buffer or n

    server = None if args.redis else PrivateRedis()
    url = args.redis or server.url  # type: ignore[union-attr]
    print(machine_line())
    print(f"{n:,} frames per run, {rounds} rounds, redis at {url}", flush=True)
    try:
        with Feed("blast", "--frames", str(n)) as feed:
            runs: dict[str, Callable[[], Result]] = {
                "feed on_trade, no sink": lambda: run_feed(feed, n, None, buffer),
                "feed on_trade + RedisStreamSink": lambda: run_feed(feed, n, url, buffer),
                "venue → feed → Redis → source": lambda: run_end_to_end(feed, n, url, buffer),
                "source reading a filled stream": lambda: run_filled(n, url),
            }
            started = time.monotonic()
            results = alternate(rounds, runs)
            took = time.monotonic() - started
    finally:
        if server is not None:
            server.close()

    med = {name: statistics.median(v[0] for v in values) for name, values in results.items()}
    base = med["feed on_trade, no sink"]
    rows = []
    for name, values in results.items():
        sink_rates = [v[2] for v in values if v[2] is not None]
        drops = [v[3] for v in values if v[3] is not None]
        rows.append([
            name, f"{med[name]:,.0f}", spread([v[0] for v in values]), ratio(med[name], base),
            f"{min(v[1] for v in values) * 100:.0f} %",
            f"{statistics.median(sink_rates):,.0f}" if sink_rates else "-",
            f"{max(drops):,}" if drops else "-",
        ])
    print()
    print(f"``python benchmarks/bench_redis.py{' --quick' if args.quick else ''}`` "
          f"({n:,} frames x {rounds} rounds, {took:.0f} s)")
    print()
    print(rst_table(["row", "events/s (median)", "min/max", "vs no sink", "delivered",
                     "sink written/s", "sink dropped"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
