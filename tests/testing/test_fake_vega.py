"""FakeVegaNode against a bare websocket-client and requests: the docs/venues/vega.rst#vega-fake
checklist of the notes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import websocket

from tests.conftest import T
from wsclients.testing import FakeVegaNode

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def node() -> Iterator[FakeVegaNode]:
    with FakeVegaNode(extra_markets=3) as node:
        yield node


def ws_url(node: FakeVegaNode, route_and_query: str) -> str:
    return node.url.replace("http://", "ws://") + "/api/v2/stream/" + route_and_query


def connect(node: FakeVegaNode, route_and_query: str) -> websocket.WebSocket:
    return websocket.create_connection(ws_url(node, route_and_query), timeout=2 * T)


def recv(ws: websocket.WebSocket) -> str:
    opcode, frame = ws.recv_data_frame(True)
    assert opcode == websocket.ABNF.OPCODE_TEXT, f"got opcode {opcode}"
    text: str = frame.data.decode()
    return text


def assert_dropped_without_close_frame(ws: websocket.WebSocket) -> None:
    with pytest.raises((websocket.WebSocketConnectionClosedException, ConnectionError)):
        opcode, _ = ws.recv_data_frame(True)
        assert opcode != websocket.ABNF.OPCODE_CLOSE, "the node sends no close frame"
    ws.close()


def test_unknown_route_is_a_bare_not_found_then_a_drop(node: FakeVegaNode) -> None:
    """Upgrade on any path; unknown → {"code":5,"message":"Not Found"} and TCP drop."""
    ws = connect(node, "foo")
    assert json.loads(recv(ws)) == {"code": 5, "message": "Not Found"}
    assert_dropped_without_close_frame(ws)


def test_unknown_market_is_the_bare_13_10000_error(node: FakeVegaNode) -> None:
    """Pre-stream failure: no `error` wrapper."""
    ws = connect(node, "markets/depth/updates?marketIds=nope")
    status = json.loads(recv(ws))
    assert status["code"] == 13 and "error" not in status
    assert status["details"][0]["code"] == 10000
    assert "no market found for id: nope" in status["details"][0]["message"]
    assert_dropped_without_close_frame(ws)


@pytest.mark.parametrize(
    ("query", "code"),
    [("votes", 3), ("orders?excludeLiquidity=maybe", 3), ("orders?partyIds=short", 3)],
)
def test_refused_requests(node: FakeVegaNode, query: str, code: int) -> None:
    """Votes without a filter, a bad bool, a malformed id: bare InvalidArgument, then drop."""
    ws = connect(node, query)
    assert json.loads(recv(ws))["code"] == code
    assert_dropped_without_close_frame(ws)


def test_depth_updates_are_compact_chained_and_omit_zeros(node: FakeVegaNode) -> None:
    """One compact object per frame; 64-bit strings; prev = last sequence; removed = price only."""
    market = node.market_ids[0]
    ws = connect(node, f"markets/depth/updates?marketIds={market}")
    node.wait_for_streams("markets/depth/updates")
    start = node.sequence(market)
    node.step(30)
    frames = [recv(ws) for _ in range(30)]
    ws.close()
    assert all(" " not in frame for frame in frames)
    updates = [json.loads(frame)["result"]["update"][0] for frame in frames]
    previous = start
    removed = 0
    for update in updates:
        assert isinstance(update["sequenceNumber"], str)
        assert int(update["previousSequenceNumber"]) == previous
        assert int(update["sequenceNumber"]) > previous > 2**53
        previous = int(update["sequenceNumber"])
        for level in update.get("buy", []) + update.get("sell", []):
            if "volume" not in level:
                assert list(level) == ["price"]
                removed += 1
    assert removed > 0


def test_skip_update_leaves_a_gap(node: FakeVegaNode) -> None:
    """A skipped update: the next one's previousSequenceNumber was never sent."""
    market = node.market_ids[0]
    ws = connect(node, f"markets/depth/updates?marketIds={market}")
    node.wait_for_streams("markets/depth/updates")
    node.step()
    node.skip_update(market)
    node.step(2)
    first, second = (json.loads(recv(ws))["result"]["update"][0] for _ in range(2))
    ws.close()
    assert second["previousSequenceNumber"] != first["sequenceNumber"]


def test_depth_without_market_ids_stays_silent(node: FakeVegaNode) -> None:
    """An empty marketIds set matches nothing, forever."""
    ws = connect(node, "markets/data")
    node.wait_for_streams("markets/data")
    node.step(3)
    ws.settimeout(0.3 * T)
    with pytest.raises(websocket.WebSocketTimeoutException):
        ws.recv()
    ws.close()


def test_orders_snapshot_pages_of_fifty_then_updates(node: FakeVegaNode) -> None:
    """lastPage only on the last page; updates afterwards."""
    party = node.parties[0]
    node.add_orders(node.make_order(n, party_id=party) for n in range(120))
    ws = connect(node, f"orders?partyIds={party}&unknownParam=1")
    pages = [json.loads(recv(ws))["result"]["snapshot"] for _ in range(3)]
    assert [len(p["orders"]) for p in pages] == [50, 50, 20]
    assert ["lastPage" in p for p in pages] == [False, False, True]
    node.wait_for_streams("orders")
    node.add_orders([node.make_order(500, party_id=party, status=5)])
    update = json.loads(recv(ws))["result"]["updates"]["orders"]
    ws.close()
    assert update[0]["status"] == 5


def test_empty_snapshot_is_the_bare_last_page(node: FakeVegaNode) -> None:
    """No `orders` key at all (defaults omitted)."""
    ws = connect(node, "accounts?partyId=" + node.parties[1])
    assert recv(ws) == '{"result":{"snapshot":{"lastPage":true}}}'
    ws.close()


def test_singular_party_id_on_trades_is_ignored(node: FakeVegaNode) -> None:
    """Unknown parameters are ignored, so the filter is dropped
    (docs/venues/vega.rst#vega-query)."""
    ws = connect(node, "trades?partyId=" + "0" * 64)
    node.wait_for_streams("trades")
    node.step()
    trades = json.loads(recv(ws))["result"]["trades"]
    ws.close()
    assert {t["marketId"] for t in trades} <= set(node.market_ids) and trades
    assert trades[0]["aggressor"] in (1, 2) and isinstance(trades[0]["size"], str)


def test_mid_stream_failure_is_wrapped_then_dropped(node: FakeVegaNode) -> None:
    """`{"error":{…}}` after data, then no close frame."""
    ws = connect(node, "ledger/movements")
    node.wait_for_streams("ledger/movements")
    assert node.fail_stream("ledger/movements") == 1
    error = json.loads(recv(ws))["error"]
    assert error["code"] == 13 and error["details"][0]["code"] == 10010
    assert_dropped_without_close_frame(ws)


def test_pings_are_answered(node: FakeVegaNode) -> None:
    """The node never pings, but answers ours."""
    ws = connect(node, "governance")
    ws.ping(b"hi")
    opcode, frame = ws.recv_data_frame(True)
    ws.close()
    assert opcode == websocket.ABNF.OPCODE_PONG and frame.data == b"hi"


def get(node: FakeVegaNode, path: str, **params: Any) -> requests.Response:
    return requests.get(f"{node.url}/api/v2/{path}", params=params, timeout=2 * T)


def test_rest_markets_cursor_pagination(node: FakeVegaNode) -> None:
    """pagination.first / after, endCursor, hasNextPage; 5000 is the limit."""
    first = get(node, "markets", **{"pagination.first": 2}).json()["markets"]
    assert len(first["edges"]) == 2 and first["pageInfo"]["hasNextPage"]
    rest = get(node, "markets", **{"pagination.after": first["pageInfo"]["endCursor"]})
    page = rest.json()["markets"]
    assert len(page["edges"]) == 3 and not page["pageInfo"]["hasNextPage"]
    too_big = get(node, "markets", **{"pagination.first": 5001})
    assert too_big.status_code == 400 and too_big.json()["code"] == 3


def test_rest_market_and_depth_agree_with_the_stream(node: FakeVegaNode) -> None:
    """Decimals as strings, enum names; depth carries the last published sequence."""
    market_id = node.market_ids[1]
    market = get(node, f"market/{market_id}").json()["market"]
    assert market["positionDecimalPlaces"] == "-1" and market["state"] == "STATE_ACTIVE"
    node.step(2)
    depth = get(node, f"market/depth/{market_id}/latest").json()
    assert int(depth["sequenceNumber"]) == node.sequence(market_id)
    assert depth["buy"][0]["ammVolume"] == "0"  # REST emits defaults
    assert depth["lastTrade"]["aggressor"] in ("SIDE_BUY", "SIDE_SELL")
    unknown = get(node, "market/depth/" + "0" * 64 + "/latest").json()
    assert unknown["buy"] == [] and unknown["sequenceNumber"] == "0"
    missing = get(node, "market/" + "0" * 64)
    assert missing.status_code == 404 and missing.json()["code"] == 5
