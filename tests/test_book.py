"""The local L2 book: snapshots, deltas, sequence checks, crossed books and Book events.

Unit tests first, then a Hypothesis state machine that drives an OrderBook and a plain
dict-and-sort model with the same snapshots, deltas, stale updates and gaps
(docs/testing.rst#testing-suite).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Optional

import attrs
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from wsclients.book import OrderBook
from wsclients.errors import BookOutOfSync
from wsclients.models import Book, BookLevel

D = Decimal


def lv(price: str, size: str, count: Optional[int] = None) -> BookLevel:
    return BookLevel(D(price), D(size), count)


def make_book(depth: Optional[int] = None, *, sequence: Optional[int] = 10) -> OrderBook:
    """A synced book: bids 100/99/98, asks 101/102/103."""
    book = OrderBook("BTC", venue="test", depth=depth)
    book.apply_snapshot(
        [(D("100"), D("1"), 1), (D("99"), D("2"), 2), (D("98"), D("3"), 3)],
        [(D("101"), D("4"), 4), (D("102"), D("5"), 5), (D("103"), D("6"), 6)],
        sequence=sequence,
        timestamp_ns=1_000,
    )
    return book


def state(book: OrderBook) -> tuple[Any, ...]:
    """Everything observable about a book, for "unchanged" checks."""
    return (tuple(book.bids), tuple(book.asks), book.sequence, book.timestamp_ns)


# Snapshots


def test_new_book_is_empty_and_not_synced() -> None:
    """A fresh book has no levels, no sequence and waits for a snapshot."""
    book = OrderBook("BTC", venue="test")
    assert not book.is_synced
    assert book.sequence is None and book.timestamp_ns is None
    assert book.best_bid is None and book.best_ask is None
    assert len(book.bids) == len(book.asks) == 0
    assert not book.is_crossed
    assert (book.symbol, book.venue, book.depth) == ("BTC", "test", None)


def test_snapshot_orders_levels_best_first() -> None:
    """Snapshot levels in any order come out bids descending, asks ascending."""
    book = OrderBook("BTC", venue="test")
    book.apply_snapshot(
        [(D("98"), D("3")), (D("100"), D("1")), (D("99"), D("2"))],
        [(D("103"), D("6")), (D("101"), D("4")), (D("102"), D("5"))],
        sequence=7,
        timestamp_ns=123,
    )
    assert book.is_synced and book.sequence == 7 and book.timestamp_ns == 123
    assert [level.price for level in book.bids] == [D("100"), D("99"), D("98")]
    assert [level.price for level in book.asks] == [D("101"), D("102"), D("103")]
    assert book.best_bid == lv("100", "1") and book.best_ask == lv("101", "4")


def test_snapshot_drops_empty_levels_and_keeps_last_duplicate() -> None:
    """Size 0 or None in a snapshot means no level; a repeated price keeps its last value."""
    book = OrderBook("BTC", venue="test")
    book.apply_snapshot(
        [(D("100"), D("1")), (D("99"), D("0")), (D("98"), None), (D("100"), D("7"), 3)],
        [(D("101"), D("0E-8"))],
    )
    assert tuple(book.bids) == (lv("100", "7", 3),)
    assert tuple(book.asks) == ()


def test_snapshot_price_deleted_by_a_later_copy() -> None:
    """A later copy of a price with size 0 removes it, even in an otherwise ordered side."""
    book = OrderBook("BTC", venue="test")
    book.apply_snapshot([(D("100"), D("1")), (D("100"), D("0")), (D("99"), D("1"))], [])
    assert tuple(book.bids) == (lv("99", "1"),)


def test_best_first_snapshot_drops_empty_levels() -> None:
    """A snapshot already best first keeps its order and still leaves out empty levels."""
    book = OrderBook("BTC", venue="test")
    book.apply_snapshot(
        [(D("100"), D("1")), (D("99"), D("0")), (D("98"), D("2"), 1), (D("97"), None)],
        [(D("101"), None), (D("102"), D("3")), (D("103"), D("0.000"))],
    )
    assert tuple(book.bids) == (lv("100", "1"), lv("98", "2", 1))
    assert tuple(book.asks) == (lv("102", "3"),)
    assert book.to_event(received_ns=1, depth=1).bids == (lv("100", "1"),)


def test_snapshot_accepts_any_iterable() -> None:
    """Snapshot sides may be generators, read once."""
    book = OrderBook("BTC", venue="test")
    book.apply_snapshot(
        (level for level in [lv("99", "1"), lv("100", "1")]),
        iter([(D("101"), D("1"))]),
    )
    assert tuple(book.bids) == (lv("100", "1"), lv("99", "1"))
    assert tuple(book.asks) == (lv("101", "1"),)


def test_snapshot_replaces_the_whole_book() -> None:
    """A second snapshot forgets every earlier level, sequence and timestamp."""
    book = make_book()
    book.apply_snapshot([(D("50"), D("1"))], [(D("60"), D("1"))])
    assert tuple(book.bids) == (lv("50", "1"),)
    assert tuple(book.asks) == (lv("60", "1"),)
    assert book.sequence is None and book.timestamp_ns is None


def test_malformed_snapshot_leaves_book_unchanged() -> None:
    """A level that is not a 2- or 3-tuple raises and the previous book stays."""
    book = make_book()
    before = state(book)
    with pytest.raises(ValueError):
        book.apply_snapshot([(D("1"), D("1")), (D("2"), D("1"), 1, "extra")], [])  # type: ignore[list-item]
    with pytest.raises(ValueError):
        book.apply_snapshot([], [(D("1"),)])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        book.apply_snapshot([(D("1"), D("1")), (None, D("1"))], [])  # type: ignore[list-item]
    assert state(book) == before and book.is_synced


def test_snapshot_keeps_given_book_levels() -> None:
    """BookLevel items are stored as given, not copied."""
    level = lv("100", "1", 2)
    book = OrderBook("BTC", venue="test")
    book.apply_snapshot([level], [])
    assert book.best_bid is level


# Deltas


def test_delta_inserts_updates_and_deletes() -> None:
    """New prices are inserted in order, existing ones replaced, size 0 removes."""
    book = make_book()
    assert book.apply_delta(
        [(D("99.5"), D("8"), 1), (D("100"), D("9"), 4), (D("98"), D("0"))],
        [(D("101"), D("0")), (D("104"), D("1"))],
        sequence=11,
        previous_sequence=10,
        timestamp_ns=2_000,
    )
    assert tuple(book.bids) == (lv("100", "9", 4), lv("99.5", "8", 1), lv("99", "2", 2))
    assert tuple(book.asks) == (lv("102", "5", 5), lv("103", "6", 6), lv("104", "1"))
    assert book.sequence == 11 and book.timestamp_ns == 2_000


def test_missing_size_deletes() -> None:
    """A size of None (the venue omitted the volume, docs/venues/vega.rst#vega-depth-production)
    deletes the level."""
    book = make_book()
    book.apply_delta([(D("100"), None)], [(D("101"), None, None)])
    assert book.best_bid == lv("99", "2", 2)
    assert book.best_ask == lv("102", "5", 5)


def test_delete_of_unknown_price_is_ignored() -> None:
    """Deleting a price the book does not hold changes nothing."""
    book = make_book()
    before = state(book)
    assert book.apply_delta([(D("42"), D("0"))], [(D("420"), None)])
    assert state(book) == before


def test_count_is_none_unless_given() -> None:
    """A level's count is replaced with the update's, which may be absent."""
    book = make_book()
    book.apply_delta([(D("100"), D("5"))], [])
    assert book.best_bid == lv("100", "5", None)


def test_repeated_price_in_one_delta_keeps_the_last() -> None:
    """A level repeated within one update ends with its last value."""
    book = make_book()
    book.apply_delta([(D("97"), D("1")), (D("97"), D("0")), (D("97"), D("2"))], [])
    assert book.bids[-1] == lv("97", "2")


def test_delta_without_sequences_is_applied() -> None:
    """With no sequence numbers anywhere, every delta applies and the sequence stays None."""
    book = make_book(sequence=None)
    assert book.apply_delta([(D("100"), D("3"))], [])
    assert book.apply_delta([(D("100"), D("4"))], [], previous_sequence=99)
    assert book.best_bid == lv("100", "4") and book.sequence is None


def test_delta_without_sequence_keeps_the_books() -> None:
    """An update without a sequence number leaves the book's as it was."""
    book = make_book()
    assert book.apply_delta([(D("100"), D("3"))], [], previous_sequence=10)
    assert book.sequence == 10 and book.timestamp_ns == 1_000


def test_first_update_without_previous_is_only_checked_for_staleness() -> None:
    """Without previous_sequence (absent for a market's first update) only staleness counts."""
    book = make_book()
    assert book.apply_delta([(D("100"), D("3"))], [], sequence=500)
    assert book.sequence == 500


@pytest.mark.parametrize("sequence", [5, 10])
def test_stale_update_is_ignored(sequence: int) -> None:
    """An update at or below the book's sequence returns False and changes nothing."""
    book = make_book()
    before = state(book)
    assert book.apply_delta(
        [(D("100"), D("0"))], [(D("150"), D("1"))], sequence=sequence, previous_sequence=4,
        timestamp_ns=9_999,
    ) is False
    assert state(book) == before and book.is_synced


def test_gap_raises_and_leaves_book_unchanged() -> None:
    """previous_sequence != the book's sequence raises BookOutOfSync before any change."""
    book = make_book()
    before = state(book)
    with pytest.raises(BookOutOfSync) as info:
        book.apply_delta([(D("100"), D("0"))], [(D("101"), D("9"))], sequence=13,
                         previous_sequence=12)
    assert (info.value.symbol, info.value.expected, info.value.got) == ("BTC", 10, 12)
    assert "gap" in str(info.value)
    assert state(book) == before
    assert not book.is_synced


def test_after_a_gap_deltas_raise_until_a_snapshot() -> None:
    """Once out of sync, even a well-chained update raises; a new snapshot recovers."""
    book = make_book()
    with pytest.raises(BookOutOfSync):
        book.apply_delta([], [], sequence=13, previous_sequence=12)
    with pytest.raises(BookOutOfSync) as info:
        book.apply_delta([(D("100"), D("5"))], [], sequence=11, previous_sequence=10)
    assert info.value.expected == 10 and "snapshot" in info.value.reason
    assert book.best_bid == lv("100", "1", 1)
    book.apply_snapshot([(D("1"), D("1"))], [], sequence=20)
    assert book.is_synced
    assert book.apply_delta([(D("2"), D("1"))], [], sequence=21, previous_sequence=20)


def test_delta_before_snapshot_raises() -> None:
    """A delta on a book that never had a snapshot raises BookOutOfSync and adds nothing."""
    book = OrderBook("BTC", venue="test")
    with pytest.raises(BookOutOfSync) as info:
        book.apply_delta([(D("100"), D("1"))], [], sequence=2, previous_sequence=1)
    assert info.value.reason == "update before snapshot" and info.value.got == 1
    assert len(book.bids) == 0 and book.sequence is None


def test_malformed_delta_is_undone() -> None:
    """A bad level half-way through an update raises and every earlier change is undone."""
    book = make_book()
    before = state(book)
    with pytest.raises(ValueError):
        book.apply_delta(
            [(D("100"), D("0")), (D("97"), D("1")), (D("99"), D("7"), 1), (D("97"), D("0"))],
            [(D("101"), D("0")), (D("100.5"), D("1")), (D("102"),)],  # type: ignore[list-item]
            sequence=11,
            previous_sequence=10,
        )
    assert state(book) == before
    assert book.is_synced
    # Still consistent inside: later changes land where they should.
    assert book.apply_delta([(D("97"), D("1"))], [(D("100.5"), D("1"))], sequence=11)
    assert [level.price for level in book.bids] == [D("100"), D("99"), D("98"), D("97")]
    assert [level.price for level in book.asks] == [D("100.5"), D("101"), D("102"), D("103")]


def test_iterator_that_raises_is_undone() -> None:
    """An input iterator failing mid-way leaves the book as it was."""
    book = make_book()
    before = state(book)

    def changes() -> Any:
        yield (D("100"), D("0"))
        yield (D("96"), D("1"))
        raise RuntimeError("parser bug")

    with pytest.raises(RuntimeError):
        book.apply_delta(changes(), [])
    assert state(book) == before


def test_delta_keeps_given_book_levels() -> None:
    """A BookLevel in a delta is stored as given."""
    book = make_book()
    level = lv("100.5", "1", 1)
    book.apply_delta([level], [])
    assert book.best_bid is level


def test_clear_forgets_everything() -> None:
    """clear() empties the book and requires a new snapshot."""
    book = make_book()
    book.clear()
    assert state(book) == ((), (), None, None)
    assert not book.is_synced
    with pytest.raises(BookOutOfSync):
        book.apply_delta([], [])


# Crossed books


@pytest.mark.parametrize(
    ("bid", "ask", "crossed"),
    [("100", "101", False), ("101", "101", True), ("102", "101", True)],
)
def test_crossed_detection(bid: str, ask: str, crossed: bool) -> None:
    """Best bid at or above the best ask is crossed (a locked book counts)."""
    snapshot = OrderBook("BTC", venue="test")
    snapshot.apply_snapshot([(D(bid), D("1")), (D("1"), D("1"))], [(D(ask), D("1"))])
    assert snapshot.is_crossed is crossed
    delta = make_book()
    delta.apply_delta([(D(bid), D("1"))], [(D("101"), D("0")), (D(ask), D("1"))])
    assert delta.is_crossed is crossed


def test_one_sided_book_is_not_crossed() -> None:
    """A book with an empty side cannot be crossed."""
    book = OrderBook("BTC", venue="test")
    book.apply_snapshot([(D("100"), D("1"))], [])
    assert not book.is_crossed
    book.check_crossed()


def test_check_crossed_raises_book_out_of_sync() -> None:
    """check_crossed() raises with both prices in the reason, and changes nothing."""
    book = make_book()
    book.check_crossed()
    book.apply_delta([(D("102"), D("1"))], [], sequence=11, previous_sequence=10)
    with pytest.raises(BookOutOfSync) as info:
        book.check_crossed()
    assert info.value.reason == "crossed book: best bid 102 >= best ask 101"
    assert book.is_synced and book.best_bid == lv("102", "1")


# Book events


def test_event_holds_top_n_levels() -> None:
    """to_event() uses the book's depth by default; depth= overrides it, None is full depth."""
    book = make_book(depth=2)
    event = book.to_event(received_ns=5)
    assert event.bids == (lv("100", "1", 1), lv("99", "2", 2))
    assert event.asks == (lv("101", "4", 4), lv("102", "5", 5))
    assert len(book.to_event(received_ns=5, depth=None).bids) == 3
    assert book.to_event(received_ns=5, depth=1).asks == (lv("101", "4", 4),)
    assert book.to_event(received_ns=5, depth=0).bids == ()
    assert len(book.to_event(received_ns=5, depth=50).asks) == 3


def test_full_depth_book_event() -> None:
    """depth=None puts every level in the event, before and after deltas."""
    book = make_book()
    assert [level.price for level in book.to_event(received_ns=1).bids] == [
        D("100"), D("99"), D("98")
    ]
    book.apply_delta([(D("97"), D("1"))], [(D("104"), D("1"))])
    event = book.to_event(received_ns=1)
    assert len(event.bids) == 4 and len(event.asks) == 4
    assert event.asks[-1] == lv("104", "1")


def test_event_fields() -> None:
    """The event carries venue, symbol, sequence, the venue time and what the caller gave."""
    book = make_book()
    raw = {"marketId": "BTC"}
    event = book.to_event(received_ns=5_000, is_snapshot=True, raw=raw)
    assert isinstance(event, Book)
    assert (event.venue, event.symbol, event.sequence) == ("test", "BTC", 10)
    assert (event.timestamp_ns, event.received_ns) == (1_000, 5_000)
    assert event.is_snapshot and event.raw is raw
    assert book.to_event(received_ns=5_000).is_snapshot is False


def test_event_timestamp_falls_back_to_received() -> None:
    """Without a venue time, the event's timestamp is when the frame was read."""
    book = OrderBook("BTC", venue="test")
    book.apply_snapshot([(D("1"), D("1"))], [])
    assert book.to_event(received_ns=77).timestamp_ns == 77


def test_event_helpers() -> None:
    """best_bid, best_ask, mid and spread on the event come from the top of book."""
    event = make_book().to_event(received_ns=1)
    assert event.best_bid == lv("100", "1", 1)
    assert event.best_ask == lv("101", "4", 4)
    assert event.mid == D("100.5")
    assert event.spread == D("1")
    empty = OrderBook("BTC", venue="test").to_event(received_ns=1)
    assert empty.best_bid is None and empty.mid is None and empty.spread is None


def test_event_is_immutable_and_detached() -> None:
    """An event can't be changed and does not follow later book changes."""
    book = make_book()
    event = book.to_event(received_ns=1)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        event.bids = ()  # type: ignore[misc]
    assert isinstance(event.bids, tuple) and isinstance(event.asks, tuple)
    book.apply_delta([(D("100"), D("0"))], [(D("101"), D("0"))], sequence=11)
    assert event.best_bid == lv("100", "1", 1) and event.sequence == 10
    assert book.to_event(received_ns=1).best_bid == lv("99", "2", 2)


def test_invalid_depth_is_refused() -> None:
    """A book depth below 1, or a negative event depth, is a ValueError."""
    with pytest.raises(ValueError):
        OrderBook("BTC", venue="test", depth=0)
    with pytest.raises(ValueError):
        make_book().to_event(received_ns=1, depth=-1)


# Views


def test_side_views_read_best_first_and_live() -> None:
    """bids/asks are live sequences, best first, with indexing, slicing and lookups."""
    book = make_book()
    bids, asks = book.bids, book.asks
    assert bids[0] == lv("100", "1", 1) and bids[2] == lv("98", "3", 3)
    assert bids[-1] == lv("98", "3", 3) and asks[-1] == lv("103", "6", 6)
    assert asks[0] == lv("101", "4", 4) and asks[1] == lv("102", "5", 5)
    assert bids[1:] == (lv("99", "2", 2), lv("98", "3", 3))
    with pytest.raises(IndexError):
        bids[3]
    with pytest.raises(IndexError):
        asks[-4]
    assert lv("99", "2", 2) in bids and lv("99", "2", 9) not in bids
    empty: object = ()
    assert object() not in bids and empty not in bids
    assert bids.get(D("99")) == lv("99", "2", 2) and asks.get(D("99")) is None
    assert bids.top(2) == (lv("100", "1", 1), lv("99", "2", 2)) and len(asks.top()) == 3
    assert bids.best == lv("100", "1", 1) and asks.best == lv("101", "4", 4)
    assert bids.index(lv("98", "3", 3)) == 2
    book.apply_delta([(D("100.5"), D("1"))], [(D("101"), D("0"))])
    assert bids.best == lv("100.5", "1") and asks.best == lv("102", "5", 5)
    assert len(bids) == 4 and len(asks) == 2
    book.clear()
    assert not bids and not asks and bids.best is None and asks.best is None
    assert "bids" in repr(bids) and "0 levels" in repr(bids)


def test_views_after_snapshot_before_any_delta() -> None:
    """Views read a fresh snapshot (not yet sorted internally) in the right order."""
    book = OrderBook("BTC", venue="test")
    book.apply_snapshot([(D("1"), D("1")), (D("3"), D("1")), (D("2"), D("1"))],
                        [(D("6"), D("1")), (D("4"), D("1")), (D("5"), D("1"))])
    assert book.best_bid == lv("3", "1") and book.best_ask == lv("4", "1")
    assert book.bids[1] == lv("2", "1") and book.asks[-1] == lv("6", "1")
    assert book.to_event(received_ns=1, depth=2).bids == (lv("3", "1"), lv("2", "1"))


def test_repr_names_the_book() -> None:
    """The book's repr shows venue, symbol, sizes, sequence and sync state."""
    text = repr(make_book())
    assert "test BTC" in text and "3 bids" in text and "sequence=10" in text
    assert "synced=True" in text


# Property-based: the book against a dict-and-sort model

PRICES = st.integers(min_value=1, max_value=30).map(lambda i: Decimal(i) / 2)
SIZES = st.one_of(
    st.none(),
    st.just(Decimal(0)),
    st.just(Decimal("0.00")),
    st.integers(min_value=1, max_value=999).map(lambda i: Decimal(i) / 10),
)
COUNTS = st.one_of(st.none(), st.integers(0, 9))
LEVEL = st.one_of(
    st.tuples(PRICES, SIZES),
    st.tuples(PRICES, SIZES, COUNTS),
    st.builds(BookLevel, PRICES, SIZES, COUNTS),
)
SIDE = st.lists(LEVEL, max_size=8)


def _apply_model(side: dict[Decimal, tuple[Decimal, Optional[int]]], changes: Any) -> None:
    for change in changes:
        price, size = change[0], change[1]
        count = change[2] if len(change) == 3 else None
        if size:
            side[price] = (size, count)
        else:
            side.pop(price, None)


class BookMachine(RuleBasedStateMachine):
    """Snapshots, chained deltas, stale updates and gaps, applied to a book and a model."""

    def __init__(self) -> None:
        super().__init__()
        self.book = OrderBook("M", venue="model", depth=3)
        self.bids: dict[Decimal, tuple[Decimal, Optional[int]]] = {}
        self.asks: dict[Decimal, tuple[Decimal, Optional[int]]] = {}
        self.sequence: Optional[int] = None
        self.synced = False

    def model_top(self, depth: Optional[int]) -> tuple[tuple[BookLevel, ...], ...]:
        bids = sorted(self.bids.items(), reverse=True)[:depth]
        asks = sorted(self.asks.items())[:depth]
        return (
            tuple(BookLevel(p, s, c) for p, (s, c) in bids),
            tuple(BookLevel(p, s, c) for p, (s, c) in asks),
        )

    @initialize()
    def start_empty(self) -> None:
        """Every run starts before the first snapshot."""

    @rule(
        bids=SIDE, asks=SIDE, sequence=st.one_of(st.none(), st.integers(0, 10**18)),
        best_first=st.booleans(),
    )
    def snapshot(self, bids: Any, asks: Any, sequence: Optional[int], best_first: bool) -> None:
        """Any levels in any order; or, as venues send them, one per price and best first."""
        if best_first:
            bids = sorted({level[0]: level for level in bids}.values(), reverse=True)
            asks = sorted({level[0]: level for level in asks}.values())
        self.book.apply_snapshot(bids, asks, sequence=sequence)
        self.bids, self.asks = {}, {}
        _apply_model(self.bids, bids)
        _apply_model(self.asks, asks)
        self.sequence = sequence
        self.synced = True

    @rule(bids=SIDE, asks=SIDE, step=st.integers(1, 10**6), chained=st.booleans())
    def delta(self, bids: Any, asks: Any, step: int, chained: bool) -> None:
        """A correctly chained update (or one without previous_sequence) applies."""
        sequence = None if self.sequence is None else self.sequence + step
        previous = self.sequence if chained else None
        if not self.synced:
            with pytest.raises(BookOutOfSync):
                self.book.apply_delta(bids, asks, sequence=sequence, previous_sequence=previous)
            return
        assert self.book.apply_delta(bids, asks, sequence=sequence, previous_sequence=previous)
        _apply_model(self.bids, bids)
        _apply_model(self.asks, asks)
        if sequence is not None:
            self.sequence = sequence

    @precondition(lambda self: self.synced and self.sequence is not None)
    @rule(bids=SIDE, asks=SIDE, back=st.integers(0, 10))
    def stale(self, bids: Any, asks: Any, back: int) -> None:
        """An update at or below the current sequence is ignored."""
        assert self.sequence is not None
        sequence = self.sequence - back
        assert self.book.apply_delta(
            bids, asks, sequence=sequence, previous_sequence=sequence - 1
        ) is False

    @precondition(lambda self: self.sequence is not None)
    @rule(bids=SIDE, asks=SIDE, skip=st.integers(1, 1000), step=st.integers(1, 1000))
    def gap(self, bids: Any, asks: Any, skip: int, step: int) -> None:
        """An update chained to a sequence the book never saw raises and changes nothing."""
        assert self.sequence is not None
        previous = self.sequence + skip
        with pytest.raises(BookOutOfSync) as info:
            self.book.apply_delta(
                bids, asks, sequence=previous + step, previous_sequence=previous
            )
        if self.synced:
            assert (info.value.expected, info.value.got) == (self.sequence, previous)
        self.synced = False

    @rule()
    def clear(self) -> None:
        self.book.clear()
        self.bids, self.asks = {}, {}
        self.sequence = None
        self.synced = False

    @invariant()
    def sides_are_strictly_ordered(self) -> None:
        bid_prices = [level.price for level in self.book.bids]
        ask_prices = [level.price for level in self.book.asks]
        assert all(a > b for a, b in zip(bid_prices, bid_prices[1:]))
        assert all(a < b for a, b in zip(ask_prices, ask_prices[1:]))

    @invariant()
    def no_empty_level(self) -> None:
        # Read by iterating, so that to_event() below keeps its depth-3 top from step to step
        # and every rule tests whether a change kept or dropped it rightly.
        assert all(level.size for level in (*self.book.bids, *self.book.asks))

    @invariant()
    def top_n_matches_the_model(self) -> None:
        event = self.book.to_event(received_ns=0)
        assert (event.bids, event.asks) == self.model_top(3)
        assert (tuple(self.book.bids), tuple(self.book.asks)) == self.model_top(None)
        assert event.sequence == self.book.sequence == self.sequence

    @invariant()
    def sync_state_matches_the_model(self) -> None:
        assert self.book.is_synced is self.synced

    @invariant()
    def crossed_matches_the_model(self) -> None:
        crossed = bool(self.bids and self.asks and max(self.bids) >= min(self.asks))
        assert self.book.is_crossed is crossed


def test_a_change_beyond_the_top_levels_keeps_their_tuple() -> None:
    """A delta deeper than the event's depth gives the next Book the very same level tuples;
    one that reaches the top levels (a change, a removal at the edge) gives new, right ones."""
    book = make_book(depth=2)
    first = book.to_event(received_ns=1)
    assert book.apply_delta([(D("97"), D("9"))], [(D("103"), D("0"))], sequence=11)
    deep = book.to_event(received_ns=2)
    assert deep.bids is first.bids and deep.asks is first.asks
    assert book.apply_delta([(D("99"), D("0"))], [(D("101.5"), D("1"))], sequence=12)
    near = book.to_event(received_ns=3)
    assert near.bids == (lv("100", "1", 1), lv("98", "3", 3))
    assert near.asks == (lv("101", "4", 4), lv("101.5", "1"))


def test_a_short_side_shows_every_change() -> None:
    """A side with fewer levels than the depth shows a level added anywhere, and a snapshot
    or clear() never leaves the old top behind."""
    book = make_book(depth=5)
    assert len(book.to_event(received_ns=1).bids) == 3
    assert book.apply_delta([(D("50"), D("1"))], [], sequence=11)
    assert book.to_event(received_ns=2).bids[-1] == lv("50", "1")
    book.apply_snapshot([(D("10"), D("1"))], [], sequence=20)
    assert book.to_event(received_ns=3).bids == (lv("10", "1"),)
    book.clear()
    assert book.to_event(received_ns=4).bids == ()


BookMachine.TestCase.settings = settings(
    max_examples=60, stateful_step_count=30, deadline=None, database=None
)
TestBookMachine = BookMachine.TestCase
