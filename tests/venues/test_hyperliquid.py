"""HyperliquidProtocol: frames in, events and frames out. No socket, thread or clock."""

from __future__ import annotations

import base64
import json
import zlib
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from wsclients.core.protocol import Reply, VenueProtocol
from wsclients.errors import (
    ProtocolViolation,
    RequestFailed,
    SubscriptionRejected,
    TooManyInFlight,
)
from wsclients.models import Book, BookLevel, ErrorEvent, Event, Message, Side, Trade
from wsclients.venues.hyperliquid import (
    CANDLE_INTERVALS,
    HyperliquidProtocol,
    subscription_key,
    validate_subscription,
)
from wsclients.venues.hyperliquid.limits import ConnectionBudget, MessageBudget

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "hyperliquid"
USER = "0xb7b6f3cea3f66bf525f5d8f965f6dbf6d9b017b2"
MS = 1_000_000
# Types whose every push is their whole state (the README's rule: a push that replaces state
# is a snapshot).
FULL_STATE = {
    "allMids", "webData3", "twapStates", "clearinghouseState", "openOrders", "spotState",
    "allDexsClearinghouseState", "allDexsAssetCtxs", "activeAssetCtx", "activeAssetData",
}


def lines(name: str) -> list[str]:
    return [line for line in (FIXTURES / name).read_text().splitlines() if line.strip()]


def feed(protocol: HyperliquidProtocol, *frames: str | bytes, received_ns: int = 7) -> list[Event]:
    for frame in frames:
        protocol.receive_text(frame, received_ns=received_ns)
    return protocol.take_events()


def errors(events: list[Event]) -> list[ErrorEvent]:
    return [e for e in events if isinstance(e, ErrorEvent)]


class Sink:
    """Posts ``known`` ids on a protocol (as ``Connection.request`` would), then reads the
    replies it gives for them."""

    def __init__(self, known: set[int]) -> None:
        self.known = known
        self._replies: list[Reply] = []
        self._protocol = HyperliquidProtocol()

    def attach(self, protocol: HyperliquidProtocol) -> HyperliquidProtocol:
        for request_id in self.known:
            protocol.post(request_id, {"type": "info", "payload": {}})
        protocol.take_frames()
        self._protocol = protocol
        return protocol

    def _take(self) -> list[Reply]:
        self._replies += self._protocol.take_replies()
        return self._replies

    @property
    def resolved(self) -> dict[int, Any]:
        return {int(r.request_id): r.result for r in self._take() if r.error is None}  # type: ignore[call-overload]

    @property
    def rejected(self) -> dict[int, BaseException]:
        return {int(r.request_id): r.error for r in self._take() if r.error is not None}  # type: ignore[call-overload]


def trade_frame(*trades: tuple[int, int], coin: str = "BTC") -> str:
    return json.dumps({"channel": "trades", "data": [
        {"coin": coin, "side": "B", "px": "100.5", "sz": "1", "time": t, "hash": "0x0",
         "tid": tid, "users": ["0x1", "0x2"]} for t, tid in trades
    ]})


def ack(subscription: dict[str, Any], method: str = "subscribe") -> str:
    return json.dumps({"channel": "subscriptionResponse",
                       "data": {"method": method, "subscription": subscription}})


def error(text: str) -> str:
    return json.dumps({"channel": "error", "data": text})


def test_satisfies_venue_protocol() -> None:
    """The class has every hook a Connection needs."""
    protocol: VenueProtocol = HyperliquidProtocol()
    assert protocol.close_request is None


# --------------------------------------------------------------------------- fixtures


def test_trades_fixture() -> None:
    """A real trades frame becomes a Trade: aggressor side from A, id from (time, tid)."""
    (trade,) = feed(HyperliquidProtocol(), *lines("trades.jsonl"))
    assert isinstance(trade, Trade)
    assert trade.symbol == "BTC"
    assert trade.price == Decimal("106296.0") and trade.size == Decimal("0.00017")
    assert trade.side is Side.SELL
    assert trade.trade_id == "1751430933565:293353986402527"
    assert trade.timestamp_ns == 1751430933565 * MS
    assert trade.received_ns == 7 and trade.venue == "hyperliquid"
    assert trade.raw["hash"].startswith("0xde93")


def test_buy_side() -> None:
    """'B' is a buying aggressor."""
    (trade,) = feed(HyperliquidProtocol(), trade_frame((1, 1)))
    assert isinstance(trade, Trade) and trade.side is Side.BUY


def test_l2book_fixture() -> None:
    """Every l2Book frame is a full snapshot, best levels first, with order counts."""
    (book,) = feed(HyperliquidProtocol(), *lines("l2book.jsonl"))
    assert isinstance(book, Book) and book.is_snapshot
    assert book.symbol == "BTC" and book.timestamp_ns == 1790232236546 * MS
    assert book.bids[0] == BookLevel(Decimal("84143.0"), Decimal("10.25923"), 36)
    assert book.asks[-1] == BookLevel(Decimal("84151.0"), Decimal("0.01782"), 1)
    assert len(book.bids) == len(book.asks) == 3
    assert book.spread == Decimal("1.0")


def test_l2book_delisted_is_empty() -> None:
    """A delisted coin sends empty sides (docs/venues/hyperliquid.rst#hyperliquid-subscriptions)."""
    frame = json.dumps({"channel": "l2Book",
                        "data": {"coin": "MATIC", "time": 1, "levels": [[], []]}})
    (book,) = feed(HyperliquidProtocol(), frame)
    assert isinstance(book, Book) and book.bids == () and book.asks == () and book.mid is None


def test_bbo_fixture() -> None:
    """bbo becomes a one-level Book snapshot."""
    (book,) = feed(HyperliquidProtocol(), *lines("bbo.jsonl"))
    assert isinstance(book, Book) and book.is_snapshot and book.symbol == "ETH"
    assert book.best_bid == BookLevel(Decimal("1831.8"), Decimal("32.2471"), 4)
    assert book.best_ask == BookLevel(Decimal("1831.9"), Decimal("229.0857"), 24)


def test_bbo_null_side() -> None:
    """A null side of the bbo is an empty side."""
    frame = json.dumps({"channel": "bbo", "data": {
        "coin": "ETH", "time": 5, "bbo": [None, {"px": "2", "sz": "3", "n": 1}]}})
    (book,) = feed(HyperliquidProtocol(), frame)
    assert isinstance(book, Book) and book.bids == () and book.best_ask is not None


def test_candle_fixture() -> None:
    """A candle is a Message on channel candle, keyed by its coin."""
    (msg,) = feed(HyperliquidProtocol(), *lines("candle.jsonl"))
    assert isinstance(msg, Message) and msg.channel == "candle" and msg.symbol == "BTC"
    assert msg.data["o"] == "84143.0" and msg.data["n"] == 114 and not msg.is_snapshot


def test_allmids_fixture() -> None:
    """allMids frames, with and without a builder dex."""
    first, second = feed(HyperliquidProtocol(), *lines("allmids.jsonl"))
    assert isinstance(first, Message) and first.channel == "allMids"
    assert first.data["mids"]["@107"] == "69.408" and first.symbol is None
    assert isinstance(second, Message) and second.symbol == "xyz"


def test_user_channel_is_user_events() -> None:
    """Frames on channel 'user' are delivered as the userEvents the user subscribed to."""
    (msg,) = feed(HyperliquidProtocol(), *lines("user_events.jsonl"))
    assert isinstance(msg, Message) and msg.channel == "userEvents"
    assert msg.data["fills"][0]["tid"] == 462732459646712


def test_fast_asset_ctxs_decoded() -> None:
    """fastAssetCtxs: base64 raw DEFLATE → JSON; the first frame after subscribing is a
    snapshot, later ones are deltas."""
    protocol = HyperliquidProtocol()
    protocol.subscribe_message({"type": "fastAssetCtxs"})
    frame = lines("fast_asset_ctxs.jsonl")[0]
    first, second = feed(protocol, frame, frame)
    assert isinstance(first, Message) and isinstance(second, Message)
    assert first.data == {"BTC": {"markPx": "97500.5"}, "ETH": {"markPx": "3650.25"},
                          "xyz:NVDA": {"markPx": "145.2"}}
    assert first.is_snapshot and not second.is_snapshot
    protocol.on_open()  # a new socket: the restore brings a new snapshot
    protocol.subscribe_message({"type": "fastAssetCtxs"})
    (third,) = feed(protocol, frame)
    assert isinstance(third, Message) and third.is_snapshot


def test_fast_asset_ctxs_garbage() -> None:
    """A payload that is not base64 DEFLATE is reported and the stream goes on."""
    protocol = HyperliquidProtocol()
    events = feed(protocol, json.dumps({"channel": "fastAssetCtxs", "data": "!!notbase64"}),
                  json.dumps({"channel": "fastAssetCtxs", "data": 5}),
                  *lines("trades.jsonl"))
    assert len(errors(events)) == 2 and isinstance(events[-1], Trade)


@pytest.mark.parametrize("line", lines("shapes.jsonl"))
def test_every_channel_shape(line: str) -> None:
    """Every documented channel becomes a Message on the subscribed type's name."""
    frame = json.loads(line)
    (msg,) = feed(HyperliquidProtocol(), line)
    assert isinstance(msg, Message), msg
    expected = {"user": "userEvents", "activeSpotAssetCtx": "activeAssetCtx"}.get(
        frame["channel"], frame["channel"])
    assert msg.channel == expected
    assert msg.data == frame["data"] and msg.raw == frame
    data = frame["data"]
    replaces_state = expected in FULL_STATE or (
        isinstance(data, dict) and data.get("isSnapshot") is True)
    assert msg.is_snapshot == replaces_state
    if isinstance(data, dict) and "coin" in data:
        assert msg.symbol == data["coin"]
    elif isinstance(data, dict) and "user" in data:
        assert msg.symbol == USER


def test_is_snapshot_false_explicit() -> None:
    """isSnapshot:false (the docs' form) and a missing key both mean an update."""
    frame = {"channel": "userFills", "data": {"isSnapshot": False, "user": USER, "fills": []}}
    (msg,) = feed(HyperliquidProtocol(), json.dumps(frame))
    assert isinstance(msg, Message) and not msg.is_snapshot


# --------------------------------------------------------------------------- control frames


def test_control_fixture() -> None:
    """Ack, pong, the two TP-A error strings and a post reply with no post owner."""
    protocol = HyperliquidProtocol()
    protocol.subscribe_message({"type": "trades", "coin": "SOL"})
    protocol.subscribe_message({"type": "l2Book", "coin": "SOL"})
    protocol.subscribe_message({"type": "bbo", "coin": "BTC"})
    ack_line, pong, already, parse, post = lines("control.jsonl")
    assert feed(protocol, ack_line, pong) == []
    assert protocol.is_live({"type": "trades", "coin": "SOL"})
    # "Already subscribed" for a subscription we track: it is live, not an error.
    assert feed(protocol, already) == []
    assert protocol.is_live({"type": "l2Book", "coin": "SOL"})
    (err,) = feed(protocol, parse)
    assert isinstance(err, ErrorEvent) and not err.fatal and err.code == "parse_error"
    assert err.message.startswith("Error parsing JSON into valid websocket request: ")
    (msg,) = feed(protocol, post)
    assert isinstance(msg, Message) and msg.channel == "post" and msg.data["id"] == 7


def test_ack_matches_by_subset() -> None:
    """The server echoes defaults (nulls, false): the ack still marks our subscription live,
    and a different nSigFigs is not mistaken for ours."""
    protocol = HyperliquidProtocol()
    plain = {"type": "l2Book", "coin": "BTC"}
    coarse = {"type": "l2Book", "coin": "BTC", "nSigFigs": 3}
    protocol.subscribe_message(plain)
    protocol.subscribe_message(coarse)
    feed(protocol, ack({"type": "l2Book", "coin": "BTC", "nSigFigs": 3, "mantissa": None,
                        "fast": False}))
    assert protocol.is_live(coarse) and not protocol.is_live(plain)
    feed(protocol, ack({"type": "l2Book", "coin": "BTC", "nSigFigs": None, "mantissa": None,
                        "fast": False}))
    assert protocol.is_live(plain)
    assert protocol.subscriptions() == {subscription_key(plain): True,
                                        subscription_key(coarse): True}


def test_ack_with_renamed_field_and_case() -> None:
    """spotState's flag is echoed under another name; addresses compare case-insensitively."""
    protocol = HyperliquidProtocol()
    sub = {"type": "spotState", "user": USER.upper().replace("0X", "0x"),
           "isPortfolioMargin": True}
    protocol.subscribe_message(sub)
    feed(protocol, ack({"type": "spotState", "user": USER, "ignorePortfolioMargin": True}))
    assert protocol.is_live(sub)


def test_ack_candle_key_order() -> None:
    """Echo key order follows the server's struct; order does not matter."""
    protocol = HyperliquidProtocol()
    sub = {"type": "candle", "coin": "UNI", "interval": "30m"}
    protocol.subscribe_message(sub)
    feed(protocol, '{"channel":"subscriptionResponse","data":{"method":"subscribe",'
                   '"subscription":{"type":"candle","interval":"30m","coin":"UNI"}}}')
    assert protocol.is_live(sub)


def test_unsubscribe_ack_and_reopen() -> None:
    """An unsubscribe ack is quiet; a new socket makes every subscription pending again."""
    protocol = HyperliquidProtocol()
    sub = {"type": "trades", "coin": "SOL"}
    frame = protocol.subscribe_message(sub)
    assert json.loads(frame) == {"method": "subscribe", "subscription": sub}
    feed(protocol, ack(sub))
    protocol.on_open()
    assert not protocol.is_live(sub)
    off = protocol.unsubscribe_message(sub)
    assert off is not None and json.loads(off) == {"method": "unsubscribe", "subscription": sub}
    assert feed(protocol, ack(sub, "unsubscribe")) == []
    assert protocol.subscriptions() == {}


def test_pong_resets_missed_counter() -> None:
    """Pings answered by pongs never ask for a reconnect; two unanswered pings do."""
    protocol = HyperliquidProtocol(max_missed_pongs=2)
    for _ in range(5):
        assert protocol.ping_message() == '{"method":"ping"}'
        feed(protocol, '{"channel":"pong"}')
    assert protocol.close_request is None
    protocol.ping_message()
    protocol.ping_message()
    assert protocol.close_request is None
    protocol.ping_message()
    assert protocol.close_request is not None and not protocol.close_request.fatal
    assert "pong" in protocol.close_request.reason
    protocol.reset_socket_state()  # what the connection does before every on_open
    protocol.on_open()
    assert protocol.close_request is None


def test_greeting_tolerated() -> None:
    """The legacy non-JSON greeting is skipped, as str or bytes."""
    protocol = HyperliquidProtocol()
    assert feed(protocol, "Websocket connection established.",
                b"Websocket connection established.") == []


def test_is_fatal_never() -> None:
    """Every close on Hyperliquid is followed by a reconnect."""
    protocol = HyperliquidProtocol()
    assert protocol.is_fatal(1006, None) is False
    assert protocol.is_fatal(None, OSError("boom")) is False


# --------------------------------------------------------------------------- error strings


def test_already_subscribed_unknown_is_error() -> None:
    """'Already subscribed' for something we never sent is reported, non-fatal."""
    (err,) = feed(HyperliquidProtocol(), *lines("control.jsonl")[2:3])
    assert isinstance(err, ErrorEvent) and err.code == "already_subscribed" and not err.fatal
    assert isinstance(err.exception, SubscriptionRejected)
    assert err.exception.subscription["coin"] == "SOL"


def test_already_unsubscribed() -> None:
    """'Already unsubscribed: {…}' names the subscription."""
    text = 'Already unsubscribed: {"type":"trades","coin":"ETH"}'
    (err,) = feed(HyperliquidProtocol(), error(text))
    assert isinstance(err, ErrorEvent) and err.code == "already_unsubscribed"
    assert err.message == text
    assert isinstance(err.exception, SubscriptionRejected)
    assert err.exception.subscription == {"type": "trades", "coin": "ETH"}


def test_parse_error_rejects_tracked_subscription() -> None:
    """A subscription the server cannot read is forgotten and handed to on_rejected."""
    rejected: list[dict[str, Any]] = []
    protocol = HyperliquidProtocol(on_rejected=rejected.append)
    sub = {"type": "outcomeMetaUpdates"}
    sent = protocol.subscribe_message(sub)
    (err,) = feed(protocol, error("Error parsing JSON into valid websocket request: " + sent))
    assert isinstance(err, ErrorEvent) and err.code == "parse_error"
    assert isinstance(err.exception, SubscriptionRejected) and err.exception.subscription == sub
    assert rejected == [sub] and protocol.subscriptions() == {}


def test_parse_error_non_json_raw() -> None:
    """The echoed frame may not be JSON at all (the server echoes any text)."""
    (err,) = feed(HyperliquidProtocol(),
                  error("Error parsing JSON into valid websocket request: hello"))
    assert isinstance(err, ErrorEvent) and isinstance(err.exception, ProtocolViolation)


def test_parse_error_on_post_rejects_it() -> None:
    """A post the server cannot read fails its request; its id is in the echoed frame."""
    sink = Sink({3})
    protocol = sink.attach(HyperliquidProtocol())
    frame = protocol.post_message(3, {"type": "info", "payload": {"type": "nope"}})
    assert feed(protocol, error("Error parsing JSON into valid websocket request: " + frame)) == []
    assert isinstance(sink.rejected[3], RequestFailed)
    # Unknown id: reported instead.
    other = protocol.post_message(9, {"type": "info", "payload": {}})
    (err,) = feed(protocol, error("Error parsing JSON into valid websocket request: " + other))
    assert isinstance(err, ErrorEvent) and err.code == "parse_error"


def test_invalid_subscription_variant() -> None:
    """OBS's 'Invalid subscription: {…}' rejects the subscription it names."""
    rejected: list[dict[str, Any]] = []
    protocol = HyperliquidProtocol(on_rejected=rejected.append)
    protocol.subscribe_message({"type": "l2Book", "coin": "DOGE"})
    (err,) = feed(protocol, error('Invalid subscription: {"type":"l2Book","coin":"DOGE",'
                                  '"nSigFigs":null,"mantissa":null,"fast":false}'))
    assert isinstance(err, ErrorEvent) and err.code == "invalid_subscription"
    assert rejected == [{"type": "l2Book", "coin": "DOGE"}]
    (err,) = feed(protocol, error('Invalid subscription: {"type":"bbo","coin":"X"}'))
    assert isinstance(err, ErrorEvent) and err.code == "invalid_subscription"


def test_subscription_limit_names_oldest_pending() -> None:
    """The 1000-subscription error echoes nothing: it concerns the oldest unacked subscribe."""
    rejected: list[dict[str, Any]] = []
    protocol = HyperliquidProtocol(on_rejected=rejected.append)
    protocol.subscribe_message({"type": "trades", "coin": "BTC"})
    protocol.subscribe_message({"type": "trades", "coin": "ETH"})
    feed(protocol, ack({"type": "trades", "coin": "BTC"}))
    (err,) = feed(protocol, error("Cannot subscribe to more than 1000 channels."))
    assert isinstance(err, ErrorEvent) and err.code == "too_many_subscriptions"
    assert rejected == [{"type": "trades", "coin": "ETH"}]
    assert isinstance(err.exception, SubscriptionRejected)
    # Nothing pending: still reported.
    (err,) = feed(protocol, error("Cannot subscribe to more than 1000 channels."))
    assert isinstance(err, ErrorEvent) and err.code == "too_many_subscriptions"


@pytest.mark.parametrize("limit", [10, 15])
def test_user_limit_names_pending_user_subscription(limit: int) -> None:
    """The user limit concerns the oldest pending subscription that names a user."""
    rejected: list[dict[str, Any]] = []
    protocol = HyperliquidProtocol(on_rejected=rejected.append)
    protocol.subscribe_message({"type": "trades", "coin": "BTC"})
    protocol.subscribe_message({"type": "userFills", "user": USER})
    (err,) = feed(protocol, error(f"Cannot track more than {limit} total users."))
    assert isinstance(err, ErrorEvent) and err.code == "too_many_users"
    assert rejected == [{"type": "userFills", "user": USER}]


def test_message_rate_limit() -> None:
    """The 2000 messages/minute error is reported as rate limiting."""
    (err,) = feed(HyperliquidProtocol(), error("Cannot send more than 2000 messages per minute."))
    assert isinstance(err, ErrorEvent) and err.code == "rate_limited" and not err.fatal
    assert isinstance(err.exception, RequestFailed)


def test_too_many_pending_posts() -> None:
    """'too many pending post requests id=N' fails post N with TooManyInFlight."""
    sink = Sink({1234})
    protocol = sink.attach(HyperliquidProtocol())
    assert feed(protocol, error("too many pending post requests id=1234")) == []
    assert isinstance(sink.rejected[1234], TooManyInFlight)
    (err,) = feed(protocol, error("too many pending post requests id=99"))
    assert isinstance(err, ErrorEvent) and err.code == "too_many_posts"


def test_unknown_error_string() -> None:
    """Any other error text is passed on as it is."""
    (err,) = feed(HyperliquidProtocol(), error("something new"))
    assert isinstance(err, ErrorEvent) and err.message == "something new" and err.code == "error"


# --------------------------------------------------------------------------- posts


def test_post_info_response() -> None:
    """An info reply resolves the post with its response object."""
    sink = Sink({7})
    protocol = sink.attach(HyperliquidProtocol())
    assert feed(protocol, lines("control.jsonl")[4]) == []
    assert sink.resolved[7] == {"type": "info", "payload": {"type": "l2Book", "data": None}}


def test_post_error_response() -> None:
    """An error reply fails the post with RequestFailed carrying the venue's text."""
    sink = Sink({5})
    protocol = sink.attach(HyperliquidProtocol())
    frame = {"channel": "post", "data": {"id": 5, "response": {
        "type": "error", "payload": "400 Bad Request"}}}
    assert feed(protocol, json.dumps(frame)) == []
    exc = sink.rejected[5]
    assert isinstance(exc, RequestFailed) and "400 Bad Request" in str(exc)


def test_post_unknown_id_is_a_message() -> None:
    """A reply for an id this socket never posted (a raw post, say) is passed on as a
    Message on the ``post`` channel, not dropped."""
    protocol = Sink(set()).attach(HyperliquidProtocol())
    frame = {"channel": "post", "data": {"id": 5, "response": {"type": "info", "payload": {}}}}
    (message,) = feed(protocol, json.dumps(frame))
    assert isinstance(message, Message) and message.channel == "post"


def test_post_message_shape() -> None:
    """docs/venues/hyperliquid.rst#hyperliquid-post: method, id and request."""
    frame = HyperliquidProtocol().post_message(11, {"type": "info", "payload": {"type": "x"}})
    assert json.loads(frame) == {"method": "post", "id": 11,
                                 "request": {"type": "info", "payload": {"type": "x"}}}


# --------------------------------------------------------------------------- dedupe


def test_trade_dedupe_across_reconnect() -> None:
    """The backfill re-sent after a resubscribe is dropped; new trades pass."""
    protocol = HyperliquidProtocol()
    first = feed(protocol, trade_frame((1, 10), (1, 11), (2, 12)))
    assert [t.trade_id for t in first if isinstance(t, Trade)] == ["1:10", "1:11", "2:12"]
    protocol.on_open()
    again = feed(protocol, trade_frame((1, 11), (2, 12), (3, 13)))
    assert [t.trade_id for t in again if isinstance(t, Trade)] == ["3:13"]
    assert protocol.duplicate_trades == 2


def test_trade_dedupe_is_per_coin_and_time() -> None:
    """The same tid at another time or on another coin is another trade
    (docs/venues/hyperliquid.rst#hyperliquid-fields)."""
    protocol = HyperliquidProtocol()
    events = feed(protocol, trade_frame((1, 10)), trade_frame((2, 10)),
                  trade_frame((1, 10), coin="ETH"))
    assert len(events) == 3


def priced_frame(*prices: str, first_tid: int = 0) -> str:
    return json.dumps({"channel": "trades", "data": [
        {"coin": "BTC", "side": "B", "px": px, "sz": "1", "time": 1, "hash": "0x0",
         "tid": tid, "users": ["0x1", "0x2"]} for tid, px in enumerate(prices, first_tid)
    ]})


def test_recent_prices_are_reused_bounded_and_never_hold_a_refused_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A price string seen lately gives back the same Decimal (prices repeat on the tick
    grid); each string keeps its own Decimal ("100.50" is not "100.5"); a refused price is
    refused every time; and the memory never holds more than its bound."""
    from wsclients.venues.hyperliquid import parsing

    monkeypatch.setattr(parsing, "_RECENT_PRICES_MAX", 8)
    monkeypatch.setattr(parsing, "_recent_prices", {})
    protocol = HyperliquidProtocol()
    first, again, longer, *rest = feed(protocol, priced_frame("100.5", "100.5", "100.50",
                                                               "NaN", "100.5"))
    assert first.price is again.price == Decimal("100.5")
    assert str(longer.price) == "100.50"
    assert [type(e).__name__ for e in rest] == ["ErrorEvent", "Trade"]
    assert "NaN" not in parsing._recent_prices
    assert len(errors(feed(protocol, priced_frame("-1", first_tid=10),
                           priced_frame("-1", first_tid=11)))) == 2
    events = feed(protocol, priced_frame(*[f"{p}.25" for p in range(1, 30)], first_tid=20))
    assert [e.price for e in events] == [Decimal(f"{p}.25") for p in range(1, 30)]
    assert 0 < len(parsing._recent_prices) <= 8


def test_trade_memory_is_bounded() -> None:
    """The last trade_memory ids of a coin at least, and twice as many at most, are
    remembered: older ones are forgotten and delivered again."""
    protocol = HyperliquidProtocol(trade_memory=3)
    trades = [(t, t) for t in range(1, 8)]
    assert len(feed(protocol, trade_frame(*trades))) == 7
    # The last three (5, 6, 7) are always remembered.
    assert feed(protocol, trade_frame((5, 5), (6, 6), (7, 7))) == []
    # Only the last six at most: 1 is forgotten, delivered again.
    assert len(feed(protocol, trade_frame((1, 1)))) == 1
    assert protocol.duplicate_trades == 3


@pytest.mark.parametrize("memory", [1, 2, 5])
def test_trade_memory_always_holds_the_last_ids(memory: int) -> None:
    """Whatever the moment a generation turns over, the last ``memory`` ids are duplicates
    and the id ``2 * memory + 1`` trades back is not."""
    for seen in range(1, 4 * memory + 2):
        protocol = HyperliquidProtocol(trade_memory=memory)
        feed(protocol, trade_frame(*[(t, t) for t in range(1, seen + 1)]))
        for t in range(max(1, seen - memory + 1), seen + 1):
            assert feed(protocol, trade_frame((t, t))) == [], (seen, t)
        if seen > 2 * memory:
            old = seen - 2 * memory
            assert len(feed(protocol, trade_frame((old, old)))) == 1, seen


# --------------------------------------------------------------------------- bad frames


@pytest.mark.parametrize("bad", [
    b"\xff\xfe not utf-8",
    "not json",
    "[1, 2]",
    '{"data": 1}',
    '{"channel": 5}',
    '{"channel": "mystery", "data": {}}',
    '{"channel": "trades", "data": {"coin": "BTC"}}',
    '{"channel": "l2Book", "data": {"coin": "BTC", "time": 1, "levels": [[]]}}',
    '{"channel": "l2Book", "data": {"coin": "BTC", "time": "1", "levels": [[], []]}}',
    '{"channel": "l2Book", "data": {"coin": "BTC", "time": 1, '
    '"levels": [[{"px": 1.5, "sz": "1", "n": 1}], []]}}',
    '{"channel": "bbo", "data": {"coin": "BTC", "time": 1, "bbo": [{"px": "x", "sz": "1", '
    '"n": 1}, null]}}',
    '{"channel": "candle"}',
    '{"channel": "post", "data": {"id": "7", "response": {}}}',
    '{"channel": "subscriptionResponse", "data": {"method": "subscribe", "subscription": 3}}',
    '{"channel": "subscriptionResponse", "data": {"method": "other", "subscription": {}}}',
    '{"channel": "error", "data": {"x": 1}}',
])
def test_malformed_frames_are_non_fatal(bad: str | bytes) -> None:
    """Malformed frames, unknown channels and wrong types become one non-fatal ErrorEvent,
    and the next frame still parses."""
    protocol = HyperliquidProtocol()
    events = feed(protocol, bad, *lines("trades.jsonl"))
    assert len(events) == 2, events
    err, trade = events
    assert isinstance(err, ErrorEvent) and not err.fatal
    assert isinstance(err.exception, ProtocolViolation)
    assert isinstance(trade, Trade)


@pytest.mark.parametrize("item", [
    {"coin": "BTC", "side": "X", "px": "1", "sz": "1", "time": 1, "tid": 1},
    {"coin": "BTC", "side": "B", "px": 1.5, "sz": "1", "time": 1, "tid": 1},
    {"coin": "BTC", "side": "B", "px": "1", "sz": "1", "time": True, "tid": 1},
    {"coin": "BTC", "side": "B", "px": "1", "sz": "1", "time": 1},
    {"coin": 5, "side": "B", "px": "1", "sz": "1", "time": 1, "tid": 1},
    {"coin": "BTC", "side": "B", "px": "abc", "sz": "1", "time": 1, "tid": 1},
])
def test_bad_trade_item_skipped(item: dict[str, Any]) -> None:
    """One bad item in a trades array is reported; its neighbours are delivered."""
    good = {"coin": "BTC", "side": "A", "px": "2", "sz": "3", "time": 9, "tid": 9}
    frame = json.dumps({"channel": "trades", "data": [item, good]})
    err, trade = feed(HyperliquidProtocol(), frame)
    assert isinstance(err, ErrorEvent) and not err.fatal and err.raw == item
    assert isinstance(trade, Trade) and trade.trade_id == "9:9"


def test_integer_decimal_accepted() -> None:
    """Docs type some numbers as numbers: integers convert exactly."""
    frame = {"channel": "trades", "data": [
        {"coin": "BTC", "side": "A", "px": 2, "sz": "3", "time": 9, "tid": 9}]}
    (trade,) = feed(HyperliquidProtocol(), json.dumps(frame))
    assert isinstance(trade, Trade) and trade.price == Decimal(2)


def test_raw_subscribed_unknown_type_is_a_message() -> None:
    """A channel the library does not know is fine when the user subscribed to it raw."""
    protocol = HyperliquidProtocol()
    protocol.subscribe_message({"type": "brandNew", "x": 1})
    (msg,) = feed(protocol, '{"channel": "brandNew", "data": [1]}')
    assert isinstance(msg, Message) and msg.channel == "brandNew" and msg.data == [1]


def test_error_event_raw_is_short() -> None:
    """A huge bad frame is shortened in the event."""
    (err,) = feed(HyperliquidProtocol(), "x" * 100_000)
    assert isinstance(err, ErrorEvent) and len(err.raw) < 300


# --------------------------------------------------------------------------- strikes


def test_socket_dying_before_ack_strikes_out() -> None:
    """The server drops the socket silently on an invalid coin
    (docs/venues/hyperliquid.rst#hyperliquid-errors): after max_strikes
    sockets died with the subscription unacked, it is rejected instead of looping forever."""
    rejected: list[dict[str, Any]] = []
    protocol = HyperliquidProtocol(on_rejected=rejected.append, max_strikes=2)
    bad = {"type": "trades", "coin": "NOPE"}
    good = {"type": "trades", "coin": "BTC"}
    for attempt in range(2):
        protocol.on_open()
        protocol.subscribe_message(good)
        protocol.subscribe_message(bad)
        feed(protocol, ack(good))
        protocol.is_fatal(1006, None)
        assert rejected == ([] if attempt == 0 else [bad])
    (err,) = protocol.take_events()
    assert isinstance(err, ErrorEvent) and err.code == "invalid_subscription"
    assert isinstance(err.exception, SubscriptionRejected)
    assert subscription_key(good) in protocol.subscriptions()


def test_ack_resets_strikes() -> None:
    """A subscription that gets acked starts counting again from zero."""
    rejected: list[dict[str, Any]] = []
    protocol = HyperliquidProtocol(on_rejected=rejected.append, max_strikes=2)
    sub = {"type": "trades", "coin": "BTC"}
    for _ in range(3):
        protocol.on_open()
        protocol.subscribe_message(sub)
        protocol.is_fatal(1006, None)
        protocol.on_open()
        protocol.subscribe_message(sub)
        feed(protocol, ack(sub))
        protocol.is_fatal(1006, None)
    assert rejected == []


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize("sub, sent", [
    ({"type": "trades", "coin": "SOL"}, {"type": "trades", "coin": "SOL"}),
    ({"type": "trades", "coin": "kPEPE"}, {"type": "trades", "coin": "kPEPE"}),
    ({"type": "trades", "coin": "PURR/USDC"}, {"type": "trades", "coin": "PURR/USDC"}),
    ({"type": "trades", "coin": "@107"}, {"type": "trades", "coin": "@107"}),
    ({"type": "bbo", "coin": "xyz:XYZ100"}, {"type": "bbo", "coin": "xyz:XYZ100"}),
    ({"type": "l2Book", "coin": "BTC", "nSigFigs": None, "mantissa": None, "fast": False},
     {"type": "l2Book", "coin": "BTC"}),
    ({"type": "l2Book", "coin": "BTC", "nSigFigs": 5, "mantissa": 2},
     {"type": "l2Book", "coin": "BTC", "nSigFigs": 5, "mantissa": 2}),
    ({"type": "l2Book", "coin": "BTC", "nSigFigs": 5, "mantissa": 1},
     {"type": "l2Book", "coin": "BTC", "nSigFigs": 5}),
    ({"type": "l2Book", "coin": "BTC", "fast": True},
     {"type": "l2Book", "coin": "BTC", "fast": True}),
    ({"type": "userFills", "user": USER.upper().replace("0X", "0x"), "aggregateByTime": True},
     {"type": "userFills", "user": USER, "aggregateByTime": True}),
    ({"type": "allMids"}, {"type": "allMids"}),
    ({"type": "allMids", "dex": "xyz"}, {"type": "allMids", "dex": "xyz"}),
    ({"type": "allMids", "dex": ""}, {"type": "allMids", "dex": ""}),
    ({"type": "candle", "coin": "BTC", "interval": "1M"},
     {"type": "candle", "coin": "BTC", "interval": "1M"}),
    ({"type": "someFutureType", "whatever": [1]}, {"type": "someFutureType", "whatever": [1]}),
])
def test_validate_accepts(sub: dict[str, Any], sent: dict[str, Any]) -> None:
    """Valid subscriptions pass; defaults are dropped, addresses lower-cased."""
    assert validate_subscription(sub) == sent


@pytest.mark.parametrize("sub", [
    {"type": "trades", "coin": ["BTC", "ETH"]},
    {"type": "trades", "coin": ""},
    {"type": "trades", "coin": "btc"},
    {"type": "trades", "coin": "XYZ:XYZ100"},
    {"type": "trades", "coin": "xyz:"},
    {"type": "trades", "coin": " BTC"},
    {"type": "trades"},
    {"type": "trades", "coin": "BTC", "extra": 1},
    {"type": "l2Book", "coin": "BTC", "nSigFigs": 6},
    {"type": "l2Book", "coin": "BTC", "nSigFigs": 1},
    {"type": "l2Book", "coin": "BTC", "nSigFigs": True},
    {"type": "l2Book", "coin": "BTC", "nSigFigs": 4, "mantissa": 2},
    {"type": "l2Book", "coin": "BTC", "mantissa": 5},
    {"type": "l2Book", "coin": "BTC", "nSigFigs": 5, "mantissa": 3},
    {"type": "l2Book", "coin": "BTC", "fast": "yes"},
    {"type": "candle", "coin": "BTC", "interval": "2m"},
    {"type": "candle", "coin": "BTC"},
    {"type": "userFills", "user": "0x123"},
    {"type": "userFills", "user": USER, "aggregateByTime": 1},
    {"type": "allMids", "dex": "XYZ"},
    {"type": "allMids", "dex": 3},
    {"type": ""},
    {"coin": "BTC"},
])
def test_validate_rejects(sub: dict[str, Any]) -> None:
    """Subscriptions the server would refuse or drop the socket for are refused up front."""
    with pytest.raises(SubscriptionRejected):
        validate_subscription(sub)


def test_validate_rejects_non_dict() -> None:
    """A subscription must be a dict."""
    with pytest.raises(SubscriptionRejected):
        validate_subscription(["trades"])  # type: ignore[arg-type]


def test_lowercase_coin_hint() -> None:
    """The refusal says which spelling was probably meant."""
    with pytest.raises(SubscriptionRejected, match="'BTC'"):
        validate_subscription({"type": "trades", "coin": "btc"})


def test_subscription_key_is_canonical() -> None:
    """Spellings the server treats as one subscription share one key."""
    assert subscription_key({"type": "l2Book", "coin": "BTC"}) == subscription_key(
        {"coin": "BTC", "fast": False, "nSigFigs": None, "type": "l2Book"})
    assert subscription_key({"type": "l2Book", "coin": "BTC"}) != subscription_key(
        {"type": "l2Book", "coin": "BTC", "fast": True})


def test_candle_intervals() -> None:
    """docs/venues/hyperliquid.rst#hyperliquid-subscriptions: fourteen intervals."""
    assert len(CANDLE_INTERVALS) == 14 and "1M" in CANDLE_INTERVALS


def test_decode_round_trip() -> None:
    """A payload we compress ourselves decodes the same way."""
    payload = {"SOL": {"markPx": "150.1", "midPx": "150.05"}}
    compressor = zlib.compressobj(wbits=-15)
    blob = compressor.compress(json.dumps(payload).encode()) + compressor.flush()
    (msg,) = feed(HyperliquidProtocol(),
                  json.dumps({"channel": "fastAssetCtxs", "data": base64.b64encode(blob).decode()}))
    assert isinstance(msg, Message) and msg.data == payload


# --------------------------------------------------------------------------- fidelity: limits


class Clock:
    """A hand-driven clock for MessageBudget."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def trades_sub(index: int) -> dict[str, Any]:
    return {"type": "trades", "coin": f"C{index}"}


def sent_subscriptions(protocol: HyperliquidProtocol) -> list[dict[str, Any]]:
    frames = [json.loads(frame) for frame in protocol.take_frames()]
    return [frame["subscription"] for frame in frames if frame.get("method") == "subscribe"]


def test_restore_burst_is_paced_by_the_message_budget() -> None:
    """A restore burst bigger than the budget sends what fits and the rest as the window
    frees up, in order; pings and posts spend from the same budget."""
    clock = Clock()
    protocol = HyperliquidProtocol(message_budget=MessageBudget(3, 1.0, margin=0, clock=clock))
    for index in range(5):
        protocol.subscribe(trades_sub(index))
    protocol.on_open()
    assert sent_subscriptions(protocol) == [trades_sub(0), trades_sub(1), trades_sub(2)]
    clock.now = 0.5
    protocol.on_tick(clock.now)
    assert protocol.take_frames() == []
    protocol.post(1, {"type": "info", "payload": {}})
    assert protocol.take_frames() == []  # waits in line behind the subscribes
    clock.now = 1.01
    protocol.on_tick(clock.now)
    frames = [json.loads(frame) for frame in protocol.take_frames()]
    assert [f.get("subscription") or f["method"] for f in frames] == [
        trades_sub(3), trades_sub(4), "post"]
    assert protocol.ping_message() == '{"method":"ping"}'  # the heartbeat goes over budget
    protocol.subscribe(trades_sub(9))
    clock.now = 2.02
    protocol.on_tick(clock.now)
    assert sent_subscriptions(protocol) == [trades_sub(9)]


def test_unsubscribe_of_an_unsent_subscription_sends_nothing() -> None:
    """A subscribe still waiting for budget is dropped from the line, no unsubscribe sent."""
    clock = Clock()
    protocol = HyperliquidProtocol(message_budget=MessageBudget(1, 1.0, clock=clock))
    protocol.on_open()
    protocol.subscribe(trades_sub(0))
    protocol.subscribe(trades_sub(1))
    assert sent_subscriptions(protocol) == [trades_sub(0)]
    assert protocol.unsubscribe(trades_sub(1))
    clock.now = 5.0
    protocol.on_tick(clock.now)
    assert protocol.take_frames() == []


def test_rate_refused_subscription_is_retried_after_the_window_and_reported_once() -> None:
    """'Cannot send more than …' names no frame: the oldest waiting subscribe is sent again
    one window later (not left registered but dead), with one ErrorEvent however often it
    is refused."""
    clock = Clock()
    protocol = HyperliquidProtocol(message_budget=MessageBudget(100, 10.0, clock=clock))
    protocol.on_tick(0.0)
    protocol.on_open()
    first, second = trades_sub(0), trades_sub(1)
    protocol.subscribe(first)
    protocol.subscribe(second)
    protocol.take_frames()
    events = feed(protocol, ack(first), error("Cannot send more than 2 messages per minute."))
    (err,) = errors(events)
    assert err.code == "rate_limited" and not err.fatal and '"coin":"C1"' in err.message
    assert not protocol.is_live(second)
    protocol.on_tick(9.0)
    assert protocol.take_frames() == []
    protocol.on_tick(10.5)
    assert sent_subscriptions(protocol) == [second]
    assert feed(protocol, error("Cannot send more than 2 messages per minute.")) == []
    protocol.on_tick(20.0)
    protocol.on_tick(31.0)
    assert sent_subscriptions(protocol) == [second]
    feed(protocol, ack(second))
    assert protocol.is_live(first) and protocol.is_live(second)
    assert protocol.registered == [first, second]


# --------------------------------------------------------------------------- fidelity: strikes


def test_flapping_with_a_large_restore_burst_keeps_every_valid_subscription() -> None:
    """Issue 13 item 4: sockets that die while acks queue behind a 300-subscription restore
    never reject a subscription the venue acknowledged before, however often it happens."""
    rejected: list[dict[str, Any]] = []
    protocol = HyperliquidProtocol(on_rejected=rejected.append,
                                   message_budget=MessageBudget(10**6))
    subs = [trades_sub(index) for index in range(300)]
    for sub in subs:
        protocol.subscribe(sub)
    protocol.on_open()
    protocol.take_frames()
    feed(protocol, *(ack(sub) for sub in subs))
    for _ in range(10):
        protocol.is_fatal(1006, None)
        protocol.on_close(1006, "")
        protocol.on_open()
        assert len(sent_subscriptions(protocol)) == 300
        feed(protocol, *(ack(sub) for sub in subs[:20]))  # the rest never comes
    assert errors(protocol.take_events()) == []
    assert rejected == [] and protocol.registered == subs


def test_unacked_subscriptions_in_a_burst_become_suspects_sent_alone() -> None:
    """A socket dying with several never-acked subscriptions in flight strikes none; next
    time they go one at a time after the restore is acked, so the one that kills the socket
    is named and the valid one is kept."""
    rejected: list[dict[str, Any]] = []
    protocol = HyperliquidProtocol(on_rejected=rejected.append, max_strikes=2)
    known, bad, fresh = trades_sub(0), {"type": "trades", "coin": "NOPE"}, trades_sub(1)
    protocol.subscribe(known)
    protocol.on_open()
    protocol.take_frames()
    feed(protocol, ack(known))
    protocol.subscribe(bad)
    protocol.subscribe(fresh)
    protocol.take_frames()
    protocol.is_fatal(1006, None)  # two unacked in flight: no strike
    protocol.on_open()
    assert sent_subscriptions(protocol) == [known]  # suspects wait for the restore
    feed(protocol, ack(known))
    assert sent_subscriptions(protocol) == [bad]  # alone
    protocol.is_fatal(1006, None)  # strike 1 for bad
    protocol.on_open()
    assert sent_subscriptions(protocol) == [known]
    feed(protocol, ack(known))
    assert sent_subscriptions(protocol) == [fresh]  # fewer strikes first
    feed(protocol, ack(fresh))
    assert sent_subscriptions(protocol) == [bad]
    protocol.is_fatal(1006, None)  # strike 2: out
    assert rejected == [bad]
    assert protocol.registered == [known, fresh]


# --------------------------------------------------------------------------- fidelity: sockets


def test_sockets_over_the_venue_limit_are_reported() -> None:
    """The 11th open socket of the process (here the 2nd of 1) warns, non-fatally; closed
    sockets are no longer counted."""
    budget = ConnectionBudget(max_open=1)
    first = HyperliquidProtocol(connection_budget=budget)
    second = HyperliquidProtocol(connection_budget=budget)
    first.on_open()
    assert errors(first.take_events()) == []
    second.on_open()
    (err,) = errors(second.take_events())
    assert err.code == "too_many_connections" and not err.fatal
    second.on_close(1000, "")
    first.on_close(1000, "")
    assert budget.open_sockets == 0
    second.on_open()
    assert errors(second.take_events()) == []


def test_webdata2_is_refused_with_the_venue_reason() -> None:
    """webData2 is refused up front: mainnet answers it with a parse error."""
    with pytest.raises(SubscriptionRejected, match="webData3"):
        validate_subscription({"type": "webData2", "user": USER})


def test_full_state_pushes_are_snapshots_candles_are_not() -> None:
    """A push that replaces state is a snapshot; a candle push updates one candle."""
    frames = [
        {"channel": "clearinghouseState", "data": {"dex": "", "user": USER,
                                                   "clearinghouseState": {}}},
        {"channel": "openOrders", "data": {"dex": "", "user": USER, "orders": []}},
        {"channel": "twapStates", "data": {"dex": "", "user": USER, "states": []}},
        {"channel": "candle", "data": {"t": 1, "T": 2, "s": "BTC", "i": "1m", "o": "1",
                                       "c": "1", "h": "1", "l": "1", "v": "1", "n": 1}},
    ]
    events = feed(HyperliquidProtocol(), *(json.dumps(f) for f in frames))
    assert [e.is_snapshot for e in events if isinstance(e, Message)] == [True, True, True, False]


@pytest.mark.parametrize("coin", ["PURR/USDC", "@107"])
def test_active_asset_data_on_a_spot_coin_is_refused(coin: str) -> None:
    """activeAssetData is documented for perps only: spot names are refused up front."""
    with pytest.raises(SubscriptionRejected, match="perp"):
        validate_subscription({"type": "activeAssetData", "user": USER, "coin": coin})
    assert validate_subscription({"type": "activeAssetData", "user": USER, "coin": "xyz:XYZ100"})
