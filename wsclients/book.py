"""The local L2 order book: snapshot, deltas, sequence checks, and a top-N view as a ``Book``.

Venue parsers feed an :class:`OrderBook` with the levels they decoded and turn its state into
immutable :class:`~wsclients.models.Book` events. The book is venue-neutral: it knows about
prices, sizes and sequence numbers, not about any wire format.

Each side is a plain ``dict`` (price → :class:`~wsclients.models.BookLevel`) next to a
``sortedcontainers.SortedList`` of its prices, ascending on both sides; the bid side is read
from the end, so the best level of either side is one index away and a top-N view is a short
slice. Updating a level that already exists never touches the sorted list, which is what most
deltas do (venues/vega.md §3.2: level values are absolute totals, resent whenever they change).

An ``OrderBook`` is not thread-safe: one reader thread owns it, and the ``Book`` events it
builds are immutable and can be handed to any thread.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from itertools import islice
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
A :class:`~wsclients.models.BookLevel` is one too. A size of 0 or None deletes the level."""

_new_tuple = tuple.__new__  # builds a BookLevel without NamedTuple.__new__'s Python frame


class _Default(enum.Enum):
    """Sentinel type for "use the book's own depth" (None already means full depth)."""

    DEPTH = "depth"


class BookSide(Sequence[BookLevel]):
    """A live, read-only view of one side of an :class:`OrderBook`, best level first.

    It reflects the book as it is when read (like ``dict.keys()``), so copy it (``tuple(view)``
    or :meth:`top`) before the book changes if you need a fixed picture.
    """

    __slots__ = ("_book", "_is_bid")

    def __init__(self, book: OrderBook, *, is_bid: bool) -> None:
        self._book = book
        self._is_bid = is_bid

    def _levels(self) -> dict[Decimal, BookLevel]:
        return self._book._bids if self._is_bid else self._book._asks

    def _best_first(self) -> Iterator[Decimal]:
        prices = self._book._sorted_prices(is_bid=self._is_bid)
        return reversed(prices) if self._is_bid else iter(prices)

    def __len__(self) -> int:
        return len(self._levels())

    def __bool__(self) -> bool:
        return bool(self._levels())

    def __iter__(self) -> Iterator[BookLevel]:
        return map(self._levels().__getitem__, self._best_first())

    @overload
    def __getitem__(self, index: int) -> BookLevel: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[BookLevel, ...]: ...

    def __getitem__(self, index: int | slice) -> BookLevel | tuple[BookLevel, ...]:
        if isinstance(index, slice):
            return tuple(self)[index]
        prices = self._book._sorted_prices(is_bid=self._is_bid)
        # Prices ascend on both sides; the best bid is the last one (index 0 → -1, 1 → -2 …).
        return self._levels()[prices[-1 - index if self._is_bid else index]]

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, tuple) or not value:
            return False
        level = self._levels().get(value[0])
        return level is not None and level == value

    def __repr__(self) -> str:
        side = "bids" if self._is_bid else "asks"
        return f"<BookSide {side}: {len(self)} levels, best {self.best!r}>"

    @property
    def best(self) -> BookLevel | None:
        """The best level (highest bid, lowest ask), or None on an empty side."""
        return self._book.best_bid if self._is_bid else self._book.best_ask

    def get(self, price: Decimal) -> BookLevel | None:
        """The level resting at ``price``, or None."""
        return self._levels().get(price)

    def top(self, depth: int | None = None) -> tuple[BookLevel, ...]:
        """The ``depth`` best levels (all of them for None), best first, as a tuple."""
        prices = self._best_first()
        if depth is not None:
            prices = islice(prices, depth)
        return tuple(map(self._levels().__getitem__, prices))


class OrderBook:
    """A local L2 book for one symbol, kept from a snapshot plus deltas.

    Args:
        symbol: The venue's instrument id; copied into every ``Book`` event and error.
        venue: The venue's name (``"vega"``, ``"hyperliquid"`` …) for the events.
        depth: How many levels per side :meth:`to_event` puts in a ``Book`` (None: all).

    Raises:
        ValueError: ``depth`` is not None and below 1.

    The book only reads and writes its own state; it is meant to be driven by a single thread
    (the venue's reader). Sequence numbers are compared as integers and never interpreted.
    """

    __slots__ = (
        "_symbol",
        "_venue",
        "_depth",
        "_bids",
        "_bid_prices",
        "_asks",
        "_ask_prices",
        "_bids_view",
        "_asks_view",
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
        self._bids: dict[Decimal, BookLevel] = {}
        self._bid_prices: SortedList | None = SortedList()
        self._asks: dict[Decimal, BookLevel] = {}
        self._ask_prices: SortedList | None = SortedList()
        self._bids_view = BookSide(self, is_bid=True)
        self._asks_view = BookSide(self, is_bid=False)
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
        return self._bids_view

    @property
    def asks(self) -> BookSide:
        """Live view of the asks, lowest price first."""
        return self._asks_view

    @property
    def best_bid(self) -> BookLevel | None:
        """The highest bid, or None when there are no bids."""
        price = self._best_price(is_bid=True)
        return None if price is None else self._bids[price]

    @property
    def best_ask(self) -> BookLevel | None:
        """The lowest ask, or None when there are no asks."""
        price = self._best_price(is_bid=False)
        return None if price is None else self._asks[price]

    @property
    def is_crossed(self) -> bool:
        """True when the best bid is at or above the best ask.

        A locked book (bid == ask) counts: a venue's own continuous book can show neither, so
        either means levels were missed (peers.md §4 F: Vega depth crossing after lost
        updates). Auctions can legitimately cross a book, so the venue decides what to do;
        :meth:`check_crossed` raises for venues that resync on it.
        """
        bid = self._best_price(is_bid=True)
        ask = self._best_price(is_bid=False)
        return bid is not None and ask is not None and bid >= ask

    def check_crossed(self) -> None:
        """Raise if the book is crossed (see :attr:`is_crossed`); the book is left as it is.

        Raises:
            BookOutOfSync: with ``reason`` naming the best bid and ask.
        """
        if self.is_crossed:
            raise BookOutOfSync(
                self._symbol,
                reason=f"crossed book: best bid {self._best_price(is_bid=True)} >= best ask "
                f"{self._best_price(is_bid=False)}",
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

        Levels may come in any order; a price given twice keeps its last value and a level
        with size 0 or None is left out. The new book is built aside and swapped in, so a
        malformed level raises and leaves the previous book untouched. Sorting waits until
        something needs it: a venue that sends only snapshots (venues/hyperliquid.md §2:
        every l2Book frame is a full book) pays for one plain sort per event.

        Args:
            bids, asks: ``(price, size)`` or ``(price, size, count)`` items.
            sequence: The venue's sequence number for this state, if any.
            timestamp_ns: The venue's time for this state, if any.
        """
        new_bids = _levels_from(bids)
        new_asks = _levels_from(asks)
        self._bids = new_bids
        self._bid_prices = None
        self._asks = new_asks
        self._ask_prices = None
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

        Level values are absolute, not increments (venues/vega.md §3.2). The checks follow
        venues/vega.md §3.3: an update whose ``sequence`` is not above the book's is stale and
        ignored; one whose ``previous_sequence`` is not the book's ``sequence`` means updates
        were missed. Either check is skipped when the number it needs is None.

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
            Exception: whatever a malformed level raises; every change made by this update
                is undone first, so the book is as it was.
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
        bid_undo: list[tuple[Decimal, BookLevel | None]] = []
        ask_undo: list[tuple[Decimal, BookLevel | None]] = []
        try:
            _apply_changes(bids, self._bids, self._sorted_prices(is_bid=True), bid_undo)
            _apply_changes(asks, self._asks, self._sorted_prices(is_bid=False), ask_undo)
        except BaseException:
            _undo_changes(ask_undo, self._asks, self._sorted_prices(is_bid=False))
            _undo_changes(bid_undo, self._bids, self._sorted_prices(is_bid=True))
            raise
        if sequence is not None:
            self._sequence = sequence
        if timestamp_ns is not None:
            self._timestamp_ns = timestamp_ns
        return True

    def clear(self) -> None:
        """Forget every level and the sequence; the book waits for a new snapshot."""
        self._bids = {}
        self._bid_prices = SortedList()
        self._asks = {}
        self._ask_prices = SortedList()
        self._sequence = None
        self._timestamp_ns = None
        self._is_synced = False

    # Views

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
            bids=self._top(is_bid=True, depth=depth),
            asks=self._top(is_bid=False, depth=depth),
            timestamp_ns=received_ns if timestamp_ns is None else timestamp_ns,
            received_ns=received_ns,
            sequence=self._sequence,
            is_snapshot=is_snapshot,
            raw=raw,
        )

    # Internals (BookSide reads these too)

    def _sorted_prices(self, *, is_bid: bool) -> SortedList:
        """One side's prices, ascending, built from the dict after a snapshot."""
        if is_bid:
            if self._bid_prices is None:
                self._bid_prices = SortedList(self._bids)
            return self._bid_prices
        if self._ask_prices is None:
            self._ask_prices = SortedList(self._asks)
        return self._ask_prices

    def _best_price(self, *, is_bid: bool) -> Decimal | None:
        """The best price of one side, without sorting a side that is not sorted yet."""
        levels = self._bids if is_bid else self._asks
        if not levels:
            return None
        prices = self._bid_prices if is_bid else self._ask_prices
        if prices is None:
            return max(levels) if is_bid else min(levels)
        return prices[-1] if is_bid else prices[0]  # type: ignore[no-any-return]

    def _top(self, *, is_bid: bool, depth: int | None) -> tuple[BookLevel, ...]:
        """The ``depth`` best levels of one side (all for None), best first."""
        levels = self._bids if is_bid else self._asks
        prices = self._bid_prices if is_bid else self._ask_prices
        if prices is None:
            # Fresh snapshot: a plain sort of the keys beats building the sorted list, and
            # the input usually arrives sorted already (one run for timsort).
            ordered: Iterable[Decimal] = sorted(levels, reverse=is_bid)[:depth]
        else:
            ordered = reversed(prices) if is_bid else prices
            if depth is not None:
                ordered = islice(ordered, depth)
        return tuple(map(levels.__getitem__, ordered))


def _levels_from(changes: Iterable[LevelChange]) -> dict[Decimal, BookLevel]:
    """A side's levels from snapshot items, leaving out empty ones (last copy of a price wins).

    Raises:
        ValueError: an item is not a 2- or 3-item level.
    """
    levels: dict[Decimal, BookLevel] = {}
    for change in changes:
        # The same conversion as in _apply_changes, inlined in both loops for speed.
        if type(change) is BookLevel:
            level = change
        elif len(change) == 3:
            level = _new_tuple(BookLevel, change)
        else:
            price, size = change  # anything else: ValueError from the unpacking
            level = _new_tuple(BookLevel, (price, size, None))
        if level[1]:
            levels[level[0]] = level
        else:
            levels.pop(level[0], None)
    return levels


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


def _undo_changes(    undo: list[tuple[Decimal, BookLevel | None]],
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
