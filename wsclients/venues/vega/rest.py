"""Vega data-node REST: metadata and recovery beside the streams (docs/venues/vega.rst#vega-rest).

The stream client needs two things the streams cannot give: each market's decimals
(``GET /market/{id}``) and an order-book snapshot (``GET /market/depth/{id}/latest``). The rest
are here because a user rebuilding state wants them next to the stream: markets, trades,
orders, positions, accounts, assets and candle intervals. List calls follow the node's cursor
pagination to the end (or to ``limit``) and return plain lists of the ``node`` objects.

REST answers use enum *names* and emit defaults, unlike the streams
(docs/venues/vega.rst#vega-rest).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Optional, Union
from urllib.parse import quote

from wsclients.core.rest import RestSession
from wsclients.errors import ProtocolViolation
from wsclients.venues.vega.urls import _encode_params, rest_base_url

__all__ = ["DEFAULT_PAGE_SIZE", "MAX_PAGE_SIZE", "VegaRest"]

logger = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 1000
"""The node's own default page size (docs/venues/vega.rst#vega-rest)."""
MAX_PAGE_SIZE = 5000
"""Larger pages are refused by the node ("pagination limit must be in range 0-5000")."""

Ids = Union[str, Iterable[str], None]
Params = list[tuple[str, str]]


def _ids(value: Ids) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return list(value)


def _add(params: Params, name: str, value: Any) -> None:
    """Append a query value in the node's conventions (``urls.encode_params``)."""
    params.extend(_encode_params({name: value}))


class VegaRest:
    """Blocking REST calls against one data node.

    Args:
        url: The data node (``https://host``); ``/api/v2`` is added when missing.
        timeout: Seconds per HTTP request.
        retries: Retries on 429/5xx and connection errors (urllib3 ``Retry``).
        page_size: Page size for list calls (the node's default is 1000, its maximum 5000).
        headers, proxies, verify, cert: Passed to ``requests`` (``verify`` may be a CA
            bundle's path).

    Raises (from every call): ``RequestFailed`` (the node's message, HTTP status),
    ``RateLimited``, ``AuthenticationFailed`` (403: the node bans IPs that keep going while
    rate limited, docs/venues/vega.rst#vega-limits), ``RequestTimeout``, ``ConnectFailed`` and
    ``ProtocolViolation`` (an answer that is not what the node sends).

    Thread-safe as far as ``requests.Session`` is: the client calls it from reader threads.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 10.0,
        retries: int = 3,
        page_size: int = DEFAULT_PAGE_SIZE,
        headers: Optional[Mapping[str, str]] = None,
        proxies: Optional[Mapping[str, str]] = None,
        verify: Union[bool, str] = True,
        cert: Union[str, tuple[str, str], None] = None,
    ) -> None:
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be within 1..{MAX_PAGE_SIZE}")
        self.base_url = rest_base_url(url)
        self.page_size = page_size
        self._session = RestSession(
            self.base_url, timeout=timeout, retries=retries, headers=headers, proxies=proxies,
            verify=verify, cert=cert,
        )

    def __repr__(self) -> str:
        return f"<VegaRest {self.base_url}>"

    def close(self) -> None:
        """Release pooled connections. Idempotent."""
        self._session.close()

    def get(self, path: str, params: Optional[Params] = None) -> Any:
        """GET ``path`` under ``/api/v2`` and return the decoded JSON (the escape hatch)."""
        return self._session.get(path, params=params)

    # Single objects ----------------------------------------------------------------------

    def market(self, market_id: str) -> dict[str, Any]:
        """``GET /market/{id}``: the market, with ``decimalPlaces`` and
        ``positionDecimalPlaces`` as strings."""
        return self._object(f"market/{quote(market_id, safe='')}", "market")

    def depth(self, market_id: str, *, max_depth: Optional[int] = None) -> dict[str, Any]:
        """``GET /market/depth/{id}/latest``: ``marketId``, ``buy``, ``sell``, ``lastTrade``,
        ``sequenceNumber`` at the top level. Without ``max_depth`` every level comes back, as a
        local book needs (docs/venues/vega.rst#vega-depth-messages)."""
        params: Params = []
        _add(params, "maxDepth", max_depth)
        body = self.get(f"market/depth/{quote(market_id, safe='')}/latest", params or None)
        if not isinstance(body, dict):
            raise ProtocolViolation("market depth answer is not an object", raw=body)
        return body

    def asset(self, asset_id: str) -> dict[str, Any]:
        """``GET /asset/{id}``: ``details.decimals`` scales fees, balances and PnL."""
        return self._object(f"asset/{quote(asset_id, safe='')}", "asset")

    def candle_intervals(self, market_id: str) -> list[dict[str, Any]]:
        """``GET /candle/intervals?marketId=``: ``[{"interval", "candleId"}, …]`` — the ids
        ``subscribe_candles`` takes."""
        body = self.get("candle/intervals", [("marketId", market_id)])
        if not isinstance(body, dict):
            raise ProtocolViolation("candle intervals answer is not an object", raw=body)
        intervals = body.get("intervalToCandleId", [])
        if not isinstance(intervals, list):
            raise ProtocolViolation("intervalToCandleId is not a list", raw=intervals)
        return intervals

    # Lists (cursor pagination followed to the end) ---------------------------------------

    def markets(self, *, include_settled: Optional[bool] = None) -> list[dict[str, Any]]:
        """``GET /markets``: every market."""
        params: Params = []
        _add(params, "includeSettled", include_settled)
        return list(self.paginate("markets", "markets", params))

    def assets(self) -> list[dict[str, Any]]:
        """``GET /assets``: every asset."""
        return list(self.paginate("assets", "assets"))

    def trades(
        self,
        *,
        market_ids: Ids = None,
        party_ids: Ids = None,
        order_ids: Ids = None,
        start_ns: Optional[int] = None,
        end_ns: Optional[int] = None,
        limit: Optional[int] = None,
    ) -> list[dict[str, Any]]:
        """``GET /trades``, newest first (the node's default), at most ``limit`` of them.

        ``marketIds``/``partyIds`` are the names since v0.71; the old singular ones would be
        ignored and return every trade (docs/venues/vega.rst#vega-query).
        """
        params: Params = []
        _add(params, "marketIds", _ids(market_ids))
        _add(params, "partyIds", _ids(party_ids))
        _add(params, "orderIds", _ids(order_ids))
        _add(params, "dateRange.startTimestamp", start_ns)
        _add(params, "dateRange.endTimestamp", end_ns)
        return list(self.paginate("trades", "trades", params, limit=limit))

    def orders(
        self,
        *,
        market_ids: Ids = None,
        party_ids: Ids = None,
        live_only: Optional[bool] = None,
        limit: Optional[int] = None,
    ) -> list[dict[str, Any]]:
        """``GET /orders`` with ``filter.*`` parameters."""
        params: Params = []
        _add(params, "filter.marketIds", _ids(market_ids))
        _add(params, "filter.partyIds", _ids(party_ids))
        _add(params, "filter.liveOnly", live_only)
        return list(self.paginate("orders", "orders", params, limit=limit))

    def positions(
        self, *, party_ids: Ids = None, market_ids: Ids = None, limit: Optional[int] = None
    ) -> list[dict[str, Any]]:
        """``GET /positions`` with ``filter.*`` parameters."""
        params: Params = []
        _add(params, "filter.partyIds", _ids(party_ids))
        _add(params, "filter.marketIds", _ids(market_ids))
        return list(self.paginate("positions", "positions", params, limit=limit))

    def accounts(
        self,
        *,
        party_ids: Ids = None,
        market_ids: Ids = None,
        asset_id: Optional[str] = None,
        account_types: Union[Iterable[Union[str, int]], None] = None,
        limit: Optional[int] = None,
    ) -> list[dict[str, Any]]:
        """``GET /accounts`` with ``filter.*`` parameters; nodes are ``AccountBalance``."""
        params: Params = []
        _add(params, "filter.partyIds", _ids(party_ids))
        _add(params, "filter.marketIds", _ids(market_ids))
        _add(params, "filter.assetId", asset_id)
        _add(params, "filter.accountTypes", None if account_types is None else list(account_types))
        return list(self.paginate("accounts", "accounts", params, limit=limit))

    def paginate(
        self,
        path: str,
        root: str,
        params: Optional[Params] = None,
        *,
        limit: Optional[int] = None,
    ) -> Iterator[dict[str, Any]]:
        """Yield the ``node`` of every edge of a connection, page after page.

        Follows ``pageInfo.endCursor`` with ``pagination.after`` while ``hasNextPage``
        (docs/venues/vega.rst#vega-rest). Stops after ``limit`` nodes when given.

        Raises:
            ProtocolViolation: the answer lacks the connection, or a cursor repeats (a node
                that would otherwise be paged forever).
        """
        base = list(params or [])
        after: Optional[str] = None
        seen: set[str] = set()
        count = 0
        while limit is None or count < limit:
            first = self.page_size if limit is None else min(self.page_size, limit - count)
            query = base + [("pagination.first", str(first))]
            if after is not None:
                query.append(("pagination.after", after))
            body = self.get(path, query)
            connection = body.get(root) if isinstance(body, dict) else None
            if not isinstance(connection, dict):
                raise ProtocolViolation(f"GET {path}: no {root} connection", raw=body)
            edges = connection.get("edges") or []
            if not isinstance(edges, list):
                raise ProtocolViolation(f"GET {path}: edges is not a list", raw=edges)
            for edge in edges:
                node = edge.get("node") if isinstance(edge, dict) else None
                if not isinstance(node, dict):
                    raise ProtocolViolation(f"GET {path}: edge without a node", raw=edge)
                yield node
                count += 1
                if limit is not None and count >= limit:
                    return
            info = connection.get("pageInfo") or {}
            cursor = info.get("endCursor") if isinstance(info, dict) else None
            if not (isinstance(info, dict) and info.get("hasNextPage")) or not cursor or not edges:
                return
            if cursor in seen:
                raise ProtocolViolation(f"GET {path}: page cursor repeats", raw=cursor)
            seen.add(cursor)
            after = cursor

    def _object(self, path: str, root: str) -> dict[str, Any]:
        body = self.get(path)
        value = body.get(root) if isinstance(body, dict) else None
        if not isinstance(value, dict):
            raise ProtocolViolation(f"GET {path}: no {root} object", raw=body)
        return value
