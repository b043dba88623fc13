"""Requests answered over a socket, matched by id: Futures, timeouts, an in-flight limit.

Venues that multiplex request/response over their stream (Hyperliquid ``post``, Allium's API
over WebSocket) keep one ``PendingRequests``. The sender registers an id and gets a Future;
the reader resolves it when the answer with that id arrives; the shared timer thread fails it
when its time is up; a dropped socket fails every one still waiting, so no caller hangs on a
connection that is gone.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Hashable
from concurrent.futures import Future, InvalidStateError
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Optional

from wsclients.core import timers
from wsclients.errors import RequestTimeout, TooManyInFlight, WSClientError

__all__ = ["PendingRequests", "wait_result"]


class PendingRequests:
    """Id → Future for requests in flight, with an optional limit on how many at once."""

    def __init__(self, *, limit: Optional[int] = None, what: str = "request") -> None:
        self.limit = limit
        self.what = what
        self._ids = itertools.count(1)
        self._lock = threading.Lock()  # guards _futures
        self._futures: dict[Hashable, Future[Any]] = {}
        self._slots = threading.BoundedSemaphore(limit) if limit is not None else None

    def new_id(self) -> int:
        """A fresh id, unique for this object's life (thread-safe)."""
        return next(self._ids)

    @property
    def in_flight(self) -> int:
        """How many requests wait for an answer."""
        return len(self._futures)

    def add(
        self,
        request_id: Hashable,
        *,
        timeout: Optional[float],
        block: bool = True,
        what: Optional[str] = None,
    ) -> Future[Any]:
        """Register ``request_id`` before sending it and return its Future.

        Args:
            timeout: seconds until the Future fails with ``RequestTimeout`` (None = never);
                with ``block=True`` also how long to wait for a free slot.
            what: names the request in its timeout error (default: "<what> <id>").
            block: at the limit, wait for a slot (True) or raise at once (False).

        Raises:
            TooManyInFlight: the limit is reached (and no slot freed up in time).
            ValueError: the id is already in flight.
        """
        if self._slots is not None:
            assert self.limit is not None
            if not self._slots.acquire(blocking=block, timeout=timeout if block else None):
                raise TooManyInFlight(self.limit)
        future: Future[Any] = Future()
        with self._lock:
            if request_id in self._futures:
                if self._slots is not None:
                    self._slots.release()
                raise ValueError(f"{self.what} id {request_id!r} is already in flight")
            self._futures[request_id] = future
        if timeout is not None:
            timer = timers.call_later(
                timeout, lambda: self.reject(request_id, RequestTimeout(
                    what or f"{self.what} {request_id}", timeout))
            )
            future.add_done_callback(lambda _: timer.cancel())
        return future

    def _pop(self, request_id: Hashable) -> Optional[Future[Any]]:
        with self._lock:
            future = self._futures.pop(request_id, None)
        if future is not None and self._slots is not None:
            self._slots.release()
        return future

    def resolve(self, request_id: Hashable, result: Any) -> bool:
        """Answer ``request_id``; False when nobody waits for it (late or unknown id)."""
        future = self._pop(request_id)
        if future is None:
            return False
        try:
            future.set_result(result)
        except InvalidStateError:  # the caller cancelled it meanwhile
            return False
        return True

    def reject(self, request_id: Hashable, exc: BaseException) -> bool:
        """Fail ``request_id`` with ``exc``; False when nobody waits for it."""
        future = self._pop(request_id)
        if future is None:
            return False
        try:
            future.set_exception(exc)
        except InvalidStateError:
            return False
        return True

    def discard(self, request_id: Hashable) -> None:
        """Forget ``request_id`` (e.g. its send failed); its Future is cancelled."""
        future = self._pop(request_id)
        if future is not None:
            future.cancel()

    def fail_all(self, exc: BaseException) -> None:
        """Fail every request in flight (the socket they were sent on is gone)."""
        with self._lock:
            ids = list(self._futures)
        for request_id in ids:
            self.reject(request_id, exc)


def wait_result(future: Future[Any], what: str, timeout: Optional[float]) -> Any:
    """Block for a request's answer; our errors re-raised as they are, timeouts mapped.

    Raises:
        RequestTimeout: no answer within ``timeout``.
        WSClientError: whatever the request failed with.
    """
    try:
        return future.result(timeout)
    except WSClientError:
        # First: RequestTimeout is also a TimeoutError (= FutureTimeout on Python 3.11+), and
        # the request's own timeout must reach the caller as it is.
        raise
    except FutureTimeout as exc:
        raise RequestTimeout(what, timeout) from exc
