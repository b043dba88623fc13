"""Hyperliquid's sending and connection limits, counted on our side before the venue counts.

The venue allows 2000 messages a minute, 10 WebSocket connections and 30 new connections a
minute per IP (https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/rate-limits-and-user-limits).
``MessageBudget`` paces one client's frames under the first; ``ConnectionBudget`` counts every
``HyperliquidClient`` socket of the process for the other two, and ``PacedBackoff`` makes the
reconnect delay wait for a free slot in the per-minute window.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from typing import Callable, Optional

import attrs

from wsclients.core.backoff import Backoff

__all__ = [
    "CONNECTIONS",
    "ConnectionBudget",
    "MAX_CONNECTIONS",
    "MAX_MESSAGES_PER_MINUTE",
    "MAX_NEW_CONNECTIONS_PER_MINUTE",
    "MessageBudget",
    "PacedBackoff",
]

MAX_MESSAGES_PER_MINUTE = 2000
MAX_CONNECTIONS = 10
MAX_NEW_CONNECTIONS_PER_MINUTE = 30


class MessageBudget:
    """At most ``limit`` frames in any ``window`` seconds: a sliding-window log of send times.

    A log rather than a refilling bucket because the venue counts a sliding minute: a full
    bucket emptied and refilled within one minute would send twice the limit. The restore
    burst after a reconnect still goes out at once as long as it fits. The clock is injected
    so that tests can drive it; the window is stretched by ``margin`` so that network jitter
    cannot make the venue see two windows' frames in one.
    """

    def __init__(
        self,
        limit: int = MAX_MESSAGES_PER_MINUTE,
        window: float = 60.0,
        *,
        margin: float = 0.02,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("a message budget needs limit >= 1 and window > 0")
        self.limit = limit
        self.window = window
        self._span = window * (1.0 + margin)
        self._clock = clock
        self._sent: deque[float] = deque()

    def available(self) -> bool:
        """Whether one more frame fits now."""
        now = self._clock()
        sent = self._sent
        while sent and sent[0] <= now - self._span:
            sent.popleft()
        return len(sent) < self.limit

    def spend(self) -> None:
        """One frame sent now (a heartbeat may go over the limit; what waits goes later)."""
        self._sent.append(self._clock())


class ConnectionBudget:
    """Sockets open now and connections begun in the last ``window`` seconds, process-wide.

    Thread-safe: every client's reader and timer threads share one instance (``CONNECTIONS``).
    """

    def __init__(
        self,
        max_open: int = MAX_CONNECTIONS,
        max_per_window: int = MAX_NEW_CONNECTIONS_PER_MINUTE,
        window: float = 60.0,
    ) -> None:
        self.max_open = max_open
        self.max_per_window = max_per_window
        self.window = window
        self._lock = threading.Lock()  # guards _open and _starts
        self._open = 0
        self._starts: deque[float] = deque()  # monotonic times of attempts, some in the future

    def opened(self) -> int:
        """One more socket is open; returns how many are open now."""
        with self._lock:
            self._open += 1
            return self._open

    def closed(self) -> None:
        """A socket counted by ``opened`` is gone."""
        with self._lock:
            self._open = max(0, self._open - 1)

    @property
    def open_sockets(self) -> int:
        with self._lock:
            return self._open

    def attempt(self, now: Optional[float] = None) -> int:
        """A connection is being made now; returns how many began within the window."""
        now = time.monotonic() if now is None else now
        with self._lock:
            self._forget_old(now)
            self._starts.append(now)
            return sum(1 for start in self._starts if start <= now)

    def reserve(self, earliest: float, now: Optional[float] = None) -> float:
        """Book a connection at or after ``earliest`` seconds from now, at the first instant
        the window has room for it; returns the seconds to wait until then."""
        now = time.monotonic() if now is None else now
        with self._lock:
            self._forget_old(now)
            when = now + max(0.0, earliest)
            starts = sorted(self._starts)
            # The window ending at ``when`` must hold fewer than max_per_window starts.
            while True:
                inside = [start for start in starts if when - self.window < start <= when]
                if len(inside) < self.max_per_window:
                    break
                when = inside[0] + self.window + 1e-3
            self._starts.append(when)
            return when - now

    def _forget_old(self, now: float) -> None:
        kept = [start for start in self._starts if start > now - self.window]
        self._starts = deque(kept)


CONNECTIONS = ConnectionBudget()
"""Every ``HyperliquidClient`` socket of this process (the venue counts per IP)."""


@attrs.frozen(kw_only=True)
class PacedBackoff(Backoff):
    """``Backoff`` whose delay also waits for room in the new-connections-per-minute window,
    and books that room, so several clients reconnecting at once stay under the limit."""

    budget: ConnectionBudget = attrs.field(default=CONNECTIONS, eq=False)

    @classmethod
    def of(cls, backoff: Backoff, budget: ConnectionBudget) -> PacedBackoff:
        return cls(
            min_delay=backoff.min_delay, max_delay=backoff.max_delay, factor=backoff.factor,
            max_attempts=backoff.max_attempts, attempt=backoff.attempt, budget=budget,
        )

    def delay(self, rng: random.Random) -> float:
        return self.budget.reserve(super().delay(rng))
