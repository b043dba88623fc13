"""The reader hands a burst of frames to the hub in batches, in order, and flushes at the end."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import T
from tests.core.echo import EchoClient, EchoServer, trade
from wsclients import ConnectionState, Status, Trade
from wsclients.core.hub import EventQueue
from wsclients.models import Event

pytestmark = pytest.mark.timeout(30)

BURST = 2000


@pytest.fixture
def server() -> Iterator[EchoServer]:
    with EchoServer("batching") as server:
        yield server


def client_for(server: EchoServer, **options: Any) -> EchoClient:
    return EchoClient(url=server.url, ping_interval=None, stale_timeout=None, **options)


def events_until_closed(source: EventQueue) -> list[Event]:
    out: list[Event] = []
    while True:
        try:
            event = source.get(timeout=5 * T)
        except queue.Empty:
            raise AssertionError(f"no CLOSED status; got {len(out)} events") from None
        out.append(event)
        if isinstance(event, Status) and event.state is ConnectionState.CLOSED:
            return out


@pytest.mark.parametrize("dispatch", ["thread", "inline"])
def test_burst_arrives_whole_and_in_order_before_the_close(
    server: EchoServer, dispatch: str
) -> None:
    """Every frame of a burst followed at once by a close becomes an event, in order, and all
    of them are delivered before the status that reports the close."""
    seen: list[str] = []
    client = client_for(server, reconnect=False, dispatch=dispatch,
                        on_trade=lambda t: seen.append(t.trade_id))
    everything = client.queue()  # trades have a callback: the default queue skips them
    with client:
        conn = server.wait_for_connections(1)[0]
        conn.send_batch([trade(i) for i in range(BURST)])
        conn.close(1000, "done")
        events = events_until_closed(everything)
    trades = [e.trade_id for e in events if isinstance(e, Trade)]
    assert trades == [str(i) for i in range(BURST)]
    last_trade = max(i for i, e in enumerate(events) if isinstance(e, Trade))
    closes = [i for i, e in enumerate(events) if isinstance(e, Status)
              and e.state is ConnectionState.CLOSED]
    assert closes and closes[0] > last_trade
    assert seen == trades  # the callbacks saw the same, in the same order


def test_burst_is_published_in_batches(server: EchoServer) -> None:
    """A burst costs far fewer hand-overs to the hub than frames
    (docs/threading.rst#threading-threads)."""
    client = client_for(server)
    sizes: list[int] = []
    publish = client._hub.publish

    def counting(events: list[Event], **options: Any) -> None:
        if any(isinstance(e, Trade) for e in events):
            sizes.append(len(events))
        publish(events, **options)

    client._hub.publish = counting  # type: ignore[method-assign]
    with client:
        conn = server.wait_for_connections(1)[0]
        conn.send_batch([trade(i) for i in range(BURST)])
        got = 0
        while got < BURST:
            event = client.get(timeout=5 * T)
            got += isinstance(event, Trade)
    assert sum(sizes) == BURST
    assert len(sizes) <= BURST // 2, f"{len(sizes)} publishes for {BURST} frames"
    assert 1 < max(sizes) <= client._hub.batch_size


@pytest.mark.parametrize("dispatch", ["thread", "inline"])
def test_a_close_request_mid_burst_stops_the_batch_there(
    server: EchoServer, dispatch: str
) -> None:
    """Frames read together are parsed together, but a frame that asks the connection to act
    (here a fatal close) is attended to before the next one: every trade before it is
    delivered, none after it is parsed."""
    seen: list[str] = []
    client = client_for(server, dispatch=dispatch, on_trade=lambda t: seen.append(t.trade_id))
    everything = client.queue()
    with client:
        conn = server.wait_for_connections(1)[0]
        before = [trade(i) for i in range(300)]
        after = [trade(i) for i in range(300, 600)]
        conn.send_batch([*before, '{"type":"fatal"}', *after])
        events = events_until_closed(everything)
    trades = [e.trade_id for e in events if isinstance(e, Trade)]
    assert trades == [str(i) for i in range(300)]
    assert seen == trades
