"""Slow consumers: the overflow report gets through a flood, and overflow="block" holds a
healthy socket open (its heartbeat knows the reader waits for the user, not for the server)."""

from __future__ import annotations

import threading
import time
from decimal import Decimal
from typing import Any

import pytest

from tests.conftest import T
from tests.helpers import next_event, wait_until
from wsclients import ConnectionState, ErrorEvent, Status, Trade
from wsclients.core.hub import Hub
from wsclients.errors import QueueOverflow
from wsclients.testing.hyperliquid import FakeHyperliquid
from wsclients.venues.hyperliquid import HyperliquidClient

pytestmark = pytest.mark.timeout(30)


def make_trade(i: int) -> Trade:
    return Trade(venue="t", symbol="X", price=Decimal(i), size=Decimal(1), side=None,
                 trade_id=str(i), timestamp_ns=i, received_ns=i)


def is_overflow(event: Any) -> bool:
    return isinstance(event, ErrorEvent) and isinstance(event.exception, QueueOverflow)


@pytest.mark.parametrize("policy", ["drop_oldest", "drop_newest"])
def test_overflow_report_jumps_a_sustained_flood_in_a_queue(policy: str) -> None:
    """The QueueOverflow report is the next event get() returns, however long the flood
    that followed it (it is neither dropped nor pushed out)."""
    hub = Hub(venue="t", callbacks={})
    q = hub.queue(maxsize=10, overflow=policy)
    for batch in range(200):
        hub.publish([make_trade(batch * 10 + i) for i in range(10)])
    first = q.get(timeout=1)
    assert is_overflow(first)
    assert q.dropped == 2000 - 10


@pytest.mark.parametrize("policy", ["drop_oldest", "drop_newest"])
def test_overflow_report_reaches_on_error_during_a_flood(policy: str) -> None:
    """With on_trade stuck and trades still pouring in, on_error hears of the overflow as
    soon as the dispatcher is free, ahead of the backlog; statuses are never dropped."""
    calls: list[str] = []
    gate = threading.Event()

    def on_trade(t: Trade) -> None:
        gate.wait(5)
        calls.append("trade")

    def on_error(e: ErrorEvent) -> None:
        calls.append("overflow" if is_overflow(e) else "error")

    hub = Hub(venue="t", callbacks={"trade": on_trade, "error": on_error,
                                    "status": lambda s: calls.append("status")},
              queue_size=10, overflow=policy)
    hub.start()
    try:
        for batch in range(100):
            hub.publish([make_trade(batch * 10 + i) for i in range(10)])
        hub.publish([Status(venue="t", state=ConnectionState.RECONNECTING, url="ws://x",
                            received_ns=1)])
        for batch in range(100, 200):
            hub.publish([make_trade(batch * 10 + i) for i in range(10)])
        gate.set()
        assert wait_until(lambda: "overflow" in calls and "status" in calls, timeout=2 * T)
        assert calls.index("overflow") <= 1 and calls.index("status") <= 2
    finally:
        gate.set()
        hub.stop()


def test_block_policy_keeps_a_healthy_hyperliquid_socket() -> None:
    """A consumer that stops reading for 1 s under overflow="block", with pings every 50 ms
    and a 0.3 s stale timeout: no missed-pong verdict, no stale verdict, no reconnect, and
    every trade the server sent arrives in order."""
    with FakeHyperliquid() as fake:
        client = HyperliquidClient(url=fake.url, overflow="block", queue_size=5,
                                   ping_interval=0.05, stale_timeout=0.3,
                                   backoff_min=0.01, backoff_max=0.05)
        try:
            client.subscribe_trades("ETH")
            client.start(timeout=3 * T)
            fake.wait_for_subscriptions(1)
            sent = [fake.publish_trade("ETH", str(100 + i), "1")["tid"] for i in range(40)]
            time.sleep(1.0)  # nobody reads: the reader waits on the full queue
            got: list[Any] = []
            while len(got) < len(sent):
                event = next_event(client, lambda e: isinstance(e, (Trade, Status)))
                assert not isinstance(event, Status) or \
                    event.state is not ConnectionState.RECONNECTING, event
                if isinstance(event, Trade):
                    got.append(event.raw["tid"])
            assert got == sent
            assert len(fake.connections) == 1 and client.state is ConnectionState.CONNECTED
        finally:
            client.stop()


def test_centrifugo_ping_watchdog_waits_while_the_reader_is_held_up() -> None:
    """Server pings that sit unread behind the user's backlog do not trip the watchdog; once
    the reader is free again the server has a full period before it does."""
    from tests.venues.test_centrifugo import connected

    protocol = connected(result={"ping": 2, "pong": True}, max_server_ping_delay=1)
    protocol.on_tick(10.0)
    protocol.reader_held_up = True
    for now in (12.0, 14.0, 16.0, 18.0):
        protocol.on_tick(now)
    assert protocol.close_request is None
    protocol.reader_held_up = False
    protocol.on_tick(20.9)
    assert protocol.close_request is None
    protocol.on_tick(21.1)
    assert protocol.close_request is not None and "no ping" in protocol.close_request.reason


@pytest.mark.parametrize("policy", ["drop_oldest", "drop_newest"])
def test_delivered_plus_dropped_equals_published(policy: str) -> None:
    """Trades and statuses mixed in a flood: every event is either delivered or counted as
    dropped (the urgent lane included), the overflow report on top."""
    hub = Hub(venue="t", callbacks={})
    q = hub.queue(maxsize=10, overflow=policy)
    status = Status(venue="t", state=ConnectionState.RECONNECTING, url="ws://x", received_ns=1)
    sent = 0
    for batch in range(300):
        events: list[Any] = [make_trade(batch * 10 + i) for i in range(9)] + [status]
        hub.publish(events)
        sent += len(events)
    delivered = []
    while q.qsize():
        delivered.append(q.get(timeout=0))
    reports = [e for e in delivered if is_overflow(e)]
    assert len(reports) == 1
    assert len(delivered) - len(reports) + q.dropped == sent
