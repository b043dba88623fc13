"""Live sessions against the fakes, recorded: shared by the record/replay tests and by
``tests/fixtures/recordings/make.py``, which writes the committed fixtures with them.

Each ``run_*`` drives a fake venue with a fixed seed through a short, eventful session (a
drop and a reconnect among it), records it to ``path`` and returns every event the live
client published, in order, read from an extra queue made before ``start()``.
"""

from __future__ import annotations

import os
import queue
import time
from typing import Any, Callable, Union

from wsclients.core.client import Client
from wsclients.core.hub import EventQueue
from wsclients.models import Event
from wsclients.testing import FakeHyperliquid, FakeTradevest, FakeVegaNode
from wsclients.venues.hyperliquid import HyperliquidClient
from wsclients.venues.tradevest import TradevestClient
from wsclients.venues.vega import VegaClient

Path = Union[str, "os.PathLike[str]"]
FAST = {"backoff_min": 0.01, "backoff_max": 0.05}


class Capture:
    """Events of one live client, read off an extra queue as they come."""

    def __init__(self, client: Client) -> None:
        self.queue: EventQueue = client.queue()
        self.events: list[Event] = []

    def until(self, condition: Callable[[list[Event]], bool], timeout: float = 5.0) -> None:
        """Read events until ``condition(events)`` holds. Raises AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        while not condition(self.events):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"condition not met; {len(self.events)} events so far")
            try:
                self.events.append(self.queue.get(timeout=min(remaining, 0.1)))
            except queue.Empty:
                pass

    def rest(self) -> list[Event]:
        """After stop(): every event, the late ones included."""
        while True:
            try:
                self.events.append(self.queue.get(timeout=0))
            except queue.Empty:
                return self.events


def count(kind: str, **fields: Any) -> Callable[[list[Event]], int]:
    def counter(events: list[Event]) -> int:
        return sum(
            1 for e in events
            if e.kind == kind and all(getattr(e, k, None) == v for k, v in fields.items())
        )

    return counter


def ticks(fake: FakeHyperliquid, n: int) -> None:
    """``n`` market steps a few milliseconds apart (trades in one millisecond carrying the
    fake's one hash would be one trade to the deduplication)."""
    for _ in range(n):
        fake.tick()
        time.sleep(0.003)


def run_hyperliquid(path: Path, **options: Any) -> list[Event]:
    """BTC trades and book; ticks; a drop (the backfill after the resubscribe is dropped as
    duplicates); more ticks."""
    trades, books = count("trade"), count("book")
    with FakeHyperliquid(coins=("BTC",), spot_coins=(), seed=7, trades_backfill=5) as fake:
        client = HyperliquidClient(url=fake.url, record=path, **FAST, **options)
        capture = Capture(client)
        client.subscribe_trades("BTC")
        client.subscribe_l2_book("BTC")
        try:
            client.start()
            capture.until(lambda e: books(e) >= 1)  # the book snapshot: both are live
            ticks(fake, 6)
            capture.until(lambda e: trades(e) >= 6 and books(e) >= 7)
            fake.drop_all()
            capture.until(lambda e: count("status", state=client.state.CONNECTED)(e) >= 2)
            capture.until(lambda e: books(e) >= 8)  # the snapshot after the resubscribe
            ticks(fake, 4)
            capture.until(lambda e: trades(e) >= 10 and books(e) >= 12)
        finally:
            client.stop()
        return capture.rest()


def run_vega(path: Path, **options: Any) -> list[Event]:
    """A managed book (REST snapshot, then chained updates) and the trades of one market;
    blocks; the book's socket dropped (a resync from a fresh snapshot); more blocks."""
    books, trades = count("book"), count("trade")
    snapshots = count("book", is_snapshot=True)
    with FakeVegaNode(seed=11) as node:
        market = node.market_ids[0]
        client = VegaClient(url=node.url, record=path, **FAST, **options)
        capture = Capture(client)
        client.subscribe_book(market, depth=5)
        client.subscribe_trades(market)
        try:
            client.start()
            node.wait_for_streams("markets/depth/updates")
            node.wait_for_streams("trades")
            capture.until(lambda e: snapshots(e) >= 1)
            node.step(4)
            capture.until(lambda e: books(e) >= 5 and trades(e) >= 4)
            node.drop_streams("markets/depth/updates")
            capture.until(lambda e: snapshots(e) >= 2)
            node.step(3)
            capture.until(lambda e: books(e) >= 9 and trades(e) >= 7)
        finally:
            client.stop()
        return capture.rest()


def run_tradevest(path: Path, **options: Any) -> list[Event]:
    """Two markets' ladders for a few price ticks, a drop, a few more."""
    books = count("book")
    with FakeTradevest(markets=[("EUR", "BTC"), ("EUR", "ETH")], price_interval=0.05,
                       seed=5) as fake:
        client = TradevestClient(["BTC-EUR", "ETH-EUR"], url=fake.url, record=path, **FAST,
                                 **options)
        capture = Capture(client)
        try:
            client.start()
            capture.until(lambda e: books(e) >= 6)
            fake.drop_all()
            capture.until(lambda e: books(e) >= 12)
        finally:
            client.stop()
        return capture.rest()


SCENARIOS: dict[str, Callable[..., list[Event]]] = {
    "hyperliquid": run_hyperliquid,
    "vega": run_vega,
    "tradevest": run_tradevest,
}
