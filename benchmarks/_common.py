"""Shared bits of the socket benchmarks: a delivery counter, alternating rounds, tables.

Not a test and not part of the library: benchmarks print numbers and never assert them.
"""

from __future__ import annotations

import gc
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from typing import Callable, Optional, TypeVar

T = TypeVar("T")

SUBSCRIBE_TRADES = '{"method":"subscribe","subscription":{"type":"trades","coin":"BTC"}}'


class Counter:
    """Counts deliveries to user code; notes the time of the first and of the latest one.

    ``done`` is set at the ``n``-th delivery. A contender that drops events never gets
    there; ``wait`` then ends once deliveries stop, and ``rate`` covers what did arrive.
    """

    __slots__ = ("count", "cpu_first", "cpu_last", "done", "first", "last", "n")

    def __init__(self, n: int) -> None:
        self.n = n
        self.count = 0
        self.first = 0.0
        self.last = 0.0
        self.cpu_first = 0.0
        self.cpu_last = 0.0
        self.done = threading.Event()

    def hit(self) -> None:
        self.last = now = time.perf_counter()
        count = self.count = self.count + 1
        if count == 1:
            self.first = now
            self.cpu_first = time.process_time()
        elif count == self.n:
            self.cpu_last = time.process_time()
            self.done.set()

    def cpu_per_million(self) -> float:
        """Process CPU seconds per million deliveries, first to last (every thread of this
        process: reader, dispatcher, the user's code). A run that dropped events is measured
        up to now."""
        if self.count < 2:
            return 0.0
        end = self.cpu_last or time.process_time()
        return (end - self.cpu_first) / (self.count - 1) * 1e6

    def wait(self, timeout: float, *, quiet: float = 2.0) -> None:
        """Until the ``n``-th delivery, or ``quiet`` seconds without one after the first."""
        deadline = time.monotonic() + timeout
        while not self.done.wait(0.2) and time.monotonic() < deadline:
            if self.count and time.perf_counter() - self.last > quiet:
                return

    def rate(self) -> float:
        """Deliveries per second between the first and the latest (0 with fewer than 2)."""
        if self.count < 2 or self.last <= self.first:
            return 0.0
        return (self.count - 1) / (self.last - self.first)


def alternate(
    rounds: int, runs: dict[str, Callable[[], T]], *, log: bool = True
) -> dict[str, list[T]]:
    """Run each contender once per round, in turn (the order rotates every round so that no
    contender always follows the same one), and collect what each returns (a number, or a
    tuple whose first item is the number to log)."""
    results: dict[str, list[T]] = {name: [] for name in runs}
    names = list(runs)
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            gc.collect()
            value = runs[name]()
            results[name].append(value)
            if log:
                shown = value[0] if isinstance(value, tuple) else value
                print(f"  round {r + 1}/{rounds} {name:<36} {shown:>12,.0f}", file=sys.stderr,
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


def paired_ratio(values: Sequence[float], reference: Optional[Sequence[float]]) -> str:
    """The median over rounds of ``values[r] / reference[r]``: each round's contenders ran
    within seconds of each other, so a machine that slows down for a while slows both sides
    of a pair, where a ratio of the two medians can pair a fast round with a slow one."""
    if not reference or len(reference) != len(values) or not all(reference):
        return "-"
    return f"{statistics.median(v / r for v, r in zip(values, reference)):.2f}x"


def ratio(a: float, b: Optional[float]) -> str:
    if not b:
        return "-"
    return f"{a / b:.2f}x"


def run_child(
    script: str, args: Sequence[str], lib: Optional[str], *, wrapper: Sequence[str] = (),
    flag: str = "--child", stream: str = "stdout",
) -> list[str]:
    """Run ``script --child ARGS`` in a fresh interpreter, importing wsclients from ``lib``
    (an older checkout) when given, and return the words of its output (``stream``): the
    ``--before`` runs of every benchmark. ``wrapper`` is a command the interpreter runs
    under (valgrind), with string hashing fixed so that two runs execute the same code."""
    env = dict(os.environ)
    if lib:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [lib, env.get("PYTHONPATH")]))
    if wrapper:
        env["PYTHONHASHSEED"] = "0"
    out = subprocess.run(
        [*wrapper, sys.executable, os.path.abspath(script), flag, *args],
        capture_output=True, text=True, env=env, check=True,
    )
    text: str = getattr(out, stream)
    return text.split()


def before_versions(specs: Sequence[str]) -> dict[str, str]:
    """``--before LABEL=PATH`` options as {label: path} (the label defaults to "before")."""
    versions: dict[str, str] = {}
    for spec in specs:
        label, _, path = spec.rpartition("=")
        versions[label or "before"] = path
    return versions
