"""Requests matched by id: answers, errors, timeouts, the in-flight limit, fail-all."""

from __future__ import annotations

import threading
import time

import pytest

from tests.conftest import T
from wsclients.core import timers
from wsclients.core.pending import PendingRequests, wait_result
from wsclients.errors import ClientStopped, RequestFailed, RequestTimeout, TooManyInFlight


def test_resolve_and_reject_by_id() -> None:
    """Each answer reaches the Future registered under its id, whatever the order."""
    p = PendingRequests()
    a, b = p.new_id(), p.new_id()
    fa, fb = p.add(a, timeout=None), p.add(b, timeout=None)
    assert p.resolve(b, "B") and p.reject(a, RequestFailed("nope"))
    assert fb.result(0) == "B"
    with pytest.raises(RequestFailed):
        wait_result(fa, "req", 0)
    assert not p.resolve(a, "late") and p.in_flight == 0


def test_timeout_fails_the_future_and_frees_the_slot() -> None:
    """A request with no answer fails with RequestTimeout after its timeout."""
    p = PendingRequests(limit=1)
    f = p.add(1, timeout=0.05)
    with pytest.raises(RequestTimeout):
        wait_result(f, "req 1", 2 * T)
    assert p.in_flight == 0
    p.add(2, timeout=None)  # the slot came back
    p.fail_all(ClientStopped())
    assert timers.wait_idle(2 * T)


def test_wait_result_timeout_maps_to_request_timeout() -> None:
    """Waiting less than the request's own timeout raises RequestTimeout too."""
    p = PendingRequests()
    f = p.add(1, timeout=None)
    with pytest.raises(RequestTimeout, match="no answer within"):
        wait_result(f, "req", 0.01)
    p.discard(1)
    assert f.cancelled()


def test_in_flight_limit_raises_or_blocks() -> None:
    """At the limit, block=False raises at once and block=True waits for a free slot."""
    p = PendingRequests(limit=2)
    p.add(1, timeout=None)
    p.add(2, timeout=None)
    with pytest.raises(TooManyInFlight, match="2 requests already in flight"):
        p.add(3, timeout=None, block=False)
    with pytest.raises(TooManyInFlight):
        p.add(3, timeout=0.05, block=True)
    threading.Timer(0.05, lambda: p.resolve(1, "ok")).start()
    started = time.monotonic()
    p.add(3, timeout=5 * T, block=True)
    assert time.monotonic() - started < 4 * T
    p.fail_all(ClientStopped())
    timers.wait_idle(2 * T)


def test_fail_all_fails_every_pending_request() -> None:
    """A dropped socket fails every request still waiting, with the error given."""
    p = PendingRequests()
    futures = [p.add(i, timeout=None) for i in range(5)]
    p.fail_all(ClientStopped("connection lost"))
    for f in futures:
        with pytest.raises(ClientStopped, match="connection lost"):
            f.result(0)
    assert p.in_flight == 0


def test_duplicate_id_is_refused() -> None:
    """Registering an id already in flight is a programming error."""
    p = PendingRequests(limit=1)
    p.add(1, timeout=None)
    with pytest.raises(TooManyInFlight):
        p.add(1, timeout=None, block=False)
    q = PendingRequests()
    q.add(1, timeout=None)
    with pytest.raises(ValueError, match="already in flight"):
        q.add(1, timeout=None)


def test_a_requests_own_timeout_reaches_the_caller_as_it_is() -> None:
    """wait_result re-raises the Future's own RequestTimeout (naming the request and its own
    timeout) instead of relabelling it with the wait's timeout (RequestTimeout is also a
    TimeoutError, which is what a Future's wait raises on Python 3.11+)."""
    pending = PendingRequests()
    future = pending.add(1, timeout=0.05, what="GET /x")
    with pytest.raises(RequestTimeout) as info:
        wait_result(future, "outer", 5.0)
    assert "GET /x" in str(info.value) and "outer" not in str(info.value)
