"""Collect a client's events into a list: for notebooks and short scripts.

``collect_events(client, 10)`` reads the client's default queue (what ``get()`` and
``events()`` read) for ten seconds and returns what came; ``client.collect(10)`` says the
same. It reads anything with a client's ``get(timeout)``, so an extra queue made with
``client.queue(kinds=…)`` (which also sees kinds that have a callback) works too.
"""

from __future__ import annotations

import itertools
import queue
import time
from collections.abc import Collection, Iterator
from typing import Optional, Protocol

from wsclients.core.hub import EVENT_KINDS
from wsclients.models import Event

__all__ = ["EventSource", "check_kinds", "collect_events"]


class EventSource(Protocol):
    """Anything with a client's ``get(timeout)``: every ``Client``, and an ``EventQueue``."""

    def get(self, timeout: Optional[float] = None) -> Event: ...


def check_kinds(kinds: Optional[Collection[str]]) -> Optional[frozenset[str]]:
    """``kinds`` as a frozenset, refusing a bare string and names that are not event kinds.

    A bare ``"trade"`` is a collection of letters, which would silently match nothing; it is
    refused rather than guessed at.

    Raises:
        ValueError: ``kinds`` is a string, or names a kind that does not exist.
    """
    if kinds is None:
        return None
    if isinstance(kinds, (str, bytes)):
        raise ValueError(f"kinds must be a collection of kinds, e.g. {{{kinds!r}}}; got {kinds!r}")
    wanted = frozenset(kinds)
    unknown = wanted - EVENT_KINDS
    if unknown:
        raise ValueError(
            f"unknown event kinds {sorted(unknown)}; the kinds are {', '.join(sorted(EVENT_KINDS))}"
        )
    return wanted


def collect_events(
    client: EventSource,
    seconds: Optional[float] = None,
    *,
    kinds: Optional[Collection[str]] = None,
    max_events: Optional[int] = None,
) -> list[Event]:
    """Read events from ``client`` until ``seconds`` pass, ``max_events`` came, or it stops.

    Events already waiting in the client's default queue come first, oldest first. With
    ``kinds``, events of other kinds are read and dropped (as ``client.events(kinds=…)``
    does); a kind that has a callback goes to the callback and never reaches this queue.
    With neither ``seconds`` nor ``max_events`` it reads until the client stops.

    Args:
        client: a started client (or any ``EventSource``).
        seconds: how long to read; None for no time limit.
        kinds: the kinds to keep, e.g. ``{"trade", "book"}``; None keeps every kind.
        max_events: stop after this many kept events; None for no limit.

    Returns:
        The kept events in arrival order.

    Raises:
        ValueError: a negative ``seconds`` or ``max_events``, or bad ``kinds``.
    """
    if seconds is not None and seconds < 0:
        raise ValueError(f"seconds must be >= 0 (or None for no limit); got {seconds!r}")
    if max_events is not None and max_events < 0:
        raise ValueError(f"max_events must be >= 0 (or None for no limit); got {max_events!r}")
    wanted = check_kinds(kinds)
    kept = _arrivals(client, seconds)
    if wanted is not None:
        kept = (event for event in kept if event.kind in wanted)
    return list(itertools.islice(kept, max_events))


def _arrivals(client: EventSource, seconds: Optional[float]) -> Iterator[Event]:
    """The client's events until the deadline passes or the client stops and is drained."""
    deadline = None if seconds is None else time.monotonic() + seconds

    def next_event() -> Optional[Event]:
        timeout = None
        if deadline is not None:
            timeout = deadline - time.monotonic()
            if timeout <= 0:
                return None
        try:
            return client.get(timeout=timeout)
        except queue.Empty:  # the deadline passed while waiting, or the client stopped
            return None

    return iter(next_event, None)
