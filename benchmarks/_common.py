"""Shared bits of the socket benchmarks: a delivery counter, alternating rounds, tables.

Not a test and not part of the library: benchmarks print numbers and never assert them.
"""

from __future__ import annotations

import gc
import os
import platform
import statistics
import sys
import threading
import time
from collections.abc import Sequence
from typing import Callable, Optional

SUBSCRIBE_TRADES = '{"method":"subscribe","subscription":{"type":"trades","coin":"BTC"}}'


class Counter:
    """Counts deliveries to user code; notes the time of the first and of the ``n``-th."""

    __slots__ = ("count", "done", "first", "last", "n")

    def __init__(self, n: int) -> None:
        self.n = n
        self.count = 0
        self.first = 0.0
        self.last = 0.0
        self.done = threading.Event()

    def hit(self) -> None:
        count = self.count = self.count + 1
        if count == 1:
            self.first = time.perf_counter()
        elif count == self.n:
            self.last = time.perf_counter()
            self.done.set()

    def rate(self) -> float:
        """Deliveries per second between the first and the last (0 when unfinished)."""
        if self.count < self.n or self.last <= self.first:
            return 0.0
        return (self.n - 1) / (self.last - self.first)


def alternate(
    rounds: int, runs: dict[str, Callable[[], float]], *, log: bool = True
) -> dict[str, list[float]]:
    """Run each contender once per round, in turn (the order rotates every round so that no
    contender always follows the same one), and collect what each returns."""
    results: dict[str, list[float]] = {name: [] for name in runs}
    names = list(runs)
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            gc.collect()
            value = runs[name]()
            results[name].append(value)
            if log:
                print(f"  round {r + 1}/{rounds} {name:<28} {value:>12,.0f}", file=sys.stderr,
                      flush=True)
    return results


def spread(values: Sequence[float]) -> str:
    """Min–max around the median, as a percentage of the median: how noisy the rounds were."""
    if not values:
        return "-"
    med = statistics.median(values)
    if med == 0:
        return "-"
    return f"{(min(values) - med) / med * 100:+.0f}%/{(max(values) - med) / med * 100:+.0f}%"


def machine_line() -> str:
    """One line saying what ran the benchmark."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"python {platform.python_version()} on {platform.system()} "
            f"{platform.machine()}, {os.cpu_count()} cpus, load avg {load:.2f} at start")


def rst_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A reStructuredText simple table (ready for the README)."""
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    rule = "  ".join("=" * w for w in widths)
    lines = [rule, "  ".join(str(h).ljust(w) for h, w in zip(header, widths)), rule]
    for row in rows:
        lines.append("  ".join(str(c).ljust(w) for c, w in zip(row, widths)))
    lines.append(rule)
    return "\n".join(lines)


def ratio(a: float, b: Optional[float]) -> str:
    if not b:
        return "-"
    return f"{a / b:.2f}x"
