"""VegaClient: one managed socket per subscription, all sharing one client; local books;
decimals and snapshots fetched over REST on the client's worker.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Optional, Union

import attrs

from wsclients.core.client import Client, StreamSet
from wsclients.core.client_options import check_count, check_seconds
from wsclients.core.connection import Connection
from wsclients.core.protocol import Job
from wsclients.core.rest import tls_options
from wsclients.errors import (
    ClientStopped,
    ProtocolStopped,
    SubscriptionRejected,
    WSClientError,
    shorten,
)
from wsclients.venues.vega.book import VegaBookProtocol
from wsclients.venues.vega.decimals import _DECIMALS_RETRY_AFTER, MarketDecimals, _encode_decimals
from wsclients.venues.vega.protocol import VegaStreamProtocol
from wsclients.venues.vega.rest import VegaRest
from wsclients.venues.vega.streams import STREAM_LIMIT, VENUE, VegaStream, make_stream
from wsclients.venues.vega.urls import rest_base_url, stream_base_url

if TYPE_CHECKING:
    pass


# --------------------------------------------------------------------------------------------
# Client


@attrs.frozen
class VegaBookSubscription:
    """A managed local order book (``subscribe_book``): one market, top ``depth`` levels."""

    market_id: str
    depth: Optional[int] = None

    @property
    def path(self) -> str:
        """The stream the book is kept from."""
        return "markets/depth/updates"


Subscription = Union[VegaStream, VegaBookSubscription]
"""What ``subscribe_*`` return and ``unsubscribe`` takes."""

Ids = Union[str, Iterable[str], None]


_MARKET_ID = re.compile(r"[0-9a-fA-F]{64}")


def check_market_id(path: str, market_id: Any) -> str:
    """A market id as the node writes them: 64 hex characters (a SHA-256).

    Anything else (a market's name, a truncated id) would match no market: the node answers
    with an error or, on some routes, with silence.

    Raises:
        SubscriptionRejected: (also a ``ValueError``) ``market_id`` is not 64 hex characters.
    """
    if not isinstance(market_id, str) or not _MARKET_ID.fullmatch(market_id):
        raise SubscriptionRejected(
            path, f"a market id is 64 hex characters, got {shorten(repr(market_id), 80)}"
        )
    return market_id


def _id_list(value: Ids) -> Optional[list[str]]:
    if value is None:
        return None
    return [value] if isinstance(value, str) else list(value)


class VegaClient(Client):
    """Every data-node stream, one managed socket per subscription, and local order books.

    On Vega the subscription *is* the connection (docs/venues/vega.rst#vega-streams): each
    ``subscribe_*``
    opens its own socket to ``/api/v2/stream/…`` (at once if the client runs, else at
    ``start()``); all sockets share this client's callbacks, queues, lifecycle and ``stats``,
    and ``unsubscribe`` closes one. A stream the node refuses for good (unknown market, bad
    parameter) ends that socket with a fatal ``ErrorEvent`` while the others go on.

    Args:
        url: The data node, ``https://host`` or ``http://host`` (the ``wss://``/``ws://`` stream
            URLs and the ``/api/v2`` REST root are derived). Default: a public testnet node.
        decimals: Known market decimals (market id → ``MarketDecimals``); any other market's
            are fetched once over REST (``GET /api/v2/market/{id}``) and cached.
        rest_timeout, rest_retries: For the REST companion (``client.rest``).
        **options: The common client options (callbacks, reconnect, heartbeat, queues,
            transport; docs/options.rst). The node never pings, so WebSocket pings every
            ``ping_interval`` (20 s) keep ``stale_timeout`` (60 s) from firing on quiet streams.

    ``Trade`` and ``Book`` carry real ``Decimal`` prices and sizes; every other stream arrives
    as ``Message`` events named after the route, with the node's integers and int enums
    untouched (``data``), orders/positions/accounts as one snapshot message and then updates.
    """

    venue: ClassVar[str] = VENUE
    default_url: ClassVar[str] = "https://api.n07.testnet.vega.xyz"
    default_ping_interval: ClassVar[Optional[float]] = 20.0
    default_stale_timeout: ClassVar[Optional[float]] = 60.0
    stop_when_all_closed: ClassVar[bool] = False  # sockets come and go with subscriptions
    # The node is named by its base URL; stream (ws) and REST (http) URLs are derived.
    url_schemes: ClassVar[tuple[str, ...]] = ("https", "http", "wss", "ws")

    def __init__(
        self,
        *,
        url: Optional[str] = None,
        decimals: Optional[Mapping[str, MarketDecimals]] = None,
        rest_timeout: float = 10.0,
        rest_retries: int = 3,
        **options: Any,
    ) -> None:
        check_seconds("rest_timeout", rest_timeout, strict=True)
        check_count("rest_retries", rest_retries, 0)
        super().__init__(url=url, **options)
        self._stream_base = stream_base_url(self.url)
        self.rest = VegaRest(
            rest_base_url(self.url), timeout=rest_timeout, retries=rest_retries,
            proxies=self._rest_proxies(), **tls_options(self._ws_options.get("sslopt")),
        )
        """The REST companion on the same node (markets, depth, trades, orders …)."""
        # Guards _decimals and _decimal_failures (never held during a REST call).
        self._decimals_lock = threading.Lock()
        self._decimals: dict[str, MarketDecimals] = dict(decimals or {})
        self._decimal_failures: dict[str, tuple[float, WSClientError]] = {}
        self._streams = StreamSet(self, limit=STREAM_LIMIT, what="stream")
        self._books: dict[Subscription, VegaBookProtocol] = {}  # for stats.resyncs

    def _error_fails_start(self, error: WSClientError) -> bool:
        """A stream the node refuses for good (unknown market, bad parameter) does not make
        ``start`` raise or stop the client: it is delivered as a fatal ``ErrorEvent`` for
        that stream, whenever the refusal arrives, and the other streams go on."""
        return not isinstance(error, ProtocolStopped)

    # -- subscriptions ---------------------------------------------------------------------

    @property
    def subscriptions(self) -> list[Subscription]:
        """The live subscriptions, in the order they were made."""
        return self._streams.keys()  # type: ignore[return-value]

    def subscribe(self, path: str, **params: Any) -> VegaStream:
        """Open any stream route with these query parameters (the escape hatch).

        Names are sent as given (camelCase or snake_case); lists become repeated keys.
        Subscribing to an equal stream twice keeps one socket.

        Raises:
            SubscriptionRejected: a stream the node would accept and never answer.
            ClientStopped: the client is stopped.
        """
        stream = make_stream(path, **params)
        self._add(stream)
        return stream

    def subscribe_trades(self, market_ids: Ids = None, *, party_ids: Ids = None) -> VegaStream:
        """``trades``: every trade of these markets (all markets when None), optionally only
        those where a party is buyer or seller. → ``Trade`` events."""
        return self.subscribe(
            "trades", marketIds=_id_list(market_ids), partyIds=_id_list(party_ids)
        )

    def subscribe_orders(
        self, market_ids: Ids = None, *, party_ids: Ids = None, exclude_liquidity: bool = False
    ) -> VegaStream:
        """``orders``: a snapshot of live orders, then every change. → ``Message`` events."""
        return self.subscribe(
            "orders", marketIds=_id_list(market_ids), partyIds=_id_list(party_ids),
            excludeLiquidity=exclude_liquidity or None,
        )

    def subscribe_depth(self, market_ids: Ids) -> VegaStream:
        """``markets/depth``: the full book of each market whenever it changes (raw)."""
        return self.subscribe("markets/depth", marketIds=_id_list(market_ids))

    def subscribe_depth_updates(self, market_ids: Ids) -> VegaStream:
        """``markets/depth/updates``: changed levels per block (raw; see ``subscribe_book``)."""
        return self.subscribe("markets/depth/updates", marketIds=_id_list(market_ids))

    def subscribe_market_data(self, market_ids: Ids) -> VegaStream:
        """``markets/data``: mark price, best bid/offer, open interest, state … per block."""
        return self.subscribe("markets/data", marketIds=_id_list(market_ids))

    def subscribe_positions(
        self,
        party_id: Optional[str] = None,
        *,
        market_id: Optional[str] = None,
        include_derived_parties: bool = False,
    ) -> VegaStream:
        """``positions``: a snapshot, then updates (singular ``partyId``/``marketId``)."""
        return self.subscribe(
            "positions", partyId=party_id, marketId=market_id,
            includeDerivedParties=include_derived_parties or None,
        )

    def subscribe_accounts(
        self,
        party_id: Optional[str] = None,
        *,
        market_id: Optional[str] = None,
        asset: Optional[str] = None,
        account_type: Union[str, int, None] = None,
        include_derived_parties: bool = False,
    ) -> VegaStream:
        """``accounts``: a snapshot of balances, then updates."""
        return self.subscribe(
            "accounts", partyId=party_id, marketId=market_id, asset=asset, type=account_type,
            includeDerivedParties=include_derived_parties or None,
        )

    def subscribe_candles(self, candle_id: str) -> VegaStream:
        """``candle/data``: one candle per frame as it changes. Ids come from
        ``client.rest.candle_intervals(market_id)``."""
        return self.subscribe("candle/data", candleId=candle_id)

    def subscribe_margin_levels(
        self, party_id: Optional[str] = None, *, market_id: Optional[str] = None
    ) -> VegaStream:
        """``margin/levels``: a party's margin levels as they change."""
        return self.subscribe("margin/levels", partyId=party_id, marketId=market_id)

    def subscribe_ledger_movements(self) -> VegaStream:
        """``ledger/movements``: every ledger movement on the network (no filter exists)."""
        return self.subscribe("ledger/movements")

    def subscribe_liquidity_provisions(
        self, market_id: Optional[str] = None, *, party_id: Optional[str] = None
    ) -> VegaStream:
        """``liquidity-provisions``."""
        return self.subscribe("liquidity-provisions", marketId=market_id, partyId=party_id)

    def subscribe_governance(self, party_id: Optional[str] = None) -> VegaStream:
        """``governance``: proposals and their votes."""
        return self.subscribe("governance", partyId=party_id)

    def subscribe_votes(
        self, party_id: Optional[str] = None, *, proposal_id: Optional[str] = None
    ) -> VegaStream:
        """``votes`` of a party or on a proposal (one of them is required)."""
        return self.subscribe("votes", partyId=party_id, proposalId=proposal_id)

    def subscribe_transaction_results(
        self, party_ids: Ids = None, *, hashes: Ids = None, status: Optional[bool] = None
    ) -> VegaStream:
        """``transaction-results``, optionally only successes (True) or failures (False)."""
        return self.subscribe(
            "transaction-results", partyIds=_id_list(party_ids), hashes=_id_list(hashes),
            status=status,
        )

    def subscribe_event_bus(
        self,
        types: Union[str, int, Iterable[Union[str, int]]],
        *,
        market_id: Optional[str] = None,
        party_id: Optional[str] = None,
        batch_size: int = 0,
    ) -> VegaStream:
        """``event/bus``: raw bus events of these types (``BUS_EVENT_TYPE_…`` names or
        numbers). The filter goes in the first frame, as the node requires
        (docs/venues/vega.rst#vega-event-bus)."""
        return self.subscribe(
            "event/bus", type=types, marketId=market_id, partyId=party_id, batchSize=batch_size
        )

    def subscribe_book(
        self, market_id: str, *, depth: Optional[int] = None
    ) -> VegaBookSubscription:
        """A local order book for one market, as ``Book`` events (top ``depth`` levels).

        The socket reads ``markets/depth/updates`` and buffers; the full depth comes from
        ``GET /api/v2/market/depth/{id}/latest``; updates are chained on their sequence
        numbers (docs/venues/vega.rst#vega-depth-resync). A ``Book(is_snapshot=True)`` comes first
        and after
        every resync (a gap, a crossed book, a reconnect; counted in ``stats.resyncs``), then
        one ``Book`` per applied update.
        """
        if depth is not None and depth < 1:
            raise ValueError("depth must be at least 1 (or None for the full book)")
        subscription = VegaBookSubscription(market_id, depth)
        self._add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> bool:
        """Close the subscription's socket. False if it was not subscribed. Idempotent."""
        self._books.pop(subscription, None)
        return self._streams.close(subscription)

    # -- decimals --------------------------------------------------------------------------

    def market_decimals(self, market_id: str) -> MarketDecimals:
        """The market's decimals: cached, else ``GET /api/v2/market/{id}`` once.

        A failed fetch is remembered for a few seconds, so a stream of trades from an
        unknown market does not become a stream of REST calls.

        Raises:
            RequestFailed, ConnectFailed, RequestTimeout, ProtocolViolation: from REST.
        """
        with self._decimals_lock:
            known = self._decimals.get(market_id)
            if known is not None:
                return known
            failure = self._decimal_failures.get(market_id)
            if failure is not None and time.monotonic() < failure[0]:
                raise failure[1]
        try:
            decimals = MarketDecimals.from_market(self.rest.market(market_id))
        except WSClientError as exc:
            with self._decimals_lock:
                self._decimal_failures[market_id] = (
                    time.monotonic() + _DECIMALS_RETRY_AFTER, exc
                )
            raise
        # Recorded before the protocols can see them: a replay never knows them later.
        self._record_learned({"decimals": {market_id: _encode_decimals(decimals)}})
        with self._decimals_lock:
            self._decimals[market_id] = decimals
            self._decimal_failures.pop(market_id, None)
        return decimals

    def known_decimals(self, market_id: str) -> Optional[MarketDecimals]:
        """The market's decimals when already known; never blocks (the protocols' lookup)."""
        return self._decimals.get(market_id)

    # -- internals -------------------------------------------------------------------------

    def _add(self, subscription: Subscription) -> None:
        if self._stopped.is_set():
            raise ClientStopped("the client is stopped")
        market_ids = (
            [subscription.market_id] if isinstance(subscription, VegaBookSubscription)
            else subscription.market_ids
        )
        for market_id in market_ids:
            check_market_id(subscription.path, market_id)
        protocol: Union[VegaBookProtocol, VegaStreamProtocol]
        if isinstance(subscription, VegaBookSubscription):
            protocol = VegaBookProtocol(
                subscription.market_id, decimals=self.known_decimals,
                depth=subscription.depth, retry=self._backoff,
            )
        else:
            protocol = VegaStreamProtocol(subscription, decimals=self.known_decimals)
        url = protocol.stream.url(self._stream_base)
        name = f"{self.venue}-{subscription.path.replace('/', '-')}"
        if self._streams.open(subscription, url, protocol, name=name) is not None and isinstance(
            protocol, VegaBookProtocol
        ):
            self._books[subscription] = protocol

    def _run_job(self, connection: Connection, job: Job) -> Any:
        """Worker thread: decimals and book snapshots over REST, off the sockets' readers."""
        market_id = job.args
        if job.kind == "decimals":
            return self.market_decimals(market_id)
        if job.kind == "snapshot":
            return self.market_decimals(market_id), self.rest.depth(market_id)
        return super()._run_job(connection, job)

    def _resync_count(self) -> int:
        return sum(book.resyncs for book in list(self._books.values()))

    def _on_stop(self) -> None:
        self.rest.close()

    def _rest_proxies(self) -> Optional[dict[str, str]]:
        """The WebSocket proxy option, reused for REST (same node, same network path)."""
        host = self._ws_options.get("http_proxy_host")
        if not host:
            return None
        port = self._ws_options.get("http_proxy_port")
        scheme = self._ws_options.get("proxy_type") or "http"
        proxy = f"{scheme}://{host}" + (f":{port}" if port else "")
        return {"http": proxy, "https": proxy}
