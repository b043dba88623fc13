"""Small waits shared by the socket tests: they wait on results, never on sleeps."""

from __future__ import annotations

import queue
import time
from typing import Any, Callable

from tests.conftest import T
from wsclients.core.client import Client
from wsclients.models import Event


def next_event(
    client: Client, predicate: Callable[[Event], bool], timeout: float = 3 * T
) -> Event:
    """The next event from ``client.get()`` matching ``predicate`` (others are skipped).

    Raises:
        AssertionError: none matched within ``timeout``.
    """
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError("no matching event in time")
        try:
            event = client.get(timeout=remaining)
        except queue.Empty:
            raise AssertionError("no matching event in time") from None
        if predicate(event):
            return event


def next_of(client: Client, cls: type, timeout: float = 5 * T, **fields: Any) -> Any:
    """The next event of type ``cls`` whose attributes equal ``fields``."""
    return next_event(
        client,
        lambda e: isinstance(e, cls) and all(getattr(e, k) == v for k, v in fields.items()),
        timeout,
    )


def wait_until(condition: Callable[[], bool], timeout: float = 5 * T) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` passes; its last value.

    For state that no event announces (a callback's list, a counter); the caller asserts.
    """
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)
    return True
