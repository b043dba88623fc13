"""Vega data node: every ``/api/v2/stream/*`` stream, a correct local order book, and the client.

On Vega the subscription *is* the connection: each stream is its own WebSocket whose URL and
query string say what to send, and the client never writes a frame (except on the event bus).
So this module has one sans-I/O protocol object per socket:

- ``VegaStreamProtocol`` parses any stream: trades become ``Trade`` events, the snapshot pages
  of orders/positions/accounts become one ``Message(is_snapshot=True)`` followed by update
  ``Message`` s, everything else becomes ``Message`` s named after the stream.
- ``VegaBookProtocol`` keeps a local book from ``markets/depth/updates`` and a REST snapshot
  (venues/vega.md §3.3); it *asks* for the snapshot and the client feeds it back.

``VegaClient`` (last in this module) opens one managed socket per subscription, all sharing
one hub, and owns the REST companion (``vega_rest.VegaRest``) that supplies market decimals and
book snapshots.
"""

from __future__ import annotations

import abc
import collections
import logging
import random
import threading
import time
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, Callable, ClassVar, Optional, Union
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import attrs

from wsclients.book import OrderBook
from wsclients.core import codec
from wsclients.core.amounts import checked_amount
from wsclients.core.backoff import Backoff
from wsclients.core.client import Client, StreamSet
from wsclients.core.connection import Connection
from wsclients.core.protocol import CloseRequest, Job, ProtocolBuffers
from wsclients.core.rest import tls_options
from wsclients.errors import (
    BookOutOfSync,
    ClientStopped,
    ProtocolStopped,
    ProtocolViolation,
    RequestFailed,
    SubscriptionRejected,
    WSClientError,
    shorten,
)
from wsclients.models import BookLevel, ErrorEvent, Message, Side, Trade
from wsclients.venues.vega_rest import VegaRest

__all__ = [
    "STREAM_PATHS",
    "DecimalsLookup",
    "MarketDecimals",
    "StreamError",
    "Subscription",
    "VegaBookProtocol",
    "VegaBookSubscription",
    "VegaClient",
    "VegaStream",
    "VegaStreamProtocol",
    "decimals_from_mapping",
    "make_stream",
    "rest_base_url",
    "stream_base_url",
]

logger = logging.getLogger(__name__)

VENUE = "vega"

STREAM_PATHS: tuple[str, ...] = (
    "trades",
    "orders",
    "markets/depth",
    "markets/depth/updates",
    "markets/data",
    "positions",
    "accounts",
    "candle/data",
    "margin/levels",
    "ledger/movements",
    "liquidity-provisions",
    "governance",
    "votes",
    "transaction-results",
    "event/bus",
)
"""The 15 stream routes of a data node (venues/vega.md §1.1, BIND at v0.79.0)."""

# venues/vega.md §1.2: these match nothing without market ids and stay silent forever.
_NEEDS_MARKET_IDS = frozenset({"markets/depth", "markets/depth/updates", "markets/data"})

# venues/vega.md §2.3: streams that open with snapshot pages, then send updates.
_PAGED = frozenset({"orders", "positions", "accounts"})

# venues/vega.md §2.4: errors that will recur on every retry, so reconnecting only hammers the
# node. gRPC codes: 3 InvalidArgument, 5 NotFound (unknown path), 12 Unimplemented; Vega
# ErrorDetail codes: 10000 malformed request (unknown market), 10024 votes without a filter.
_FATAL_GRPC_CODES = frozenset({3, 5, 12})
_FATAL_DETAIL_CODES = frozenset({10000, 10024})

# The node refuses more than MaxSubscriptionPerClient concurrent streams per IP (default 250,
# gRPC code 8 "client reached max subscription allowed"; docs/venues/vega.rst#vega-limits).
# Retrying at once only meets the same refusal: wait this long at least.
STREAM_LIMIT = 250
_STREAM_LIMIT_CODE = 8
_STREAM_LIMIT_DELAY = 30.0

# Routes whose filters are repeated (plural) fields; the singular spelling is an unknown field
# on current nodes (v0.71+), dropped silently, so the stream would carry every trade on the
# network (docs/venues/vega.rst#vega-filters).
_PLURAL_ONLY = {"trades": {"partyId": "partyIds", "marketId": "marketIds"}}

# venues/vega.md §4.1: the Side enum as it arrives on the wire.
_SIDES = {1: Side.BUY, 2: Side.SELL}

# Updates held while a book waits for its REST snapshot; beyond this the oldest go (they would
# be older than any snapshot taken later anyway).
_MAX_BUFFERED_UPDATES = 10_000


# --------------------------------------------------------------------------------------------
# URLs and stream descriptions


def _split_base(url: str) -> tuple[str, str, str]:
    """(scheme, netloc, path prefix) of a data-node base URL, with any ``/api/v2`` removed."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https", "ws", "wss") or not parts.netloc:
        raise ValueError(f"not a data-node URL (want https://host or http://host): {url!r}")
    path = parts.path.rstrip("/")
    for suffix in ("/api/v2/stream", "/api/v2"):
        if path.endswith(suffix):
            path = path[: -len(suffix)]
            break
    return scheme, parts.netloc, path


def rest_base_url(url: str) -> str:
    """The REST root (``http(s)://host/api/v2``) of a data node given by its base URL."""
    scheme, netloc, path = _split_base(url)
    scheme = {"ws": "http", "wss": "https"}.get(scheme, scheme)
    return urlunsplit((scheme, netloc, path + "/api/v2", "", ""))


def stream_base_url(url: str) -> str:
    """The stream root (``ws(s)://host/api/v2/stream``) of a data node given by its base URL."""
    scheme, netloc, path = _split_base(url)
    scheme = {"http": "ws", "https": "wss"}.get(scheme, scheme)
    return urlunsplit((scheme, netloc, path + "/api/v2/stream", "", ""))


def _camel(name: str) -> str:
    """``market_ids`` → ``marketIds`` (the node accepts both; venues/vega.md §1.3)."""
    head, *rest = name.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


def _encode_params(params: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """Query pairs in the node's conventions: repeated keys for lists, ``true``/``false`` for
    bools; None, False-free omissions and empty lists are left out (a missing key is the
    default, venues/vega.md §2.1)."""
    pairs: list[tuple[str, str]] = []
    for name, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            pairs.append((name, "true" if value else "false"))
        elif isinstance(value, (str, int)):
            pairs.append((name, str(value)))
        elif isinstance(value, Iterable):
            pairs.extend((name, str(item)) for item in value)
        else:
            raise TypeError(f"parameter {name}: cannot send a {type(value).__name__}")
    return tuple(pairs)


@attrs.frozen
class VegaStream:
    """One stream subscription: the route, its query and (event bus only) the first frame.

    Equal streams are the same subscription, so a client keeps one socket for each.
    """

    path: str
    """The route under ``/api/v2/stream/`` (``"trades"``, ``"markets/depth/updates"`` …)."""
    params: tuple[tuple[str, str], ...] = ()
    """Query pairs as sent, repeated keys for lists."""
    request: Optional[str] = None
    """The JSON frame sent first on the socket (the event bus reads its filter from it)."""
    batch_size: int = 0
    """Event bus only: with a batch size the request frame is repeated after each batch."""

    @property
    def channel(self) -> str:
        """The name ``Message`` events of this stream carry: the route."""
        return self.path

    def param_values(self, name: str) -> list[str]:
        """Every value given for ``name`` in either spelling (camelCase or snake_case)."""
        wanted = _camel(name)
        return [value for key, value in self.params if _camel(key) == wanted]

    @property
    def market_ids(self) -> list[str]:
        """The markets named in the query (``marketIds`` or ``marketId``)."""
        return self.param_values("marketIds") + self.param_values("marketId")

    def url(self, stream_base: str) -> str:
        """The socket URL under a stream root from ``stream_base_url``."""
        url = f"{stream_base}/{self.path}"
        if self.params:
            url += "?" + urlencode(self.params)
        return url


def make_stream(path: str, **params: Any) -> VegaStream:
    """Build and check a stream description; raises ``SubscriptionRejected`` for what the node
    would accept silently and then never answer.

    Parameter names are sent as given (the node takes proto or JSON names, venues/vega.md §1.3);
    lists become repeated keys. ``event/bus`` takes ``type``/``types``, ``marketId``,
    ``partyId`` and ``batchSize``, sent as the first frame (venues/vega.md §2.7).
    """
    path = path.strip("/")
    if "?" in path:
        path, query = path.split("?", 1)
        params = {**_query_params(path, query), **params}
    if path.startswith("api/v2/stream/"):
        path = path[len("api/v2/stream/") :]
    if path == "event/bus":
        return _event_bus_stream(params)
    stream = VegaStream(path, _encode_params(params))
    _check_stream(stream)
    return stream


def _query_params(path: str, query: str) -> dict[str, Any]:
    """Parameters written into the path (``trades?marketIds=a&marketIds=b``), checked for the
    malformed keys older examples carry (``?partyId?=…``)."""
    params: dict[str, Any] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        clean = key.strip("?")
        if clean != key or not clean:
            raise SubscriptionRejected(
                path, f"malformed query key {key!r}: write {clean or 'name'}=value"
            )
        params.setdefault(clean, []).append(value)
    return {key: values[0] if len(values) == 1 else values for key, values in params.items()}


def _event_bus_stream(params: Mapping[str, Any]) -> VegaStream:
    """The event bus reads its request from the first frame, not the query (venues/vega.md §2.7)."""
    request: dict[str, Any] = {}
    for name, value in params.items():
        key = _camel(name)
        if key == "types":
            key = "type"
        if value is None:
            continue
        if key == "type":
            value = [value] if isinstance(value, (str, int)) else list(value)
        request[key] = value
    if not request.get("type"):
        raise SubscriptionRejected("event/bus", "the event bus needs at least one event type")
    batch_size = int(request.get("batchSize", 0) or 0)
    if batch_size < 0:
        raise SubscriptionRejected("event/bus", "batchSize must be >= 0")
    request["batchSize"] = str(batch_size)
    return VegaStream("event/bus", (), codec.dumps(request), batch_size)


def _check_stream(stream: VegaStream) -> None:
    """Refuse before connecting what the node would accept and never answer (or answer
    with far more than was asked)."""
    for singular, plural in _PLURAL_ONLY.get(stream.path, {}).items():
        if stream.param_values(singular):
            raise SubscriptionRejected(
                stream.path,
                f"{stream.path} filters by {plural} (repeated), not {singular}: since vega "
                f"v0.71 the node ignores {singular} and would stream every trade on the network",
            )
    if stream.path in _NEEDS_MARKET_IDS and not stream.param_values("marketIds"):
        # venues/vega.md §1.2: an empty marketIds set matches nothing; silent forever.
        raise SubscriptionRejected(
            stream.path, "needs at least one market id (the node would stay silent forever)"
        )
    if stream.path == "votes" and not (
        stream.param_values("partyId") or stream.param_values("proposalId")
    ):
        # venues/vega.md §1.2 / §2.4: InvalidArgument 10024.
        raise SubscriptionRejected(stream.path, "needs a party id or a proposal id")
    if stream.path == "candle/data" and not stream.param_values("candleId"):
        raise SubscriptionRejected(stream.path, "needs a candle id (see candle_intervals())")
    if (
        stream.path in ("positions", "accounts")
        and _is_true(stream.param_values("includeDerivedParties"))
        and not stream.param_values("partyId")
    ):
        raise SubscriptionRejected(stream.path, "includeDerivedParties needs a party id")


def _is_true(values: list[str]) -> bool:
    return any(value.lower() in ("true", "1") for value in values)


# --------------------------------------------------------------------------------------------
# Numbers


def _int_text(value: Any, what: str) -> str:
    """A wire integer (a decimal string, venues/vega.md §2.1), checked."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str):
        digits = value[1:] if value[:1] == "-" else value
        if digits.isascii() and digits.isdigit():
            return value
    raise ProtocolViolation(f"{what} is not an integer string", raw=value)


def _wire_int(value: Any, what: str) -> int:
    """A 64-bit wire integer; parsed as int, never float (sequence numbers exceed 2**53)."""
    return int(_int_text(value, what))


_MAX_DIGITS = 78  # uint256, the widest integer the node sends (prices), has 78 digits


def _unsigned(value: Any, what: str) -> Any:
    """Prices and sizes are unsigned on Vega (venues docs: ``price`` string of a uint,
    ``size``/``volume`` uint64): a sign or more digits than a uint256 is a broken frame."""
    if isinstance(value, str) and (value[:1] == "-" or len(value) > _MAX_DIGITS):
        raise ProtocolViolation(f"{what} is not an unsigned integer string", raw=value[:40])
    if isinstance(value, int) and not isinstance(value, bool) and value < 0:
        raise ProtocolViolation(f"{what} is negative", raw=value)
    return value


def _scaled(value: Any, places: int, what: str) -> Decimal:
    """``int(value) / 10**places`` exactly (no context rounding); places may be negative,
    and then the result is a plain integer (``20``, not ``2E+1``)."""
    if places <= 0:
        return Decimal(int(_int_text(value, what)) * 10**-places)
    sign, digits, exponent = Decimal(_int_text(value, what)).as_tuple()
    assert isinstance(exponent, int)
    return Decimal((sign, digits, exponent - places))


@attrs.frozen
class MarketDecimals:
    """How one market scales its integers (venues/vega.md §4.3)."""

    price: int
    """``decimalPlaces``: prices are integers in units of 10**-price."""
    position: int
    """``positionDecimalPlaces`` (may be negative): sizes are in units of 10**-position."""

    @classmethod
    def from_market(cls, market: Mapping[str, Any]) -> MarketDecimals:
        """From a REST ``Market`` object (``GET /api/v2/market/{id}`` → ``market``), where both
        are 64-bit and so JSON strings; an omitted one is 0."""
        try:
            price = _wire_int(market.get("decimalPlaces", "0"), "decimalPlaces")
            position = _wire_int(market.get("positionDecimalPlaces", "0"), "positionDecimalPlaces")
        except AttributeError as exc:
            raise ProtocolViolation("market is not an object", raw=market) from exc
        return cls(price, position)

    def price_of(self, value: Any) -> Decimal:
        """A wire price as a real price (an unsigned integer string on the wire)."""
        return checked_amount(_scaled(_unsigned(value, "price"), self.price, "price"), "price")

    def size_of(self, value: Any) -> Decimal:
        """A wire size or volume as a real size (uint64 on the wire)."""
        return checked_amount(_scaled(_unsigned(value, "size"), self.position, "size"), "size")


DecimalsLookup = Callable[[str], Optional[MarketDecimals]]
"""Gives a market's decimals, or None while they are not known. It never blocks: the protocol
asks for unknown ones as a ``Job`` (the client fetches them over REST on its worker) and holds
what needs them meanwhile. Tests use ``decimals_from_mapping``."""


def decimals_from_mapping(known: Mapping[str, MarketDecimals]) -> DecimalsLookup:
    """A lookup over fixed decimals (tests, or users who know their markets)."""
    return lambda market_id: known.get(market_id)


# Trades held while their market's decimals load, at most; past it the oldest are dropped
# and reported (a REST outage must not grow memory without bound).
_MAX_HELD_TRADES = 10_000
# A failed decimals fetch is asked again after this long (seconds).
_DECIMALS_RETRY_AFTER = 5.0
# How long the pages of one snapshot may take to end with ``lastPage``, and how many updates
# may wait for it: past either, the snapshot is taken again (a fresh socket) and it is said.
SNAPSHOT_TIMEOUT = 30.0
_MAX_HELD_UPDATES = 10_000


# --------------------------------------------------------------------------------------------
# Frames


def _decode_frame(data: Union[str, bytes]) -> dict[str, Any]:
    """One frame is one JSON object (venues/vega.md §2.1)."""
    try:
        obj = codec.loads(data)
    except ValueError as exc:
        raise ProtocolViolation("frame is not valid JSON", raw=data) from exc
    if not isinstance(obj, dict):
        raise ProtocolViolation("frame is not a JSON object", raw=data)
    return obj


def _error_status(obj: Mapping[str, Any]) -> Optional[Mapping[str, Any]]:
    """The ``google.rpc.Status`` in a frame, in either shape (venues/vega.md §2.2):
    ``{"error":{…}}`` or the bare ``{"code":…,"message":…}`` sent before the first message."""
    error = obj.get("error")
    if isinstance(error, Mapping):
        return error
    if "result" not in obj and "code" in obj and "message" in obj:
        return obj
    return None


@attrs.frozen
class StreamError:
    """An error status from the node, read out of its frame."""

    code: Optional[int]
    message: str
    detail_codes: tuple[int, ...]

    @classmethod
    def from_status(cls, status: Mapping[str, Any]) -> StreamError:
        code = status.get("code")
        parts = [str(status.get("message") or "error")]
        detail_codes: list[int] = []
        details = status.get("details")
        for detail in details if isinstance(details, list) else ():
            if not isinstance(detail, Mapping):
                continue
            if isinstance(detail.get("code"), int):
                detail_codes.append(detail["code"])
            text = " / ".join(
                str(detail[key]) for key in ("message", "inner") if detail.get(key)
            )
            if text:
                parts.append(text)
        return cls(
            code if isinstance(code, int) and not isinstance(code, bool) else None,
            ": ".join(parts),
            tuple(detail_codes),
        )

    @property
    def is_fatal(self) -> bool:
        """Would retrying the same stream fail the same way? (venues/vega.md §2.4)"""
        return self.code in _FATAL_GRPC_CODES or any(
            code in _FATAL_DETAIL_CODES for code in self.detail_codes
        )


# --------------------------------------------------------------------------------------------
# Protocols


class _Base(ProtocolBuffers, abc.ABC):
    """What both protocols share: the event and frame lists (the only frame owed to the node
    is the event bus request), errors, and the close request."""

    def __init__(self, stream: VegaStream, *, decimals: DecimalsLookup) -> None:
        super().__init__()
        self.stream = stream
        self._decimals = decimals

    def ping_message(self) -> Optional[str]:
        """None: the node answers WebSocket pings, and a text frame would block the proxy's
        reader (venues/vega.md §2.5)."""
        return None

    def is_fatal(self, code: Optional[int], exc: Optional[BaseException]) -> bool:
        """Closes are never fatal by themselves: the node drops TCP after every error, and a
        fatal error has already set ``close_request`` (venues/vega.md §2.1)."""
        return False

    def receive_text(self, data: Union[str, bytes], *, received_ns: int) -> None:
        """Parse one frame. Never raises: a bad frame becomes a non-fatal ``ErrorEvent`` and
        the next frame parses normally."""
        try:
            obj = _decode_frame(data)
            status = _error_status(obj)
            if status is not None:
                self._receive_error(StreamError.from_status(status), obj, received_ns)
                return
            result = obj.get("result")
            if not isinstance(result, dict):
                raise ProtocolViolation("frame has neither result nor error", raw=data)
            self._receive_result(result, obj, received_ns)
        except Exception as exc:  # noqa: BLE001 - the contract: a frame never kills the reader
            self._report(exc, received_ns, raw=data)

    @abc.abstractmethod
    def _receive_result(self, result: dict[str, Any], frame: Any, received_ns: int) -> None:
        """Turn one ``result`` object into events."""

    def _receive_error(self, error: StreamError, frame: Any, received_ns: int) -> None:
        """The node closes the socket after any error (venues/vega.md §2.2). A fatal one ends
        this stream for good so the connection does not hammer the node with a request it will
        always refuse; others reconnect with backoff."""
        reason = f"{self.stream.path}: {error.message}"
        exc: WSClientError
        if error.is_fatal:
            exc = SubscriptionRejected(self.stream.path, error.message, code=error.code)
        else:
            exc = RequestFailed(error.message, request=self.stream.path)
        self._events.append(
            ErrorEvent.from_exception(
                exc, venue=VENUE, received_ns=received_ns, fatal=error.is_fatal, raw=frame,
                code=error.code,
            )
        )
        delay = _STREAM_LIMIT_DELAY if error.code == _STREAM_LIMIT_CODE else None
        self.close_request = CloseRequest(reason, fatal=error.is_fatal, delay=delay)

    def _report(self, exc: BaseException, received_ns: int, *, raw: Any) -> None:
        """A non-fatal ``ErrorEvent`` for something we could not parse; ours is kept, anything
        else is wrapped in ``ProtocolViolation`` with the original as cause."""
        if not isinstance(exc, WSClientError):
            wrapped = ProtocolViolation(f"{self.stream.path}: cannot parse ({exc!r})", raw=raw)
            wrapped.__cause__ = exc
            exc = wrapped
        if isinstance(raw, (str, bytes)):
            raw = shorten(raw)
        self._events.append(
            ErrorEvent.from_exception(exc, venue=VENUE, received_ns=received_ns, raw=raw)
        )


class VegaStreamProtocol(_Base):
    """Sans-I/O parser for one stream socket (any route but the managed order book).

    - ``trades`` → one ``Trade`` per trade, prices and sizes scaled by the market's decimals.
    - ``orders``/``positions``/``accounts`` → the snapshot pages are gathered until
      ``lastPage`` and delivered as one ``Message(is_snapshot=True, data=(item, …))``; each
      ``updates`` frame then becomes one ``Message(is_snapshot=False, data=(item, …))``.
      Updates that arrive while the snapshot is incomplete are held until it is delivered.
    - every other stream → one ``Message`` per list item (or per object), channel = route,
      ``symbol`` = the item's market id where it has one. Payloads are kept as the node sent
      them (integer strings, int enums).
    """

    def __init__(
        self, stream: VegaStream, *, decimals: DecimalsLookup,
        snapshot_timeout: float = SNAPSHOT_TIMEOUT,
    ) -> None:
        super().__init__(stream, decimals=decimals)
        self._snapshot_items: list[Any] = []
        self._snapshot_frames: list[Any] = []
        self._in_snapshot = False
        self._snapshot_timeout = snapshot_timeout
        self._snapshot_since = 0.0  # monotonic time of the first page of the snapshot
        self._abandoned = False  # this socket's snapshot was given up: ignore its pages
        self._held_updates: list[Message] = []
        # Trades waiting for their market's decimals, per market in arrival order (kept
        # across sockets: they were received, so they are delivered).
        self._held: dict[str, collections.deque[tuple[Mapping[str, Any], int]]] = {}
        self._asked: set[str] = set()  # markets whose decimals are being fetched
        self._retry_at: dict[str, float] = {}  # market → when to ask again after a failure
        self.dropped_trades = 0
        """Trades dropped because too many waited for decimals (each drop is reported)."""

    def on_open(self) -> None:
        """A fresh socket: forget any half-read snapshot; queue the event-bus request; ask for
        the decimals the trades will need now, not on the first trade."""
        super().on_open()
        if self.stream.path == "trades":
            for market_id in self.stream.market_ids:
                if self._decimals(market_id) is None:
                    self._ask_decimals(market_id)
        self._snapshot_items = []
        self._snapshot_frames = []
        self._in_snapshot = False
        self._abandoned = False
        self._held_updates = []
        if self.stream.request is not None:
            self._outgoing.append(self.stream.request)

    def _receive_result(self, result: dict[str, Any], frame: Any, received_ns: int) -> None:
        path = self.stream.path
        if "snapshot" in result or "updates" in result:
            self._receive_paged(result, frame, received_ns)
        elif path == "trades" and "trades" in result:
            self._receive_trades(result["trades"], received_ns)
        else:
            for value in result.values():
                items = value if isinstance(value, list) else [value]
                for item in items:
                    self._events.append(
                        Message(
                            venue=VENUE, channel=path, data=item, received_ns=received_ns,
                            symbol=_market_of(item), raw=frame,
                        )
                    )
        if path == "event/bus" and self.stream.batch_size > 0 and self.stream.request:
            # venues/vega.md §2.7: with a batch size every batch must be asked for.
            self._outgoing.append(self.stream.request)

    def _receive_trades(self, trades: Any, received_ns: int) -> None:
        if not isinstance(trades, list):
            raise ProtocolViolation("trades is not a list", raw=trades)
        for item in trades:
            if not isinstance(item, Mapping) or not isinstance(item.get("marketId"), str):
                self._report(ProtocolViolation("trade without a marketId"), received_ns, raw=item)
                continue
            market_id = item["marketId"]
            if self._decimals(market_id) is None:
                # Trades of one market keep their order: they wait together for its decimals
                # while other markets' trades go on.
                self._hold(market_id, item, received_ns)
                self._ask_decimals(market_id)
                continue
            self._emit_trade(item, received_ns)

    def _emit_trade(self, item: Mapping[str, Any], received_ns: int) -> None:
        try:
            self._events.append(self._trade(item, received_ns))
        except Exception as exc:  # noqa: BLE001 - one bad trade must not lose the batch
            self._report(exc, received_ns, raw=item)

    def _hold(self, market_id: str, item: Mapping[str, Any], received_ns: int) -> None:
        held = self._held.setdefault(market_id, collections.deque())
        if len(held) >= _MAX_HELD_TRADES:
            oldest, oldest_ns = held.popleft()
            self.dropped_trades += 1
            self._report(
                ProtocolViolation(
                    f"trade dropped: more than {_MAX_HELD_TRADES} trades of {market_id} wait "
                    "for the market's decimals"
                ),
                oldest_ns, raw=oldest,
            )
        held.append((item, received_ns))

    def _ask_decimals(self, market_id: str) -> None:
        if market_id not in self._asked and market_id not in self._retry_at:
            self._asked.add(market_id)
            self.ask(Job("decimals", ("decimals", market_id), market_id))

    def job_done(self, job: Job, result: Any, error: Optional[BaseException]) -> None:
        """Decimals arrived (or could not be had): release the trades that waited. A market
        the node does not know will never have decimals: its trades are reported and
        dropped; any other failure is asked again after a pause."""
        if job.kind != "decimals":
            return
        market_id = job.args
        self._asked.discard(market_id)
        if error is None:
            self._release(market_id)
            return
        now_ns = time.time_ns()
        if _is_unknown_market(error):
            dropped = self._held.pop(market_id, collections.deque())
            self.dropped_trades += len(dropped)
            self._report(
                ProtocolViolation(
                    f"{len(dropped)} trade(s) of market {market_id} dropped: its decimals "
                    f"cannot be had ({error})"
                ),
                now_ns, raw=None,
            )
            return
        self._retry_at[market_id] = _now() + _DECIMALS_RETRY_AFTER
        self._report(error, now_ns, raw=None)

    def on_tick(self, now: float) -> None:
        """Ask again for decimals whose fetch failed a while ago; give up on a snapshot whose
        last page does not come."""
        if self._in_snapshot and now - self._snapshot_since > self._snapshot_timeout:
            self._resnapshot(
                f"no lastPage within {self._snapshot_timeout:g} s of the first snapshot page"
            )
        for market_id, when in list(self._retry_at.items()):
            if now >= when:
                del self._retry_at[market_id]
                if self._decimals(market_id) is None:
                    self._ask_decimals(market_id)

    def _release(self, market_id: str) -> None:
        for item, received_ns in self._held.pop(market_id, ()):
            self._emit_trade(item, received_ns)

    def _trade(self, item: Mapping[str, Any], received_ns: int) -> Trade:
        market_id = item["marketId"]
        decimals = self._decimals(market_id)
        if decimals is None:
            raise ProtocolViolation(f"no decimals known for market {market_id}")
        aggressor = item.get("aggressor", 0)
        return Trade(
            venue=VENUE,
            symbol=market_id,
            price=decimals.price_of(item["price"]),
            size=decimals.size_of(item.get("size", "0")),
            side=_SIDES.get(aggressor) if isinstance(aggressor, int) else None,
            trade_id=str(item["id"]),
            timestamp_ns=_wire_int(item.get("timestamp", "0"), "timestamp"),
            received_ns=received_ns,
            raw=item,
        )

    def _receive_paged(self, result: dict[str, Any], frame: Any, received_ns: int) -> None:
        """venues/vega.md §2.3: pages of up to 50, ``lastPage`` only on the last; an empty
        snapshot is ``{"snapshot":{"lastPage":true}}``."""
        path = self.stream.path
        if self._abandoned:  # closing for a new snapshot: nothing here can be delivered
            return
        if "snapshot" in result:
            page = result["snapshot"]
            if not isinstance(page, Mapping):
                raise ProtocolViolation("snapshot is not an object", raw=page)
            if not self._in_snapshot:
                self._in_snapshot = True
                self._snapshot_since = _now()
            self._snapshot_items.extend(_page_items(page))
            self._snapshot_frames.append(frame)
            if page.get("lastPage"):
                self._events.append(
                    Message(
                        venue=VENUE, channel=path, data=tuple(self._snapshot_items),
                        received_ns=received_ns, is_snapshot=True,
                        raw=tuple(self._snapshot_frames),
                    )
                )
                self._events.extend(self._held_updates)
                self._snapshot_items, self._snapshot_frames, self._held_updates = [], [], []
                self._in_snapshot = False
        if "updates" in result:
            page = result["updates"]
            if not isinstance(page, Mapping):
                raise ProtocolViolation("updates is not an object", raw=page)
            message = Message(
                venue=VENUE, channel=path, data=tuple(_page_items(page)),
                received_ns=received_ns, raw=frame,
            )
            # The snapshot is complete before the first update is delivered.
            if not self._in_snapshot:
                self._events.append(message)
            elif len(self._held_updates) < _MAX_HELD_UPDATES:
                self._held_updates.append(message)
            else:
                self._resnapshot(f"more than {_MAX_HELD_UPDATES} updates wait for lastPage")

    def _resnapshot(self, why: str) -> None:
        """An incomplete snapshot: drop it and what waited on it, say so, and take a new
        one on a fresh socket (the node sends the snapshot when a stream opens)."""
        if self.close_request is not None:
            return
        held = len(self._held_updates)
        self._snapshot_items, self._snapshot_frames, self._held_updates = [], [], []
        self._in_snapshot = False
        self._abandoned = True
        reason = f"{self.stream.path} snapshot incomplete ({why}); taking it again"
        self._report(
            ProtocolViolation(f"{reason}; {held} held update(s) dropped"), time.time_ns(),
            raw=None,
        )
        self.close_request = CloseRequest(reason, quiet=True)


def _page_items(page: Mapping[str, Any]) -> list[Any]:
    """The items of a snapshot or updates page, whatever the list is called (orders, …)."""
    items: list[Any] = []
    for key, value in page.items():
        if key == "lastPage":
            continue
        if not isinstance(value, list):
            raise ProtocolViolation(f"page field {key} is not a list", raw=value)
        items.extend(value)
    return items


def _market_of(item: Any) -> Optional[str]:
    """The market an item concerns: ``marketId``, or ``market`` on MarketData (§6)."""
    if isinstance(item, Mapping):
        for key in ("marketId", "market"):
            value = item.get(key)
            if isinstance(value, str):
                return value
    return None


# --------------------------------------------------------------------------------------------
# Order book


class VegaBookProtocol(_Base):
    """A local order book from ``markets/depth/updates`` plus REST snapshots (venues/vega.md §3.3).

    The protocol buffers updates until it has a snapshot, which it asks for through
    ``snapshot_wanted`` (a reason: ``"initial"``, ``"reconnect"``, ``"gap"``, ``"crossed"``).
    The client fetches ``GET /api/v2/market/depth/{id}/latest`` and calls
    ``receive_snapshot``; buffered updates at or below its sequence number are dropped, the
    first newer one is applied if its ``previousSequenceNumber`` is at or below the snapshot
    (the snapshot may be taken mid-block; levels are absolute, so this is safe), and from then
    on each update must chain exactly onto the last. A gap or a crossed book starts a resync.
    Each applied update yields a ``Book`` (top ``depth`` levels); a snapshot yields a ``Book``
    with ``is_snapshot=True``.
    """

    def __init__(
        self,
        market_id: str,
        *,
        decimals: DecimalsLookup,
        depth: Optional[int] = None,
        retry: Optional[Backoff] = None,
        rng: Optional[random.Random] = None,
    ) -> None:
        super().__init__(
            VegaStream("markets/depth/updates", (("marketIds", market_id),)), decimals=decimals
        )
        self.market_id = market_id
        self.depth = depth
        self._retry = attrs.evolve(retry or Backoff(), max_attempts=None, attempt=0)
        self._rng = rng or random.Random()
        self._generation = 0  # counts sockets, so a late snapshot for an old one is ignored
        self._market_decimals: Optional[MarketDecimals] = None
        self.resyncs = 0
        """Snapshots taken again after the first (a gap, a crossed book, a reconnect)."""
        self.snapshot_wanted: Optional[str] = "initial"
        """Why a REST snapshot is needed now, or None while the book is in sync."""
        self._book: Optional[OrderBook] = None
        self._lenient = False
        self._buffer: collections.deque[tuple[Mapping[str, Any], int]] = collections.deque(
            maxlen=_MAX_BUFFERED_UPDATES
        )
        self._synced_once = False
        self.applied_since_snapshot = 0
        """Updates applied since the last snapshot (0: the snapshot has not chained yet)."""

    @property
    def book(self) -> Optional[OrderBook]:
        """The local book, or None while waiting for a snapshot."""
        return self._book

    def on_open(self) -> None:
        """A fresh socket: updates may have been missed, so the book is rebuilt from a new
        snapshot (vega#11032: rebuild after any disconnect), asked for at once."""
        super().on_open()
        self._generation += 1
        self._book = None
        self._buffer.clear()
        # A book that was never built is still waiting for its first snapshot.
        self._want_snapshot("reconnect" if self._synced_once else "initial")

    def _want_snapshot(self, why: str) -> None:
        """Ask the client for a REST snapshot (a ``Job``); the answer comes in ``job_done``."""
        self.snapshot_wanted = why
        self.ask(Job("snapshot", (self._generation, why), self.market_id))

    def job_done(self, job: Job, result: Any, error: Optional[BaseException]) -> None:
        """The snapshot (``(MarketDecimals, depth)``) or why it could not be had."""
        if job.kind != "snapshot" or not isinstance(job.key, tuple):
            return
        generation, why = job.key
        if generation != self._generation or self.snapshot_wanted is None:
            return  # for a socket that is gone, or already answered
        received_ns = time.time_ns()
        if error is not None:
            self.snapshot_failed(error, received_ns=received_ns)
            return
        decimals, depth = result
        self._market_decimals = decimals
        self.receive_snapshot(depth, received_ns=received_ns)
        if self.snapshot_wanted is None and why != "initial":
            self.resyncs += 1

    def _retry_later(self, reason: str) -> None:
        """No usable snapshot: try again on a fresh socket after a backoff delay (with
        jitter), growing while it keeps failing; the socket's updates are of no use until."""
        self._retry = self._retry.increment()
        delay = self._retry.delay(self._rng)
        self.close_request = CloseRequest(
            f"retrying the {self.market_id} snapshot ({reason})", delay=delay, quiet=True
        )

    def receive_snapshot(self, depth: Mapping[str, Any], *, received_ns: int) -> None:
        """Feed the answer to ``snapshot_wanted``: a REST ``GetLatestMarketDepthResponse``
        (``marketId``, ``buy``, ``sell``, ``sequenceNumber``; REST emits defaults, but missing
        keys are read as zero too). Then replays the buffered updates. Never raises."""
        try:
            bids = self._levels(depth.get("buy") or [])
            asks = self._levels(depth.get("sell") or [])
            sequence = _wire_int(depth.get("sequenceNumber", "0"), "sequenceNumber")
        except Exception as exc:  # noqa: BLE001 - a bad snapshot is reported, and asked again
            self._report(exc, received_ns, raw=depth)
            return
        book = OrderBook(self.market_id, venue=VENUE, depth=self.depth)
        book.apply_snapshot(bids, asks, sequence=sequence)
        self._book = book
        self._lenient = True
        self._synced_once = True
        self.applied_since_snapshot = 0
        self.snapshot_wanted = None
        self._events.append(book.to_event(received_ns=received_ns, is_snapshot=True, raw=depth))
        buffered = list(self._buffer)
        self._buffer.clear()
        for update, update_ns in buffered:
            self._receive_update(update, update_ns)

    def snapshot_failed(self, exc: BaseException, *, received_ns: int) -> None:
        """The client could not fetch the snapshot; reported, and asked again later on a
        fresh socket."""
        self._report(exc, received_ns, raw=None)
        self._retry_later("the snapshot could not be fetched")

    def _receive_result(self, result: dict[str, Any], frame: Any, received_ns: int) -> None:
        updates = result.get("update", [])
        if not isinstance(updates, list):
            raise ProtocolViolation("update is not a list", raw=updates)
        for update in updates:
            if not isinstance(update, Mapping):
                self._report(ProtocolViolation("update is not an object"), received_ns, raw=update)
            elif update.get("marketId", self.market_id) == self.market_id:
                self._receive_update(update, received_ns)

    def _receive_update(self, update: Mapping[str, Any], received_ns: int) -> None:
        if self._book is None:
            self._buffer.append((update, received_ns))
            return
        try:
            sequence = _wire_int(update.get("sequenceNumber", "0"), "sequenceNumber")
            # venues/vega.md §3.2: absent on the first update after a node start (= 0).
            previous = _wire_int(
                update.get("previousSequenceNumber", "0"), "previousSequenceNumber"
            )
            bids = self._levels(update.get("buy") or [])
            asks = self._levels(update.get("sell") or [])
        except Exception as exc:  # noqa: BLE001 - unreadable update: the book cannot go on
            self._report(exc, received_ns, raw=update)
            self._resync("gap", received_ns, reason="unreadable update")
            return
        current = self._book.sequence or 0
        if sequence <= current:
            return  # older than the book: already in the snapshot
        in_chain = previous <= current if self._lenient else previous == current
        if not in_chain:
            self._resync(
                "gap", received_ns, expected=current, got=previous,
                reason="sequence gap", pending=(update, received_ns),
            )
            return
        self._book.apply_delta(bids, asks, sequence=sequence)
        self._lenient = False
        self.applied_since_snapshot += 1
        self._retry = self._retry.reset()  # it chained: resyncs may be immediate again
        if self._book.is_crossed:
            self._resync("crossed", received_ns, got=sequence, reason="crossed book")
            return
        self._events.append(self._book.to_event(received_ns=received_ns, raw=update))

    def _resync(
        self,
        why: str,
        received_ns: int,
        *,
        reason: str,
        expected: Optional[int] = None,
        got: Optional[int] = None,
        pending: Optional[tuple[Mapping[str, Any], int]] = None,
    ) -> None:
        """Drop the book and ask for a snapshot; updates from now on are buffered."""
        exc = BookOutOfSync(self.market_id, expected=expected, got=got, reason=reason)
        self._events.append(ErrorEvent.from_exception(exc, venue=VENUE, received_ns=received_ns))
        never_chained = self.applied_since_snapshot == 0
        self._book = None
        self._buffer.clear()
        if pending is not None:
            self._buffer.append(pending)
        self.snapshot_wanted = why
        if never_chained:
            # The last snapshot never chained onto the stream (a REST answer from a node
            # behind the stream's, say): back off instead of asking again at frame rate.
            self._retry_later(reason)
        else:
            self._want_snapshot(why)

    def _levels(self, levels: Any) -> list[BookLevel]:
        """Wire levels → BookLevels; a level with only ``price`` has volume 0 and is removed
        (defaults are omitted on streams, venues/vega.md §3.2)."""
        if not isinstance(levels, list):
            raise ProtocolViolation("price levels are not a list", raw=levels)
        decimals = self._market_decimals or self._decimals(self.market_id)
        if decimals is None:
            raise ProtocolViolation(f"no decimals known for market {self.market_id}")
        return [
            BookLevel(
                decimals.price_of(level["price"]),
                decimals.size_of(level.get("volume", "0")),
                _wire_int(level.get("numberOfOrders", "0"), "numberOfOrders"),
            )
            for level in levels
        ]


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


def _id_list(value: Ids) -> Optional[list[str]]:
    if value is None:
        return None
    return [value] if isinstance(value, str) else list(value)


class VegaClient(Client):
    """Every data-node stream, one managed socket per subscription, and local order books.

    On Vega the subscription *is* the connection (venues/vega.md §1): each ``subscribe_*``
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
            transport; DESIGN §2.1). The node never pings, so WebSocket pings every
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

    def __init__(
        self,
        url: Optional[str] = None,
        *,
        decimals: Optional[Mapping[str, MarketDecimals]] = None,
        rest_timeout: float = 10.0,
        rest_retries: int = 3,
        **options: Any,
    ) -> None:
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
        numbers). The filter goes in the first frame, as the node requires (§2.7)."""
        return self.subscribe(
            "event/bus", type=types, marketId=market_id, partyId=party_id, batchSize=batch_size
        )

    def subscribe_book(
        self, market_id: str, *, depth: Optional[int] = None
    ) -> VegaBookSubscription:
        """A local order book for one market, as ``Book`` events (top ``depth`` levels).

        The socket reads ``markets/depth/updates`` and buffers; the full depth comes from
        ``GET /api/v2/market/depth/{id}/latest``; updates are chained on their sequence
        numbers (venues/vega.md §3.3). A ``Book(is_snapshot=True)`` comes first and after
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



def _now() -> float:
    return time.monotonic()


def _is_unknown_market(error: BaseException) -> bool:
    """A REST answer that says the market does not exist (HTTP 404, or no market object)."""
    return (isinstance(error, RequestFailed) and error.status in (400, 404)) or isinstance(
        error, ProtocolViolation
    )
