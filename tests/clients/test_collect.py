"""collect_events and Client.collect against FakeHyperliquid: real sockets, real threads."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from decimal import Decimal

import pytest

from tests.conftest import T
from wsclients import collect_events
from wsclients.models import Status, Trade
from wsclients.testing.hyperliquid import FakeHyperliquid
from wsclients.venues.hyperliquid import HyperliquidClient

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def fake() -> Iterator[FakeHyperliquid]:
    with FakeHyperliquid(trades_backfill=0) as server:
        yield server


@pytest.fixture
def client(fake: FakeHyperliquid) -> Iterator[HyperliquidClient]:
    hl = HyperliquidClient(url=fake.url, backoff_min=0.01, backoff_max=0.05)
    hl.subscribe_trades("BTC")
    hl.start()
    fake.wait_for_subscriptions(1, timeout=3 * T)
    yield hl
    hl.stop()


def publish(fake: FakeHyperliquid, count: int) -> None:
    for n in range(count):
        fake.publish_trade("BTC", f"100.{n}", "1", side="B")


def test_max_events_stops_without_reading_more(
    fake: FakeHyperliquid, client: HyperliquidClient
) -> None:
    """With max_events=3 of 5 trades, 3 come back and the 4th is still next in the queue."""
    publish(fake, 5)
    got = client.collect(3 * T, kinds={"trade"}, max_events=3)
    assert [t.price for t in got if isinstance(t, Trade)] == [
        Decimal("100.0"), Decimal("100.1"), Decimal("100.2")
    ]
    fourth = client.get(timeout=3 * T)
    assert isinstance(fourth, Trade) and fourth.price == Decimal("100.3")


def test_seconds_bound_the_wait(client: HyperliquidClient) -> None:
    """With no trade coming, collect(0.3, kinds={'trade'}) returns [] after about 0.3 s."""
    started = time.monotonic()
    got = client.collect(0.3, kinds={"trade"})
    elapsed = time.monotonic() - started
    assert got == []
    assert 0.3 <= elapsed < 0.3 + 2 * T


def test_kinds_keep_only_those_kinds(fake: FakeHyperliquid, client: HyperliquidClient) -> None:
    """Without kinds the connect Status comes too; kinds={'trade'} leaves it out."""
    publish(fake, 2)
    everything = client.collect(0.5 * T)
    assert any(isinstance(e, Status) for e in everything)
    assert sum(isinstance(e, Trade) for e in everything) == 2
    publish(fake, 2)
    trades_only = client.collect(0.5 * T, kinds=["trade"])
    assert len(trades_only) == 2 and all(isinstance(e, Trade) for e in trades_only)


def test_no_limit_reads_until_the_client_stops(
    fake: FakeHyperliquid, client: HyperliquidClient
) -> None:
    """collect() with no seconds and no max_events returns once the client is stopped."""
    publish(fake, 3)
    stopper = threading.Timer(0.3, client.stop)
    stopper.start()
    try:
        got = collect_events(client, kinds={"trade"})
    finally:
        stopper.join()
    assert len(got) == 3


def test_collect_reads_an_extra_queue(fake: FakeHyperliquid, client: HyperliquidClient) -> None:
    """collect_events reads any EventSource, e.g. a queue made with client.queue()."""
    extra = client.queue(kinds={"trade"})
    publish(fake, 4)
    got = collect_events(extra, 3 * T, max_events=4)
    assert [e.kind for e in got] == ["trade"] * 4


@pytest.mark.parametrize(
    ("kinds", "words"),
    [
        ("trade", "collection of kinds"),
        ({"trades"}, "unknown event kinds ['trades']"),
        ({"trade", "bogus"}, "book, error, message, status, trade"),
    ],
)
def test_bad_kinds_are_refused(kinds: object, words: str) -> None:
    """A bare string or an unknown kind is a ValueError that says what is allowed."""
    hl = HyperliquidClient(url="ws://127.0.0.1:9/ws")
    with pytest.raises(ValueError, match="kinds") as caught:
        hl.collect(0, kinds=kinds)  # type: ignore[arg-type]
    assert words in str(caught.value)


@pytest.mark.parametrize("options", [{"seconds": -1}, {"max_events": -1}])
def test_negative_limits_are_refused(options: dict[str, float]) -> None:
    """Negative seconds or max_events are a ValueError, not an empty list."""
    hl = HyperliquidClient(url="ws://127.0.0.1:9/ws")
    with pytest.raises(ValueError, match="must be >= 0"):
        hl.collect(**options)  # type: ignore[arg-type]
