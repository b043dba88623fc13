"""Hyperliquid's ``POST /info`` over HTTP: the reads a stream needs for recovery.

The socket has no sequence numbers and ``orderUpdates`` has no snapshot, so after a reconnect
a bot may want the book, recent trades, fills or open orders from REST
(docs/venues/hyperliquid.rst#hyperliquid-rest of
``docs/venues/hyperliquid.rst``). Every call is one ``POST /info`` with a JSON body; retries
on 429/5xx and error mapping come from ``core/rest.py``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Callable, Optional, TypeVar, Union

from wsclients.core import codec
from wsclients.core.rest import RestSession
from wsclients.errors import ProtocolViolation, RequestFailed, SubscriptionRejected
from wsclients.models import Book, Trade
from wsclients.venues.hyperliquid.parsing import book_from_l2, trade_from_item
from wsclients.venues.hyperliquid.subscriptions import CANDLE_INTERVALS, validate_subscription

__all__ = ["MAINNET_REST_URL", "TESTNET_REST_URL", "HyperliquidInfo", "rest_url_for"]

MAINNET_REST_URL = "https://api.hyperliquid.xyz"
TESTNET_REST_URL = "https://api.hyperliquid-testnet.xyz"

_NS_PER_MS = 1_000_000
# "Responses that take a time range … return at most 500 elements or distinct blocks";
# the next page starts at the last returned timestamp (info-endpoint page of the docs).
_PAGE = 500
_T = TypeVar("_T")


def rest_url_for(ws_url: str) -> str:
    """The HTTP base URL that serves ``/info`` beside a WebSocket URL (``…/ws`` → ``…``)."""
    if ws_url.startswith("wss://"):
        base = "https://" + ws_url[len("wss://"):]
    elif ws_url.startswith("ws://"):
        base = "http://" + ws_url[len("ws://"):]
    else:
        base = ws_url
    base = base.rstrip("/")
    if base.endswith("/ws"):
        base = base[: -len("/ws")]
    return base


class HyperliquidInfo:
    """A small ``/info`` client: typed reads plus ``info(payload)`` for everything else.

    Args:
        base_url: the API root (mainnet by default; ``testnet=True`` switches).
        timeout: seconds per HTTP call.
        retries: retries on 429/5xx and connection errors (urllib3 ``Retry``).

    Thread-safe for concurrent calls (one ``requests.Session``). ``close()`` releases it.

    Raises (every method):
        RequestFailed: the server answered 4xx/5xx (e.g. 422 for a body it cannot read).
        RateLimited: still 429 after the retries.
        RequestTimeout, ConnectFailed, ProtocolViolation: no answer, no connection, not JSON.
    """

    def __init__(
        self,
        base_url: Optional[str] = None,
        *,
        testnet: bool = False,
        timeout: float = 10.0,
        retries: int = 3,
        backoff_factor: float = 0.2,
        headers: Optional[Mapping[str, str]] = None,
        proxies: Optional[Mapping[str, str]] = None,
        verify: Union[bool, str] = True,
        cert: Union[str, tuple[str, str], None] = None,
    ) -> None:
        if base_url is None:
            base_url = TESTNET_REST_URL if testnet else MAINNET_REST_URL
        self.base_url = base_url.rstrip("/")
        self._session = RestSession(
            self.base_url, timeout=timeout, retries=retries, backoff_factor=backoff_factor,
            headers=headers, proxies=proxies, verify=verify, cert=cert,
        )

    def info(self, payload: Mapping[str, Any]) -> Any:
        """``POST /info`` with ``payload`` (``{"type": …, …}``); the decoded answer."""
        return self._session.post("/info", json=dict(payload))

    def l2_book(
        self, coin: str, *, n_sig_figs: Optional[int] = None, mantissa: Optional[int] = None
    ) -> Book:
        """The book (≤20 levels a side) as a snapshot ``Book`` (empty sides for a delisted
        coin, whose book the venue serves as ``[[], []]``).

        What ``/info`` answers for a coin it does not list is not documented (over the socket
        the ``data`` is null), so every answer without levels — null, an empty body, an
        object with no ``levels`` — is taken as "no such coin" and raised, never turned into
        an empty book that would read as a market with no orders.

        Raises:
            SubscriptionRejected: invalid coin or aggregation (checked before sending).
            RequestFailed: the venue has no book for ``coin`` (or answered with an error).
        """
        checked = validate_subscription(
            {"type": "l2Book", "coin": coin, "nSigFigs": n_sig_figs, "mantissa": mantissa}
        )
        payload = {"type": "l2Book", "coin": coin, "nSigFigs": checked.get("nSigFigs"),
                   "mantissa": checked.get("mantissa")}
        data = self.info(payload)
        received_ns = time.time_ns()
        if not data or (isinstance(data, dict) and data.get("levels") is None):
            raise RequestFailed(
                f"no book for {coin!r} (a coin the venue does not list?)",
                request="POST /info l2Book",
            )
        return _checked(book_from_l2, data, received_ns)

    def recent_trades(self, coin: str) -> list[Trade]:
        """The most recent trades of ``coin`` (docs/venues/hyperliquid.rst#hyperliquid-rest
        ``recentTrades``), oldest first as served."""
        validate_subscription({"type": "trades", "coin": coin})
        data = self.info({"type": "recentTrades", "coin": coin})
        if not isinstance(data, list):
            raise ProtocolViolation("recentTrades answer is not a list", raw=data)
        received_ns = time.time_ns()
        return [_checked(trade_from_item, item, received_ns) for item in data]

    def candles(
        self, coin: str, interval: str, start_ns: int, end_ns: Optional[int] = None
    ) -> list[dict[str, Any]]:
        """Candles between two instants (ns since the epoch; the venue keeps the last 5000),
        oldest first, every page of the range (the venue answers at most 500 a call).

        Each candle is the venue's dict: ``t``/``T`` open/close ms, ``o h l c v`` strings.
        """
        if interval not in CANDLE_INTERVALS:
            raise SubscriptionRejected(
                {"coin": coin, "interval": interval},
                f"interval must be one of {sorted(CANDLE_INTERVALS)}",
            )
        validate_subscription({"type": "trades", "coin": coin})
        end_ms = None if end_ns is None else end_ns // _NS_PER_MS

        def page(start_ms: int) -> Any:
            request: dict[str, Any] = {"coin": coin, "interval": interval, "startTime": start_ms}
            if end_ms is not None:
                request["endTime"] = end_ms
            return self.info({"type": "candleSnapshot", "req": request})

        return _paged(page, "t", start_ns // _NS_PER_MS, end_ms, "candleSnapshot")

    def user_funding(
        self, user: str, start_ns: int, end_ns: Optional[int] = None
    ) -> list[dict[str, Any]]:
        """The user's funding payments between two instants, every page, oldest first:
        ``{"time", "hash", "delta": {"type": "funding", "coin", "usdc", "szi",
        "fundingRate", "nSamples"}}`` as the venue sends them."""
        return self._user_range("userFunding", user, start_ns, end_ns)

    def user_non_funding_ledger_updates(
        self, user: str, start_ns: int, end_ns: Optional[int] = None
    ) -> list[dict[str, Any]]:
        """Deposits, withdrawals, transfers, vault and liquidation entries of the user
        between two instants, every page, oldest first (``{"time", "hash", "delta"}``)."""
        return self._user_range("userNonFundingLedgerUpdates", user, start_ns, end_ns)

    def _user_range(
        self, kind: str, user: str, start_ns: int, end_ns: Optional[int]
    ) -> list[dict[str, Any]]:
        base = _user_payload(kind, user)
        end_ms = None if end_ns is None else end_ns // _NS_PER_MS

        def page(start_ms: int) -> Any:
            payload = dict(base, startTime=start_ms)
            if end_ms is not None:
                payload["endTime"] = end_ms
            return self.info(payload)

        return _paged(page, "time", start_ns // _NS_PER_MS, end_ms, kind)

    def user_fills(self, user: str, *, aggregate_by_time: bool = False) -> list[dict[str, Any]]:
        """The user's most recent fills (at most 2000), as the venue's dicts."""
        payload = _user_payload("userFills", user)
        if aggregate_by_time:
            payload["aggregateByTime"] = True
        return _list(self.info(payload), "userFills")

    def user_fills_by_time(
        self,
        user: str,
        start_ns: int,
        end_ns: Optional[int] = None,
        *,
        aggregate_by_time: bool = False,
    ) -> list[dict[str, Any]]:
        """Fills between two instants, inclusive (≤2000 per answer: page on the last time)."""
        payload = _user_payload("userFillsByTime", user)
        payload["startTime"] = start_ns // _NS_PER_MS
        if end_ns is not None:
            payload["endTime"] = end_ns // _NS_PER_MS
        if aggregate_by_time:
            payload["aggregateByTime"] = True
        return _list(self.info(payload), "userFillsByTime")

    def open_orders(self, user: str, *, dex: Optional[str] = None) -> list[dict[str, Any]]:
        """The user's open orders: the snapshot ``orderUpdates`` never sends
        (docs/venues/hyperliquid.rst#hyperliquid-rest)."""
        payload = _user_payload("openOrders", user)
        if dex is not None:
            payload["dex"] = dex
        return _list(self.info(payload), "openOrders")

    def all_mids(self, *, dex: Optional[str] = None) -> dict[str, str]:
        """Mid price per coin, as decimal strings (no ``mids`` wrapper over REST)."""
        payload: dict[str, Any] = {"type": "allMids"}
        if dex is not None:
            payload["dex"] = dex
        data = self.info(payload)
        if not isinstance(data, dict):
            raise ProtocolViolation("allMids answer is not an object", raw=data)
        return data

    def close(self) -> None:
        """Release pooled connections. Idempotent."""
        self._session.close()

    def __enter__(self) -> HyperliquidInfo:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<HyperliquidInfo {self.base_url}>"


def _user_payload(kind: str, user: str) -> dict[str, Any]:
    checked = validate_subscription({"type": "userFills", "user": user})
    return {"type": kind, "user": checked["user"]}


def _paged(
    fetch: Callable[[int], Any], time_key: str, start_ms: int, end_ms: Optional[int], what: str
) -> list[Any]:
    """Every item of a time range the venue serves ``_PAGE`` at a time.

    The next page starts at the last returned timestamp (inclusive, so items sharing that
    millisecond are not skipped); the items of that millisecond seen already are dropped.
    """
    items: list[Any] = []
    edge: set[str] = set()  # the items at the last timestamp, as canonical JSON
    start = start_ms
    while True:
        page = _list(fetch(start), what)
        fresh = [item for item in page if not edge or codec.dumps(item) not in edge]
        items.extend(fresh)
        if len(page) < _PAGE or not fresh:
            return items
        last = _time_of(page[-1], time_key, what)
        if last < start or (end_ms is not None and last >= end_ms):
            return items
        edge = {codec.dumps(item) for item in page
                if _time_of(item, time_key, what) == last}
        start = last


def _time_of(item: Any, key: str, what: str) -> int:
    value = item.get(key) if isinstance(item, dict) else None
    if not isinstance(value, int) or isinstance(value, bool):
        raise ProtocolViolation(f"{what} item without an integer {key!r}", raw=item)
    return value


def _list(data: Any, what: str) -> list[Any]:
    if not isinstance(data, list):
        raise ProtocolViolation(f"{what} answer is not a list", raw=data)
    return data


def _checked(parse: Callable[[Any, int], _T], data: Any, received_ns: int) -> _T:
    """Run a parser; its low-level errors become ProtocolViolation."""
    try:
        return parse(data, received_ns)
    except (KeyError, TypeError, ValueError, ArithmeticError, IndexError) as exc:
        if isinstance(exc, ProtocolViolation):
            raise
        raise ProtocolViolation(f"cannot parse answer ({exc!r})", raw=data) from exc
