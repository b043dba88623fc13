"""One shared timer thread for every client in the process.

Heartbeats, stale-connection checks and request timeouts all need a clock, but a thread per
timer (or per socket) would cost hundreds of threads for a hundred clients. Instead one daemon
thread, ``wsclients-timers``, runs short callbacks from a heap. It starts with the first timer
and ends when none is left, so a stopped program keeps no thread of ours.

Callbacks run on the timer thread and must be quick and must not block: send a ping, shut a
socket down, fail a Future. An exception in one is logged and does not stop the others.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from typing import Callable, Optional

__all__ = ["Timer", "call_every", "call_later", "wait_idle"]

logger = logging.getLogger(__name__)


class Timer:
    """A handle on a scheduled callback; ``cancel()`` is idempotent and thread-safe."""

    __slots__ = ("_callback", "_cancelled", "_interval")

    def __init__(self, callback: Callable[[], object], interval: Optional[float]) -> None:
        self._callback = callback
        self._interval = interval
        self._cancelled = False

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def cancel(self) -> None:
        """Stop it; a run already under way finishes."""
        _scheduler.cancel(self)


class _Scheduler:
    def __init__(self) -> None:
        # Guards _heap, _thread and _live; never held while a callback runs.
        self._cond = threading.Condition(threading.Lock())
        self._heap: list[tuple[float, int, Timer]] = []
        self._counter = itertools.count()
        self._thread: Optional[threading.Thread] = None
        self._live = 0

    def add(self, timer: Timer, delay: float) -> None:
        with self._cond:
            heapq.heappush(self._heap, (time.monotonic() + delay, next(self._counter), timer))
            self._live += 1
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="wsclients-timers", daemon=True
                )
                self._thread.start()
            self._cond.notify()

    def cancel(self, timer: Timer) -> None:
        with self._cond:
            if timer._cancelled:
                return
            timer._cancelled = True
            self._live -= 1
            self._cond.notify()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until the timer thread has ended; False at once while timers are live."""
        with self._cond:
            if self._live > 0:
                return False
            thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    # Drop cancelled timers at the top so an idle heap lets the thread end.
                    while self._heap and self._heap[0][2].cancelled:
                        heapq.heappop(self._heap)
                    if not self._heap or self._live <= 0:
                        self._heap.clear()
                        self._live = 0
                        self._thread = None
                        return
                    due, _, timer = self._heap[0]
                    wait = due - time.monotonic()
                    if wait <= 0:
                        heapq.heappop(self._heap)
                        break
                    self._cond.wait(wait)
            if timer.cancelled:
                continue
            try:
                timer._callback()
            except Exception:  # a bad callback must not stop every other client's timers
                logger.exception("timer callback failed")
            if timer._interval is None:
                timer.cancel()
            elif not timer.cancelled:
                with self._cond:
                    heapq.heappush(
                        self._heap,
                        (time.monotonic() + timer._interval, next(self._counter), timer),
                    )


_scheduler = _Scheduler()


def call_later(delay: float, callback: Callable[[], object]) -> Timer:
    """Run ``callback`` once, ``delay`` seconds from now, on the timer thread."""
    timer = Timer(callback, None)
    _scheduler.add(timer, max(0.0, delay))
    return timer


def call_every(interval: float, callback: Callable[[], object]) -> Timer:
    """Run ``callback`` every ``interval`` seconds (first run after one interval)."""
    if interval <= 0:
        raise ValueError("interval must be positive")
    timer = Timer(callback, interval)
    _scheduler.add(timer, interval)
    return timer


def wait_idle(timeout: float = 1.0) -> bool:
    """Wait for the timer thread to end once no timer is left; used by ``stop()`` and tests."""
    return _scheduler.wait_idle(timeout)
