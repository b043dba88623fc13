"""Hyperliquid: the sans-I/O protocol (subscriptions, parsing, acks, errors, posts) and the client.

One socket carries every subscription (``{"method":"subscribe","subscription":{…}}``), an
app-level heartbeat (``{"method":"ping"}`` → ``{"channel":"pong"}``) and ``post`` requests
matched by ``id``. Facts and their sources: ``shared/venues/hyperliquid.md`` (cited as §N).
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
import threading
import time
import zlib
from collections import deque
from collections.abc import Mapping
from concurrent.futures import Future
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Optional, Union

import attrs

from wsclients.core import codec
from wsclients.core.amounts import checked_amount
from wsclients.core.client import DEFAULT, Seconds, SubscribingClient
from wsclients.core.pending import wait_result
from wsclients.core.protocol import CloseRequest, ProtocolBuffers
from wsclients.core.rest import tls_options
from wsclients.errors import (
    ClientStopped,
    ProtocolViolation,
    RequestFailed,
    SubscriptionRejected,
    TooManyInFlight,
    WSClientError,
    shorten,
)
from wsclients.models import Book, BookLevel, ErrorEvent, Message, Side, Trade
from wsclients.venues.hyperliquid_limits import (
    CONNECTIONS,
    MAX_MESSAGES_PER_MINUTE,
    ConnectionBudget,
    MessageBudget,
    PacedBackoff,
)

if TYPE_CHECKING:
    from wsclients.venues.hyperliquid_rest import HyperliquidInfo

__all__ = [
    "CANDLE_INTERVALS",
    "HyperliquidClient",
    "MAINNET_URL",
    "TESTNET_URL",
    "HyperliquidProtocol",
    "Subscription",
    "book_from_l2",
    "decode_fast_asset_ctxs",
    "subscription_key",
    "trade_from_item",
    "validate_subscription",
]

logger = logging.getLogger(__name__)

VENUE = "hyperliquid"

MAINNET_URL = "wss://api.hyperliquid.xyz/ws"
TESTNET_URL = "wss://api.hyperliquid-testnet.xyz/ws"

Subscription = dict[str, Any]
"""A subscription object exactly as sent in ``{"method":"subscribe","subscription":…}``."""

# §2 row 7: the only intervals the server knows.
CANDLE_INTERVALS = frozenset(
    ["1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "8h", "12h", "1d", "3d", "1w", "1M"]
)

# §2: the fields each subscription type takes. "coin"/"user"/"interval" are required where
# listed in the first set, the second set holds optional fields and their defaults.
_REQUIRED: dict[str, tuple[str, ...]] = {
    "allMids": (),
    "notification": ("user",),
    "webData3": ("user",),
    "twapStates": ("user",),
    "clearinghouseState": ("user",),
    "openOrders": ("user",),
    "candle": ("coin", "interval"),
    "l2Book": ("coin",),
    "trades": ("coin",),
    "orderUpdates": ("user",),
    "userEvents": ("user",),
    "userFills": ("user",),
    "userFundings": ("user",),
    "userNonFundingLedgerUpdates": ("user",),
    "activeAssetCtx": ("coin",),
    "activeAssetData": ("user", "coin"),
    "userTwapSliceFills": ("user",),
    "userTwapHistory": ("user",),
    "bbo": ("coin",),
    "spotState": ("user",),
    "allDexsClearinghouseState": ("user",),
    "allDexsAssetCtxs": (),
    "outcomeMetaUpdates": (),
    "fastAssetCtxs": (),
}
_OPTIONAL: dict[str, dict[str, Any]] = {
    "allMids": {"dex": None},
    "twapStates": {"dex": None},
    "clearinghouseState": {"dex": None},
    "openOrders": {"dex": None},
    "l2Book": {"nSigFigs": None, "mantissa": None, "fast": False},
    "userFills": {"aggregateByTime": False},
    "spotState": {"isPortfolioMargin": False},
}

# §1: channel names that differ from the subscription type.
_CHANNEL_TO_TYPE = {"user": "userEvents", "activeSpotAssetCtx": "activeAssetCtx"}
# §1: spotState's isPortfolioMargin comes back as ignorePortfolioMargin (TP-B only); its value
# may not mean the same, so it is left out of the ack match.
_ECHO_ALIASES = frozenset(["ignorePortfolioMargin"])
# One rule for is_snapshot: a push that replaces the state it describes is a snapshot. These
# types send their whole state on every push (§2 "Snap" column: "full state", "full map
# every push", a coin's whole context); the user streams say so themselves (isSnapshot), and
# fastAssetCtxs sends a snapshot and then only changes. A candle push replaces only the
# current candle of a series, so it is an update.
_FULL_STATE = frozenset([
    "allMids", "webData3", "twapStates", "clearinghouseState", "openOrders", "spotState",
    "allDexsClearinghouseState", "allDexsAssetCtxs", "activeAssetCtx", "activeAssetData",
    "assetCtxs", "spotAssetCtxs",
])
# Types the venue no longer serves, with what it answers (§2 row 3b).
_RETIRED = {
    "webData2": (
        "webData2 is no longer served: mainnet answers it with \"Error parsing JSON into "
        "valid websocket request\"; subscribe to webData3 instead"
    ),
}
_KNOWN_CHANNELS = frozenset(_REQUIRED) | frozenset(
    ["assetCtxs", "spotAssetCtxs", "userHistoricalOrders"]  # §2 "+": NKTKAS-only types
)

_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}\Z")
_SIDES = {"B": Side.BUY, "A": Side.SELL}  # §2.1 WsTrade: aggressor side
_GREETING = "Websocket connection established."  # §1: legacy non-JSON greeting
_GREETINGS = frozenset([_GREETING, _GREETING.encode()])  # frames come as str or bytes
_GREETING_LEN = len(_GREETING)
_PING = '{"method":"ping"}'

# §5.1 error strings, verbatim prefixes.
_ALREADY_SUBSCRIBED = "Already subscribed: "
_ALREADY_UNSUBSCRIBED = "Already unsubscribed: "
_PARSE_ERROR = "Error parsing JSON into valid websocket request: "
_INVALID_SUBSCRIPTION = "Invalid subscription: "
_TOO_MANY_SUBSCRIPTIONS = "Cannot subscribe to more than"
_TOO_MANY_USERS = "Cannot track more than"
_TOO_MANY_MESSAGES = "Cannot send more than"
_TOO_MANY_POSTS = re.compile(r"too many pending post requests id=(\d+)\s*\Z")
_POST_LIMIT = 100  # §5.2: 100 simultaneous inflight posts


# --------------------------------------------------------------------------- validation


def _check_coin(subscription: Mapping[str, Any], coin: Any) -> str:
    """A coin the server will not drop the socket for (§5.1 last row)."""
    if not isinstance(coin, str) or not coin or coin != coin.strip() or " " in coin:
        raise SubscriptionRejected(subscription, f"coin must be a non-empty name, got {coin!r}")
    dex, sep, name = coin.partition(":")
    if sep:
        # §1: HIP-3 perps are "dex:COIN"; §5.1: an uppercase dex prefix drops the socket.
        if not dex or not name or dex != dex.lower():
            raise SubscriptionRejected(
                subscription, f"builder-dex coin must look like 'xyz:COIN', got {coin!r}"
            )
    else:
        name = coin
    if name[0] not in "@#" and name.islower():
        # §5.1: a lowercase coin drops the socket; names are case-sensitive ("BTC", "kPEPE").
        raise SubscriptionRejected(
            subscription, f"coin names are case-sensitive: {coin!r} (did you mean "
            f"{coin[: len(coin) - len(name)] + name.upper()!r}?)"
        )
    return coin


def _check_user(subscription: Mapping[str, Any], user: Any) -> str:
    if not isinstance(user, str) or not _ADDRESS.match(user):
        raise SubscriptionRejected(
            subscription, f"user must be a 0x-prefixed 40-hex-digit address, got {user!r}"
        )
    return user.lower()


def validate_subscription(subscription: Mapping[str, Any]) -> Subscription:
    """Check a subscription before it is sent and return the object to send.

    The server answers a bad coin or ``nSigFigs`` by dropping the whole socket without a word
    (§5.1), taking every other subscription with it, so known types are checked here first.
    Addresses are lower-cased; optional fields left at their defaults are omitted (the server
    fills them in, §1) and ``mantissa=1`` is sent as no mantissa (same aggregation, §2.1).
    Unknown types pass through untouched apart from the shape check.

    Raises:
        SubscriptionRejected: the subscription would be refused or would kill the socket.
    """
    if not isinstance(subscription, Mapping):
        raise SubscriptionRejected(subscription, "a subscription is a dict with a 'type'")
    kind = subscription.get("type")
    if not isinstance(kind, str) or not kind:
        raise SubscriptionRejected(subscription, "a subscription needs a 'type' string")
    if kind in _RETIRED:
        raise SubscriptionRejected(subscription, _RETIRED[kind])
    if kind not in _REQUIRED:
        return dict(subscription)
    optional = _OPTIONAL.get(kind, {})
    unknown = set(subscription) - {"type"} - set(_REQUIRED[kind]) - set(optional)
    if unknown:
        raise SubscriptionRejected(subscription, f"unknown field(s) for {kind}: {sorted(unknown)}")
    result: Subscription = {"type": kind}
    for name in _REQUIRED[kind]:
        if name not in subscription:
            raise SubscriptionRejected(subscription, f"{kind} needs {name!r}")
        value = subscription[name]
        if name == "coin":
            result[name] = _check_coin(subscription, value)
        elif name == "user":
            result[name] = _check_user(subscription, value)
        else:  # interval
            if value not in CANDLE_INTERVALS:
                raise SubscriptionRejected(
                    subscription, f"interval must be one of {sorted(CANDLE_INTERVALS)}"
                )
            result[name] = value
    for name, default in optional.items():
        value = subscription.get(name, default)
        if name == "dex":
            if value is not None and (
                not isinstance(value, str) or value != value.strip().lower() or ":" in value
            ):
                raise SubscriptionRejected(subscription, f"dex must be a lowercase name: {value!r}")
        elif name in ("fast", "aggregateByTime", "isPortfolioMargin"):
            if not isinstance(value, bool):
                raise SubscriptionRejected(subscription, f"{name} must be True or False")
        elif name == "nSigFigs":
            # §2.1: nSigFigs ∈ {2,3,4,5,null}; §5.1: 6 drops the socket.
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or not 2 <= value <= 5
            ):
                raise SubscriptionRejected(subscription, "nSigFigs must be 2, 3, 4, 5 or None")
        elif name == "mantissa" and value is not None:
            # §2.1 conflict: the docs allow 1, 2, 5 with nSigFigs 5; NKTKAS and OBS allow 2, 5.
            # We accept all three and send 1 as "no mantissa" (the same step, §2.1 TP-A table),
            # so the server only ever sees the values every source agrees on.
            if isinstance(value, bool) or value not in (1, 2, 5):
                raise SubscriptionRejected(subscription, "mantissa must be 1, 2, 5 or None")
            if subscription.get("nSigFigs") != 5:
                raise SubscriptionRejected(subscription, "mantissa is only allowed with nSigFigs=5")
            if value == 1:
                value = None
        if value != default or isinstance(value, bool) != isinstance(default, bool):
            result[name] = value
    if kind == "activeAssetData" and ("/" in result["coin"] or result["coin"].startswith("@")):
        # §2 row 16: perps only; what the venue answers for a spot coin is not documented.
        raise SubscriptionRejected(subscription, "activeAssetData is for perp coins only")
    return result


def subscription_key(subscription: Mapping[str, Any]) -> str:
    """A canonical identity for a (validated) subscription: sorted compact JSON.

    Two spellings the server treats as one (explicit defaults, mixed-case address) get one key.
    """
    clean = validate_subscription(subscription)
    return codec.dumps(dict(sorted(clean.items())))


def _echo_matches(sent: Mapping[str, Any], echo: Mapping[str, Any]) -> bool:
    """Whether a server echo (normalized, defaults filled, §1) is the subscription we sent.

    Subset match as NKTKAS does: every field we sent must agree where the echo has it (the
    server may rename or drop fields, e.g. spotState), and any extra echoed field must hold a
    default (null / false / "").
    """
    for name, value in sent.items():
        if name in echo:
            other = echo[name]
            if name == "user" and isinstance(other, str) and isinstance(value, str):
                if other.lower() != value.lower():
                    return False
            elif other != value or isinstance(other, bool) != isinstance(value, bool):
                return False
    return all(
        name in sent or name in _ECHO_ALIASES or value is None or value is False or value == ""
        for name, value in echo.items()
    )


# --------------------------------------------------------------------------- parsing helpers


def _decimal(value: Any, what: str = "price or size") -> Decimal:
    """Prices and sizes are decimal strings on the wire (§2); never go through float. Neither
    is ever negative, NaN or infinite on Hyperliquid: such a value is a broken frame."""
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        try:
            return checked_amount(Decimal(value), what)
        except ArithmeticError as exc:  # decimal.InvalidOperation: not a number at all
            raise ProtocolViolation(f"{what} is not a decimal string", raw=value) from exc
    raise ProtocolViolation(f"expected a decimal string, got {type(value).__name__}")


def _int(value: Any, what: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ProtocolViolation(f"{what} must be an integer, got {type(value).__name__}")


def _str(value: Any, what: str) -> str:
    if isinstance(value, str):
        return value
    raise ProtocolViolation(f"{what} must be a string, got {type(value).__name__}")


def _levels(side: Any) -> tuple[BookLevel, ...]:
    if not isinstance(side, list):
        raise ProtocolViolation("book side must be a list")
    return tuple(
        BookLevel(_decimal(level["px"], "price"), _decimal(level["sz"], "size"),
                  _int(level["n"], "n"))
        for level in side
    )


def decode_fast_asset_ctxs(data: str) -> Any:
    """§2 row 24: ``data`` is base64 of raw DEFLATE (RFC 1951) of a JSON object, inflated
    to at most ``codec.MAX_INFLATED_SIZE`` bytes (else ``MessageTooLarge``, a ValueError)."""
    return codec.loads(codec.inflate_raw(base64.b64decode(data, validate=True)))


def trade_from_item(item: Mapping[str, Any], received_ns: int) -> Trade:
    """One WsTrade object (socket ``trades`` item or REST ``recentTrades`` element) → Trade.

    Raises:
        ProtocolViolation, KeyError, TypeError, ArithmeticError: the item is malformed.
    """
    # The hot path of a trades stream: exact-type checks first, the helpers (and their error
    # messages) only for anything unusual.
    coin = item["coin"]
    if type(coin) is not str:
        coin = _str(coin, "coin")
    time_ms = item["time"]
    if type(time_ms) is not int:
        time_ms = _int(time_ms, "time")
    tid = item["tid"]
    if type(tid) is not int:
        tid = _int(tid, "tid")
    side = _SIDES.get(item["side"])
    if side is None:
        raise ProtocolViolation(f"trade side must be 'A' or 'B', got {item['side']!r}")
    px = item["px"]
    sz = item["sz"]
    return Trade(
        venue=VENUE,
        symbol=coin,
        price=_decimal(px, "price"),
        size=_decimal(sz, "size"),
        side=side,
        # §2.1: "for a globally unique trade id, use (block_time, coin, tid)".
        trade_id=f"{time_ms}:{tid}",
        timestamp_ns=time_ms * 1_000_000,
        received_ns=received_ns,
        raw=item,
    )


def book_from_l2(data: Mapping[str, Any], received_ns: int) -> Book:
    """An l2Book payload (socket frame ``data`` or REST answer) → snapshot Book.

    Raises:
        ProtocolViolation, KeyError, TypeError, ValueError, ArithmeticError: malformed data.
    """
    bids, asks = data["levels"]
    return Book(
        venue=VENUE,
        symbol=_str(data["coin"], "coin"),
        bids=_levels(bids),
        asks=_levels(asks),
        timestamp_ns=_int(data["time"], "time") * 1_000_000,
        received_ns=received_ns,
        is_snapshot=True,  # §2 row 8: every l2Book frame is a full snapshot
        raw=data,
    )


class _SubState:
    """What the protocol knows about one subscription on the current socket."""

    __slots__ = (
        "acked", "live", "rate_reported", "snapshot_due", "strikes", "subscription", "suspect",
    )

    def __init__(self, subscription: Subscription) -> None:
        self.subscription = subscription
        self.live = False
        self.strikes = 0
        # Acknowledged on some socket once: the venue knows it, so it is never struck out.
        self.acked = False
        # In flight, never acked, when a socket died beside others: sent alone next time.
        self.suspect = False
        # Refused by the message limit and reported; reset when it goes live.
        self.rate_reported = False
        # fastAssetCtxs: the first frame after (re)subscribing is a snapshot (§2 row 24).
        self.snapshot_due = True


_PARSE_ERRORS = (KeyError, TypeError, ValueError, ArithmeticError, IndexError, AttributeError)


# --------------------------------------------------------------------------- protocol


class HyperliquidProtocol(ProtocolBuffers):
    """Hyperliquid's wire protocol with no socket, thread or clock (DESIGN §6.1).

    Args:
        on_rejected: told of a subscription the server refused for good (it is no longer
            restored after reconnects).
        trade_memory: how many recent trades per coin are remembered to drop the backfill the
            server re-sends after every (re)subscribe (§2 row 9).
        max_missed_pongs: pings in a row left unanswered before asking for a reconnect.
        max_strikes: sockets in a row that died while a subscription was waiting for its ack
            before that subscription is declared invalid (the server drops the socket instead
            of answering a bad coin, §5.1; without this the client would loop forever).
        message_budget: paces every frame sent (subscribes, unsubscribes, pings, posts)
            under the venue's 2000 messages a minute; frames over it wait here and go out
            on ``on_tick``. Kept across sockets, so a restore burst after a reconnect is
            paced too.
        connection_budget: counts the sockets of the process (the venue allows 10 per IP);
            None counts nothing.

    Strikes (the venue's only answer to an invalid subscription is a dropped socket): a
    strike is counted only when the subscription was the one frame still waiting for its
    ack when the socket died; one that dies unacked beside others becomes a *suspect* and is
    sent alone, after the restore is acknowledged, on the next socket. A subscription the
    venue acknowledged once is never struck out.

    The protocol owns the one registry of subscriptions: ``subscribe``/``unsubscribe``
    (commands from the client) register and send when a socket is up, and ``on_open``
    restores every one on each new socket. Single-threaded: the connection serialises every
    call into it.
    """

    venue = VENUE

    def __init__(
        self,
        *,
        on_rejected: Optional[Callable[[Subscription], None]] = None,
        trade_memory: int = 2000,
        max_missed_pongs: int = 2,
        max_strikes: int = 3,
        message_budget: Optional[MessageBudget] = None,
        connection_budget: Optional[ConnectionBudget] = None,
    ) -> None:
        super().__init__()
        self._posts: set[int] = set()  # ids of posts sent on this socket, not answered yet
        self._on_rejected = on_rejected
        self._trade_memory = trade_memory
        self._max_missed_pongs = max_missed_pongs
        self._max_strikes = max_strikes
        self._subs: dict[str, _SubState] = {}
        self._pending: list[str] = []  # keys sent on this socket, waiting for their ack, in order
        self._budget = message_budget if message_budget is not None else MessageBudget()
        self._connections = connection_budget
        self._socket_counted = False
        # Frames over the message budget, in order: (kind, subscription key or None, text).
        self._queue: deque[tuple[str, Optional[str], str]] = deque()
        self._held: list[str] = []  # suspects not sent on this socket yet
        self._probing: Optional[str] = None  # the suspect sent alone on this socket
        # Subscriptions the message limit refused: (when to send again, key); None = one
        # window after the next tick.
        self._retry: list[tuple[Optional[float], str]] = []
        self._now: Optional[float] = None  # the last tick's clock
        self._missed_pongs = 0
        # Reader thread only: recent trade ids per coin, kept across reconnects for dedupe.
        self._seen: dict[str, tuple[deque[str], set[str]]] = {}
        self._last_received_ns = 0
        self.duplicate_trades = 0
        """Trades dropped because they were already delivered (backfill after resubscribe)."""

    # ----------------------------------------------------------------- VenueProtocol

    def on_open(self) -> None:
        """A fresh socket: nothing is live on it yet; every registered subscription is sent
        again, in the order it was made (suspects afterwards, one at a time), paced by the
        message budget.

        Remembered trades are kept so the backfill after the restore is deduplicated.
        """
        self._pending.clear()
        self._posts.clear()
        self._queue.clear()
        self._held.clear()
        self._retry.clear()
        self._probing = None
        self._missed_pongs = 0
        self._count_socket()
        self.open_session()
        for key, state in self._subs.items():
            state.live = False
            state.snapshot_due = True
            if state.suspect:
                self._held.append(key)
            else:
                self._send_subscribe(key)
        self._probe()

    def on_close(self, code: Optional[int], reason: str) -> None:
        """Posts and unsent frames are tied to their socket (answers never come on another
        one); nothing is live any more."""
        self._posts.clear()
        self._queue.clear()
        for state in self._subs.values():
            state.live = False
        if self._socket_counted and self._connections is not None:
            self._connections.closed()
        self._socket_counted = False

    def on_tick(self, now: float) -> None:
        """Send what waited for the message budget, retry refused subscriptions
        whose window has passed, and send the next suspect alone when the socket is quiet."""
        self._now = now
        if self._retry:
            due: list[str] = []
            waiting: list[tuple[Optional[float], str]] = []
            for when, key in self._retry:
                if when is None:
                    waiting.append((now + self._budget.window, key))
                elif when <= now:
                    due.append(key)
                else:
                    waiting.append((when, key))
            self._retry = waiting
            for key in due:
                state = self._subs.get(key)
                if state is not None and not state.live and key not in self._pending:
                    self._send_subscribe(key)
        while self._queue and self._budget.available():
            self._emit(*self._queue.popleft())
        self._probe()

    def receive_text(self, data: Union[str, bytes], *, received_ns: int) -> None:
        """Parse one frame into events. Never raises; a bad frame becomes an ``ErrorEvent``."""
        self._last_received_ns = received_ns
        try:
            self._receive(data, received_ns)
        except _PARSE_ERRORS + (WSClientError,) as exc:
            self._report(exc, received_ns, data)
        except Exception as exc:  # should never run: keep the reader alive anyway
            logger.error("unexpected error parsing a frame", exc_info=True)
            self._report(exc, received_ns, data)

    def ping_message(self) -> Optional[str]:
        """``{"method":"ping"}`` (§3); asks for a reconnect when pongs stopped coming."""
        if self.reader_held_up:  # the pongs may wait unread behind the user's backlog
            self._missed_pongs = 0
        self._missed_pongs += 1
        missed = self._missed_pongs - 1
        if missed >= self._max_missed_pongs and self.close_request is None:
            self.close_request = CloseRequest(f"no pong to the last {missed} pings")
        self._budget.spend()  # the heartbeat goes even over budget; what waits goes later
        return _PING

    def is_fatal(self, code: Optional[int], exc: Optional[BaseException]) -> bool:
        """Nothing on Hyperliquid is fatal: every close is followed by a reconnect.

        The socket has ended: the server closes without a word on an invalid coin or
        parameter (§5.1). A never-acknowledged subscription that was the only frame waiting
        for an ack gets a strike; never-acknowledged ones that were waiting beside others
        become suspects (sent alone next time). Acknowledged-before ones are never blamed.
        """
        rejected: list[Subscription] = []
        unacked = [key for key in self._pending
                   if key in self._subs and not self._subs[key].acked]
        if len(self._pending) == 1 and len(unacked) == 1:
            state = self._subs[unacked[0]]
            state.strikes += 1
            state.suspect = True
            if state.strikes >= self._max_strikes:
                self._drop_key(unacked[0])
                rejected.append(state.subscription)
        else:
            for key in unacked:
                self._subs[key].suspect = True
        self._pending.clear()
        self._probing = None
        for subscription in rejected:
            reason = (
                f"the server closed the socket {self._max_strikes} times in a row before "
                "acknowledging it (unknown coin or invalid parameters?)"
            )
            self._reject_subscription(subscription, reason, "invalid_subscription", None)
        return False

    # ----------------------------------------------------------------- outgoing

    def subscribe(self, subscription: Mapping[str, Any]) -> bool:
        """Register a subscription and, on a live socket, send it (a command).

        Returns:
            False when it was registered already (nothing is sent).

        Raises:
            SubscriptionRejected: the subscription is invalid (nothing is sent).
        """
        clean = validate_subscription(subscription)
        key = subscription_key(clean)
        if key in self._subs:
            return False
        self._subs[key] = _SubState(clean)
        if self.session_up:
            self._send_subscribe(key)  # else on_open sends it with the others
        return True

    def unsubscribe(self, subscription: Mapping[str, Any]) -> bool:
        """Forget a subscription and, on a live socket, cancel it (a command).

        Returns:
            False when it was not registered.
        """
        clean = validate_subscription(subscription)
        key = subscription_key(clean)
        if key not in self._subs:
            return False
        # Never sent on this socket (waiting for budget, held back, refused by the limit):
        # the venue does not have it, so there is nothing to cancel.
        unsent = (key in self._held or any(k == key for _, k in self._retry)
                  or any(k == key for _, k, _ in self._queue))
        frame = self.unsubscribe_message(clean)
        if self.session_up and frame is not None and not unsent:
            self._send("unsubscribe", None, frame)
        return True

    def post(self, request_id: int, request: Mapping[str, Any]) -> None:
        """Queue a ``post`` (a request command); its answer comes back as a reply."""
        self._posts.add(request_id)
        self._send("post", None, self.post_message(request_id, request))

    def _send_subscribe(self, key: str) -> None:
        self._send("subscribe", key, _subscribe_frame(self._subs[key].subscription))

    def _send(self, kind: str, key: Optional[str], text: str) -> None:
        """Send now when the budget allows and nothing waits before it; else wait in line."""
        if not self._queue and self._budget.available():
            self._emit(kind, key, text)
        else:
            self._queue.append((kind, key, text))

    def _emit(self, kind: str, key: Optional[str], text: str) -> None:
        if kind == "subscribe":
            if key is None or key not in self._subs:
                return  # forgotten while it waited
            if key not in self._pending:
                self._pending.append(key)
        self._budget.spend()
        self._outgoing.append(text)

    def _probe(self) -> None:
        """Send the next suspect alone, once nothing else waits for an ack or for budget."""
        if (
            not self._held or self._probing is not None or self._pending or not self.session_up
            or any(kind == "subscribe" for kind, _, _ in self._queue)
        ):
            return
        order = {key: index for index, key in enumerate(self._subs)}
        key = min(self._held, key=lambda k: (self._subs[k].strikes, order[k]))
        self._held.remove(key)
        self._probing = key
        self._send_subscribe(key)

    def _drop_key(self, key: str) -> None:
        """Forget a subscription everywhere it may wait."""
        self._subs.pop(key, None)
        if key in self._pending:
            self._pending.remove(key)
        if key in self._held:
            self._held.remove(key)
        if self._probing == key:
            self._probing = None
        self._retry = [(when, k) for when, k in self._retry if k != key]
        if any(k == key for _, k, _ in self._queue):
            self._queue = deque(item for item in self._queue if item[1] != key)

    def _count_socket(self) -> None:
        """Count this socket process-wide and warn past the venue's 10 per IP."""
        if self._connections is None or self._socket_counted:
            return
        self._socket_counted = True
        open_now = self._connections.opened()
        if open_now > self._connections.max_open:
            text = (
                f"{open_now} Hyperliquid sockets are open in this process; the venue allows "
                f"{self._connections.max_open} per IP and may refuse more"
            )
            logger.warning("%s", text)
            self._emit_error(text, "too_many_connections", self._last_received_ns, None,
                             WSClientError(text))

    def subscribe_message(self, subscription: Mapping[str, Any]) -> str:
        """Validate a subscription, track it as waiting for its ack, and return the frame.

        Raises:
            SubscriptionRejected: the subscription is invalid (nothing is sent).
        """
        clean = validate_subscription(subscription)
        key = subscription_key(clean)
        state = self._subs.get(key)
        if state is None:
            state = self._subs[key] = _SubState(clean)
        state.live = False
        state.snapshot_due = True
        if key not in self._pending:
            self._pending.append(key)
        return _subscribe_frame(clean)

    def unsubscribe_message(self, subscription: Mapping[str, Any]) -> Optional[str]:
        """Forget a subscription and return the frame that cancels it (same object, §1)."""
        clean = validate_subscription(subscription)
        self.discard(clean)
        return codec.dumps({"method": "unsubscribe", "subscription": clean})

    def discard(self, subscription: Mapping[str, Any]) -> None:
        """Stop tracking a subscription without sending anything. Idempotent."""
        self._drop_key(subscription_key(subscription))

    def post_message(self, request_id: int, request: Mapping[str, Any]) -> str:
        """``{"method":"post","id":…,"request":{"type":"info"|"action","payload":…}}`` (§4)."""
        return codec.dumps({"method": "post", "id": request_id, "request": request})

    @property
    def registered(self) -> list[Subscription]:
        """Every registered subscription, in the order it was made."""
        return [state.subscription for state in self._subs.values()]

    # ----------------------------------------------------------------- state queries

    def is_live(self, subscription: Mapping[str, Any]) -> bool:
        """Whether the server has acknowledged this subscription on the current socket."""
        key = subscription_key(subscription)
        state = self._subs.get(key)
        return state is not None and state.live

    def subscriptions(self) -> dict[str, bool]:
        """Every tracked subscription (by key) and whether it is live on this socket."""
        return {key: state.live for key, state in self._subs.items()}

    # ----------------------------------------------------------------- parsing

    def _receive(self, data: Union[str, bytes], received_ns: int) -> None:
        if len(data) == _GREETING_LEN and data in _GREETINGS:
            return  # §1: legacy greeting, tolerated
        try:
            frame = codec.loads(data)
        except ValueError as exc:
            raise ProtocolViolation("frame is not valid UTF-8 JSON", raw=data) from exc
        if not isinstance(frame, dict) or not isinstance(frame.get("channel"), str):
            raise ProtocolViolation("frame has no 'channel'", raw=data)
        channel: str = frame["channel"]
        if channel == "trades":
            self._trades(frame, received_ns)
        elif channel == "l2Book":
            self._l2book(frame, received_ns)
        elif channel == "bbo":
            self._bbo(frame, received_ns)
        elif channel == "pong":
            self._missed_pongs = 0
        elif channel == "subscriptionResponse":
            self._ack(frame)
        elif channel == "error":
            self._error(frame, received_ns)
        elif channel == "post":
            self._post(frame, received_ns)
        else:
            self._message(channel, frame, received_ns)

    def _trades(self, frame: dict[str, Any], received_ns: int) -> None:
        items = frame["data"]
        if not isinstance(items, list):
            raise ProtocolViolation("trades data must be a list", raw=frame)
        for item in items:
            try:
                trade = self._trade(item, received_ns)
            except _PARSE_ERRORS + (WSClientError,) as exc:
                self._report(exc, received_ns, item)
                continue
            if trade is not None:
                self._events.append(trade)

    def _trade(self, item: dict[str, Any], received_ns: int) -> Optional[Trade]:
        trade = trade_from_item(item, received_ns)
        if self._is_duplicate(trade.symbol, trade.trade_id):
            self.duplicate_trades += 1
            return None
        return trade

    def _is_duplicate(self, coin: str, trade_id: str) -> bool:
        memory = self._seen.get(coin)
        if memory is None:
            memory = self._seen[coin] = (deque(), set())
        order, seen = memory
        if trade_id in seen:
            return True
        seen.add(trade_id)
        order.append(trade_id)
        if len(order) > self._trade_memory:
            seen.discard(order.popleft())
        return False

    def _l2book(self, frame: dict[str, Any], received_ns: int) -> None:
        self._events.append(book_from_l2(frame["data"], received_ns))

    def _bbo(self, frame: dict[str, Any], received_ns: int) -> None:
        data = frame["data"]
        bid, ask = data["bbo"]  # §2 row 19: [level | null, level | null]
        self._events.append(
            Book(
                venue=VENUE,
                symbol=_str(data["coin"], "coin"),
                bids=_levels([bid] if bid is not None else []),
                asks=_levels([ask] if ask is not None else []),
                timestamp_ns=_int(data["time"], "time") * 1_000_000,
                received_ns=received_ns,
                is_snapshot=True,
                raw=data,
            )
        )

    def _message(self, channel: str, frame: dict[str, Any], received_ns: int) -> None:
        kind = _CHANNEL_TO_TYPE.get(channel, channel)
        if kind not in _KNOWN_CHANNELS and not self._tracks_type(kind):
            raise ProtocolViolation(f"unknown channel {channel!r}", raw=frame)
        if "data" not in frame:
            raise ProtocolViolation(f"{channel} frame without data", raw=frame)
        data = frame["data"]
        is_snapshot = False
        if kind == "fastAssetCtxs":
            if not isinstance(data, str):
                raise ProtocolViolation("fastAssetCtxs data must be a base64 string", raw=frame)
            try:
                data = decode_fast_asset_ctxs(data)
            except (binascii.Error, zlib.error, ValueError) as exc:
                raise ProtocolViolation("fastAssetCtxs payload does not decode", raw=frame) from exc
            is_snapshot = self._take_snapshot_flag(kind)
        elif kind in _FULL_STATE:
            is_snapshot = True
        elif isinstance(data, dict):
            # §2.1: the first message has isSnapshot: true; a missing key means false.
            is_snapshot = data.get("isSnapshot") is True
        symbol: Optional[str] = None
        if isinstance(data, dict):
            for name in ("coin", "s", "user", "dex"):
                value = data.get(name)
                if isinstance(value, str) and value:
                    symbol = value
                    break
        self._events.append(
            Message(
                venue=VENUE,
                channel=kind,
                data=data,
                received_ns=received_ns,
                is_snapshot=is_snapshot,
                symbol=symbol,
                raw=frame,
            )
        )

    def _tracks_type(self, kind: str) -> bool:
        return any(state.subscription["type"] == kind for state in self._subs.values())

    def _take_snapshot_flag(self, kind: str) -> bool:
        for state in self._subs.values():
            if state.subscription["type"] == kind and state.snapshot_due:
                state.snapshot_due = False
                return True
        return False

    # ----------------------------------------------------------------- control frames

    def _ack(self, frame: dict[str, Any]) -> None:
        data = frame["data"]
        method = data["method"]
        echo = data["subscription"]
        if not isinstance(echo, dict):
            raise ProtocolViolation("ack without a subscription object", raw=frame)
        if method == "subscribe":
            if self._mark_live(echo) is None:
                logger.debug("ack for a subscription we do not track: %s", shorten(echo))
            self._probe()
        elif method != "unsubscribe":
            raise ProtocolViolation(f"ack for unknown method {method!r}", raw=frame)

    def _mark_live(self, echo: Mapping[str, Any]) -> Optional[Subscription]:
        """Mark the tracked subscription matching ``echo`` live; pending ones first, in order."""
        candidates = self._pending + [k for k in self._subs if k not in self._pending]
        for key in candidates:
            state = self._subs.get(key)
            if state is not None and _echo_matches(state.subscription, echo):
                state.live = True
                state.acked = True
                state.suspect = False
                state.strikes = 0
                state.rate_reported = False
                if key in self._pending:
                    self._pending.remove(key)
                if self._probing == key:
                    self._probing = None
                return state.subscription
        return None

    def _oldest_pending(self, *, with_user: bool = False) -> Optional[Subscription]:
        """The subscribe the server is answering when an error echoes nothing (§5.1: limit
        errors are not correlated): acks come in order, so it is the oldest unacked one."""
        for key in self._pending:
            state = self._subs.get(key)
            if state is not None and (not with_user or "user" in state.subscription):
                return state.subscription
        return None

    def _error(self, frame: dict[str, Any], received_ns: int) -> None:
        text = frame["data"]
        if not isinstance(text, str):
            raise ProtocolViolation("error frame data must be a string", raw=frame)
        if text.startswith(_ALREADY_SUBSCRIBED):
            echo = _json_object(text[len(_ALREADY_SUBSCRIBED):])
            # A restore (or a repeat) of something the server already has: it is live.
            if echo is not None and self._mark_live(echo) is not None:
                logger.debug("%s", text)
                return
            self._emit_error(text, "already_subscribed", received_ns, frame,
                             SubscriptionRejected(echo or text, text))
        elif text.startswith(_ALREADY_UNSUBSCRIBED):
            echo = _json_object(text[len(_ALREADY_UNSUBSCRIBED):])
            self._emit_error(text, "already_unsubscribed", received_ns, frame,
                             SubscriptionRejected(echo or text, text))
        elif text.startswith(_PARSE_ERROR):
            self._parse_error(text, received_ns, frame)
        elif text.startswith(_INVALID_SUBSCRIPTION):
            echo = _json_object(text[len(_INVALID_SUBSCRIPTION):])
            sent = self._forget(echo) if echo is not None else None
            if sent is not None:
                self._reject_subscription(sent, text, "invalid_subscription", frame, received_ns)
            else:
                self._emit_error(text, "invalid_subscription", received_ns, frame,
                                 SubscriptionRejected(echo or text, text))
        elif text.startswith(_TOO_MANY_SUBSCRIPTIONS) or text.startswith(_TOO_MANY_USERS):
            user_limit = text.startswith(_TOO_MANY_USERS)
            code = "too_many_users" if user_limit else "too_many_subscriptions"
            sub = self._oldest_pending(with_user=user_limit)
            if sub is not None:
                self._forget(sub)
                self._reject_subscription(sub, text, code, frame, received_ns)
            else:
                self._emit_error(text, code, received_ns, frame, SubscriptionRejected(text, text))
        elif text.startswith(_TOO_MANY_MESSAGES):
            self._rate_limited(text, received_ns, frame)
        else:
            match = _TOO_MANY_POSTS.search(text)
            if match is not None:
                request_id = int(match.group(1))
                if request_id in self._posts:
                    self._posts.discard(request_id)
                    self.reply(request_id, error=TooManyInFlight(_POST_LIMIT))
                    return
                self._emit_error(text, "too_many_posts", received_ns, frame,
                                 TooManyInFlight(_POST_LIMIT))
                return
            self._emit_error(text, "error", received_ns, frame, RequestFailed(text))

    def _rate_limited(self, text: str, received_ns: int, frame: dict[str, Any]) -> None:
        """§5.1: the message limit refused a frame without naming it. Acks come in order, so
        it is taken to be the oldest subscribe still waiting; that one is sent again one
        window later (not left registered but dead until a reconnect) and reported once."""
        key = self._pending[0] if self._pending else None
        if key is None:
            self._emit_error(text, "rate_limited", received_ns, frame, RequestFailed(text))
            return
        self._pending.remove(key)
        if self._probing == key:
            self._probing = None
        self._retry.append((None if self._now is None else self._now + self._budget.window, key))
        state = self._subs[key]
        if state.rate_reported:
            logger.debug("%s (again for %s)", text, shorten(state.subscription))
            return
        state.rate_reported = True
        message = (f"{text} Refused {codec.dumps(state.subscription)}; sending it again in "
                   f"{self._budget.window:g} s")
        self._emit_error(message, "rate_limited", received_ns, frame,
                         RequestFailed(message, request="subscribe"))

    def _parse_error(self, text: str, received_ns: int, frame: dict[str, Any]) -> None:
        """§5.1: the server could not read one of our frames; it echoes the frame."""
        request = _json_object(text[len(_PARSE_ERROR):])
        if request is not None and request.get("method") == "subscribe":
            sub = request.get("subscription")
            sent = self._forget(sub) if isinstance(sub, dict) else None
            if sent is not None:
                self._reject_subscription(sent, text, "parse_error", frame, received_ns)
                return
            self._emit_error(text, "parse_error", received_ns, frame,
                             SubscriptionRejected(sub, text))
            return
        if request is not None and request.get("method") == "post":
            request_id = request.get("id")
            exc = RequestFailed(text, request="post")
            if isinstance(request_id, int) and request_id in self._posts:
                self._posts.discard(request_id)
                self.reply(request_id, error=exc)
                return
            self._emit_error(text, "parse_error", received_ns, frame, exc)
            return
        self._emit_error(text, "parse_error", received_ns, frame, ProtocolViolation(text))

    def _forget(self, echo: Mapping[str, Any]) -> Optional[Subscription]:
        """Stop tracking the subscription ``echo`` names; return what we had sent."""
        for key, state in list(self._subs.items()):
            if state.subscription == echo or _echo_matches(state.subscription, echo):
                self._drop_key(key)
                return state.subscription
        return None

    def _reject_subscription(
        self,
        subscription: Subscription,
        reason: str,
        code: str,
        raw: Any,
        received_ns: Optional[int] = None,
    ) -> None:
        """Report a refused subscription and tell the owner to stop restoring it."""
        self._emit_error(
            reason, code, self._last_received_ns if received_ns is None else received_ns, raw,
            SubscriptionRejected(subscription, reason, code=code),
        )
        if self._on_rejected is not None:
            self._on_rejected(subscription)

    def _post(self, frame: dict[str, Any], received_ns: int) -> None:
        data = frame["data"]
        request_id = _int(data["id"], "post id")
        response = data["response"]
        if not isinstance(response, dict):
            raise ProtocolViolation("post response must be an object", raw=frame)
        if request_id not in self._posts:
            # Not one of ours on this socket (sent raw, or answered after its caller gave up).
            self._events.append(
                Message(venue=VENUE, channel="post", data=data, received_ns=received_ns, raw=frame)
            )
            return
        self._posts.discard(request_id)
        if response.get("type") == "error":
            # §4: an error payload is a string mirroring the HTTP status and description.
            payload = response.get("payload")
            self.reply(request_id, error=RequestFailed(
                payload if isinstance(payload, str) else shorten(payload),
                request=f"post {request_id}",
            ))
        else:
            self.reply(request_id, response)

    # ----------------------------------------------------------------- errors out

    def _emit_error(
        self, message: str, code: str, received_ns: int, raw: Any, exc: BaseException
    ) -> None:
        self._events.append(
            ErrorEvent(
                venue=VENUE, message=message, received_ns=received_ns, code=code,
                fatal=False, exception=exc, raw=raw,
            )
        )

    def _report(self, exc: BaseException, received_ns: int, raw: Any) -> None:
        if not isinstance(exc, WSClientError):
            wrapped = ProtocolViolation(f"cannot parse frame ({type(exc).__name__}: {exc})")
            wrapped.__cause__ = exc
            exc = wrapped
        if isinstance(raw, (str, bytes, bytearray)):
            raw = shorten(raw)
        self._events.append(
            ErrorEvent.from_exception(
                exc, venue=VENUE, received_ns=received_ns, fatal=False, raw=raw,
                code="protocol_violation",
            )
        )


def _subscribe_frame(subscription: Subscription) -> str:
    return codec.dumps({"method": "subscribe", "subscription": subscription})


def _json_object(text: str) -> Optional[dict[str, Any]]:
    """The JSON object echoed in an error string, or None when it is not one."""
    try:
        value = codec.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


# --------------------------------------------------------------------------- client


def _sub(kind: str, **fields: Any) -> Subscription:
    """A subscription object with the venue's field names; None-valued options left out."""
    subscription: Subscription = {"type": kind}
    subscription.update((name, value) for name, value in fields.items() if value is not None)
    return subscription


class HyperliquidClient(SubscribingClient):
    """Hyperliquid's public WebSocket API: market data, user streams and ``post`` requests.

    ::

        hl = HyperliquidClient(on_trade=print)
        hl.subscribe_trades("SOL")
        hl.subscribe_l2_book("BTC", n_sig_figs=5, mantissa=2)
        hl.start()
        book = hl.info({"type": "l2Book", "coin": "ETH"})   # over the socket, blocking
        hl.stop()

    Events: ``trades`` → ``Trade`` (aggressor side; backfill re-sent after a reconnect is
    dropped), ``l2Book``/``bbo`` → snapshot ``Book``; everything else → ``Message`` whose
    ``channel`` is the subscription type (``userEvents``, ``activeAssetCtx`` even where the
    wire says ``user`` / ``activeSpotAssetCtx``). ``is_snapshot``: a push that replaces
    state is a snapshot — every push of the full-state types (``allMids``, ``webData3``,
    ``clearinghouseState``, ``openOrders``, ``twapStates``, ``spotState``, asset contexts…),
    the venue's ``isSnapshot`` on the user streams (missing = False), the first
    ``fastAssetCtxs`` push. ``fastAssetCtxs`` arrives decoded. Server errors become
    non-fatal ``ErrorEvent``s naming the subscription; a refused subscription is dropped from
    the set restored after reconnects.

    Args:
        testnet: connect to testnet instead of mainnet (ignored when ``url`` is given).
        post_limit: posts in flight at once (§5.2: the server allows 100).
        post_timeout: default seconds to wait for a ``post``/``info`` answer.
        rest_url: base URL of ``rest`` (derived from the socket URL by default).
        trade_memory: recent trades remembered per coin to drop duplicates.
        message_limit, message_window: frames sent at most per window (seconds); the venue
            allows 2000 a minute (per IP, across connections: lower it when several clients
            share an address). A subscription the venue still refuses for the rate is sent
            again one window later and reported once.
        connection_budget: where sockets and new connections are counted (the venue allows
            10 sockets and 30 new connections a minute per IP); the process-wide count by
            default. Going over is reported (log and non-fatal ``ErrorEvent``), and the
            reconnect delay waits for room in the per-minute window.
        **options: the common client options (DESIGN §2.1). Heartbeat defaults:
            ``ping_interval=20`` (the server closes sockets it has sent nothing on for 60 s,
            §3) and ``stale_timeout=45``.

    Note: ``userEvents`` and ``orderUpdates`` frames carry no address (§6.2), so with two
    such subscriptions for different users the events cannot be told apart.
    """

    venue: ClassVar[str] = VENUE
    default_url: ClassVar[str] = MAINNET_URL
    # §3: idle sockets are closed after 60 s of server silence; pongs count. CCXT uses 20 s.
    default_ping_interval: ClassVar[Optional[float]] = 20.0
    default_stale_timeout: ClassVar[Optional[float]] = 45.0

    def __init__(
        self,
        *,
        testnet: bool = False,
        post_limit: int = _POST_LIMIT,
        post_timeout: Optional[float] = 10.0,
        rest_url: Optional[str] = None,
        trade_memory: int = 2000,
        message_limit: int = MAX_MESSAGES_PER_MINUTE,
        message_window: float = 60.0,
        connection_budget: Optional[ConnectionBudget] = None,
        **options: Any,
    ) -> None:
        if not options.get("url"):
            options["url"] = TESTNET_URL if testnet else MAINNET_URL
        self._connection_budget = connection_budget or CONNECTIONS
        self._post_limit = post_limit
        self._post_timeout = post_timeout
        self._rest_url = rest_url
        self._rest: Optional[HyperliquidInfo] = None
        self._rest_lock = threading.Lock()  # guards _rest creation
        protocol = HyperliquidProtocol(
            trade_memory=trade_memory,
            message_budget=MessageBudget(message_limit, message_window),
            connection_budget=self._connection_budget,
        )
        self.protocol = protocol
        """The sans-I/O protocol (for ``is_live`` and ``duplicate_trades``)."""
        super().__init__(protocol, **options)

    def _request_limit(self) -> Optional[int]:
        return self._post_limit

    def _open_connection(self, url: str, protocol: Any, **kwargs: Any) -> Any:
        """Every socket reconnects with a delay that also respects the process-wide
        new-connections-per-minute window."""
        self._options = attrs.evolve(
            self._options, backoff=PacedBackoff.of(self._backoff, self._connection_budget)
        )
        return super()._open_connection(url, protocol, **kwargs)

    def _on_start(self) -> None:
        """Count the first connection and warn past the venue's 30 new ones a minute."""
        budget = self._connection_budget
        started = budget.attempt()
        if started > budget.max_per_window:
            text = (
                f"{started} Hyperliquid connections begun in this process within "
                f"{budget.window:g} s; the venue allows {budget.max_per_window} per minute "
                "per IP and may refuse more"
            )
            logger.warning("%s", text)
            self._hub.publish_one(ErrorEvent(
                venue=VENUE, message=text, received_ns=time.time_ns(),
                code="too_many_new_connections", fatal=False, exception=WSClientError(text),
            ))

    # ----------------------------------------------------------------- raw subscriptions

    def subscribe(self, subscription: Mapping[str, Any]) -> bool:
        """Subscribe with a raw subscription object; sent now when connected, else on connect,
        and again after every reconnect.

        Returns:
            False when the same subscription was already made (nothing is sent).

        Raises:
            SubscriptionRejected: invalid for its type (a bad coin would make the server drop
                the whole socket, §5.1).
            ClientStopped: the client is stopped.
        """
        clean = validate_subscription(subscription)
        added: bool = self._command(lambda protocol: protocol.subscribe(clean))
        return added

    def unsubscribe(self, subscription: Mapping[str, Any]) -> bool:
        """Cancel a subscription made before; False when there was none."""
        clean = validate_subscription(subscription)
        removed: bool = self._command(lambda protocol: protocol.unsubscribe(clean))
        return removed

    def is_live(self, subscription: Mapping[str, Any]) -> bool:
        """Whether the server acknowledged this subscription on the current socket."""
        live: bool = self._connection.command(lambda protocol: protocol.is_live(subscription))
        return live

    @property
    def subscriptions(self) -> list[Subscription]:
        """The subscriptions made (and not refused), in the order they were made."""
        registered: list[Subscription] = self._connection.command(
            lambda protocol: protocol.registered
        )
        return registered

    # ----------------------------------------------------------------- market data

    def subscribe_trades(self, coin: str) -> bool:
        """Trades of ``coin`` (``"BTC"``, ``"PURR/USDC"``, ``"@107"``, ``"xyz:XYZ100"``)."""
        return self.subscribe(_sub("trades", coin=coin))

    def unsubscribe_trades(self, coin: str) -> bool:
        return self.unsubscribe(_sub("trades", coin=coin))

    def subscribe_l2_book(
        self,
        coin: str,
        *,
        n_sig_figs: Optional[int] = None,
        mantissa: Optional[int] = None,
        fast: bool = False,
    ) -> bool:
        """Book snapshots: 20 levels a side (5 and ~10× more often with ``fast=True``).

        Args:
            n_sig_figs: aggregate prices to 2..5 significant figures (None = full precision).
            mantissa: 1, 2 or 5, only with ``n_sig_figs=5``.
        """
        return self.subscribe(_book_sub(coin, n_sig_figs, mantissa, fast))

    def unsubscribe_l2_book(
        self,
        coin: str,
        *,
        n_sig_figs: Optional[int] = None,
        mantissa: Optional[int] = None,
        fast: bool = False,
    ) -> bool:
        return self.unsubscribe(_book_sub(coin, n_sig_figs, mantissa, fast))

    def subscribe_bbo(self, coin: str) -> bool:
        """Best bid and offer, pushed on blocks where it changed."""
        return self.subscribe(_sub("bbo", coin=coin))

    def unsubscribe_bbo(self, coin: str) -> bool:
        return self.unsubscribe(_sub("bbo", coin=coin))

    def subscribe_candles(self, coin: str, interval: str) -> bool:
        """The current candle of ``interval`` (``CANDLE_INTERVALS``: "1m" … "1M")."""
        return self.subscribe(_sub("candle", coin=coin, interval=interval))

    def unsubscribe_candles(self, coin: str, interval: str) -> bool:
        return self.unsubscribe(_sub("candle", coin=coin, interval=interval))

    def subscribe_all_mids(self, *, dex: Optional[str] = None) -> bool:
        """Mid prices of every coin (of the first perp dex and spot, or of builder ``dex``)."""
        return self.subscribe(_sub("allMids", dex=dex))

    def unsubscribe_all_mids(self, *, dex: Optional[str] = None) -> bool:
        return self.unsubscribe(_sub("allMids", dex=dex))

    def subscribe_active_asset_ctx(self, coin: str) -> bool:
        """Funding, open interest, mark/oracle/mid prices of one perp or spot coin."""
        return self.subscribe(_sub("activeAssetCtx", coin=coin))

    def unsubscribe_active_asset_ctx(self, coin: str) -> bool:
        return self.unsubscribe(_sub("activeAssetCtx", coin=coin))

    def subscribe_all_dexs_asset_ctxs(self) -> bool:
        """Asset contexts of every perp dex (large frames, every ~14 s)."""
        return self.subscribe(_sub("allDexsAssetCtxs"))

    def unsubscribe_all_dexs_asset_ctxs(self) -> bool:
        return self.unsubscribe(_sub("allDexsAssetCtxs"))

    def subscribe_outcome_meta_updates(self) -> bool:
        """Outcome markets created or settled and their questions updated or settled (no
        snapshot: only changes are pushed)."""
        return self.subscribe(_sub("outcomeMetaUpdates"))

    def unsubscribe_outcome_meta_updates(self) -> bool:
        """Cancel ``subscribe_outcome_meta_updates``."""
        return self.unsubscribe(_sub("outcomeMetaUpdates"))

    def subscribe_fast_asset_ctxs(self) -> bool:
        """Mark/mid prices of every coin, delivered decoded: a snapshot, then changes."""
        return self.subscribe(_sub("fastAssetCtxs"))

    def unsubscribe_fast_asset_ctxs(self) -> bool:
        return self.unsubscribe(_sub("fastAssetCtxs"))

    # ----------------------------------------------------------------- user streams

    def subscribe_notification(self, user: str) -> bool:
        return self.subscribe(_sub("notification", user=user))

    def unsubscribe_notification(self, user: str) -> bool:
        return self.unsubscribe(_sub("notification", user=user))

    def subscribe_web_data3(self, user: str) -> bool:
        """The frontend's aggregate user state."""
        return self.subscribe(_sub("webData3", user=user))

    def unsubscribe_web_data3(self, user: str) -> bool:
        return self.unsubscribe(_sub("webData3", user=user))

    def subscribe_twap_states(self, user: str, *, dex: Optional[str] = None) -> bool:
        return self.subscribe(_sub("twapStates", user=user, dex=dex))

    def unsubscribe_twap_states(self, user: str, *, dex: Optional[str] = None) -> bool:
        return self.unsubscribe(_sub("twapStates", user=user, dex=dex))

    def subscribe_clearinghouse_state(self, user: str, *, dex: Optional[str] = None) -> bool:
        """Positions and margin summary, re-sent in full every few seconds."""
        return self.subscribe(_sub("clearinghouseState", user=user, dex=dex))

    def unsubscribe_clearinghouse_state(self, user: str, *, dex: Optional[str] = None) -> bool:
        return self.unsubscribe(_sub("clearinghouseState", user=user, dex=dex))

    def subscribe_open_orders(self, user: str, *, dex: Optional[str] = None) -> bool:
        return self.subscribe(_sub("openOrders", user=user, dex=dex))

    def unsubscribe_open_orders(self, user: str, *, dex: Optional[str] = None) -> bool:
        return self.unsubscribe(_sub("openOrders", user=user, dex=dex))

    def subscribe_order_updates(self, user: str) -> bool:
        """Order status changes. No snapshot: bootstrap with ``rest.open_orders(user)``."""
        return self.subscribe(_sub("orderUpdates", user=user))

    def unsubscribe_order_updates(self, user: str) -> bool:
        return self.unsubscribe(_sub("orderUpdates", user=user))

    def subscribe_user_events(self, user: str) -> bool:
        """Fills, funding, liquidations and cancels (wire channel ``user``). No snapshot."""
        return self.subscribe(_sub("userEvents", user=user))

    def unsubscribe_user_events(self, user: str) -> bool:
        return self.unsubscribe(_sub("userEvents", user=user))

    def subscribe_user_fills(self, user: str, *, aggregate_by_time: bool = False) -> bool:
        """The user's fills: a snapshot (``is_snapshot``), then new ones."""
        return self.subscribe(_sub("userFills", user=user, aggregateByTime=aggregate_by_time))

    def unsubscribe_user_fills(self, user: str, *, aggregate_by_time: bool = False) -> bool:
        return self.unsubscribe(_sub("userFills", user=user, aggregateByTime=aggregate_by_time))

    def subscribe_user_fundings(self, user: str) -> bool:
        return self.subscribe(_sub("userFundings", user=user))

    def unsubscribe_user_fundings(self, user: str) -> bool:
        return self.unsubscribe(_sub("userFundings", user=user))

    def subscribe_user_non_funding_ledger_updates(self, user: str) -> bool:
        """Deposits, withdrawals, transfers, vault and liquidation ledger entries."""
        return self.subscribe(_sub("userNonFundingLedgerUpdates", user=user))

    def unsubscribe_user_non_funding_ledger_updates(self, user: str) -> bool:
        return self.unsubscribe(_sub("userNonFundingLedgerUpdates", user=user))

    def subscribe_active_asset_data(self, user: str, coin: str) -> bool:
        """Leverage and tradeable sizes of ``user`` on perp ``coin``."""
        return self.subscribe(_sub("activeAssetData", user=user, coin=coin))

    def unsubscribe_active_asset_data(self, user: str, coin: str) -> bool:
        return self.unsubscribe(_sub("activeAssetData", user=user, coin=coin))

    def subscribe_user_twap_slice_fills(self, user: str) -> bool:
        return self.subscribe(_sub("userTwapSliceFills", user=user))

    def unsubscribe_user_twap_slice_fills(self, user: str) -> bool:
        return self.unsubscribe(_sub("userTwapSliceFills", user=user))

    def subscribe_user_twap_history(self, user: str) -> bool:
        return self.subscribe(_sub("userTwapHistory", user=user))

    def unsubscribe_user_twap_history(self, user: str) -> bool:
        return self.unsubscribe(_sub("userTwapHistory", user=user))

    def subscribe_spot_state(self, user: str, *, is_portfolio_margin: bool = False) -> bool:
        """Spot balances."""
        return self.subscribe(_sub("spotState", user=user, isPortfolioMargin=is_portfolio_margin))

    def unsubscribe_spot_state(self, user: str, *, is_portfolio_margin: bool = False) -> bool:
        return self.unsubscribe(
            _sub("spotState", user=user, isPortfolioMargin=is_portfolio_margin)
        )

    def subscribe_all_dexs_clearinghouse_state(self, user: str) -> bool:
        return self.subscribe(_sub("allDexsClearinghouseState", user=user))

    def unsubscribe_all_dexs_clearinghouse_state(self, user: str) -> bool:
        return self.unsubscribe(_sub("allDexsClearinghouseState", user=user))

    # ----------------------------------------------------------------- post requests

    def post_async(
        self,
        request: Mapping[str, Any],
        *,
        timeout: Seconds = DEFAULT,
        block: bool = True,
    ) -> Future[Any]:
        """Send ``{"method":"post","id":…,"request":request}`` and return a Future of the
        ``response`` object (``{"type": "info"|"action", "payload": …}``).

        For ``action`` requests the caller signs the payload; the venue's verdict (``status``
        ``ok``/``err``) is in the payload, not an exception.

        Args:
            timeout: seconds until the Future fails with ``RequestTimeout`` (also how long to
                wait for a free slot when ``post_limit`` are in flight and ``block``).
            block: at the in-flight limit, wait for a slot (True) or raise at once.

        A post made while the socket is reconnecting waits for the next socket (within
        ``timeout``).

        Raises:
            TooManyInFlight: the in-flight limit is reached.
            RequestTimeout: no socket came up within ``timeout``.
            ClientStopped: the client is stopped.
            ValueError: ``request`` is not ``{"type": "info"|"action", "payload": …}``.

        The Future fails with ``RequestFailed`` (the venue's error), ``RequestTimeout``,
        ``TooManyInFlight`` (the server's own limit), ``ConnectionLost`` (the socket dropped
        before the answer) or ``ClientStopped``.
        """
        if not isinstance(request, Mapping) or request.get("type") not in ("info", "action"):
            raise ValueError('a post request is {"type": "info" | "action", "payload": {...}}')
        if "payload" not in request:
            raise ValueError("a post request needs a 'payload'")
        wait = self._post_timeout if timeout is DEFAULT else timeout
        if self._stopped.is_set():
            raise ClientStopped("the client is stopped")
        return self._connection.request(
            lambda protocol, request_id: protocol.post(request_id, request),
            timeout=wait, block=block, what="post",
        )

    def post(
        self,
        request: Mapping[str, Any],
        *,
        timeout: Seconds = DEFAULT,
        block: bool = True,
    ) -> Any:
        """``post_async`` and wait: the ``response`` object, or the error raised."""
        wait = self._post_timeout if timeout is DEFAULT else timeout
        future = self.post_async(request, timeout=wait, block=block)
        return wait_result(future, "post", None if wait is None else wait + 1.0)

    def info_async(
        self,
        payload: Mapping[str, Any],
        *,
        timeout: Seconds = DEFAULT,
        block: bool = True,
    ) -> Future[Any]:
        """An ``/info`` request over the socket; a Future of its ``data`` (None for an
        unknown coin)."""
        inner = self.post_async({"type": "info", "payload": dict(payload)}, timeout=timeout,
                                block=block)
        outer: Future[Any] = Future()
        outer.set_running_or_notify_cancel()

        def done(source: Future[Any]) -> None:
            exc = source.exception()
            if exc is not None:
                outer.set_exception(exc)
                return
            try:
                outer.set_result(_info_data(source.result()))
            except ProtocolViolation as bad:
                outer.set_exception(bad)

        inner.add_done_callback(done)
        return outer

    def info(
        self,
        payload: Mapping[str, Any],
        *,
        timeout: Seconds = DEFAULT,
        block: bool = True,
    ) -> Any:
        """An ``/info`` request over the socket (e.g. ``{"type": "l2Book", "coin": "ETH"}``);
        blocks for the answer's ``data`` and raises what ``post_async`` documents."""
        wait = self._post_timeout if timeout is DEFAULT else timeout
        future = self.info_async(payload, timeout=wait, block=block)
        return wait_result(future, "info", None if wait is None else wait + 1.0)

    @property
    def posts_in_flight(self) -> int:
        """Posts sent and not answered yet."""
        return self._connection.requests.in_flight

    # ----------------------------------------------------------------- REST

    @property
    def rest(self) -> HyperliquidInfo:
        """A ``HyperliquidInfo`` on the HTTP API beside this socket (made on first use)."""
        with self._rest_lock:
            if self._rest is None:
                from wsclients.venues.hyperliquid_rest import HyperliquidInfo, rest_url_for

                self._rest = HyperliquidInfo(  # the sockets' trust (sslopt) for REST too
                    self._rest_url or rest_url_for(self.url),
                    **tls_options(self._ws_options.get("sslopt")),
                )
            return self._rest

    # ----------------------------------------------------------------- lifecycle hooks

    def _on_stop(self) -> None:
        with self._rest_lock:
            if self._rest is not None:
                self._rest.close()


def _book_sub(
    coin: str, n_sig_figs: Optional[int], mantissa: Optional[int], fast: bool
) -> Subscription:
    return _sub("l2Book", coin=coin, nSigFigs=n_sig_figs, mantissa=mantissa,
                fast=fast if fast else None)


def _info_data(response: Any) -> Any:
    """``{"type":"info","payload":{"type":…,"data":…}}`` → ``data`` (§4)."""
    try:
        return response["payload"]["data"]
    except (KeyError, TypeError) as exc:
        raise ProtocolViolation("info answer without payload.data", raw=response) from exc
