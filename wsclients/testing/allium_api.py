"""The request side of FakeAllium's API over WebSocket: what a handler gets, and a few routes.

A request frame is ``{"id", "method", "path", "body"}``; ``GET`` carries its query parameters
in ``body`` (https://docs.allium.so/datastreams/websockets). The fake routes it on
``(method, path)`` to a handler, which returns the reply's ``data`` or raises ``ApiError``.

The default routes answer a few documented REST paths from the seeded ``Market``, with the
response shapes Allium's own API notes give (https://github.com/allium-labs/skills,
``references/apis.md``): ``items`` wrappers, a bare array for Hyperliquid fills, decimal strings
for Hyperliquid prices and sizes. Field values are synthetic; numbers Allium does not type in
its notes (``price``, volumes) are JSON numbers here, an assumption.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Callable

import attrs

from wsclients.testing.market import Market

__all__ = [
    "API_METHODS",
    "DEFAULT_TOKENS",
    "ApiError",
    "ApiRequest",
    "Handler",
    "default_routes",
]

API_METHODS: tuple[str, ...] = ("GET", "POST", "PUT", "PATCH", "DELETE")
"""The documented request methods."""

DEFAULT_TOKENS: Mapping[tuple[str, str], str] = {
    ("ethereum", "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2"): "ETH",  # WETH
    ("ethereum", "0x2260fac5e5542a773aa44fbb8a4d0ba4c5c4bcd2"): "BTC",  # WBTC
    ("solana", "So11111111111111111111111111111111111111112"): "SOL",  # wrapped SOL
}
"""``(chain, token_address)`` → market symbol, for the default ``/prices`` route."""

_DECIMALS = {"ETH": 18, "BTC": 8, "SOL": 9}


@attrs.frozen(kw_only=True)
class ApiRequest:
    """One request the fake accepted, as its handler sees it (and ``api_requests`` records)."""

    id: Any
    """The client's ``id``, echoed in the reply."""
    method: str
    path: str
    body: Any
    """``body`` as sent (``{}`` when absent): query parameters for GET, the body otherwise."""
    connection: int
    """Index of the connection in ``FakeAllium.connections``."""


class ApiError(Exception):
    """Raised by a handler: the reply is ``{"id", "status": "error", "data": data}``.

    Args:
        data: the error message (the venue sends a string) or any JSON value.
    """

    def __init__(self, data: Any = "error") -> None:
        super().__init__(data)
        self.data = data


Handler = Callable[[ApiRequest], Any]
"""A route: gets the request, returns the reply's ``data`` or raises ``ApiError``."""


def default_routes(
    market: Market,
    market_lock: threading.Lock,
    *,
    tokens: Mapping[tuple[str, str], str] = DEFAULT_TOKENS,
) -> dict[tuple[str, str], Handler]:
    """Handlers for a few documented paths, priced from ``market`` (read under ``market_lock``).

    - ``GET /api/v1/developer/assets`` (``limit``, ``cursor``): ``{"items", "cursor"}``.
    - ``POST /api/v1/developer/prices`` (``[{"token_address", "chain"}]``): ``{"items"}``,
      one per known token (``tokens``); unknown tokens are left out.
    - ``POST /api/v1/developer/trading/hyperliquid/info/fills`` (``type``, ``user``): a bare
      array of fills.
    - ``GET /api/v1/supported-chains/realtime-apis/simple``: endpoint path → chains.
    """
    known = {(chain, address.lower()): symbol for (chain, address), symbol in tokens.items()}

    def mid(symbol: str) -> Decimal:
        with market_lock:
            return market.mid(symbol) if symbol in market.symbols else Decimal(0)

    def assets(request: ApiRequest) -> Any:
        body = _object(request)
        limit = _int(body.get("limit", 100), "limit")
        start = _int(body.get("cursor") or 0, "cursor")
        listed = [(i, symbol) for i, symbol in enumerate(market.symbols)][start:start + limit]
        items = [{
            "id": i + 1,
            "slug": symbol.lower(),
            "source": "allium",
            "chain_specific_data": {
                chain: {"address": address}
                for (chain, address), s in tokens.items() if s == symbol
            },
            "name": symbol,
            "symbol": symbol,
            "image_url": None,
            "circulating_supply": 1_000_000.0 * (i + 1),
            "token_creation_time": "2020-01-01T00:00:00Z",
        } for i, symbol in listed]
        after = start + len(items)
        return {"items": items, "cursor": str(after) if after < len(market.symbols) else None}

    def prices(request: ApiRequest) -> Any:
        wanted = request.body
        if not isinstance(wanted, list) or not all(
            isinstance(item, Mapping) and isinstance(item.get("token_address"), str)
            and isinstance(item.get("chain"), str) for item in wanted
        ):
            raise ApiError("body must be a list of {token_address, chain}")
        items = []
        now = _now_iso()
        for item in wanted:
            symbol = known.get((item["chain"], item["token_address"].lower()))
            if symbol is None:
                continue
            price = float(mid(symbol))
            items.append({
                "timestamp": now, "chain": item["chain"], "address": item["token_address"],
                "decimals": _DECIMALS.get(symbol, 18), "price": price, "open": price,
                "high": price, "low": price, "close": price, "volume_1h": 0.0,
                "volume_24h": 0.0, "trade_count_1h": 0, "trade_count_24h": 0,
            })
        return {"items": items}

    def fills(request: ApiRequest) -> Any:
        body = _object(request)
        if not isinstance(body.get("user"), str):
            raise ApiError("user is required")
        if body.get("type") not in ("userFills", "userFillsByTime"):
            raise ApiError("type must be userFills or userFillsByTime")
        out = []
        with market_lock:
            trades = market.trades(3)
        for trade in trades:
            buy = trade.side == "buy"
            out.append({
                "closedPnl": "0.0", "coin": trade.symbol, "crossed": True,
                "dir": "Open Long" if buy else "Open Short", "hash": "0x" + "0" * 64,
                "oid": 10**10 + trade.trade_id, "px": str(trade.price),
                "side": "B" if buy else "A", "startPosition": "0.0", "sz": str(trade.size),
                "time": trade.timestamp_ns // 1_000_000,
                "fee": str((trade.price * trade.size * Decimal("0.00035")).quantize(
                    Decimal("0.000001"))),
                "feeToken": "USDC", "tid": 10**14 + trade.trade_id,
            })
        return out

    def supported_chains(request: ApiRequest) -> Any:
        return {
            "/api/v1/developer/prices": ["ethereum", "base", "solana"],
            "/api/v1/developer/wallet/balances": ["ethereum", "base", "solana"],
        }

    return {
        ("GET", "/api/v1/developer/assets"): assets,
        ("POST", "/api/v1/developer/prices"): prices,
        ("POST", "/api/v1/developer/trading/hyperliquid/info/fills"): fills,
        ("GET", "/api/v1/supported-chains/realtime-apis/simple"): supported_chains,
    }


def _object(request: ApiRequest) -> Mapping[str, Any]:
    if not isinstance(request.body, Mapping):
        raise ApiError("body must be an object")
    return request.body


def _int(value: Any, name: str) -> int:
    # GET parameters arrive as strings ("limit": "10" in the docs' example).
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ApiError(f"{name} must be an integer") from None
    if number < 0:
        raise ApiError(f"{name} must not be negative")
    return number


def _now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
