"""The sinks' event codec: every event kind to JSON and back, equal and exact."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wsclients.errors import ProtocolViolation, SubscriptionRejected
from wsclients.models import (
    Book,
    BookLevel,
    ConnectionState,
    ErrorEvent,
    Event,
    Message,
    Side,
    Status,
    Trade,
)
from wsclients.sinks.codec import decode_event, encode_event
from wsclients.venues.hyperliquid import HyperliquidProtocol
from wsclients.venues.vega import VegaStreamProtocol, decimals_from_mapping, make_stream

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
NS = 1_764_000_000_123_456_789


def sample_events() -> list[Event]:
    """One of each kind, with the awkward values: None sides and counts, exponents."""
    return [
        Trade(venue="hyperliquid", symbol="BTC", price=Decimal("97123.50"),
              size=Decimal("0.00012300"), side=Side.SELL, trade_id="77", timestamp_ns=NS - 5,
              received_ns=NS, raw={"tid": 77}),
        Trade(venue="vega", symbol="a" * 64, price=Decimal("1E+3"), size=Decimal("-0"),
              side=None, trade_id="x", timestamp_ns=0, received_ns=NS),
        Book(venue="vega", symbol="M", bids=(BookLevel(Decimal("10.5"), Decimal("2"), 3),),
             asks=(BookLevel(Decimal("10.75"), Decimal("1.250"), None),
                   BookLevel(Decimal("11"), Decimal("4"))),
             timestamp_ns=NS, received_ns=NS + 1, sequence=2**62, is_snapshot=True),
        Book(venue="hyperliquid", symbol="ETH", bids=(), asks=(), timestamp_ns=NS,
             received_ns=NS),
        Message(venue="vega", channel="orders", is_snapshot=True, received_ns=NS,
                data=({"id": "1", "price": "5"}, {"id": "2", "nested": [1, 2.5, None, True]}),
                symbol=None),
        Message(venue="hyperliquid", channel="candle", received_ns=NS, symbol="BTC",
                data={"__tuple__": "a venue key that looks like our tag", "d": Decimal("1.10"),
                      "t": (1, (2, 3)), "l": [(4,)]}),
        Status(venue="hyperliquid", state=ConnectionState.RECONNECTING, url="wss://x/ws",
               received_ns=NS, attempt=2, delay=0.25, code=1006, reason="lost"),
        ErrorEvent(venue="tradevest", message="bad", received_ns=NS, code="E42", fatal=True,
                   exception=SubscriptionRejected("s", "no")),
    ]


@pytest.mark.parametrize("event", sample_events(), ids=lambda e: e.kind)
def test_every_kind_round_trips_equal(event: Event) -> None:
    """decode(encode(event)) is an equal event of the same class."""
    back = decode_event(encode_event(event))
    assert type(back) is type(event)
    assert back == event


def test_decimals_are_strings_and_come_back_exact() -> None:
    """Prices and sizes travel as strings; exponent and trailing zeros survive."""
    trade, odd = sample_events()[:2]
    assert isinstance(trade, Trade) and isinstance(odd, Trade)
    text = encode_event(trade)
    fields = json.loads(text)
    assert fields["price"] == "97123.50" and fields["size"] == "0.00012300"
    assert isinstance(fields["timestamp_ns"], int) and fields["received_ns"] == NS
    back = decode_event(text)
    assert isinstance(back, Trade)
    assert str(back.size) == "0.00012300"
    odd_back = decode_event(encode_event(odd))
    assert isinstance(odd_back, Trade)
    assert str(odd_back.price) == "1E+3" and str(odd_back.size) == "-0"
    assert " " not in text  # compact


def test_message_data_keeps_tuples_and_decimals() -> None:
    """Tuples stay tuples and Decimals Decimals inside a message's data."""
    message = sample_events()[5]
    back = decode_event(encode_event(message))
    assert isinstance(back, Message)
    assert back.data["t"] == (1, (2, 3)) and isinstance(back.data["t"], tuple)
    assert isinstance(back.data["l"][0], tuple)
    assert back.data["d"] == Decimal("1.10") and str(back.data["d"]) == "1.10"
    assert back.data["__tuple__"] == "a venue key that looks like our tag"


def test_raw_is_left_out_unless_asked_for() -> None:
    """raw does not travel by default; include_raw sends it."""
    trade = sample_events()[0]
    assert "raw" not in json.loads(encode_event(trade))
    assert decode_event(encode_event(trade)).raw is None  # type: ignore[union-attr]
    assert decode_event(encode_event(trade, include_raw=True)).raw == {"tid": 77}  # type: ignore[union-attr]


def test_an_error_event_arrives_without_its_exception() -> None:
    """The exception object cannot cross processes; message and code do."""
    error = sample_events()[-1]
    back = decode_event(encode_event(error))
    assert isinstance(back, ErrorEvent)
    assert back.exception is None and back.message == "bad" and back.code == "E42"


@pytest.mark.parametrize(
    "text",
    ['not json', '[1]', '{"kind":"nope"}', '{"kind":"trade","venue":"v"}',
     '{"kind":"book","venue":"v","symbol":"s","bids":[["x","1",null]],"asks":[],'
     '"timestamp_ns":1,"received_ns":1,"sequence":null,"is_snapshot":false}'],
)
def test_garbage_is_a_protocol_violation(text: str) -> None:
    """Anything that is not an encoded event raises ProtocolViolation (a ValueError)."""
    with pytest.raises(ProtocolViolation):
        decode_event(text)


def test_every_event_parsed_from_the_fixtures_round_trips() -> None:
    """Real Hyperliquid and Vega frames: every event they make comes back equal."""
    events: list[Event] = []
    hyperliquid = HyperliquidProtocol()
    for path in sorted((FIXTURES / "hyperliquid").glob("*.jsonl")):
        for line in path.read_text().splitlines():
            if line.strip():
                hyperliquid.receive_text(line, received_ns=NS)
    events += hyperliquid.take_events()
    for name, path in (("positions_snapshot.jsonl", "positions"),
                       ("orders_update.jsonl", "orders"), ("accounts.jsonl", "accounts")):
        vega = VegaStreamProtocol(make_stream(path, partyId="p"),
                                  decimals=decimals_from_mapping({}))
        for line in (FIXTURES / "vega" / name).read_text().splitlines():
            vega.receive_text(line, received_ns=NS)
        events += vega.take_events()
    assert {e.kind for e in events} >= {"trade", "book", "message"}
    for event in events:
        assert decode_event(encode_event(event, include_raw=True)) == event


decimals = st.decimals(allow_nan=False, allow_infinity=False)


@given(price=decimals, size=decimals, side=st.sampled_from([Side.BUY, Side.SELL, None]),
       timestamp_ns=st.integers(min_value=0, max_value=2**63), trade_id=st.text())
def test_any_trade_round_trips_exactly(
    price: Decimal, size: Decimal, side: Side | None, timestamp_ns: int, trade_id: str
) -> None:
    """Property: any trade comes back equal, with the very same decimal digits."""
    trade = Trade(venue="v", symbol="S", price=price, size=size, side=side, trade_id=trade_id,
                  timestamp_ns=timestamp_ns, received_ns=timestamp_ns)
    back = decode_event(encode_event(trade))
    assert back == trade
    assert isinstance(back, Trade) and str(back.price) == str(price)
