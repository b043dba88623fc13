"""The benchmarks still run against the current code (their numbers are never asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"

pytestmark = pytest.mark.timeout(120)


def test_bench_reader_drives_the_real_reader_and_times_each_stage() -> None:
    """bench_reader.py reads a burst through Connection._read (it exits non-zero when not
    every trade reached the callback) and prints both of its tables."""
    out = subprocess.run(
        [sys.executable, str(BENCHMARKS / "bench_reader.py"), "--frames", "3000",
         "--rounds", "1", "--stages"],
        capture_output=True, text=True, cwd=BENCHMARKS, check=True, timeout=100,
    ).stdout
    assert "lowest vs current" in out
    for stage in ("frame reader", "JSON", "Trade event", "protocol", "whole reader path"):
        assert stage in out


def test_bench_throughput_runs_and_pairs_each_round_with_the_reference() -> None:
    """bench_throughput.py runs a reference and a wsclients row and prints the table with
    its paired column (ratios to the websockets client's round, or "-" when that client
    is not installed)."""
    out = subprocess.run(
        [sys.executable, str(BENCHMARKS / "bench_throughput.py"), "--frames", "2000",
         "--rounds", "1", "--only", "websockets,wsclients on_trade inline"],
        capture_output=True, text=True, cwd=BENCHMARKS, check=True, timeout=100,
    ).stdout
    assert "paired" in out and "wsclients on_trade inline" in out


def test_paired_ratio_is_the_median_of_each_rounds_ratio() -> None:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        from _common import paired_ratio
    finally:
        sys.path.remove(str(BENCHMARKS))
    # Rounds 2.0, 2.0 and 3.0 give 2.00x; in the second case the rounds give 3.0, 4.0 and
    # 1.0 (3.00x), where the ratio of the medians (4 / 2) would say 2.00x.
    assert paired_ratio([2.0, 4.0, 9.0], [1.0, 2.0, 3.0]) == "2.00x"
    assert paired_ratio([9.0, 4.0, 2.0], [3.0, 1.0, 2.0]) == "3.00x"
    assert paired_ratio([1.0], None) == "-"
    assert paired_ratio([1.0, 2.0], [1.0]) == "-"
    assert paired_ratio([1.0], [0.0]) == "-"


def test_bench_reader_counts_instructions_or_says_why_not() -> None:
    """--instructions prints instructions per trade under callgrind, or a note when
    valgrind is missing."""
    out = subprocess.run(
        [sys.executable, str(BENCHMARKS / "bench_reader.py"), "--instructions",
         "--frames", "300"],
        capture_output=True, text=True, cwd=BENCHMARKS, check=True, timeout=110,
    ).stdout
    if "valgrind is not installed" not in out:
        count = out.split("current")[-1].split()[0]
        assert int(count.replace(",", "")) > 1000  # a trade is tens of thousands
