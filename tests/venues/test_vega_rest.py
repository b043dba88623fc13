"""VegaRest through `responses`: paths, parameters, cursor pagination, errors."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from wsclients.errors import ProtocolViolation, RateLimited, RequestFailed
from wsclients.venues.vega.rest import VegaRest

BASE = "https://node.example/api/v2"


def connection(nodes: list[dict[str, Any]], *, end: str, more: bool) -> dict[str, Any]:
    return {
        "edges": [{"node": node, "cursor": f"c-{node['id']}"} for node in nodes],
        "pageInfo": {
            "hasNextPage": more, "hasPreviousPage": False, "startCursor": "", "endCursor": end,
        },
    }


def query(call: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query)


@pytest.fixture
def rest() -> VegaRest:
    return VegaRest("https://node.example", retries=1, page_size=2)


def test_the_rest_root_is_derived_from_the_node_url() -> None:
    """/api/v2 is added once; ws(s) URLs are accepted too."""
    assert VegaRest("https://node.example/").base_url == BASE
    assert VegaRest("https://node.example/api/v2").base_url == BASE
    assert VegaRest("wss://node.example/api/v2/stream").base_url == BASE
    with pytest.raises(ValueError):
        VegaRest("node.example")
    with pytest.raises(ValueError):
        VegaRest("https://node.example", page_size=5001)


@responses.activate
def test_markets_follow_the_cursor_to_the_last_page(rest: VegaRest) -> None:
    """pagination.first + pagination.after=<endCursor> while hasNextPage."""
    pages = [
        connection([{"id": "a"}, {"id": "b"}], end="B", more=True),
        connection([{"id": "c"}, {"id": "d"}], end="D", more=True),
        connection([{"id": "e"}], end="E", more=False),
    ]
    for page in pages:
        responses.get(f"{BASE}/markets", json={"markets": page})
    markets = rest.markets(include_settled=False)
    assert [m["id"] for m in markets] == ["a", "b", "c", "d", "e"]
    queries = [query(call) for call in responses.calls]
    assert [q.get("pagination.after") for q in queries] == [None, ["B"], ["D"]]
    assert all(q["pagination.first"] == ["2"] for q in queries)
    assert all(q["includeSettled"] == ["false"] for q in queries)


@responses.activate
def test_a_limit_stops_paging_early(rest: VegaRest) -> None:
    """trades(limit=3) asks for 2, then 1, and stops."""
    two = connection([{"id": "1"}, {"id": "2"}], end="2", more=True)
    responses.get(f"{BASE}/trades", json={"trades": two})
    responses.get(
        f"{BASE}/trades", json={"trades": connection([{"id": "3"}], end="3", more=True)}
    )
    trades = rest.trades(market_ids=["m1", "m2"], party_ids="p", start_ns=5, limit=3)
    assert [t["id"] for t in trades] == ["1", "2", "3"]
    first, second = (query(call) for call in responses.calls)
    assert first["marketIds"] == ["m1", "m2"] and first["partyIds"] == ["p"]
    assert first["dateRange.startTimestamp"] == ["5"]
    assert second["pagination.first"] == ["1"] and second["pagination.after"] == ["2"]


@responses.activate
def test_a_repeating_cursor_is_a_protocol_violation(rest: VegaRest) -> None:
    """A node that pages forever is not followed forever."""
    page = {"orders": connection([{"id": "1"}], end="X", more=True)}
    responses.get(f"{BASE}/orders", json=page)
    responses.get(f"{BASE}/orders", json=page)
    with pytest.raises(ProtocolViolation):
        rest.orders(party_ids="p", live_only=True)
    assert query(responses.calls[0])["filter.liveOnly"] == ["true"]


@responses.activate
def test_filters_use_the_filter_prefix(rest: VegaRest) -> None:
    """positions/accounts take filter.* parameters (docs/venues/vega.rst#vega-rest)."""
    responses.get(f"{BASE}/positions", json={"positions": connection([], end="", more=False)})
    responses.get(
        f"{BASE}/accounts",
        json={"accounts": connection([{"id": "x", "balance": "1"}], end="", more=False)},
    )
    assert rest.positions(party_ids="p", market_ids=["m"]) == []
    assert rest.accounts(party_ids="p", asset_id="USD", account_types=[4]) == [
        {"id": "x", "balance": "1"}
    ]
    positions, accounts = (query(call) for call in responses.calls)
    assert positions["filter.partyIds"] == ["p"] and positions["filter.marketIds"] == ["m"]
    assert accounts["filter.assetId"] == ["USD"] and accounts["filter.accountTypes"] == ["4"]


@responses.activate
def test_single_objects_and_depth(rest: VegaRest) -> None:
    """market/{id}, asset/{id}, market/depth/{id}/latest, candle/intervals, assets."""
    responses.get(f"{BASE}/market/m1", json={"market": {"id": "m1", "decimalPlaces": "5"}})
    responses.get(f"{BASE}/asset/a1", json={"asset": {"id": "a1", "details": {"decimals": "18"}}})
    responses.get(
        f"{BASE}/market/depth/m1/latest",
        json={"marketId": "m1", "buy": [], "sell": [], "sequenceNumber": "7"},
    )
    responses.get(
        f"{BASE}/candle/intervals",
        json={"intervalToCandleId": [{"interval": "1 minute", "candleId": "c1"}]},
    )
    responses.get(f"{BASE}/assets", json={"assets": connection([{"id": "a1"}], end="", more=False)})
    assert rest.market("m1")["decimalPlaces"] == "5"
    assert rest.asset("a1")["details"]["decimals"] == "18"
    assert rest.depth("m1", max_depth=3)["sequenceNumber"] == "7"
    assert rest.candle_intervals("m1") == [{"interval": "1 minute", "candleId": "c1"}]
    assert rest.assets() == [{"id": "a1"}]
    assert query(responses.calls[2])["maxDepth"] == ["3"]
    assert query(responses.calls[3])["marketId"] == ["m1"]


@responses.activate
def test_the_nodes_error_message_is_kept(rest: VegaRest) -> None:
    """REST errors are a bare google.rpc.Status with the mapped HTTP status."""
    responses.get(
        f"{BASE}/market/nope",
        status=404,
        json={"code": 5, "message": "NotFound error", "details": []},
    )
    with pytest.raises(RequestFailed) as info:
        rest.market("nope")
    assert info.value.status == 404 and "NotFound" in str(info.value)


@responses.activate
def test_rate_limits_are_retried_then_reported(rest: VegaRest) -> None:
    """429 is retried (urllib3 Retry), then RateLimited."""
    for _ in range(3):
        responses.get(
            f"{BASE}/market/m1", status=429, json={"message": "api request rate limit exceeded"}
        )
    with pytest.raises(RateLimited):
        rest.market("m1")
    assert len(responses.calls) == 2  # one try plus retries=1


@responses.activate
def test_answers_without_the_expected_root_are_protocol_violations(rest: VegaRest) -> None:
    """A body without `market` (or a connection without edges' nodes) is not guessed at."""
    responses.get(f"{BASE}/market/m1", json={"something": 1})
    responses.get(f"{BASE}/markets", json={"markets": {"edges": [{"cursor": "x"}]}})
    with pytest.raises(ProtocolViolation):
        rest.market("m1")
    with pytest.raises(ProtocolViolation):
        rest.markets()
