"""VegaClient against FakeVegaNode on 127.0.0.1: real sockets, real REST, real threads."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, Callable, Optional
from urllib.parse import parse_qsl, urlsplit

import pytest

from tests.conftest import T
from tests.helpers import next_event
from wsclients.errors import SubscriptionRejected
from wsclients.models import Book, ErrorEvent, Event, Message, Side, Trade
from wsclients.testing import FakeVegaNode
from wsclients.testing.vega import default_markets
from wsclients.venues.vega import MarketDecimals, VegaClient
from wsclients.venues.vega.rest import VegaRest

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def node() -> Iterator[FakeVegaNode]:
    with FakeVegaNode(extra_markets=3) as node:
        yield node


@pytest.fixture
def make_client(node: FakeVegaNode) -> Iterator[Callable[..., VegaClient]]:
    clients: list[VegaClient] = []

    def make(**options: Any) -> VegaClient:
        options.setdefault("backoff_min", 0.01)
        options.setdefault("backoff_max", 0.05)
        client = VegaClient(url=node.url, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.stop()




def is_book(*, snapshot: Optional[bool] = None, sequence: Optional[int] = None) -> Callable[
    [Event], bool
]:
    def check(event: Event) -> bool:
        return (
            isinstance(event, Book)
            and (snapshot is None or event.is_snapshot is snapshot)
            and (sequence is None or event.sequence == sequence)
        )

    return check


def upgrade_queries(node: FakeVegaNode) -> dict[str, list[tuple[str, str]]]:
    out = {}
    for request in node.requests:
        if request.is_upgrade:
            route = request.path.removeprefix("/api/v2/stream/")
            out[route] = parse_qsl(urlsplit(request.target).query)
    return out


def test_every_typed_helper_opens_its_route_with_the_nodes_names(
    node: FakeVegaNode, make_client: Callable[..., VegaClient]
) -> None:
    """15 routes, one socket each; plural ids repeated, singular where the node wants them."""
    a, b = node.market_ids
    party = node.parties[0]
    client = make_client()
    client.subscribe_trades([a, b], party_ids=party)
    client.subscribe_orders(a, party_ids=[party], exclude_liquidity=True)
    client.subscribe_depth([a])
    client.subscribe_depth_updates(b)
    client.subscribe_market_data([a, b])
    client.subscribe_positions(party, market_id=a)
    client.subscribe_accounts(party, asset="fUSDC", account_type=4)
    client.subscribe_candles("trades_candle_1_minute_" + a)
    client.subscribe_margin_levels(party, market_id=a)
    client.subscribe_ledger_movements()
    client.subscribe_liquidity_provisions(a)
    client.subscribe_governance(party)
    client.subscribe_votes(proposal_id="p1")
    client.subscribe_transaction_results([party], status=True)
    client.subscribe_event_bus(["BUS_EVENT_TYPE_TRADE"], market_id=a)
    assert len(client.subscriptions) == 15
    client.start(timeout=5 * T)
    node.wait_for_streams("event/bus")
    assert upgrade_queries(node) == {
        "trades": [("marketIds", a), ("marketIds", b), ("partyIds", party)],
        "orders": [("marketIds", a), ("partyIds", party), ("excludeLiquidity", "true")],
        "markets/depth": [("marketIds", a)],
        "markets/depth/updates": [("marketIds", b)],
        "markets/data": [("marketIds", a), ("marketIds", b)],
        "positions": [("partyId", party), ("marketId", a)],
        "accounts": [("partyId", party), ("asset", "fUSDC"), ("type", "4")],
        "candle/data": [("candleId", "trades_candle_1_minute_" + a)],
        "margin/levels": [("partyId", party), ("marketId", a)],
        "ledger/movements": [],
        "liquidity-provisions": [("marketId", a)],
        "governance": [("partyId", party)],
        "votes": [("proposalId", "p1")],
        "transaction-results": [("partyIds", party), ("status", "true")],
        "event/bus": [],
    }
    assert client.stats.connections == 15


def test_silent_subscriptions_are_refused_before_any_socket(
    node: FakeVegaNode, make_client: Callable[..., VegaClient]
) -> None:
    """Depth/data without markets, votes without a filter: refused, nothing opened."""
    client = make_client()
    with pytest.raises(SubscriptionRejected):
        client.subscribe_market_data([])
    with pytest.raises(SubscriptionRejected):
        client.subscribe_votes()
    with pytest.raises(SubscriptionRejected):
        client.subscribe("markets/depth")
    client.start(timeout=2 * T)
    assert client.subscriptions == [] and node.requests == []


def test_trades_carry_scaled_decimals_fetched_once_per_market(
    node: FakeVegaNode, make_client: Callable[..., VegaClient]
) -> None:
    """Prices / 10**decimalPlaces, sizes / 10**positionDecimalPlaces (negative for ETH)."""
    btc, eth = node.market_ids
    client = make_client()
    client.subscribe_trades([btc, eth])
    client.start(timeout=5 * T)
    node.wait_for_streams("trades")
    node.step(3)
    trades = [next_event(client, lambda e: isinstance(e, Trade)) for _ in range(6)]
    assert {t.symbol for t in trades if isinstance(t, Trade)} == {btc, eth}
    for trade in trades:
        assert isinstance(trade, Trade) and trade.side in (Side.BUY, Side.SELL)
        market = node.markets[trade.symbol]
        assert trade.price == Decimal(trade.raw["price"]).scaleb(-market.decimal_places)
        assert trade.size == Decimal(trade.raw["size"]).scaleb(-market.position_decimal_places)
        assert trade.size % market.spec.lot == 0 and trade.price % market.spec.tick == 0
    eth_trade = next(t for t in trades if isinstance(t, Trade) and t.symbol == eth)
    assert eth_trade.size >= 10  # a lot of 10 sent as "1": positionDecimalPlaces = -1
    client.subscribe_trades(eth)  # a second socket, same decimals
    node.wait_for_streams("trades", 2)
    market_calls = [r for r in node.requests if r.path.startswith("/api/v2/market/")]
    assert sorted(r.path for r in market_calls) == sorted(
        f"/api/v2/market/{m}" for m in (btc, eth)
    )


def test_known_decimals_need_no_rest(
    node: FakeVegaNode, make_client: Callable[..., VegaClient]
) -> None:
    """decimals= preloads the cache."""
    btc = node.market_ids[0]
    client = make_client(decimals={btc: MarketDecimals(1, 3)})
    client.subscribe_trades(btc)
    client.start(timeout=5 * T)
    node.wait_for_streams("trades")
    node.step()
    assert isinstance(next_event(client, lambda e: isinstance(e, Trade)), Trade)
    assert not [r for r in node.requests if not r.is_upgrade]


def test_orders_snapshot_pages_arrive_as_one_snapshot_then_updates(
    node: FakeVegaNode, make_client: Callable[..., VegaClient]
) -> None:
    """120 live orders in pages of 50 → one snapshot Message; later changes → updates."""
    party = node.parties[0]
    node.add_orders(node.make_order(n, party_id=party) for n in range(120))
    node.add_orders([node.make_order(999, party_id=party, status=3)])  # not live
    client = make_client()
    client.subscribe_orders(party_ids=party)
    client.start(timeout=5 * T)
    snapshot = next_event(client, lambda e: isinstance(e, Message))
    assert isinstance(snapshot, Message) and snapshot.is_snapshot
    assert len(snapshot.data) == 120 and snapshot.channel == "orders"
    node.add_orders([node.make_order(5, party_id=party, status=5)])
    update = next_event(client, lambda e: isinstance(e, Message))
    assert isinstance(update, Message) and not update.is_snapshot
    assert update.data[0]["status"] == 5


def test_positions_and_accounts_snapshots(
    node: FakeVegaNode, make_client: Callable[..., VegaClient]
) -> None:
    """Singular partyId filters; an empty snapshot is an empty snapshot Message."""
    party, other = node.parties[0], node.parties[1]
    market = node.market_ids[0]
    node.add_positions([{"marketId": market, "partyId": party, "openVolume": "5"}])
    node.add_accounts([{"owner": party, "balance": "100", "asset": "fUSDC", "type": 4}])
    client = make_client()
    client.subscribe_positions(party)
    client.subscribe_accounts(other)
    client.start(timeout=5 * T)
    got = [next_event(client, lambda e: isinstance(e, Message)) for _ in range(2)]
    by_channel = {m.channel: m for m in got if isinstance(m, Message)}
    assert by_channel["positions"].is_snapshot
    assert by_channel["positions"].data[0]["openVolume"] == "5"
    assert by_channel["accounts"].is_snapshot and by_channel["accounts"].data == ()


def test_market_data_and_full_depth_are_messages(
    node: FakeVegaNode, make_client: Callable[..., VegaClient]
) -> None:
    """Other streams: Message, channel = route, symbol = the market."""
    market = node.market_ids[1]
    client = make_client()
    client.subscribe_market_data(market)
    client.subscribe_depth(market)
    client.start(timeout=5 * T)
    node.wait_for_streams("markets/data")
    node.wait_for_streams("markets/depth")
    node.step()
    got = [next_event(client, lambda e: isinstance(e, Message)) for _ in range(2)]
    assert {m.channel for m in got if isinstance(m, Message)} == {"markets/data", "markets/depth"}
    assert all(isinstance(m, Message) and m.symbol == market for m in got)


@pytest.mark.parametrize(
    ("subscribe", "route", "result"),
    [
        (lambda c: c.subscribe_candles("trades_candle_1_minute_" + default_markets()[0].id),
         "candle/data", {"candle": {"open": "1"}}),
        (lambda c: c.subscribe_margin_levels("p"), "margin/levels",
         {"marginLevels": {"partyId": "p"}}),
        (lambda c: c.subscribe_ledger_movements(), "ledger/movements",
         {"ledgerMovement": {"entries": []}}),
        (lambda c: c.subscribe_liquidity_provisions(), "liquidity-provisions",
         {"liquidityProvisions": [{"id": "l"}]}),
        (lambda c: c.subscribe_governance(), "governance", {"data": {"proposal": {}}}),
        (lambda c: c.subscribe_votes("p"), "votes", {"vote": {"value": 2}}),
        (lambda c: c.subscribe_transaction_results(), "transaction-results",
         {"transactionResults": [{"hash": "h"}]}),
        (lambda c: c.subscribe_event_bus("BUS_EVENT_TYPE_TRADE"), "event/bus",
         {"events": [{"type": "BUS_EVENT_TYPE_TRADE", "id": "1"}]}),
    ],
)
def test_other_streams_end_to_end(
    node: FakeVegaNode,
    make_client: Callable[..., VegaClient],
    subscribe: Callable[[VegaClient], Any],
    route: str,
    result: dict[str, Any],
) -> None:
    """What the node publishes on a route arrives as a Message named after it."""
    client = make_client()
    subscribe(client)
    client.start(timeout=5 * T)
    node.wait_for_streams(route)
    assert node.publish(route, result) == 1
    message = next_event(client, lambda e: isinstance(e, Message))
    assert isinstance(message, Message) and message.channel == route


def assert_book_matches_node(client: VegaClient, node: FakeVegaNode, market: str) -> None:
    """Step once more and check the client's Book for that sequence equals the node's book."""
    node.step()
    book = next_event(client, is_book(sequence=node.sequence(market)))
    assert isinstance(book, Book)
    bids, asks = node.book(market)
    assert book.bids == bids[:5] and book.asks == asks[:5]
    assert not book.is_snapshot


def start_book(client: VegaClient, node: FakeVegaNode, market: str) -> None:
    client.subscribe_book(market, depth=5)
    client.start(timeout=5 * T)
    first = next_event(client, is_book())
    assert isinstance(first, Book) and first.is_snapshot
    assert first.sequence == node.sequence(market)
    assert (first.bids, first.asks) == tuple(side[:5] for side in node.book(market))
    node.wait_for_streams("markets/depth/updates")


def test_book_follows_chained_updates(
    node: FakeVegaNode, make_client: Callable[..., VegaClient]
) -> None:
    """Snapshot from REST, then one Book per update, always equal to the node's."""
    market = node.market_ids[1]
    client = make_client()
    start_book(client, node, market)
    for _ in range(10):
        assert_book_matches_node(client, node, market)
    assert client.stats.resyncs == 0


def test_book_resyncs_after_a_skipped_sequence_number(
    node: FakeVegaNode, make_client: Callable[..., VegaClient]
) -> None:
    """A gap → ErrorEvent, a REST resync, a fresh snapshot Book, then correct again."""
    market = node.market_ids[0]
    client = make_client()
    start_book(client, node, market)
    assert_book_matches_node(client, node, market)
    node.skip_update(market)
    node.step(2)
    error = next_event(client, lambda e: isinstance(e, ErrorEvent))
    assert isinstance(error, ErrorEvent) and "sequence gap" in error.message
    assert not error.fatal
    resynced = next_event(client, is_book(snapshot=True))
    assert isinstance(resynced, Book) and resynced.sequence == node.sequence(market)
    assert_book_matches_node(client, node, market)
    assert client.stats.resyncs == 1


def test_book_resyncs_after_a_crossed_book(
    node: FakeVegaNode, make_client: Callable[..., VegaClient]
) -> None:
    """A crossing update is not shown; the resynced book equals the node's."""
    market = node.market_ids[0]
    client = make_client()
    start_book(client, node, market)
    assert_book_matches_node(client, node, market)
    node.cross_book(market)
    error = next_event(client, lambda e: isinstance(e, ErrorEvent))
    assert isinstance(error, ErrorEvent) and "crossed" in error.message
    resynced = next_event(client, is_book(snapshot=True))
    assert isinstance(resynced, Book) and resynced.best_bid is not None
    assert resynced.best_ask is not None and resynced.best_bid.price < resynced.best_ask.price
    assert_book_matches_node(client, node, market)
    assert client.stats.resyncs == 1


def test_book_resyncs_after_a_reconnect(
    node: FakeVegaNode, make_client: Callable[..., VegaClient]
) -> None:
    """A dropped socket (no close frame) → reconnect → new snapshot → correct book."""
    market = node.market_ids[1]
    client = make_client()
    start_book(client, node, market)
    node.step(2)
    assert node.drop_streams() == 1
    node.wait_for_streams("markets/depth/updates", 2)
    resynced = next_event(client, is_book(snapshot=True))
    assert isinstance(resynced, Book)
    assert_book_matches_node(client, node, market)
    stats = client.stats
    assert stats.resyncs == 1 and stats.reconnects == 1


def test_unknown_market_is_fatal_for_its_stream_only(
    node: FakeVegaNode, make_client: Callable[..., VegaClient]
) -> None:
    """The bare 13/10000 error ends that socket for good; the other streams go on."""
    client = make_client()
    client.subscribe_trades(node.market_ids[0])
    client.subscribe_depth_updates("f" * 64)
    client.start(timeout=5 * T)
    error = next_event(client, lambda e: isinstance(e, ErrorEvent) and e.fatal)
    assert isinstance(error, ErrorEvent) and error.code == 13
    assert isinstance(error.exception, SubscriptionRejected)
    assert "no market found" in error.message
    node.wait_for_streams("trades")
    node.step()
    assert isinstance(next_event(client, lambda e: isinstance(e, Trade)), Trade)
    upgrades = [r for r in node.requests if r.path.endswith("depth/updates")]
    assert len(upgrades) == 1  # never retried
    assert client.stats.connections == 1


def test_wrapped_mid_stream_error_reconnects(
    node: FakeVegaNode, make_client: Callable[..., VegaClient]
) -> None:
    """`{"error":{…}}` then a drop: a non-fatal ErrorEvent and a new socket."""
    client = make_client()
    client.subscribe_ledger_movements()
    client.start(timeout=5 * T)
    node.wait_for_streams("ledger/movements")
    node.fail_stream("ledger/movements")
    error = next_event(client, lambda e: isinstance(e, ErrorEvent))
    assert isinstance(error, ErrorEvent) and not error.fatal and error.code == 13
    assert "internal stream failure" in error.message
    node.wait_for_streams("ledger/movements", 2)
    node.publish("ledger/movements", {"ledgerMovement": {"entries": [{"amount": "1"}]}})
    message = next_event(client, lambda e: isinstance(e, Message))
    assert isinstance(message, Message) and message.data["entries"][0]["amount"] == "1"


def test_unsubscribe_closes_only_that_socket(
    node: FakeVegaNode, make_client: Callable[..., VegaClient]
) -> None:
    """Unsubscribing is closing the connection (venue doc)."""
    client = make_client()
    trades = client.subscribe_trades()
    governance = client.subscribe_governance()
    client.start(timeout=5 * T)
    node.wait_for_streams("trades")
    node.wait_for_streams("governance")
    assert client.unsubscribe(trades) is True
    assert client.unsubscribe(trades) is False
    deadline = time.monotonic() + 2 * T
    while node.live_streams("trades") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert node.live_streams("trades") == 0 and node.live_streams("governance") == 1
    assert client.subscriptions == [governance] and client.stats.connections == 1


def test_rest_follows_the_nodes_pagination(node: FakeVegaNode) -> None:
    """markets() reads every page of the node's cursor pagination."""
    rest = VegaRest(node.url, page_size=2)
    try:
        markets = rest.markets()
        node.step(3)
        trades = rest.trades(market_ids=node.market_ids[0])
    finally:
        rest.close()
    assert len(markets) == 5 and {m["id"] for m in markets} >= set(node.market_ids)
    assert len(trades) == 3 and trades[0]["aggressor"] in ("SIDE_BUY", "SIDE_SELL")
    pages = [r for r in node.requests if r.path == "/api/v2/markets"]
    assert len(pages) == 3


def test_stop_is_clean_and_prompt(
    node: FakeVegaNode, make_client: Callable[..., VegaClient]
) -> None:
    """stop() with several sockets returns quickly; the thread check runs after the test."""
    client = make_client()
    client.subscribe_book(node.market_ids[0])
    client.subscribe_trades()
    client.subscribe_orders(party_ids=node.parties[0])
    client.start(timeout=5 * T)
    started = time.monotonic()
    client.stop()
    assert time.monotonic() - started < 2 * T
    assert "vega" in repr(client) and "closed" in repr(client)


def test_a_failed_book_snapshot_is_retried_with_backoff(
    node: FakeVegaNode, make_client: Callable[..., VegaClient]
) -> None:
    """REST depth fails twice: two non-fatal ErrorEvents, then the book arrives."""
    market = node.market_ids[0]
    node.fail_rest("market/depth", times=2)
    client = make_client(rest_retries=0)
    client.subscribe_book(market, depth=5)
    client.start(timeout=5 * T)
    errors = [next_event(client, lambda e: isinstance(e, ErrorEvent)) for _ in range(2)]
    assert all(isinstance(e, ErrorEvent) and not e.fatal and "HTTP 500" in e.message
               for e in errors)
    book = next_event(client, is_book(snapshot=True))
    assert isinstance(book, Book)
    assert (book.bids, book.asks) == tuple(side[:5] for side in node.book(market))
    depth_calls = [r for r in node.requests if "market/depth" in r.path]
    assert len(depth_calls) == 3
    assert client.stats.resyncs == 0  # the first book, late, is not a resync
    node.wait_for_streams("markets/depth/updates")
    assert_book_matches_node(client, node, market)


def test_a_gap_right_after_a_snapshot_backs_off_and_reconnects(
    node: FakeVegaNode, make_client: Callable[..., VegaClient]
) -> None:
    """A snapshot that never chains is not refetched at frame rate: reconnect after backoff."""
    market = node.market_ids[0]
    client = make_client()
    start_book(client, node, market)
    node.skip_update(market)
    node.step(2)
    error = next_event(client, lambda e: isinstance(e, ErrorEvent))
    assert isinstance(error, ErrorEvent) and "sequence gap" in error.message
    node.wait_for_streams("markets/depth/updates", 2)
    assert isinstance(next_event(client, is_book(snapshot=True)), Book)
    assert_book_matches_node(client, node, market)
    assert client.stats.reconnects == 1 and client.stats.resyncs == 1
