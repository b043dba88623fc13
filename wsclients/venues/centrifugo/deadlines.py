"""Named deadlines for a protocol that has no clock of its own.

A sans-I/O protocol learns the time only in ``on_tick(now)``. A deadline is therefore armed
with a duration and anchored at the next tick (about a second later at most): token
renewals, ping watchdogs and resubscribe backoffs are all far coarser than that.
"""

from __future__ import annotations

from collections.abc import Hashable

__all__ = ["Deadlines"]


class Deadlines:
    """Named deadlines armed with a duration and anchored at the next clock reading."""

    __slots__ = ("_due", "_pending")

    def __init__(self) -> None:
        self._pending: dict[Hashable, float] = {}
        self._due: dict[Hashable, float] = {}

    def arm(self, key: Hashable, seconds: float) -> None:
        """Fire ``key`` ``seconds`` after the next tick (re-arming replaces the old one)."""
        self._due.pop(key, None)
        self._pending[key] = seconds

    def cancel(self, key: Hashable) -> None:
        """Forget ``key``; nothing if it was not armed."""
        self._pending.pop(key, None)
        self._due.pop(key, None)

    def clear(self) -> None:
        """Forget every deadline (a socket that is gone)."""
        self._pending.clear()
        self._due.clear()

    def __contains__(self, key: Hashable) -> bool:
        return key in self._pending or key in self._due

    def expired(self, now: float) -> list[Hashable]:
        """Anchor what was armed since the last call; return (and forget) what is due."""
        if self._pending:
            for key, seconds in self._pending.items():
                self._due[key] = now + seconds
            self._pending.clear()
        due = [key for key, at in self._due.items() if at <= now]
        for key in due:
            del self._due[key]
        return due
