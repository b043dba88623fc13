"""The consuming side every event source shares: ``get``, ``events``, ``queue``, ``collect``.

Venue clients and sources that are not clients (a ``RedisStreamSource``) publish through a
``Hub``; reading from it is the same for all of them, so it is written once here.
"""

from __future__ import annotations

import queue
from collections.abc import Collection, Iterator
from typing import Optional

from wsclients.collect import check_kinds, collect_events
from wsclients.core.client_options import check_like, check_timeout
from wsclients.core.hub import EventQueue, Hub
from wsclients.models import Event

__all__ = ["EventConsumer"]


class EventConsumer:
    """Reading a hub: the default queue, extra queues, iteration and collection.

    A subclass sets ``_hub``, ``_queue_size`` and ``_overflow`` (the defaults of extra queues).
    """

    _hub: Hub
    _queue_size: int
    _overflow: str

    def get(self, timeout: Optional[float] = None) -> Event:
        """The next event from the default queue, waiting up to ``timeout``.

        Events wait here (up to ``queue_size``) until read — every kind that has no callback;
        a kind with a callback goes to the callback only (``queue()`` makes an extra queue
        that sees it too).

        Raises:
            queue.Empty: nothing came in time, or the source is stopped and drained.
            InvalidOption: ``timeout`` is not a number of seconds or None.
        """
        check_timeout("timeout", timeout)
        self._before_blocking_get(timeout)
        return self._hub.default_queue.get(timeout)

    def _before_blocking_get(self, timeout: Optional[float]) -> None:
        """A hook for a wait that may never end (a client that was never started)."""

    def events(
        self, kinds: Optional[Collection[str]] = None, timeout: Optional[float] = None
    ) -> Iterator[Event]:
        """Iterate the default queue until the source stops (or ``timeout`` passes with no
        event). With ``kinds`` (e.g. ``{"trade"}``), events of other kinds are skipped —
        they are consumed, so use ``queue(kinds=…)`` to read two kinds in two loops.

        Raises:
            ValueError: ``kinds`` is a bare string or names no event kind (checked at once,
                not at the first ``next()``).
            InvalidOption: ``timeout`` is not a number of seconds or None.
        """
        wanted = check_kinds(kinds)
        check_timeout("timeout", timeout)
        return self._events(wanted, timeout)

    def _events(
        self, wanted: Optional[frozenset[str]], timeout: Optional[float]
    ) -> Iterator[Event]:
        source = self._hub.default_queue
        while True:
            try:
                event = source.get(timeout)
            except queue.Empty:
                return
            if wanted is None or event.kind in wanted:
                yield event

    def queue(
        self,
        kinds: Optional[Collection[str]] = None,
        maxsize: Optional[int] = None,
        overflow: Optional[str] = None,
    ) -> EventQueue:
        """An extra consumer queue, with its own bound and overflow policy, that receives
        every event (of ``kinds``) published from now on.

        Raises:
            ValueError: ``kinds`` is a bare string or names no event kind, or ``overflow``
                is no policy.
            InvalidOption: ``maxsize`` is not a positive int.
        """
        if maxsize is not None:
            check_like("queue_size", "maxsize", maxsize)
        return self._hub.queue(
            kinds=check_kinds(kinds),
            maxsize=maxsize or self._queue_size,
            overflow=overflow or self._overflow,
        )

    def collect(
        self,
        seconds: Optional[float] = None,
        *,
        kinds: Optional[Collection[str]] = None,
        max_events: Optional[int] = None,
    ) -> list[Event]:
        """Read the default queue into a list for ``seconds`` (or ``max_events``, or until
        the source stops): ``wsclients.collect.collect_events(self, …)``, which see."""
        return collect_events(self, seconds, kinds=kinds, max_events=max_events)
