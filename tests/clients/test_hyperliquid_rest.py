"""HyperliquidInfo (POST /info) through ``responses``: payloads, parsing and error mapping."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import responses

from wsclients.errors import (
    ProtocolViolation,
    RateLimited,
    RequestFailed,
    SubscriptionRejected,
)
from wsclients.models import Book, Side, Trade
from wsclients.venues.hyperliquid import HyperliquidClient
from wsclients.venues.hyperliquid.rest import (
    MAINNET_REST_URL,
    TESTNET_REST_URL,
    HyperliquidInfo,
    rest_url_for,
)

URL = MAINNET_REST_URL + "/info"
USER = "0xb7b6f3cea3f66bf525f5d8f965f6dbf6d9b017b2"
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "hyperliquid"


def fixture_data(name: str) -> object:
    return json.loads((FIXTURES / name).read_text().splitlines()[0])["data"]


@pytest.fixture
def info() -> Iterator[HyperliquidInfo]:
    with HyperliquidInfo(retries=2, backoff_factor=0) as client:
        yield client


def sent(call: int = -1) -> object:
    body = responses.calls[call].request.body
    assert body is not None
    return json.loads(body)


@responses.activate
def test_l2_book(info: HyperliquidInfo) -> None:
    """l2Book → a snapshot Book; the request carries nSigFigs/mantissa as the venue spells."""
    responses.post(URL, json=fixture_data("l2book.jsonl"))
    book = info.l2_book("BTC", n_sig_figs=5, mantissa=2)
    assert isinstance(book, Book) and book.is_snapshot and book.symbol == "BTC"
    assert book.best_bid is not None and book.best_bid.price == Decimal("84143.0")
    assert sent() == {"type": "l2Book", "coin": "BTC", "nSigFigs": 5, "mantissa": 2}


@pytest.mark.parametrize("answer", [
    {"json": None}, {"body": ""}, {"json": {}}, {"json": {"coin": "ZZZ", "levels": None}},
    {"status": 500, "body": "Internal Server Error"},
    {"status": 422, "body": "Failed to deserialize the JSON body into the target type"},
], ids=["null", "empty-body", "empty-object", "null-levels", "500", "422"])
@responses.activate
def test_l2_book_unknown_coin(info: HyperliquidInfo, answer: dict[str, Any]) -> None:
    """An answer with no levels in any shape (the REST one is undocumented) is an error,
    never an empty book that would read as a market with no orders."""
    responses.post(URL, **answer)
    with pytest.raises(RequestFailed):
        info.l2_book("ZZZ")


@responses.activate
def test_l2_book_delisted_coin_is_empty(info: HyperliquidInfo) -> None:
    """A delisted coin's book ([[], []]) is an empty Book."""
    responses.post(URL, json={"coin": "MATIC", "time": 1, "levels": [[], []]})
    book = info.l2_book("MATIC")
    assert book.bids == () and book.asks == () and book.is_snapshot


@responses.activate
def test_recent_trades(info: HyperliquidInfo) -> None:
    """recentTrades → Trades."""
    responses.post(URL, json=fixture_data("trades.jsonl"))
    (trade,) = info.recent_trades("BTC")
    assert isinstance(trade, Trade) and trade.side is Side.SELL
    assert sent() == {"type": "recentTrades", "coin": "BTC"}


@responses.activate
def test_candles(info: HyperliquidInfo) -> None:
    """candleSnapshot takes ms; our arguments are ns."""
    responses.post(URL, json=[fixture_data("candle.jsonl")])
    candles = info.candles("BTC", "1m", 1_790_232_180_000_000_000, 1_790_232_240_000_000_000)
    assert candles[0]["o"] == "84143.0"
    assert sent() == {"type": "candleSnapshot", "req": {
        "coin": "BTC", "interval": "1m", "startTime": 1_790_232_180_000,
        "endTime": 1_790_232_240_000}}
    with pytest.raises(SubscriptionRejected):
        info.candles("BTC", "2m", 0)


@responses.activate
def test_user_reads(info: HyperliquidInfo) -> None:
    """userFills, userFillsByTime, openOrders and allMids payloads."""
    responses.post(URL, json=[{"coin": "ETH", "tid": 1}])
    assert info.user_fills(USER, aggregate_by_time=True) == [{"coin": "ETH", "tid": 1}]
    assert sent() == {"type": "userFills", "user": USER, "aggregateByTime": True}
    info.user_fills_by_time(USER.upper().replace("0X", "0x"), 5_000_000, 9_000_000)
    assert sent() == {"type": "userFillsByTime", "user": USER, "startTime": 5, "endTime": 9}
    info.open_orders(USER, dex="xyz")
    assert sent() == {"type": "openOrders", "user": USER, "dex": "xyz"}
    responses.post(URL, json={"BTC": "1.5"})
    assert info.all_mids() == {"BTC": "1.5"}
    assert sent() == {"type": "allMids"}
    with pytest.raises(SubscriptionRejected):
        info.user_fills("0x12")


@responses.activate
def test_422_is_request_failed(info: HyperliquidInfo) -> None:
    """422 (a body the server cannot read) → RequestFailed with its text, no retry."""
    responses.post(URL, status=422, body="Failed to deserialize the JSON body into the target type",
                   content_type="text/plain")
    with pytest.raises(RequestFailed, match="Failed to deserialize") as caught:
        info.info({"type": "bogus"})
    assert caught.value.status == 422 and len(responses.calls) == 1


@responses.activate
def test_429_retried_then_rate_limited(info: HyperliquidInfo) -> None:
    """429 is retried; still 429 after the retries → RateLimited."""
    responses.post(URL, status=429, json={"error": "rate limited"})
    with pytest.raises(RateLimited):
        info.all_mids()
    assert len(responses.calls) == 3


@responses.activate
def test_500_retried_then_ok(info: HyperliquidInfo) -> None:
    """A 500 followed by a good answer succeeds."""
    responses.post(URL, status=500, body="oops")
    responses.post(URL, json={"ETH": "2"})
    assert info.all_mids() == {"ETH": "2"}
    assert len(responses.calls) == 2


@responses.activate
def test_500_after_retries(info: HyperliquidInfo) -> None:
    """500 every time → RequestFailed carrying the status."""
    responses.post(URL, status=500, body="oops")
    with pytest.raises(RequestFailed) as caught:
        info.all_mids()
    assert not isinstance(caught.value, RateLimited)


@responses.activate
def test_wrong_shapes(info: HyperliquidInfo) -> None:
    """Answers of the wrong shape are protocol violations."""
    responses.post(URL, json={"not": "a list"})
    with pytest.raises(ProtocolViolation):
        info.recent_trades("BTC")
    with pytest.raises(ProtocolViolation):
        info.user_fills(USER)
    responses.post(URL, json={"coin": "BTC", "time": 1, "levels": [[{"px": 1.5}], []]})
    with pytest.raises(ProtocolViolation):
        info.l2_book("BTC")
    responses.post(URL, json=[1])
    with pytest.raises(ProtocolViolation):
        info.all_mids()


def test_urls() -> None:
    """Base URLs: mainnet, testnet, and the one beside any socket URL."""
    assert HyperliquidInfo().base_url == MAINNET_REST_URL
    assert HyperliquidInfo(testnet=True).base_url == TESTNET_REST_URL
    assert rest_url_for("wss://api.hyperliquid.xyz/ws") == MAINNET_REST_URL
    assert rest_url_for("ws://127.0.0.1:5000/ws") == "http://127.0.0.1:5000"
    assert HyperliquidClient(testnet=True).rest.base_url == TESTNET_REST_URL
    client = HyperliquidClient(url="ws://h/ws", rest_url="http://other")
    assert client.rest.base_url == "http://other" and client.rest is client.rest
    client.stop()


def candle(t_ms: int) -> dict[str, Any]:
    return {"t": t_ms, "T": t_ms + 59_999, "s": "BTC", "i": "1m", "o": "1", "c": "1",
            "h": "1", "l": "1", "v": "1", "n": 1}


@responses.activate
def test_candles_page_through_the_range(info: HyperliquidInfo) -> None:
    """A range over 500 candles is read page by page; each page starts at the last
    timestamp returned, and the candle at that edge is not repeated."""
    minute = 60_000
    first = [candle(i * minute) for i in range(500)]
    second = [candle(i * minute) for i in range(499, 999)]
    third = [candle(i * minute) for i in range(998, 1200)]
    for page in (first, second, third):
        responses.post(URL, json=page)
    got = info.candles("BTC", "1m", 0, 2000 * minute * 1_000_000)
    assert [c["t"] for c in got] == [i * minute for i in range(1200)]
    starts = [sent(i)["req"]["startTime"] for i in range(3)]  # type: ignore[index]
    assert starts == [0, 499 * minute, 998 * minute]
    assert len(responses.calls) == 3


@pytest.mark.parametrize("method, kind", [
    ("user_funding", "userFunding"),
    ("user_non_funding_ledger_updates", "userNonFundingLedgerUpdates"),
])
@responses.activate
def test_user_funding_and_ledger(info: HyperliquidInfo, method: str, kind: str) -> None:
    """The documented request shapes, in ms, paged like every time range."""
    entry = {"time": 7, "hash": "0x0", "delta": {"type": "funding", "coin": "BTC"}}
    responses.post(URL, json=[entry])
    assert getattr(info, method)(USER.upper().replace("0X", "0x"), 5_000_000, 9_000_000) == [
        entry]
    assert sent() == {"type": kind, "user": USER, "startTime": 5, "endTime": 9}
    getattr(info, method)(USER, 5_000_000)
    assert sent() == {"type": kind, "user": USER, "startTime": 5}
    responses.post(URL, json=[{"hash": "0x0"}] * 500)
    with pytest.raises(ProtocolViolation):
        getattr(info, method)(USER, 0)
