"""Events as pandas DataFrames, for looking at data in a notebook.

``to_dataframe(client.collect(60), kind="trade")`` gives one row per trade; books give one
row per price level or one row per book (``books="top"``). Times become timezone-aware UTC
``Timestamp`` columns; prices and sizes stay exact ``Decimal`` objects unless
``numbers="float"`` asks for float64 columns, which plot and aggregate faster.

A list of several kinds (what ``client.collect()`` returns: trades, books and the status
events of the connect) does not fit one table; ``to_dataframe`` then asks for ``kind=`` and
``to_dataframes`` returns one frame per kind.

pandas is the ``pandas`` extra (``pip install 'wsclients[pandas]'``) and is imported only
when one of these functions runs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Callable, Optional, Union

from wsclients._extras import require
from wsclients.models import ErrorEvent, Event, Message, Status, Trade

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["BOOK_LAYOUTS", "NUMBER_TYPES", "to_dataframe", "to_dataframes"]

NUMBER_TYPES = ("decimal", "float")
"""``numbers=``: ``Decimal`` objects (exact, object dtype) or float64."""
BOOK_LAYOUTS = ("levels", "top")
"""``books=``: one row per price level, or one row per book with the touch, mid and spread."""

_Number = Union[Decimal, float, None]
_Columns = dict[str, Any]
_NumberOf = Callable[[Optional[Decimal]], _Number]


def to_dataframe(
    events: Iterable[Event],
    *,
    kind: Optional[str] = None,
    numbers: str = "decimal",
    books: str = "levels",
) -> pd.DataFrame:
    """One DataFrame of one kind of event.

    Columns, by kind (``time`` is the venue's time for trades and books, the arrival time
    otherwise; ``received`` is always the arrival time; both are UTC ``Timestamp``):

    - ``trade``: time, received, venue, symbol, side (``"buy"``/``"sell"``/None), price,
      size, trade_id.
    - ``book`` with ``books="levels"``: time, received, venue, symbol, book (the book's
      position among the books given, to group its levels), sequence, side (``"bid"``/
      ``"ask"``), level (0 is the best), price, size, count (nullable Int64).
    - ``book`` with ``books="top"``: time, received, venue, symbol, sequence, bid, bid_size,
      ask, ask_size, mid, spread, bid_levels, ask_levels (touch columns are None, or NaN
      with floats, on an empty side).
    - ``message``: time, venue, channel, symbol, is_snapshot, data (the decoded payload).
    - ``status``: time, venue, state, attempt, delay, code, reason, url.
    - ``error``: time, venue, message, code, fatal.

    Args:
        events: events in any order; a generator is read once.
        kind: the kind to tabulate; events of other kinds are left out. None takes the one
            kind the events have.
        numbers: ``"decimal"`` keeps prices and sizes exact; ``"float"`` makes them float64.
        books: ``"levels"`` or ``"top"``, as above.

    Returns:
        A DataFrame with a fresh RangeIndex, rows in the order of ``events``. An empty
        ``events`` with no ``kind`` gives an empty DataFrame without columns.

    Raises:
        ValueError: ``kind`` is None and the events hold several kinds (the message counts
            them), or an option is not one of its values.
        ImportError: pandas is not installed (the ``pandas`` extra).
    """
    _check_choice("numbers", numbers, NUMBER_TYPES)
    _check_choice("books", books, BOOK_LAYOUTS)
    if kind is not None:
        _check_choice("kind", kind, tuple(_TABLES))
    pandas: Any = require("pandas", extra="pandas")
    items = list(events)
    if kind is None:
        counts = Counter(event.kind for event in items)
        if not counts:
            empty: pd.DataFrame = pandas.DataFrame()
            return empty
        if len(counts) > 1:
            found = ", ".join(f"{n} {name}" for name, n in counts.most_common())
            raise ValueError(
                f"the events hold several kinds ({found}); pass kind=… to pick one, or use "
                "to_dataframes(events) for a dict of one DataFrame per kind"
            )
        (kind,) = counts
    chosen = [event for event in items if event.kind == kind]
    return _frame(pandas, kind, chosen, numbers=numbers, books=books)


def to_dataframes(
    events: Iterable[Event], *, numbers: str = "decimal", books: str = "levels"
) -> dict[str, pd.DataFrame]:
    """One DataFrame per kind present in ``events``, keyed by kind (``"trade"``, ``"book"``
    …) in order of first appearance; each as ``to_dataframe(events, kind=…)`` makes it.

    Raises:
        ValueError: an option is not one of its values.
        ImportError: pandas is not installed (the ``pandas`` extra).
    """
    _check_choice("numbers", numbers, NUMBER_TYPES)
    _check_choice("books", books, BOOK_LAYOUTS)
    pandas: Any = require("pandas", extra="pandas")
    by_kind: dict[str, list[Event]] = {}
    for event in events:
        by_kind.setdefault(event.kind, []).append(event)
    return {
        kind: _frame(pandas, kind, chosen, numbers=numbers, books=books)
        for kind, chosen in by_kind.items()
    }


def _check_choice(name: str, value: str, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}; got {value!r}")


def _frame(
    pandas: Any, kind: str, events: list[Event], *, numbers: str, books: str
) -> pd.DataFrame:
    """The table for one kind; ``pandas`` is the module ``require`` returned."""
    as_float = numbers == "float"
    number: _NumberOf = _as_float if as_float else _same
    build = _book_tops if kind == "book" and books == "top" else _TABLES[kind]
    columns = build(events, number)
    frame: pd.DataFrame = pandas.DataFrame(
        {name: _series(pandas, values, _DTYPES[name], as_float) for name, values in columns.items()}
    )
    return frame


def _series(pandas: Any, values: list[Any], dtype: Any, as_float: bool) -> Any:
    """One column with a dtype that does not depend on the values seen (or their absence)."""
    if dtype == "time":
        return pandas.to_datetime(pandas.Series(values, dtype="int64"), unit="ns", utc=True)
    if dtype == "number":
        return pandas.Series(values, dtype="float64" if as_float else object)
    if dtype == "text":
        # pandas' own string dtype where it infers one (pandas 3); object when empty.
        return pandas.Series(values, dtype=None if values else object)
    return pandas.Series(values, dtype=dtype)


_DTYPES: dict[str, Any] = {
    "time": "time", "received": "time",
    "price": "number", "size": "number", "bid": "number", "bid_size": "number",
    "ask": "number", "ask_size": "number", "mid": "number", "spread": "number",
    "venue": "text", "symbol": "text", "side": "text", "trade_id": "text", "channel": "text",
    "state": "text", "reason": "text", "url": "text", "message": "text",
    "book": "int64", "level": "int64", "bid_levels": "int64", "ask_levels": "int64",
    "attempt": "int64",
    "sequence": "Int64", "count": "Int64",
    "delay": "float64",
    "is_snapshot": "bool", "fatal": "bool",
    "data": object, "code": object,
}
"""Each column's dtype: ``time`` a UTC Timestamp, ``number`` Decimal or float64 as asked,
``text`` pandas' string inference; anything else is given to pandas as it stands."""


def _same(value: Optional[Decimal]) -> _Number:
    return value


def _as_float(value: Optional[Decimal]) -> _Number:
    return float("nan") if value is None else float(value)


def _trades(events: list[Trade], number: _NumberOf) -> _Columns:
    return {
        "time": [t.timestamp_ns for t in events],
        "received": [t.received_ns for t in events],
        "venue": [t.venue for t in events],
        "symbol": [t.symbol for t in events],
        "side": [None if t.side is None else t.side.value for t in events],
        "price": [number(t.price) for t in events],
        "size": [number(t.size) for t in events],
        "trade_id": [t.trade_id for t in events],
    }


def _book_levels(events: list[Any], number: _NumberOf) -> _Columns:
    columns: _Columns = {
        name: [] for name in (
            "time", "received", "venue", "symbol", "book", "sequence", "side", "level",
            "price", "size", "count",
        )
    }
    for position, book in enumerate(events):
        for side, levels in (("bid", book.bids), ("ask", book.asks)):
            for index, level in enumerate(levels):
                columns["time"].append(book.timestamp_ns)
                columns["received"].append(book.received_ns)
                columns["venue"].append(book.venue)
                columns["symbol"].append(book.symbol)
                columns["book"].append(position)
                columns["sequence"].append(book.sequence)
                columns["side"].append(side)
                columns["level"].append(index)
                columns["price"].append(number(level.price))
                columns["size"].append(number(level.size))
                columns["count"].append(level.count)
    return columns


def _book_tops(events: list[Any], number: _NumberOf) -> _Columns:
    bids = [b.best_bid for b in events]
    asks = [b.best_ask for b in events]
    return {
        "time": [b.timestamp_ns for b in events],
        "received": [b.received_ns for b in events],
        "venue": [b.venue for b in events],
        "symbol": [b.symbol for b in events],
        "sequence": [b.sequence for b in events],
        "bid": [number(None if x is None else x.price) for x in bids],
        "bid_size": [number(None if x is None else x.size) for x in bids],
        "ask": [number(None if x is None else x.price) for x in asks],
        "ask_size": [number(None if x is None else x.size) for x in asks],
        "mid": [number(b.mid) for b in events],
        "spread": [number(b.spread) for b in events],
        "bid_levels": [len(b.bids) for b in events],
        "ask_levels": [len(b.asks) for b in events],
    }


def _messages(events: list[Message], number: _NumberOf) -> _Columns:
    return {
        "time": [m.received_ns for m in events],
        "venue": [m.venue for m in events],
        "channel": [m.channel for m in events],
        "symbol": [m.symbol for m in events],
        "is_snapshot": [m.is_snapshot for m in events],
        "data": [m.data for m in events],
    }


def _statuses(events: list[Status], number: _NumberOf) -> _Columns:
    return {
        "time": [s.received_ns for s in events],
        "venue": [s.venue for s in events],
        "state": [s.state.value for s in events],
        "attempt": [s.attempt for s in events],
        "delay": [s.delay for s in events],
        "code": [s.code for s in events],
        "reason": [s.reason for s in events],
        "url": [s.url for s in events],
    }


def _errors(events: list[ErrorEvent], number: _NumberOf) -> _Columns:
    return {
        "time": [e.received_ns for e in events],
        "venue": [e.venue for e in events],
        "message": [e.message for e in events],
        "code": [e.code for e in events],
        "fatal": [e.fatal for e in events],
    }


_TABLES: dict[str, Callable[[Any, _NumberOf], _Columns]] = {
    "trade": _trades,
    "book": _book_levels,
    "message": _messages,
    "status": _statuses,
    "error": _errors,
}
"""Column builders by kind (``book`` here is the levels layout; ``_frame`` picks)."""
