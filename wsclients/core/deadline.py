"""One deadline over several steps, instead of hand-written ``monotonic()`` arithmetic."""

from __future__ import annotations

import time
from typing import Optional

__all__ = ["Deadline"]


class Deadline:
    """A point in time ``timeout`` seconds from now; ``None`` never expires.

    ``remaining()`` is what is left for the next step (never negative), so a wait that
    spans several calls (``start()`` waiting on each socket, a request waiting for the
    session and then for its slot) shares one budget.
    """

    __slots__ = ("_end", "timeout")

    def __init__(self, timeout: Optional[float]) -> None:
        self.timeout = timeout
        self._end = None if timeout is None else time.monotonic() + timeout

    def remaining(self, floor: float = 0.0) -> Optional[float]:
        """Seconds left (at least ``floor``), or None without a deadline."""
        if self._end is None:
            return None
        return max(floor, self._end - time.monotonic())

    @property
    def expired(self) -> bool:
        """True once the time is up."""
        return self._end is not None and time.monotonic() >= self._end
