"""The local L2 order book: snapshot, deltas, sequence checks, and a top-N view as a ``Book``.

Venue parsers feed an :class:`OrderBook` with the levels they decoded and turn its state into
immutable :class:`~wsclients.models.Book` events. The book is venue-neutral: it knows about
prices, sizes and sequence numbers, not about any wire format.

Each side (a :class:`BookSide`) holds its levels in one of two forms:

- *ranked*: a plain list, best level first. A snapshot lands in this form, and a venue that
  sends only snapshots (docs/venues/hyperliquid.rst#hyperliquid-subscriptions: every l2Book frame
  is a full book) never
  leaves it, so its events are list slices. Snapshots arrive best first on every venue we
  know, so ranking costs one comparison per level; building a dict would cost a hash of every
  fresh ``Decimal`` price, which is several times dearer.
- *indexed*: a ``dict`` (price → ``BookLevel``) next to a ``sortedcontainers.SortedList`` of
  its prices, ascending on both sides (the bid side is read from the end). The first delta
  converts the side; from then on a change is a dict lookup, and only a new or vanished price
  touches the sorted list. Updating an existing level, which most deltas do
  (docs/venues/vega.rst#vega-depth-production:
  level values are absolute totals, resent whenever they change), never does.

An ``OrderBook`` is not thread-safe: one reader thread owns it, and the ``Book`` events it
builds are immutable and can be handed to any thread.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from itertools import islice
from operator import gt, lt
from typing import Optional, Union, overload

from sortedcontainers import SortedList

from .errors import BookOutOfSync
from .models import Book, BookLevel

__all__ = ["BookSide", "LevelChange", "OrderBook"]

LevelChange = Union[
    tuple[Decimal, Optional[Decimal]],
    tuple[Decimal, Optional[Decimal], Optional[int]],
]
"""One level as a venue parser hands it in: ``(price, size)`` or ``(price, size, count)``.
A :class:`~wsclients.models.BookLevel` is one too, and is kept as it is (no copy). A size of 0
or None deletes the level."""

_Indexed = tuple[dict[Decimal, BookLevel], SortedList]
"""A side as levels by price plus their prices in ascending order."""

_new_tuple = tuple.__new__  # builds a BookLevel without NamedTuple.__new__'s Python frame


class _Default(enum.Enum):
    """Sentinel type for "use the book's own depth" (None already means full depth)."""

    DEPTH = "depth"


class BookSide(Sequence[BookLevel]):
    """One side of an :class:`OrderBook`: a live, read-only sequence, best level first.

    ``book.bids`` and ``book.asks`` are these. They reflect the book as it is when read (like
    ``dict.keys()``), so copy one (``tuple(side)`` or :meth:`top`) if you need a fixed
    picture. Only the owning book changes a side.
    """

    __slots__ = ("_is_bid", "_data", "_top")

    def __init__(self, *, is_bid: bool) -> None:
        self._is_bid = is_bid
        self._data: list[BookLevel] | _Indexed = []
        # The last top(depth) as (depth, levels), kept while no change reaches those levels:
        # a delta deep in the book gives the next event the same tuple, not a rebuilt one.
        self._top: tuple[int | None, tuple[BookLevel, ...]] | None = None

    # Reading

    def __len__(self) -> int:
        data = self._data
        return len(data) if isinstance(data, list) else len(data[0])

    def __bool__(self) -> bool:
        return len(self) > 0

    def __iter__(self) -> Iterator[BookLevel]:
        data = self._data
        if isinstance(data, list):
            return iter(data)
        levels, prices = data
        return map(levels.__getitem__, reversed(prices) if self._is_bid else iter(prices))

    @overload
    def __getitem__(self, index: int) -> BookLevel: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[BookLevel, ...]: ...

    def __getitem__(self, index: int | slice) -> BookLevel | tuple[BookLevel, ...]:
        data = self._data
        if isinstance(data, list):
            return tuple(data[index]) if isinstance(index, slice) else data[index]
        if isinstance(index, slice):
            return tuple(self)[index]
        levels, prices = data
        # Prices ascend on both sides; the best bid is the last one (index 0 → -1, 1 → -2 …).
        return levels[prices[-1 - index if self._is_bid else index]]

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, tuple) or not value:
            return False
        level = self.get(value[0])
        return level is not None and level == value

    def __repr__(self) -> str:
        side = "bids" if self._is_bid else "asks"
        return f"<BookSide {side}: {len(self)} levels, best {self.best!r}>"

    @property
    def best(self) -> BookLevel | None:
        """The best level (highest bid, lowest ask), or None on an empty side."""
        data = self._data
        if isinstance(data, list):
            return data[0] if data else None
        levels, prices = data
        if not levels:
            return None
        return levels[prices[-1 if self._is_bid else 0]]

    def get(self, price: Decimal) -> BookLevel | None:
        """The level resting at ``price``, or None."""
        return self._index()[0].get(price)

    def top(self, depth: int | None = None) -> tuple[BookLevel, ...]:
        """The ``depth`` best levels (all of them for None), best first, as a tuple."""
        cached = self._top
        if cached is not None and cached[0] == depth:
            return cached[1]
        data = self._data
        if isinstance(data, list):
            top = tuple(data if depth is None else data[:depth])
        else:
            levels, prices = data
            ordered = reversed(prices) if self._is_bid else iter(prices)
            if depth is not None:
                ordered = islice(ordered, depth)
            top = tuple(map(levels.__getitem__, ordered))
        self._top = (depth, top)
        return top

    # Changing (OrderBook only)

    def _replace(self, data: list[BookLevel]) -> None:
        self._data = data
        self._top = None

    def _changed(self, undo: list[tuple[Decimal, BookLevel | None]]) -> None:
        """Drop the kept top unless every price in ``undo`` (the changes just made) lies
        beyond its last level: such a change cannot alter the top levels."""
        cached = self._top
        if cached is None or not undo:
            return
        depth, top = cached
        if depth == 0:
            return
        if depth is None or len(top) < depth:  # the whole side is shown: every change shows
            self._top = None
            return
        edge = top[-1][0]
        if self._is_bid:
            if any(price >= edge for price, _ in undo):
                self._top = None
        elif any(price <= edge for price, _ in undo):
            self._top = None

    def _index(self) -> _Indexed:
        """The side in indexed form, converting it from ranked form first if need be."""
        data = self._data
        if isinstance(data, list):
            levels = {level[0]: level for level in data}
            data = self._data = (levels, SortedList(levels))
        return data


class OrderBook:
    """A local L2 book for one symbol, kept from a snapshot plus deltas.

    Args:
        symbol: The venue's instrument id; copied into every ``Book`` event and error.
        venue: The venue's name (``"vega"``, ``"hyperliquid"`` …) for the events.
        depth: How many levels per side :meth:`to_event` puts in a ``Book`` (None: all).

    Raises:
        ValueError: ``depth`` is not None and below 1.

    Levels are ``(price, size)`` or ``(price, size, count)`` tuples (or ``BookLevel``s) of
    ``Decimal`` prices and sizes, as the venue parser built them; sizes are the level's total,
    never increments, and are not checked here (the parser is the boundary). The book is
    driven by one thread (the venue's reader). Sequence numbers are compared as integers and
    never interpreted.
    """

    __slots__ = (
        "_symbol",
        "_venue",
        "_depth",
        "_bids",
        "_asks",
        "_sequence",
        "_timestamp_ns",
        "_is_synced",
    )

    def __init__(self, symbol: str, *, venue: str, depth: int | None = None) -> None:
        if depth is not None and depth < 1:
            raise ValueError(f"depth must be None (full book) or at least 1, not {depth!r}")
        self._symbol = symbol
        self._venue = venue
        self._depth = depth
        self._bids = BookSide(is_bid=True)
        self._asks = BookSide(is_bid=False)
        self._sequence: int | None = None
        self._timestamp_ns: int | None = None
        self._is_synced = False

    # Identity and state

    @property
    def symbol(self) -> str:
        """The venue's instrument id."""
        return self._symbol

    @property
    def venue(self) -> str:
        """The venue's name."""
        return self._venue

    @property
    def depth(self) -> int | None:
        """Levels per side in :meth:`to_event` by default (None: the full book)."""
        return self._depth

    @property
    def sequence(self) -> int | None:
        """The sequence number of the last snapshot or delta applied, if the venue gave one."""
        return self._sequence

    @property
    def timestamp_ns(self) -> int | None:
        """The venue time of the last snapshot or delta applied, if the venue gave one."""
        return self._timestamp_ns

    @property
    def is_synced(self) -> bool:
        """True once a snapshot was applied, until a gap is seen or the book is cleared."""
        return self._is_synced

    @property
    def bids(self) -> BookSide:
        """Live view of the bids, highest price first."""
        return self._bids

    @property
    def asks(self) -> BookSide:
        """Live view of the asks, lowest price first."""
        return self._asks

    @property
    def best_bid(self) -> BookLevel | None:
        """The highest bid, or None when there are no bids."""
        return self._bids.best

    @property
    def best_ask(self) -> BookLevel | None:
        """The lowest ask, or None when there are no asks."""
        return self._asks.best

    @property
    def is_crossed(self) -> bool:
        """True when the best bid is at or above the best ask.

        A locked book (bid == ask) counts: a venue's own continuous book can show neither, so
        either means levels were missed (docs/threading.rst#threading-why-not-websocketapp F: Vega
        depth crossing after lost
        updates). Auctions can legitimately cross a book, so the venue decides what to do;
        :meth:`check_crossed` raises for venues that resync on it.
        """
        bid = self._bids.best
        ask = self._asks.best
        return bid is not None and ask is not None and bid[0] >= ask[0]

    def check_crossed(self) -> None:
        """Raise if the book is crossed (see :attr:`is_crossed`); the book is left as it is.

        Raises:
            BookOutOfSync: with ``reason`` naming the best bid and ask.
        """
        bid = self._bids.best
        ask = self._asks.best
        if bid is not None and ask is not None and bid[0] >= ask[0]:
            raise BookOutOfSync(
                self._symbol, reason=f"crossed book: best bid {bid[0]} >= best ask {ask[0]}"
            )

    def __repr__(self) -> str:
        return (
            f"<OrderBook {self._venue} {self._symbol}: {len(self._bids)} bids, "
            f"{len(self._asks)} asks, sequence={self._sequence}, synced={self._is_synced}>"
        )

    # Changes

    def apply_snapshot(
        self,
        bids: Iterable[LevelChange],
        asks: Iterable[LevelChange],
        *,
        sequence: int | None = None,
        timestamp_ns: int | None = None,
    ) -> None:
        """Replace the whole book and mark it synced.

        Levels may come in any order (best first is the cheap case); a price given twice
        keeps its last value and a level with size 0 or None is left out. The new sides are
        built aside and swapped in, so anything that raises leaves the previous book as it was.

        Args:
            bids, asks: ``(price, size)`` or ``(price, size, count)`` items.
            sequence: The venue's sequence number for this state, if any.
            timestamp_ns: The venue's time for this state, if any.

        Raises:
            ValueError: an item is not a 2- or 3-item level.
        """
        new_bids = _ranked(bids, is_bid=True)
        new_asks = _ranked(asks, is_bid=False)
        self._bids._replace(new_bids)
        self._asks._replace(new_asks)
        self._sequence = sequence
        self._timestamp_ns = timestamp_ns
        self._is_synced = True

    def apply_delta(
        self,
        bids: Iterable[LevelChange],
        asks: Iterable[LevelChange],
        *,
        sequence: int | None = None,
        previous_sequence: int | None = None,
        timestamp_ns: int | None = None,
    ) -> bool:
        """Apply changed levels: each replaces its price's level, size 0 or None deletes it.

        Level values are absolute, not increments (docs/venues/vega.rst#vega-depth-production). The
        checks follow
        docs/venues/vega.rst#vega-depth-resync: an update whose ``sequence`` is not above the
        book's is stale and
        ignored; one whose ``previous_sequence`` is not the book's ``sequence`` means updates
        were missed. Either check is skipped when a number it needs is None.

        Args:
            bids, asks: ``(price, size)`` or ``(price, size, count)`` items.
            sequence: The update's sequence number; becomes the book's when applied.
            previous_sequence: The sequence number this update follows, if the venue says.
            timestamp_ns: The venue's time for the update; becomes the book's when applied.

        Returns:
            True when applied, False for a stale update (book untouched).

        Raises:
            BookOutOfSync: no snapshot yet (or a gap since the last one), or this update
                reveals a gap (``expected`` = the book's sequence, ``got`` =
                ``previous_sequence``). The book is left unchanged and no longer synced: the
                caller must fetch a snapshot and call :meth:`apply_snapshot`.
            ValueError: an item is not a 2- or 3-item level. Like anything else raised
                half-way (a failing input iterator), it comes after every change this update
                made was undone, so the book is as it was.
        """
        if not self._is_synced:
            raise BookOutOfSync(
                self._symbol, expected=self._sequence, got=previous_sequence,
                reason="update before snapshot" if self._sequence is None
                else "update before a new snapshot after a gap",
            )
        current = self._sequence
        if current is not None:
            if sequence is not None and sequence <= current:
                return False
            if previous_sequence is not None and previous_sequence != current:
                self._is_synced = False
                raise BookOutOfSync(self._symbol, expected=current, got=previous_sequence)
        bid_levels, bid_prices = self._bids._index()
        ask_levels, ask_prices = self._asks._index()
        bid_undo: list[tuple[Decimal, BookLevel | None]] = []
        ask_undo: list[tuple[Decimal, BookLevel | None]] = []
        try:
            _apply_changes(bids, bid_levels, bid_prices, bid_undo)
            _apply_changes(asks, ask_levels, ask_prices, ask_undo)
        except BaseException:
            _undo_changes(ask_undo, ask_levels, ask_prices)
            _undo_changes(bid_undo, bid_levels, bid_prices)
            raise
        self._bids._changed(bid_undo)
        self._asks._changed(ask_undo)
        if sequence is not None:
            self._sequence = sequence
        if timestamp_ns is not None:
            self._timestamp_ns = timestamp_ns
        return True

    def clear(self) -> None:
        """Forget every level and the sequence; the book waits for a new snapshot."""
        self._bids._replace([])
        self._asks._replace([])
        self._sequence = None
        self._timestamp_ns = None
        self._is_synced = False

    # Events

    def to_event(
        self,
        *,
        received_ns: int,
        is_snapshot: bool = False,
        raw: object = None,
        depth: int | None | _Default = _Default.DEPTH,
    ) -> Book:
        """An immutable ``Book`` holding the top levels of each side, best first.

        Args:
            received_ns: When the frame behind this state was read.
            is_snapshot: Whether to mark the event as a full snapshot.
            raw: The decoded venue item, kept on the event.
            depth: Levels per side; defaults to the book's ``depth`` (None: the full book).

        Raises:
            ValueError: a negative ``depth``.

        The event's ``timestamp_ns`` is the venue time of the last change, or ``received_ns``
        where the venue gave none; its ``sequence`` is the book's.
        """
        if depth is _Default.DEPTH:
            depth = self._depth
        elif depth is not None and depth < 0:
            raise ValueError(f"depth must be None (full book) or >= 0, not {depth!r}")
        timestamp_ns = self._timestamp_ns
        return Book(
            venue=self._venue,
            symbol=self._symbol,
            bids=self._bids.top(depth),
            asks=self._asks.top(depth),
            timestamp_ns=received_ns if timestamp_ns is None else timestamp_ns,
            received_ns=received_ns,
            sequence=self._sequence,
            is_snapshot=is_snapshot,
            raw=raw,
        )


def _ranked(changes: Iterable[LevelChange], *, is_bid: bool) -> list[BookLevel]:
    """A side's levels from snapshot items, best first, without empty levels.

    Raises:
        ValueError: an item is not a 2- or 3-item level.
    """
    converted: list[BookLevel] = []
    append = converted.append
    for change in changes:
        # The same conversion as in _apply_changes, inlined in both loops for speed.
        if type(change) is BookLevel:
            append(change)
        elif len(change) == 3:
            append(_new_tuple(BookLevel, change))
        else:
            price, size = change  # anything else: ValueError from the unpacking
            append(_new_tuple(BookLevel, (price, size, None)))
    prices = [level[0] for level in converted]
    if all(map(gt if is_bid else lt, prices, islice(prices, 1, None))):
        return [level for level in converted if level[1]]
    # Not strictly best first (unsorted, or a price given twice): the last copy of a price wins.
    levels: dict[Decimal, BookLevel] = {}
    for level in converted:
        if level[1]:
            levels[level[0]] = level
        else:
            levels.pop(level[0], None)
    return [levels[price] for price in sorted(levels, reverse=is_bid)]


def _apply_changes(
    changes: Iterable[LevelChange],
    levels: dict[Decimal, BookLevel],
    prices: SortedList,
    undo: list[tuple[Decimal, BookLevel | None]],
) -> None:
    """Apply one side of a delta in place, recording ``(price, previous level)`` per change.

    Each change is recorded only once it is fully made, so :func:`_undo_changes` can restore
    the side whatever raised half-way.
    """
    get = levels.get
    add = prices.add
    remove = prices.remove
    record = undo.append
    for change in changes:
        # A given BookLevel is kept as it is; a 2- or 3-tuple becomes one (anything else
        # fails to unpack: ValueError, and the caller undoes what was done).
        if type(change) is BookLevel:
            level = change
        elif len(change) == 3:
            level = _new_tuple(BookLevel, change)
        else:
            price, size = change
            level = _new_tuple(BookLevel, (price, size, None))
        price = level[0]
        old = get(price)
        if level[1]:
            if old is None:
                add(price)
            levels[price] = level
            record((price, old))
        elif old is not None:
            del levels[price]
            remove(price)
            record((price, old))


def _undo_changes(
    undo: list[tuple[Decimal, BookLevel | None]],
    levels: dict[Decimal, BookLevel],
    prices: SortedList,
) -> None:
    """Restore one side to its state before :func:`_apply_changes` made ``undo``'s changes."""
    for price, old in reversed(undo):
        if old is None:
            if price in levels:
                del levels[price]
                prices.remove(price)
        else:
            if price not in levels:
                prices.add(price)
            levels[price] = old
