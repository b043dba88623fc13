"""Vega streams: the routes a data node serves, their parameters, and the checks made before
connecting (what the node would accept and never answer, or answer with far more than asked).

Facts: docs/venues/vega.rst#vega-streams and #vega-filters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Optional
from urllib.parse import parse_qsl, urlencode

import attrs

from wsclients.core import codec
from wsclients.errors import (
    SubscriptionRejected,
)
from wsclients.models import Side
from wsclients.venues.vega.urls import _camel, _encode_params

if TYPE_CHECKING:
    pass



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
"""The 15 stream routes of a data node (docs/venues/vega.rst#vega-streams, BIND at v0.79.0)."""

# docs/venues/vega.rst#vega-filters: these match nothing without market ids and stay silent forever.
_NEEDS_MARKET_IDS = frozenset({"markets/depth", "markets/depth/updates", "markets/data"})

# docs/venues/vega.rst#vega-snapshots: streams that open with snapshot pages, then send updates.
_PAGED = frozenset({"orders", "positions", "accounts"})

# docs/venues/vega.rst#vega-errors: errors that will recur on every retry, so reconnecting only
# hammers the
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

# docs/venues/vega.rst#vega-trades: the Side enum as it arrives on the wire.
_SIDES = {1: Side.BUY, 2: Side.SELL}

# Updates held while a book waits for its REST snapshot; beyond this the oldest go (they would
# be older than any snapshot taken later anyway).
_MAX_BUFFERED_UPDATES = 10_000



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

    Parameter names are sent as given (the node takes proto or JSON names,
    docs/venues/vega.rst#vega-query);
    lists become repeated keys. ``event/bus`` takes ``type``/``types``, ``marketId``,
    ``partyId`` and ``batchSize``, sent as the first frame (docs/venues/vega.rst#vega-event-bus).
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
    """The event bus reads its request from the first frame, not the query
    (docs/venues/vega.rst#vega-event-bus)."""
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
        # docs/venues/vega.rst#vega-filters: an empty marketIds set matches nothing; silent forever.
        raise SubscriptionRejected(
            stream.path, "needs at least one market id (the node would stay silent forever)"
        )
    if stream.path == "votes" and not (
        stream.param_values("partyId") or stream.param_values("proposalId")
    ):
        # docs/venues/vega.rst#vega-filters / docs/venues/vega.rst#vega-errors: InvalidArgument
        # 10024.
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
