"""FakeHyperliquid: a local server that speaks Hyperliquid's WebSocket API the way mainnet does.

It reproduces the checklist of ``docs/venues/hyperliquid.rst``
docs/venues/hyperliquid.rst#hyperliquid-fake: routing on ``method``;
acks echoing the subscription with the server's defaults filled in; the data that follows an
ack (trades backfill, ``isSnapshot: true`` user snapshots, full states, nothing for
``orderUpdates``/``userEvents``/``notification``); the ``error`` strings verbatim; ping/pong; an
idle close (no close frame) when the server has *sent* nothing for ``idle_timeout`` seconds; a
silent drop of the socket on an invalid coin or parameter; the per-IP limits with their error
strings; and ``post`` info replies (``data: null`` for an unknown coin).

A seeded ``Market`` gives it prices; with ``stream=True`` it streams trades, books, bbo, candles
and mids on its own. Tests script it instead: ``publish_trade``, ``publish_book``,
``publish_fill``, ``publish`` (any channel), ``hold_posts``, plus the kit's faults (``drop_all``,
``go_silent``, ``close_all``)::

    with FakeHyperliquid() as fake:
        client = HyperliquidClient(url=fake.url)
        ...
        fake.publish_trade("BTC", "65000.5", "0.1", side="B")
"""

from __future__ import annotations

import base64
import calendar
import datetime as dt
import json
import re
import threading
import time
import zlib
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Callable, Optional, Union

from wsclients.testing.market import Market
from wsclients.testing.server import FakeConnection, FakeRequest, FakeServer, Message

__all__ = ["FakeHyperliquid", "PostError"]

GREETING = "Websocket connection established."

_PARSE_ERROR = "Error parsing JSON into valid websocket request: "
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}\Z")
_INTERVALS_MS = {
    "1m": 60_000, "3m": 180_000, "5m": 300_000, "15m": 900_000, "30m": 1_800_000,
    "1h": 3_600_000, "2h": 7_200_000, "4h": 14_400_000, "8h": 28_800_000,
    "12h": 43_200_000, "1d": 86_400_000, "3d": 259_200_000, "1w": 604_800_000,
    "1M": 0,  # calendar month, see _bucket
}
_COIN_TYPES = {"trades", "l2Book", "bbo", "candle", "activeAssetCtx", "activeAssetData"}
# webData2 is not here: mainnet answers it with the parse error
# (docs/venues/hyperliquid.rst#hyperliquid-subscriptions).
_USER_TYPES = {
    "notification", "webData3", "twapStates", "clearinghouseState", "openOrders",
    "orderUpdates", "userEvents", "userFills", "userFundings", "userNonFundingLedgerUpdates",
    "activeAssetData", "userTwapSliceFills", "userTwapHistory", "spotState",
    "allDexsClearinghouseState",
}
_KNOWN_TYPES = _COIN_TYPES | _USER_TYPES | {
    "allMids", "allDexsAssetCtxs", "outcomeMetaUpdates", "fastAssetCtxs",
}
# docs/venues/hyperliquid.rst#hyperliquid-subscriptions: user streams whose first frame is an
# isSnapshot:true snapshot, and the list key in it.
_SNAPSHOT_LISTS = {
    "userFills": "fills",
    "userFundings": "fundings",
    "userNonFundingLedgerUpdates": "nonFundingLedgerUpdates",
    "userTwapSliceFills": "twapSliceFills",
    "userTwapHistory": "history",
}


class PostError(Exception):
    """Raised by an ``info_handlers`` entry: the post is answered with ``type: "error"``."""


class _Invalid(Exception):
    """A subscription the real server would drop the socket for
    (docs/venues/hyperliquid.rst#hyperliquid-errors)."""


class _Unparseable(Exception):
    """A request the real server answers with the parse-error string
    (docs/venues/hyperliquid.rst#hyperliquid-errors)."""


class _Session:
    """One client socket: its subscriptions and when the server last sent on it."""

    def __init__(self, conn: FakeConnection) -> None:
        self.conn = conn
        # Guards subs and orders sends on this socket: an ack always precedes its data.
        self.lock = threading.RLock()
        self.subs: dict[str, dict[str, Any]] = {}
        self.last_sent = time.monotonic()
        self.sent_fast: set[str] = set()


class FakeHyperliquid(FakeServer):
    """The fake. All options are keyword-only.

    Args:
        coins: perp coins it lists (any other coin drops the socket, as on mainnet).
        spot_coins: spot names it lists (channel ``activeSpotAssetCtx`` for these).
        seed: seeds the market.
        stream: stream a live-looking market on its own from ``start()``.
        rate: market ticks per second when streaming (each tick: a trade and a book step).
        idle_timeout: seconds without a server→client frame before the socket is cut with no
            close frame (docs/venues/hyperliquid.rst#hyperliquid-heartbeat: 60 s); None turns it
            off.
        max_subscriptions, max_users, max_messages_per_minute, max_inflight_posts: the
            venue's limits (docs/venues/hyperliquid.rst#hyperliquid-limits), counted over
            every connection (one IP).
        trades_backfill: how many recent trades follow a ``trades`` ack
            (docs/venues/hyperliquid.rst#hyperliquid-subscriptions: ~30).
        invalid_subscription: ``"drop"`` (mainnet,
            docs/venues/hyperliquid.rst#hyperliquid-errors) or ``"error"`` (OBS's
            ``Invalid subscription: …``).
        greeting: send the legacy ``Websocket connection established.`` text first.
        message_window: the seconds over which ``max_messages_per_minute`` is counted (60 on
            the venue; shorter in tests).
        bbo_after_ack: send the current bbo right after a ``bbo`` ack. Unconfirmed: the docs
            say a bbo is sent "only if the bbo changes on a block", and a probe saw a quiet
            book acked and then silent (docs/venues/hyperliquid.rst#hyperliquid-subscriptions);
            False models that.
        backfill_on_resubscribe: send the trades backfill on every ``trades`` subscribe. The
            venue sends one after a subscribe
            (docs/venues/hyperliquid.rst#hyperliquid-subscriptions); whether it repeats on a later
            subscribe is unconfirmed (docs/venues/hyperliquid.rst). False sends it only on the
            first subscribe of each
            coin served.
        spot_active_asset_data: what ``activeAssetData`` on a spot coin gets. The venue
            documents it for perps only and says nothing of the answer
            (docs/venues/hyperliquid.rst#hyperliquid-subscriptions):
            ``"drop"`` treats it like the invalid parameters that drop the socket
            (docs/venues/hyperliquid.rst#hyperliquid-errors; an
            assumption), ``"ack"`` acknowledges it and sends nothing.
        max_connections, max_new_connections_per_minute: the per-IP connection limits of the
            venue's rate-limit page (10 sockets, 30 new a minute; None = not enforced, the
            default). The venue does not say how it refuses; assumption: the upgrade is
            answered with HTTP 429 and the socket never opens.
        connection_window: the seconds over which new connections are counted (60).

    Posts are answered at once; ``hold_posts()`` / ``release_posts()`` keep them in flight
    for as long as a test needs.
    """

    def __init__(
        self,
        *,
        coins: Sequence[str] = ("BTC", "ETH", "SOL"),
        spot_coins: Sequence[str] = ("PURR/USDC", "@107"),
        seed: int = 0,
        stream: bool = False,
        rate: float = 20.0,
        idle_timeout: Optional[float] = 60.0,
        max_subscriptions: int = 1000,
        max_users: int = 10,
        max_messages_per_minute: int = 2000,
        max_inflight_posts: int = 100,
        trades_backfill: int = 30,
        invalid_subscription: str = "drop",
        greeting: bool = False,
        message_window: float = 60.0,
        bbo_after_ack: bool = True,
        backfill_on_resubscribe: bool = True,
        spot_active_asset_data: str = "drop",
        max_connections: Optional[int] = None,
        max_new_connections_per_minute: Optional[int] = None,
        connection_window: float = 60.0,
        name: str = "hyperliquid",
        path: str = "/ws",
    ) -> None:
        super().__init__(name, path=path)
        if invalid_subscription not in ("drop", "error"):
            raise ValueError("invalid_subscription is 'drop' or 'error'")
        if spot_active_asset_data not in ("drop", "ack"):
            raise ValueError("spot_active_asset_data is 'drop' or 'ack'")
        self.message_window = message_window
        self.bbo_after_ack = bbo_after_ack
        self.backfill_on_resubscribe = backfill_on_resubscribe
        self.spot_active_asset_data = spot_active_asset_data
        self.max_connections = max_connections
        self.max_new_connections_per_minute = max_new_connections_per_minute
        self.connection_window = connection_window
        self._backfilled: set[str] = set()  # coins subscribed to once (backfill sent)
        self._accepted: deque[float] = deque()  # when upgrades were accepted (one IP)
        self.coins = tuple(coins)
        self.spot_coins = tuple(spot_coins)
        self.rate = rate
        self.idle_timeout = idle_timeout
        self.max_subscriptions = max_subscriptions
        self.max_users = max_users
        self.max_messages_per_minute = max_messages_per_minute
        self.max_inflight_posts = max_inflight_posts
        self.trades_backfill = trades_backfill
        self.invalid_subscription = invalid_subscription
        self.greeting = greeting
        self.info_handlers: dict[str, Callable[[dict[str, Any]], Any]] = {}
        """Extra or replacement ``post`` info handlers by request type; raise ``PostError``
        to answer with an error."""
        # 30 ticks a side (some empty) so that the 20 levels of a book are always there.
        self._market = Market(self.coins + self.spot_coins, seed=seed, depth=30)
        self._market_lock = threading.Lock()  # Market is not thread-safe
        # Guards everything below: sessions, recorded data, limits, held posts.
        self._lock = threading.RLock()
        self._sessions: dict[FakeConnection, _Session] = {}
        self._recent: dict[str, deque[dict[str, Any]]] = {}
        self._books: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {}
        self._bbo: dict[str, Any] = {}
        self._candles: dict[tuple[str, str], dict[str, Any]] = {}
        self._user_lists: dict[tuple[str, str], list[Any]] = {}
        self._states: dict[str, Any] = {}
        self._message_times: deque[float] = deque()
        self._held: Optional[list[tuple[_Session, int, dict[str, Any]]]] = None
        self._inflight = 0
        self._tid = 10**14
        self._streaming = threading.Event()
        if stream:
            self._streaming.set()
        self._threads_running = False

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> FakeHyperliquid:
        """Serve (see ``FakeServer.start``) and start the market and idle-check threads."""
        super().start()
        with self._lock:
            if self._threads_running:
                return self
            self._threads_running = True
        self.start_thread(self._stream_loop, name="market")
        if self.idle_timeout is not None:
            self.start_thread(self._idle_loop, name="idle")
        return self

    def stop(self, timeout: float = 5.0) -> None:
        super().stop(timeout)
        with self._lock:
            self._threads_running = False

    def start_streaming(self, rate: Optional[float] = None) -> None:
        """Stream the market on its own (``rate`` ticks per second)."""
        if rate is not None:
            self.rate = rate
        self._streaming.set()

    def stop_streaming(self) -> None:
        """Stop the live market (``stream=True``); the server itself keeps running."""
        self._streaming.clear()

    # ----------------------------------------------------------------- records

    def subscriptions(self, conn: Optional[FakeConnection] = None) -> list[dict[str, Any]]:
        """The normalized subscriptions live on ``conn`` (default: on every open socket)."""
        with self._lock:
            sessions = [self._sessions[conn]] if conn is not None else list(
                self._sessions.values())
        result: list[dict[str, Any]] = []
        for session in sessions:
            with session.lock:
                result.extend(dict(sub) for sub in session.subs.values())
        return result

    def wait_for_subscriptions(self, n: int, *, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Wait until ``n`` subscriptions are live over the open sockets; return them."""
        deadline = time.monotonic() + timeout
        while True:
            subs = self.subscriptions()
            if len(subs) >= n:
                return subs
            if time.monotonic() > deadline:
                raise TimeoutError(f"fake hyperliquid: {len(subs)} of {n} subscriptions")
            self.stopping.wait(0.005)

    # ----------------------------------------------------------------- scripting

    def publish_trade(
        self,
        coin: str,
        px: Union[str, Decimal],
        sz: Union[str, Decimal],
        *,
        side: str = "B",
        time_ms: Optional[int] = None,
        tid: Optional[int] = None,
        users: Optional[Sequence[str]] = None,
    ) -> dict[str, Any]:
        """Print one trade: sent to ``trades`` subscribers, kept for the backfill, and folded
        into the coin's candles. Returns the WsTrade object sent."""
        with self._lock:
            self._tid += 1
            trade = {
                "coin": coin, "side": side, "px": str(px), "sz": str(sz),
                "time": _now_ms() if time_ms is None else time_ms,
                "hash": "0x" + "0" * 64, "tid": self._tid if tid is None else tid,
                "users": list(users or ["0x" + "1" * 40, "0x" + "2" * 40]),
            }
            self._recent.setdefault(coin, deque(maxlen=max(1, self.trades_backfill))).append(
                trade)
        self._send_matching(
            lambda sub: sub["type"] == "trades" and sub["coin"] == coin,
            lambda sub: {"channel": "trades", "data": [trade]},
        )
        for interval in _INTERVALS_MS:
            self._update_candle(coin, interval, trade)
        return trade

    def publish_book(
        self,
        coin: str,
        bids: Iterable[Sequence[Any]],
        asks: Iterable[Sequence[Any]],
        *,
        time_ms: Optional[int] = None,
    ) -> None:
        """Set ``coin``'s book to these ``(px, sz[, n])`` levels (best first) and push it to
        every ``l2Book`` subscriber (20 levels, 5 with ``fast``) and to ``bbo`` if it changed."""
        book = ([_level(level) for level in bids], [_level(level) for level in asks])
        when = _now_ms() if time_ms is None else time_ms
        with self._lock:
            self._books[coin] = book
        self._push_book(coin, book, when)

    def publish_fill(
        self, user: str, fill: Optional[Mapping[str, Any]] = None, **fields: Any
    ) -> dict[str, Any]:
        """A fill of ``user``: kept for the ``userFills`` snapshot and sent on ``userFills``
        and ``userEvents`` (channel ``user``). Returns the WsFill sent."""
        with self._lock:
            self._tid += 1
            made: dict[str, Any] = {
                "coin": "BTC", "px": "65000.0", "sz": "0.01", "side": "B", "time": _now_ms(),
                "startPosition": "0.0", "dir": "Open Long", "closedPnl": "0.0",
                "hash": "0x" + "0" * 64, "oid": self._tid, "crossed": True, "fee": "0.01",
                "tid": self._tid, "feeToken": "USDC", "twapId": None,
            }
            made.update(fill or {})
            made.update(fields)
            self._user_lists.setdefault(("userFills", user.lower()), []).append(made)
        lowered = user.lower()
        self._send_matching(
            lambda sub: sub["type"] == "userFills" and sub["user"].lower() == lowered,
            lambda sub: {"channel": "userFills", "data": {"user": sub["user"], "fills": [made]}},
        )
        self._send_matching(
            lambda sub: sub["type"] == "userEvents" and sub["user"].lower() == lowered,
            lambda sub: {"channel": "user", "data": {"fills": [made]}},
        )
        return made

    def publish(self, subscription: Mapping[str, Any], data: Any) -> int:
        """Send ``data`` on the channel of ``subscription`` to every socket subscribed to it
        (``userEvents`` → channel ``user``; spot ``activeAssetCtx`` → ``activeSpotAssetCtx``).
        Returns how many sockets got it."""
        wanted = self._normalize(dict(subscription))
        channel = self._channel(wanted)
        return self._send_matching(
            lambda sub: sub == wanted, lambda sub: {"channel": channel, "data": data}
        )

    def set_state(self, subscription: Mapping[str, Any], data: Any) -> None:
        """The frame sent right after the ack of ``subscription`` from now on (for the
        full-state and snapshot types; ``None`` sends nothing)."""
        with self._lock:
            self._states[_key(self._normalize(dict(subscription)))] = data

    def send_all(self, message: Message) -> None:
        """Send a raw frame to every open socket (counts as server traffic)."""
        with self._lock:
            sessions = list(self._sessions.values())
        for session in sessions:
            with session.lock:
                self._send(session, message)

    def hold_posts(self) -> None:
        """Keep post answers in flight until ``release_posts()`` (to reach the limit)."""
        with self._lock:
            if self._held is None:
                self._held = []

    def release_posts(self) -> int:
        """Answer every held post, in order; returns how many."""
        with self._lock:
            held, self._held = self._held or [], None
            self._inflight -= len(held)
        for session, request_id, response in held:
            with session.lock:
                self._send(session, {"channel": "post", "data": {"id": request_id,
                                                                 "response": response}})
        return len(held)

    def book_of(self, coin: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The book as the fake serves it (published, else the market's), WsLevel dicts."""
        with self._lock:
            book = self._books.get(coin)
        if book is not None:
            return book
        with self._market_lock:
            bids, asks = self._market.book(coin)
        return ([_level(level) for level in bids], [_level(level) for level in asks])

    # ----------------------------------------------------------------- connection hooks

    def check_handshake(self, request: FakeRequest) -> Optional[tuple[int, str]]:
        """The per-IP connection limits, when enabled (HTTP 429 is an assumption)."""
        now = time.monotonic()
        with self._lock:
            accepted = self._accepted
            while accepted and now - accepted[0] > self.connection_window:
                accepted.popleft()
            if self.max_connections is not None and len(self._sessions) >= self.max_connections:
                return 429, f"more than {self.max_connections} websocket connections"
            limit = self.max_new_connections_per_minute
            if limit is not None and len(accepted) >= limit:
                return 429, f"more than {limit} new websocket connections per minute"
            accepted.append(now)
        return None

    def on_connect(self, conn: FakeConnection) -> None:
        session = _Session(conn)
        with self._lock:
            self._sessions[conn] = session
        if self.greeting:
            with session.lock:
                self._send(session, GREETING)

    def on_disconnect(self, conn: FakeConnection) -> None:
        with self._lock:
            self._sessions.pop(conn, None)
            if self._held is not None:
                kept = [item for item in self._held if item[0].conn is not conn]
                self._inflight -= len(self._held) - len(kept)
                self._held = kept

    def on_message(self, conn: FakeConnection, message: Message) -> None:
        with self._lock:
            session = self._sessions.get(conn)
        if session is None:
            return
        text = message if isinstance(message, str) else message.decode("utf-8", "replace")
        if not self._count_message():
            with session.lock:
                self._error(session, "Cannot send more than "
                            f"{self.max_messages_per_minute} messages per minute.")
            return
        try:
            request = json.loads(text)
            if not isinstance(request, dict):
                raise _Unparseable
            method = request.get("method")
            if method == "ping":
                with session.lock:
                    self._send(session, {"channel": "pong"})
            elif method in ("subscribe", "unsubscribe"):
                subscription = request.get("subscription")
                if not isinstance(subscription, dict):
                    raise _Unparseable
                self._subscription(session, method, subscription)
            elif method == "post":
                self._post(session, request)
            else:
                raise _Unparseable
        except (_Unparseable, ValueError):
            with session.lock:
                self._error(session, _PARSE_ERROR + text)
        except _Invalid as exc:
            if self.invalid_subscription == "error":
                with session.lock:
                    self._error(session, f"Invalid subscription: {exc}")
            else:
                # docs/venues/hyperliquid.rst#hyperliquid-errors (TP-A): no message, the socket is
                # cut with no close frame.
                conn.drop()

    # ----------------------------------------------------------------- subscriptions

    def _subscription(self, session: _Session, method: str, raw: dict[str, Any]) -> None:
        sub = self._normalize(raw)
        key = _key(sub)
        echo = json.dumps(sub, separators=(",", ":"))
        # Counted before taking this socket's lock: counting takes the other sockets' locks.
        refusal = self._limit_refusal(sub) if method == "subscribe" else None
        with session.lock:
            if method == "unsubscribe":
                if key not in session.subs:
                    self._error(session, "Already unsubscribed: " + echo)
                    return
                del session.subs[key]
                self._send(session, {"channel": "subscriptionResponse",
                                     "data": {"method": "unsubscribe", "subscription": sub}})
                return
            if key in session.subs:
                self._error(session, "Already subscribed: " + echo)
                return
            if refusal is not None:
                self._error(session, refusal)
                return
            self._send(session, {"channel": "subscriptionResponse",
                                 "data": {"method": "subscribe", "subscription": sub}})
            session.subs[key] = sub
            session.sent_fast.discard(key)
            for frame in self._initial_frames(sub, key):
                self._send(session, frame)

    def _limit_refusal(self, sub: dict[str, Any]) -> Optional[str]:
        """docs/venues/hyperliquid.rst#hyperliquid-errors limit errors, counted over every open
        socket (one IP)."""
        with self._lock:
            sessions = list(self._sessions.values())
        total = 0
        users: set[str] = set()
        for session in sessions:
            with session.lock:
                total += len(session.subs)
                users.update(s["user"].lower() for s in session.subs.values() if "user" in s)
        if total >= self.max_subscriptions:
            return f"Cannot subscribe to more than {self.max_subscriptions} channels."
        if "user" in sub and sub["user"].lower() not in users and len(users) >= self.max_users:
            return f"Cannot track more than {self.max_users} total users."
        return None

    def _normalize(self, raw: dict[str, Any]) -> dict[str, Any]:
        """The subscription as the server echoes it
        (docs/venues/hyperliquid.rst#hyperliquid-envelope), or _Unparseable / _Invalid."""
        kind = raw.get("type")
        if not isinstance(kind, str) or kind not in _KNOWN_TYPES:
            raise _Unparseable
        sub: dict[str, Any] = {"type": kind}
        if kind == "candle":
            # Echo key order follows the server's struct: interval before coin
            # (docs/venues/hyperliquid.rst#hyperliquid-envelope).
            interval = raw.get("interval")
            if not isinstance(interval, str) or interval not in _INTERVALS_MS:
                raise _Unparseable
            sub["interval"] = interval
        if "user" in raw or kind in _USER_TYPES:
            user = raw.get("user")
            if not isinstance(user, str) or not _ADDRESS.match(user):
                raise _Unparseable
            sub["user"] = user
        if kind in _COIN_TYPES:
            coin = raw.get("coin")
            if not isinstance(coin, str):
                raise _Unparseable
            sub["coin"] = coin
        for name in ("dex",):
            if name in raw:
                if not isinstance(raw[name], str):
                    raise _Unparseable
                sub[name] = raw[name]
        if kind == "l2Book":
            n_sig_figs = raw.get("nSigFigs")
            mantissa = raw.get("mantissa")
            fast = raw.get("fast", False)
            for value in (n_sig_figs, mantissa):
                if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                    raise _Unparseable
            if not isinstance(fast, bool):
                raise _Unparseable
            sub.update({"nSigFigs": n_sig_figs, "mantissa": mantissa, "fast": fast})
        if kind == "userFills" and "aggregateByTime" in raw:
            if not isinstance(raw["aggregateByTime"], bool):
                raise _Unparseable
            sub["aggregateByTime"] = raw["aggregateByTime"]
        if kind == "spotState" and "isPortfolioMargin" in raw:
            # docs/venues/hyperliquid.rst#hyperliquid-envelope (TP-B)
            sub["ignorePortfolioMargin"] = bool(raw["isPortfolioMargin"])
        self._check_valid(sub)
        return sub

    def _check_valid(self, sub: dict[str, Any]) -> None:
        """docs/venues/hyperliquid.rst#hyperliquid-errors: what makes mainnet drop the socket
        instead of answering."""
        coin = sub.get("coin")
        if coin is not None and coin not in self.coins and coin not in self.spot_coins:
            raise _Invalid(json.dumps(sub, separators=(",", ":")))
        if (
            sub["type"] == "activeAssetData" and coin in self.spot_coins
            and self.spot_active_asset_data == "drop"
        ):
            # perps only (docs/venues/hyperliquid.rst#hyperliquid-subscriptions)
            raise _Invalid(json.dumps(sub, separators=(",", ":")))
        if sub["type"] == "l2Book":
            n_sig_figs, mantissa = sub["nSigFigs"], sub["mantissa"]
            if n_sig_figs is not None and not 2 <= n_sig_figs <= 5:
                raise _Invalid(json.dumps(sub, separators=(",", ":")))
            if mantissa is not None and (n_sig_figs != 5 or mantissa not in (1, 2, 5)):
                raise _Invalid(json.dumps(sub, separators=(",", ":")))

    def _channel(self, sub: Mapping[str, Any]) -> str:
        kind = str(sub["type"])
        if kind == "userEvents":
            return "user"
        if kind == "activeAssetCtx" and sub.get("coin") in self.spot_coins:
            return "activeSpotAssetCtx"
        return kind

    def _initial_frames(self, sub: dict[str, Any], key: str) -> list[dict[str, Any]]:
        """What follows an ack (docs/venues/hyperliquid.rst#hyperliquid-subscriptions "Snap"
        column, docs/venues/hyperliquid.rst#hyperliquid-fake)."""
        kind = sub["type"]
        channel = self._channel(sub)
        with self._lock:
            if key in self._states:
                state = self._states[key]
                return [] if state is None else [{"channel": channel, "data": state}]
        coin = sub.get("coin", "")
        user = sub.get("user", "")
        if kind == "trades":
            with self._lock:
                recent = list(self._recent.get(coin, ()))
                first = coin not in self._backfilled
                self._backfilled.add(coin)
            if not first and not self.backfill_on_resubscribe:
                return []
            return [{"channel": "trades", "data": recent}] if recent else []
        if kind == "l2Book":
            bids, asks = self.book_of(coin)
            depth = 5 if sub["fast"] else 20
            data: dict[str, Any] = {"coin": coin, "time": _now_ms(),
                                    "levels": [bids[:depth], asks[:depth]]}
            if sub["fast"]:
                data["fast"] = True
            return [{"channel": "l2Book", "data": data}]
        if kind == "bbo":
            if not self.bbo_after_ack:
                return []
            bids, asks = self.book_of(coin)
            return [{"channel": "bbo", "data": {
                "coin": coin, "time": _now_ms(),
                "bbo": [bids[0] if bids else None, asks[0] if asks else None]}}]
        if kind == "candle":
            with self._lock:
                candle = self._candles.get((coin, sub["interval"]))
            return [{"channel": "candle", "data": dict(candle)}] if candle else []
        if kind in _SNAPSHOT_LISTS:
            with self._lock:
                items = list(self._user_lists.get((kind, user.lower()), ()))
            return [{"channel": kind, "data": {"isSnapshot": True, "user": user,
                                               _SNAPSHOT_LISTS[kind]: items}}]
        if kind in ("orderUpdates", "userEvents", "notification", "outcomeMetaUpdates"):
            return []  # docs/venues/hyperliquid.rst#hyperliquid-subscriptions: no snapshot
        state = self._default_state(sub)
        return [] if state is None else [{"channel": channel, "data": state}]

    def _default_state(self, sub: dict[str, Any]) -> Any:
        kind = sub["type"]
        user = sub.get("user", "")
        dex = sub.get("dex", "")
        if kind == "allMids":
            mids = {} if dex else self._mids()
            return {"dex": dex, "mids": mids} if dex else {"mids": mids}
        if kind == "activeAssetCtx":
            return {"coin": sub["coin"], "ctx": self._ctx(sub["coin"])}
        if kind == "allDexsAssetCtxs":
            return {"ctxs": [["", [self._ctx(coin) for coin in self.coins]]]}
        if kind == "fastAssetCtxs":
            return _deflate_b64({coin: {"markPx": mid, "midPx": mid}
                                 for coin, mid in self._mids().items()})
        if kind == "activeAssetData":
            if sub["coin"] in self.spot_coins:
                return None  # spot_active_asset_data="ack": acked, nothing follows
            return {"user": user, "coin": sub["coin"], "leverage": {"type": "cross", "value": 20},
                    "maxTradeSzs": ["0.0", "0.0"], "availableToTrade": ["0.0", "0.0"],
                    "markPx": self._mids().get(sub["coin"], "0.0")}
        if kind == "webData3":
            return {"userState": {"agentAddress": None, "agentValidUntil": None,
                                  "serverTime": _now_ms(), "cumLedger": "0.0", "isVault": False,
                                  "user": user},
                    "perpDexStates": [{"totalVaultEquity": "0.0"}]}
        if kind == "twapStates":
            return {"dex": dex, "user": user, "states": []}
        if kind == "clearinghouseState":
            summary = {"accountValue": "0.0", "totalNtlPos": "0.0", "totalRawUsd": "0.0",
                       "totalMarginUsed": "0.0"}
            return {"dex": dex, "user": user, "clearinghouseState": {
                "assetPositions": [], "marginSummary": summary, "crossMarginSummary": summary,
                "crossMaintenanceMarginUsed": "0.0", "withdrawable": "0.0"}}
        if kind == "openOrders":
            return {"dex": dex, "user": user, "orders": []}
        if kind == "spotState":
            return {"user": user, "spotState": {"balances": []}}
        if kind == "allDexsClearinghouseState":
            return {"user": user, "clearinghouseStates": []}
        return None

    # ----------------------------------------------------------------- posts

    def _post(self, session: _Session, request: dict[str, Any]) -> None:
        request_id = request.get("id")
        body = request.get("request")
        if (
            not isinstance(request_id, int) or isinstance(request_id, bool)
            or not isinstance(body, dict) or body.get("type") not in ("info", "action")
            or not isinstance(body.get("payload"), dict)
        ):
            raise _Unparseable
        if body["type"] == "action":
            # docs/venues/hyperliquid.rst#hyperliquid-post (TP-B): a bad signature comes back as an
            # action answer, not an error.
            response: dict[str, Any] = {"type": "action", "payload": {
                "status": "err", "response": "Unable to recover signer."}}
        else:
            payload = body["payload"]
            kind = payload.get("type")
            handler = self.info_handlers.get(kind) if isinstance(kind, str) else None
            if handler is None and isinstance(kind, str):
                handler = self._builtin_info(kind)
            if handler is None:
                # docs/venues/hyperliquid.rst#hyperliquid-post: unknown info type → parse error, id
                # lost
                raise _Unparseable
            try:
                response = {"type": "info", "payload": {"type": kind, "data": handler(payload)}}
            except PostError as exc:
                response = {"type": "error", "payload": str(exc)}
        with self._lock:
            if self._held is not None:
                if self._inflight >= self.max_inflight_posts:
                    refusal = f"too many pending post requests id={request_id}"
                else:
                    self._inflight += 1
                    self._held.append((session, request_id, response))
                    return
            else:
                refusal = None
        with session.lock:
            if refusal is not None:
                self._error(session, refusal)
            else:
                self._send(session, {"channel": "post",
                                     "data": {"id": request_id, "response": response}})

    def _builtin_info(self, kind: str) -> Optional[Callable[[dict[str, Any]], Any]]:
        def l2_book(payload: dict[str, Any]) -> Any:
            coin = payload.get("coin")
            if coin not in self.coins and coin not in self.spot_coins:
                # docs/venues/hyperliquid.rst#hyperliquid-post (TP-A): unknown coin → data: null
                return None
            bids, asks = self.book_of(str(coin))
            return {"coin": coin, "time": _now_ms(), "levels": [bids[:20], asks[:20]]}

        def recent_trades(payload: dict[str, Any]) -> Any:
            with self._lock:
                return list(self._recent.get(str(payload.get("coin")), ()))

        def user_fills(payload: dict[str, Any]) -> Any:
            with self._lock:
                return list(self._user_lists.get(("userFills", str(payload.get("user")).lower()),
                                                 ()))

        builtins: dict[str, Callable[[dict[str, Any]], Any]] = {
            "l2Book": l2_book,
            "allMids": lambda payload: self._mids(),
            "recentTrades": recent_trades,
            "userFills": user_fills,
            "openOrders": lambda payload: [],
            "candleSnapshot": lambda payload: [],
        }
        return builtins.get(kind)

    # ----------------------------------------------------------------- sending

    def _send(self, session: _Session, frame: Union[str, bytes, dict[str, Any]]) -> None:
        """Send on one socket (caller holds ``session.lock``); counts as server traffic."""
        if isinstance(frame, dict):
            frame = json.dumps(frame, separators=(",", ":"))
        if session.conn.is_silent:
            return  # nothing reaches the client: it does not reset the idle clock either
        session.conn.send(frame)
        session.last_sent = time.monotonic()

    def _error(self, session: _Session, text: str) -> None:
        self._send(session, {"channel": "error", "data": text})

    def _send_matching(
        self,
        match: Callable[[dict[str, Any]], bool],
        build: Callable[[dict[str, Any]], Optional[dict[str, Any]]],
    ) -> int:
        with self._lock:
            sessions = list(self._sessions.values())
        count = 0
        for session in sessions:
            with session.lock:
                for sub in list(session.subs.values()):
                    if match(sub):
                        frame = build(sub)
                        if frame is not None:
                            self._send(session, frame)
                            count += 1
        return count

    def _count_message(self) -> bool:
        """docs/venues/hyperliquid.rst#hyperliquid-limits: messages per minute over all sockets;
        False when over the limit."""
        now = time.monotonic()
        with self._lock:
            times = self._message_times
            while times and now - times[0] > self.message_window:
                times.popleft()
            if len(times) >= self.max_messages_per_minute:
                return False
            times.append(now)
            return True

    # ----------------------------------------------------------------- market

    def _push_book(
        self, coin: str,
        book: tuple[list[dict[str, Any]], list[dict[str, Any]]],
        when: int,
    ) -> None:
        bids, asks = book

        def l2(sub: dict[str, Any]) -> dict[str, Any]:
            depth = 5 if sub["fast"] else 20
            data: dict[str, Any] = {"coin": coin, "time": when,
                                    "levels": [bids[:depth], asks[:depth]]}
            if sub["fast"]:
                data["fast"] = True
            return {"channel": "l2Book", "data": data}

        self._send_matching(lambda sub: sub["type"] == "l2Book" and sub["coin"] == coin, l2)
        top = [bids[0] if bids else None, asks[0] if asks else None]
        with self._lock:
            changed = self._bbo.get(coin) != top
            self._bbo[coin] = top
        if changed:  # docs/venues/hyperliquid.rst#hyperliquid-subscriptions: only when it changed
            self._send_matching(
                lambda sub: sub["type"] == "bbo" and sub["coin"] == coin,
                lambda sub: {"channel": "bbo", "data": {"coin": coin, "time": when, "bbo": top}},
            )

    def _update_candle(self, coin: str, interval: str, trade: dict[str, Any]) -> None:
        start, end = _bucket(trade["time"], interval)
        px = Decimal(trade["px"])
        with self._lock:
            candle = self._candles.get((coin, interval))
            if candle is None or candle["t"] != start:
                candle = {"t": start, "T": end, "s": coin, "i": interval, "o": trade["px"],
                          "c": trade["px"], "h": trade["px"], "l": trade["px"], "v": "0", "n": 0}
            candle = dict(candle)
            candle["c"] = trade["px"]
            if px > Decimal(candle["h"]):
                candle["h"] = trade["px"]
            if px < Decimal(candle["l"]):
                candle["l"] = trade["px"]
            candle["v"] = str(Decimal(candle["v"]) + Decimal(trade["sz"]))
            candle["n"] += 1
            self._candles[(coin, interval)] = candle
        self._send_matching(
            lambda sub: sub["type"] == "candle" and sub["coin"] == coin
            and sub["interval"] == interval,
            lambda sub: {"channel": "candle", "data": candle},
        )

    def _mids(self) -> dict[str, str]:
        with self._market_lock:
            return {coin: str(self._market.mid(coin)) for coin in self.coins + self.spot_coins}

    def _ctx(self, coin: str) -> dict[str, Any]:
        with self._market_lock:
            bid, ask = self._market.touch(coin)
            mid = str((bid + ask) / 2)
        if coin in self.spot_coins:
            return {"dayNtlVlm": "0.0", "markPx": mid, "midPx": mid, "prevDayPx": mid,
                    "circulatingSupply": "1000000.0", "coin": coin}
        return {"funding": "0.0000125", "openInterest": "1000.0", "prevDayPx": mid,
                "dayNtlVlm": "0.0", "premium": "0.0", "oraclePx": mid, "markPx": mid,
                "midPx": mid, "impactPxs": [str(bid), str(ask)], "dayBaseVlm": "0.0"}

    def tick(self) -> None:
        """One market step: a trade and a book change on a random coin, then mids, asset
        contexts and fastAssetCtxs deltas for whoever subscribed to them."""
        with self._market_lock:
            trade = self._market.next_trade()
            coin = trade.symbol
            self._market.step_book(coin)
            bids, asks = self._market.book(coin)
        self.publish_trade(coin, trade.price, trade.size,
                           side="B" if trade.side == "buy" else "A")
        with self._lock:
            self._books.pop(coin, None)  # the market moves on from any scripted book
        self._push_book(coin, ([_level(x) for x in bids], [_level(x) for x in asks]), _now_ms())
        mids = self._mids()
        self._send_matching(lambda sub: sub["type"] == "allMids" and not sub.get("dex"),
                            lambda sub: {"channel": "allMids", "data": {"mids": mids}})
        self._send_matching(
            lambda sub: sub["type"] == "activeAssetCtx" and sub["coin"] == coin,
            lambda sub: {"channel": self._channel(sub),
                         "data": {"coin": coin, "ctx": self._ctx(coin)}},
        )
        delta = _deflate_b64({coin: {"markPx": mids[coin], "midPx": mids[coin]}})
        self._send_matching(lambda sub: sub["type"] == "fastAssetCtxs",
                            lambda sub: {"channel": "fastAssetCtxs", "data": delta})

    def _stream_loop(self) -> None:
        while not self.stopping.is_set():
            if not self._streaming.is_set():
                self.stopping.wait(0.05)
                continue
            self.tick()
            self.stopping.wait(1.0 / max(self.rate, 0.001))

    def _idle_loop(self) -> None:
        """docs/venues/hyperliquid.rst#hyperliquid-heartbeat: cut sockets the server has sent
        nothing on for ``idle_timeout`` seconds, with
        no close frame (the client sees 1006)."""
        assert self.idle_timeout is not None
        period = min(max(self.idle_timeout / 5, 0.005), 1.0)
        while not self.stopping.wait(period):
            now = time.monotonic()
            with self._lock:
                sessions = list(self._sessions.values())
            for session in sessions:
                if now - session.last_sent > self.idle_timeout and session.conn.is_open:
                    session.conn.drop()


def _key(sub: Mapping[str, Any]) -> str:
    return json.dumps(dict(sorted(sub.items())), separators=(",", ":"))


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _level(level: Sequence[Any]) -> dict[str, Any]:
    """``(px, sz[, n])`` → WsLevel ``{"px": str, "sz": str, "n": int}``."""
    count = int(level[2]) if len(level) > 2 else 1
    return {"px": str(level[0]), "sz": str(level[1]), "n": count}


def _deflate_b64(value: Any) -> str:
    """docs/venues/hyperliquid.rst#hyperliquid-subscriptions: base64 of raw DEFLATE of the JSON."""
    compressor = zlib.compressobj(wbits=-15)
    blob = compressor.compress(json.dumps(value, separators=(",", ":")).encode())
    return base64.b64encode(blob + compressor.flush()).decode()


def _bucket(time_ms: int, interval: str) -> tuple[int, int]:
    """Open and close ms of the candle of ``interval`` holding ``time_ms``."""
    span = _INTERVALS_MS[interval]
    if span:
        start = time_ms - time_ms % span
        return start, start + span - 1
    day = dt.datetime.fromtimestamp(time_ms / 1000, tz=dt.timezone.utc)
    first = day.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    days = calendar.monthrange(first.year, first.month)[1]
    start = int(first.timestamp() * 1000)
    return start, start + days * 86_400_000 - 1
