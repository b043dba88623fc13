"""Start/stop cycles at every awkward moment leave no thread, descriptor or memory behind.

10 cycles of each moment in the normal run; 200 of each (1,000 in all) under
``WSCLIENTS_SOAK=full``. The moments and how growth is measured: ``tests/reliability/cycles.py``.
"""

from __future__ import annotations

import pytest

from tests.reliability.cycles import (
    MEMORY_BOUND,
    STOP_LIMIT,
    cycles_per_mode,
    cycles_table,
    run_cycles,
)

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(600)]


def test_start_stop_cycles_leave_nothing_behind() -> None:
    """Stopping right after start, mid-handshake, mid-backoff, from a callback and from
    another thread: each stop is prompt, and threads, FDs and memory do not grow."""
    figures = run_cycles(cycles_per_mode())
    message = "\n".join([cycles_table([figures]), str(figures.slowest_stop), *figures.errors])
    assert not figures.errors, message
    assert figures.leftover_threads == [], message
    assert figures.thread_growth <= 0, message
    assert figures.fd_growth <= 0, message
    assert figures.memory_growth <= MEMORY_BOUND, message
    assert max(figures.slowest_stop.values()) <= STOP_LIMIT, message
