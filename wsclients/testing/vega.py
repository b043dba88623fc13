"""FakeVegaNode: a local Vega data node — the stream routes and the REST the client uses.

One server on one port, as a real data node's gateway (docs/venues/vega.rst#vega-fake): WebSocket
upgrades
on ``/api/v2/stream/<route>?<query>`` and plain HTTP GETs on ``/api/v2/...``, so the client's
sockets and its REST calls see the same state. What it copies from the node:

- one compact JSON object per text frame, ``{"result":…}``, camelCase, int enums, zero values
  omitted (a removed depth level is ``{"price":…}`` only), 64-bit integers as strings;
- orders/positions/accounts: snapshot pages of 50 with ``lastPage`` only on the last (an empty
  snapshot is ``{"snapshot":{"lastPage":true}}``), then ``updates`` batches of at most 50;
- depth updates once per block per market, absolute levels, ``previousSequenceNumber`` chained
  to the previous update's ``sequenceNumber`` (19-digit numbers, above 2**53);
- unknown query parameters ignored (so ``partyId`` on ``trades`` filters nothing); depth and
  market data without ``marketIds`` stay silent; an unknown market, a bad bool, votes without
  a filter or an unknown route: the bare status error, then a TCP drop without a close frame;
- never a ping (pings are answered); REST uses enum names and emits defaults; lists use
  cursor pagination (``pagination.first``/``pagination.after``, 1000 by default, 5000 max).

The market moves only when told: ``step()`` publishes one block (a book change per market, a
trade per market, market data); ``start_blocks(interval)`` does it on a timer for demos. Faults
are scripted: ``skip_update(market)`` (a sequence gap), ``cross_book(market)`` (a bogus crossing
update), ``drop_streams()`` (TCP drop), ``fail_stream()`` (the mid-stream ``{"error":…}``).
The book itself comes from ``testing/market.py``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Optional

import attrs

from wsclients.models import BookLevel
from wsclients.testing.market import Level, Market, SymbolSpec
from wsclients.testing.server import FakeConnection, FakeRequest, FakeServer, HttpResult

__all__ = ["FakeVegaMarket", "FakeVegaNode"]

STREAM_PREFIX = "/api/v2/stream/"
REST_PREFIX = "/api/v2/"
PAGE = 50  # docs/venues/vega.rst#vega-snapshots: snapshot pages and update batches
DEFAULT_PAGE_SIZE = 1000  # docs/venues/vega.rst#vega-rest
MAX_PAGE_SIZE = 5000
_SEQUENCE_BASE = 1_697_590_000_000_000_000  # block-time-like sequence numbers (> 2**53)
_SEQUENCE_STEP = 1_000_003
_ERROR_DETAIL = "type.googleapis.com/vega.ErrorDetail"

ROUTES = frozenset({
    "trades", "orders", "markets/depth", "markets/depth/updates", "markets/data", "positions",
    "accounts", "candle/data", "margin/levels", "ledger/movements", "liquidity-provisions",
    "governance", "votes", "transaction-results", "event/bus",
})
_SET_LOOKUP_ROUTES = frozenset({"markets/depth", "markets/depth/updates", "markets/data"})
_BOOL_PARAMS = {
    "orders": ("excludeLiquidity",),
    "positions": ("includeDerivedParties",),
    "accounts": ("includeDerivedParties",),
    "transaction-results": ("status",),
}
_SIDE_NAMES = {1: "SIDE_BUY", 2: "SIDE_SELL"}
_ORDER_STATUS = {1: "STATUS_ACTIVE", 2: "STATUS_EXPIRED", 3: "STATUS_CANCELLED",
                 4: "STATUS_STOPPED", 5: "STATUS_FILLED", 6: "STATUS_REJECTED",
                 7: "STATUS_PARTIALLY_FILLED", 8: "STATUS_PARKED"}
_ORDER_TYPE = {1: "TYPE_LIMIT", 2: "TYPE_MARKET", 3: "TYPE_NETWORK"}
_TIME_IN_FORCE = {1: "TIME_IN_FORCE_GTC", 2: "TIME_IN_FORCE_GTT", 3: "TIME_IN_FORCE_IOC",
                  4: "TIME_IN_FORCE_FOK", 5: "TIME_IN_FORCE_GFA", 6: "TIME_IN_FORCE_GFN"}
_ACCOUNT_TYPE = {3: "ACCOUNT_TYPE_MARGIN", 4: "ACCOUNT_TYPE_GENERAL", 9: "ACCOUNT_TYPE_BOND"}


def _hex_id(*parts: object) -> str:
    """A stable 64-hex id, like Vega's market, party and order ids."""
    return hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


def _is_vega_id(value: str) -> bool:
    return value == "network" or (
        len(value) == 64 and all(c in "0123456789abcdef" for c in value)
    )


def _status(code: int, message: str, detail_code: Optional[int] = None,
            detail: str = "", inner: str = "") -> dict[str, Any]:
    """A google.rpc.Status as the gateway writes it (with a Vega ErrorDetail when given)."""
    status: dict[str, Any] = {"code": code, "message": message}
    if detail_code is not None:
        item: dict[str, Any] = {"@type": _ERROR_DETAIL, "code": detail_code, "message": detail}
        if inner:
            item["inner"] = inner
        status["details"] = [item]
    return status


def _dump(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


@attrs.define(eq=False)
class FakeVegaMarket:
    """One market of the fake node: its id, decimals and the spec its book walks with."""

    id: str
    code: str
    decimal_places: int
    position_decimal_places: int
    spec: SymbolSpec
    settlement_asset: str = "fUSDC"

    def price_int(self, price: Decimal) -> int:
        return int(price.scaleb(self.decimal_places))

    def size_int(self, size: Decimal) -> int:
        return int(size.scaleb(self.position_decimal_places))

    def rest_object(self) -> dict[str, Any]:
        """The REST ``Market`` (enum names, 64-bit values as strings)."""
        return {
            "id": self.id,
            "tradableInstrument": {
                "instrument": {
                    "id": "", "code": self.code, "name": f"{self.code} future",
                    "metadata": {"tags": ["base:" + self.code.split("/")[0]]},
                    "future": {"settlementAsset": self.settlement_asset, "quoteName": "USD"},
                },
            },
            "decimalPlaces": str(self.decimal_places),
            "positionDecimalPlaces": str(self.position_decimal_places),
            "tickSize": "1",
            "state": "STATE_ACTIVE",
            "tradingMode": "TRADING_MODE_CONTINUOUS",
        }


def default_markets() -> list[FakeVegaMarket]:
    """Two markets with different decimals; ETH's position decimals are negative
    (docs/venues/vega.rst#vega-decimals)."""
    return [
        FakeVegaMarket(_hex_id("market", "BTC"), "BTC/USD-PERP", 1, 3,
                       SymbolSpec(Decimal("65000"), Decimal("0.1"), Decimal("0.001"))),
        FakeVegaMarket(_hex_id("market", "ETH"), "ETH/USD-PERP", 2, -1,
                       SymbolSpec(Decimal("3500"), Decimal("0.01"), Decimal("10"))),
    ]


@attrs.define(eq=False)
class _Stream:
    """One live stream socket: its route and normalised query."""

    conn: FakeConnection
    route: str
    query: dict[str, list[str]]
    bus_types: Optional[set[Any]] = None
    bus_filter: Optional[dict[str, Any]] = None
    """Event bus only: ``marketId``/``partyId`` from the request frame."""
    bus_credit: Optional[int] = None
    """Event bus with a batch size: batches the client has asked for and not received."""
    stalled: bool = False
    """The client wrote a frame on a server-streaming route: the node's proxy stops here."""

    def values(self, name: str) -> list[str]:
        return self.query.get(name, [])

    def matches(self, name: str, value: Optional[str]) -> bool:
        """Filter semantics: an absent filter matches all, except on depth and market data,
        where the market filter is a set lookup and an empty set matches nothing
        (docs/venues/vega.rst#vega-filters)."""
        wanted = self.values(name)
        if not wanted:
            return not (name == "marketIds" and self.route in _SET_LOOKUP_ROUTES)
        return value in wanted


class FakeVegaNode(FakeServer):
    """A faithful local Vega data node (streams + REST) over ``testing/market.py``.

    Args:
        markets: The markets to serve (default: ``default_markets()``).
        extra_markets: That many more (quiet) markets in the REST list, for pagination.
        parties: Party ids used as buyers and sellers of the generated trades.
        seed: Seeds the market walk.
        depth: Book window of each market, in ticks per side.
        block_changes: Levels resized per market per block.
        max_streams: Concurrent stream sockets allowed (the node's MaxSubscriptionPerClient,
            default 250 per IP); one more is refused with gRPC code 8 and a drop.
        max_frame: The proxy's frame limit (64 KiB, its scanner's token size): a larger frame
            is never delivered and the socket is closed; None turns it off.
        bus_request_timeout: Seconds the event bus waits for the request frame (and, with a
            batch size, for each next request) before the stream ends (the node's 5 s).
        omit_first_previous: The first depth update of each market since the node started has
            no ``previousSequenceNumber`` (it is 0, and zero values are omitted).
        mid_block_snapshots: REST depth snapshots carry a sequence number strictly between two
            updates' (the node reads its book per order, so a snapshot can fall mid-block).

    Use ``url`` for the client (``http://127.0.0.1:<port>``: the REST root and, as ``ws://``,
    the stream root). All methods are thread-safe.
    """

    def __init__(
        self,
        markets: Optional[Sequence[FakeVegaMarket]] = None,
        *,
        extra_markets: int = 0,
        parties: Sequence[str] = (),
        seed: int = 0,
        depth: int = 10,
        block_changes: int = 4,
        max_streams: Optional[int] = 250,
        max_frame: Optional[int] = 64 * 1024,
        bus_request_timeout: float = 5.0,
        omit_first_previous: bool = False,
        mid_block_snapshots: bool = False,
        name: str = "vega",
    ) -> None:
        super().__init__(name)
        self.max_streams = max_streams
        self.max_frame = max_frame
        self.bus_request_timeout = bus_request_timeout
        self.omit_first_previous = omit_first_previous
        self.mid_block_snapshots = mid_block_snapshots
        self._updated_once: set[str] = set()
        self.markets: dict[str, FakeVegaMarket] = {m.id: m for m in (markets or default_markets())}
        self._listed = list(self.markets.values()) + [
            FakeVegaMarket(_hex_id("extra", n), f"X{n}/USD", 2, 0,
                           SymbolSpec(Decimal("10"), Decimal("0.01"), Decimal("1")))
            for n in range(extra_markets)
        ]
        self.parties = list(parties) or [_hex_id("party", n) for n in range(3)]
        self.market = Market(
            list(self.markets), seed=seed, depth=depth,
            specs={m.id: m.spec for m in self.markets.values()},
        )
        self._block_changes = block_changes
        # Guards everything below, and every send that must stay ordered with a REST read.
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._streams: list[_Stream] = []
        self._opened: dict[str, int] = {}  # route -> stream sockets registered, ever
        self._sequence = {mid: _SEQUENCE_BASE for mid in self.markets}
        self._skip: dict[str, int] = {}
        self._trades: list[dict[str, Any]] = []
        self._last_price: dict[str, int] = {}
        self._records: dict[str, dict[str, dict[str, Any]]] = {
            "orders": {}, "positions": {}, "accounts": {},
        }
        self._rest_faults: list[list[Any]] = []  # [path fragment, times left, status]
        self.rest_delay = 0.0
        """Seconds every REST answer waits before it is sent (a slow node); streams go on."""
        self._blocks_thread: Optional[threading.Thread] = None
        self._blocks_stop = threading.Event()

    @property
    def url(self) -> str:
        """The data node's base URL, as a client takes it."""
        return self.http_url

    @property
    def market_ids(self) -> list[str]:
        """The ids of the markets it lists (64 hex characters, as a real node's)."""
        return list(self.markets)

    # -- the market ------------------------------------------------------------------------

    def step(self, blocks: int = 1, *, trades: int = 1) -> None:
        """Publish ``blocks`` blocks: per market a book change (depth update + full depth),
        ``trades`` trades and a market-data frame."""
        for _ in range(blocks):
            with self._lock:
                for market in self.markets.values():
                    self._book_block(market)
                    self._trade_block(market, trades)
                    self._publish_market_data(market)

    def start_blocks(self, interval: float = 0.2, *, trades: int = 1) -> None:
        """Publish a block every ``interval`` seconds until ``stop_blocks()`` or ``stop()``."""
        if self._blocks_thread is not None:
            return
        self._blocks_stop.clear()

        def run() -> None:
            while not self._blocks_stop.wait(interval) and not self.stopping.is_set():
                self.step(trades=trades)

        self._blocks_thread = self.start_thread(run, name="blocks")

    def stop_blocks(self) -> None:
        """Stop the blocks ``start_blocks`` produces; waits for the block thread to end."""
        thread, self._blocks_thread = self._blocks_thread, None
        self._blocks_stop.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(5.0)

    def stop(self, timeout: float = 5.0) -> None:
        self._blocks_stop.set()
        self._blocks_thread = None
        super().stop(timeout)

    def book(self, market_id: str) -> tuple[tuple[BookLevel, ...], tuple[BookLevel, ...]]:
        """The node's true book, scaled as a client shows it: ``(bids, asks)`` best first."""
        market = self.markets[market_id]
        with self._lock:
            bids, asks = self.market.book(market_id)
        return (
            tuple(self._scaled_level(market, level) for level in bids),
            tuple(self._scaled_level(market, level) for level in asks),
        )

    def sequence(self, market_id: str) -> int:
        """The sequence number of the last published depth update (or the initial book)."""
        with self._lock:
            return self._sequence[market_id]

    # -- faults ----------------------------------------------------------------------------

    def skip_update(self, market_id: str, count: int = 1) -> None:
        """The next ``count`` depth updates of the market change the book but are not sent."""
        with self._lock:
            self._skip[market_id] = self._skip.get(market_id, 0) + count

    def cross_book(self, market_id: str) -> None:
        """Send a bogus, correctly chained depth update that puts a bid above the best ask.
        The node's book does not change, so a resync from REST repairs the client's."""
        market = self.markets[market_id]
        with self._lock:
            _, asks = self.market.book(market_id)
            price = market.price_int(asks[0][0]) + 5
            update = {"marketId": market_id,
                      "buy": [{"price": str(price), "numberOfOrders": "1", "volume": "1"}]}
            self._publish_update(market_id, update)

    def drop_streams(self, route: Optional[str] = None) -> int:
        """Cut live stream sockets (of ``route``, or all) without a close frame; how many."""
        with self._lock:
            streams = [s for s in self._streams if route is None or s.route == route]
        for stream in streams:
            stream.conn.drop()
        return len(streams)

    def fail_stream(self, route: str, *, code: int = 13, detail_code: int = 10010,
                    message: str = "internal stream failure", inner: str = "channel closed"
                    ) -> int:
        """A mid-stream failure: ``{"error":{…}}`` then a TCP drop
        (docs/venues/vega.rst#vega-envelopes)."""
        frame = _dump({"error": _status(code, "Internal error" if code == 13 else "error",
                                        detail_code, message, inner)})
        with self._lock:
            streams = [s for s in self._streams if s.route == route]
            for stream in streams:
                stream.conn.send(frame)
        for stream in streams:
            stream.conn.drop()
        return len(streams)

    def fail_rest(self, match: str, *, times: int = 1, status: int = 500) -> None:
        """The next ``times`` REST requests whose path contains ``match`` get HTTP ``status``
        with a bare status body (for 429: the node's rate-limit message)."""
        with self._lock:
            self._rest_faults.append([match, times, status])

    # -- records (orders, positions, accounts) and free-form publishing --------------------

    def add_orders(self, orders: Iterable[Mapping[str, Any]]) -> None:
        """Store orders (stream format: int enums, omitted zeros) and send them as updates."""
        self._add_records("orders", orders)

    def add_positions(self, positions: Iterable[Mapping[str, Any]]) -> None:
        """Store positions (keyed by party and market) and send them as updates."""
        self._add_records("positions", positions)

    def add_accounts(self, accounts: Iterable[Mapping[str, Any]]) -> None:
        """Store account balances (keyed by owner, asset, market, type) and send updates."""
        self._add_records("accounts", accounts)

    def make_order(self, n: int, *, market_id: Optional[str] = None,
                   party_id: Optional[str] = None, status: int = 1) -> dict[str, Any]:
        """A plausible live order in stream format."""
        market = self.markets[market_id or self.market_ids[0]]
        bid, _ = self.market.touch(market.id)
        return {
            "id": _hex_id("order", n), "marketId": market.id,
            "partyId": party_id or self.parties[0], "side": 1 + n % 2,
            "price": str(market.price_int(bid)), "size": "10", "remaining": "10",
            "timeInForce": 1, "type": 1, "createdAt": str(_SEQUENCE_BASE + n), "status": status,
            "version": "1", "batchId": "1",
        }

    def publish(self, route: str, result: Mapping[str, Any], **match: Optional[str]) -> int:
        """Send ``{"result": result}`` on every live ``route`` socket whose filters match
        (``partyId="…"``: a socket filtered on another party is skipped). How many sockets."""
        frame = _dump({"result": result})
        sent = 0
        too_big: list[_Stream] = []
        with self._lock:
            for stream in self._streams:
                if stream.route != route or stream.stalled:
                    continue
                if not all(stream.matches(_camel(k), v) for k, v in match.items()):
                    continue
                text = frame
                if route == "event/bus":
                    events = [e for e in result.get("events", []) if _bus_wants(stream, e)]
                    if not events or stream.bus_credit == 0:
                        continue
                    if stream.bus_credit is not None:
                        stream.bus_credit -= 1
                    text = _dump({"result": {"events": events}})
                if self.max_frame is not None and len(text.encode()) > self.max_frame:
                    too_big.append(stream)  # the proxy's scanner gives up: nothing arrives
                    continue
                stream.conn.send(text)
                sent += 1
        for stream in too_big:
            stream.conn.drop()
        return sent

    def wait_for_streams(self, route: str, n: int = 1, *, timeout: float = 5.0) -> None:
        """Wait until ``n`` sockets on ``route`` have been registered in total (ready for
        data: snapshot sent). Raises TimeoutError."""
        with self._changed:
            if not self._changed.wait_for(lambda: self._opened.get(route, 0) >= n, timeout):
                raise TimeoutError(
                    f"fake vega: {self._opened.get(route, 0)} of {n} {route} streams"
                )

    def live_streams(self, route: Optional[str] = None) -> int:
        """How many stream sockets (of ``route``) are registered and open now."""
        with self._lock:
            return sum(1 for s in self._streams if route is None or s.route == route)

    # -- WebSocket side --------------------------------------------------------------------

    def handle(self, conn: FakeConnection) -> None:
        route = conn.path[len(STREAM_PREFIX):] if conn.path.startswith(STREAM_PREFIX) else ""
        if route not in ROUTES:
            # docs/venues/vega.rst#vega-envelopes: the upgrade succeeds, then a bare 5 and a drop.
            self._refuse(conn, _status(5, "Not Found"))
            return
        query: dict[str, list[str]] = {}
        for key, values in conn.query.items():
            query.setdefault(_camel(key), []).extend(values)
        refusal = self._check(route, query)
        if refusal is not None:
            self._refuse(conn, refusal)
            return
        with self._lock:
            full = self.max_streams is not None and len(self._streams) >= self.max_streams
        if full:
            self._refuse(conn, _status(8, "client reached max subscription allowed"))
            return
        stream = _Stream(conn, route, query)
        if route == "event/bus" and not self._read_bus_request(stream):
            return
        with self._lock:
            if route in ("orders", "positions", "accounts"):
                self._send_snapshot(stream)
            self._streams.append(stream)
            self._opened[route] = self._opened.get(route, 0) + 1
            self._changed.notify_all()
        try:
            if route == "event/bus":
                self._serve_bus_requests(stream)
            else:
                while conn.recv() is not None:
                    # The proxy writes a client frame into the request body, which a GET
                    # handler never reads: the write blocks, its read loop stops, and from
                    # then on nothing is sent and pings get no pong.
                    with self._lock:
                        stream.stalled = True
                    conn.go_silent()
        finally:
            with self._lock:
                if stream in self._streams:
                    self._streams.remove(stream)

    def _read_bus_request(self, stream: _Stream) -> bool:
        """The event bus reads its filter from the first frame, within the request timeout
        (venues: ObserveEventBus is bidirectional; the node's defaultReqTimeout is 5 s)."""
        conn = stream.conn
        try:
            first = conn.recv(self.bus_request_timeout)
        except TimeoutError:
            self._refuse(conn, _status(4, "DeadlineExceeded error", 10010, "request timeout"))
            return False
        if first is None:
            return False
        try:
            request = json.loads(first)
            stream.bus_types = set(request.get("type") or [])
            stream.bus_filter = {k: request[k] for k in ("marketId", "partyId") if request.get(k)}
            batch = int(request.get("batchSize") or 0)
        except (ValueError, AttributeError, TypeError):
            self._refuse(conn, _status(3, "InvalidArgument error", 10000, "invalid request"))
            return False
        stream.bus_credit = 1 if batch > 0 else None
        return True

    def _serve_bus_requests(self, stream: _Stream) -> None:
        """With a batch size every batch must be asked for by a repeated request frame; none
        within the timeout ends the stream."""
        conn = stream.conn
        while True:
            if stream.bus_credit is None:
                if conn.recv() is None:
                    return
                continue
            try:
                message = conn.recv(self.bus_request_timeout)
            except TimeoutError:
                if stream.bus_credit == 0:
                    conn.drop()
                    return
                continue
            if message is None:
                return
            with self._lock:
                stream.bus_credit += 1

    def _refuse(self, conn: FakeConnection, status: Mapping[str, Any]) -> None:
        """Pre-stream failure: the bare status, then a TCP drop with no close frame."""
        conn.send(_dump(status))
        conn.drop()

    def _check(self, route: str, query: Mapping[str, list[str]]) -> Optional[dict[str, Any]]:
        for name in _BOOL_PARAMS.get(route, ()):
            for value in query.get(name, []):
                if value.lower() not in ("true", "false", "1", "0"):
                    return _status(3, f'parsing field "{name}": invalid bool {value!r}')
        if route in ("markets/depth", "markets/depth/updates", "markets/data"):
            for market_id in query.get("marketIds", []):
                if market_id not in self.markets:
                    return _status(13, "Internal error", 10000,
                                   f"no market found for id: {market_id}: malformed request")
        if route == "orders":
            for name, what in (("marketIds", "one or more market id is invalid"),
                               ("partyIds", "one or more party id is invalid")):
                if not all(_is_vega_id(v) for v in query.get(name, [])):
                    return _status(3, "InvalidArgument error", 10000, what)
        if route == "candle/data":
            for candle_id in query.get("candleId", []):
                if not any(candle_id.endswith(f"_{market_id}") for market_id in self.markets):
                    return _status(13, "Internal error", 60002,
                                   "failed to subscribe to candle data")
        if route == "votes" and not (query.get("partyId") or query.get("proposalId")):
            return _status(3, "InvalidArgument error", 10024, "missing proposal id or party id")
        return None

    # -- publishing (under the lock) -------------------------------------------------------

    def _book_block(self, market: FakeVegaMarket) -> None:
        change = self.market.step_book(market.id, self._block_changes)
        update = {
            "marketId": market.id,
            "buy": [self._wire_level(market, level) for level in change.bids],
            "sell": [self._wire_level(market, level) for level in change.asks],
        }
        if self._skip.get(market.id):
            self._skip[market.id] -= 1
            self._next_sequence(market.id)  # the book moved on; nobody hears of it
        else:
            self._publish_update(market.id, update)
        bids, asks = self.market.book(market.id)
        depth = {
            "marketId": market.id,
            "buy": [self._wire_level(market, level) for level in bids],
            "sell": [self._wire_level(market, level) for level in asks],
            "sequenceNumber": str(self._sequence[market.id]),
        }
        self.publish("markets/depth", {"marketDepth": [depth]}, marketIds=market.id)

    def _next_sequence(self, market_id: str) -> tuple[int, int]:
        previous = self._sequence[market_id]
        self._sequence[market_id] = previous + _SEQUENCE_STEP
        return previous, previous + _SEQUENCE_STEP

    def _publish_update(self, market_id: str, update: dict[str, Any]) -> None:
        previous, sequence = self._next_sequence(market_id)
        item = {k: v for k, v in update.items() if v}  # empty sides are omitted
        item["sequenceNumber"] = str(sequence)
        first = market_id not in self._updated_once
        self._updated_once.add(market_id)
        if not (first and self.omit_first_previous):
            item["previousSequenceNumber"] = str(previous)
        self.publish("markets/depth/updates", {"update": [item]}, marketIds=market_id)

    def _trade_block(self, market: FakeVegaMarket, count: int) -> None:
        trades: list[dict[str, Any]] = []
        for _ in range(count):
            synthetic = self.market.next_trade(market.id)
            buyer, seller = self.parties[synthetic.trade_id % len(self.parties)], self.parties[
                (synthetic.trade_id + 1) % len(self.parties)]
            price = market.price_int(synthetic.price)
            self._last_price[market.id] = price
            trade = {
                "id": _hex_id("trade", synthetic.trade_id), "marketId": market.id,
                "price": str(price), "size": str(market.size_int(synthetic.size)),
                "buyer": buyer, "seller": seller,
                "aggressor": 1 if synthetic.side == "buy" else 2,
                "buyOrder": _hex_id("buy", synthetic.trade_id),
                "sellOrder": _hex_id("sell", synthetic.trade_id),
                "timestamp": str(time.time_ns()), "type": 1,
                "buyerFee": {"makerFee": "0", "infrastructureFee": "12", "liquidityFee": "3"},
                "sellerFee": {"makerFee": "5", "infrastructureFee": "0", "liquidityFee": "0"},
            }
            trades.append(trade)
            self._trades.append(trade)
        with self._lock:
            for stream in self._streams:
                if stream.route != "trades":
                    continue
                mine = [t for t in trades if stream.matches("marketIds", t["marketId"]) and (
                    not stream.values("partyIds")
                    or t["buyer"] in stream.values("partyIds")
                    or t["seller"] in stream.values("partyIds"))]
                for start in range(0, len(mine), PAGE):
                    stream.conn.send(_dump({"result": {"trades": mine[start:start + PAGE]}}))

    def _publish_market_data(self, market: FakeVegaMarket) -> None:
        bids, asks = self.market.book(market.id)
        bid, ask = bids[0], asks[0]
        bid_int, ask_int = market.price_int(bid[0]), market.price_int(ask[0])
        data = {
            "markPrice": str(self._last_price.get(market.id, bid_int)),
            "bestBidPrice": str(bid_int), "bestBidVolume": str(market.size_int(bid[1])),
            "bestOfferPrice": str(ask_int), "bestOfferVolume": str(market.size_int(ask[1])),
            "midPrice": str((bid_int + ask_int) // 2), "market": market.id,
            "timestamp": str(time.time_ns()), "marketTradingMode": 1, "marketState": 5,
        }
        self.publish("markets/data", {"marketData": [data]}, marketIds=market.id)

    def _add_records(self, kind: str, records: Iterable[Mapping[str, Any]]) -> None:
        with self._lock:
            batch = []
            for record in records:
                self._records[kind][_record_key(kind, record)] = dict(record)
                batch.append(dict(record))
            for stream in self._streams:
                if stream.route != kind:
                    continue
                mine = [r for r in batch if _record_matches(kind, stream, r)]
                for start in range(0, len(mine), PAGE):
                    page = mine[start:start + PAGE]
                    stream.conn.send(_dump({"result": {"updates": {kind: page}}}))

    def _send_snapshot(self, stream: _Stream) -> None:
        kind = stream.route
        records = [r for r in self._records[kind].values() if _record_matches(kind, stream, r)]
        if kind == "orders":
            records = [r for r in records if r.get("status") == 1]  # live orders only
            records.reverse()  # newest first
        if kind == "positions" and not records and stream.values("partyId") and \
                stream.values("marketId"):
            # docs/venues/vega.rst#vega-filters: no snapshot at all for a party without a position
            return
        pages = [records[start:start + PAGE] for start in range(0, len(records), PAGE)] or [[]]
        for number, page in enumerate(pages):
            snapshot: dict[str, Any] = {kind: page} if page else {}
            if number == len(pages) - 1:
                snapshot["lastPage"] = True
            stream.conn.send(_dump({"result": {"snapshot": snapshot}}))

    @staticmethod
    def _wire_level(market: FakeVegaMarket, level: Level) -> dict[str, str]:
        price, size, count = level
        wire = {"price": str(market.price_int(price))}
        if size:  # zero values are omitted on streams (docs/venues/vega.rst#vega-depth-production)
            wire["numberOfOrders"] = str(count)
            wire["volume"] = str(market.size_int(size))
        return wire

    @staticmethod
    def _scaled_level(market: FakeVegaMarket, level: Level) -> BookLevel:
        price, size, count = level
        return BookLevel(
            Decimal(market.price_int(price)).scaleb(-market.decimal_places),
            Decimal(market.size_int(size)).scaleb(-market.position_decimal_places),
            count,
        )

    # -- REST side -------------------------------------------------------------------------

    def handle_http(self, request: FakeRequest) -> HttpResult:
        if request.method != "GET" or not request.path.startswith(REST_PREFIX):
            return 404, _status(5, "Not Found")
        path = request.path[len(REST_PREFIX):].strip("/")
        query = request.query
        parts = path.split("/")
        if self.rest_delay:
            time.sleep(self.rest_delay)  # this request's own handler thread only
        with self._lock:
            for fault in self._rest_faults:
                if fault[0] in path and fault[1] > 0:
                    fault[1] -= 1
                    if fault[2] == 429:
                        return 429, _status(8, "api request rate limit exceeded")
                    return fault[2], _status(13, "Internal error", 10000, "injected failure")
            try:
                return self._route_rest(parts, query)
            except _RestError as exc:
                return exc.status, exc.body

    def _route_rest(self, parts: list[str], query: Mapping[str, list[str]]) -> HttpResult:
        if parts == ["markets"]:
            return 200, {"markets": _paginate([m.rest_object() for m in self._listed], query)}
        if len(parts) == 2 and parts[0] == "market":
            market = self._known_market(parts[1])
            return 200, {"market": market.rest_object()}
        if len(parts) == 4 and parts[:2] == ["market", "depth"] and parts[3] == "latest":
            return 200, self._rest_depth(parts[2], query)
        if parts == ["trades"]:
            trades = [t for t in reversed(self._trades)
                      if _in(query, "marketIds", t["marketId"])
                      and (not query.get("partyIds") or t["buyer"] in query["partyIds"]
                           or t["seller"] in query["partyIds"])]
            return 200, {"trades": _paginate([_rest_trade(t) for t in trades], query)}
        if parts in (["orders"], ["positions"], ["accounts"]):
            kind = parts[0]
            records = [r for r in self._records[kind].values() if _rest_matches(kind, query, r)]
            if kind == "orders" and query.get("filter.liveOnly", ["false"])[0] == "true":
                records = [r for r in records if r.get("status") == 1]
            return 200, {kind: _paginate([_rest_record(kind, r) for r in records], query)}
        if len(parts) == 2 and parts[0] == "asset":
            if parts[1] != "fUSDC":
                raise _RestError(404, _status(5, "NotFound error", 10000, "asset not found"))
            return 200, {"asset": _REST_ASSET}
        if parts == ["assets"]:
            return 200, {"assets": _paginate([_REST_ASSET], query)}
        if parts == ["candle", "intervals"]:
            market = self._known_market((query.get("marketId") or [""])[0])
            return 200, {"intervalToCandleId": [
                {"interval": interval, "candleId": f"trades_candle_{name}_{market.id}"}
                for interval, name in (("INTERVAL_I1M", "1_minute"), ("INTERVAL_I1H", "1_hour"))
            ]}
        raise _RestError(404, _status(5, "Not Found"))

    def _known_market(self, market_id: str) -> FakeVegaMarket:
        for market in self._listed:
            if market.id == market_id:
                return market
        raise _RestError(404, _status(5, "NotFound error", 10000, "market not found"))

    def _rest_depth(self, market_id: str, query: Mapping[str, list[str]]) -> dict[str, Any]:
        """``GetLatestMarketDepthResponse``; an unknown market is an empty book
        (docs/venues/vega.rst#vega-depth-messages)."""
        market = self.markets.get(market_id)
        if market is None:
            return {"marketId": market_id, "buy": [], "sell": [], "lastTrade": None,
                    "sequenceNumber": "0"}
        bids, asks = self.market.book(market_id)
        limit = int((query.get("maxDepth") or ["0"])[0] or 0)
        if limit > 0:
            bids, asks = bids[:limit], asks[:limit]

        def level(lv: Level) -> dict[str, str]:
            return {"price": str(market.price_int(lv[0])), "numberOfOrders": str(lv[2]),
                    "volume": str(market.size_int(lv[1])), "ammVolume": "0",
                    "ammVolumeEstimated": "0"}

        last = next((t for t in reversed(self._trades) if t["marketId"] == market_id), None)
        return {
            "marketId": market_id,
            "buy": [level(lv) for lv in bids],
            "sell": [level(lv) for lv in asks],
            "lastTrade": None if last is None else _rest_trade(last),
            # Mid-block: past the last update's number, short of the next one's.
            "sequenceNumber": str(self._sequence[market_id] + int(self.mid_block_snapshots)),
        }


def _bus_wants(stream: _Stream, event: Mapping[str, Any]) -> bool:
    """The event bus request's filters: types, then market and party where the event has
    them."""
    if stream.bus_types is not None and event.get("type") not in stream.bus_types:
        return False
    for key, wanted in (stream.bus_filter or {}).items():
        value = event.get(key)
        if value is not None and value != wanted:
            return False
    return True


class _RestError(Exception):
    def __init__(self, status: int, body: Mapping[str, Any]) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


_REST_ASSET = {
    "id": "fUSDC",
    "details": {"name": "Fake USDC", "symbol": "fUSDC", "decimals": "6", "quantum": "1"},
    "status": "STATUS_ENABLED",
}


def _in(query: Mapping[str, list[str]], name: str, value: Any) -> bool:
    wanted = query.get(name)
    return not wanted or value in wanted


def _paginate(items: list[dict[str, Any]], query: Mapping[str, list[str]]) -> dict[str, Any]:
    """A connection page: ``pagination.first`` (default 1000, max 5000) after a cursor."""
    first = int((query.get("pagination.first") or [str(DEFAULT_PAGE_SIZE)])[0])
    if not 0 <= first <= MAX_PAGE_SIZE:
        raise _RestError(400, _status(3, "InvalidArgument error", 10000,
                                      "pagination limit must be in range 0-5000"))
    start = 0
    after = (query.get("pagination.after") or [""])[0]
    if after:
        try:
            start = int(base64.b64decode(after).decode()) + 1
        except ValueError as exc:
            raise _RestError(400, _status(3, "InvalidArgument error", 10000,
                                          "invalid cursor")) from exc
    page = items[start:start + (first or DEFAULT_PAGE_SIZE)]

    def cursor(index: int) -> str:
        return base64.b64encode(str(index).encode()).decode()

    edges = [{"node": node, "cursor": cursor(start + n)} for n, node in enumerate(page)]
    return {
        "edges": edges,
        "pageInfo": {
            "hasNextPage": start + len(page) < len(items),
            "hasPreviousPage": start > 0,
            "startCursor": edges[0]["cursor"] if edges else "",
            "endCursor": edges[-1]["cursor"] if edges else "",
        },
    }


def _rest_trade(trade: Mapping[str, Any]) -> dict[str, Any]:
    """REST shape: enum names, defaults emitted."""
    out = dict(trade)
    out["aggressor"] = _SIDE_NAMES.get(trade.get("aggressor", 0), "SIDE_UNSPECIFIED")
    out["type"] = "TYPE_DEFAULT"
    out.setdefault("buyerAuctionBatch", "0")
    out.setdefault("sellerAuctionBatch", "0")
    return out


_ENUM_NAMES: dict[str, Mapping[int, str]] = {
    "side": _SIDE_NAMES, "status": _ORDER_STATUS, "type": _ORDER_TYPE,
    "timeInForce": _TIME_IN_FORCE,
}


def _rest_record(kind: str, record: Mapping[str, Any]) -> dict[str, Any]:
    """REST shape of a stored stream record: enum names instead of numbers."""
    out = dict(record)
    enums = dict(_ENUM_NAMES, type=_ACCOUNT_TYPE) if kind == "accounts" else _ENUM_NAMES
    for key, names in enums.items():
        value = out.get(key)
        if isinstance(value, int):
            out[key] = names.get(value, str(value))
    return out


def _record_key(kind: str, record: Mapping[str, Any]) -> str:
    if kind == "orders":
        return str(record["id"])
    if kind == "positions":
        return f"{record.get('partyId')}/{record.get('marketId')}"
    return "/".join(str(record.get(k, "")) for k in ("owner", "asset", "marketId", "type"))


def _record_matches(kind: str, stream: _Stream, record: Mapping[str, Any]) -> bool:
    """The stream filters of docs/venues/vega.rst#vega-streams (plural on orders, singular
    elsewhere)."""
    if kind == "orders":
        return stream.matches("marketIds", record.get("marketId")) and stream.matches(
            "partyIds", record.get("partyId"))
    if kind == "positions":
        return stream.matches("partyId", record.get("partyId")) and stream.matches(
            "marketId", record.get("marketId"))
    return (stream.matches("partyId", record.get("owner"))
            and stream.matches("marketId", record.get("marketId"))
            and stream.matches("asset", record.get("asset")))


def _rest_matches(kind: str, query: Mapping[str, list[str]], record: Mapping[str, Any]) -> bool:
    party = record.get("owner") if kind == "accounts" else record.get("partyId")
    return (_in(query, "filter.partyIds", party)
            and _in(query, "filter.marketIds", record.get("marketId"))
            and _in(query, "filter.assetId", record.get("asset")))

