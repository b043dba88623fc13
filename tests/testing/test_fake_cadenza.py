"""FakeCadenza: its channels, SNAPSHOT/DIFF book stream, trades and account events."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import websocket

from tests.conftest import T
from wsclients.testing import CURRENT_CHANNELS, FakeCadenza

pytestmark = pytest.mark.timeout(30)

BTC = "BINANCE:BTC/USDT"
ETH = "BINANCE:ETH/USDT"


class LocalBook:
    """What a client builds from the publications: SNAPSHOT replaces, DIFF upserts/deletes."""

    def __init__(self) -> None:
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}
        self.deletes = 0

    def apply(self, data: dict[str, Any]) -> None:
        if data["updateType"] == "SNAPSHOT":
            self.bids.clear()
            self.asks.clear()
        for side, levels in ((self.bids, data["bids"]), (self.asks, data["asks"])):
            for price, quantity in levels:
                if Decimal(quantity) == 0:
                    self.deletes += 1
                    side.pop(Decimal(price), None)
                else:
                    side[Decimal(price)] = Decimal(quantity)

    def sorted(self) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        return (sorted(self.bids.items(), reverse=True), sorted(self.asks.items()))


class Raw:
    """A plain socket: connect, subscribe, read pushes one message at a time."""

    def __init__(self, fake: FakeCadenza, user: str = "alice") -> None:
        self.ws = websocket.create_connection(fake.url, timeout=3 * T)
        self.pending: list[Any] = []
        self.ws.send(json.dumps({"id": 1, "connect": {"token": fake.make_token(user)}}))
        assert "connect" in self.next()
        self.ids = 1

    def next(self) -> Any:
        if not self.pending:
            text = self.ws.recv()
            assert isinstance(text, str)
            self.pending = [json.loads(line) for line in text.split("\n")]
        return self.pending.pop(0)

    def subscribe(self, channel: str, **fields: Any) -> Any:
        self.ids += 1
        self.ws.send(json.dumps({"id": self.ids, "subscribe": {"channel": channel, **fields}}))
        return self.next()

    def pubs(self, n: int, channel: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        while len(found) < n:
            message = self.next()
            push = message.get("push", {})
            if push.get("channel") == channel and "pub" in push:
                found.append(push["pub"])
        return found

    def close(self) -> None:
        self.ws.close()


@pytest.fixture
def fake() -> Iterator[FakeCadenza]:
    with FakeCadenza() as server:
        yield server


def test_book_snapshot_then_diffs_rebuild_the_fakes_book(fake: FakeCadenza) -> None:
    """Subscribe → reply, then a SNAPSHOT; 40 DIFF steps applied give exactly book()."""
    raw = Raw(fake)
    channel = fake.book_channel(BTC)
    assert channel == "market:orderBook:BINANCE:BTC/USDT"
    reply = raw.subscribe(channel)
    assert reply["subscribe"]["recoverable"] is True
    [snapshot] = raw.pubs(1, channel)
    data = snapshot["data"]
    assert data["updateType"] == "SNAPSHOT" and data["instrumentId"] == BTC
    assert (data["venue"], data["symbol"], data["orderBookType"], data["columns"]) == (
        "BINANCE", "BTC/USDT", "L2", ["price", "quantity"])
    prices = [Decimal(p) for p, _ in data["bids"]]
    assert prices == sorted(prices, reverse=True)
    assert [Decimal(p) for p, _ in data["asks"]] == sorted(Decimal(p) for p, _ in data["asks"])
    book = LocalBook()
    book.apply(data)
    assert book.sorted() == fake.book(BTC)
    fake.step(40)
    pubs = raw.pubs(40, channel)
    assert [p["offset"] for p in pubs] == list(range(snapshot["offset"] + 1,
                                                      snapshot["offset"] + 41))
    assert {p["data"]["updateType"] for p in pubs} == {"DIFF"}
    for pub in pubs:
        book.apply(pub["data"])
    assert book.sorted() == fake.book(BTC)
    assert book.deletes > 0  # zero quantities were sent and deleted levels
    raw.close()


def test_periodic_snapshots() -> None:
    """snapshot_every=3: every third book step is a SNAPSHOT."""
    with FakeCadenza(instruments=[ETH], snapshot_every=3, snapshot_on_subscribe=False) as fake:
        raw = Raw(fake)
        channel = fake.book_channel(ETH)
        raw.subscribe(channel)
        fake.step(6)
        kinds = [p["data"]["updateType"] for p in raw.pubs(6, channel)]
        assert kinds == ["SNAPSHOT", "DIFF", "SNAPSHOT", "DIFF", "DIFF", "SNAPSHOT"]
        raw.close()


def test_trades(fake: FakeCadenza) -> None:
    """One trade publication per instrument step; scripted trades too."""
    raw = Raw(fake)
    channel = fake.trade_channel(ETH)
    assert "subscribe" in raw.subscribe(channel)
    fake.step(2)
    trades = [p["data"] for p in raw.pubs(2, channel)]
    assert set(trades[0]) == {"instrumentId", "venue", "symbol", "tradeId", "price",
                              "quantity", "side", "timestamp"}
    assert all(t["instrumentId"] == ETH and t["side"] in ("BUY", "SELL") for t in trades)
    assert int(trades[1]["tradeId"]) > int(trades[0]["tradeId"])
    sent = fake.publish_trade(ETH, "3500.01", "0.5", "SELL", trade_id="x1", timestamp_ms=5)
    assert raw.pubs(1, channel)[0]["data"] == sent
    raw.close()


def test_account_events_and_owners() -> None:
    """Order updates on tradingAccount:{id}; with account_owners only the owner subscribes."""
    with FakeCadenza(account_owners={"acc-1": "alice"}) as fake:
        channel = fake.account_channel("acc-1")
        assert channel == "tradingAccount:acc-1"
        bob = Raw(fake, user="bob")
        assert bob.subscribe(channel)["error"]["code"] == 103
        assert bob.subscribe(fake.account_channel("acc-2"))["error"]["code"] == 103
        alice = Raw(fake)
        assert "subscribe" in alice.subscribe(channel)
        offset = fake.publish_order_update("acc-1", {"orderId": "o-1", "status": "FILLED"})
        pub = alice.pubs(1, channel)[0]
        assert set(pub) == {"data", "offset", "time"}
        assert pub["data"] == {"type": "orderUpdate",
                               "order": {"orderId": "o-1", "status": "FILLED"}}
        assert pub["offset"] == offset and abs(pub["time"] - time.time() * 1000) < 60_000
        fake.publish_account_event("acc-1", {"type": "balance"})
        assert alice.pubs(1, channel)[0]["data"] == {"type": "balance"}
        alice.close()
        bob.close()


def test_current_channel_names() -> None:
    """CURRENT_CHANNELS: market:orderbook:{venue}:{symbol} and market:trade:{venue}:{symbol}."""
    with FakeCadenza(channels=CURRENT_CHANNELS) as fake:
        assert fake.book_channel(BTC) == "market:orderbook:BINANCE:BTC/USDT"
        assert fake.trade_channel(BTC) == "market:trade:BINANCE:BTC/USDT"
        raw = Raw(fake)
        raw.subscribe(fake.book_channel(BTC))
        assert raw.pubs(1, fake.book_channel(BTC))[0]["data"]["updateType"] == "SNAPSHOT"
        raw.close()


def test_book_recovery_after_a_drop(fake: FakeCadenza) -> None:
    """Recovering a book channel returns the missed DIFFs in order; the book matches."""
    channel = fake.book_channel(BTC)
    raw = Raw(fake)
    raw.subscribe(channel)
    book = LocalBook()
    fake.step(3)
    pubs = raw.pubs(4, channel)
    for pub in pubs:
        book.apply(pub["data"])
    epoch = fake.stream_position(channel)[0]
    raw.close()
    fake.step(5)
    raw = Raw(fake)
    reply = raw.subscribe(channel, recover=True, epoch=epoch, offset=pubs[-1]["offset"])
    result = reply["subscribe"]
    assert result["recovered"] is True
    assert [p["data"]["updateType"] for p in result["publications"]] == ["DIFF"] * 5
    for pub in result["publications"]:
        book.apply(pub["data"])
    assert book.sorted() == fake.book(BTC)
    assert raw.pubs(1, channel)[0]["data"]["updateType"] == "SNAPSHOT"  # after the resubscribe
    raw.close()


def test_streaming_rate(fake: FakeCadenza) -> None:
    """start_streaming(rate) moves the market on its own until stop_streaming()."""
    raw = Raw(fake)
    channel = fake.trade_channel(BTC)
    raw.subscribe(channel)
    fake.start_streaming(100)
    started = time.monotonic()
    raw.pubs(5, channel)
    fake.stop_streaming()
    assert time.monotonic() - started < 2 * T
    raw.close()


def test_same_seed_same_stream() -> None:
    """Two fakes with one seed publish the same books and trades."""
    books = []
    for _ in range(2):
        with FakeCadenza(seed=7) as fake:
            fake.step(10)
            trades = [pub["data"] for pub in fake.history(fake.trade_channel(ETH))]
            books.append((fake.book(ETH), trades))
    assert books[0] == books[1]


def test_malformed_instrument_is_refused() -> None:
    """Instrument ids must look like VENUE:BASE/QUOTE."""
    with pytest.raises(ValueError):
        FakeCadenza(instruments=["BTCUSDT"])


def test_official_client_builds_the_book() -> None:
    """centrifuge-python subscribed to a book channel ends with the fake's book."""
    centrifuge = pytest.importorskip("centrifuge")

    with FakeCadenza() as fake:
        channel = fake.book_channel(BTC)
        book = LocalBook()

        class Events(centrifuge.SubscriptionEventHandler):  # type: ignore[misc,name-defined]
            async def on_publication(self, ctx: Any) -> None:
                book.apply(ctx.pub.data)

        async def main() -> None:
            client = centrifuge.Client(fake.url, token=fake.make_token("alice"), proxy=None)
            await client.connect()
            sub = client.new_subscription(channel, events=Events())
            await sub.subscribe()
            await sub.ready(2 * T)
            await asyncio.to_thread(fake.step, 20)
            deadline = time.monotonic() + 3 * T
            while book.sorted() != fake.book(BTC) and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            assert book.sorted() == fake.book(BTC)
            await client.disconnect()

        asyncio.run(main())
