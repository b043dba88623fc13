"""Throughput: Hyperliquid ``trades`` frames delivered to user code per second.

Run: ``python benchmarks/bench_throughput.py [--quick] [--frames N] [--rounds R]``

A feed process (``_feed.py blast``) answers the subscribe with its ack and then writes N
pre-encoded ``trades`` frames (one real-shaped trade each,
docs/venues/hyperliquid.rst#hyperliquid-samples) as fast
as TCP takes them. Each contender connects, subscribes, and counts what reaches user code;
the rate is taken from the first delivery to the N-th. Contenders run in turn, round after
round, in this one process, against the same feed; the table gives the median of each and
its ratios to baseline A, baseline B and the peer (issue 6 targets: wsclients ``on_trade``
>= 1.5x A, >= 2x the peer, >= 0.8x B).

- ``sender ceiling``: a raw socket that only drains the bytes (no WebSocket parsing): what
  the feed can push; every other row must stay well below it.
- ``baseline A``: ``websocket.WebSocketApp`` with default ``run_forever()``, ``json.loads``
  in ``on_message`` (what the Hyperliquid SDK and most peers do).
- ``baseline B``: the same, tuned: ``run_forever(skip_utf8_validation=True)`` and
  ``orjson.loads`` (the ceiling for anything built on websocket-client).
- ``peer (hyperliquid-python-sdk)``: its ``WebsocketManager`` subscribed to trades
  (benchmarks/requirements.txt; skipped with a note when it is not installed).
- ``websockets asyncio + orjson`` and ``picows + orjson``: the asyncio references (the
  ``websockets`` asyncio client, and picows, a Cython asyncio client), decoding each frame
  with orjson and building no events (benchmark-only requirements; skipped when absent).
- ``paired`` is the median over rounds of the row's rate over the websockets client's rate
  in the same round (the machine's speed drifts between rounds: ±20-40 % here).
- The CPU column is process CPU seconds per million messages delivered, first delivery to
  last: a bot's own code shares the GIL with the feed, so less CPU per message is room for it.
- ``wsclients on_trade``: ``HyperliquidClient(on_trade=…)``, callbacks on the dispatcher thread
  (the default); ``… inline``: ``dispatch="inline"``; ``… get() loop``: ``client.get()`` on the
  main thread. Every wsclients row builds full ``Trade`` events (``Decimal`` price and size,
  side, id, times, raw item, duplicate check) — the baselines only decode JSON. They use the
  default ``queue_size=100_000``: with callbacks, the default ``get()`` queue still keeps the
  last 100,000 events for a ``get()`` that never comes, and the garbage collector walks them;
  ``… queue_size=1000`` shows what that costs.
- ``wsclients on_trade, recording …``: the ``on_trade`` row with ``record=`` a temporary file
  (``.jsonl`` and ``.jsonl.gz``): every frame also goes to the recorder's writer thread.
  The share of frames that reached the file is printed under the table.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import socket
import statistics
import sys
import tempfile
import threading
import time
from functools import partial
from typing import Any, Callable, Optional

import websocket
from _common import (
    SUBSCRIBE_TRADES,
    Counter,
    alternate,
    before_versions,
    machine_line,
    paired_ratio,
    ratio,
    rst_table,
    run_child,
    spread,
)
from _feed import Feed, server_frame

from wsclients import HyperliquidClient

TIMEOUT = 120.0

Result = tuple[float, float, float]
"""(deliveries per second, fraction of the frames delivered, CPU s per million deliveries)"""


def _app_thread(app: websocket.WebSocketApp, **kwargs: Any) -> threading.Thread:
    thread = threading.Thread(target=app.run_forever, kwargs=kwargs, daemon=True)
    thread.start()
    return thread


def run_baseline(feed: Feed, n: int, *, tuned: bool) -> Result:
    """Baseline A (``tuned=False``) or B (``tuned=True``)."""
    if tuned:
        import orjson

        loads: Callable[[Any], Any] = orjson.loads
    else:
        loads = json.loads
    counter = Counter(n)
    hit = counter.hit

    def on_message(ws: Any, message: Any) -> None:
        frame = loads(message)
        if frame["channel"] == "trades":
            for _ in frame["data"]:
                hit()

    def on_open(ws: Any) -> None:
        ws.send(SUBSCRIBE_TRADES)

    app = websocket.WebSocketApp(feed.url, on_open=on_open, on_message=on_message)
    thread = _app_thread(app, **({"skip_utf8_validation": True} if tuned else {}))
    counter.wait(TIMEOUT)
    app.close()
    thread.join(5)
    return counter.rate(), counter.count / n, counter.cpu_per_million()


def run_peer(feed: Feed, n: int) -> Result:
    """hyperliquid-python-sdk's WebsocketManager, as ``Info(skip_ws=False)`` builds it."""
    from hyperliquid.websocket_manager import WebsocketManager

    counter = Counter(n)
    hit = counter.hit

    def on_trades(message: Any) -> None:
        for _ in message["data"]:
            hit()

    manager = WebsocketManager(feed.http_url)
    manager.daemon = True  # the SDK's thread is not a daemon; do not let it hold the run
    manager.ping_sender.daemon = True
    manager.subscribe({"type": "trades", "coin": "BTC"}, on_trades)
    manager.start()
    counter.wait(TIMEOUT)
    manager.stop()
    manager.join(5)
    return counter.rate(), counter.count / n, counter.cpu_per_million()


def run_websockets_asyncio(feed: Feed, n: int) -> Result:
    """The ``websockets`` asyncio client decoding with orjson (dicts only, no events): the
    usual asyncio reference."""
    import asyncio

    import orjson
    from websockets.asyncio.client import connect

    counter = Counter(n)
    hit = counter.hit
    loads = orjson.loads

    async def consume() -> None:
        async with connect(feed.url, max_size=None, compression=None,
                           ping_interval=None) as ws:
            await ws.send(SUBSCRIBE_TRADES)
            async for message in ws:
                frame = loads(message)
                if frame["channel"] == "trades":
                    for _ in frame["data"]:
                        hit()
                if counter.count >= n:
                    return

    asyncio.run(asyncio.wait_for(consume(), TIMEOUT))
    return counter.rate(), counter.count / n, counter.cpu_per_million()


def run_picows(feed: Feed, n: int) -> Result:
    """picows (a Cython asyncio client) decoding with orjson (dicts only): the practical
    limit of a Python client."""
    import asyncio

    import orjson
    from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

    counter = Counter(n)
    hit = counter.hit
    loads = orjson.loads

    class Listener(WSListener):  # type: ignore[misc]
        def on_ws_connected(self, transport: WSTransport) -> None:
            transport.send(WSMsgType.TEXT, SUBSCRIBE_TRADES.encode())

        def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
            if frame.msg_type != WSMsgType.TEXT:
                return
            message = loads(frame.get_payload_as_memoryview())
            if message["channel"] == "trades":
                for _ in message["data"]:
                    hit()
            if counter.count >= n:
                transport.disconnect()

    async def consume() -> None:
        transport, _ = await ws_connect(Listener, feed.url, max_frame_size=1 << 30)
        await asyncio.wait_for(transport.wait_disconnected(), TIMEOUT)

    asyncio.run(consume())
    return counter.rate(), counter.count / n, counter.cpu_per_million()


def run_wsclients(feed: Feed, n: int, *, mode: str, queue_size: int = 100_000) -> Result:
    """``mode``: "thread" (on_trade, default dispatch), "inline" or "get"."""
    counter = Counter(n)
    hit = counter.hit

    def on_trade(trade: Any) -> None:
        hit()

    options: dict[str, Any] = {"url": feed.url, "queue_size": queue_size}
    if mode in ("thread", "inline"):
        options["on_trade"] = on_trade
        options["dispatch"] = mode
    client = HyperliquidClient(**options)
    client.subscribe_trades("BTC")
    client.start()
    try:
        if mode == "get":
            get = client.get
            deadline = time.monotonic() + TIMEOUT
            while counter.count < n and time.monotonic() < deadline:
                try:
                    event = get(2.0)
                except queue.Empty:
                    break  # the stream is over (events were dropped)
                if event.kind == "trade":
                    hit()
        else:
            counter.wait(TIMEOUT)
    finally:
        client.stop()
    return counter.rate(), counter.count / n, counter.cpu_per_million()


RECORDED: dict[str, list[float]] = {}
"""Per recording row: the share of the frames each run wrote to its file."""


def run_recording(feed: Feed, n: int, suffix: str) -> Result:
    """The ``on_trade`` row, recording every frame to a temporary ``run<suffix>`` file."""
    counter = Counter(n)
    hit = counter.hit

    def on_trade(trade: Any) -> None:
        hit()

    with tempfile.TemporaryDirectory() as folder:
        client = HyperliquidClient(url=feed.url, on_trade=on_trade)
        recorder = client.record(os.path.join(folder, "run" + suffix))
        client.subscribe_trades("BTC")
        client.start()
        try:
            counter.wait(TIMEOUT)
        finally:
            client.stop()
        trades = recorder.frames - 1  # the subscription's ack is a frame too
        RECORDED.setdefault(suffix, []).append(trades / n)
    return counter.rate(), counter.count / n, counter.cpu_per_million()


def run_sink(feed: Feed, n: int) -> Result:
    """The sender's ceiling: handshake and subscribe, then only drain bytes."""
    ws = websocket.WebSocket()
    ws.connect(feed.url)
    ack = {"channel": "subscriptionResponse",
           "data": {"method": "subscribe", "subscription": {"type": "trades", "coin": "BTC"}}}
    expected = feed.stream_bytes + len(server_frame(json.dumps(ack, separators=(",", ":"))
                                                    .encode()))
    raw: Optional[socket.socket] = ws.sock
    assert raw is not None
    ws.send(SUBSCRIBE_TRADES)
    total = 0
    first = 0.0
    view = memoryview(bytearray(1 << 20))
    recv_into = raw.recv_into
    while total < expected:
        got = recv_into(view)
        if not got:
            break
        if not first:
            first = time.perf_counter()
        total += got
    elapsed = time.perf_counter() - first
    ws.close()
    return (n / elapsed if elapsed > 0 else 0.0), total / expected, 0.0


def run_in_subprocess(
    feed: Feed, n: int, mode: str, queue_size: int, lib: Optional[str]
) -> Result:
    """``run_wsclients`` in a fresh process, importing wsclients from ``lib`` if given."""
    rate, fraction, cpu = run_child(
        __file__, [feed.url, feed.http_url, str(n), mode, str(queue_size)], lib)[-3:]
    return float(rate), float(fraction), float(cpu)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="50,000 frames, 3 rounds")
    parser.add_argument("--frames", type=int, default=None, help="frames per run (200,000)")
    parser.add_argument("--rounds", type=int, default=None, help="alternating rounds (5)")
    parser.add_argument("--only", default="", help="comma-separated row keys to run")
    parser.add_argument(
        "--before", metavar="LABEL=PATH", action="append", default=[],
        help="also run the wsclients rows with the wsclients package found in PATH (an older "
        "checkout), alternated with the current one; every wsclients row then runs in a "
        "subprocess of its own, old and new alike (repeatable)",
    )
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:  # one wsclients run in a subprocess: URL HTTP_URL N MODE QUEUE_SIZE
        url, http_url, frames, mode, queue_size = args.child
        feed = argparse.Namespace(url=url, http_url=http_url)
        print(*run_wsclients(feed, int(frames), mode=mode,  # type: ignore[arg-type]
                             queue_size=int(queue_size)))
        return 0
    n = args.frames or (50_000 if args.quick else 200_000)
    rounds = args.rounds or (3 if args.quick else 5)

    have_peer = _importable("hyperliquid.websocket_manager")
    have_websockets = _importable("websockets.asyncio.client") and _importable("orjson")
    have_picows = _importable("picows") and _importable("orjson")

    print(machine_line())
    print(f"{n:,} frames per run, {rounds} rounds; building the feed …", flush=True)
    with Feed("blast", "--frames", str(n)) as feed:
        runs: dict[str, Callable[[], Result]] = {
            "sender ceiling (raw drain)": lambda: run_sink(feed, n),
            "baseline A": lambda: run_baseline(feed, n, tuned=False),
            "baseline B": lambda: run_baseline(feed, n, tuned=True),
        }
        if have_peer:
            runs["peer (hyperliquid-python-sdk)"] = lambda: run_peer(feed, n)
        if have_websockets:
            runs["websockets asyncio + orjson"] = lambda: run_websockets_asyncio(feed, n)
        if have_picows:
            runs["picows + orjson"] = lambda: run_picows(feed, n)
        rows = {
            "wsclients on_trade": ("thread", 100_000),
            "wsclients on_trade inline": ("inline", 100_000),
            "wsclients get() loop": ("get", 100_000),
            "wsclients on_trade inline, queue_size=1000": ("inline", 1000),
        }
        for name, (mode, size) in rows.items():
            if args.before:
                runs[name] = partial(run_in_subprocess, feed, n, mode, size, None)
                for label, path in before_versions(args.before).items():
                    runs[f"{name} [{label}]"] = partial(
                        run_in_subprocess, feed, n, mode, size, path)
            else:
                runs[name] = partial(run_wsclients, feed, n, mode=mode, queue_size=size)
        for suffix in (".jsonl", ".jsonl.gz"):
            runs[f"wsclients on_trade, recording {suffix}"] = partial(
                run_recording, feed, n, suffix)
        if args.only:
            keys = [k.strip() for k in args.only.split(",")]
            runs = {k: v for k, v in runs.items() if any(key in k for key in keys)}
        started = time.monotonic()
        results = alternate(rounds, runs)
        took = time.monotonic() - started

    med = {name: statistics.median(v[0] for v in values) for name, values in results.items()}
    delivered = {name: min(v[1] for v in values) for name, values in results.items()}
    cpu = {name: statistics.median(v[2] for v in values) for name, values in results.items()}
    a = med.get("baseline A")
    b = med.get("baseline B")
    peer = med.get("peer (hyperliquid-python-sdk)")
    asyncio_ref = med.get("websockets asyncio + orjson")
    asyncio_rounds = [v[0] for v in results.get("websockets asyncio + orjson", [])]
    picows_ref = med.get("picows + orjson")
    rows = []
    for name, values in results.items():
        rates = [v[0] for v in values]
        rows.append([name, f"{med[name]:,.0f}", spread(rates),
                     ratio(med[name], a), ratio(med[name], b), ratio(med[name], peer),
                     ratio(med[name], asyncio_ref), paired_ratio(rates, asyncio_rounds),
                     ratio(med[name], picows_ref),
                     f"{cpu[name]:.2f}" if cpu[name] else "-",
                     f"{delivered[name] * 100:.0f} %"])
    print()
    print(f"``python benchmarks/bench_throughput.py{' --quick' if args.quick else ''}`` "
          f"({n:,} frames x {rounds} rounds, {took:.0f} s)")
    print()
    print(rst_table(["contender", "msg/s (median)", "min/max", "vs A", "vs B", "vs peer",
                     "vs websockets", "paired", "vs picows", "CPU s/M msgs", "delivered"],
                    rows))
    for suffix, shares in RECORDED.items():
        print(f"\nrecording {suffix}: {min(shares) * 100:.1f} % of the frames written "
              "(lowest over the rounds)")
    for missing, what in ((have_websockets, "websockets asyncio"), (have_picows, "picows")):
        if not missing:
            print(f"\n{what} not run: install it and orjson "
                  "(pip install -r benchmarks/requirements.txt)")
    if not have_peer:
        print("\npeer not run: hyperliquid-python-sdk is not installed "
              "(pip install -r benchmarks/requirements.txt)")
    return 0


def _importable(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
