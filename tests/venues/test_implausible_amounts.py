"""Prices and sizes no venue sends (NaN, infinities, negatives, 1e999999) become a non-fatal
ErrorEvent for the frame, never market data; the next valid frame still arrives."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from wsclients.core.amounts import checked_amount
from wsclients.errors import ProtocolViolation
from wsclients.models import Book, ErrorEvent, Event, Trade
from wsclients.venues.hyperliquid import HyperliquidProtocol
from wsclients.venues.tradevest import TradevestProtocol
from wsclients.venues.vega import (
    MarketDecimals,
    VegaStreamProtocol,
    decimals_from_mapping,
    make_stream,
)

BAD_DECIMALS = ["NaN", "-NaN", "sNaN", "Infinity", "-Infinity", "inf", "-1", "-0.5", "1e999999",
                "1e-999999"]


def feed(protocol: Any, *frames: str) -> list[Event]:
    for frame in frames:
        protocol.receive_text(frame, received_ns=1)
    events: list[Event] = protocol.take_events()
    return events


def only_errors(events: list[Event]) -> bool:
    return bool(events) and all(isinstance(e, ErrorEvent) and not e.fatal for e in events)


def hl_trade(px: str, sz: str) -> str:
    return json.dumps({"channel": "trades", "data": [
        {"coin": "BTC", "side": "A", "px": px, "sz": sz, "time": 1751430933565, "hash": "0x",
         "tid": 1, "users": ["0xa", "0xb"]}]})


def hl_book(px: str, sz: str) -> str:
    return json.dumps({"channel": "l2Book", "data": {
        "coin": "BTC", "time": 1, "levels": [[{"px": px, "sz": sz, "n": 1}], []]}})


@pytest.mark.parametrize("bad", BAD_DECIMALS)
@pytest.mark.parametrize("field", ["price", "size"])
def test_hyperliquid_refuses_implausible_trades_and_levels(bad: str, field: str) -> None:
    """A trade or book level with such a price or size is an ErrorEvent; a good one after
    it is delivered."""
    protocol = HyperliquidProtocol()
    px, sz = (bad, "1") if field == "price" else ("100", bad)
    assert only_errors(feed(protocol, hl_trade(px, sz)))
    assert only_errors(feed(protocol, hl_book(px, sz)))
    (good,) = feed(protocol, hl_trade("100", "1"))
    assert isinstance(good, Trade) and good.price == Decimal(100)


def tv_prices(price: str, quantity: str) -> str:
    return json.dumps({"type": "PRICES", "prices": [{
        "market": {"currency": "EUR", "cryptoSymbol": "BTC"}, "time": "2024-07-10T06:01:22.783Z",
        "asks": [{"price": price, "quantity": quantity}], "bids": []}]})


@pytest.mark.parametrize("bad", BAD_DECIMALS)
@pytest.mark.parametrize("field", ["price", "quantity"])
def test_tradevest_refuses_implausible_levels(bad: str, field: str) -> None:
    """A price entry with such a price or quantity is an ErrorEvent, not a Book."""
    protocol = TradevestProtocol()
    protocol.on_open()
    protocol.take_frames()
    price, quantity = (bad, "1") if field == "price" else ("100", bad)
    events = feed(protocol, tv_prices(price, quantity))
    assert not any(isinstance(e, Book) for e in events)
    assert any(isinstance(e, ErrorEvent) for e in events)
    assert any(isinstance(e, Book) for e in feed(protocol, tv_prices("100", "1")))


@pytest.mark.parametrize("bad", ["-5", "NaN", "Infinity", "1e999999", "9" * 200, "-0x1"])
@pytest.mark.parametrize("field", ["price", "size"])
def test_vega_refuses_implausible_trades(bad: str, field: str) -> None:
    """Vega prices and sizes are unsigned integer strings: a sign, a non-integer or more
    digits than a uint256 is an ErrorEvent."""
    protocol = VegaStreamProtocol(make_stream("trades"),
                                  decimals=decimals_from_mapping({"m": MarketDecimals(2, 0)}))
    protocol.on_open()
    item = {"id": "t", "marketId": "m", "price": "700", "size": "3", field: bad}
    assert only_errors(feed(protocol, json.dumps({"result": {"trades": [item]}})))
    good = {"id": "u", "marketId": "m", "price": "700", "size": "3"}
    (trade,) = feed(protocol, json.dumps({"result": {"trades": [good]}}))
    assert isinstance(trade, Trade) and trade.price == Decimal("7")


def test_checked_amount_rules() -> None:
    """Finite, in range, and negative only when the venue allows it; zero is fine."""
    assert checked_amount(Decimal("0"), "size") == 0
    assert checked_amount(Decimal("-0"), "size") == 0
    assert checked_amount(Decimal("-3"), "price", negative=True) == -3
    assert checked_amount(Decimal("1e-8"), "size") == Decimal("1e-8")
    for bad in ("NaN", "Infinity", "-1", "1e41", "1e-41"):
        with pytest.raises(ProtocolViolation):
            checked_amount(Decimal(bad), "size")


EDGES = ["0", "-0", "1e-40", "0.99999e-40", "1e-41", "9.99999e40", "1e41", "1E+41", "-1e-40",
         "0.000", "65000.5", "snan", "1e", "0x10"]


@pytest.mark.parametrize("amount", EDGES)
def test_the_plausible_range_agrees_with_checked_amount(amount: str) -> None:
    """Around the edges of PLAUSIBLE_LOW/HIGH, a Hyperliquid trade (whose parser tests that
    range first) is delivered exactly when checked_amount accepts the amount."""
    try:
        accepted = checked_amount(Decimal(amount), "price") is not None
    except (ProtocolViolation, ArithmeticError):
        accepted = False
    for px, sz in ((amount, "1"), ("100", amount)):
        events = feed(HyperliquidProtocol(), hl_trade(px, sz))
        if accepted:
            assert len(events) == 1 and isinstance(events[0], Trade)
            assert (events[0].price, events[0].size) == (Decimal(px), Decimal(sz))
        else:
            assert only_errors(events)
