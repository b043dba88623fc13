"""Charts of events for notebooks: a book's depth, trades over time, and a live view.

``depth(book)`` draws a cumulative depth chart, ``trades(events)`` the trade prices over
time with each trade's size as its marker's area, and ``live(client, seconds=60)`` both as
they arrive, redrawn in place in a Jupyter cell. Every function takes or returns plain
matplotlib objects, so titles, limits and ``savefig`` work as usual.

matplotlib is the ``plot`` extra (``pip install 'wsclients[plot]'``) and is imported only
when one of these functions runs.
"""

from __future__ import annotations

import datetime as dt
import importlib
import io
import sys
import time
from collections.abc import Collection, Iterable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Callable, Literal, Optional, Protocol

from wsclients._extras import require
from wsclients.collect import EventSource, check_kinds, collect_events
from wsclients.models import Book, BookLevel, Event, Trade

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["BookLike", "depth", "live", "trades"]

BID_COLOR = "#1e8449"
ASK_COLOR = "#c0392b"
_UNKNOWN_SIDE_COLOR = "#7f8c8d"
_MARKER_AREA = (12.0, 200.0)
"""Marker areas (points²) of the smallest and the largest trade in a chart."""
LIVE_KINDS = frozenset({"trade", "book"})
"""The kinds ``live`` can draw."""


class BookLike(Protocol):
    """What ``depth`` needs: a ``Book`` event, or a local ``OrderBook``."""

    @property
    def symbol(self) -> str: ...
    @property
    def bids(self) -> Sequence[BookLevel]: ...
    @property
    def asks(self) -> Sequence[BookLevel]: ...


def depth(book: BookLike, ax: Optional[Axes] = None) -> Axes:
    """Cumulative depth: for each price, the size resting at it or better, bids and asks.

    Each side is a step line (``"bids"``, ``"asks"``) with its area shaded; a dashed
    vertical line (``"mid"``) marks the midpoint of the touch when both sides have levels.

    Args:
        book: a ``Book`` (``book.plot()`` calls this) or an ``OrderBook``.
        ax: the matplotlib Axes to draw on; None makes a new pyplot figure, which Jupyter
            shows below the cell.

    Returns:
        The Axes drawn on.

    Raises:
        ImportError: matplotlib is not installed (the ``plot`` extra).
    """
    ax = _axes(ax)
    for label, levels, color in (("bids", book.bids, BID_COLOR), ("asks", book.asks, ASK_COLOR)):
        if not levels:
            continue
        prices = [float(level.price) for level in levels]
        cumulative = _running_sum(level.size for level in levels)
        ax.step(prices, cumulative, where="post", color=color, label=label)
        ax.fill_between(prices, cumulative, step="post", color=color, alpha=0.2)
    if book.bids and book.asks:
        mid = (book.bids[0].price + book.asks[0].price) / 2
        ax.axvline(float(mid), color="0.3", linestyle="--", linewidth=1, label=f"mid {mid}")
    _plain_numbers(ax, "x")
    ax.set_title(f"{book.symbol} depth")
    ax.set_xlabel("price")
    ax.set_ylabel("cumulative size")
    if ax.lines:
        ax.legend(loc="upper center")
    return ax


def trades(
    events: Iterable[Event], ax: Optional[Axes] = None, *, symbol: Optional[str] = None
) -> Axes:
    """Trade prices over time: a thin price line, and one marker per trade whose area grows
    with its size, green for buys, red for sells (the aggressor's side), grey when unknown.

    Args:
        events: events of any kinds; only the trades of ``symbol`` are drawn.
        ax: the Axes to draw on; None makes a new pyplot figure.
        symbol: which instrument; None when the trades are all of one.

    Returns:
        The Axes drawn on (an empty chart titled "no trades" when there are none).

    Raises:
        ValueError: ``symbol`` is None and the trades are of several instruments.
        ImportError: matplotlib is not installed (the ``plot`` extra).
    """
    chosen = [e for e in events if isinstance(e, Trade)]
    symbols = list(dict.fromkeys(t.symbol for t in chosen))
    if symbol is None and len(symbols) > 1:
        raise ValueError(f"trades of several symbols ({', '.join(symbols)}); pass symbol=…")
    if symbol is not None:
        chosen = [t for t in chosen if t.symbol == symbol]
    ax = _axes(ax)
    _draw_trades(ax, chosen)
    name = symbol or (symbols[0] if symbols else "")
    ax.set_title(f"{name} trades" if chosen else f"{name} no trades".strip())
    if chosen:
        ax.legend(loc="best")
    return ax


def live(
    client: EventSource,
    seconds: float = 60.0,
    kinds: Collection[str] = LIVE_KINDS,
    *,
    refresh_interval: float = 1.0,
) -> Figure:
    """Read ``client`` for ``seconds`` and chart its trades and books as they come.

    One panel per symbol: trade markers as in ``trades`` and the best bid, best ask and mid
    of its books over time. Events are read from the client's default queue, as
    ``client.collect`` reads them, so they are gone from it afterwards.

    In a Jupyter kernel the chart appears below the cell and is redrawn in place every
    ``refresh_interval`` seconds. Anywhere else (a script, a plain REPL) nothing is shown
    while it runs: the chart is drawn once at the end and returned for ``savefig``. Either
    way the figure is returned; in a notebook, assign it (``fig = plot.live(...)``) so the
    cell does not show the final chart a second time.

    Args:
        client: a started client.
        seconds: how long to watch.
        kinds: ``{"trade"}``, ``{"book"}`` or both.
        refresh_interval: seconds between redraws in a kernel.

    Returns:
        The matplotlib Figure (not attached to pyplot).

    Raises:
        ValueError: bad ``kinds`` (a string, an unknown kind, or one it cannot draw), or a
            negative ``seconds`` or non-positive ``refresh_interval``.
        ImportError: matplotlib is not installed (the ``plot`` extra).
    """
    wanted = check_kinds(kinds)
    if not wanted or not wanted <= LIVE_KINDS:
        raise ValueError(f"live draws trades and books: kinds must be within {{'trade', 'book'}}"
                         f"; got {sorted(wanted or ())}")
    if seconds < 0:
        raise ValueError(f"seconds must be >= 0; got {seconds!r}")
    if refresh_interval <= 0:
        raise ValueError(f"refresh_interval must be positive; got {refresh_interval!r}")
    figure = require("matplotlib.figure", extra="plot").Figure(layout="constrained")
    show = _kernel_display()
    panels: dict[str, tuple[list[Trade], list[Book]]] = {}
    deadline = time.monotonic() + seconds
    while (remaining := deadline - time.monotonic()) > 0:
        window = min(refresh_interval, remaining)
        window_end = time.monotonic() + window
        for event in collect_events(client, window, kinds=wanted):
            if isinstance(event, Trade):
                panels.setdefault(event.symbol, ([], []))[0].append(event)
            elif isinstance(event, Book):
                panels.setdefault(event.symbol, ([], []))[1].append(event)
        if show is not None:
            _draw_panels(figure, panels)
            show(figure)
        if time.monotonic() < window_end:
            break  # collect_events came back early: the client stopped, nothing more comes
    _draw_panels(figure, panels)
    if show is not None:
        show(figure)
    return figure  # type: ignore[no-any-return]


# -- drawing -------------------------------------------------------------------------


def _axes(ax: Optional[Axes]) -> Axes:
    """``ax``, or the Axes of a new pyplot figure (so that Jupyter shows it)."""
    if ax is not None:
        return ax
    pyplot = require("matplotlib.pyplot", extra="plot")
    return pyplot.subplots(layout="constrained")[1]  # type: ignore[no-any-return]


def _running_sum(sizes: Iterable[Decimal]) -> list[float]:
    total = Decimal(0)
    sums = []
    for size in sizes:
        total += size
        sums.append(float(total))
    return sums


def _draw_trades(ax: Axes, chosen: Sequence[Trade]) -> None:
    """The price line and the sized, side-coloured markers of ``chosen`` on ``ax``."""
    _time_axis(ax)
    ax.set_ylabel("price")
    _plain_numbers(ax, "y")
    if not chosen:
        return
    times = _times(t.datetime for t in chosen)
    prices = [float(t.price) for t in chosen]
    largest = max(t.size for t in chosen) or Decimal(1)
    low, high = _MARKER_AREA
    areas = [low + (high - low) * float(t.size / largest) for t in chosen]
    colors = [
        _UNKNOWN_SIDE_COLOR if t.side is None else BID_COLOR if t.side.value == "buy"
        else ASK_COLOR for t in chosen
    ]
    ax.plot(times, prices, color="0.6", linewidth=0.8, label="price")
    ax.scatter(times, prices, s=areas, c=colors, alpha=0.7, label="trade (area ~ size)")


def _draw_touch(ax: Axes, books: Sequence[Book]) -> None:
    """Best bid, best ask (steps) and mid (dashed) of ``books`` over time on ``ax``."""
    if not books:
        return
    times = _times(b.datetime for b in books)
    nan = float("nan")
    bid = [nan if b.best_bid is None else float(b.best_bid.price) for b in books]
    ask = [nan if b.best_ask is None else float(b.best_ask.price) for b in books]
    mid = [nan if b.mid is None else float(b.mid) for b in books]
    ax.step(times, bid, where="post", color=BID_COLOR, linewidth=1, label="best bid")
    ax.step(times, ask, where="post", color=ASK_COLOR, linewidth=1, label="best ask")
    ax.step(times, mid, where="post", color="0.3", linestyle="--", linewidth=0.8, label="mid")
    _plain_numbers(ax, "y")


def _draw_panels(figure: Figure, panels: dict[str, tuple[list[Trade], list[Book]]]) -> None:
    """Redraw ``figure`` from scratch: one panel per symbol, in order of first appearance."""
    figure.clear()
    count = max(1, len(panels))
    figure.set_size_inches(9, 1.5 + 2.5 * count)
    axes = figure.subplots(count, 1, squeeze=False)[:, 0]
    if not panels:
        axes[0].set_title("waiting for trades and books")
        return
    for ax, (symbol, (trades_of, books_of)) in zip(axes, panels.items()):
        _draw_touch(ax, books_of)
        _draw_trades(ax, trades_of)
        ax.set_title(f"{symbol}: {len(trades_of)} trades, {len(books_of)} books")
        ax.legend(loc="upper left", fontsize="small")


def _times(datetimes: Iterable[dt.datetime]) -> list[float]:
    """Aware datetimes as matplotlib's date numbers (days since its epoch, UTC)."""
    dates = require("matplotlib.dates", extra="plot")
    moments = list(datetimes)
    return dates.date2num(moments).tolist() if moments else []  # type: ignore[no-any-return]


def _plain_numbers(ax: Axes, axis: Literal["x", "y"]) -> None:
    """Prices as written (65000.5), not as an offset (0.5 + 6.5e4), which is matplotlib's
    default for a narrow range of large numbers."""
    ax.ticklabel_format(axis=axis, useOffset=False, style="plain")


def _time_axis(ax: Axes) -> None:
    """Short UTC time labels on the x axis."""
    dates = require("matplotlib.dates", extra="plot")
    locator = dates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(dates.ConciseDateFormatter(locator))
    ax.set_xlabel("time (UTC)")


# -- showing in a kernel -------------------------------------------------------------


def _kernel_display() -> Optional[Callable[[Figure], None]]:
    """In a Jupyter kernel, a function that shows a figure below the running cell, in the
    same place each call; None elsewhere. IPython is never imported here unless the
    program already did (a kernel always has)."""
    ipython: Any = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is None or not hasattr(shell, "kernel"):
        return None
    display: Any = importlib.import_module("IPython.display")
    handle: Any = None

    def show(figure: Figure) -> None:
        nonlocal handle
        image = display.Image(data=_png(figure), format="png")
        if handle is None:
            handle = display.display(image, display_id=True)
        else:
            handle.update(image)

    return show


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    return buffer.getvalue()
