"""Cadenza on Centrifugo: channel templates, book/trade payloads, resync rules. No sockets."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from wsclients.errors import BookOutOfSync, ProtocolViolation
from wsclients.models import Book, BookLevel, ErrorEvent, Event, Message, Side, Trade
from wsclients.venues.cadenza import (
    DOCUMENTED_CHANNELS,
    UNIFIED_CHANNELS,
    CadenzaProtocol,
    ChannelTemplates,
    parse_order_book,
    parse_trades,
    split_instrument,
)
from wsclients.venues.cadenza.book import timestamp_ns
from wsclients.venues.centrifugo import Publication, RecoveryFailed

BOOK = "market:orderBook:BINANCE:BTC/USDT"


def frames(protocol: CadenzaProtocol) -> list[dict[str, Any]]:
    return [json.loads(line) for frame in protocol.take_frames() for line in frame.split("\n")]


def feed(protocol: CadenzaProtocol, *replies: dict[str, Any]) -> list[Event]:
    protocol.receive_text("\n".join(json.dumps(r) for r in replies), received_ns=5)
    return protocol.take_events()


def book_payload(kind: str, bids: list[list[str]], asks: list[list[str]], **extra: Any) -> Any:
    return {"updateType": kind, "instrumentId": "BINANCE:BTC/USDT", "venue": "BINANCE",
            "symbol": "BTC/USDT", "orderBookType": "L2", "columns": ["price", "quantity"],
            "bids": bids, "asks": asks, "timestamp": 1_700_000_000_000, **extra}


def pub(offset: int, data: Any, channel: str = BOOK) -> dict[str, Any]:
    return {"push": {"channel": channel, "pub": {"data": data, "offset": offset}}}


def with_book() -> CadenzaProtocol:
    protocol = CadenzaProtocol(token="t")
    protocol.subscribe_order_book(BOOK, "BINANCE:BTC/USDT")
    protocol.on_open()
    frames(protocol)
    feed(protocol, {"id": 1, "connect": {}})
    frames(protocol)
    feed(protocol, {"id": 2, "subscribe": {"recoverable": True, "epoch": "e", "offset": 0}})
    return protocol


def levels(*pairs: tuple[str, str]) -> tuple[BookLevel, ...]:
    return tuple(BookLevel(Decimal(p), Decimal(q)) for p, q in pairs)


class TestChannels:
    def test_documented_templates_are_the_default(self) -> None:
        """market:orderBook:{instrumentId} and friends, as Cadenza's WebSocket page lists."""
        assert DOCUMENTED_CHANNELS.order_book_channel("BINANCE:BTC/USDT") == BOOK
        assert DOCUMENTED_CHANNELS.trades_channel("BINANCE:BTC/USDT") == \
            "market:trade:BINANCE:BTC/USDT"
        assert DOCUMENTED_CHANNELS.trading_account_channel("acc-1") == "tradingAccount:acc-1"

    def test_unified_templates_split_the_instrument(self) -> None:
        """The 2026-05 form takes venue and symbol, spelled as given."""
        assert UNIFIED_CHANNELS.order_book_channel("BINANCE:BTC/USDT") == \
            "market:orderbook:BINANCE:BTC/USDT"
        assert UNIFIED_CHANNELS.trades_channel("binance:BTCUSDT") == "market:trade:binance:BTCUSDT"

    def test_templates_are_overridable_and_checked(self) -> None:
        """Any template with known fields works; an unknown field is refused at once."""
        custom = ChannelTemplates(order_book="book.{symbol}@{venue}")
        assert custom.order_book_channel("OKX:ETH/USDT") == "book.ETH/USDT@OKX"
        with pytest.raises(ValueError, match="instrument"):
            ChannelTemplates(trades="trade:{instrument}")
        with pytest.raises(ValueError):
            split_instrument("BTCUSDT")


class TestPayloads:
    def test_snapshot_and_diff_rows_follow_columns(self) -> None:
        """Rows are laid out per ``columns``; counts come through for L2_COUNTED."""
        update = parse_order_book(book_payload(
            "DIFF", [["100", "2", "3"]], [], columns=["price", "quantity", "orderCount"]))
        assert update is not None and not update.is_snapshot
        assert update.bids == (BookLevel(Decimal("100"), Decimal("2"), 3),)
        assert update.timestamp_ns == 1_700_000_000_000_000_000

    def test_lenient_shapes(self) -> None:
        """A data wrapper, object rows, no updateType (old model: a snapshot), L3 rows summed,
        unknown fields ignored."""
        update = parse_order_book({"channel": "market.orderBook", "subscriptionId": "x", "data": {
            "bids": [{"price": "1", "quantity": "2"}, {"price": "1", "quantity": "3"}],
            "asks": [], "somethingNew": True}})
        assert update is not None and update.is_snapshot
        assert update.bids == levels(("1", "5"))
        assert parse_order_book({"hello": 1}) is None
        with pytest.raises(ProtocolViolation):
            parse_order_book({"updateType": "WEIRD", "bids": [], "asks": []})

    def test_trades_need_price_and_size(self) -> None:
        """Price and size make a Trade (side optional, ids and times where given)."""
        [trade] = parse_trades(
            {"executionId": "x1", "executedPrice": "101.5", "executedQuantity": "0.2",
             "orderSide": "BUY", "executedAt": 1_700_000_000_000, "extra": 1},
            instrument_id="BINANCE:BTC/USDT", venue="cadenza", offset=9, received_ns=1) or []
        assert (trade.price, trade.size, trade.side, trade.trade_id, trade.symbol) == (
            Decimal("101.5"), Decimal("0.2"), Side.BUY, "x1", "BINANCE:BTC/USDT")
        many = parse_trades({"trades": [{"price": "1", "size": "2", "side": "sell"},
                                        {"price": "2", "size": "1"}]},
                            instrument_id="I", venue="cadenza", offset=4, received_ns=1)
        assert many is not None and [(t.side, t.trade_id) for t in many] == [
            (Side.SELL, "4:0"), (None, "4:1")]
        assert parse_trades({"note": "no price"}, instrument_id="I", venue="cadenza",
                            offset=None, received_ns=1) is None

    def test_timestamps_by_magnitude(self) -> None:
        """Milliseconds (Cadenza's unit), microseconds and nanoseconds all become ns."""
        assert timestamp_ns(1_700_000_000_000) == 1_700_000_000_000_000_000
        assert timestamp_ns(1_700_000_000_000_000) == 1_700_000_000_000_000_000
        assert timestamp_ns(1_700_000_000_000_000_000) == 1_700_000_000_000_000_000
        assert timestamp_ns("x") is None and timestamp_ns(None) is None


class TestBooks:
    def test_snapshot_then_diffs_make_books(self) -> None:
        """SNAPSHOT replaces, DIFF upserts, zero quantity deletes; each gives a Book."""
        protocol = with_book()
        events = feed(
            protocol,
            pub(1, book_payload("SNAPSHOT", [["100", "1"], ["99", "2"]], [["101", "1"]])),
            pub(2, book_payload("DIFF", [["100", "0"], ["98", "5"]], [["101", "3"]])),
            pub(3, book_payload("DELTA", [], [["102", "1"]])),
        )
        assert all(isinstance(e, Book) for e in events)
        last = events[-1]
        assert isinstance(last, Book) and last.symbol == "BINANCE:BTC/USDT"
        assert last.bids == levels(("99", "2"), ("98", "5"))
        assert last.asks == levels(("101", "3"), ("102", "1"))
        assert [e.is_snapshot for e in events] == [True, False, False]  # type: ignore[union-attr]
        assert last.sequence == 3

    def test_no_book_before_the_snapshot(self) -> None:
        """Diffs before any snapshot are not usable and give no Book."""
        protocol = with_book()
        assert feed(protocol, pub(1, book_payload("DIFF", [["1", "1"]], []))) == []

    def test_an_offset_gap_takes_a_fresh_snapshot(self) -> None:
        """A missing offset: an error event, the book dropped, a fresh subscribe sent."""
        protocol = with_book()
        feed(protocol, pub(1, book_payload("SNAPSHOT", [["100", "1"]], [["101", "1"]])))
        [error] = feed(protocol, pub(3, book_payload("DIFF", [["100", "2"]], [])))
        assert isinstance(error, ErrorEvent) and isinstance(error.exception, BookOutOfSync)
        assert frames(protocol) == [{"id": 3, "unsubscribe": {"channel": BOOK}},
                                    {"id": 4, "subscribe": {"channel": BOOK}}]
        assert feed(protocol, pub(4, book_payload("DIFF", [["100", "3"]], []))) == []
        assert protocol.resyncs == 1

    def test_a_failed_recovery_takes_a_fresh_snapshot(self) -> None:
        """recovered: false → RecoveryFailed, book dropped, subscribed afresh."""
        protocol = with_book()
        feed(protocol, pub(1, book_payload("SNAPSHOT", [["100", "1"]], [["101", "1"]])))
        protocol.on_close(None, "")
        protocol.reset_socket_state()
        protocol.on_open()
        frames(protocol)
        feed(protocol, {"id": 1, "connect": {}})
        assert frames(protocol)[0]["subscribe"]["recover"] is True
        events = feed(protocol, {"id": 2, "subscribe": {
            "recoverable": True, "epoch": "e2", "offset": 50, "was_recovering": True,
            "recovered": False}})
        assert any(isinstance(e, RecoveryFailed) for e in events)
        assert frames(protocol) == [{"id": 3, "unsubscribe": {"channel": BOOK}},
                                    {"id": 4, "subscribe": {"channel": BOOK}}]
        assert feed(protocol, pub(51, book_payload("DIFF", [["100", "2"]], []))) == []

    def test_a_recovered_book_goes_on_from_the_missed_diffs(self) -> None:
        """recovered: true → the missed diffs apply in order and the book stays whole."""
        protocol = with_book()
        feed(protocol, pub(1, book_payload("SNAPSHOT", [["100", "1"]], [["101", "1"]])))
        protocol.on_close(None, "")
        protocol.reset_socket_state()
        protocol.on_open()
        frames(protocol)
        feed(protocol, {"id": 1, "connect": {}})
        frames(protocol)
        events = feed(protocol, {"id": 2, "subscribe": {
            "recoverable": True, "epoch": "e", "offset": 1, "was_recovering": True,
            "recovered": True, "publications": [
                {"data": book_payload("DIFF", [["100", "4"]], []), "offset": 2}]}})
        [book] = events
        assert isinstance(book, Book) and book.bids == levels(("100", "4"))

    def test_a_payload_that_is_no_book_is_still_delivered(self) -> None:
        """Unknown shapes are never dropped: they come as a Message."""
        protocol = with_book()
        [event] = feed(protocol, pub(1, {"status": "halted"}))
        assert isinstance(event, Message) and event.data == {"status": "halted"}


class TestTradesAndAccounts:
    def test_trades_and_account_events(self) -> None:
        """Trade channel → Trade; other shapes → Message; account channel → Message."""
        protocol = CadenzaProtocol(token="t")
        protocol.subscribe_trades("market:trade:X:A/B", "X:A/B")
        protocol.subscribe_trading_account("tradingAccount:acc-1", "acc-1")
        protocol.on_open()
        feed(protocol, {"id": 1, "connect": {}})
        events = feed(
            protocol,
            pub(1, {"price": "10", "size": "1", "side": "BUY"}, "market:trade:X:A/B"),
            pub(2, {"summary": 1}, "market:trade:X:A/B"),
            pub(1, {"type": "orderUpdate", "order": {"orderId": "o1"}}, "tradingAccount:acc-1"),
        )
        assert isinstance(events[0], Trade) and events[0].symbol == "X:A/B"
        assert isinstance(events[1], Publication) and events[1].symbol == "X:A/B"
        assert isinstance(events[2], Message) and events[2].symbol == "acc-1"
        assert events[2].data["order"] == {"orderId": "o1"}
