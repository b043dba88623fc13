"""A seeded synthetic market: random-walk trades and L2 books, for fakes, demos and benchmarks.

The same seed and the same sequence of calls always give the same trades, books and deltas
(timestamps come from a simulated clock, not the wall clock), so a demo or a benchmark can be
replayed exactly. Prices live on each symbol's tick grid as integers internally and come out as
``Decimal``; generating a trade costs a few microseconds, so benchmarks can pre-generate
hundreds of thousands of payloads.

How it moves: each symbol has a best bid and best ask (its "touch") that take a random walk of
one tick at a time. ``next_trade`` steps the walk and prints a trade at (or a tick through) the
touch. The L2 book is a window of ``depth`` ticks on each side of the touch, with a few empty
ticks; ``step_book`` steps the walk, moves the window to the touch, resizes a few random levels
and returns exactly the levels that changed (size 0 = removed) with a per-symbol sequence number,
so a Vega-style delta stream applied to a dict reproduces ``book()``. The book catches up with
the trade walk at the next ``step_book``.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import NamedTuple

__all__ = [
    "DEFAULT_SPECS",
    "BookChange",
    "BookSnapshot",
    "Level",
    "Market",
    "SymbolSpec",
    "SyntheticTrade",
]


class SymbolSpec(NamedTuple):
    """How a symbol trades: starting price, price tick and size lot (all ``Decimal``)."""

    price: Decimal
    tick: Decimal
    lot: Decimal


DEFAULT_SPECS: Mapping[str, SymbolSpec] = {
    "BTC": SymbolSpec(Decimal("65000"), Decimal("0.1"), Decimal("0.001")),
    "ETH": SymbolSpec(Decimal("3500"), Decimal("0.01"), Decimal("0.01")),
    "SOL": SymbolSpec(Decimal("150"), Decimal("0.001"), Decimal("0.1")),
}
"""Round-number specs by base asset; other symbols get ``_FALLBACK_SPEC``."""

_FALLBACK_SPEC = SymbolSpec(Decimal("100"), Decimal("0.01"), Decimal("0.01"))


class SyntheticTrade(NamedTuple):
    """One trade. ``side`` is the aggressor's ("buy" lifts the ask, "sell" hits the bid)."""

    symbol: str
    price: Decimal
    size: Decimal
    side: str
    trade_id: int
    """Increasing across all symbols of the market, starting at 1."""
    timestamp_ns: int


Level = tuple[Decimal, Decimal, int]
"""One price level: ``(price, size, count)``; ``size == 0`` in a change means "removed"."""


class BookChange(NamedTuple):
    """The levels that changed in one ``step_book``, best first on each side."""

    symbol: str
    sequence: int
    previous_sequence: int
    bids: list[Level]
    asks: list[Level]
    timestamp_ns: int


class BookSnapshot(NamedTuple):
    """The whole book of a symbol at ``sequence``, best first on each side."""

    symbol: str
    sequence: int
    bids: list[Level]
    asks: list[Level]
    timestamp_ns: int


class _Symbol:
    """Mutable state of one symbol; prices are integer ticks, sizes integer lots."""

    __slots__ = (
        "asks", "best_ask", "best_bid", "bids", "book_ask", "book_bid", "lot", "name", "rng",
        "sequence", "tick",
    )

    def __init__(self, name: str, spec: SymbolSpec, seed: int, depth: int) -> None:
        self.name = name
        self.tick = spec.tick
        self.lot = spec.lot
        # Seeded per symbol (str seeds hash with SHA-512: stable across runs and processes) so
        # one symbol's stream does not shift when another symbol is used more or less.
        self.rng = random.Random(f"wsclients-market:{seed}:{name}")
        start = int(spec.price / spec.tick)
        self.best_bid = max(start, depth + 1)
        self.best_ask = self.best_bid + 1
        self.book_bid = self.best_bid  # the touch of the emitted book (where its window sits)
        self.book_ask = self.best_ask
        self.bids: dict[int, tuple[int, int]] = {}  # tick -> (lots, count), the emitted book
        self.asks: dict[int, tuple[int, int]] = {}
        self.sequence = 1


class Market:
    """Seeded random-walk market over a few symbols.

    Not thread-safe: one thread drives it (fakes generate in their streaming thread).

    Args:
        symbols: symbols to simulate; a symbol's spec comes from ``specs``, else from
            ``DEFAULT_SPECS`` by base asset (``"BTC"``, ``"BTC-PERP"``, ``"btc/usd"``), else a
            generic 100.00 / 0.01 / 0.01.
        seed: seeds every random choice.
        depth: book window in ticks per side (about 20 for tests, 1000 for benchmarks).
        specs: per-symbol overrides of start price, tick and lot.
        start_ns: simulated clock at the start (nanoseconds since the epoch).
        interval_ns: simulated time between two events (trades or book steps).
    """

    def __init__(
        self,
        symbols: Iterable[str] = ("BTC", "ETH", "SOL"),
        *,
        seed: int = 0,
        depth: int = 20,
        specs: Mapping[str, SymbolSpec] | None = None,
        start_ns: int = 1_700_000_000_000_000_000,
        interval_ns: int = 1_000_000,
    ) -> None:
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        self.symbols = tuple(symbols)
        if not self.symbols:
            raise ValueError("a market needs at least one symbol")
        self.depth = depth
        self._specs = dict(specs or {})
        self._rng = random.Random(f"wsclients-market:{seed}")  # picks symbols for next_trade
        self._now_ns = start_ns
        self._interval_ns = interval_ns
        self._trade_id = 0
        self._state = {name: _Symbol(name, self.spec(name), seed, depth) for name in self.symbols}
        for state in self._state.values():
            self._fill(state)

    def __repr__(self) -> str:
        return f"<Market {','.join(self.symbols)} depth={self.depth} trades={self._trade_id}>"

    # Reading --------------------------------------------------------------------------------

    def spec(self, symbol: str) -> SymbolSpec:
        """The spec used for ``symbol`` (see the class docstring for the lookup order)."""
        if symbol in self._specs:
            return self._specs[symbol]
        base = symbol.upper().replace("/", "-").replace("_", "-").replace(":", "-").split("-")[0]
        return DEFAULT_SPECS.get(base, _FALLBACK_SPEC)

    def touch(self, symbol: str) -> tuple[Decimal, Decimal]:
        """Current best bid and best ask of the walk (the book catches up at ``step_book``)."""
        state = self._state[symbol]
        return state.best_bid * state.tick, state.best_ask * state.tick

    def mid(self, symbol: str) -> Decimal:
        """Midpoint of ``touch(symbol)``."""
        bid, ask = self.touch(symbol)
        return (bid + ask) / 2

    def sequence(self, symbol: str) -> int:
        """Sequence number of the book's current state (1 for the initial book)."""
        return self._state[symbol].sequence

    def book(self, symbol: str) -> tuple[list[Level], list[Level]]:
        """The book as of the last ``step_book``: ``(bids, asks)``, best first, never crossed."""
        state = self._state[symbol]
        return (
            _levels(state, state.bids, sorted(state.bids, reverse=True)),
            _levels(state, state.asks, sorted(state.asks)),
        )

    def snapshot(self, symbol: str) -> BookSnapshot:
        """``book(symbol)`` with its sequence number and the current simulated time."""
        bids, asks = self.book(symbol)
        return BookSnapshot(symbol, self._state[symbol].sequence, bids, asks, self._now_ns)

    # Generating -----------------------------------------------------------------------------

    def next_trade(self, symbol: str | None = None) -> SyntheticTrade:
        """Step the walk of ``symbol`` (a random one if ``None``) and trade near its touch."""
        if symbol is None:
            symbol = self.symbols[int(self._rng.random() * len(self.symbols))]
        state = self._state[symbol]
        rng = state.rng
        self._walk(state)
        # Mostly at the touch; one time in ten the aggressor sweeps a tick further.
        through = 1 if rng.random() < 0.1 else 0
        if rng.random() < 0.5:
            side, ticks = "buy", state.best_ask + through
        else:
            side, ticks = "sell", state.best_bid - through
        lots = int(rng.expovariate(0.2)) + 1  # mostly small, sometimes large
        self._trade_id += 1
        self._now_ns += self._interval_ns
        return SyntheticTrade(
            symbol, ticks * state.tick, lots * state.lot, side, self._trade_id, self._now_ns
        )

    def trades(self, n: int, symbol: str | None = None) -> list[SyntheticTrade]:
        """``n`` successive ``next_trade(symbol)`` results (benchmarks pre-generate these)."""
        return [self.next_trade(symbol) for _ in range(n)]

    def step_book(self, symbol: str, changes: int = 10) -> BookChange:
        """Step the walk, move the book window to the touch and resize ``changes`` random levels.

        Returns every level that changed, once, with its new size (0 = removed), best first.
        The touch levels are always present, so the book is never empty nor crossed.
        """
        state = self._state[symbol]
        rng = state.rng
        depth = self.depth
        self._walk(state)
        bid_changes: dict[int, tuple[int, int]] = {}
        ask_changes: dict[int, tuple[int, int]] = {}
        # Ticks that were empty when the step began: removing one again must not be reported
        # (the consumer never saw it), so its change is dropped instead.
        bid_added: set[int] = set()
        ask_added: set[int] = set()
        # Window moves: levels that left are removed, new ticks in the window are filled.
        old_bid, old_ask = state.book_bid, state.book_ask
        new_bid, new_ask = state.best_bid, state.best_ask
        _shift(rng, state.bids, bid_changes, bid_added, old_bid - depth + 1, new_bid - depth + 1,
               depth)
        _shift(rng, state.asks, ask_changes, ask_added, old_ask, new_ask, depth)
        state.book_bid, state.book_ask = new_bid, new_ask
        # The touch itself must be present (it may have been an empty tick).
        _put(rng, state.bids, bid_changes, bid_added, new_bid)
        _put(rng, state.asks, ask_changes, ask_added, new_ask)
        # Random resizes, removals and refills inside the window.
        for _ in range(changes):
            offset = int(rng.random() * depth)
            if rng.random() < 0.5:
                book, changed, added, tick = state.bids, bid_changes, bid_added, new_bid - offset
            else:
                book, changed, added, tick = state.asks, ask_changes, ask_added, new_ask + offset
            if offset and tick in book and rng.random() < 0.15:
                del book[tick]
                if tick in added:
                    added.discard(tick)
                    del changed[tick]
                else:
                    changed[tick] = (0, 0)
            else:
                _put(rng, book, changed, added, tick)
        state.sequence += 1
        self._now_ns += self._interval_ns
        return BookChange(
            symbol,
            state.sequence,
            state.sequence - 1,
            _levels(state, bid_changes, sorted(bid_changes, reverse=True)),
            _levels(state, ask_changes, sorted(ask_changes)),
            self._now_ns,
        )

    # Internals ------------------------------------------------------------------------------

    def _walk(self, state: _Symbol) -> None:
        # One step of the touch: a tick up or down a quarter of the time; the spread stays
        # between 1 and 3 ticks. The bid never falls below the book depth (prices stay > 0).
        rng = state.rng
        draw = rng.random()
        if draw < 0.125:
            move = -1
        elif draw < 0.25:
            move = 1
        else:
            move = 0
        spread = state.best_ask - state.best_bid
        if rng.random() < 0.05:
            spread = min(3, max(1, spread + (1 if rng.random() < 0.5 else -1)))
        state.best_bid = max(self.depth + 1, state.best_bid + move)
        state.best_ask = state.best_bid + spread

    def _fill(self, state: _Symbol) -> None:
        # Initial book: the whole window, one empty tick in ten (never the touch).
        rng = state.rng
        for offset in range(self.depth):
            if offset == 0 or rng.random() >= 0.1:
                state.bids[state.best_bid - offset] = _new_level(rng)
            if offset == 0 or rng.random() >= 0.1:
                state.asks[state.best_ask + offset] = _new_level(rng)


def _new_level(rng: random.Random) -> tuple[int, int]:
    # int(random() * n) rather than randint(): several times cheaper, and as deterministic.
    random_ = rng.random
    lots = int(random_() * 100) + 1
    return lots, int(random_() * min(lots, 20)) + 1


def _put(
    rng: random.Random,
    book: dict[int, tuple[int, int]],
    changed: dict[int, tuple[int, int]],
    added: set[int],
    tick: int,
) -> None:
    """Give ``tick`` a new random level, noting whether it was empty when the step began."""
    if tick not in book and tick not in changed:
        added.add(tick)
    book[tick] = changed[tick] = _new_level(rng)


def _shift(
    rng: random.Random,
    book: dict[int, tuple[int, int]],
    changed: dict[int, tuple[int, int]],
    added: set[int],
    old_lo: int,
    new_lo: int,
    width: int,
) -> None:
    """Move one side's window of ``width`` ticks from ``old_lo`` up to ``new_lo`` up."""
    old_hi = old_lo + width - 1
    new_hi = new_lo + width - 1
    # Ticks that left the window (at most the width, whatever the jump).
    for lo, hi in ((old_lo, min(old_hi, new_lo - 1)), (max(old_lo, new_hi + 1), old_hi)):
        for tick in range(lo, hi + 1):
            if book.pop(tick, None) is not None:
                changed[tick] = (0, 0)
    # Ticks that entered it.
    for lo, hi in ((new_lo, min(new_hi, old_lo - 1)), (max(new_lo, old_hi + 1), new_hi)):
        for tick in range(lo, hi + 1):
            _put(rng, book, changed, added, tick)


def _levels(state: _Symbol, book: Mapping[int, tuple[int, int]], ticks: list[int]) -> list[Level]:
    tick_size, lot = state.tick, state.lot
    zero = Decimal(0)
    out: list[Level] = []
    for tick in ticks:
        lots, count = book[tick]
        out.append((tick * tick_size, lots * lot if lots else zero, count))
    return out
