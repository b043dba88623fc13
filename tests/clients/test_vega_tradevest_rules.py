"""The venue rules Vega and Tradevest clients follow, checked against their fakes: filters the
node would drop, the stream limit, bans, the proxy's quirks, and Tradevest's ladders and 400s."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import responses
import websocket

from tests.conftest import T
from tests.helpers import next_event, next_of, wait_until
from wsclients import Book, ConnectionState, ErrorEvent, ProtocolStopped, RateLimited
from wsclients.errors import SubscriptionRejected
from wsclients.testing import FakeTradevest, FakeVegaNode
from wsclients.venues.tradevest import TradevestClient
from wsclients.venues.vega import STREAM_LIMIT, VegaClient, make_stream
from wsclients.venues.vega.rest import VegaRest

pytestmark = pytest.mark.timeout(30)

FAST: dict[str, Any] = {"backoff_min": 0.01, "backoff_max": 0.05}


@pytest.fixture
def node() -> Iterator[FakeVegaNode]:
    with FakeVegaNode() as node:
        yield node


# -- Vega: filters ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["partyId", "marketId", "party_id"])
def test_singular_trade_filters_are_refused_with_the_plural_spelling(name: str) -> None:
    """On current nodes a singular filter on trades is an unknown field: the node drops it and
    streams every trade on the network. Refused before any socket, naming the plural."""
    with pytest.raises(SubscriptionRejected, match="Ids"):
        make_stream("trades", **{name: "abc"})


def test_the_seed_typo_form_in_the_path_is_refused() -> None:
    """``trades?partyId?=…`` (a malformed key older examples carry) is refused; a clean query
    in the path is read like keyword parameters."""
    with pytest.raises(SubscriptionRejected, match="malformed query key"):
        make_stream("trades?partyId?=abc")
    with pytest.raises(SubscriptionRejected, match="partyIds"):
        make_stream("trades?partyId=abc")
    stream = make_stream("trades?marketIds=a&marketIds=b")
    assert stream.market_ids == ["a", "b"]


# -- Vega: the stream limit -------------------------------------------------------------------


def test_the_251st_stream_is_refused_up_front(node: FakeVegaNode) -> None:
    """A client counts its streams and refuses the one past the node's default limit before
    opening a socket."""
    client = VegaClient(url=node.url, **FAST)
    try:
        for n in range(STREAM_LIMIT):
            client.subscribe_margin_levels(f"p{n}")
        with pytest.raises(SubscriptionRejected, match="at most 250"):
            client.subscribe_margin_levels("one-too-many")
        assert len(client.subscriptions) == STREAM_LIMIT
    finally:
        client.stop()


def test_the_nodes_own_limit_backs_off_long() -> None:
    """Code 8 ("client reached max subscription allowed") is not retried at once: the next
    attempt waits at least 30 s."""
    with FakeVegaNode(max_streams=0) as node:
        statuses: list[Any] = []
        client = VegaClient(url=node.url, on_status=statuses.append, **FAST)
        client.subscribe_trades([node.market_ids[0]])
        client.start(wait=False)
        try:
            wait_until(lambda: any(s.state is ConnectionState.RECONNECTING for s in statuses))
            retry = next(s for s in statuses if s.state is ConnectionState.RECONNECTING)
            assert retry.delay is not None and retry.delay >= 30.0
            assert "max subscription" in retry.reason
        finally:
            client.stop()


# -- Vega: REST bans --------------------------------------------------------------------------


@responses.activate
def test_a_temporary_ban_is_a_rate_limit_with_its_wait() -> None:
    """HTTP 403 "temporarily banned" with RateLimit-Retry-After is a RateLimited carrying the
    wait, not an AuthenticationFailed."""
    responses.get(
        "https://node.example/api/v2/markets",
        status=403,
        json={"code": 7, "message": "temporarily banned for continuing to request while "
                                    "rate limited"},
        headers={"RateLimit-Retry-After": "12"},
    )
    rest = VegaRest("https://node.example/api/v2", retries=0)
    with pytest.raises(RateLimited) as info:
        rest.markets()
    assert info.value.retry_after == 12.0 and "banned" in str(info.value)


# -- FakeVegaNode quirks the client must survive ---------------------------------------------


def test_first_update_without_previous_and_mid_block_snapshots_still_sync() -> None:
    """The node's first depth update has no previousSequenceNumber and its REST snapshot can
    fall mid-block; the book still syncs and matches the node's after many blocks."""
    with FakeVegaNode(omit_first_previous=True, mid_block_snapshots=True) as node:
        market = node.market_ids[0]
        with VegaClient(url=node.url, **FAST) as client:
            client.subscribe_book(market)
            node.wait_for_streams("markets/depth/updates")
            next_event(client, lambda e: isinstance(e, Book) and e.is_snapshot)
            for _ in range(30):
                node.step()
            bids, asks = node.book(market)
            book = next_event(
                client, lambda e: isinstance(e, Book) and e.bids[:3] == bids[:3]
                and e.asks[:3] == asks[:3], timeout=5 * T)
            assert client.stats.resyncs == 0
            assert isinstance(book, Book)


def test_a_client_frame_stalls_the_stream_as_the_node_proxy_does(node: FakeVegaNode) -> None:
    """A text frame written on a server-streaming route blocks the node's proxy: the fake stops
    sending on that socket, which is why the client never writes on those routes."""
    market = node.market_ids[0]
    ws = websocket.create_connection(
        node.url.replace("http", "ws") + f"/api/v2/stream/trades?marketIds={market}", timeout=2
    )
    try:
        node.wait_for_streams("trades")
        node.step(trades=1)
        assert "trades" in ws.recv()
        ws.settimeout(0.3)
        with pytest.raises(websocket.WebSocketTimeoutException):
            while True:  # drain whatever that block sent
                ws.recv()
        ws.send('{"op":"ping"}')
        time.sleep(0.2)
        node.step(trades=1)
        with pytest.raises(websocket.WebSocketTimeoutException):
            ws.recv()
    finally:
        ws.close()


def test_frames_over_64_kib_never_arrive_and_the_socket_closes() -> None:
    """The proxy's scanner stops at 64 KiB: the frame is not delivered and the socket ends."""
    with FakeVegaNode(max_frame=1024) as node:
        ws = websocket.create_connection(
            node.url.replace("http", "ws") + "/api/v2/stream/ledger/movements", timeout=2
        )
        try:
            node.wait_for_streams("ledger/movements")
            assert node.publish("ledger/movements", {"ledgerMovement": {"x": "y" * 2000}}) == 0
            with pytest.raises((websocket.WebSocketConnectionClosedException, ConnectionError,
                                websocket.WebSocketTimeoutException)):
                ws.recv()
        finally:
            ws.close()


def test_an_unknown_candle_id_is_refused_with_60002(node: FakeVegaNode) -> None:
    """candle/data with a candle id the node does not know: Internal error, detail 60002."""
    ws = websocket.create_connection(
        node.url.replace("http", "ws") + "/api/v2/stream/candle/data?candleId=nope", timeout=2
    )
    try:
        frame = json.loads(ws.recv())
        assert frame["code"] == 13 and frame["details"][0]["code"] == 60002
    finally:
        ws.close()


def test_event_bus_batches_need_a_request_each_and_time_out() -> None:
    """With batchSize the bus sends one batch per request frame; without a request frame in
    time the stream ends (the node's 5 s, shortened here)."""
    with FakeVegaNode(bus_request_timeout=0.3) as node:
        url = node.url.replace("http", "ws") + "/api/v2/stream/event/bus"
        silent = websocket.create_connection(url, timeout=2)
        try:
            frame = json.loads(silent.recv())  # no request frame: refused after the timeout
            assert frame["code"] == 4
        finally:
            silent.close()
        ws = websocket.create_connection(url, timeout=2)
        try:
            ws.send(json.dumps({"type": ["BUS_EVENT_TYPE_TRADE"], "batchSize": "1"}))
            node.wait_for_streams("event/bus")
            event = {"events": [{"type": "BUS_EVENT_TYPE_TRADE", "id": "1"}]}
            assert node.publish("event/bus", event) == 1
            assert node.publish("event/bus", event) == 0  # not asked for yet
            ws.send(json.dumps({"type": ["BUS_EVENT_TYPE_TRADE"], "batchSize": "1"}))
            wait_until(lambda: node.publish("event/bus", event) == 1)
        finally:
            ws.close()


def test_vega_client_keeps_asking_for_event_bus_batches(node: FakeVegaNode) -> None:
    """The client repeats the bus request after each batch, so a batched bus keeps flowing."""
    with VegaClient(url=node.url, **FAST) as client:
        client.subscribe_event_bus("BUS_EVENT_TYPE_TRADE", batch_size=1)
        node.wait_for_streams("event/bus")
        event = {"events": [{"type": "BUS_EVENT_TYPE_TRADE", "id": "1"}]}
        for _ in range(3):
            wait_until(lambda: node.publish("event/bus", event) == 1)
            next_event(client, lambda e: getattr(e, "channel", None) == "event/bus")


# -- Tradevest --------------------------------------------------------------------------------


def test_http_400_on_the_upgrade_is_fatal_with_the_body() -> None:
    """A 400 is the request's fault: one attempt, a fatal error carrying the server's body."""
    with FakeTradevest() as fake:
        fake.reject_handshake(400, "markets must not be empty", times=None)
        client = TradevestClient([("EUR", "BTC")], url=fake.url, **FAST)
        with pytest.raises(ProtocolStopped):
            client.start(timeout=5 * T)
        assert len(fake.connections) <= 1
        errors = []
        while True:
            try:
                event = client.get(timeout=0.1)
            except Exception:
                break
            if isinstance(event, ErrorEvent):
                errors.append(event)
        assert any(e.fatal and "markets must not be empty" in e.message for e in errors)


def test_one_sided_entries_keep_the_other_side_and_say_so() -> None:
    """An entry with one side empty ("no price change" for that side) keeps the last ladder for
    it and arrives as a non-snapshot Book; a full entry is a snapshot again."""
    with FakeTradevest(price_interval=None) as fake, TradevestClient(
        [("EUR", "BTC")], url=fake.url, **FAST
    ) as client:
        first = next_of(client, Book)
        assert first.is_snapshot and first.bids and first.asks
        conn = fake.connections[-1]
        conn.send(fake.prices_message([fake.entry(("EUR", "BTC"), asks=[(Decimal("9"), 1)])]))
        partial = next_of(client, Book)
        assert not partial.is_snapshot
        assert partial.bids == first.bids and [a.price for a in partial.asks] == [Decimal("9")]
        conn.send(fake.prices_message([fake.entry(
            ("EUR", "BTC"), asks=[(Decimal("9"), 1)], bids=[(Decimal("8"), 1)])]))
        full = next_of(client, Book)
        assert full.is_snapshot and [b.price for b in full.bids] == [Decimal("8")]


def test_one_market_per_message_is_read_like_the_batched_shape() -> None:
    """The venue's diagram sends one market per PRICES message; both shapes give one Book per
    market."""
    with FakeTradevest(one_market_per_message=True) as fake, TradevestClient(
        [("EUR", "BTC"), ("EUR", "ETH")], url=fake.url, **FAST
    ) as client:
        symbols = {next_of(client, Book).symbol for _ in range(4)}
        assert symbols == {"BTC-EUR", "ETH-EUR"}

