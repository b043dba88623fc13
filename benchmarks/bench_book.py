"""OrderBook throughput against a naive dict-and-sort book doing the same work.

Run: ``python benchmarks/bench_book.py [--quick] [--updates N] [--rounds R] [--seed S]``

Cases (issue 6 targets, measured here and never asserted in tests):

- ``vega-delta top10`` / ``top25``: Vega-style ``MarketDepthUpdate``s
(docs/venues/vega.rst#vega-depth-production),
  10 changed levels each on a ~1,000-level book, sequence-checked, each followed by a ``Book``
  event with the top N levels. Target: >= 20,000 updates/s and >= 5x the naive book.
- ``hl-snapshot 20x20``: Hyperliquid-style l2Book frames
(docs/venues/hyperliquid.rst#hyperliquid-subscriptions: every
  frame is a full 20x20 book), each replacing the book and followed by a full-depth event.
- ``cadenza-diff top10`` / ``full``: Cadenza ``orderBook`` DIFF publications as decoded JSON
  (decimal strings in ``[price, quantity]`` rows, the shape ``FakeCadenza`` publishes) from the
  same kind of book, through the venue's own code (``parse_order_book`` and ``BookKeeper``:
  parse, apply, crossed-book check, ``Book`` event); the naive book parses the same rows with
  ``Decimal`` and sorts. Cadenza's default event is the whole book (``book_depth=None``).

The updates come from ``wsclients.testing.market.Market`` (a seeded random walk) and are
generated before each timed run, the same for every run but as fresh objects, as parsed
frames would be (a ``Decimal`` caches its hash, so reused inputs would flatter both books).
The timing covers only the book work. The two books run alternately, round after round, in
the same process; the table shows the median rate of each and their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Sequence
from decimal import Decimal
from functools import partial
from typing import Any, Callable, Optional

from _common import rst_table

from wsclients.book import OrderBook
from wsclients.models import Book, BookLevel
from wsclients.testing.market import Market
from wsclients.venues.cadenza.book import BookKeeper, parse_order_book

Level = tuple[Decimal, Decimal, int]
Delta = tuple[list[Level], list[Level], int, int]  # bids, asks, sequence, previous sequence
Snapshot = tuple[list[Level], list[Level], int]  # bids, asks, sequence or timestamp_ns


class NaiveBook:
    """The baseline: one dict per side, sorted from scratch for every event."""

    def __init__(self, symbol: str, *, venue: str, depth: Optional[int]) -> None:
        self.symbol = symbol
        self.venue = venue
        self.depth = depth
        self.bids: dict[Decimal, tuple[Decimal, Optional[int]]] = {}
        self.asks: dict[Decimal, tuple[Decimal, Optional[int]]] = {}
        self.sequence: Optional[int] = None
        self.timestamp_ns: Optional[int] = None

    def apply_snapshot(
        self, bids: Sequence[Level], asks: Sequence[Level], *, sequence: Optional[int] = None,
        timestamp_ns: Optional[int] = None,
    ) -> None:
        self.bids = {price: (size, count) for price, size, count in bids if size}
        self.asks = {price: (size, count) for price, size, count in asks if size}
        self.sequence = sequence
        self.timestamp_ns = timestamp_ns

    def apply_delta(
        self, bids: Sequence[Level], asks: Sequence[Level], *, sequence: int,
        previous_sequence: int,
    ) -> bool:
        if self.sequence is not None:
            if sequence <= self.sequence:
                return False
            if previous_sequence != self.sequence:
                raise RuntimeError("gap")
        for side, changes in ((self.bids, bids), (self.asks, asks)):
            for price, size, count in changes:
                if size:
                    side[price] = (size, count)
                else:
                    side.pop(price, None)
        self.sequence = sequence
        return True

    def to_event(self, *, received_ns: int, is_snapshot: bool = False) -> Book:
        bids = sorted(self.bids.items(), reverse=True)[: self.depth]
        asks = sorted(self.asks.items())[: self.depth]
        return Book(
            venue=self.venue,
            symbol=self.symbol,
            bids=tuple(BookLevel(price, size, count) for price, (size, count) in bids),
            asks=tuple(BookLevel(price, size, count) for price, (size, count) in asks),
            timestamp_ns=received_ns if self.timestamp_ns is None else self.timestamp_ns,
            received_ns=received_ns,
            sequence=self.sequence,
            is_snapshot=is_snapshot,
        )


# Input


def make_vega_case(seed: int, *, depth: int, updates: int) -> tuple[Snapshot, list[Delta]]:
    """A book of ``depth`` ticks a side (~90 % filled), then ``updates`` chained deltas.

    Each delta resizes, removes or refills 10 random levels, plus the levels the touch's
    random walk moves in and out of the window (Market.step_book).
    """
    market = Market(["BTC"], seed=seed, depth=depth)
    snapshot = market.snapshot("BTC")
    deltas = []
    for _ in range(updates):
        change = market.step_book("BTC", changes=10)
        deltas.append((change.bids, change.asks, change.sequence, change.previous_sequence))
    return (snapshot.bids, snapshot.asks, snapshot.sequence), deltas


def make_hl_case(seed: int, *, updates: int, levels: int = 20) -> list[Snapshot]:
    """``updates`` successive full books of ``levels`` ticks a side, best first."""
    market = Market(["BTC"], seed=seed, depth=levels)
    snapshots = []
    for _ in range(updates):
        market.step_book("BTC", changes=10)
        snapshot = market.snapshot("BTC")
        snapshots.append((snapshot.bids, snapshot.asks, snapshot.timestamp_ns))
    return snapshots


def make_cadenza_case(seed: int, *, depth: int, updates: int) -> list[dict[str, Any]]:
    """A SNAPSHOT publication, then ``updates`` DIFFs, as decoded JSON payloads."""
    market = Market(["BTC"], seed=seed, depth=depth)

    def payload(kind: str, bids: Sequence[Level], asks: Sequence[Level],
                time_ns: int) -> dict[str, Any]:
        return {"updateType": kind, "instrumentId": "BINANCE:BTC/USDT", "venue": "BINANCE",
                "symbol": "BTC/USDT", "orderBookType": "L2", "columns": ["price", "quantity"],
                "bids": [[str(price), str(size)] for price, size, _ in bids],
                "asks": [[str(price), str(size)] for price, size, _ in asks],
                "timestamp": time_ns // 1_000_000}

    snapshot = market.snapshot("BTC")
    out = [payload("SNAPSHOT", snapshot.bids, snapshot.asks, snapshot.timestamp_ns)]
    for _ in range(updates):
        change = market.step_book("BTC", changes=10)
        out.append(payload("DIFF", change.bids, change.asks, change.timestamp_ns))
    return out


# Timing


def run_vega(
    book: OrderBook | NaiveBook, make_input: Callable[[], tuple[Snapshot, list[Delta]]]
) -> float:
    """Updates per second for applying every delta plus one event after each."""
    (bids, asks, sequence), deltas = make_input()
    book.apply_snapshot(bids, asks, sequence=sequence)
    apply_delta = book.apply_delta
    to_event = book.to_event
    start = time.perf_counter()
    for delta_bids, delta_asks, sequence, previous in deltas:
        apply_delta(delta_bids, delta_asks, sequence=sequence, previous_sequence=previous)
        to_event(received_ns=sequence)
    return len(deltas) / (time.perf_counter() - start)


def run_hl(book: OrderBook | NaiveBook, make_input: Callable[[], list[Snapshot]]) -> float:
    """Updates per second for replacing the book with each snapshot plus one event."""
    snapshots = make_input()
    apply_snapshot = book.apply_snapshot
    to_event = book.to_event
    start = time.perf_counter()
    for bids, asks, timestamp_ns in snapshots:
        apply_snapshot(bids, asks, timestamp_ns=timestamp_ns)
        to_event(received_ns=timestamp_ns, is_snapshot=True)
    return len(snapshots) / (time.perf_counter() - start)


def run_cadenza_keeper(
    keeper: BookKeeper, make_input: Callable[[], list[dict[str, Any]]]
) -> float:
    """DIFFs per second through the venue's parser and book keeper, one event after each."""
    snapshot, *diffs = make_input()
    update = parse_order_book(snapshot)
    assert update is not None
    keeper.reset()
    keeper.apply(update, offset=0, received_ns=0)
    parse = parse_order_book
    apply = keeper.apply
    start = time.perf_counter()
    for offset, payload in enumerate(diffs, 1):
        diff = parse(payload)
        assert diff is not None
        apply(diff, offset=offset, received_ns=offset)
    return len(diffs) / (time.perf_counter() - start)


def _naive_rows(rows: list[list[str]]) -> list[Level]:
    return [(Decimal(price), Decimal(size), None) for price, size in rows]  # type: ignore[misc]


def run_cadenza_naive(book: NaiveBook, make_input: Callable[[], list[dict[str, Any]]]) -> float:
    """The same DIFFs parsed with ``Decimal`` into the naive book, one event after each."""
    snapshot, *diffs = make_input()
    book.apply_snapshot(_naive_rows(snapshot["bids"]), _naive_rows(snapshot["asks"]),
                        sequence=0)
    start = time.perf_counter()
    for offset, payload in enumerate(diffs, 1):
        book.apply_delta(_naive_rows(payload["bids"]), _naive_rows(payload["asks"]),
                         sequence=offset, previous_sequence=offset - 1)
        book.to_event(received_ns=offset)
    return len(diffs) / (time.perf_counter() - start)


def alternate(rounds: int, runs: dict[str, Callable[[], float]]) -> dict[str, list[float]]:
    """Call each run once per round, in turn, and collect the rates."""
    rates: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            rates[name].append(run())
    return rates


def check_same(a: Book, b: Book) -> None:
    """Both books must end in the same state, or the comparison means nothing."""
    if (a.bids, a.asks, a.sequence) != (b.bids, b.asks, b.sequence):
        raise SystemExit("naive and OrderBook disagree; the benchmark is invalid")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 updates x 3 rounds")
    parser.add_argument("--updates", type=int, default=None, help="updates per round (5,000)")
    parser.add_argument("--rounds", type=int, default=None, help="alternating rounds (5)")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--depth", type=int, default=550, help="Vega book window, ticks a side")
    args = parser.parse_args(argv)
    args.updates = args.updates or (1_000 if args.quick else 5_000)
    args.rounds = args.rounds or (3 if args.quick else 5)

    rows: list[tuple[str, float, float]] = []
    make_vega = partial(make_vega_case, args.seed, depth=args.depth, updates=args.updates)
    snapshot, deltas = make_vega()
    levels = len(snapshot[0]) + len(snapshot[1])
    changes = sum(len(bids) + len(asks) for bids, asks, _, _ in deltas)
    for depth in (10, 25):
        fast = OrderBook("COINALPHA.HBOT", venue="vega", depth=depth)
        naive = NaiveBook("COINALPHA.HBOT", venue="vega", depth=depth)
        rates = alternate(args.rounds, {
            "naive": partial(run_vega, naive, make_vega),
            "book": partial(run_vega, fast, make_vega),
        })
        check_same(naive.to_event(received_ns=0), fast.to_event(received_ns=0))
        rows.append((f"vega-delta top{depth}", statistics.median(rates["naive"]),
                     statistics.median(rates["book"])))
    make_hl = partial(make_hl_case, args.seed, updates=args.updates)
    fast = OrderBook("BTC", venue="hyperliquid")
    naive = NaiveBook("BTC", venue="hyperliquid", depth=None)
    rates = alternate(args.rounds, {
        "naive": partial(run_hl, naive, make_hl),
        "book": partial(run_hl, fast, make_hl),
    })
    check_same(naive.to_event(received_ns=0), fast.to_event(received_ns=0))
    rows.append(("hl-snapshot 20x20", statistics.median(rates["naive"]),
                 statistics.median(rates["book"])))

    make_cadenza = partial(make_cadenza_case, args.seed, depth=args.depth,
                           updates=args.updates)
    for depth in (10, None):
        keeper = BookKeeper("BINANCE:BTC/USDT", venue="cadenza", depth=depth)
        naive = NaiveBook("BINANCE:BTC/USDT", venue="cadenza", depth=depth)
        rates = alternate(args.rounds, {
            "naive": partial(run_cadenza_naive, naive, make_cadenza),
            "book": partial(run_cadenza_keeper, keeper, make_cadenza),
        })
        check_same(naive.to_event(received_ns=0), keeper.book.to_event(received_ns=0))
        rows.append((f"cadenza-diff {'full' if depth is None else f'top{depth}'}",
                     statistics.median(rates["naive"]), statistics.median(rates["book"])))

    print(f"python {sys.version.split()[0]}, {args.updates} updates x {args.rounds} rounds, "
          f"seed {args.seed}; vega book {levels} levels, "
          f"{changes / len(deltas):.1f} changed levels/update")
    print()
    print(f"``python benchmarks/bench_book.py{' --quick' if args.quick else ''}``")
    print()
    print(rst_table(
        ["case", "naive upd/s", "OrderBook upd/s", "ratio"],
        [[name, f"{naive_rate:,.0f}", f"{book_rate:,.0f}", f"{book_rate / naive_rate:.1f}x"]
         for name, naive_rate, book_rate in rows],
    ))
    return 0


if __name__ == "__main__":
    sys.exit(main())
