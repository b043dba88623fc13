"""Sinks on the hub and the client: fed every batch, never able to hurt the reader."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from decimal import Decimal

import pytest

from tests.core.echo import EchoClient, EchoServer, trade
from tests.helpers import wait_until
from wsclients import Trade
from wsclients.core.hub import Hub
from wsclients.errors import ClientStopped
from wsclients.models import Event

pytestmark = pytest.mark.timeout(30)


def make_trade(i: int) -> Trade:
    return Trade(venue="t", symbol="X", price=Decimal(i), size=Decimal(1), side=None,
                 trade_id=str(i), timestamp_ns=i, received_ns=i)


class RecordingSink:
    """Keeps what it is handed and the thread that handed it; counts start/stop calls."""

    def __init__(self, *, fail: bool = False) -> None:
        self.batches: list[list[Event]] = []
        self.threads: set[str] = set()
        self.starts = 0
        self.stops = 0
        self.fail = fail

    def accept(self, events: Sequence[Event]) -> None:
        self.threads.add(threading.current_thread().name)
        if self.fail:
            raise RuntimeError("sink broke")
        self.batches.append(list(events))

    def start(self) -> None:
        self.starts += 1

    def stop(self, timeout: float = 2.0) -> None:
        self.stops += 1

    @property
    def events(self) -> list[Event]:
        return [e for batch in self.batches for e in batch]


def test_sink_gets_each_published_batch_after_the_queues() -> None:
    """accept() receives the very batches publish() got, once each, queues already fed."""
    hub = Hub(venue="t", callbacks={})
    seen_in_queue: list[int] = []

    class Checking(RecordingSink):
        def accept(self, events: Sequence[Event]) -> None:
            seen_in_queue.append(hub.default_queue.qsize())
            super().accept(events)

    sink = Checking()
    hub.add_sink(sink)
    hub.add_sink(sink)  # twice: still once
    hub.publish([make_trade(1), make_trade(2)])
    hub.publish([make_trade(3)])
    assert [[e.trade_id for e in b] for b in sink.batches] == [["1", "2"], ["3"]]  # type: ignore[union-attr]
    assert seen_in_queue == [2, 3]
    assert hub.sinks == (sink,)
    assert hub.remove_sink(sink) and not hub.remove_sink(sink)
    hub.publish([make_trade(4)])
    assert len(sink.events) == 3


def test_a_raising_sink_is_counted_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    """A failing sink never raises into publish; queues and other sinks still get events."""
    hub = Hub(venue="t", callbacks={})
    broken, good = RecordingSink(fail=True), RecordingSink()
    hub.add_sink(broken)
    hub.add_sink(good)
    with caplog.at_level(logging.ERROR, logger="wsclients.core.hub"):
        for i in range(5):
            hub.publish([make_trade(i)])
    assert hub.sink_errors == 5
    assert len([r for r in caplog.records if "sink" in r.getMessage()]) == 1
    assert len(good.events) == 5 and hub.default_queue.qsize() == 5
    assert hub.errors == 0  # not turned into ErrorEvents (they would go to the sink again)


def test_client_starts_feeds_and_stops_its_sinks() -> None:
    """add_sink: started with the client, fed on the reader thread, stopped by stop()."""
    early, late = RecordingSink(), RecordingSink()
    with EchoServer("echo") as server:
        client = EchoClient(url=server.url, ping_interval=None, stale_timeout=None)
        client.add_sink(early)
        assert early.starts == 0  # constructors and add_sink before start() do no I/O
        client.start()
        assert early.starts == 1
        client.add_sink(late)
        assert late.starts == 1  # a running client starts it at once
        conn = server.wait_for_connections(1)[0]
        for i in range(3):
            conn.send(trade(i))
        assert wait_until(lambda: len([e for e in late.events if e.kind == "trade"]) == 3)
        assert [e.trade_id for e in early.events if isinstance(e, Trade)] == ["0", "1", "2"]
        assert all(name.startswith("wsclients-") and "dispatch" not in name
                   for name in early.threads)
        client.remove_sink(late)
        assert late.stops == 1
        client.stop()
    assert early.stops == 1 and late.stops == 1
    with pytest.raises(ClientStopped):
        client.add_sink(RecordingSink())
