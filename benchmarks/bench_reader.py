"""The reader's own cost: CPU microseconds per Hyperliquid trade, no socket, no other thread.

The socket benchmarks share a small machine with the feed process and with whatever else
runs there; on the machine the README's numbers come from, their rounds vary by ±20-40 %,
as much as most single changes to the hot path. This one takes the network and the second
thread out: ``HyperliquidClient``'s connection reads a recorded burst of ``trades`` frames
(the throughput feed's, one trade each) from memory through its real reader
(``Connection._read``: frame reader, batches, protocol lock, ``HyperliquidProtocol``, hub)
into an inline ``on_trade`` callback, and the process CPU time per trade is taken. Each
version of the library (``--before LABEL=PATH``) runs in a subprocess of its own, the
versions alternate round after round, and the table gives the lowest and the median round:
for CPU-bound work the lowest is the least disturbed.

``--stages`` also times the parts of the path one by one (the same frames, GC on, best of
the rounds), which says where the time goes.

``--instructions`` counts, instead of timing, the machine instructions each version executes
per trade, under valgrind's callgrind: two runs read a warm-up burst, one of them then reads
``--frames`` more, and the difference is divided by their number (interpreter start-up, the
imports and the warm-up cancel out). The count does not move with the machine's load, so it
can tell apart changes of a few per cent; it does not see cache misses or system calls.
Needs ``valgrind`` (skipped with a note when it is not installed); about a minute a version.

Run: ``python benchmarks/bench_reader.py [--frames N] [--rounds R] [--before LABEL=PATH]
[--stages] [--instructions]``
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any, Optional

from _common import before_versions, machine_line, rst_table, run_child
from _feed import make_trades, server_frame, trade_json


def wire(n: int) -> tuple[list[bytes], bytes]:
    """``n`` one-trade ``trades`` frames: their payloads, and the bytes on the wire."""
    payloads = [trade_json(*t) for t in make_trades(n)]
    return payloads, b"".join(server_frame(p) for p in payloads)


class _MemorySocket:
    """``recv`` from a bytes object, then EOF (the reader asks 256 KiB at a time)."""

    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)
        self._pos = 0

    def recv(self, size: int, /) -> bytes:
        chunk = bytes(self._data[self._pos:self._pos + size])
        self._pos += len(chunk)
        return chunk


class _MemoryWebSocket:
    """What ``Connection._read`` uses of websocket-client's ``WebSocket``."""

    def __init__(self, data: bytes) -> None:
        self.sock = _MemorySocket(data)

    def send(self, text: str) -> None:
        pass


def reader_run(data: bytes, n: int) -> float:
    """CPU µs per trade for ``Connection._read`` over ``data`` into an inline callback."""
    from websocket import WebSocketConnectionClosedException

    from wsclients import HyperliquidClient

    count = 0

    def on_trade(trade: Any) -> None:
        nonlocal count
        count += 1

    client = HyperliquidClient(url="ws://127.0.0.1:9/ws", on_trade=on_trade, dispatch="inline")
    client.subscribe_trades("BTC")
    connection = client._connection  # the benchmark drives the reader itself, on this thread
    started = time.process_time()
    try:
        connection._read(_MemoryWebSocket(data), b"")  # type: ignore[arg-type]
    except WebSocketConnectionClosedException:
        pass  # the end of the recorded burst
    took = time.process_time() - started
    client.stop()
    if count != n:
        raise SystemExit(f"delivered {count} of {n} trades")
    return took / n * 1e6


def stages(payloads: list[bytes], data: bytes, rounds: int) -> list[list[str]]:
    """Each part of the path alone over the same frames: best of ``rounds``, µs per trade."""
    from websocket import WebSocketConnectionClosedException

    from wsclients.core import codec
    from wsclients.core.frames import FrameReader
    from wsclients.venues.hyperliquid.parsing import trade_from_item
    from wsclients.venues.hyperliquid.protocol import HyperliquidProtocol

    n = len(payloads)
    items = [codec.loads(p)["data"][0] for p in payloads]

    def frames() -> None:
        reader = FrameReader(_MemorySocket(data))
        batch: list[bytes] = []
        try:
            while True:
                batch.clear()
                batch.append(reader.next_frame()[1])
                reader.take_texts(batch, 255)
        except WebSocketConnectionClosedException:
            pass

    def decode() -> None:
        loads = codec.loads
        for payload in payloads:
            loads(payload)

    def build() -> None:
        for item in items:
            trade_from_item(item, 1)

    def protocol() -> None:
        proto = HyperliquidProtocol()
        receive = proto.receive_text
        take = proto.take_events
        for payload in payloads:
            receive(payload, received_ns=1)
            take()

    parts: list[tuple[str, Callable[[], None]]] = [
        ("frame reader (FrameReader: next_frame + take_texts)", frames),
        ("JSON (codec.loads: orjson when installed)", decode),
        ("Trade event (trade_from_item: Decimals, checks, new_trade)", build),
        ("protocol (receive_text: JSON, routing, Trade, dedupe)", protocol),
        ("whole reader path (Connection._read into on_trade)", lambda: reader_run(data, n)),
    ]
    rows = []
    for name, fn in parts:
        best = float("inf")
        for _ in range(rounds):
            started = time.process_time()
            fn()
            best = min(best, time.process_time() - started)
        rows.append([name, f"{best / n * 1e6:.2f}"])
    return rows


WARM_UP = 2000
"""Trades every ``--instructions`` run reads first (caches, specialised bytecode)."""


def counted_run(total: int, read: int) -> None:
    """Under callgrind: build the burst of ``total`` trades, then read its first ``read``."""
    frames = [server_frame(trade_json(*t)) for t in make_trades(total)]
    end = sum(map(len, frames[:read]))  # the same work in both runs but a C loop
    reader_run(memoryview(b"".join(frames))[:end], read)  # type: ignore[arg-type]  # no copy


def instructions(versions: dict[str, Optional[str]], frames: int) -> list[list[str]]:
    """Instructions per trade of each version (see the module's docstring)."""
    total = WARM_UP + frames
    rows = []
    for label, lib in versions.items():
        counts = []
        for read in (WARM_UP, total):
            words = run_child(__file__, [str(total), str(read)], lib, flag="--counted",
                              wrapper=["valgrind", "--tool=callgrind",
                                       "--callgrind-out-file=/dev/null"], stream="stderr")
            found = re.search(r"Collected : (\d+)", " ".join(words))
            if found is None:
                raise SystemExit(f"callgrind printed no count for {label}")
            counts.append(int(found.group(1)))
        rows.append([label, f"{(counts[1] - counts[0]) / frames:,.0f}"])
        print(f"  {label:<20} {rows[-1][1]} instructions per trade", file=sys.stderr, flush=True)
    return rows


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=100_000, help="trades per run (100,000)")
    parser.add_argument("--rounds", type=int, default=7, help="alternating rounds (7)")
    parser.add_argument("--before", metavar="LABEL=PATH", action="append", default=[],
                        help="also run the wsclients package found in PATH (repeatable)")
    parser.add_argument("--stages", action="store_true", help="time each part of the path")
    parser.add_argument("--instructions", action="store_true",
                        help="count instructions per trade under valgrind instead of timing")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--counted", type=int, nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(reader_run(wire(args.child)[1], args.child))
        return 0
    if args.counted:
        counted_run(*args.counted)
        return 0
    print(machine_line())
    versions: dict[str, Optional[str]] = {"current": None, **before_versions(args.before)}
    if args.instructions:
        if shutil.which("valgrind") is None:
            print("\n--instructions not run: valgrind is not installed")
            return 0
        rows = instructions(versions, args.frames)
        print()
        print(f"``python benchmarks/bench_reader.py --instructions`` ({args.frames:,} trades "
              f"after {WARM_UP:,}; machine instructions per trade, callgrind)")
        print()
        print(rst_table(["version", "instructions per trade"], rows))
        return 0
    results: dict[str, list[float]] = {label: [] for label in versions}
    labels = list(versions)
    for r in range(args.rounds):
        for label in labels[r % len(labels):] + labels[:r % len(labels)]:
            value = float(run_child(__file__, [str(args.frames)], versions[label])[-1])
            results[label].append(value)
            print(f"  round {r + 1}/{args.rounds} {label:<20} {value:.3f} µs", file=sys.stderr,
                  flush=True)
    current = min(results["current"])
    rows = [[label, f"{min(v):.2f}", f"{statistics.median(v):.2f}",
             f"{min(v) / current:.2f}x"] for label, v in results.items()]
    print()
    print(f"``python benchmarks/bench_reader.py`` ({args.frames:,} trades x {args.rounds} rounds;"
          " CPU µs per trade)")
    print()
    print(rst_table(["version", "lowest", "median", "lowest vs current"], rows))
    if args.stages:
        payloads, data = wire(args.frames)
        print()
        print(rst_table(["part of the path (current version)", "µs per trade"],
                        stages(payloads, data, args.rounds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
