"""Cadenza order-book publications → the core ``OrderBook`` → ``Book`` events.

The payload is Cadenza's ``orderBook`` schema (cadenza-client-python ``docs/OrderBook.md``;
wire keys camelCase, decimals as strings)::

    {"updateType": "SNAPSHOT" | "DIFF" | "DELTA", "instrumentId": "BINANCE:BTC/USDT",
     "venue": "BINANCE", "symbol": "BTC/USDT", "orderBookType": "L2",
     "columns": ["price", "quantity"], "bids": [["50000.00", "1.5"]],
     "asks": [["50001.00", "0.7"]], "timestamp": 1632933600000}

``SNAPSHOT`` replaces the book; ``DIFF`` and ``DELTA`` upsert levels and a zero quantity
deletes one. Parsing is lenient where the schema is not confirmed: a ``{"data": orderBook}``
wrapper is unwrapped, a payload without ``updateType`` (the older ``Orderbook`` model) is a
full snapshot, rows may be lists laid out by ``columns`` or objects, several rows at one price
(L3 books) add up, and fields we do not know are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Optional

import attrs

from wsclients.book import OrderBook
from wsclients.errors import ProtocolViolation
from wsclients.models import Book, BookLevel

__all__ = ["BookKeeper", "BookUpdate", "parse_order_book", "timestamp_ns"]

_PRICE_NAMES = ("price", "px", "p")
_SIZE_NAMES = ("quantity", "size", "qty", "amount", "q", "sz")
_COUNT_NAMES = ("orderCount", "count", "numOrders", "n")
_SNAPSHOT = "SNAPSHOT"
_UPDATES = frozenset(["DIFF", "DELTA", "UPDATE", "INCREMENTAL"])


def timestamp_ns(value: Any) -> Optional[int]:
    """A venue time as integer nanoseconds: milliseconds (Cadenza's unit), or micro/nano
    seconds told apart by magnitude; None when it is not a number."""
    if isinstance(value, str):
        try:
            value = int(value)
        except ValueError:
            return None
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
        return None
    number = int(value)
    if number < 10**14:  # milliseconds until the year 5138
        return number * 1_000_000
    if number < 10**17:
        return number * 1_000
    return number


@attrs.frozen(kw_only=True)
class BookUpdate:
    """One decoded order-book publication."""

    is_snapshot: bool
    bids: tuple[BookLevel, ...]
    asks: tuple[BookLevel, ...]
    timestamp_ns: Optional[int]
    raw: Any = attrs.field(repr=False, eq=False)


def _index(columns: Sequence[Any], names: tuple[str, ...], default: Optional[int]) -> Optional[int]:
    for name in names:
        if name in columns:
            return list(columns).index(name)
    return default


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise ProtocolViolation("a price or quantity must be a decimal string")
    if isinstance(value, (str, int)):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    raise ProtocolViolation(f"a price or quantity must be a decimal string, got {value!r}")


def _field(row: Mapping[str, Any], names: tuple[str, ...]) -> Any:
    for name in names:
        if name in row:
            return row[name]
    return None


def _levels(rows: Any, columns: Sequence[Any]) -> tuple[BookLevel, ...]:
    if rows is None:
        return ()
    if not isinstance(rows, list):
        raise ProtocolViolation("book side must be a list of rows")
    price_at = _index(columns, _PRICE_NAMES, 0)
    size_at = _index(columns, _SIZE_NAMES, 1)
    count_at = _index(columns, _COUNT_NAMES, None)
    totals: dict[Decimal, list[Any]] = {}
    for row in rows:
        if isinstance(row, Mapping):
            price, size, count = (_field(row, _PRICE_NAMES), _field(row, _SIZE_NAMES),
                                  _field(row, _COUNT_NAMES))
        elif isinstance(row, (list, tuple)):
            price = row[price_at] if price_at is not None else None
            size = row[size_at] if size_at is not None and size_at < len(row) else None
            count = row[count_at] if count_at is not None and count_at < len(row) else None
        else:
            raise ProtocolViolation(f"a book row must be a list or an object, got {row!r}")
        if price is None or size is None:
            raise ProtocolViolation(f"a book row needs a price and a quantity: {row!r}")
        level_price, level_size = _decimal(price), _decimal(size)
        level_count = int(count) if isinstance(count, (int, str)) and str(count).isdigit() else None
        total = totals.get(level_price)
        if total is None:
            totals[level_price] = [level_size, level_count]
        else:  # several orders at one price (L3): the level is their sum
            total[0] += level_size
            total[1] = None if total[1] is None or level_count is None else total[1] + level_count
    return tuple(BookLevel(price, size, count) for price, (size, count) in totals.items())


def parse_order_book(payload: Any) -> Optional[BookUpdate]:
    """Decode an ``orderBook`` publication; None when the payload is no order book at all.

    Raises:
        ProtocolViolation, ArithmeticError: a side or a row is malformed.
    """
    if not isinstance(payload, Mapping):
        return None
    if "bids" not in payload and "asks" not in payload:
        inner = payload.get("data")
        if isinstance(inner, Mapping) and ("bids" in inner or "asks" in inner):
            payload = inner  # the wsMarketOrderBookUpdate wrapper
        else:
            return None
    kind = payload.get("updateType") or payload.get("type") or _SNAPSHOT
    kind = str(kind).upper()
    if kind != _SNAPSHOT and kind not in _UPDATES:
        raise ProtocolViolation(f"unknown order-book updateType {kind!r}", raw=payload)
    columns = payload.get("columns")
    if not isinstance(columns, list):
        columns = ["price", "quantity"]
    return BookUpdate(
        is_snapshot=kind == _SNAPSHOT,
        bids=_levels(payload.get("bids"), columns),
        asks=_levels(payload.get("asks"), columns),
        timestamp_ns=timestamp_ns(payload.get("timestamp")),
        raw=payload,
    )


class BookKeeper:
    """One instrument's local book, kept from publications and trusted only while whole.

    ``apply`` answers with the ``Book`` to deliver, or None while the book waits for a
    snapshot; it raises ``BookOutOfSync`` when the publications no longer add up (an offset
    gap, a crossed book), after which the book is cleared and waits for a new snapshot.
    """

    def __init__(self, instrument_id: str, *, venue: str, depth: Optional[int] = None) -> None:
        self.instrument_id = instrument_id
        self.book = OrderBook(instrument_id, venue=venue, depth=depth)
        self.last_offset: Optional[int] = None

    def reset(self) -> None:
        """Forget everything: only a snapshot makes the book usable again."""
        self.book.clear()
        self.last_offset = None

    def check_offset(self, offset: Optional[int]) -> bool:
        """Whether publication ``offset`` follows the last one applied (True without
        offsets: a stream without positions cannot show a gap)."""
        if offset is None or self.last_offset is None:
            return True
        return offset == self.last_offset + 1

    def apply(
        self, update: BookUpdate, *, offset: Optional[int], received_ns: int
    ) -> Optional[Book]:
        """Apply one update; the ``Book`` to deliver or None (still waiting for a snapshot).

        Raises:
            BookOutOfSync: a delta revealed a crossed book (the book is cleared).
        """
        book = self.book
        if update.is_snapshot:
            book.apply_snapshot(update.bids, update.asks, sequence=offset,
                                timestamp_ns=update.timestamp_ns)
        elif not book.is_synced:
            return None  # a diff before the snapshot it builds on: not usable
        else:
            # The publication's offset is the book's sequence: the stream position it reflects.
            book.apply_delta(update.bids, update.asks, sequence=offset,
                             timestamp_ns=update.timestamp_ns)
        if offset is not None:
            self.last_offset = offset
        try:
            book.check_crossed()
        except Exception:
            self.reset()
            raise
        return book.to_event(received_ns=received_ns, is_snapshot=update.is_snapshot,
                             raw=update.raw)
