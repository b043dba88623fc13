"""HyperliquidClient: one socket, typed subscription helpers, posts over the socket, the REST
companion.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future
from typing import Any, ClassVar, Optional

import attrs

from wsclients.core.client import DEFAULT, Seconds, SubscribingClient
from wsclients.core.client_options import check_count, check_seconds, check_timeout
from wsclients.core.pending import wait_result
from wsclients.core.rest import tls_options
from wsclients.errors import (
    ClientStopped,
    ProtocolViolation,
    WSClientError,
)
from wsclients.models import ErrorEvent
from wsclients.venues.hyperliquid.limits import (
    CONNECTIONS,
    MAX_MESSAGES_PER_MINUTE,
    ConnectionBudget,
    MessageBudget,
    PacedBackoff,
)
from wsclients.venues.hyperliquid.protocol import HyperliquidProtocol
from wsclients.venues.hyperliquid.rest import HyperliquidInfo, rest_url_for
from wsclients.venues.hyperliquid.subscriptions import (
    _POST_LIMIT,
    MAINNET_URL,
    TESTNET_URL,
    VENUE,
    Subscription,
    validate_subscription,
)

logger = logging.getLogger(__name__)


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

    Events: ``trades`` → ``Trade`` (aggressor side; the recent trades the server sends after
    each subscribe are marked ``is_snapshot=True``, and those already delivered are dropped),
    ``l2Book``/``bbo`` → snapshot ``Book``; everything else → ``Message`` whose
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
        post_limit: posts in flight at once (docs/venues/hyperliquid.rst#hyperliquid-limits: the
            server allows 100).
        post_timeout: default seconds to wait for a ``post``/``info`` answer.
        rest_url: base URL of ``rest`` (derived from the socket URL by default).
        trade_memory: recent trades remembered per coin to drop duplicates (at least that
            many, up to twice as many).
        message_limit, message_window: frames sent at most per window (seconds); the venue
            allows 2000 a minute (per IP, across connections: lower it when several clients
            share an address). A subscription the venue still refuses for the rate is sent
            again one window later and reported once.
        connection_budget: where sockets and new connections are counted (the venue allows
            10 sockets and 30 new connections a minute per IP); the process-wide count by
            default. Going over is reported (log and non-fatal ``ErrorEvent``), and the
            reconnect delay waits for room in the per-minute window.
        **options: the common client options (docs/options.rst). Heartbeat defaults:
            ``ping_interval=20`` (the server closes sockets it has sent nothing on for 60 s,
            docs/venues/hyperliquid.rst#hyperliquid-heartbeat) and ``stale_timeout=45``.

    Note: ``userEvents`` and ``orderUpdates`` frames carry no address
    (docs/venues/hyperliquid.rst#hyperliquid-official-sdk), so with two
    such subscriptions for different users the events cannot be told apart.
    """

    venue: ClassVar[str] = VENUE
    default_url: ClassVar[str] = MAINNET_URL
    # docs/venues/hyperliquid.rst#hyperliquid-heartbeat: idle sockets are closed after 60 s of
    # server silence; pongs count. CCXT uses 20 s.
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
        check_count("post_limit", post_limit, 1)
        check_timeout("post_timeout", post_timeout, strict=True)
        check_count("trade_memory", trade_memory, 1)
        check_count("message_limit", message_limit, 1)
        check_seconds("message_window", message_window, strict=True)
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

    def _has_live_subscriptions(self) -> bool:
        """The socket is up or coming, and the server has not refused every subscription."""
        return super()._has_live_subscriptions() and bool(self.subscriptions)

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
                the whole socket, docs/venues/hyperliquid.rst#hyperliquid-errors).
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
        """Undo ``subscribe_trades``.

        Takes the same arguments; returns False when there was no such subscription.

        Raises:
            SubscriptionRejected: the arguments are invalid.
            ClientStopped: the client is stopped.
        """
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
        """Undo ``subscribe_l2_book``.

        Takes the same arguments; returns False when there was no such subscription.

        Raises:
            SubscriptionRejected: the arguments are invalid.
            ClientStopped: the client is stopped.
        """
        return self.unsubscribe(_book_sub(coin, n_sig_figs, mantissa, fast))

    def subscribe_bbo(self, coin: str) -> bool:
        """Best bid and offer, pushed on blocks where it changed."""
        return self.subscribe(_sub("bbo", coin=coin))

    def unsubscribe_bbo(self, coin: str) -> bool:
        """Undo ``subscribe_bbo``.

        Takes the same arguments; returns False when there was no such subscription.

        Raises:
            SubscriptionRejected: the arguments are invalid.
            ClientStopped: the client is stopped.
        """
        return self.unsubscribe(_sub("bbo", coin=coin))

    def subscribe_candles(self, coin: str, interval: str) -> bool:
        """The current candle of ``interval`` (``CANDLE_INTERVALS``: "1m" … "1M")."""
        return self.subscribe(_sub("candle", coin=coin, interval=interval))

    def unsubscribe_candles(self, coin: str, interval: str) -> bool:
        """Undo ``subscribe_candles``.

        Takes the same arguments; returns False when there was no such subscription.

        Raises:
            SubscriptionRejected: the arguments are invalid.
            ClientStopped: the client is stopped.
        """
        return self.unsubscribe(_sub("candle", coin=coin, interval=interval))

    def subscribe_all_mids(self, *, dex: Optional[str] = None) -> bool:
        """Mid prices of every coin (of the first perp dex and spot, or of builder ``dex``)."""
        return self.subscribe(_sub("allMids", dex=dex))

    def unsubscribe_all_mids(self, *, dex: Optional[str] = None) -> bool:
        """Undo ``subscribe_all_mids``.

        Takes the same arguments; returns False when there was no such subscription.

        Raises:
            SubscriptionRejected: the arguments are invalid.
            ClientStopped: the client is stopped.
        """
        return self.unsubscribe(_sub("allMids", dex=dex))

    def subscribe_active_asset_ctx(self, coin: str) -> bool:
        """Funding, open interest, mark/oracle/mid prices of one perp or spot coin."""
        return self.subscribe(_sub("activeAssetCtx", coin=coin))

    def unsubscribe_active_asset_ctx(self, coin: str) -> bool:
        """Undo ``subscribe_active_asset_ctx``.

        Takes the same arguments; returns False when there was no such subscription.

        Raises:
            SubscriptionRejected: the arguments are invalid.
            ClientStopped: the client is stopped.
        """
        return self.unsubscribe(_sub("activeAssetCtx", coin=coin))

    def subscribe_all_dexs_asset_ctxs(self) -> bool:
        """Asset contexts of every perp dex (large frames, every ~14 s)."""
        return self.subscribe(_sub("allDexsAssetCtxs"))

    def unsubscribe_all_dexs_asset_ctxs(self) -> bool:
        """Undo ``subscribe_all_dexs_asset_ctxs``.

        Takes the same arguments; returns False when there was no such subscription.

        Raises:
            SubscriptionRejected: the arguments are invalid.
            ClientStopped: the client is stopped.
        """
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
        """Undo ``subscribe_fast_asset_ctxs``.

        Takes the same arguments; returns False when there was no such subscription.

        Raises:
            SubscriptionRejected: the arguments are invalid.
            ClientStopped: the client is stopped.
        """
        return self.unsubscribe(_sub("fastAssetCtxs"))

    # ----------------------------------------------------------------- user streams

    def subscribe_notification(self, user: str) -> bool:
        """Notifications the frontend shows ``user`` (fills, liquidations …)."""
        return self.subscribe(_sub("notification", user=user))

    def unsubscribe_notification(self, user: str) -> bool:
        """Undo ``subscribe_notification``.

        Takes the same arguments; returns False when there was no such subscription.

        Raises:
            SubscriptionRejected: the arguments are invalid.
            ClientStopped: the client is stopped.
        """
        return self.unsubscribe(_sub("notification", user=user))

    def subscribe_web_data3(self, user: str) -> bool:
        """The frontend's aggregate user state."""
        return self.subscribe(_sub("webData3", user=user))

    def unsubscribe_web_data3(self, user: str) -> bool:
        """Undo ``subscribe_web_data3``.

        Takes the same arguments; returns False when there was no such subscription.

        Raises:
            SubscriptionRejected: the arguments are invalid.
            ClientStopped: the client is stopped.
        """
        return self.unsubscribe(_sub("webData3", user=user))

    def subscribe_twap_states(self, user: str, *, dex: Optional[str] = None) -> bool:
        """Running TWAP orders of ``user`` (of the first perp dex, or of builder ``dex``)."""
        return self.subscribe(_sub("twapStates", user=user, dex=dex))

    def unsubscribe_twap_states(self, user: str, *, dex: Optional[str] = None) -> bool:
        """Undo ``subscribe_twap_states``.

        Takes the same arguments; returns False when there was no such subscription.

        Raises:
            SubscriptionRejected: the arguments are invalid.
            ClientStopped: the client is stopped.
        """
        return self.unsubscribe(_sub("twapStates", user=user, dex=dex))

    def subscribe_clearinghouse_state(self, user: str, *, dex: Optional[str] = None) -> bool:
        """Positions and margin summary, re-sent in full every few seconds."""
        return self.subscribe(_sub("clearinghouseState", user=user, dex=dex))

    def unsubscribe_clearinghouse_state(self, user: str, *, dex: Optional[str] = None) -> bool:
        """Undo ``subscribe_clearinghouse_state``.

        Takes the same arguments; returns False when there was no such subscription.

        Raises:
            SubscriptionRejected: the arguments are invalid.
            ClientStopped: the client is stopped.
        """
        return self.unsubscribe(_sub("clearinghouseState", user=user, dex=dex))

    def subscribe_open_orders(self, user: str, *, dex: Optional[str] = None) -> bool:
        """Open orders of ``user`` (of the first perp dex, or of builder ``dex``)."""
        return self.subscribe(_sub("openOrders", user=user, dex=dex))

    def unsubscribe_open_orders(self, user: str, *, dex: Optional[str] = None) -> bool:
        """Undo ``subscribe_open_orders``.

        Takes the same arguments; returns False when there was no such subscription.

        Raises:
            SubscriptionRejected: the arguments are invalid.
            ClientStopped: the client is stopped.
        """
        return self.unsubscribe(_sub("openOrders", user=user, dex=dex))

    def subscribe_order_updates(self, user: str) -> bool:
        """Order status changes. No snapshot: bootstrap with ``rest.open_orders(user)``."""
        return self.subscribe(_sub("orderUpdates", user=user))

    def unsubscribe_order_updates(self, user: str) -> bool:
        """Undo ``subscribe_order_updates``.

        Takes the same arguments; returns False when there was no such subscription.

        Raises:
            SubscriptionRejected: the arguments are invalid.
            ClientStopped: the client is stopped.
        """
        return self.unsubscribe(_sub("orderUpdates", user=user))

    def subscribe_user_events(self, user: str) -> bool:
        """Fills, funding, liquidations and cancels (wire channel ``user``). No snapshot."""
        return self.subscribe(_sub("userEvents", user=user))

    def unsubscribe_user_events(self, user: str) -> bool:
        """Undo ``subscribe_user_events``.

        Takes the same arguments; returns False when there was no such subscription.

        Raises:
            SubscriptionRejected: the arguments are invalid.
            ClientStopped: the client is stopped.
        """
        return self.unsubscribe(_sub("userEvents", user=user))

    def subscribe_user_fills(self, user: str, *, aggregate_by_time: bool = False) -> bool:
        """The user's fills: a snapshot (``is_snapshot``), then new ones."""
        return self.subscribe(_sub("userFills", user=user, aggregateByTime=aggregate_by_time))

    def unsubscribe_user_fills(self, user: str, *, aggregate_by_time: bool = False) -> bool:
        """Undo ``subscribe_user_fills``.

        Takes the same arguments; returns False when there was no such subscription.

        Raises:
            SubscriptionRejected: the arguments are invalid.
            ClientStopped: the client is stopped.
        """
        return self.unsubscribe(_sub("userFills", user=user, aggregateByTime=aggregate_by_time))

    def subscribe_user_fundings(self, user: str) -> bool:
        """Funding payments of ``user``: a snapshot (``is_snapshot``), then new ones."""
        return self.subscribe(_sub("userFundings", user=user))

    def unsubscribe_user_fundings(self, user: str) -> bool:
        """Undo ``subscribe_user_fundings``.

        Takes the same arguments; returns False when there was no such subscription.

        Raises:
            SubscriptionRejected: the arguments are invalid.
            ClientStopped: the client is stopped.
        """
        return self.unsubscribe(_sub("userFundings", user=user))

    def subscribe_user_non_funding_ledger_updates(self, user: str) -> bool:
        """Deposits, withdrawals, transfers, vault and liquidation ledger entries."""
        return self.subscribe(_sub("userNonFundingLedgerUpdates", user=user))

    def unsubscribe_user_non_funding_ledger_updates(self, user: str) -> bool:
        """Undo ``subscribe_user_non_funding_ledger_updates``.

        Takes the same arguments; returns False when there was no such subscription.

        Raises:
            SubscriptionRejected: the arguments are invalid.
            ClientStopped: the client is stopped.
        """
        return self.unsubscribe(_sub("userNonFundingLedgerUpdates", user=user))

    def subscribe_active_asset_data(self, user: str, coin: str) -> bool:
        """Leverage and tradeable sizes of ``user`` on perp ``coin``."""
        return self.subscribe(_sub("activeAssetData", user=user, coin=coin))

    def unsubscribe_active_asset_data(self, user: str, coin: str) -> bool:
        """Undo ``subscribe_active_asset_data``.

        Takes the same arguments; returns False when there was no such subscription.

        Raises:
            SubscriptionRejected: the arguments are invalid.
            ClientStopped: the client is stopped.
        """
        return self.unsubscribe(_sub("activeAssetData", user=user, coin=coin))

    def subscribe_user_twap_slice_fills(self, user: str) -> bool:
        """Fills of ``user``'s TWAP slices: a snapshot, then new ones."""
        return self.subscribe(_sub("userTwapSliceFills", user=user))

    def unsubscribe_user_twap_slice_fills(self, user: str) -> bool:
        """Undo ``subscribe_user_twap_slice_fills``.

        Takes the same arguments; returns False when there was no such subscription.

        Raises:
            SubscriptionRejected: the arguments are invalid.
            ClientStopped: the client is stopped.
        """
        return self.unsubscribe(_sub("userTwapSliceFills", user=user))

    def subscribe_user_twap_history(self, user: str) -> bool:
        """TWAP orders of ``user`` as they start and end: a snapshot, then changes."""
        return self.subscribe(_sub("userTwapHistory", user=user))

    def unsubscribe_user_twap_history(self, user: str) -> bool:
        """Undo ``subscribe_user_twap_history``.

        Takes the same arguments; returns False when there was no such subscription.

        Raises:
            SubscriptionRejected: the arguments are invalid.
            ClientStopped: the client is stopped.
        """
        return self.unsubscribe(_sub("userTwapHistory", user=user))

    def subscribe_spot_state(self, user: str, *, is_portfolio_margin: bool = False) -> bool:
        """Spot balances."""
        return self.subscribe(_sub("spotState", user=user, isPortfolioMargin=is_portfolio_margin))

    def unsubscribe_spot_state(self, user: str, *, is_portfolio_margin: bool = False) -> bool:
        """Undo ``subscribe_spot_state``.

        Takes the same arguments; returns False when there was no such subscription.

        Raises:
            SubscriptionRejected: the arguments are invalid.
            ClientStopped: the client is stopped.
        """
        return self.unsubscribe(
            _sub("spotState", user=user, isPortfolioMargin=is_portfolio_margin)
        )

    def subscribe_all_dexs_clearinghouse_state(self, user: str) -> bool:
        """Positions and margin summary of ``user`` on every perp dex at once."""
        return self.subscribe(_sub("allDexsClearinghouseState", user=user))

    def unsubscribe_all_dexs_clearinghouse_state(self, user: str) -> bool:
        """Undo ``subscribe_all_dexs_clearinghouse_state``.

        Takes the same arguments; returns False when there was no such subscription.

        Raises:
            SubscriptionRejected: the arguments are invalid.
            ClientStopped: the client is stopped.
        """
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
    """``{"type":"info","payload":{"type":…,"data":…}}`` → ``data``
    (docs/venues/hyperliquid.rst#hyperliquid-post)."""
    try:
        return response["payload"]["data"]
    except (KeyError, TypeError) as exc:
        raise ProtocolViolation("info answer without payload.data", raw=response) from exc
