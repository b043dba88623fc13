"""The shared timer thread: runs, repeats, cancels, survives bad callbacks, goes away."""

from __future__ import annotations

import threading
import time

from tests.conftest import T
from tests.helpers import wait_until
from wsclients.core import timers


def test_call_later_and_every_and_cancel() -> None:
    """One-shot and periodic timers run on the shared thread; cancel stops them."""
    once = threading.Event()
    ticks: list[str] = []
    timers.call_later(0.01, once.set)
    every = timers.call_every(0.01, lambda: ticks.append(threading.current_thread().name))
    assert once.wait(2 * T)
    wait_until(lambda: len(ticks) >= 3, timeout=2 * T)
    every.cancel()
    every.cancel()  # idempotent
    count = len(ticks)
    time.sleep(0.05)
    assert len(ticks) <= count + 1 and set(ticks) == {"wsclients-timers"}
    assert timers.wait_idle(2 * T)


def test_a_raising_callback_does_not_stop_others() -> None:
    """One broken timer is logged; the next timer still runs."""
    done = threading.Event()

    def broken() -> None:
        raise RuntimeError("bad timer")

    timers.call_later(0, broken)
    timers.call_later(0.02, done.set)
    assert done.wait(2 * T)
    assert timers.wait_idle(2 * T)
