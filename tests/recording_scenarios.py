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
from wsclients.models import Event, Status
from wsclients.testing import FakeHyperliquid, FakeTradevest, FakeVegaNode
from wsclients.testing.allium import FakeAllium
from wsclients.testing.cadenza import FakeCadenza
from wsclients.testing.centrifugo import FakeCentrifugo
from wsclients.venues.allium import AlliumStreamClient, F
from wsclients.venues.cadenza.client import CadenzaClient
from wsclients.venues.centrifugo.client import CentrifugoClient
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


def connected(n: int) -> Callable[[list[Event]], bool]:
    """At least ``n`` CONNECTED statuses (of any socket)."""
    return lambda events: sum(
        1 for e in events if isinstance(e, Status) and e.state.value == "connected") >= n


def run_centrifugo(path: Path, **options: Any) -> list[Event]:
    """Tokens from get_token (connection and a private channel's); an rpc between two
    subscribes (it takes a command id, so the later subscribe's id shifts); publications; a
    drop with publications missed and recovered; a lost stream (new epoch) and a drop: a
    RecoveryFailed; more publications."""
    with FakeCentrifugo(seed=13) as fake:
        fake.on_rpc("echo", lambda data, info: data)
        client = CentrifugoClient(
            url=fake.url, get_token=lambda: fake.make_token("alice"), record=path, **FAST,
            **options)
        capture = Capture(client)
        messages = count("message")
        client.subscribe("chat")
        client.subscribe("$vip", get_token=lambda channel: fake.make_token(
            "alice", channel=channel))
        try:
            client.start()
            fake.wait_for_subscribers("$vip")
            assert client.rpc("echo", {"n": 1}) == {"n": 1}
            client.subscribe("news")
            fake.wait_for_subscribers("news")
            for n in range(3):
                fake.publish("chat", {"n": n})
                fake.publish("$vip", {"vip": n})
                fake.publish("news", {"headline": n})
            capture.until(lambda e: messages(e) >= 9)
            fake.drop_all()
            fake.publish("chat", {"n": "while away"})
            capture.until(connected(2))
            fake.wait_for_subscribers("news")
            capture.until(lambda e: messages(e) >= 10)
            fake.set_epoch("news")
            fake.drop_all()
            capture.until(connected(3))
            capture.until(lambda e: count("message", channel="news")(e) >= 4)  # RecoveryFailed
            fake.wait_for_subscribers("news")
            fake.publish("news", {"headline": "after"})
            fake.publish("chat", {"n": "after"})
            capture.until(lambda e: messages(e) >= 13)
        finally:
            client.stop()
        return capture.rest()


CADENZA_BTC, CADENZA_ETH = "BINANCE:BTC/USDT", "BINANCE:ETH/USDT"


def run_cadenza(path: Path, **options: Any) -> list[Event]:
    """Two books (SNAPSHOT then DIFFs), trades and an account; a drop with steps missed and
    recovered; the ETH book's stream lost (new epoch) and a drop: recovery fails, the book
    is dropped and rebuilt from a fresh snapshot; more steps."""
    books = count("book")
    with FakeCadenza(instruments=(CADENZA_BTC, CADENZA_ETH), seed=17, depth=8) as fake:
        client = CadenzaClient(token=fake.make_token("alice"), url=fake.url, book_depth=5,
                               record=path, **FAST, **options)
        capture = Capture(client)
        for instrument in (CADENZA_BTC, CADENZA_ETH):
            client.subscribe_order_book(instrument)
        client.subscribe_trades(CADENZA_BTC)
        client.subscribe_trading_account("acc-1")
        try:
            client.start()
            fake.wait_for_subscribers(fake.account_channel("acc-1"))
            capture.until(lambda e: books(e) >= 2)  # both snapshots
            fake.step(4)
            fake.publish_order_update("acc-1", {"id": "o-1", "status": "FILLED"})
            capture.until(lambda e: books(e) >= 10 and count("message")(e) >= 1)
            fake.drop_all()
            fake.step(2)  # missed while away: recovered with the subscribe replies
            capture.until(connected(2))
            capture.until(lambda e: books(e) >= 14)
            fake.set_epoch(fake.book_channel(CADENZA_ETH))
            fake.drop_all()
            capture.until(connected(3))
            capture.until(lambda e: count("book", is_snapshot=True, symbol=CADENZA_ETH)(e)
                          >= 2)
            fake.step(3)
            capture.until(lambda e: books(e) >= 21)
        finally:
            client.stop()
        return capture.rest()


ALLIUM_KEY = "allium-test-key"
ALLIUM_BLOCKS, ALLIUM_TXS = "ethereum.blocks", "ethereum.transactions"


def run_allium(path: Path, **options: Any) -> list[Event]:
    """Blocks and filtered transactions, each on its socket; the filter changed on the open
    socket; a drop (filter and start put back); more records."""
    blocks = count("message", channel=ALLIUM_BLOCKS)
    with FakeAllium(api_key=ALLIUM_KEY, rate=None, seed=19) as fake:
        client = AlliumStreamClient(api_key=ALLIUM_KEY, url=fake.stream_url("unused"),
                                    record=path, **FAST, **options)
        capture = Capture(client)
        client.subscribe(ALLIUM_BLOCKS)
        client.subscribe(ALLIUM_TXS, filter=F("value") > "1")
        try:
            client.start()
            fake.wait_for_actions(2, lambda a: a.action == "start")

            def publish(n: int) -> None:
                for _ in range(n):
                    fake.publish(ALLIUM_BLOCKS, fake.next_record(ALLIUM_BLOCKS))
                    fake.publish(ALLIUM_TXS, fake.next_record(ALLIUM_TXS))

            publish(3)
            capture.until(lambda e: blocks(e) >= 3)
            client.set_filter(ALLIUM_TXS, F("value") > "1000000000000000000")
            fake.wait_for_actions(3, lambda a: a.action == "start")
            publish(3)
            capture.until(lambda e: blocks(e) >= 6)
            fake.drop_all()
            capture.until(connected(4))
            fake.wait_for_actions(5, lambda a: a.action == "start")
            publish(3)
            capture.until(lambda e: blocks(e) >= 9)
        finally:
            client.stop()
        return capture.rest()


SCENARIOS: dict[str, Callable[..., list[Event]]] = {
    "hyperliquid": run_hyperliquid,
    "vega": run_vega,
    "tradevest": run_tradevest,
    "centrifugo": run_centrifugo,
    "cadenza": run_cadenza,
    "allium": run_allium,
}
