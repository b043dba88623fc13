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
