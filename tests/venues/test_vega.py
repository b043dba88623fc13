"""VegaStreamProtocol / VegaBookProtocol: fixture text in, events out. No socket, no thread."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any, Union

import pytest

from wsclients.errors import BookOutOfSync, ProtocolViolation, RequestFailed, SubscriptionRejected
from wsclients.models import Book, BookLevel, ErrorEvent, Event, Message, Side, Trade
from wsclients.venues.vega import (
    STREAM_PATHS,
    MarketDecimals,
    VegaBookProtocol,
    VegaStream,
    VegaStreamProtocol,
    decimals_from_mapping,
    make_stream,
    rest_base_url,
    stream_base_url,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "vega"
NS = 1_700_000_000_000_000_000
DECIMALS = {
    "COIN_ALPHA_HBOT_MARKET_ID": MarketDecimals(5, 0),
    "COINALPHA.HBOT": MarketDecimals(5, 2),
    "M": MarketDecimals(2, 1),
}
LOOKUP = decimals_from_mapping(DECIMALS)


def lines(name: str) -> list[str]:
    return (FIXTURES / name).read_text().splitlines()


def feed(protocol: Any, *frames: Union[str, bytes, dict[str, Any]]) -> list[Event]:
    events: list[Event] = []
    for frame in frames:
        text = json.dumps(frame) if isinstance(frame, dict) else frame
        protocol.receive_text(text, received_ns=NS)
        events.extend(protocol.take_events())
    return events


def stream_protocol(path: str, **params: Any) -> VegaStreamProtocol:
    protocol = VegaStreamProtocol(make_stream(path, **params), decimals=LOOKUP)
    protocol.on_open()
    return protocol


# URLs and stream descriptions


def test_base_urls_are_derived_from_the_data_node_url() -> None:
    """https → wss for streams, and /api/v2 is added (or kept) for both."""
    assert stream_base_url("https://api.example.org") == "wss://api.example.org/api/v2/stream"
    assert stream_base_url("http://127.0.0.1:81/") == "ws://127.0.0.1:81/api/v2/stream"
    assert rest_base_url("https://api.example.org/api/v2/") == "https://api.example.org/api/v2"
    assert rest_base_url("wss://h/x/api/v2/stream") == "https://h/x/api/v2"
    with pytest.raises(ValueError):
        stream_base_url("ftp://h")


@pytest.mark.parametrize(
    ("path", "params", "query"),
    [
        ("trades", {"marketIds": ["a", "b"], "partyIds": "p"},
         "marketIds=a&marketIds=b&partyIds=p"),
        ("orders", {"marketIds": ["a"], "excludeLiquidity": True},
         "marketIds=a&excludeLiquidity=true"),
        ("markets/depth", {"marketIds": ["a", "b"]}, "marketIds=a&marketIds=b"),
        ("markets/depth/updates", {"marketIds": "a"}, "marketIds=a"),
        ("markets/data", {"marketIds": ("a",)}, "marketIds=a"),
        ("positions", {"partyId": "p", "marketId": "a"}, "partyId=p&marketId=a"),
        ("accounts", {"partyId": "p", "asset": "x", "type": 4}, "partyId=p&asset=x&type=4"),
        ("candle/data", {"candleId": "trades_candle_1_minute_a"},
         "candleId=trades_candle_1_minute_a"),
        ("margin/levels", {"partyId": "p", "marketId": "a"}, "partyId=p&marketId=a"),
        ("ledger/movements", {}, ""),
        ("liquidity-provisions", {"marketId": "a", "partyId": None}, "marketId=a"),
        ("governance", {"partyId": "p"}, "partyId=p"),
        ("votes", {"proposalId": "x"}, "proposalId=x"),
        ("transaction-results", {"partyIds": ["p"], "hashes": ["h1", "h2"], "status": False},
         "partyIds=p&hashes=h1&hashes=h2&status=false"),
    ],
)
def test_stream_url_has_the_nodes_parameter_names(
    path: str, params: dict[str, Any], query: str
) -> None:
    """Lists become repeated keys, bools true/false, None is left out."""
    url = make_stream(path, **params).url("wss://h/api/v2/stream")
    assert url == f"wss://h/api/v2/stream/{path}" + (f"?{query}" if query else "")


def test_all_fifteen_routes_are_known() -> None:
    """The notes list exactly 15 stream routes."""
    assert len(STREAM_PATHS) == 15 and len(set(STREAM_PATHS)) == 15


def test_event_bus_sends_its_filter_as_the_first_frame() -> None:
    """The event bus reads the request body, not the query (docs/venues/vega.rst#vega-event-bus)."""
    stream = make_stream("event/bus", types=["BUS_EVENT_TYPE_TRADE"], market_id="a")
    assert stream.url("ws://h/api/v2/stream") == "ws://h/api/v2/stream/event/bus"
    protocol = VegaStreamProtocol(stream, decimals=LOOKUP)
    protocol.on_open()
    frames = protocol.take_frames()
    assert [json.loads(f) for f in frames] == [
        {"type": ["BUS_EVENT_TYPE_TRADE"], "marketId": "a", "batchSize": "0"}
    ]
    assert protocol.take_frames() == []
    events = feed(protocol, '{"result":{"events":[{"id":"1","type":3},{"id":"2","type":3}]}}')
    assert [e.data["id"] for e in events if isinstance(e, Message)] == ["1", "2"]
    assert protocol.take_frames() == []  # batchSize 0: no further requests


def test_event_bus_with_a_batch_size_asks_for_every_batch() -> None:
    """With batchSize > 0 the node waits for a request frame per batch
    (docs/venues/vega.rst#vega-event-bus)."""
    protocol = stream_protocol("event/bus", type="BUS_EVENT_TYPE_TRADE", batchSize=10)
    first = protocol.take_frames()
    assert json.loads(first[0])["batchSize"] == "10"
    feed(protocol, '{"result":{"events":[{"id":"1"}]}}')
    assert protocol.take_frames() == first


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("markets/depth", {}),
        ("markets/depth/updates", {"marketIds": []}),
        ("markets/data", {"partyIds": ["p"]}),
        ("votes", {}),
        ("candle/data", {}),
        ("positions", {"includeDerivedParties": True}),
        ("event/bus", {}),
    ],
)
def test_silent_subscriptions_are_refused_before_connecting(
    path: str, params: dict[str, Any]
) -> None:
    """Depth/data without markets and votes without a filter would never answer."""
    with pytest.raises(SubscriptionRejected):
        make_stream(path, **params)


def test_refusal_sees_snake_case_names_too() -> None:
    """The node accepts proto names, so the check does as well."""
    assert make_stream("markets/data", market_ids=["a"]).market_ids == ["a"]
    assert make_stream("/api/v2/stream/votes", party_id="p").path == "votes"


# Trades and decimals


def test_trades_fixture_becomes_a_trade_with_scaled_decimals() -> None:
    """Price / 10**decimalPlaces, size / 10**positionDecimalPlaces, aggressor 2 = SELL."""
    (event,) = feed(stream_protocol("trades"), *lines("trades.jsonl"))
    assert event == Trade(
        venue="vega",
        symbol="COIN_ALPHA_HBOT_MARKET_ID",
        price=Decimal("26844.24478"),
        size=Decimal("300"),
        side=Side.SELL,
        trade_id="TRADE.ID",
        timestamp_ns=1697318737486288000,
        received_ns=NS,
    )
    assert isinstance(event, Trade) and event.raw["price"] == "2684424478"


def test_negative_position_decimals_multiply_sizes() -> None:
    """positionDecimalPlaces = -2: a size of 3 is 300 units (docs/venues/vega.rst#vega-decimals)."""
    lookup = decimals_from_mapping({"m": MarketDecimals(0, -2)})
    protocol = VegaStreamProtocol(make_stream("trades"), decimals=lookup)
    frame = {"result": {"trades": [{"id": "t", "marketId": "m", "price": "7", "size": "3"}]}}
    (trade,) = feed(protocol, frame)
    assert isinstance(trade, Trade)
    assert trade.size == Decimal("300") and trade.price == Decimal("7")
    assert str(trade.size) == "300"  # a plain integer, not 3E+2
    assert trade.side is None  # aggressor omitted = SIDE_UNSPECIFIED
    assert trade.timestamp_ns == 0  # omitted default


def test_trades_wait_in_order_for_decimals_being_fetched() -> None:
    """A trade of a market whose decimals are unknown asks for them (a Job for the client's
    worker) and waits, with that market's later trades, instead of being dropped; other
    markets' trades go on; the answer releases the waiting ones in arrival order."""
    known: dict[str, MarketDecimals] = dict(DECIMALS)
    protocol = VegaStreamProtocol(make_stream("trades"), decimals=known.get)

    def frame(n: int) -> dict[str, Any]:
        return {"result": {"trades": [
            {"id": f"u{n}", "marketId": "unknown", "price": "1", "size": "1"},
            {"id": f"m{n}", "marketId": "M", "price": "12345", "size": "15", "aggressor": 1},
        ]}}

    (trade,) = feed(protocol, frame(1))
    assert isinstance(trade, Trade) and trade.trade_id == "m1"
    assert (trade.price, trade.size, trade.side) == (Decimal("123.45"), Decimal("1.5"), Side.BUY)
    (job,) = protocol.take_jobs()
    assert job.kind == "decimals" and job.args == "unknown"
    assert [t.trade_id for t in feed(protocol, frame(2))] == ["m2"]
    assert protocol.take_jobs() == []  # asked once
    known["unknown"] = MarketDecimals(0, 0)
    protocol.job_done(job, known["unknown"], None)
    assert [t.trade_id for t in protocol.take_events()] == ["u1", "u2"]


def test_a_market_the_node_does_not_know_drops_its_waiting_trades_once() -> None:
    """A 404 for the market's decimals: its trades can never be priced; one ErrorEvent says
    how many were dropped, and nothing waits forever."""
    protocol = VegaStreamProtocol(make_stream("trades"), decimals={}.get)
    feed(protocol, {"result": {"trades": [
        {"id": str(n), "marketId": "ghost", "price": "1", "size": "1"} for n in range(3)]}})
    (job,) = protocol.take_jobs()
    protocol.job_done(job, None, RequestFailed("not found", status=404))
    (error,) = protocol.take_events()
    assert isinstance(error, ErrorEvent) and "3 trade(s) of market ghost dropped" in error.message
    assert protocol.dropped_trades == 3


def test_a_failed_decimals_fetch_is_reported_and_asked_again() -> None:
    """The fetch failing is an ErrorEvent; the trades keep waiting and the lookup is asked
    again after a pause (on a timer tick), not at frame rate."""
    known: dict[str, MarketDecimals] = {}
    protocol = VegaStreamProtocol(make_stream("trades"), decimals=known.get)
    item = {"id": "1", "marketId": "X", "price": "1", "size": "1"}
    feed(protocol, {"result": {"trades": [item]}})
    (job,) = protocol.take_jobs()
    protocol.job_done(job, None, RequestFailed("503"))
    (error,) = protocol.take_events()
    assert isinstance(error, ErrorEvent) and "503" in error.message
    protocol.on_tick(0.0)
    assert protocol.take_jobs() == []
    protocol.on_tick(float("inf"))
    (again,) = protocol.take_jobs()
    known["X"] = MarketDecimals(0, 0)
    protocol.job_done(again, known["X"], None)
    (trade,) = protocol.take_events()
    assert isinstance(trade, Trade) and trade.trade_id == "1"


def test_market_decimals_come_from_the_rest_market_strings() -> None:
    """Both are 64-bit and so JSON strings; missing means 0."""
    assert MarketDecimals.from_market({"decimalPlaces": "5", "positionDecimalPlaces": "-4"}) == (
        MarketDecimals(5, -4)
    )
    assert MarketDecimals.from_market({}) == MarketDecimals(0, 0)
    with pytest.raises(ProtocolViolation):
        MarketDecimals.from_market({"decimalPlaces": "1.5"})


def test_prices_are_exact_beyond_float_precision() -> None:
    """No float and no context rounding on the way."""
    assert MarketDecimals(18, 0).price_of("123456789012345678901234567890") == Decimal(
        "123456789012.345678901234567890"
    )


# Other streams → Message


def test_depth_fixture_is_a_message_named_after_the_stream() -> None:
    """markets/depth: one Message per MarketDepth, symbol = marketId."""
    protocol = stream_protocol("markets/depth", marketIds="COINALPHA.HBOT")
    (event,) = feed(protocol, *lines("depth.jsonl"))
    assert isinstance(event, Message)
    assert (event.channel, event.symbol, event.is_snapshot) == (
        "markets/depth", "COINALPHA.HBOT", False
    )
    assert event.data["sequenceNumber"] == "1697837812441603063"


def test_market_data_fixture_uses_the_market_field_as_symbol() -> None:
    """MarketData names its market `market`, not `marketId` (docs/venues/vega.rst#vega-samples)."""
    protocol = stream_protocol("markets/data", marketIds="COINALPHA.HBOT")
    (event,) = feed(protocol, *lines("market_data.jsonl"))
    assert isinstance(event, Message)
    assert (event.channel, event.symbol) == ("markets/data", "COINALPHA.HBOT")
    assert event.data["marketState"] == 5


def test_ledger_movement_fixture_is_one_message() -> None:
    """A single object result gives one Message with that object."""
    (event,) = feed(stream_protocol("ledger/movements"), *lines("ledger_movement.jsonl"))
    assert isinstance(event, Message) and event.channel == "ledger/movements"
    assert event.data["entries"][0]["amount"] == "30"


@pytest.mark.parametrize(
    ("path", "params", "frame", "expected"),
    [
        ("candle/data", {"candleId": "c"}, {"candle": {"open": "1", "close": "2"}}, 1),
        ("margin/levels", {}, {"marginLevels": {"marketId": "M", "maintenanceMargin": "5"}}, 1),
        ("liquidity-provisions", {}, {"liquidityProvisions": [{"id": "a"}, {"id": "b"}]}, 2),
        ("governance", {}, {"data": {"proposal": {"id": "p"}}}, 1),
        ("votes", {"partyId": "p"}, {"vote": {"partyId": "p", "value": 2}}, 1),
        ("transaction-results", {}, {"transactionResults": [{"hash": "h", "status": True}]}, 1),
        ("markets/depth/updates", {"marketIds": "M"}, {"update": [{"marketId": "M"}]}, 1),
    ],
)
def test_other_streams_become_messages(
    path: str, params: dict[str, Any], frame: dict[str, Any], expected: int
) -> None:
    """One Message per list item (or per object), channel = the route."""
    events = feed(stream_protocol(path, **params), {"result": frame})
    assert len(events) == expected
    assert all(isinstance(e, Message) and e.channel == path for e in events)


def test_an_empty_result_yields_nothing() -> None:
    """Omitted empty lists leave `{"result":{}}`."""
    assert feed(stream_protocol("trades"), '{"result":{}}') == []


# Snapshot pages, then updates


def page(items: list[dict[str, Any]], *, last: bool) -> dict[str, Any]:
    snapshot: dict[str, Any] = {"orders": items} if items else {}
    if last:
        snapshot["lastPage"] = True
    return {"result": {"snapshot": snapshot}}


def orders(first: int, count: int) -> list[dict[str, Any]]:
    return [{"id": str(n), "marketId": "M", "status": 1} for n in range(first, first + count)]


def test_snapshot_pages_are_delivered_as_one_snapshot_message() -> None:
    """Pages of 50 without lastPage, a last page with it → one Message with every item."""
    protocol = stream_protocol("orders", partyIds="p")
    assert feed(protocol, page(orders(0, 50), last=False), page(orders(50, 50), last=False)) == []
    (snapshot,) = feed(protocol, page(orders(100, 7), last=True))
    assert isinstance(snapshot, Message) and snapshot.is_snapshot
    assert [o["id"] for o in snapshot.data] == [str(n) for n in range(107)]
    assert snapshot.channel == "orders" and len(snapshot.raw) == 3


def test_updates_never_overtake_the_snapshot() -> None:
    """An update read before lastPage is held and delivered right after the snapshot."""
    protocol = stream_protocol("orders")
    update = '{"result":{"updates":{"orders":[{"id":"x","status":5}]}}}'
    assert feed(protocol, page(orders(0, 50), last=False), update) == []
    snapshot, held = feed(protocol, page(orders(50, 1), last=True))
    assert isinstance(snapshot, Message) and snapshot.is_snapshot and len(snapshot.data) == 51
    assert isinstance(held, Message) and not held.is_snapshot and held.data[0]["id"] == "x"
    (later,) = feed(protocol, *lines("orders_update.jsonl"))
    assert isinstance(later, Message) and not later.is_snapshot
    assert later.data[0]["price"] == "2963260914"


def test_empty_snapshot_fixture_is_an_empty_snapshot_message() -> None:
    """`{"snapshot":{"lastPage":true}}` means: no live orders."""
    (event,) = feed(stream_protocol("orders"), *lines("orders_empty_snapshot.jsonl"))
    assert isinstance(event, Message) and event.is_snapshot and event.data == ()


def test_accounts_fixture_snapshot_then_update() -> None:
    """Accounts: snapshot page then an update."""
    snapshot, update = feed(stream_protocol("accounts", partyId="OWNER"), *lines("accounts.jsonl"))
    assert isinstance(snapshot, Message) and isinstance(update, Message)
    assert snapshot.is_snapshot and snapshot.data[0]["balance"] == "3500000000000000000000"
    assert not update.is_snapshot and update.data[0]["asset"] == "HBOT_ASSET_ID"


def test_positions_without_snapshot_deliver_updates_directly() -> None:
    """A party with no position gets no snapshot at all (vega#7954)."""
    protocol = stream_protocol("positions", partyId="p")
    (update,) = feed(protocol, '{"result":{"updates":{"positions":[{"marketId":"M"}]}}}')
    assert isinstance(update, Message) and not update.is_snapshot
    (snapshot,) = feed(protocol, *lines("positions_snapshot.jsonl"))
    assert isinstance(snapshot, Message) and snapshot.is_snapshot
    assert snapshot.data[0]["positionStatus"] == 2


def test_a_reconnect_forgets_a_half_read_snapshot() -> None:
    """on_open starts over: the pages of a lost socket are not mixed into the next one."""
    protocol = stream_protocol("orders")
    feed(protocol, page(orders(0, 50), last=False))
    protocol.on_open()
    (snapshot,) = feed(protocol, page(orders(0, 2), last=True))
    assert isinstance(snapshot, Message) and len(snapshot.data) == 2


# Errors


def test_wrapped_resource_error_is_not_fatal() -> None:
    """Code 8 (too many subscriptions) may clear up: reconnect with backoff."""
    protocol = stream_protocol("trades")
    (event,) = feed(protocol, lines("errors.jsonl")[0])
    assert isinstance(event, ErrorEvent) and not event.fatal and event.code == 8
    assert "max subscription" in event.message
    assert protocol.close_request is not None and not protocol.close_request.fatal


def test_unknown_market_error_is_fatal_for_the_stream() -> None:
    """13 / 10000 will recur on every retry: stop this stream, do not hammer the node."""
    protocol = stream_protocol("markets/depth", marketIds="COINALPHA.HBOT")
    (event,) = feed(protocol, lines("errors.jsonl")[1])
    assert isinstance(event, ErrorEvent) and event.fatal and event.code == 13
    assert isinstance(event.exception, SubscriptionRejected)
    assert "no market found" in event.message and "markets/depth" in event.message
    assert protocol.close_request is not None and protocol.close_request.fatal


@pytest.mark.parametrize(
    ("frame", "fatal"),
    [
        ('{"code":5,"message":"Not Found"}', True),
        ('{"code":3,"message":"parsing field \\"type\\": bad","details":[]}', True),
        ('{"code":13,"message":"Internal error","details":[{"code":10010,"message":"internal '
         'stream failure","inner":"channel closed"}]}', False),
    ],
)
def test_bare_status_errors_are_read_too(frame: str, fatal: bool) -> None:
    """The bare google.rpc.Status sent before the first message
    (docs/venues/vega.rst#vega-envelopes)."""
    protocol = stream_protocol("trades")
    (event,) = feed(protocol, frame)
    assert isinstance(event, ErrorEvent) and event.fatal is fatal
    assert protocol.close_request is not None and protocol.close_request.fatal is fatal


def test_on_open_clears_the_close_request() -> None:
    """A fresh socket starts without the last one's close request."""
    protocol = stream_protocol("trades")
    feed(protocol, lines("errors.jsonl")[0])
    protocol.reset_socket_state()  # the connection does this before on_open
    protocol.on_open()
    assert protocol.close_request is None


@pytest.mark.parametrize(
    "frame",
    [b"not json", b"\xff\xfe{}", "[1,2]", '{"foo":1}', '{"result":[]}',
     '{"result":{"trades":"x"}}', '{"result":{"snapshot":{"orders":7}}}'],
)
def test_malformed_frames_are_non_fatal_and_the_next_frame_parses(frame: Union[str, bytes]) -> None:
    """A frame we cannot read is an ErrorEvent; the stream goes on."""
    protocol = stream_protocol("trades")
    events = feed(protocol, frame, lines("trades.jsonl")[0].encode())
    assert isinstance(events[0], ErrorEvent) and not events[0].fatal
    assert isinstance(events[0].exception, ProtocolViolation)
    assert isinstance(events[-1], Trade)
    assert protocol.close_request is None


def test_protocol_never_sends_and_never_pings() -> None:
    """Text frames would block the node's proxy reader; WebSocket pings are used
    (docs/venues/vega.rst#vega-keepalive)."""
    protocol = stream_protocol("trades")
    assert protocol.take_frames() == [] and protocol.ping_message() is None
    assert protocol.is_fatal(1006, None) is False


# Order book


def level(price: str, volume: str = "", count: str = "1") -> dict[str, str]:
    if not volume:
        return {"price": price}  # a removed level: defaults omitted
    return {"price": price, "volume": volume, "numberOfOrders": count}


def update(seq: int, prev: int, *, buy: Any = (), sell: Any = ()) -> str:
    item: dict[str, Any] = {"marketId": "M", "sequenceNumber": str(seq)}
    if prev:
        item["previousSequenceNumber"] = str(prev)
    if buy:
        item["buy"] = list(buy)
    if sell:
        item["sell"] = list(sell)
    return json.dumps({"result": {"update": [item]}})


SNAPSHOT = {
    "marketId": "M",
    "buy": [level("10000", "30"), level("9900", "10")],
    "sell": [level("10100", "5"), level("10200", "7", "2")],
    "sequenceNumber": "100",
}


def book_protocol(depth: Any = None) -> VegaBookProtocol:
    protocol = VegaBookProtocol("M", decimals=LOOKUP, depth=depth)
    protocol.on_open()
    return protocol


def synced(depth: Any = None) -> VegaBookProtocol:
    protocol = book_protocol(depth)
    protocol.receive_snapshot(SNAPSHOT, received_ns=NS)
    protocol.take_events()
    return protocol


def test_book_asks_for_a_snapshot_and_builds_a_scaled_snapshot_book() -> None:
    """The stream URL is depth/updates for the market; the snapshot is a Book(is_snapshot)."""
    protocol = book_protocol()
    assert protocol.snapshot_wanted == "initial"
    assert protocol.stream.url("ws://h/s") == "ws://h/s/markets/depth/updates?marketIds=M"
    protocol.receive_snapshot(SNAPSHOT, received_ns=NS)
    (book,) = protocol.take_events()
    assert isinstance(book, Book) and book.is_snapshot and book.sequence == 100
    assert book.bids == (
        BookLevel(Decimal("100.00"), Decimal("3.0"), 1),
        BookLevel(Decimal("99.00"), Decimal("1.0"), 1),
    )
    assert book.best_ask == BookLevel(Decimal("101"), Decimal("0.5"), 1)
    assert protocol.snapshot_wanted is None


def test_chained_updates_each_yield_a_book_and_price_only_levels_are_removed() -> None:
    """Absolute level values; a level with only `price` has volume 0
    (docs/venues/vega.rst#vega-depth-production)."""
    protocol = synced()
    events = feed(
        protocol,
        update(110, 100, buy=[level("10000", "40", "2")]),
        update(120, 110, sell=[level("10100")], buy=[level("10050", "1")]),
    )
    assert all(isinstance(e, Book) and not e.is_snapshot for e in events)
    first, second = events
    assert isinstance(first, Book) and isinstance(second, Book)
    assert first.best_bid == BookLevel(Decimal("100"), Decimal("4"), 2)
    assert second.sequence == 120
    assert second.best_bid is not None and second.best_bid.price == Decimal("100.5")
    assert second.best_ask is not None and second.best_ask.price == Decimal("102")


def test_updates_before_the_snapshot_are_buffered_and_old_ones_dropped() -> None:
    """Buffer, snapshot, drop ≤ S, apply the rest in order."""
    protocol = book_protocol()
    early = update(90, 80, buy=[level("1", "1")])
    assert feed(protocol, early, update(110, 100, buy=[level("9950", "2")])) == []
    protocol.receive_snapshot(SNAPSHOT, received_ns=NS)
    snapshot, applied = protocol.take_events()
    assert isinstance(snapshot, Book) and snapshot.is_snapshot
    assert isinstance(applied, Book) and applied.sequence == 110
    assert [lv.price for lv in applied.bids] == [Decimal(100), Decimal("99.5"), Decimal(99)]


def test_a_snapshot_taken_mid_block_accepts_the_straddling_update() -> None:
    """previous ≤ S < sequence is safe for the first update; then strict chaining
    (docs/venues/vega.rst#vega-depth-resync)."""
    protocol = synced()
    (book,) = feed(protocol, update(150, 95, buy=[level("9900")]))
    assert isinstance(book, Book) and book.sequence == 150
    (error,) = feed(protocol, update(170, 140))
    assert isinstance(error, ErrorEvent) and isinstance(error.exception, BookOutOfSync)
    assert protocol.snapshot_wanted == "gap"


def test_a_gap_asks_for_a_resync_and_keeps_buffering() -> None:
    """A missing previousSequenceNumber starts a resync; the new snapshot rebuilds the book."""
    protocol = synced()
    (error,) = feed(protocol, update(130, 120, buy=[level("9800", "1")]))
    assert isinstance(error, ErrorEvent) and not error.fatal
    assert isinstance(error.exception, BookOutOfSync)
    assert (error.exception.expected, error.exception.got) == (100, 120)
    assert protocol.book is None and protocol.snapshot_wanted == "gap"
    assert feed(protocol, update(140, 130, sell=[level("10100")])) == []
    fresh = dict(SNAPSHOT, sequenceNumber="135", buy=[level("9800", "1")])
    protocol.receive_snapshot(fresh, received_ns=NS)
    snapshot, applied = protocol.take_events()
    assert isinstance(snapshot, Book) and snapshot.is_snapshot and snapshot.sequence == 135
    assert isinstance(applied, Book) and applied.sequence == 140
    assert applied.best_ask is not None and applied.best_ask.price == Decimal(102)


def test_a_crossed_book_asks_for_a_resync_and_is_not_emitted() -> None:
    """Bid ≥ ask after an update means levels were missed."""
    protocol = synced()
    (error,) = feed(protocol, update(110, 100, buy=[level("10150", "1")]))
    assert isinstance(error, ErrorEvent) and "crossed" in error.message
    assert protocol.snapshot_wanted == "crossed" and protocol.book is None


def test_a_reconnect_asks_for_a_new_snapshot() -> None:
    """Updates may have been missed while the socket was down (vega#11032)."""
    protocol = synced()
    protocol.on_open()
    assert protocol.snapshot_wanted == "reconnect" and protocol.book is None
    never_synced = book_protocol()
    never_synced.on_open()
    assert never_synced.snapshot_wanted == "initial"


def test_stale_updates_are_ignored() -> None:
    """sequence ≤ the book's: already in the book."""
    protocol = synced()
    assert feed(protocol, update(100, 90, buy=[level("1", "1")])) == []
    assert protocol.book is not None and protocol.book.best_bid is not None
    assert protocol.book.best_bid.price == Decimal(100)


def test_depth_limits_the_book_view_not_the_book() -> None:
    """depth=1 shows one level; removing it reveals the next one."""
    protocol = synced(depth=1)
    (book,) = feed(protocol, update(110, 100, buy=[level("10000")]))
    assert isinstance(book, Book)
    assert book.bids == (BookLevel(Decimal(99), Decimal(1), 1),) and len(book.asks) == 1


def test_depth_update_fixture_applies_its_removed_levels() -> None:
    """The HB diff: three price-only levels are removed, one is set."""
    lookup = decimals_from_mapping({"COINALPHA.HBOT": MarketDecimals(5, 2)})
    protocol = VegaBookProtocol("COINALPHA.HBOT", decimals=lookup)
    protocol.on_open()
    snapshot = {
        "buy": [level("2817000000", "5")],
        "sell": [level("2817447085", "9"), level("2817547085", "9"), level("2817947085", "9")],
        "sequenceNumber": "1697590619714643056",
    }
    protocol.receive_snapshot(snapshot, received_ns=NS)
    protocol.take_events()
    (book,) = feed(protocol, *lines("depth_update.jsonl"))
    assert isinstance(book, Book)
    assert [(lv.price, lv.size) for lv in book.asks] == [
        (Decimal("28177.47085"), Decimal("8.33")),
        (Decimal("28179.47085"), Decimal("0.09")),
    ]


def test_bad_snapshot_is_reported_and_still_wanted() -> None:
    """A snapshot we cannot read leaves the request standing."""
    protocol = book_protocol()
    protocol.receive_snapshot({"buy": [{"price": "x"}], "sequenceNumber": "1"}, received_ns=NS)
    (error,) = protocol.take_events()
    assert isinstance(error, ErrorEvent) and not error.fatal
    assert protocol.snapshot_wanted == "initial"
    protocol.snapshot_failed(RuntimeError("boom"), received_ns=NS)
    (error,) = protocol.take_events()
    assert isinstance(error, ErrorEvent) and "boom" in error.message


def test_updates_for_other_markets_are_ignored_and_errors_are_read() -> None:
    """The book socket only carries its market; its errors follow the stream rules."""
    protocol = synced()
    other = json.dumps({"result": {"update": [{"marketId": "X", "sequenceNumber": "500"}]}})
    assert feed(protocol, other) == []
    (error,) = feed(protocol, lines("errors.jsonl")[1])
    assert isinstance(error, ErrorEvent) and error.fatal


def test_stream_description_is_a_hashable_value() -> None:
    """Equal streams are one subscription."""
    assert make_stream("trades", marketIds=["a"]) == VegaStream("trades", (("marketIds", "a"),))
    assert len({make_stream("trades"), make_stream("trades")}) == 1
