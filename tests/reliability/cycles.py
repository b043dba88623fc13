"""Start/stop cycles: a client started and stopped over and over, at every awkward moment,
must leave no thread, file descriptor or memory behind.

The moments (``MODES``), taken in turn:

right after start
    ``start(wait=False)`` then ``stop()`` at once, before the socket may even exist.
mid-handshake
    ``stop()`` while the server sits on the upgrade request.
mid-backoff
    ``stop()`` while the client waits out a long backoff after a refused upgrade.
from a callback
    ``stop()`` called by the client's own ``on_status`` callback once connected (the
    dispatcher thread stops the client that runs it).
from another thread
    a connected client stopped by a thread of its own.

Each ``stop()`` must return within ``STOP_LIMIT`` seconds. Growth is measured after warm-up
cycles, with the garbage collected: ``threading.enumerate()``, ``/proc/self/fd`` and
``tracemalloc``'s traced size. Memory is compared between the middle and the end of the run,
so what the first cycles allocate once (caches, imports) does not count as growth.
"""

from __future__ import annotations

import gc
import os
import threading
import time
import tracemalloc
from collections.abc import Sequence
from typing import Callable

import attrs

from wsclients import HyperliquidClient
from wsclients.models import ConnectionState, Event, Status
from wsclients.testing import FakeHyperliquid
from wsclients.testing.server import FakeServer
from wsclients.venues.hyperliquid.limits import ConnectionBudget

__all__ = ["MODES", "CycleFigures", "cycles_per_mode", "cycles_table", "run_cycles"]

STOP_LIMIT = 1.0
"""Seconds a ``stop()`` may take at any moment of the client's life."""
SHORT_CYCLES = 10
FULL_CYCLES = 200


def cycles_per_mode() -> int:
    """Cycles of each mode: 200 (1,000 in all) under ``WSCLIENTS_SOAK=full``, else 10."""
    return FULL_CYCLES if os.environ.get("WSCLIENTS_SOAK", "") == "full" else SHORT_CYCLES


class _Servers:
    """The servers the cycles connect to, started once for the whole run."""

    def __init__(self) -> None:
        self.healthy = FakeHyperliquid(name="cycles")
        self.slow = FakeServer("cycles-slow")
        self.slow.handshake_delay = 0.1  # ends by itself: no handshake thread outlives a cycle
        self.refusing = FakeServer("cycles-refusing")
        self.refusing.reject_handshake(503, "refused", times=None)

    def start(self) -> None:
        for server in (self.healthy, self.slow, self.refusing):
            server.start()

    def stop(self) -> None:
        for server in (self.healthy, self.slow, self.refusing):
            server.stop()


def _client(url: str, **options: object) -> HyperliquidClient:
    # A budget of its own: the process-wide one (the venue's 30 new connections a minute)
    # would make the cycles' thousand connections depend on what ran before them.
    settings: dict[str, object] = {
        "backoff_min": 0.01, "backoff_max": 0.05,
        "connection_budget": ConnectionBudget(max_open=10**6, max_per_window=10**6),
        **options,
    }
    client = HyperliquidClient(url=url, **settings)
    client.subscribe_trades("BTC")
    return client


def _timed_stop(client: HyperliquidClient) -> float:
    began = time.monotonic()
    client.stop()
    return time.monotonic() - began


def _right_after_start(servers: _Servers) -> float:
    client = _client(servers.healthy.url)
    client.start(wait=False)
    return _timed_stop(client)


def _mid_handshake(servers: _Servers) -> float:
    client = _client(servers.slow.url)
    before = len(servers.slow.requests)
    client.start(wait=False)
    servers.slow.wait_for_requests(before + 1)
    return _timed_stop(client)


def _mid_backoff(servers: _Servers) -> float:
    client = _client(servers.refusing.url, backoff_min=5.0, backoff_max=5.0)
    client.start(wait=False)
    deadline = time.monotonic() + 5.0
    while client.state is not ConnectionState.RECONNECTING:
        if time.monotonic() > deadline:
            raise TimeoutError("the client never got to its backoff")
        time.sleep(0.001)
    return _timed_stop(client)


def _from_callback(servers: _Servers) -> float:
    stopped = threading.Event()
    took: list[float] = []
    holder: list[HyperliquidClient] = []

    def on_status(event: Event) -> None:
        if isinstance(event, Status) and event.state is ConnectionState.CONNECTED:
            took.append(_timed_stop(holder[0]))
            stopped.set()

    client = _client(servers.healthy.url, on_status=on_status)
    holder.append(client)
    client.start()
    if not stopped.wait(5.0):
        client.stop()
        raise TimeoutError("the callback never stopped the client")
    client.stop()  # idempotent: returns once the callback's stop() is done
    return took[0]


def _from_another_thread(servers: _Servers) -> float:
    client = _client(servers.healthy.url)
    client.start()
    took: list[float] = []
    stopper = threading.Thread(target=lambda: took.append(_timed_stop(client)), name="stopper")
    stopper.start()
    stopper.join(5.0)
    return took[0]


MODES: tuple[tuple[str, Callable[[_Servers], float]], ...] = (
    ("right after start", _right_after_start),
    ("mid-handshake", _mid_handshake),
    ("mid-backoff", _mid_backoff),
    ("from a callback", _from_callback),
    ("from another thread", _from_another_thread),
)


@attrs.frozen(kw_only=True)
class CycleFigures:
    """What a run of cycles measured."""

    cycles: int
    slowest_stop: dict[str, float]
    """Per mode, the longest ``stop()`` seen (seconds)."""
    thread_growth: int
    """Threads alive after the run minus before it (``threading.enumerate``)."""
    leftover_threads: list[str]
    """``wsclients-*`` threads of clients still alive after the run."""
    fd_growth: int
    memory_growth: int
    """Bytes traced by ``tracemalloc`` at the end minus at the middle of the run."""
    errors: list[str] = attrs.field(factory=list)

    @property
    def clean(self) -> bool:
        return not (
            self.errors or self.leftover_threads or self.thread_growth > 0
            or self.fd_growth > 0 or self.memory_growth > MEMORY_BOUND
            or any(t > STOP_LIMIT for t in self.slowest_stop.values())
        )


MEMORY_BOUND = 512 * 1024
"""Bytes the second half of a run may add to what the first half left (noise, not a leak:
a leak of one small object per cycle over 500 cycles passes, one of a kilobyte does not)."""


def _fds() -> int:
    gc.collect()
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return 0


def _traced() -> int:
    """Bytes allocated and still alive in the process, garbage collected first."""
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


def _client_threads() -> list[str]:
    return sorted(
        t.name for t in threading.enumerate()
        if t.name.startswith("wsclients-") and not t.name.startswith("wsclients-fake-")
    )


def _settle(limit: float = 3.0) -> None:
    """Let threads that are on their way out (a fake's handlers, the timer) end."""
    deadline = time.monotonic() + limit
    while _client_threads() and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.15)  # the fakes' handler threads end once the client's socket is gone


def _run(per_mode: int, slowest: dict[str, float], errors: list[str]) -> None:
    """``per_mode`` cycles of every mode, interleaved, against servers of their own (stopped
    and dropped afterwards: what they recorded is not the client's memory)."""
    servers = _Servers()
    servers.start()
    try:
        for _ in range(per_mode):
            for name, cycle in MODES:
                try:
                    slowest[name] = max(slowest[name], cycle(servers))
                except Exception as exc:  # noqa: BLE001 - reported in the figures
                    errors.append(f"{name}: {type(exc).__name__}: {exc}")
        _settle()
    finally:
        servers.stop()


def run_cycles(per_mode: int, *, warmup: int = 2) -> CycleFigures:
    """``per_mode`` cycles of every mode, in two halves after a warm-up; the growth figures
    compare the end of the second half with the end of the first."""
    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    slowest = {name: 0.0 for name, _ in MODES}
    errors: list[str] = []
    try:
        _run(warmup, {name: 0.0 for name, _ in MODES}, errors)
        threads_before = threading.active_count()
        fds_before = _fds()
        _run(per_mode // 2, slowest, errors)
        middle = _traced()
        _run(per_mode - per_mode // 2, slowest, errors)
        end = _traced()
        threads_after = threading.active_count()
        fds_after = _fds()
        leftover = _client_threads()
    finally:
        if not tracing:
            tracemalloc.stop()
    return CycleFigures(
        cycles=per_mode * len(MODES),
        slowest_stop=slowest,
        thread_growth=threads_after - threads_before,
        leftover_threads=leftover,
        fd_growth=fds_after - fds_before,
        memory_growth=end - middle,
        errors=errors,
    )


def cycles_table(figures: Sequence[CycleFigures]) -> str:
    """The cycles' figures in RST: cycles, slowest stop, growth of threads, FDs, memory."""
    from tests.reliability.soak import rst_table

    header = ["cycles", "slowest stop", "thread growth", "FD growth", "memory growth"]
    rows = [
        [
            str(f.cycles),
            f"{max(f.slowest_stop.values()) * 1000:.0f} ms",
            str(f.thread_growth),
            str(f.fd_growth),
            f"{f.memory_growth / 1024:+.0f} KiB",
        ]
        for f in figures
    ]
    return rst_table(header, rows)
