"""Market: deterministic per seed, books sorted and uncrossed, deltas reproduce the book."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wsclients.testing.market import (
    DEFAULT_SPECS,
    BookChange,
    Level,
    Market,
    SymbolSpec,
)


def apply(book: dict[Decimal, tuple[Decimal, int]], levels: list[Level]) -> None:
    for price, size, count in levels:
        if size == 0:
            del book[price]  # a removal must name a level that exists
        else:
            book[price] = (size, count)


def as_dict(levels: list[Level]) -> dict[Decimal, tuple[Decimal, int]]:
    return {price: (size, count) for price, size, count in levels}


def assert_well_formed(market: Market, symbol: str) -> None:
    bids, asks = market.book(symbol)
    bid_prices = [level[0] for level in bids]
    ask_prices = [level[0] for level in asks]
    assert bid_prices == sorted(bid_prices, reverse=True)
    assert ask_prices == sorted(ask_prices)
    assert len(set(bid_prices)) == len(bids) and len(set(ask_prices)) == len(asks)
    assert bids and asks
    assert bid_prices[0] < ask_prices[0]
    assert bid_prices[-1] > 0
    assert len(bids) <= market.depth and len(asks) <= market.depth
    tick = market.spec(symbol).tick
    for price, size, count in bids + asks:
        assert size > 0 and count >= 1
        assert price % tick == 0


def test_same_seed_same_market() -> None:
    """Two markets with one seed produce identical trades, books and deltas."""
    first, second = Market(seed=7), Market(seed=7)
    assert first.trades(500) == second.trades(500)
    for symbol in first.symbols:
        assert first.book(symbol) == second.book(symbol)
        assert [first.step_book(symbol) for _ in range(50)] == [
            second.step_book(symbol) for _ in range(50)
        ]


def test_other_seed_other_market() -> None:
    """Different seeds give different streams."""
    assert Market(seed=1).trades(50) != Market(seed=2).trades(50)
    assert Market(seed=1).book("BTC") != Market(seed=2).book("BTC")


def test_symbols_do_not_disturb_each_other() -> None:
    """A symbol's prices, sizes and sides do not depend on calls for other symbols."""
    alone, busy = Market(seed=3), Market(seed=3)
    solo = [alone.next_trade("BTC") for _ in range(100)]
    mixed = []
    for _ in range(100):
        busy.next_trade("ETH")
        busy.step_book("SOL")
        mixed.append(busy.next_trade("BTC"))
    assert [(t.price, t.size, t.side) for t in solo] == [(t.price, t.size, t.side) for t in mixed]


def test_trades_are_well_formed() -> None:
    """Trade ids and timestamps increase; prices sit on the tick grid at or near the touch."""
    market = Market(seed=0)
    last_id, last_ns = 0, 0
    for _ in range(2000):
        trade = market.next_trade()
        assert trade.trade_id == last_id + 1
        assert trade.timestamp_ns > last_ns
        last_id, last_ns = trade.trade_id, trade.timestamp_ns
        spec = market.spec(trade.symbol)
        bid, ask = market.touch(trade.symbol)
        assert trade.side in ("buy", "sell")
        assert trade.size > 0 and trade.size % spec.lot == 0
        assert trade.price % spec.tick == 0
        if trade.side == "buy":
            assert trade.price in (ask, ask + spec.tick)
        else:
            assert trade.price in (bid, bid - spec.tick)
    assert {t.symbol for t in market.trades(300)} == {"BTC", "ETH", "SOL"}


def test_trades_walk_the_price() -> None:
    """The walk moves prices over time, and stays near the starting price."""
    market = Market(("BTC",), seed=0)
    prices = {t.price for t in market.trades(5000)}
    assert len(prices) > 20
    assert all(abs(p - Decimal("65000")) < 1000 for p in prices)


def test_deltas_applied_to_a_dict_reproduce_the_book() -> None:
    """Applying every BookChange to the first book gives book() after each step."""
    market = Market(("ETH",), seed=5, depth=20)
    bids_levels, asks_levels = market.book("ETH")
    bids, asks = as_dict(bids_levels), as_dict(asks_levels)
    sequence = market.sequence("ETH")
    assert sequence == market.snapshot("ETH").sequence == 1
    for step in range(300):
        if step % 3 == 0:
            market.trades(step % 7, "ETH")  # the trade walk moves the touch between steps
        change = market.step_book("ETH", changes=step % 12)
        assert isinstance(change, BookChange)
        assert (change.previous_sequence, change.sequence) == (sequence, sequence + 1)
        sequence = change.sequence
        bid_prices = [p for p, _, _ in change.bids]
        ask_prices = [p for p, _, _ in change.asks]
        assert bid_prices == sorted(bid_prices, reverse=True)
        assert ask_prices == sorted(ask_prices)
        apply(bids, change.bids)
        apply(asks, change.asks)
        book_bids, book_asks = market.book("ETH")
        assert bids == as_dict(book_bids)
        assert asks == as_dict(book_asks)
        assert_well_formed(market, "ETH")
    assert market.sequence("ETH") == 301


def test_big_jump_replaces_the_whole_window() -> None:
    """When the touch moves further than the depth, every old level goes and new ones come."""
    market = Market(("SOL",), seed=2, depth=3)
    before = as_dict(market.book("SOL")[0] + market.book("SOL")[1])
    start = market.touch("SOL")
    while abs(market.touch("SOL")[0] - start[0]) <= 6 * market.spec("SOL").tick:
        market.next_trade("SOL")
    change = market.step_book("SOL", changes=0)
    removed = {p for p, size, _ in change.bids + change.asks if size == 0}
    assert removed == set(before)
    assert_well_formed(market, "SOL")
    bids, asks = market.book("SOL")
    assert (bids[0][0], asks[0][0]) == market.touch("SOL")


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    depth=st.integers(1, 12),
    plan=st.lists(st.tuples(st.integers(0, 30), st.integers(0, 15)), max_size=40),
)
def test_book_invariants_hold_for_any_seed(
    seed: int, depth: int, plan: list[tuple[int, int]]
) -> None:
    """For any seed, depth and mix of trades and steps: deltas reproduce a sorted book."""
    market = Market(("BTC",), seed=seed, depth=depth)
    bids_levels, asks_levels = market.book("BTC")
    bids, asks = as_dict(bids_levels), as_dict(asks_levels)
    for trades, changes in plan:
        market.trades(trades, "BTC")
        change = market.step_book("BTC", changes=changes)
        apply(bids, change.bids)
        apply(asks, change.asks)
        assert_well_formed(market, "BTC")
        book_bids, book_asks = market.book("BTC")
        assert (bids, asks) == (as_dict(book_bids), as_dict(book_asks))
        assert (book_bids[0][0], book_asks[0][0]) == market.touch("BTC")


def test_depth_of_a_benchmark_book() -> None:
    """A deep book holds up to `depth` levels per side, mostly full."""
    market = Market(("BTC",), depth=1000)
    bids, asks = market.book("BTC")
    assert 800 <= len(bids) <= 1000 and 800 <= len(asks) <= 1000
    for _ in range(200):
        market.step_book("BTC")
    assert_well_formed(market, "BTC")


def test_specs_by_base_asset_and_overrides() -> None:
    """Specs come from overrides, then the base asset, then a generic fallback."""
    custom = SymbolSpec(Decimal("2"), Decimal("0.5"), Decimal("1"))
    market = Market(("BTC-PERP", "eth/usd", "XYZ", "MINE"), specs={"MINE": custom})
    assert market.spec("BTC-PERP") == DEFAULT_SPECS["BTC"]
    assert market.spec("eth/usd") == DEFAULT_SPECS["ETH"]
    assert market.spec("XYZ").tick == Decimal("0.01")
    assert market.spec("MINE") == custom
    bid, ask = market.touch("BTC-PERP")
    assert bid == Decimal("65000.0") and ask == bid + Decimal("0.1")
    assert market.mid("BTC-PERP") == bid + Decimal("0.05")
    # A start price below the book depth is lifted so every level stays positive.
    assert market.touch("MINE")[0] > 0
    assert_well_formed(market, "MINE")


def test_bad_arguments() -> None:
    """A market needs a positive depth and at least one symbol."""
    with pytest.raises(ValueError, match="depth"):
        Market(depth=0)
    with pytest.raises(ValueError, match="symbol"):
        Market(())


def test_generation_is_cheap() -> None:
    """Generating trades costs microseconds (benchmarks pre-generate 200k+)."""
    market = Market(seed=0)
    started = time.perf_counter()
    market.trades(50_000)
    assert time.perf_counter() - started < 3.0  # ~0.15 s on one idle core
