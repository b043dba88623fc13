"""FakeAllium against plain websocket-client sockets: the API over WebSocket and the streams."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from typing import Any

import pytest
import websocket

from tests.conftest import T
from wsclients.testing import FakeAllium
from wsclients.testing.allium import (
    API_PATH,
    INFLIGHT_LIMIT_TEXT,
    STREAM_PATH,
    ApiError,
    ApiRequest,
    StreamState,
)

pytestmark = pytest.mark.timeout(30)

KEY = {"X-API-KEY": "test-key"}
TXS = "ethereum.transactions"
WETH = "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2"


@pytest.fixture
def fake() -> Iterator[FakeAllium]:
    with FakeAllium(rate=None) as server:
        yield server


class Socket:
    """A websocket-client socket that sends and reads JSON."""

    def __init__(self, url: str, header: dict[str, str] | None = None) -> None:
        self.ws = websocket.create_connection(url, header=KEY if header is None else header,
                                              timeout=2 * T)

    def send(self, frame: Any) -> None:
        self.ws.send(frame if isinstance(frame, str) else json.dumps(frame))

    def recv(self) -> Any:
        return json.loads(self.ws.recv())

    def nothing_within(self, seconds: float = 0.2) -> bool:
        """True when no frame arrives for ``seconds``."""
        self.ws.settimeout(seconds)
        try:
            self.ws.recv()
        except websocket.WebSocketTimeoutException:
            return True
        finally:
            self.ws.settimeout(2 * T)
        return False

    def close(self) -> None:
        self.ws.close()


@pytest.fixture
def sockets() -> Iterator[list[Socket]]:
    opened: list[Socket] = []
    yield opened
    for sock in opened:
        sock.close()


def api(fake: FakeAllium, sockets: list[Socket]) -> Socket:
    sock = Socket(fake.api_url)
    sockets.append(sock)
    return sock


def stream(fake: FakeAllium, sockets: list[Socket], topic: str = TXS) -> Socket:
    sock = Socket(fake.stream_url(topic))
    sockets.append(sock)
    return sock


def request(request_id: str, method: str, path: str, body: Any = None) -> dict[str, Any]:
    frame: dict[str, Any] = {"id": request_id, "method": method, "path": path}
    if body is not None:
        frame["body"] = body
    return frame


def status_of(url: str, header: dict[str, str] | None = None) -> tuple[int, Any]:
    with pytest.raises(websocket.WebSocketBadStatusException) as caught:
        websocket.create_connection(url, header=header or {}, timeout=2 * T)
    return caught.value.status_code, json.loads(caught.value.resp_body or b"null")


# Handshake ------------------------------------------------------------------------------------


def test_paths_are_the_documented_ones(fake: FakeAllium) -> None:
    """The API and stream URLs use the paths of the websockets page, on one port."""
    assert fake.api_url == f"ws://127.0.0.1:{fake.port}{API_PATH}"
    assert fake.url == fake.api_url
    assert fake.stream_url("ethereum.blocks") == (
        f"ws://127.0.0.1:{fake.port}{STREAM_PATH}?topic=ethereum.blocks")


@pytest.mark.parametrize("header", [{}, {"X-API-KEY": "wrong"}])
def test_missing_or_wrong_key_is_401_on_both_paths(fake: FakeAllium,
                                                   header: dict[str, str]) -> None:
    """Without the right X-API-KEY both services refuse the upgrade with 401."""
    assert status_of(fake.api_url, header)[0] == 401
    status, body = status_of(fake.stream_url(TXS), header)
    assert status == 401 and "API key" in body["detail"]


def test_key_header_name_is_case_insensitive(fake: FakeAllium, sockets: list[Socket]) -> None:
    """HTTP header names are case-insensitive: x-api-key works too."""
    sockets.append(Socket(fake.api_url, {"x-api-key": "test-key"}))
    assert fake.wait_for_connections(1)[0].request_headers["X-API-KEY"] == "test-key"


def test_features_and_topics_not_enabled_are_403(fake: FakeAllium, sockets: list[Socket]) -> None:
    """A valid key without the feature or the topic gets 403; allowed topics connect."""
    fake.topics = frozenset({"ethereum.blocks"})
    assert status_of(fake.stream_url(TXS), KEY)[0] == 403
    stream(fake, sockets, "ethereum.blocks")
    fake.streams_enabled = False
    assert status_of(fake.stream_url("ethereum.blocks"), KEY)[0] == 403
    fake.api_enabled = False
    assert status_of(fake.api_url, KEY)[0] == 403


def test_stream_without_topic_is_400_and_other_paths_404(fake: FakeAllium) -> None:
    """The topic query parameter is required; unknown paths are not upgraded."""
    base = f"ws://127.0.0.1:{fake.port}"
    assert status_of(base + STREAM_PATH, KEY)[0] == 400
    assert status_of(base + STREAM_PATH + "?topic=", KEY)[0] == 400
    assert status_of(base + "/api/v1/developer/ws/other", KEY)[0] == 404


def test_no_key_configured_accepts_anyone(sockets: list[Socket]) -> None:
    """api_key=None turns the check off."""
    with FakeAllium(api_key=None, rate=None) as fake:
        sock = Socket(fake.api_url, header={})
        sockets.append(sock)
        sock.send(request("a", "GET", "/api/v1/supported-chains/realtime-apis/simple"))
        assert sock.recv()["status"] == "success"


def test_handshake_faults_from_the_kit(fake: FakeAllium) -> None:
    """reject_handshake answers the next upgrade with the given status, then accepts again."""
    fake.reject_handshake(503, "busy")
    with pytest.raises(websocket.WebSocketBadStatusException) as caught:
        websocket.create_connection(fake.api_url, header=KEY, timeout=2 * T)
    assert caught.value.status_code == 503
    websocket.create_connection(fake.api_url, header=KEY, timeout=2 * T).close()


# API over WebSocket ---------------------------------------------------------------------------


def test_get_request_gets_a_success_reply_with_its_id(fake: FakeAllium,
                                                      sockets: list[Socket]) -> None:
    """GET parameters travel in body; the reply is {id, status: success, data}."""
    sock = api(fake, sockets)
    sock.send(request("get-assets-1", "GET", "/api/v1/developer/assets", {"limit": "2"}))
    reply = sock.recv()
    assert set(reply) == {"id", "status", "data"}
    assert reply["id"] == "get-assets-1" and reply["status"] == "success"
    assert [item["symbol"] for item in reply["data"]["items"]] == ["BTC", "ETH"]
    assert reply["data"]["cursor"] == "2"
    sock.send(request("get-assets-2", "GET", "/api/v1/developer/assets",
                      {"limit": "2", "cursor": "2"}))
    page = sock.recv()["data"]
    assert [item["symbol"] for item in page["items"]] == ["SOL"] and page["cursor"] is None
    recorded = fake.api_requests[0]
    assert recorded == ApiRequest(id="get-assets-1", method="GET",
                                  path="/api/v1/developer/assets", body={"limit": "2"},
                                  connection=0)
    assert fake.request_count("GET", "/api/v1/developer/assets") == 2
    assert fake.api_replies[0] == reply


def test_post_prices_answers_known_tokens_from_the_market(fake: FakeAllium,
                                                          sockets: list[Socket]) -> None:
    """POST /prices takes an array body; known tokens are priced near the seeded market."""
    sock = api(fake, sockets)
    sock.send(request("p", "POST", "/api/v1/developer/prices", [
        {"token_address": WETH, "chain": "ethereum"},
        {"token_address": "0x" + "1" * 40, "chain": "ethereum"},
    ]))
    items = sock.recv()["data"]["items"]
    assert len(items) == 1 and items[0]["address"] == WETH
    assert 3000 < items[0]["price"] < 4000


def test_hyperliquid_fills_is_a_bare_array_and_checks_user(fake: FakeAllium,
                                                           sockets: list[Socket]) -> None:
    """The fills path answers an array of fills; without user it is an error reply."""
    sock = api(fake, sockets)
    path = "/api/v1/developer/trading/hyperliquid/info/fills"
    sock.send(request("f", "POST", path, {"type": "userFills", "user": "0x" + "d" * 40}))
    fills = sock.recv()["data"]
    assert isinstance(fills, list) and len(fills) == 3
    assert {"coin", "px", "sz", "side", "time", "tid", "oid"} <= set(fills[0])
    assert isinstance(fills[0]["px"], str)
    sock.send(request("g", "POST", path, {"type": "userFills"}))
    assert sock.recv() == {"id": "g", "status": "error", "data": "user is required"}


def test_user_routes_and_error_replies(fake: FakeAllium, sockets: list[Socket]) -> None:
    """route() adds handlers (also as a decorator); ApiError gives an error reply."""
    seen: list[ApiRequest] = []

    def echo(req: ApiRequest) -> Any:
        seen.append(req)
        return {"echo": req.body}

    fake.route("POST", "/api/v1/developer/echo", echo)

    @fake.route("delete", "/api/v1/developer/thing")
    def refuse(req: ApiRequest) -> Any:
        raise ApiError("thing is locked")

    sock = api(fake, sockets)
    sock.send(request("1", "POST", "/api/v1/developer/echo", {"a": 1}))
    assert sock.recv() == {"id": "1", "status": "success", "data": {"echo": {"a": 1}}}
    sock.send(request("2", "DELETE", "/api/v1/developer/thing"))
    assert sock.recv() == {"id": "2", "status": "error", "data": "thing is locked"}
    sock.send(request("3", "GET", "/api/v1/developer/nothing-here"))
    assert sock.recv() == {"id": "3", "status": "error",
                           "data": "not found: GET /api/v1/developer/nothing-here"}
    assert seen[0].body == {"a": 1} and seen[0].connection == 0


def test_routes_option_replaces_the_defaults(sockets: list[Socket]) -> None:
    """default_routes=False serves only the routes given to the constructor."""
    routes = {("GET", "/api/v1/developer/assets"): lambda req: {"items": [], "cursor": None}}
    with FakeAllium(default_routes=False, routes=routes, rate=None) as fake:
        sock = api(fake, sockets)
        sock.send(request("a", "GET", "/api/v1/developer/assets"))
        assert sock.recv()["data"] == {"items": [], "cursor": None}
        sock.send(request("p", "POST", "/api/v1/developer/prices", []))
        assert sock.recv()["status"] == "error"


def test_a_failing_handler_gives_an_internal_error_reply(fake: FakeAllium,
                                                         sockets: list[Socket]) -> None:
    """An unexpected handler exception becomes an error reply and is recorded."""
    fake.route("GET", "/boom", lambda req: 1 / 0)
    sock = api(fake, sockets)
    sock.send(request("b", "GET", "/boom"))
    assert sock.recv() == {"id": "b", "status": "error", "data": "internal server error"}
    assert isinstance(fake.handler_errors[0], ZeroDivisionError)


@pytest.mark.parametrize(
    ("frame", "reply_id", "fragment"),
    [
        ("not json", None, "not JSON"),
        ("[1, 2]", None, "not an object"),
        ({"method": "GET", "path": "/x"}, None, "id"),
        ({"id": "m", "method": "FETCH", "path": "/x"}, "m", "method"),
        ({"id": "p", "method": "GET", "path": "x"}, "p", "path"),
        ({"id": "g", "method": "GET", "path": "/x", "body": [1]}, "g", "GET"),
        ({"id": "s", "method": "POST", "path": "/x", "body": "text"}, "s", "body"),
    ],
)
def test_malformed_requests_get_an_error_reply(
    fake: FakeAllium, sockets: list[Socket], frame: Any, reply_id: Any, fragment: str
) -> None:
    """A request the fake cannot use is answered at once with status error."""
    sock = api(fake, sockets)
    sock.send(frame)
    reply = sock.recv()
    assert reply["id"] == reply_id and reply["status"] == "error"
    assert fragment in reply["data"]
    assert fake.api_requests == []


def test_random_latency_answers_out_of_order(sockets: list[Socket]) -> None:
    """With a latency range, replies to a burst come back in another order, none lost."""
    with FakeAllium(latency=(0.0, 0.1), rate=None) as fake:
        sock = api(fake, sockets)
        ids = [f"r{i}" for i in range(30)]
        for request_id in ids:
            sock.send(request(request_id, "GET", "/api/v1/supported-chains/realtime-apis/simple"))
        answered = [sock.recv()["id"] for _ in ids]
        assert sorted(answered) == sorted(ids)
        assert answered != ids


def test_fixed_latency_delays_every_reply(sockets: list[Socket]) -> None:
    """A numeric latency holds each reply that long."""
    with FakeAllium(latency=0.15, rate=None) as fake:
        sock = api(fake, sockets)
        began = time.monotonic()
        sock.send(request("slow", "GET", "/api/v1/supported-chains/realtime-apis/simple"))
        assert sock.recv()["id"] == "slow"
        assert time.monotonic() - began >= 0.14


def test_latency_per_request_and_never(sockets: list[Socket]) -> None:
    """A latency function picks each request's delay; math.inf never answers it."""
    def latency(req: ApiRequest) -> float:
        return math.inf if req.id == "never" else 0.0

    with FakeAllium(latency=latency, rate=None) as fake:
        sock = api(fake, sockets)
        path = "/api/v1/supported-chains/realtime-apis/simple"
        sock.send(request("never", "GET", path))
        sock.send(request("now", "GET", path))
        assert sock.recv()["id"] == "now"
        assert sock.nothing_within()
        assert fake.inflight() == 1


def test_the_1000th_in_flight_request_is_the_last_accepted(fake: FakeAllium,
                                                           sockets: list[Socket]) -> None:
    """1,000 requests may be in flight; the next gets the documented error text at once."""
    fake.hold_replies()
    sock = api(fake, sockets)
    path = "/api/v1/supported-chains/realtime-apis/simple"
    for i in range(1000):
        sock.send(request(f"r{i}", "GET", path))
    fake.wait_for_api_requests(1000)
    assert fake.inflight() == 1000
    sock.send(request("one-too-many", "GET", path))
    assert sock.recv() == {"id": "one-too-many", "status": "error", "data": INFLIGHT_LIMIT_TEXT}
    assert fake.inflight_rejections == 1
    assert fake.release_replies() == 1000
    replies = [sock.recv() for _ in range(1000)]
    assert all(reply["status"] == "success" for reply in replies)
    assert fake.inflight() == 0
    sock.send(request("after", "GET", path))
    assert sock.recv()["status"] == "success"


def test_in_flight_limit_is_per_connection(sockets: list[Socket]) -> None:
    """A full window on one connection does not limit another."""
    with FakeAllium(max_inflight=2, rate=None) as fake:
        fake.hold_replies()
        first, second = api(fake, sockets), api(fake, sockets)
        path = "/api/v1/supported-chains/realtime-apis/simple"
        for i in range(2):
            first.send(request(f"a{i}", "GET", path))
        fake.wait_for_api_requests(2)
        first.send(request("a2", "GET", path))
        assert first.recv()["data"] == INFLIGHT_LIMIT_TEXT
        second.send(request("b0", "GET", path))
        fake.wait_for_api_requests(3)
        assert fake.inflight(fake.api_connections()[1]) == 1
        fake.release_replies()
        assert {first.recv()["id"], first.recv()["id"]} == {"a0", "a1"}
        assert second.recv()["id"] == "b0"


# Data streams ---------------------------------------------------------------------------------


def start(fake: FakeAllium, sock: Socket, *frames: Any) -> None:
    """Send ``frames`` then ``start`` and wait until the fake has applied them all."""
    before = len(fake.actions)
    for frame in (*frames, {"action": "start"}):
        sock.send(frame)
    fake.wait_for_actions(before + len(frames) + 1)


def set_filter(data: Any) -> dict[str, Any]:
    return {"action": "setFilter", "data": data}


def test_nothing_flows_before_start(fake: FakeAllium, sockets: list[Socket]) -> None:
    """A connected stream sends nothing until the client sends start."""
    sock = stream(fake, sockets)
    fake.wait_for_connections(1)
    assert fake.publish(TXS, {"value": "1"}) == 0
    assert sock.nothing_within()


def test_start_stop_and_resume(fake: FakeAllium, sockets: list[Socket]) -> None:
    """start delivers records, stop pauses without closing, start resumes."""
    sock = stream(fake, sockets)
    start(fake, sock)
    assert fake.publish(TXS, [{"n": 1}, {"n": 2}]) == 2
    assert [sock.recv(), sock.recv()] == [{"n": 1}, {"n": 2}]
    sock.send({"action": "stop"})
    fake.wait_for_actions(2)
    assert fake.publish(TXS, {"n": 3}) == 0
    assert sock.nothing_within()
    conn = fake.stream_connections(TXS)[0]
    assert fake.stream_state(conn) == StreamState(topic=TXS, started=False, filter=None)
    start(fake, sock)
    fake.publish(TXS, {"n": 4})
    assert sock.recv() == {"n": 4}


def test_records_go_only_to_their_topic(fake: FakeAllium, sockets: list[Socket]) -> None:
    """publish on one topic reaches that topic's started sockets, each once."""
    a, b = stream(fake, sockets), stream(fake, sockets)
    other = stream(fake, sockets, "ethereum.blocks")
    for sock in (a, b, other):
        start(fake, sock)
    assert fake.publish(TXS, {"n": 1}) == 2
    assert a.recv() == b.recv() == {"n": 1}
    assert other.nothing_within()


RECORDS: list[dict[str, Any]] = [
    {"blockchain": "ethereum", "value": "1000000000000000001", "to_address": "0xa",
     "status": "ok", "payload": {"coin": "BTC"}},                              # 0
    {"blockchain": "ethereum", "value": "999999999999999999", "to_address": None},  # 1
    {"blockchain": "base", "value": 1000000000000000000, "status": "pending"},      # 2
    {"blockchain": "base", "value": "0", "to_address": "0xb",
     "payload": {"coin": "ETH"}},                                                # 3
]
WEI = "1000000000000000000"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"field": "blockchain", "operator": "=", "value": "ethereum"}, [0, 1]),
        ({"field": "value", "operator": "=", "value": WEI}, [2]),
        ({"field": "status", "operator": "!=", "value": "pending"}, [0]),  # missing: no match
        ({"field": "value", "operator": "!=", "value": "0"}, [0, 1, 2]),
        ({"field": "value", "operator": ">", "value": WEI}, [0]),
        ({"field": "value", "operator": ">=", "value": WEI}, [0, 2]),
        ({"field": "value", "operator": "<", "value": WEI}, [1, 3]),
        ({"field": "value", "operator": "<=", "value": 1e18}, [1, 2, 3]),
        ({"field": "blockchain", "operator": ">", "value": "base"}, [0, 1]),  # as strings
        ({"field": "to_address", "operator": "in", "value": ["0xa", "0xb", "0xc"]}, [0, 3]),
        ({"field": "value", "operator": "in", "value": ["0", WEI]}, [2, 3]),
        ({"field": "to_address", "operator": "exists", "value": True}, [0, 3]),  # null: absent
        ({"field": "to_address", "operator": "exists", "value": False}, [1, 2]),
        ({"field": "payload.coin", "operator": "=", "value": "ETH"}, [3]),
        ({"op": "AND", "conditions": [
            {"field": "blockchain", "operator": "=", "value": "ethereum"},
            {"field": "value", "operator": ">", "value": WEI}]}, [0]),
        ({"op": "OR", "conditions": [
            {"field": "status", "operator": "=", "value": "pending"},
            {"field": "payload.coin", "operator": "=", "value": "BTC"}]}, [0, 2]),
        ({"op": "AND", "conditions": [
            {"field": "to_address", "operator": "exists", "value": True},
            {"op": "OR", "conditions": [
                {"field": "blockchain", "operator": "=", "value": "base"},
                {"field": "value", "operator": ">", "value": "0"}]}]}, [0, 3]),
    ],
)
def test_set_filter_is_evaluated_on_the_server(
    fake: FakeAllium, sockets: list[Socket], data: dict[str, Any], expected: list[int]
) -> None:
    """Only records passing the filter are sent; number strings compare as numbers."""
    sock = stream(fake, sockets)
    start(fake, sock, set_filter(data))
    assert fake.publish(TXS, RECORDS) == len(expected)
    assert [sock.recv() for _ in expected] == [RECORDS[i] for i in expected]
    assert fake.stream_state(fake.stream_connections()[0]).filter == data


def test_set_filter_while_started_replaces_and_null_clears(fake: FakeAllium,
                                                           sockets: list[Socket]) -> None:
    """A later setFilter replaces the filter at once; data null removes it."""
    sock = stream(fake, sockets)
    start(fake, sock, set_filter({"field": "n", "operator": "=", "value": 1}))
    records = [{"n": 1}, {"n": 2}]
    assert fake.publish(TXS, records) == 1 and sock.recv() == {"n": 1}
    sock.send(set_filter({"field": "n", "operator": "=", "value": 2}))
    fake.wait_for_actions(3)
    assert fake.publish(TXS, records) == 1 and sock.recv() == {"n": 2}
    sock.send(set_filter(None))
    fake.wait_for_actions(4)
    assert fake.publish(TXS, records) == 2


def test_filters_are_per_connection(fake: FakeAllium, sockets: list[Socket]) -> None:
    """Two sockets on one topic each get what their own filter passes."""
    a, b = stream(fake, sockets), stream(fake, sockets)
    start(fake, a, set_filter({"field": "n", "operator": "<", "value": "2"}))
    start(fake, b, set_filter({"field": "n", "operator": ">=", "value": "2"}))
    assert fake.publish(TXS, [{"n": 1}, {"n": 2}]) == 2
    assert a.recv() == {"n": 1} and b.recv() == {"n": 2}


BAD_FILTER = {"field": "n", "operator": "IN", "value": [1]}


def test_invalid_filter_is_ignored_by_default(fake: FakeAllium, sockets: list[Socket]) -> None:
    """A malformed setFilter keeps the previous filter, gets no answer, and is recorded."""
    sock = stream(fake, sockets)
    good = set_filter({"field": "n", "operator": "=", "value": 1})
    start(fake, sock, good, set_filter(BAD_FILTER))
    refused = fake.actions[1]
    assert refused.action == "setFilter" and refused.error is not None
    assert "operator" in refused.error
    assert fake.publish(TXS, [{"n": 1}, {"n": 2}]) == 1
    assert sock.recv() == {"n": 1}


def test_invalid_action_can_answer_an_error_frame(sockets: list[Socket]) -> None:
    """invalid_action='error' answers a bad message with {status: error, data}."""
    with FakeAllium(rate=None, invalid_action="error") as fake:
        sock = stream(fake, sockets)
        sock.send(set_filter(BAD_FILTER))
        reply = sock.recv()
        assert reply["status"] == "error" and "invalid filter" in reply["data"]
        sock.send({"action": "rewind"})
        assert "unknown action" in sock.recv()["data"]
        sock.send("{not json")
        assert sock.recv() == {"status": "error", "data": "not JSON"}


def test_invalid_action_can_close_with_1008(sockets: list[Socket]) -> None:
    """invalid_action='close' closes the stream with 1008 and the reason."""
    with FakeAllium(rate=None, invalid_action="close") as fake:
        sock = stream(fake, sockets)
        sock.send({"no": "action"})
        opcode, frame = sock.ws.recv_data_frame(control_frame=True)
        assert opcode == websocket.ABNF.OPCODE_CLOSE
        assert int.from_bytes(frame.data[:2], "big") == 1008


def test_rate_emits_generated_records(sockets: list[Socket]) -> None:
    """With rate set, a started stream gets about rate records per second of its topic."""
    with FakeAllium(rate=100) as fake:
        sock = stream(fake, sockets)
        start(fake, sock)
        first = sock.recv()
        assert {"hash", "from_address", "to_address", "value", "block_number",
                "blockchain"} <= set(first)
        began, count = time.monotonic(), 0
        while time.monotonic() - began < 0.5:
            sock.recv()
            count += 1
        assert 20 <= count <= 90
        assert fake.records_sent >= count


def test_rate_is_before_the_filter(sockets: list[Socket]) -> None:
    """The filter thins the generated stream: only big transfers arrive."""
    with FakeAllium(rate=200) as fake:
        sock = stream(fake, sockets)
        start(fake, sock, set_filter({"field": "value", "operator": ">", "value": WEI}))
        values = [int(sock.recv()["value"]) for _ in range(5)]
        assert all(value > 10**18 for value in values)


def test_records_per_frame_sends_arrays(sockets: list[Socket]) -> None:
    """records_per_frame=3 sends JSON arrays of up to three records."""
    with FakeAllium(rate=None, records_per_frame=3) as fake:
        sock = stream(fake, sockets)
        start(fake, sock)
        assert fake.publish(TXS, [{"n": i} for i in range(7)]) == 7
        frames = [sock.recv() for _ in range(3)]
        assert frames == [[{"n": 0}, {"n": 1}, {"n": 2}], [{"n": 3}, {"n": 4}, {"n": 5}],
                          [{"n": 6}]]
        assert fake.frames_sent == 3 and fake.records_sent == 7


def test_generated_records_with_batching_arrive_as_arrays(sockets: list[Socket]) -> None:
    """Generated records are batched too."""
    with FakeAllium(rate=200, records_per_frame=50) as fake:
        sock = stream(fake, sockets, "hyperliquid.fills")
        start(fake, sock)
        frame = sock.recv()
        assert isinstance(frame, list) and 1 <= len(frame) <= 50
        assert {"coin", "px", "sz", "side", "time"} <= set(frame[0]["payload"])


def test_topic_shapes_and_seeded_repeatability() -> None:
    """Documented topics have their shapes; the same seed gives the same records."""
    one, two = FakeAllium(seed=7), FakeAllium(seed=7)
    for topic in ("ethereum.blocks", "ethereum.transactions", "ethereum.logs",
                  "base.dex_trades", "solana.transactions", "hyperliquid.fills",
                  "bitcoin.blocks", "somechain.widgets"):
        assert one.next_record(topic) == two.next_record(topic)
    assert one.next_record("ethereum.blocks")["number"] == 18_500_002
    assert one.next_record("base.dex_trades")["blockchain"] == "base"
    assert set(one.next_record("hyperliquid.blocks")["payload"]) == {
        "height", "blockTime", "hash", "proposer", "numTxs"}
    generic = one.next_record("somechain.widgets")
    assert set(generic) == {"topic", "sequence", "timestamp", "value"}
    assert generic["sequence"] == 2


# Faults ---------------------------------------------------------------------------------------


def test_drop_cuts_a_stream_without_a_close_frame(fake: FakeAllium,
                                                  sockets: list[Socket]) -> None:
    """drop() ends the stream with no close frame: the client sees the socket end."""
    sock = stream(fake, sockets)
    start(fake, sock)
    fake.stream_connections()[0].drop()
    with pytest.raises((websocket.WebSocketConnectionClosedException, ConnectionError)):
        sock.ws.recv()


def test_close_code_reaches_the_stream_client(fake: FakeAllium, sockets: list[Socket]) -> None:
    """close(code, reason) sends that close frame to the client."""
    sock = stream(fake, sockets)
    start(fake, sock)
    fake.stream_connections()[0].close(1011, "upstream gone")
    opcode, frame = sock.ws.recv_data_frame(control_frame=True)
    assert opcode == websocket.ABNF.OPCODE_CLOSE
    assert int.from_bytes(frame.data[:2], "big") == 1011
    assert frame.data[2:] == b"upstream gone"


def test_silence_stops_records_until_resume(fake: FakeAllium, sockets: list[Socket]) -> None:
    """A silent connection gets nothing and nothing is counted; resume brings records back."""
    sock = stream(fake, sockets)
    start(fake, sock)
    conn = fake.stream_connections()[0]
    conn.go_silent()
    assert fake.publish(TXS, {"n": 1}) == 0
    assert sock.nothing_within()
    conn.resume()
    assert fake.publish(TXS, {"n": 2}) == 1
    assert sock.recv() == {"n": 2}


def test_api_replies_on_a_dropped_connection_are_discarded(sockets: list[Socket]) -> None:
    """A reply due after its connection dropped goes nowhere; the fake keeps serving."""
    with FakeAllium(latency=0.1, rate=None) as fake:
        sock = api(fake, sockets)
        sock.send(request("lost", "GET", "/api/v1/supported-chains/realtime-apis/simple"))
        fake.wait_for_api_requests(1)
        fake.api_connections()[0].drop()
        fresh = api(fake, sockets)
        fresh.send(request("kept", "GET", "/api/v1/supported-chains/realtime-apis/simple"))
        assert fresh.recv()["id"] == "kept"
        assert fake.handler_errors == []
