"""Hyperliquid's wire protocol with no socket, thread or clock: subscriptions and their acks,
errors, posts, pings, pacing under the venue's message limit, and parsing into events.

Facts: docs/venues/hyperliquid.rst.
"""

from __future__ import annotations

import binascii
import logging
import zlib
from collections import deque
from collections.abc import Mapping
from typing import Any, Callable, Optional, Union

import attrs

from wsclients.core import codec
from wsclients.core.protocol import PARSE_ERRORS, CloseRequest, ProtocolBuffers, parse_failed
from wsclients.errors import (
    ProtocolViolation,
    RequestFailed,
    SubscriptionRejected,
    TooManyInFlight,
    WSClientError,
    shorten,
)
from wsclients.models import Book, ErrorEvent, Message
from wsclients.venues.hyperliquid.limits import (
    ConnectionBudget,
    MessageBudget,
)
from wsclients.venues.hyperliquid.parsing import (
    _int,
    _levels,
    _str,
    book_from_l2,
    decode_fast_asset_ctxs,
    trade_from_item,
)
from wsclients.venues.hyperliquid.subscriptions import (
    _ALREADY_SUBSCRIBED,
    _ALREADY_UNSUBSCRIBED,
    _CHANNEL_TO_TYPE,
    _FULL_STATE,
    _GREETING_LEN,
    _GREETINGS,
    _INVALID_SUBSCRIPTION,
    _KNOWN_CHANNELS,
    _PARSE_ERROR,
    _PING,
    _POST_LIMIT,
    _TOO_MANY_MESSAGES,
    _TOO_MANY_POSTS,
    _TOO_MANY_SUBSCRIPTIONS,
    _TOO_MANY_USERS,
    VENUE,
    Subscription,
    _echo_matches,
    subscription_key,
    validate_subscription,
)

logger = logging.getLogger(__name__)


class _SubState:
    """What the protocol knows about one subscription on the current socket."""

    __slots__ = (
        "acked", "acked_ns", "live", "rate_reported", "snapshot_due", "strikes",
        "subscription", "suspect",
    )

    def __init__(self, subscription: Subscription) -> None:
        self.subscription = subscription
        self.live = False
        # When the ack of the current socket came (0 before): a trades backfill is older.
        self.acked_ns = 0
        self.strikes = 0
        # Acknowledged on some socket once: the venue knows it, so it is never struck out.
        self.acked = False
        # In flight, never acked, when a socket died beside others: sent alone next time.
        self.suspect = False
        # Refused by the message limit and reported; reset when it goes live.
        self.rate_reported = False
        # fastAssetCtxs: the first frame after (re)subscribing is a snapshot
        # (docs/venues/hyperliquid.rst#hyperliquid-subscriptions).
        self.snapshot_due = True




# --------------------------------------------------------------------------- protocol


class HyperliquidProtocol(ProtocolBuffers):
    """Hyperliquid's wire protocol with no socket, thread or clock (docs/design.rst#design-sans-io).

    Args:
        on_rejected: told of a subscription the server refused for good (it is no longer
            restored after reconnects).
        trade_memory: how many recent trades per coin are remembered (at least; up to twice
            as many) to drop the backfill the server re-sends after every (re)subscribe
            (docs/venues/hyperliquid.rst#hyperliquid-subscriptions).
        max_missed_pongs: pings in a row left unanswered before asking for a reconnect.
        max_strikes: sockets in a row that died while a subscription was waiting for its ack
            before that subscription is declared invalid (the server drops the socket instead
            of answering a bad coin, docs/venues/hyperliquid.rst#hyperliquid-errors; without this
            the client would loop forever).
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
        # Reader thread only: recent trade ids per coin, kept across reconnects for dedupe,
        # in two generations [newer, older] (see _trades).
        self._seen: dict[str, list[set[str]]] = {}
        self._last_received_ns = 0
        self._trade_keys: dict[str, str] = {}  # coin → its trades subscription's key
        # Whether a trades subscription was acked and its first frame (which may carry the
        # backfill) has not come yet: the only time _backfill_before has anything to say.
        self._backfill_armed = False
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
            state.acked_ns = 0
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
        """Parse one frame into events. Never raises; a bad frame becomes an ``ErrorEvent``.

        The hot path of the library: its own ``try`` (see ``core.protocol.parse_failed``),
        and a ``trades`` frame goes from the JSON decoder to ``_trades`` with no other call.
        """
        self._last_received_ns = received_ns
        try:
            try:
                frame = codec.loads(data)
            except ValueError as exc:
                if len(data) == _GREETING_LEN and data in _GREETINGS:
                    return  # docs/venues/hyperliquid.rst#hyperliquid-envelope: legacy greeting
                raise ProtocolViolation("frame is not valid UTF-8 JSON", raw=data) from exc
            channel = frame.get("channel") if type(frame) is dict else None
            if channel == "trades":
                self._trades(frame, received_ns)
            else:
                self._route(channel, frame, data, received_ns)
        except Exception as exc:
            parse_failed(exc, self._report, data, received_ns)

    def ping_message(self) -> Optional[str]:
        """``{"method":"ping"}`` (docs/venues/hyperliquid.rst#hyperliquid-heartbeat); asks for a
        reconnect when pongs stopped coming."""
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
        parameter (docs/venues/hyperliquid.rst#hyperliquid-errors). A never-acknowledged
        subscription that was the only frame waiting
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
        state.acked_ns = 0
        if key not in self._pending:
            self._pending.append(key)
        return _subscribe_frame(clean)

    def unsubscribe_message(self, subscription: Mapping[str, Any]) -> Optional[str]:
        """Forget a subscription and return the frame that cancels it (same object,
        docs/venues/hyperliquid.rst#hyperliquid-envelope)."""
        clean = validate_subscription(subscription)
        self.discard(clean)
        return codec.dumps({"method": "unsubscribe", "subscription": clean})

    def discard(self, subscription: Mapping[str, Any]) -> None:
        """Stop tracking a subscription without sending anything. Idempotent."""
        self._drop_key(subscription_key(subscription))

    def post_message(self, request_id: int, request: Mapping[str, Any]) -> str:
        """``{"method":"post","id":…,"request":{"type":"info"|"action","payload":…}}``
        (docs/venues/hyperliquid.rst#hyperliquid-post)."""
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

    def _route(
        self, channel: Any, frame: Any, data: Union[str, bytes], received_ns: int
    ) -> None:
        """Every channel but ``trades`` (docs/venues/hyperliquid.rst#hyperliquid-envelope)."""
        if type(channel) is not str:
            raise ProtocolViolation("frame has no 'channel'", raw=data)
        if channel == "l2Book":
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
        """The hot path of a trades stream: one loop, no call per trade but the parser's
        (and the duplicate check's bookkeeping for a trade not seen yet)."""
        items = frame["data"]
        if type(items) is not list:
            raise ProtocolViolation("trades data must be a list", raw=frame)
        # Only the first frame of a coin after its subscription's ack can carry the
        # backfill; _backfill_armed says whether any ack is still waiting for that frame.
        backfill_before = self._backfill_before(items[0]) if items and self._backfill_armed else 0
        seen_by_coin = self._seen
        memory_size = self._trade_memory
        events = self._events
        for item in items:
            try:
                trade = trade_from_item(item, received_ns)
            except PARSE_ERRORS as exc:
                self._report(exc, received_ns, item)
                continue
            # Duplicates: the backfill the server re-sends after every (re)subscribe
            # (docs/venues/hyperliquid.rst#hyperliquid-subscriptions). The ids of a coin are
            # kept in two generations of sets: when the newer one holds trade_memory ids, it
            # becomes the older and the oldest generation is forgotten at once. So the last
            # trade_memory ids at least, and 2 * trade_memory at most, are remembered, for
            # one set lookup more per trade where a first-in-first-out of single ids costs a
            # deque append, a popleft and a set discard.
            trade_id = trade.trade_id
            memory = seen_by_coin.get(trade.symbol)
            if memory is None:
                memory = seen_by_coin[trade.symbol] = [set(), set()]
            newer, older = memory
            if trade_id in newer or trade_id in older:
                self.duplicate_trades += 1
                continue
            newer.add(trade_id)
            if len(newer) >= memory_size:
                memory[0] = set()
                memory[1] = newer
            if trade.timestamp_ns < backfill_before:
                trade = attrs.evolve(trade, is_snapshot=True)
            events.append(trade)

    def _backfill_before(self, item: Any) -> int:
        """For the first ``trades`` frame of a coin after its subscription was acked: the
        ack's arrival time, before which its trades are the history the server sends then
        (docs/venues/hyperliquid.rst#hyperliquid-subscriptions: "30 recent trades", "from about 20
        s before the subscription"); else 0.

        The server may send no history at all (nothing traded lately), so being first is not
        enough: a trade made after the ack is a new print, not a backfill.
        """
        coin = item.get("coin") if isinstance(item, dict) else None
        if not isinstance(coin, str):
            return 0
        key = self._trade_keys.get(coin)
        if key is None:
            try:
                key = subscription_key({"type": "trades", "coin": coin})
            except SubscriptionRejected:
                return 0
            self._trade_keys[coin] = key
        state = self._subs.get(key)
        if state is None or not state.snapshot_due or not state.acked_ns:
            return 0
        state.snapshot_due = False
        self._backfill_armed = any(
            other.snapshot_due and other.acked_ns and other.subscription["type"] == "trades"
            for other in self._subs.values()
        )
        # Trade times are whole milliseconds: one printed in the ack's own millisecond is
        # new, so only the milliseconds before it count as history.
        return int(state.acked_ns) // 1_000_000 * 1_000_000

    def _l2book(self, frame: dict[str, Any], received_ns: int) -> None:
        self._events.append(book_from_l2(frame["data"], received_ns))

    def _bbo(self, frame: dict[str, Any], received_ns: int) -> None:
        data = frame["data"]
        # docs/venues/hyperliquid.rst#hyperliquid-subscriptions: [level | null, level | null]
        bid, ask = data["bbo"]
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
            # docs/venues/hyperliquid.rst#hyperliquid-fields: the first message has isSnapshot:
            # true; a missing key means false.
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
                state.acked_ns = self._last_received_ns
                if state.subscription["type"] == "trades":
                    self._backfill_armed = True
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
        """The subscribe the server is answering when an error echoes nothing
        (docs/venues/hyperliquid.rst#hyperliquid-errors: limit
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
        """docs/venues/hyperliquid.rst#hyperliquid-errors: the message limit refused a frame
        without naming it. Acks come in order, so
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
        """docs/venues/hyperliquid.rst#hyperliquid-errors: the server could not read one of our
        frames; it echoes the frame."""
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
            # docs/venues/hyperliquid.rst#hyperliquid-post: an error payload is a string mirroring
            # the HTTP status and description.
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

def _subscribe_frame(subscription: Subscription) -> str:
    return codec.dumps({"method": "subscribe", "subscription": subscription})


def _json_object(text: str) -> Optional[dict[str, Any]]:
    """The JSON object echoed in an error string, or None when it is not one."""
    try:
        value = codec.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
