"""FakeHyperliquid against a bare websocket-client socket: the
docs/venues/hyperliquid.rst#hyperliquid-fake checklist of the notes."""

from __future__ import annotations

import base64
import json
import time
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
import websocket

from tests.conftest import T
from wsclients.testing.hyperliquid import GREETING, FakeHyperliquid, PostError

USER = "0xb7b6f3cea3f66bf525f5d8f965f6dbf6d9b017b2"
PARSE = "Error parsing JSON into valid websocket request: "


class Raw:
    """A plain socket to the fake: send dicts, read decoded frames."""

    def __init__(self, url: str) -> None:
        self.ws = websocket.create_connection(url, timeout=2 * T)

    def send(self, frame: Any) -> None:
        self.ws.send(frame if isinstance(frame, str) else json.dumps(frame))

    def recv(self) -> Any:
        text = self.ws.recv()
        try:
            return json.loads(text)
        except ValueError:
            return text

    def sub(self, subscription: dict[str, Any]) -> Any:
        self.send({"method": "subscribe", "subscription": subscription})
        return self.recv()

    def close(self) -> None:
        self.ws.close()


@pytest.fixture
def fake() -> Iterator[FakeHyperliquid]:
    with FakeHyperliquid() as server:
        yield server


@pytest.fixture
def raw(fake: FakeHyperliquid) -> Iterator[Raw]:
    client = Raw(fake.url)
    yield client
    client.close()


def ack(subscription: dict[str, Any], method: str = "subscribe") -> dict[str, Any]:
    return {"channel": "subscriptionResponse",
            "data": {"method": method, "subscription": subscription}}


def test_ping_pong(raw: Raw) -> None:
    """{"method":"ping"} → {"channel":"pong"} with no data key."""
    raw.send({"method": "ping"})
    assert raw.recv() == {"channel": "pong"}


def test_l2book_ack_is_normalized_then_snapshot(raw: Raw) -> None:
    """The ack echoes defaults (docs/venues/hyperliquid.rst#hyperliquid-envelope), then a 20-level
    snapshot follows."""
    assert raw.sub({"type": "l2Book", "coin": "BTC"}) == ack(
        {"type": "l2Book", "coin": "BTC", "nSigFigs": None, "mantissa": None, "fast": False})
    frame = raw.recv()
    assert frame["channel"] == "l2Book" and frame["data"]["coin"] == "BTC"
    bids, asks = frame["data"]["levels"]
    assert 1 <= len(bids) <= 20 and 1 <= len(asks) <= 20
    assert float(bids[0]["px"]) < float(asks[0]["px"])
    assert set(bids[0]) == {"px", "sz", "n"}


def test_fast_book_has_five_levels(raw: Raw) -> None:
    """fast: 5 levels and the fast flag."""
    raw.sub({"type": "l2Book", "coin": "ETH", "fast": True})
    data = raw.recv()["data"]
    assert data["fast"] is True and len(data["levels"][0]) == 5


def test_candle_echo_key_order(raw: Raw) -> None:
    """The candle echo puts interval before coin, as the server's struct does."""
    raw.send('{"method":"subscribe","subscription":{"type":"candle","coin":"SOL",'
             '"interval":"1m"}}')
    text = raw.ws.recv()
    assert '"subscription":{"type":"candle","interval":"1m","coin":"SOL"}' in text


def test_trades_backfill(fake: FakeHyperliquid, raw: Raw) -> None:
    """Recent trades follow the ack of a trades subscription
    (docs/venues/hyperliquid.rst#hyperliquid-subscriptions)."""
    for i in range(3):
        fake.publish_trade("SOL", f"150.{i}", "1")
    raw.sub({"type": "trades", "coin": "SOL"})
    frame = raw.recv()
    assert frame["channel"] == "trades" and [t["px"] for t in frame["data"]] == [
        "150.0", "150.1", "150.2"]
    trade = fake.publish_trade("SOL", "151", "2", side="A")
    assert raw.recv() == {"channel": "trades", "data": [trade]}


def test_backfill_is_bounded() -> None:
    """Only the last trades_backfill trades are re-sent."""
    with FakeHyperliquid(trades_backfill=2) as fake:
        for i in range(5):
            fake.publish_trade("BTC", str(i), "1")
        raw = Raw(fake.url)
        raw.sub({"type": "trades", "coin": "BTC"})
        assert [t["px"] for t in raw.recv()["data"]] == ["3", "4"]
        raw.close()


def test_user_snapshots(fake: FakeHyperliquid, raw: Raw) -> None:
    """User streams start with isSnapshot:true; orderUpdates/userEvents send nothing."""
    fill = fake.publish_fill(USER, coin="ETH")
    raw.sub({"type": "userEvents", "user": USER})
    raw.sub({"type": "orderUpdates", "user": USER})
    raw.sub({"type": "userFills", "user": USER})
    frame = raw.recv()
    assert frame == {"channel": "userFills",
                     "data": {"isSnapshot": True, "user": USER, "fills": [fill]}}
    for kind, key in (("userFundings", "fundings"),
                      ("userNonFundingLedgerUpdates", "nonFundingLedgerUpdates"),
                      ("userTwapSliceFills", "twapSliceFills"), ("userTwapHistory", "history")):
        raw.sub({"type": kind, "user": USER})
        frame = raw.recv()
        assert frame["channel"] == kind and frame["data"]["isSnapshot"] is True
        assert frame["data"][key] == []
    new = fake.publish_fill(USER, coin="BTC")
    assert raw.recv() == {"channel": "userFills", "data": {"user": USER, "fills": [new]}}
    assert raw.recv() == {"channel": "user", "data": {"fills": [new]}}


def test_channels_for_user_events_and_spot_ctx(fake: FakeHyperliquid, raw: Raw) -> None:
    """userEvents arrives on 'user'; a spot activeAssetCtx on 'activeSpotAssetCtx'."""
    raw.sub({"type": "activeAssetCtx", "coin": "@107"})
    assert raw.recv()["channel"] == "activeSpotAssetCtx"
    raw.sub({"type": "activeAssetCtx", "coin": "BTC"})
    frame = raw.recv()
    assert frame["channel"] == "activeAssetCtx" and "funding" in frame["data"]["ctx"]
    raw.sub({"type": "userEvents", "user": USER})
    assert fake.publish({"type": "userEvents", "user": USER}, {"funding": {"coin": "BTC"}}) == 1
    assert raw.recv() == {"channel": "user", "data": {"funding": {"coin": "BTC"}}}


@pytest.mark.parametrize("sub, channel", [
    ({"type": "allMids"}, "allMids"),
    ({"type": "webData3", "user": USER}, "webData3"),
    ({"type": "twapStates", "user": USER}, "twapStates"),
    ({"type": "clearinghouseState", "user": USER}, "clearinghouseState"),
    ({"type": "openOrders", "user": USER}, "openOrders"),
    ({"type": "activeAssetData", "user": USER, "coin": "BTC"}, "activeAssetData"),
    ({"type": "spotState", "user": USER}, "spotState"),
    ({"type": "allDexsClearinghouseState", "user": USER}, "allDexsClearinghouseState"),
    ({"type": "allDexsAssetCtxs"}, "allDexsAssetCtxs"),
    ({"type": "bbo", "coin": "BTC"}, "bbo"),
])
def test_full_state_types(raw: Raw, sub: dict[str, Any], channel: str) -> None:
    """Types with a full state send it right after the ack."""
    assert raw.sub(sub)["channel"] == "subscriptionResponse"
    assert raw.recv()["channel"] == channel


def test_fast_asset_ctxs_is_deflated(fake: FakeHyperliquid, raw: Raw) -> None:
    """fastAssetCtxs data is base64 raw DEFLATE of JSON, snapshot then deltas."""
    raw.sub({"type": "fastAssetCtxs"})
    data = raw.recv()["data"]
    decoded = json.loads(zlib.decompress(base64.b64decode(data), wbits=-15))
    assert set(decoded) >= {"BTC", "ETH", "SOL"}
    fake.tick()
    frames = [raw.recv() for _ in range(1)]
    delta = json.loads(zlib.decompress(base64.b64decode(frames[0]["data"]), wbits=-15))
    assert len(delta) == 1


def test_set_state_overrides(fake: FakeHyperliquid, raw: Raw) -> None:
    """set_state chooses what follows an ack (None: nothing)."""
    fake.set_state({"type": "openOrders", "user": USER}, {"user": USER, "orders": [1]})
    raw.sub({"type": "openOrders", "user": USER})
    assert raw.recv()["data"]["orders"] == [1]


# --------------------------------------------------------------------------- errors


def test_duplicate_and_unknown_unsubscribe(raw: Raw) -> None:
    """'Already subscribed: …' / 'Already unsubscribed: …' with the normalized JSON."""
    raw.sub({"type": "trades", "coin": "ETH"})
    raw.send({"method": "subscribe", "subscription": {"type": "trades", "coin": "ETH"}})
    assert raw.recv() == {"channel": "error",
                          "data": 'Already subscribed: {"type":"trades","coin":"ETH"}'}
    raw.send({"method": "unsubscribe", "subscription": {"type": "trades", "coin": "ETH"}})
    assert raw.recv() == ack({"type": "trades", "coin": "ETH"}, "unsubscribe")
    raw.send({"method": "unsubscribe", "subscription": {"type": "l2Book", "coin": "ETH"}})
    assert raw.recv() == {"channel": "error", "data": 'Already unsubscribed: {"type":"l2Book",'
                          '"coin":"ETH","nSigFigs":null,"mantissa":null,"fast":false}'}


@pytest.mark.parametrize("frame", [
    "hello",
    '{"method":"dance"}',
    '{"method":"subscribe"}',
    '{"method":"subscribe","subscription":{"type":"bbo","coin":["BTC","ETH"]}}',
    '{"method":"subscribe","subscription":{"type":"webData2x","user":"0x1"}}',
    '{"method":"subscribe","subscription":{"type":"candle","coin":"BTC","interval":"2m"}}',
    '{"method":"post","request":{"type":"info","payload":{"type":"l2Book","coin":"BTC"}}}',
    '{"method":"post","id":1,"request":{"type":"info","payload":{"type":"nope"}}}',
])
def test_parse_errors_keep_socket_open(raw: Raw, frame: str) -> None:
    """Unreadable requests get the parse-error string with the frame; the socket stays."""
    raw.send(frame)
    assert raw.recv() == {"channel": "error", "data": PARSE + frame}
    raw.send({"method": "ping"})
    assert raw.recv() == {"channel": "pong"}


@pytest.mark.parametrize("sub", [
    {"type": "trades", "coin": "NOPE"},
    {"type": "trades", "coin": "btc"},
    {"type": "l2Book", "coin": "BTC", "nSigFigs": 6},
    {"type": "l2Book", "coin": "BTC", "mantissa": 2},
])
def test_invalid_subscription_drops_socket(fake: FakeHyperliquid, sub: dict[str, Any]) -> None:
    """docs/venues/hyperliquid.rst#hyperliquid-errors: an invalid coin or parameter cuts the socket
    with no message, no close frame."""
    raw = Raw(fake.url)
    raw.send({"method": "subscribe", "subscription": sub})
    with pytest.raises(websocket.WebSocketConnectionClosedException):
        raw.recv()
    raw.close()


def test_invalid_subscription_error_variant() -> None:
    """invalid_subscription='error' answers as OBS does."""
    with FakeHyperliquid(invalid_subscription="error") as fake:
        raw = Raw(fake.url)
        raw.send({"method": "subscribe", "subscription": {"type": "bbo", "coin": "NOPE"}})
        assert raw.recv() == {"channel": "error",
                              "data": 'Invalid subscription: {"type":"bbo","coin":"NOPE"}'}
        raw.close()


def test_subscription_limit() -> None:
    """More than max_subscriptions → 'Cannot subscribe to more than N channels.'"""
    with FakeHyperliquid(max_subscriptions=2) as fake:
        raw = Raw(fake.url)
        raw.sub({"type": "allMids"})
        raw.recv()
        raw.sub({"type": "trades", "coin": "BTC"})
        assert raw.sub({"type": "trades", "coin": "ETH"}) == {
            "channel": "error", "data": "Cannot subscribe to more than 2 channels."}
        raw.close()


def test_user_limit() -> None:
    """More distinct users than max_users → 'Cannot track more than N total users.'"""
    other = "0x" + "a" * 40
    with FakeHyperliquid(max_users=1) as fake:
        raw = Raw(fake.url)
        raw.sub({"type": "orderUpdates", "user": USER})
        raw.sub({"type": "userEvents", "user": USER})  # same user: fine
        assert raw.sub({"type": "orderUpdates", "user": other}) == {
            "channel": "error", "data": "Cannot track more than 1 total users."}
        raw.close()


def test_message_rate_limit() -> None:
    """Over max_messages_per_minute → 'Cannot send more than N messages per minute.'"""
    with FakeHyperliquid(max_messages_per_minute=2) as fake:
        raw = Raw(fake.url)
        for _ in range(2):
            raw.send({"method": "ping"})
            assert raw.recv() == {"channel": "pong"}
        raw.send({"method": "ping"})
        assert raw.recv() == {"channel": "error",
                              "data": "Cannot send more than 2 messages per minute."}
        raw.close()


# --------------------------------------------------------------------------- posts


def test_post_info(raw: Raw) -> None:
    """Info posts echo the id and the request type; an unknown coin gives data null."""
    raw.send({"method": "post", "id": 7,
              "request": {"type": "info", "payload": {"type": "l2Book", "coin": "NOPE"}}})
    assert raw.recv() == {"channel": "post", "data": {"id": 7, "response": {
        "type": "info", "payload": {"type": "l2Book", "data": None}}}}
    raw.send({"method": "post", "id": 8,
              "request": {"type": "info", "payload": {"type": "l2Book", "coin": "BTC"}}})
    reply = raw.recv()["data"]
    assert reply["id"] == 8 and reply["response"]["payload"]["data"]["coin"] == "BTC"


def test_post_action_and_error_handler(fake: FakeHyperliquid, raw: Raw) -> None:
    """Unsigned actions are refused inside an action answer; PostError → type error."""
    raw.send({"method": "post", "id": 1, "request": {"type": "action", "payload": {}}})
    assert raw.recv()["data"]["response"] == {"type": "action", "payload": {
        "status": "err", "response": "Unable to recover signer."}}

    def broken(payload: dict[str, Any]) -> Any:
        raise PostError("500 Internal Server Error")

    fake.info_handlers["meta"] = broken
    raw.send({"method": "post", "id": 2, "request": {"type": "info", "payload": {"type": "meta"}}})
    assert raw.recv()["data"] == {"id": 2, "response": {
        "type": "error", "payload": "500 Internal Server Error"}}


def test_inflight_post_limit() -> None:
    """Held posts count as in flight; one more → 'too many pending post requests id=N'."""
    with FakeHyperliquid(max_inflight_posts=2) as fake:
        fake.hold_posts()
        raw = Raw(fake.url)
        for request_id in (1, 2, 3):
            raw.send({"method": "post", "id": request_id, "request": {
                "type": "info", "payload": {"type": "allMids"}}})
        assert raw.recv() == {"channel": "error", "data": "too many pending post requests id=3"}
        assert fake.release_posts() == 2
        assert [raw.recv()["data"]["id"] for _ in range(2)] == [1, 2]
        raw.close()


# --------------------------------------------------------------------------- idle, greeting


def test_idle_close_without_close_frame() -> None:
    """No server→client frame for idle_timeout → the socket is cut with no close frame."""
    with FakeHyperliquid(idle_timeout=0.2) as fake:
        raw = Raw(fake.url)
        started = time.monotonic()
        with pytest.raises(websocket.WebSocketConnectionClosedException):
            raw.ws.recv()
        assert 0.15 <= time.monotonic() - started < 2 * T
        raw.close()


def test_pongs_keep_the_socket_open() -> None:
    """Pings answered by pongs count as server traffic
    (docs/venues/hyperliquid.rst#hyperliquid-heartbeat)."""
    with FakeHyperliquid(idle_timeout=0.3) as fake:
        raw = Raw(fake.url)
        for _ in range(6):
            raw.send({"method": "ping"})
            assert raw.recv() == {"channel": "pong"}
            time.sleep(0.1)
        assert fake.connections[0].is_open
        raw.close()


def test_greeting() -> None:
    """The legacy greeting is sent first when asked for."""
    with FakeHyperliquid(greeting=True) as fake:
        raw = Raw(fake.url)
        assert raw.recv() == GREETING
        raw.close()


def test_streaming_market() -> None:
    """With stream=True the fake prints trades and books on its own."""
    with FakeHyperliquid(stream=True, rate=200) as fake:
        raw = Raw(fake.url)
        raw.sub({"type": "trades", "coin": "BTC"})
        raw.sub({"type": "l2Book", "coin": "BTC"})
        channels: set[str] = set()
        deadline = time.monotonic() + 3 * T
        while channels != {"trades", "l2Book"} and \
                time.monotonic() < deadline:
            channels.add(raw.recv()["channel"])
        assert {"trades", "l2Book"} <= channels
        fake.stop_streaming()
        raw.close()


def test_publish_book_and_bbo_on_change(fake: FakeHyperliquid, raw: Raw) -> None:
    """A scripted book goes to l2Book; bbo only when the top changed."""
    raw.sub({"type": "bbo", "coin": "SOL"})
    raw.recv()
    raw.sub({"type": "l2Book", "coin": "SOL"})
    raw.recv()
    fake.publish_book("SOL", [("149.9", "2", 1)], [("150.1", "3", 2)])
    book = raw.recv()
    assert book["channel"] == "l2Book" and book["data"]["levels"] == [
        [{"px": "149.9", "sz": "2", "n": 1}], [{"px": "150.1", "sz": "3", "n": 2}]]
    assert raw.recv()["channel"] == "bbo"
    fake.publish_book("SOL", [("149.9", "2", 1)], [("150.1", "3", 2)])
    assert raw.recv()["channel"] == "l2Book"
    raw.send({"method": "ping"})
    assert raw.recv() == {"channel": "pong"}  # no second bbo: unchanged


def test_candles_follow_trades(fake: FakeHyperliquid, raw: Raw) -> None:
    """Trades fold into the candle of each subscribed interval."""
    raw.sub({"type": "candle", "coin": "ETH", "interval": "1m"})
    fake.publish_trade("ETH", "10", "1", time_ms=120_000)
    fake.publish_trade("ETH", "12", "2", time_ms=120_500)
    raw.recv()
    candle = raw.recv()["data"]
    assert candle == {"t": 120_000, "T": 179_999, "s": "ETH", "i": "1m", "o": "10", "c": "12",
                      "h": "12", "l": "10", "v": "3", "n": 2}


# --------------------------------------------------------------------------- fidelity options


def test_webdata2_gets_the_parse_error(raw: Raw) -> None:
    """Mainnet no longer serves webData2: the parse error echoes the request
    (docs/venues/hyperliquid.rst#hyperliquid-subscriptions)."""
    text = json.dumps({"method": "subscribe", "subscription": {"type": "webData2", "user": USER}})
    raw.send(text)
    assert raw.recv() == {"channel": "error", "data": PARSE + text}


@pytest.mark.parametrize("after_ack", [True, False])
def test_bbo_after_ack_is_an_option(after_ack: bool) -> None:
    """bbo_after_ack=False: the ack, then nothing until the top of the book changes."""
    with FakeHyperliquid(bbo_after_ack=after_ack) as fake:
        raw = Raw(fake.url)
        raw.sub({"type": "bbo", "coin": "SOL"})
        raw.send({"method": "ping"})
        first = raw.recv()
        assert (first["channel"] == "bbo") is after_ack
        raw.close()


@pytest.mark.parametrize("again", [True, False])
def test_backfill_on_resubscribe_is_an_option(fake: FakeHyperliquid, again: bool) -> None:
    """backfill_on_resubscribe=False: only the first trades subscribe of a coin gets it."""
    fake.backfill_on_resubscribe = again
    fake.publish_trade("SOL", "150.0", "1")
    for attempt in range(2):
        raw = Raw(fake.url)
        raw.sub({"type": "trades", "coin": "SOL"})
        raw.send({"method": "ping"})
        first = raw.recv()
        assert (first["channel"] == "trades") is (attempt == 0 or again)
        raw.close()


def test_spot_active_asset_data_options() -> None:
    """activeAssetData on a spot coin: dropped like an invalid parameter (assumption) or
    acked with nothing after it."""
    sub = {"type": "activeAssetData", "user": USER, "coin": "PURR/USDC"}
    with FakeHyperliquid() as fake:
        raw = Raw(fake.url)
        raw.send({"method": "subscribe", "subscription": sub})
        with pytest.raises(websocket.WebSocketConnectionClosedException):
            raw.recv()
        raw.close()
    with FakeHyperliquid(spot_active_asset_data="ack") as fake:
        raw = Raw(fake.url)
        assert raw.sub(sub)["channel"] == "subscriptionResponse"
        raw.send({"method": "ping"})
        assert raw.recv() == {"channel": "pong"}
        raw.close()


def test_message_window_is_configurable() -> None:
    """The message limit counts over message_window seconds, then frees up."""
    with FakeHyperliquid(max_messages_per_minute=1, message_window=0.3 * T) as fake:
        raw = Raw(fake.url)
        raw.send({"method": "ping"})
        assert raw.recv() == {"channel": "pong"}
        raw.send({"method": "ping"})
        assert raw.recv()["data"] == "Cannot send more than 1 messages per minute."
        time.sleep(0.4 * T)
        raw.send({"method": "ping"})
        assert raw.recv() == {"channel": "pong"}
        raw.close()


def test_connection_limits_refuse_the_upgrade() -> None:
    """max_connections and max_new_connections_per_minute answer the upgrade with 429."""
    with FakeHyperliquid(max_connections=1) as fake:
        first = Raw(fake.url)
        with pytest.raises(websocket.WebSocketBadStatusException) as refused:
            Raw(fake.url)
        assert refused.value.status_code == 429
        first.close()
        fake.wait_for_connections(1)
        until_closed = time.monotonic() + 2 * T
        while fake.live_connections and time.monotonic() < until_closed:
            time.sleep(0.01)
        Raw(fake.url).close()
    with FakeHyperliquid(max_new_connections_per_minute=2, connection_window=0.5 * T) as fake:
        Raw(fake.url).close()
        Raw(fake.url).close()
        with pytest.raises(websocket.WebSocketBadStatusException):
            Raw(fake.url)
        time.sleep(0.6 * T)
        Raw(fake.url).close()
