"""HyperliquidClient against FakeHyperliquid on 127.0.0.1: real sockets, real threads."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from decimal import Decimal
from typing import Any, Callable

import pytest

from tests.conftest import T
from tests.helpers import next_event
from wsclients.errors import (
    ClientStopped,
    ConnectionLost,
    RequestFailed,
    RequestTimeout,
    SubscriptionRejected,
    TooManyInFlight,
)
from wsclients.models import Book, ConnectionState, ErrorEvent, Event, Message, Side, Status, Trade
from wsclients.testing.hyperliquid import FakeHyperliquid, PostError
from wsclients.venues.hyperliquid import MAINNET_URL, TESTNET_URL, HyperliquidClient
from wsclients.venues.hyperliquid.limits import ConnectionBudget

pytestmark = pytest.mark.timeout(30)

USER = "0xb7b6f3cea3f66bf525f5d8f965f6dbf6d9b017b2"


@pytest.fixture
def fake() -> Iterator[FakeHyperliquid]:
    with FakeHyperliquid() as server:
        yield server


def client_for(fake: FakeHyperliquid, **options: Any) -> HyperliquidClient:
    options.setdefault("backoff_min", 0.01)
    options.setdefault("backoff_max", 0.05)
    return HyperliquidClient(url=fake.url, **options)


@pytest.fixture
def client(fake: FakeHyperliquid) -> Iterator[HyperliquidClient]:
    hl = client_for(fake)
    yield hl
    hl.stop()




def until(condition: Callable[[], bool], timeout: float = 3 * T) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)


def is_error(code: str) -> Callable[[Event], bool]:
    return lambda e: isinstance(e, ErrorEvent) and e.code == code


def test_urls() -> None:
    """Mainnet by default, testnet on request, any url wins."""
    assert HyperliquidClient().url == MAINNET_URL
    assert HyperliquidClient(testnet=True).url == TESTNET_URL
    assert HyperliquidClient(url="ws://x/ws", testnet=True).url == "ws://x/ws"
    hl = HyperliquidClient()
    assert hl.ping_interval == 20.0 and hl.stale_timeout == 45.0
    assert "hyperliquid" in repr(hl)


def test_trades_and_books_round_trip(fake: FakeHyperliquid, client: HyperliquidClient) -> None:
    """Subscribed before start: trades become Trades, l2Book and bbo become snapshot Books."""
    client.subscribe_trades("BTC")
    client.subscribe_l2_book("ETH")
    client.subscribe_bbo("SOL")
    client.start(timeout=3 * T)
    fake.wait_for_subscriptions(3)
    book = next_event(client, lambda e: isinstance(e, Book) and e.symbol == "ETH")
    assert isinstance(book, Book) and book.is_snapshot and len(book.bids) == 20
    bbo = next_event(client, lambda e: isinstance(e, Book) and e.symbol == "SOL")
    assert isinstance(bbo, Book) and len(bbo.bids) == 1
    fake.publish_trade("BTC", "65000.5", "0.25", side="A", time_ms=1_700_000_000_000, tid=42)
    trade = next_event(client, lambda e: isinstance(e, Trade))
    assert isinstance(trade, Trade)
    assert (trade.symbol, trade.price, trade.size, trade.side) == (
        "BTC", Decimal("65000.5"), Decimal("0.25"), Side.SELL)
    assert trade.trade_id == "1700000000000:42"
    assert client.is_live({"type": "trades", "coin": "BTC"})
    assert client.is_live({"type": "l2Book", "coin": "ETH", "fast": False})


def test_l2_book_options(fake: FakeHyperliquid, client: HyperliquidClient) -> None:
    """n_sig_figs/mantissa/fast are sent with the venue's names; fast books have 5 levels."""
    client.start(timeout=3 * T)
    client.subscribe_l2_book("BTC", n_sig_figs=5, mantissa=2)
    client.subscribe_l2_book("SOL", fast=True)
    subs = fake.wait_for_subscriptions(2)
    assert {"type": "l2Book", "coin": "BTC", "nSigFigs": 5, "mantissa": 2, "fast": False} in subs
    book = next_event(client, lambda e: isinstance(e, Book) and e.symbol == "SOL")
    assert isinstance(book, Book) and len(book.asks) == 5
    until(lambda: client.is_live({"type": "l2Book", "coin": "BTC", "nSigFigs": 5,
                                  "mantissa": 2}))


# Each typed helper, its arguments, the Message channel expected, and whether the fake sends
# data right after the ack (otherwise the test publishes some).
CASES: list[tuple[str, tuple[Any, ...], dict[str, Any], str, bool]] = [
    ("candles", ("BTC", "1m"), {}, "candle", False),
    ("all_mids", (), {}, "allMids", True),
    ("all_mids", (), {"dex": "xyz"}, "allMids", True),
    ("notification", (USER,), {}, "notification", False),
    ("web_data3", (USER,), {}, "webData3", True),
    ("twap_states", (USER,), {}, "twapStates", True),
    ("clearinghouse_state", (USER,), {"dex": "xyz"}, "clearinghouseState", True),
    ("open_orders", (USER,), {}, "openOrders", True),
    ("order_updates", (USER,), {}, "orderUpdates", False),
    ("user_events", (USER,), {}, "userEvents", False),
    ("user_fills", (USER,), {"aggregate_by_time": True}, "userFills", True),
    ("user_fundings", (USER,), {}, "userFundings", True),
    ("user_non_funding_ledger_updates", (USER,), {}, "userNonFundingLedgerUpdates", True),
    ("active_asset_ctx", ("BTC",), {}, "activeAssetCtx", True),
    ("active_asset_ctx", ("@107",), {}, "activeAssetCtx", True),
    ("active_asset_data", (USER, "ETH"), {}, "activeAssetData", True),
    ("user_twap_slice_fills", (USER,), {}, "userTwapSliceFills", True),
    ("user_twap_history", (USER,), {}, "userTwapHistory", True),
    ("spot_state", (USER,), {"is_portfolio_margin": True}, "spotState", True),
    ("all_dexs_clearinghouse_state", (USER,), {}, "allDexsClearinghouseState", True),
    ("all_dexs_asset_ctxs", (), {}, "allDexsAssetCtxs", True),
    ("fast_asset_ctxs", (), {}, "fastAssetCtxs", True),
    ("outcome_meta_updates", (), {}, "outcomeMetaUpdates", False),
]
# A push that replaces state is a snapshot (README, Hyperliquid).
FULL_STATE = {
    "allMids", "webData3", "twapStates", "clearinghouseState", "openOrders", "spotState",
    "allDexsClearinghouseState", "allDexsAssetCtxs", "activeAssetCtx", "activeAssetData",
}


@pytest.mark.parametrize("name, args, kwargs, channel, snapshot", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_every_subscription_type(
    fake: FakeHyperliquid, client: HyperliquidClient, name: str, args: tuple[Any, ...],
    kwargs: dict[str, Any], channel: str, snapshot: bool,
) -> None:
    """Every typed helper: subscribed, acked (live), data arrives as a Message on the
    subscription's own name, then unsubscribed on the server too."""
    client.start(timeout=3 * T)
    assert getattr(client, f"subscribe_{name}")(*args, **kwargs) is True
    assert getattr(client, f"subscribe_{name}")(*args, **kwargs) is False  # already made
    (sub,) = client.subscriptions
    (server_sub,) = fake.wait_for_subscriptions(1)
    until(lambda: client.is_live(sub))
    if not snapshot:
        if channel == "candle":
            fake.publish_trade("BTC", "100", "1")
        else:
            fake.publish(server_sub, {"marker": 1})
    msg = next_event(client, lambda e: isinstance(e, Message))
    assert isinstance(msg, Message) and msg.channel == channel
    if channel in ("userFills", "userFundings", "userNonFundingLedgerUpdates",
                   "userTwapSliceFills", "userTwapHistory"):
        assert msg.is_snapshot
    if channel == "fastAssetCtxs":
        assert msg.is_snapshot and "BTC" in msg.data
    assert msg.is_snapshot is (channel in FULL_STATE or snapshot and channel != "candle")
    assert getattr(client, f"unsubscribe_{name}")(*args, **kwargs) is True
    until(lambda: fake.subscriptions() == [])
    assert client.subscriptions == []


def test_raw_subscribe_and_unsubscribe(fake: FakeHyperliquid, client: HyperliquidClient) -> None:
    """The raw escape hatch takes the venue's dicts; spellings of one subscription agree."""
    client.start(timeout=3 * T)
    assert client.subscribe({"type": "candle", "coin": "ETH", "interval": "5m"})
    fake.wait_for_subscriptions(1)
    assert client.unsubscribe({"interval": "5m", "coin": "ETH", "type": "candle"})
    until(lambda: fake.subscriptions() == [])
    assert not client.unsubscribe({"type": "candle", "coin": "ETH", "interval": "5m"})


def test_validation_before_sending(client: HyperliquidClient) -> None:
    """Bad arguments raise at once and nothing is registered."""
    with pytest.raises(SubscriptionRejected):
        client.subscribe_trades("btc")
    with pytest.raises(SubscriptionRejected):
        client.subscribe_l2_book("BTC", n_sig_figs=6)
    with pytest.raises(SubscriptionRejected):
        client.subscribe_l2_book("BTC", mantissa=2)
    with pytest.raises(SubscriptionRejected):
        client.subscribe_candles("BTC", "7m")
    with pytest.raises(SubscriptionRejected):
        client.subscribe_user_fills("not-an-address")
    assert client.subscriptions == []


# --------------------------------------------------------------------------- server errors


def test_parse_error_rejects_subscription(fake: FakeHyperliquid, client: HyperliquidClient) -> None:
    """A type the server cannot read: ErrorEvent naming it, dropped from the restore set."""
    client.start(timeout=3 * T)
    client.subscribe({"type": "brandNewType", "x": 1})
    err = next_event(client, is_error("parse_error"))
    assert isinstance(err, ErrorEvent) and not err.fatal
    assert isinstance(err.exception, SubscriptionRejected)
    assert err.exception.subscription == {"type": "brandNewType", "x": 1}
    until(lambda: client.subscriptions == [])


def test_invalid_coin_strikes_out(fake: FakeHyperliquid) -> None:
    """The server drops the socket silently on an unknown coin; after three such drops the
    subscription is rejected and the others keep streaming."""
    client = client_for(fake)
    try:
        client.subscribe_trades("BTC")
        client.subscribe_trades("DOGE")  # not listed on the fake
        client.start(wait=False)
        err = next_event(client, is_error("invalid_subscription"), timeout=5 * T)
        assert isinstance(err, ErrorEvent) and isinstance(err.exception, SubscriptionRejected)
        assert err.exception.subscription == {"type": "trades", "coin": "DOGE"}
        assert client.subscriptions == [{"type": "trades", "coin": "BTC"}]
        until(lambda: client.is_live({"type": "trades", "coin": "BTC"}))
        fake.publish_trade("BTC", "1", "1")
        assert isinstance(next_event(client, lambda e: isinstance(e, Trade)), Trade)
        assert len(fake.connections) == 4
    finally:
        client.stop()


def test_invalid_subscription_error_variant() -> None:
    """OBS's 'Invalid subscription: …' rejects it at once."""
    with FakeHyperliquid(invalid_subscription="error") as fake:
        client = client_for(fake)
        try:
            client.start(timeout=3 * T)
            client.subscribe_bbo("DOGE")
            err = next_event(client, is_error("invalid_subscription"))
            assert isinstance(err, ErrorEvent) and "DOGE" in err.message
            until(lambda: client.subscriptions == [])
        finally:
            client.stop()


def test_subscription_and_user_limits() -> None:
    """The server's limit errors name the subscription refused."""
    other = "0x" + "c" * 40
    with FakeHyperliquid(max_subscriptions=3, max_users=1) as fake:
        client = client_for(fake)
        try:
            client.start(timeout=3 * T)
            client.subscribe_order_updates(USER)
            until(lambda: client.is_live({"type": "orderUpdates", "user": USER}))
            client.subscribe_order_updates(other)
            err = next_event(client, is_error("too_many_users"))
            assert isinstance(err, ErrorEvent) and err.message == (
                "Cannot track more than 1 total users.")
            assert isinstance(err.exception, SubscriptionRejected)
            assert err.exception.subscription == {"type": "orderUpdates", "user": other}
            client.subscribe_trades("BTC")
            client.subscribe_trades("ETH")
            until(lambda: len(fake.subscriptions()) == 3)
            client.subscribe_trades("SOL")
            err = next_event(client, is_error("too_many_subscriptions"))
            assert isinstance(err, ErrorEvent)
            assert err.message == "Cannot subscribe to more than 3 channels."
            until(lambda: len(client.subscriptions) == 3)
        finally:
            client.stop()


def test_message_rate_limit_error() -> None:
    """'Cannot send more than N messages per minute.' arrives as a non-fatal ErrorEvent
    naming the refused subscription."""
    with FakeHyperliquid(max_messages_per_minute=1) as fake:
        client = client_for(fake)
        try:
            client.start(timeout=3 * T)
            client.subscribe_trades("BTC")
            client.subscribe_trades("ETH")
            err = next_event(client, is_error("rate_limited"))
            assert isinstance(err, ErrorEvent) and not err.fatal
            assert err.message.startswith("Cannot send more than 1 messages per minute.")
            assert '"coin":"ETH"' in err.message and "sending it again in 60 s" in err.message
        finally:
            client.stop()


# --------------------------------------------------------------------------- reconnects


def test_drop_restores_and_dedupes_trades(fake: FakeHyperliquid, client: HyperliquidClient) -> None:
    """A TCP drop mid-stream: reconnect, every subscription restored, the trades backfill
    re-sent by the server is not delivered twice, new trades are."""
    client.subscribe_trades("BTC")
    client.subscribe_user_fills(USER)
    client.start(timeout=3 * T)
    fake.wait_for_subscriptions(2)
    sent = [fake.publish_trade("BTC", str(100 + i), "1") for i in range(5)]
    got = [next_event(client, lambda e: isinstance(e, Trade)) for _ in sent]
    assert [t.raw["tid"] for t in got if isinstance(t, Trade)] == [t["tid"] for t in sent]
    fake.drop_all()
    next_event(client, lambda e: isinstance(e, Status) and e.state is ConnectionState.RECONNECTING)
    next_event(client, lambda e: isinstance(e, Status) and e.state is ConnectionState.CONNECTED)
    second = fake.wait_for_connections(2)[1]
    until(lambda: len(fake.subscriptions(second)) == 2)
    # The restore brought the backfill of the same 5 trades and a fresh userFills snapshot.
    snap = next_event(client, lambda e: isinstance(e, Message) and e.channel == "userFills")
    assert isinstance(snap, Message) and snap.is_snapshot
    new = fake.publish_trade("BTC", "200", "1")
    trade = next_event(client, lambda e: isinstance(e, Trade))
    assert isinstance(trade, Trade) and trade.raw["tid"] == new["tid"]
    assert client.protocol.duplicate_trades == 5
    assert client.stats.reconnects >= 1


def test_silent_server_is_detected(fake: FakeHyperliquid) -> None:
    """A server that goes silent (no data, no pongs) is declared stale and replaced."""
    client = client_for(fake, ping_interval=0.05, stale_timeout=0.3)
    try:
        client.subscribe_trades("ETH")
        client.start(timeout=3 * T)
        first = fake.wait_for_connections(1)[0]
        first.go_silent()
        second = fake.wait_for_connections(2, timeout=3 * T)[1]
        until(lambda: len(fake.subscriptions(second)) == 1)
        fake.publish_trade("ETH", "5", "1")
        assert isinstance(next_event(client, lambda e: isinstance(e, Trade)), Trade)
    finally:
        client.stop()


def test_idle_timeout_close_and_heartbeat() -> None:
    """Without pings the server cuts the socket after its idle timeout (no close frame) and
    the client comes back; with pings well inside it, the socket stays."""
    with FakeHyperliquid(idle_timeout=0.2) as fake:
        client = client_for(fake, ping_interval=None, stale_timeout=None)
        try:
            client.subscribe_order_updates(USER)  # no snapshot: a quiet subscription
            client.start(timeout=3 * T)
            fake.wait_for_connections(2, timeout=3 * T)
            next_event(client, lambda e: isinstance(e, Status)
                       and e.state is ConnectionState.RECONNECTING)
            until(lambda: client.is_live({"type": "orderUpdates", "user": USER}))
        finally:
            client.stop()
    with FakeHyperliquid(idle_timeout=0.2) as fake:
        client = client_for(fake, ping_interval=0.05)
        try:
            client.start(timeout=3 * T)
            time.sleep(0.6)  # three idle timeouts: pongs keep it open
            assert len(fake.connections) == 1 and client.stats.reconnects == 0
        finally:
            client.stop()


def test_greeting_is_ignored() -> None:
    """The legacy greeting frame produces no event and no error."""
    with FakeHyperliquid(greeting=True) as fake:
        client = client_for(fake)
        try:
            client.subscribe_trades("SOL")
            client.start(timeout=3 * T)
            fake.wait_for_subscriptions(1)
            fake.publish_trade("SOL", "1", "1")
            next_event(client, lambda e: isinstance(e, Trade))
            assert client.stats.errors == 0
        finally:
            client.stop()


# --------------------------------------------------------------------------- posts


def test_info_over_the_socket(fake: FakeHyperliquid, client: HyperliquidClient) -> None:
    """info() returns the answer's data; an unknown coin gives None; raw post() the response."""
    client.start(timeout=3 * T)
    book = client.info({"type": "l2Book", "coin": "BTC"}, timeout=2 * T)
    assert book["coin"] == "BTC" and len(book["levels"]) == 2
    assert client.info({"type": "l2Book", "coin": "NOPE"}) is None
    mids = client.info_async({"type": "allMids"}).result(2 * T)
    assert set(mids) >= {"BTC", "ETH", "SOL"}
    response = client.post({"type": "action", "payload": {"action": {}, "nonce": 1}})
    assert response == {"type": "action", "payload": {"status": "err",
                                                      "response": "Unable to recover signer."}}
    assert client.posts_in_flight == 0


def test_post_errors(fake: FakeHyperliquid, client: HyperliquidClient) -> None:
    """Error answers raise RequestFailed; an unreadable post fails by its echoed id."""
    def broken(payload: dict[str, Any]) -> Any:
        raise PostError("500 Internal Server Error")

    fake.info_handlers["meta"] = broken
    client.start(timeout=3 * T)
    with pytest.raises(RequestFailed, match="500 Internal Server Error"):
        client.info({"type": "meta"})
    with pytest.raises(RequestFailed, match="Error parsing JSON"):
        client.info({"type": "noSuchInfo"})
    with pytest.raises(ValueError):
        client.post({"type": "explorer", "payload": {}})


def test_post_timeout_and_disconnect(fake: FakeHyperliquid, client: HyperliquidClient) -> None:
    """No answer in time → RequestTimeout; a lost socket fails waiting posts with
    ConnectionLost; stop() fails them with ClientStopped; posting after stop raises."""
    client.start(timeout=3 * T)
    fake.hold_posts()
    with pytest.raises(RequestTimeout):
        client.info({"type": "allMids"}, timeout=0.1)
    pending = client.info_async({"type": "allMids"}, timeout=5 * T)
    until(lambda: fake.connections[0].received != [] and "post" in str(
        fake.connections[0].received[-1]))
    fake.drop_all()
    with pytest.raises(ConnectionLost):
        pending.result(3 * T)
    fake.wait_for_connections(2)
    until(lambda: client.state is ConnectionState.CONNECTED)
    last = client.info_async({"type": "allMids"}, timeout=5 * T)
    until(lambda: len(fake.connections) == 2 and "post" in str(fake.connections[1].received))
    client.stop()
    with pytest.raises(ClientStopped):
        last.result(3 * T)
    with pytest.raises(ClientStopped):
        client.info({"type": "allMids"})


def test_posts_matched_under_concurrency(fake: FakeHyperliquid, client: HyperliquidClient) -> None:
    """Many threads posting at once each get their own answer."""
    client.start(timeout=3 * T)
    coins = ["BTC", "ETH", "SOL"]
    results: dict[tuple[int, int], str] = {}
    failures: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            for j in range(15):
                coin = coins[(index + j) % 3]
                data = client.info({"type": "l2Book", "coin": coin}, timeout=5 * T)
                results[(index, j)] = data["coin"]
                assert data["coin"] == coin
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10 * T)
    assert failures == [] and len(results) == 16 * 15
    assert client.posts_in_flight == 0


def test_client_side_in_flight_limit(fake: FakeHyperliquid) -> None:
    """100 posts in flight at most: the 101st waits for a slot, or raises with block=False."""
    client = client_for(fake)
    try:
        client.start(timeout=3 * T)
        fake.hold_posts()
        futures: list[Future[Any]] = [
            client.info_async({"type": "allMids"}, timeout=5 * T) for _ in range(100)]
        assert client.posts_in_flight == 100
        with pytest.raises(TooManyInFlight):
            client.info_async({"type": "allMids"}, block=False)
        waiting = threading.Thread(target=lambda: futures.append(
            client.info_async({"type": "allMids"}, timeout=5 * T)))
        waiting.start()
        until(lambda: len(fake.connections[0].received) >= 100)
        assert fake.release_posts() == 100
        waiting.join(3 * T)
        assert len(futures) == 101
        until(lambda: fake.release_posts() == 1 or all(f.done() for f in futures))
        for future in futures:
            assert "BTC" in future.result(3 * T)
    finally:
        client.stop()


def test_server_in_flight_limit(fake: FakeHyperliquid) -> None:
    """The server's 'too many pending post requests id=N' fails exactly post N."""
    fake.max_inflight_posts = 2
    client = client_for(fake, post_limit=10)
    try:
        client.start(timeout=3 * T)
        fake.hold_posts()
        futures = [client.info_async({"type": "allMids"}, timeout=5 * T) for _ in range(3)]
        with pytest.raises(TooManyInFlight):
            futures[2].result(3 * T)
        fake.release_posts()
        assert all("ETH" in f.result(3 * T) for f in futures[:2])
    finally:
        client.stop()


# --------------------------------------------------------------------------- lifecycle


def test_callbacks_and_clean_stop(fake: FakeHyperliquid) -> None:
    """Callbacks receive events on the dispatcher; stop is prompt and idempotent."""
    trades: list[Trade] = []
    got = threading.Event()

    def on_trade(trade: Trade) -> None:
        trades.append(trade)
        got.set()

    client = client_for(fake, on_trade=on_trade)
    with client:
        client.subscribe_trades("ETH")
        fake.wait_for_subscriptions(1)
        fake.publish_trade("ETH", "3500.01", "2")
        assert got.wait(3 * T)
    started = time.monotonic()
    client.stop()
    assert time.monotonic() - started < 1.0
    assert client.state is ConnectionState.CLOSED
    assert trades[0].price == Decimal("3500.01")


def test_streaming_fake_feeds_the_client() -> None:
    """The fake's own market streams trades and books to a client."""
    with FakeHyperliquid(stream=True, rate=200) as fake:
        client = client_for(fake)
        try:
            client.subscribe_trades("BTC")
            client.subscribe_l2_book("BTC")
            client.start(timeout=3 * T)
            next_event(client, lambda e: isinstance(e, Trade))
            next_event(client, lambda e: isinstance(e, Book))
        finally:
            client.stop()


def test_junk_frames_do_not_break_the_stream(fake: FakeHyperliquid) -> None:
    """Non-JSON, a JSON array and unknown channels become non-fatal ErrorEvents on a live
    socket, and the next trade is still delivered. (Text that is not UTF-8 fails the socket
    with 1007 instead, RFC 6455 §8.1: tests/core/test_frames_rfc.py.)"""
    client = client_for(fake)
    try:
        client.subscribe_trades("BTC")
        client.start(timeout=3 * T)
        fake.wait_for_subscriptions(1)
        conn = fake.connections[0]
        conn.send("[1,2]")
        conn.send("{not json")
        conn.send('{"channel":"mystery","data":{}}')
        for _ in range(3):
            err = next_event(client, lambda e: isinstance(e, ErrorEvent))
            assert isinstance(err, ErrorEvent) and not err.fatal
        fake.publish_trade("BTC", "7", "1")
        assert isinstance(next_event(client, lambda e: isinstance(e, Trade)), Trade)
        assert client.state is ConnectionState.CONNECTED and client.stats.reconnects == 0
    finally:
        client.stop()


# --------------------------------------------------------------------------- venue limits


def wait_live(client: HyperliquidClient, subs: list[dict[str, Any]], timeout: float) -> None:
    until(lambda: all(client.is_live(sub) for sub in subs), timeout)


def test_restore_burst_is_paced_under_the_venue_limit() -> None:
    """With the client's budget at the venue's limit (4 a second here), the first burst and
    a reconnect's restore are paced: every subscription goes live, none is refused."""
    coins = [f"C{i}" for i in range(6)]
    with FakeHyperliquid(coins=coins, max_messages_per_minute=4, message_window=1.0) as fake:
        seen: list[ErrorEvent] = []
        client = client_for(fake, message_limit=4, message_window=1.0, on_error=seen.append)
        try:
            subs = [{"type": "trades", "coin": coin} for coin in coins]
            for sub in subs:
                client.subscribe(sub)
            client.start(timeout=3 * T)
            wait_live(client, subs, 5 * T)
            fake.drop_all()
            next_event(client, lambda e: isinstance(e, Status)
                       and e.state is ConnectionState.RECONNECTING)
            wait_live(client, subs, 6 * T)
            assert len(seen) == 1 and isinstance(seen[0].exception, ConnectionLost)
        finally:
            client.stop()


def test_rate_refused_subscriptions_go_live_after_the_window() -> None:
    """Issue 14's reproduction (the venue's budget shared with others, 2 per window here):
    the refused subscriptions are sent again after the window and every one goes live;
    each refusal is reported once."""
    coins = ["BTC", "ETH", "SOL", "C3"]
    with FakeHyperliquid(coins=coins, max_messages_per_minute=2, message_window=0.5) as fake:
        seen: list[ErrorEvent] = []
        client = client_for(fake, message_window=0.5, on_error=seen.append)
        try:
            client.start(timeout=3 * T)
            subs = [{"type": "trades", "coin": coin} for coin in coins]
            for sub in subs:
                client.subscribe(sub)
            wait_live(client, subs, 6 * T)
            assert [client.is_live(sub) for sub in subs] == [True] * 4
            refused = [e for e in seen if e.code == "rate_limited"]
            named = [next(c for c in coins if f'"coin":"{c}"' in e.message) for e in refused]
            assert len(named) == len(set(named)) >= 1
        finally:
            client.stop()


def test_flapping_socket_keeps_every_valid_subscription() -> None:
    """Issue 13 item 4: sockets dropped again and again while the restore's acks are still
    coming never cost a subscription the venue acknowledged before."""
    coins = [f"C{i}" for i in range(40)]
    with FakeHyperliquid(coins=coins) as fake:
        seen: list[ErrorEvent] = []
        client = client_for(fake, on_error=seen.append)
        try:
            subs = [{"type": "l2Book", "coin": coin} for coin in coins]
            for sub in subs:
                client.subscribe(sub)
            client.start(timeout=3 * T)
            wait_live(client, subs, 3 * T)
            for round_ in range(5):
                conn = fake.wait_for_connections(round_ + 1)[-1]
                conn.wait_for_messages(3)  # the restore has begun: drop it midway
                conn.drop()
            fake.wait_for_connections(6)
            wait_live(client, subs, 5 * T)
            assert client.subscriptions == subs
            assert "invalid_subscription" not in {e.code for e in seen}
        finally:
            client.stop()


@pytest.mark.parametrize("after_ack", [True, False])
def test_bbo_with_and_without_a_bbo_after_the_ack(after_ack: bool) -> None:
    """Live on the ack either way; the first Book comes with the ack or with the first
    change of the top of the book."""
    with FakeHyperliquid(bbo_after_ack=after_ack) as fake:
        client = client_for(fake)
        try:
            client.subscribe_bbo("SOL")
            client.start(timeout=3 * T)
            until(lambda: client.is_live({"type": "bbo", "coin": "SOL"}))
            if not after_ack:
                assert not [e for e in client.collect(0.2) if isinstance(e, Book)]
                fake.publish_book("SOL", [("99", "1")], [("101", "1")])
            book = next_event(client, lambda e: isinstance(e, Book))
            assert isinstance(book, Book) and book.symbol == "SOL" and book.is_snapshot
        finally:
            client.stop()


@pytest.mark.parametrize("again", [True, False])
def test_reconnect_with_and_without_a_repeated_backfill(again: bool) -> None:
    """Whether or not the venue re-sends the trades backfill after a reconnect, every trade
    is delivered once."""
    with FakeHyperliquid(backfill_on_resubscribe=again) as fake:
        client = client_for(fake)
        try:
            client.subscribe_trades("BTC")
            client.start(timeout=3 * T)
            fake.wait_for_subscriptions(1)
            first = fake.publish_trade("BTC", "100", "1")
            next_event(client, lambda e: isinstance(e, Trade))
            fake.drop_all()
            fake.wait_for_connections(2)
            until(lambda: client.is_live({"type": "trades", "coin": "BTC"}))
            second = fake.publish_trade("BTC", "101", "1")
            trade = next_event(client, lambda e: isinstance(e, Trade))
            assert isinstance(trade, Trade) and trade.raw["tid"] == second["tid"] != first["tid"]
            assert client.protocol.duplicate_trades == (1 if again else 0)
        finally:
            client.stop()


def test_webdata2_is_refused_up_front(client: HyperliquidClient) -> None:
    """webData2 never reaches the venue (mainnet answers it with a parse error)."""
    with pytest.raises(SubscriptionRejected, match="webData3"):
        client.subscribe({"type": "webData2", "user": USER})
    assert client.subscriptions == []


def test_sockets_and_new_connections_over_the_limits_warn(fake: FakeHyperliquid) -> None:
    """Past the per-IP limits (1 socket, 1 new connection a window here) a client reports
    it, non-fatally, and keeps working."""
    budget = ConnectionBudget(max_open=1, max_per_window=1)
    first = client_for(fake, connection_budget=budget)
    second = client_for(fake, connection_budget=budget)
    try:
        first.start(timeout=3 * T)
        second.start(timeout=3 * T)
        codes = {e.code for e in second.collect(0.2) if isinstance(e, ErrorEvent)}
        assert codes == {"too_many_connections", "too_many_new_connections"}
        assert second.state is ConnectionState.CONNECTED
        assert budget.open_sockets == 2
    finally:
        first.stop()
        second.stop()
    assert budget.open_sockets == 0


def test_reconnects_wait_for_room_in_the_connection_window(fake: FakeHyperliquid) -> None:
    """With 2 new connections a window allowed, the third waits until the window has room,
    however short the backoff."""
    window = 0.8 * T
    client = client_for(fake, connection_budget=ConnectionBudget(max_per_window=2, window=window))
    try:
        began = time.monotonic()
        client.start(timeout=3 * T)
        fake.drop_all()
        fake.wait_for_connections(2)
        fake.drop_all()
        fake.wait_for_connections(3, timeout=3 * T)
        assert time.monotonic() - began >= window * 0.95
    finally:
        client.stop()
