"""wsclients.plot: what the charts contain (rendered with the Agg backend, no display)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from decimal import Decimal

import pytest

from wsclients import plot
from wsclients.book import OrderBook
from wsclients.models import Book, BookLevel, Side, Trade

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

NS = 1_767_261_600_000_000_000  # 2026-01-01 10:00 UTC

BOOK = Book(
    venue="hyperliquid", symbol="ETH",
    bids=(BookLevel(Decimal("99.9"), Decimal("1.5"), 3), BookLevel(Decimal("99.8"), Decimal("2"))),
    asks=(BookLevel(Decimal("100.1"), Decimal("0.5")), BookLevel(Decimal("100.3"), Decimal("1")),
          BookLevel(Decimal("100.4"), Decimal("4"))),
    timestamp_ns=NS, received_ns=NS,
)


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")


def lines(ax: Axes) -> dict[str, Line2D]:
    return {str(line.get_label()): line for line in ax.lines}


def trade(n: int, size: str, side: Side | None, symbol: str = "BTC") -> Trade:
    return Trade(
        venue="hyperliquid", symbol=symbol, price=Decimal(100 + n), size=Decimal(size), side=side,
        trade_id=str(n), timestamp_ns=NS + n * 1_000_000_000, received_ns=NS,
    )


def test_depth_draws_cumulative_sides_and_the_mid() -> None:
    """Bids and asks are cumulative steps over their prices; the mid line sits at the mid."""
    ax = plot.depth(BOOK)
    drawn = lines(ax)
    assert set(drawn) == {"bids", "asks", "mid 100.0"}
    assert list(drawn["bids"].get_xdata()) == [99.9, 99.8]
    assert list(drawn["bids"].get_ydata()) == [1.5, 3.5]
    assert list(drawn["asks"].get_xdata()) == [100.1, 100.3, 100.4]
    assert list(drawn["asks"].get_ydata()) == [0.5, 1.5, 5.5]
    mid_x = set(drawn["mid 100.0"].get_xdata())
    assert mid_x == {100.0}
    assert 99.9 < 100.0 < 100.1  # between the touch
    assert len(ax.collections) == 2  # the shaded areas
    assert ax.get_title() == "ETH depth" and ax.get_xlabel() == "price"


def test_book_plot_delegates_to_depth() -> None:
    """Book.plot(ax) draws the depth chart on the given axes and returns them."""
    _, ax = plt.subplots()
    assert BOOK.plot(ax) is ax
    assert {str(line.get_label()) for line in ax.lines} == {"bids", "asks", "mid 100.0"}


def test_depth_of_an_order_book_and_of_one_side() -> None:
    """An OrderBook works too; with one side empty there is no mid line."""
    local = OrderBook("SOL", venue="vega")
    local.apply_snapshot([(Decimal("10"), Decimal("1")), (Decimal("9"), Decimal("2"))], [])
    ax = plot.depth(local)
    assert set(lines(ax)) == {"bids"}
    assert list(lines(ax)["bids"].get_ydata()) == [1.0, 3.0]


def test_trades_price_line_and_markers_sized_and_coloured() -> None:
    """One point per trade, at its time and price; marker area grows with size; side colours."""
    events = [trade(0, "1", Side.BUY), trade(1, "4", Side.SELL), trade(2, "2", None)]
    ax = plot.trades(events)
    price = lines(ax)["price"]
    assert list(price.get_ydata()) == [100.0, 101.0, 102.0]
    expected_x = mdates.date2num([t.datetime for t in events])
    assert list(price.get_xdata()) == pytest.approx(list(expected_x))
    (markers,) = ax.collections
    assert len(markers.get_offsets()) == 3
    sizes = list(markers.get_sizes())
    assert sizes[1] == max(sizes) == 200.0 and sizes[0] < sizes[2] < sizes[1]
    colors = [to_hex(c) for c in markers.get_facecolors()]
    assert colors == [plot.BID_COLOR, plot.ASK_COLOR, "#7f8c8d"]
    assert ax.get_title() == "BTC trades"


def test_trades_of_several_symbols_need_symbol() -> None:
    """Mixed symbols are refused without symbol=, and symbol= picks one."""
    events = [trade(0, "1", Side.BUY), trade(1, "1", Side.BUY, symbol="ETH"), BOOK]
    with pytest.raises(ValueError, match="BTC, ETH.*symbol="):
        plot.trades(events)
    ax = plot.trades(events, symbol="ETH")
    assert list(lines(ax)["price"].get_ydata()) == [101.0]


def test_trades_with_none_is_an_empty_chart() -> None:
    """No trades: an empty, titled chart rather than an error."""
    ax = plot.trades([BOOK])
    assert len(ax.lines) == 0 and ax.get_title() == "no trades"


def test_charts_render_to_png(tmp_path: object) -> None:
    """The depth chart renders to a non-empty PNG."""
    png = plot._png(plot.depth(BOOK).figure)  # type: ignore[arg-type]
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5000


def test_missing_matplotlib_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without matplotlib, the ImportError tells which extra to install."""
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"wsclients\[plot\]"):
        plot.depth(BOOK)


@pytest.mark.parametrize("kinds", ["trade", {"status"}, set()])
def test_live_refuses_kinds_it_cannot_draw(kinds: object) -> None:
    """live() takes trade and/or book kinds only; a bare string is refused too."""
    with pytest.raises(ValueError, match="kind"):
        plot.live(object(), seconds=0, kinds=kinds)  # type: ignore[arg-type]
