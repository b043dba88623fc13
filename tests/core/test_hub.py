"""Callbacks, queues and overflow: unit tests on the hub, then the slow-callback case on
real sockets."""

from __future__ import annotations

import queue
import threading
import time
from decimal import Decimal
from typing import Any

import pytest

from tests.conftest import T
from tests.core.echo import EchoClient, EchoServer, trade
from tests.helpers import wait_until
from wsclients import ConnectionState, ErrorEvent, Status, Trade
from wsclients.core.hub import EventQueue, Hub
from wsclients.errors import CallbackFailed, QueueOverflow

pytestmark = pytest.mark.timeout(30)


def make_trade(i: int) -> Trade:
    return Trade(venue="t", symbol="X", price=Decimal(i), size=Decimal(1), side=None,
                 trade_id=str(i), timestamp_ns=i, received_ns=i)


def drain(q: EventQueue) -> list[Any]:
    out = []
    while True:
        try:
            out.append(q.get(timeout=0))
        except queue.Empty:
            return out


def test_callbacks_run_in_order_on_the_dispatcher_thread() -> None:
    """Events reach callbacks in arrival order, on a thread named for the client."""
    seen: list[tuple[str, str]] = []
    done = threading.Event()

    def on_trade(t: Trade) -> None:
        seen.append((t.trade_id, threading.current_thread().name))
        if t.trade_id == "99":
            done.set()

    hub = Hub(venue="t", callbacks={"trade": on_trade})
    hub.start()
    hub.publish([make_trade(i) for i in range(50)])
    hub.publish([make_trade(i) for i in range(50, 100)])
    assert done.wait(5 * T)
    hub.stop()
    assert [s[0] for s in seen] == [str(i) for i in range(100)]
    assert {s[1] for s in seen} == {"wsclients-t-dispatch"}


def test_inline_dispatch_runs_on_the_publishing_thread() -> None:
    """dispatch="inline" calls back before publish returns, on the caller's thread."""
    seen: list[str] = []
    hub = Hub(venue="t", callbacks={"trade": lambda t: seen.append(
        threading.current_thread().name)}, dispatch="inline")
    hub.start()
    hub.publish([make_trade(1)])
    assert seen == [threading.current_thread().name]
    hub.stop()


def test_raising_callback_becomes_error_event_and_dispatch_goes_on() -> None:
    """A callback that raises yields one ErrorEvent (to on_error and the queue); the next
    event is still dispatched."""
    errors: list[ErrorEvent] = []
    seen: list[str] = []

    def on_trade(t: Trade) -> None:
        if t.trade_id == "1":
            raise RuntimeError("boom")
        seen.append(t.trade_id)

    hub = Hub(venue="t", callbacks={"trade": on_trade, "error": errors.append})
    hub.start()
    hub.publish([make_trade(1), make_trade(2)])
    wait_until(lambda: bool(errors and seen))
    hub.stop()
    assert seen == ["2"]
    assert len(errors) == 1 and isinstance(errors[0].exception, CallbackFailed)
    assert "boom" in errors[0].message and not errors[0].fatal
    assert isinstance(errors[0].exception.__cause__, RuntimeError)
    assert hub.errors == 1


def test_raising_error_callback_does_not_loop() -> None:
    """An on_error that raises is logged and counted once, not fed back to itself."""
    calls: list[ErrorEvent] = []

    def on_error(e: ErrorEvent) -> None:
        calls.append(e)
        raise ValueError("broken handler")

    hub = Hub(venue="t", callbacks={"error": on_error}, dispatch="inline")
    hub.report(RuntimeError("first"))
    assert len(calls) == 1
    assert hub.errors == 2  # the original and the failed handler


@pytest.mark.parametrize("policy", ["drop_oldest", "drop_newest"])
def test_overflow_drops_and_reports_once_per_episode(policy: str) -> None:
    """A full queue drops by its policy, counts every drop, and says so once per episode."""
    hub = Hub(venue="t", callbacks={})
    q = hub.queue(kinds={"trade"}, maxsize=10, overflow=policy)
    reports = hub.queue(kinds={"error"}, maxsize=100)
    hub.publish([make_trade(i) for i in range(25)])
    hub.publish([make_trade(i) for i in range(25, 30)])
    kept = [int(t.trade_id) for t in drain(q)]
    assert kept == (list(range(20, 30)) if policy == "drop_oldest" else list(range(10)))
    assert q.dropped == 20
    first = drain(reports)
    assert len(first) == 1 and isinstance(first[0].exception, QueueOverflow)
    # drained: a new episode is reported again
    hub.publish([make_trade(i) for i in range(30, 45)])
    assert len(drain(reports)) == 1
    assert hub.dropped >= 25


def test_block_policy_applies_backpressure() -> None:
    """With "block", a publisher waits for room instead of dropping; nothing is lost."""
    hub = Hub(venue="t", callbacks={})
    q = hub.queue(kinds={"trade"}, maxsize=5, overflow="block")
    done = threading.Event()

    def producer() -> None:
        hub.publish([make_trade(i) for i in range(20)])
        done.set()

    thread = threading.Thread(target=producer)
    thread.start()
    time.sleep(0.1 * T)
    assert not done.is_set() and q.qsize() == 5  # blocked on the full queue
    got = [int(q.get(timeout=5 * T).trade_id) for _ in range(20)]
    thread.join(5 * T)
    assert got == list(range(20)) and q.dropped == 0


def test_block_policy_unblocks_on_stop() -> None:
    """A publisher blocked on a full queue is released by stop()."""
    hub = Hub(venue="t", callbacks={})
    hub.queue(maxsize=1, overflow="block")
    thread = threading.Thread(target=hub.publish, args=([make_trade(1), make_trade(2)],))
    thread.start()
    time.sleep(0.05)
    hub.stop()
    thread.join(2 * T)
    assert not thread.is_alive()


@pytest.mark.parametrize("dispatch", ["thread", "inline"])
def test_mixed_batches_reach_each_kinds_callback_in_order(dispatch: str) -> None:
    """The callback is looked up again whenever the class of event changes within a batch:
    each event reaches its own kind's callback, in order, and kinds without one are left
    to the default queue."""
    calls: list[str] = []
    done = threading.Event()

    def on_trade(t: Trade) -> None:
        calls.append(f"trade {t.trade_id}")
        if t.trade_id == "9":
            done.set()

    def on_status(s: Status) -> None:
        calls.append(f"status {s.state.value}")

    hub = Hub(venue="t", callbacks={"trade": on_trade, "status": on_status}, dispatch=dispatch)
    hub.start()
    error = ErrorEvent.from_exception(RuntimeError("x"), venue="t", received_ns=1)
    status = Status(venue="t", state=ConnectionState.CONNECTED, url="ws://x", received_ns=1)
    hub.publish([make_trade(1), make_trade(2), status, make_trade(3), error,
                 make_trade(4), status, status, make_trade(9)])
    assert done.wait(5 * T)
    hub.stop()
    assert calls == ["trade 1", "trade 2", "status connected", "trade 3", "trade 4",
                     "status connected", "status connected", "trade 9"]
    assert [e.kind for e in drain(hub.default_queue)] == ["error"]


def test_kinds_with_a_callback_skip_the_default_queue() -> None:
    """An event goes to its kind's callback or waits in the default queue, not both; an
    extra queue() still gets every kind it asks for."""
    trades: list[Trade] = []
    hub = Hub(venue="t", callbacks={"trade": trades.append}, dispatch="inline")
    extra = hub.queue(kinds={"trade", "error"})
    hub.publish([make_trade(1)])
    hub.report(RuntimeError("x"))
    assert [t.trade_id for t in trades] == ["1"]
    assert [e.kind for e in drain(hub.default_queue)] == ["error"]
    assert [e.kind for e in drain(extra)] == ["trade", "error"]


def test_kind_filters_keep_order_in_mixed_batches_and_errors_get_a_time() -> None:
    """A queue of some kinds takes a batch whole, skips it whole, or filters it in order;
    an error without an arrival time is given one in a copy, never in the caller's list."""
    from wsclients import ErrorEvent as Error

    hub = Hub(venue="t", callbacks={})
    only_errors = hub.queue(kinds={"error"})
    trades_and_errors = hub.queue(kinds={"trade", "error"})
    timeless = Error.from_exception(RuntimeError("late"), venue="t", received_ns=0)
    batch: list[Any] = [make_trade(1), timeless, make_trade(2)]
    hub.publish(batch)
    hub.publish([make_trade(3)])
    assert batch[1] is timeless  # the caller's list is left alone
    errors = drain(only_errors)
    assert [e.kind for e in errors] == ["error"] and errors[0].received_ns > 0
    assert [getattr(e, "trade_id", e.kind) for e in drain(trades_and_errors)] == [
        "1", "error", "2", "3"]
    assert hub.errors == 1


def test_unread_default_queue_drops_silently() -> None:
    """A callback-only user never reads the default queue: it drops oldest but raises no
    overflow ErrorEvent until someone reads it."""
    errors: list[ErrorEvent] = []
    hub = Hub(venue="t", callbacks={"error": errors.append}, queue_size=5, dispatch="inline")
    hub.publish([make_trade(i) for i in range(20)])
    assert errors == [] and hub.default_queue.dropped == 15


def test_get_waits_and_times_out() -> None:
    """get() returns an event published later, and raises queue.Empty on timeout."""
    hub = Hub(venue="t", callbacks={})
    threading.Timer(0.05, lambda: hub.publish([make_trade(7)])).start()
    assert hub.default_queue.get(timeout=5 * T).trade_id == "7"
    with pytest.raises(queue.Empty):
        hub.default_queue.get(timeout=0.01)


def test_bad_options_are_refused() -> None:
    """Unknown overflow policies and dispatch modes fail where they enter."""
    with pytest.raises(ValueError, match="overflow must be one of"):
        Hub(venue="t", callbacks={}, overflow="explode")
    with pytest.raises(ValueError, match="dispatch"):
        Hub(venue="t", callbacks={}, dispatch="async")
    with pytest.raises(ValueError):
        EventQueue(maxsize=0)


def test_sleeping_callback_stalls_neither_reader_nor_heartbeat() -> None:
    """A callback that sleeps 2 s while the server keeps sending and the client keeps
    pinging: no disconnect, no missed pong, every trade eventually delivered."""
    seen: list[str] = []
    first = threading.Event()

    def slow(t: Trade) -> None:
        if not seen:
            first.set()
            time.sleep(2.0)
        seen.append(t.trade_id)

    with EchoServer("echo") as server:
        client = EchoClient(url=server.url, on_trade=slow, ping_interval=0.2,
                            stale_timeout=0.6, backoff_min=0.01, backoff_max=0.05)
        with client:
            conn = server.wait_for_connections(1)[0]
            conn.send(trade(0))
            assert first.wait(5 * T)
            for i in range(1, 100):
                conn.send(trade(i))
                time.sleep(0.005)
            wait_until(lambda: client.stats.messages >= 100, timeout=1.0)
            # the reader kept up: every frame was read while the callback still slept
            assert client.stats.messages >= 100 and len(seen) == 0  # (pongs count too)
            time.sleep(1.0)
            pings_during_sleep = conn.received.count('{"op":"ping"}')
            wait_until(lambda: len(seen) >= 100, timeout=10 * T)
            assert len(seen) == 100
            assert len(server.connections) == 1, "the socket was dropped"
            assert pings_during_sleep >= 5
            assert client.state is ConnectionState.CONNECTED
        statuses = [e for e in drain(client._hub.default_queue) if isinstance(e, Status)]
        assert not any(s.state is ConnectionState.RECONNECTING for s in statuses)


def test_events_iterator_ends_when_client_stops() -> None:
    """for event in client.events(): … ends once the client stops and the queue drains."""
    with EchoServer("echo") as server:
        client = EchoClient(url=server.url, ping_interval=None, stale_timeout=None)
        client.start()
        conn = server.wait_for_connections(1)[0]
        for i in range(3):
            conn.send(trade(i))
        got: list[str] = []

        def consume() -> None:
            for event in client.events(kinds={"trade"}):
                assert isinstance(event, Trade)
                got.append(event.trade_id)

        thread = threading.Thread(target=consume)
        thread.start()
        wait_until(lambda: len(got) >= 3)
        client.stop()
        thread.join(5 * T)
        assert not thread.is_alive() and got == ["0", "1", "2"]


def test_events_wait_for_a_late_consumer() -> None:
    """Events published after start() wait in the default queue for a later get()."""
    with EchoServer("echo") as server, EchoClient(
        url=server.url, ping_interval=None, stale_timeout=None
    ) as client:
        conn = server.wait_for_connections(1)[0]
        for i in range(5):
            conn.send(trade(i))
        wait_until(lambda: client.stats.messages >= 5)
        trades = [e for e in drain(client._hub.default_queue) if isinstance(e, Trade)]
        assert [t.trade_id for t in trades] == ["0", "1", "2", "3", "4"]


# --------------------------------------------------------------------------- catch-up


def count_catch_up_waits(q: EventQueue, waits: list[str]) -> None:
    """Note ``q.name`` in ``waits`` each time a producer waits for ``q``'s consumer."""
    real = q._caught_up.wait_for

    def counting(*args: Any, **kwargs: Any) -> bool:
        waits.append(q.name)
        return bool(real(*args, **kwargs))

    q._caught_up.wait_for = counting  # type: ignore[method-assign]


def test_a_feeding_thread_lets_the_dispatcher_catch_up_on_a_burst(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """publish(catch_up=True) with callbacks on the dispatcher thread returns once the
    dispatcher has taken all but a few of the burst (docs/threading.rst#threading-threads);
    without catch_up, publish never waits."""
    from wsclients.core import hub as hub_module

    # A slow test machine may need more than the real millisecond to wake the dispatcher.
    monkeypatch.setattr(hub_module, "_CATCH_UP_WAIT", 10 * T)
    seen: list[str] = []
    hub = Hub(venue="t", callbacks={"trade": lambda t: seen.append(t.trade_id)})
    hub.start()
    inbox = hub._inbox
    assert inbox is not None
    burst = [make_trade(i) for i in range(4 * hub_module._CATCH_UP_ABOVE)]
    hub.publish(burst, catch_up=True)
    left = inbox.qsize()
    assert left <= hub_module._CAUGHT_UP
    assert not inbox._consumer_stuck
    hub.publish(burst)  # without catch_up: the whole burst is still queued on return
    assert inbox.qsize() > hub_module._CATCH_UP_ABOVE
    wait_until(lambda: len(seen) == 2 * len(burst), timeout=5 * T)
    hub.stop()
    assert seen == [t.trade_id for t in burst] * 2


def test_a_stuck_dispatcher_costs_the_feeder_one_short_wait() -> None:
    """A callback that sleeps: the first catch-up gives up after a millisecond and marks the
    dispatcher stuck, later bursts do not wait at all, and once the dispatcher has run
    empty the feeder waits for it again."""
    from wsclients.core.hub import _CATCH_UP_ABOVE, _CATCH_UP_WAIT

    asleep = threading.Event()
    wake = threading.Event()

    def on_trade(t: Trade) -> None:
        if t.trade_id == "0":
            asleep.set()
            wake.wait(10 * T)

    hub = Hub(venue="t", callbacks={"trade": on_trade})
    hub.start()
    inbox = hub._inbox
    assert inbox is not None
    hub.publish([make_trade(0)])
    assert asleep.wait(5 * T)
    started = time.monotonic()
    hub.publish([make_trade(i) for i in range(1, 2 * _CATCH_UP_ABOVE)], catch_up=True)
    assert time.monotonic() - started >= _CATCH_UP_WAIT * 0.9  # it did wait, once
    assert inbox._consumer_stuck
    waits: list[str] = []
    count_catch_up_waits(inbox, waits)
    for _ in range(20):
        hub.publish([make_trade(i) for i in range(_CATCH_UP_ABOVE)], catch_up=True)
    assert waits == []  # stuck: no more waiting
    wake.set()
    wait_until(lambda: not inbox._consumer_stuck, timeout=5 * T)  # it ran empty
    hub.publish([make_trade(i) for i in range(2 * _CATCH_UP_ABOVE)], catch_up=True)
    assert waits == [inbox.name]  # caught up again: the next burst waits for it
    assert not inbox._consumer_stuck
    hub.stop()


def test_catch_up_never_waits_without_a_dispatcher_or_after_stop() -> None:
    """Inline callbacks, a hub not started, a stopped hub: catch_up is a plain publish."""
    from wsclients.core.hub import _CATCH_UP_ABOVE

    burst = [make_trade(i) for i in range(4 * _CATCH_UP_ABOVE)]
    not_started = Hub(venue="t", callbacks={"trade": lambda t: None})
    started = time.monotonic()
    not_started.publish(burst, catch_up=True)
    inline = Hub(venue="t", callbacks={"trade": lambda t: None}, dispatch="inline")
    inline.publish(burst, catch_up=True)
    stopped = Hub(venue="t", callbacks={"trade": lambda t: time.sleep(0.01)})
    stopped.start()
    stopped.stop()
    stopped.publish(burst, catch_up=True)
    assert time.monotonic() - started < 1.0


def test_a_get_loop_catches_up_too_and_an_unread_queue_costs_one_wait(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A thread looping on get() is a consumer like the dispatcher: the feeder waits for it
    to take most of a burst. A queue nobody reads costs the feeder one wait, then none."""
    from wsclients.core import hub as hub_module

    monkeypatch.setattr(hub_module, "_CATCH_UP_WAIT", 10 * T)
    hub = Hub(venue="t", callbacks={})
    read: list[str] = []
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                read.append(hub.default_queue.get(timeout=0.05).trade_id)  # type: ignore[union-attr]
            except queue.Empty:
                pass

    reader = threading.Thread(target=loop)
    reader.start()
    try:
        burst = [make_trade(i) for i in range(4 * hub_module._CATCH_UP_ABOVE)]
        hub.publish(burst, catch_up=True)
        assert hub.default_queue.qsize() <= hub_module._CAUGHT_UP
        wait_until(lambda: len(read) == len(burst), timeout=5 * T)
    finally:
        stop.set()
        reader.join()
    assert read == [t.trade_id for t in burst]

    monkeypatch.setattr(hub_module, "_CATCH_UP_WAIT", 0.01)
    unread = hub.queue(maxsize=100_000)
    waits: list[str] = []
    for q in (hub.default_queue, unread):
        count_catch_up_waits(q, waits)
    hub.publish(burst, catch_up=True)  # the default queue, unread now, and the new one
    assert sorted(waits) == sorted([hub.default_queue.name, unread.name])
    assert unread._consumer_stuck and hub.default_queue._consumer_stuck
    for _ in range(10):
        hub.publish(burst, catch_up=True)
    assert len(waits) == 2  # stuck: nobody waits for them again
    hub.stop()
