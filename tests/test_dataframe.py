"""to_dataframe / to_dataframes: columns, dtypes, row counts and exact values."""

from __future__ import annotations

import math
import sys
from decimal import Decimal

import pytest

from wsclients import to_dataframe, to_dataframes
from wsclients.models import (
    Book,
    BookLevel,
    ConnectionState,
    ErrorEvent,
    Message,
    Side,
    Status,
    Trade,
)

pd = pytest.importorskip("pandas")

NS = 1_767_261_600_123_456_789  # 2026-01-01 10:00:00.123456789 UTC


def trade(n: int, side: Side | None = Side.BUY, symbol: str = "BTC") -> Trade:
    return Trade(
        venue="hyperliquid", symbol=symbol, price=Decimal("65000.1") + n, size=Decimal("0.001"),
        side=side, trade_id=str(n), timestamp_ns=NS + n, received_ns=NS + 1000 + n,
    )


def book(bids: tuple[BookLevel, ...], asks: tuple[BookLevel, ...], sequence: int = 7) -> Book:
    return Book(
        venue="vega", symbol="ETH", bids=bids, asks=asks, timestamp_ns=NS, received_ns=NS + 5,
        sequence=sequence, is_snapshot=True,
    )


BOOK = book(
    (BookLevel(Decimal("99.9"), Decimal("1.5"), 3), BookLevel(Decimal("99.8"), Decimal("2"))),
    (BookLevel(Decimal("100.1"), Decimal("0.7"), 1),),
)


def test_trades_one_row_each_with_exact_decimals() -> None:
    """Trades: one row per trade, UTC Timestamps, Decimal prices equal to the events'."""
    df = to_dataframe([trade(0), trade(1, Side.SELL), trade(2, None)])
    assert list(df.columns) == [
        "time", "received", "venue", "symbol", "side", "price", "size", "trade_id"
    ]
    assert len(df) == 3
    assert str(df["time"].dtype) == "datetime64[ns, UTC]"
    assert df["time"][0] == pd.Timestamp(NS, unit="ns", tz="UTC")
    assert df["time"][0].nanosecond == 789  # nanoseconds survive
    assert df["received"][2] == pd.Timestamp(NS + 1002, unit="ns", tz="UTC")
    assert df["price"].dtype == object
    assert list(df["price"]) == [Decimal("65000.1"), Decimal("65001.1"), Decimal("65002.1")]
    assert all(type(p) is Decimal for p in df["price"])
    assert sum(df["size"]) == Decimal("0.003")  # exact: no float rounding
    assert df["side"][0] == "buy" and df["side"][1] == "sell" and pd.isna(df["side"][2])
    assert list(df["trade_id"]) == ["0", "1", "2"]


def test_trades_as_floats() -> None:
    """numbers='float' makes price and size float64 columns."""
    df = to_dataframe([trade(0), trade(1)], numbers="float")
    assert df["price"].dtype == "float64" and df["size"].dtype == "float64"
    assert df["price"].tolist() == [65000.1, 65001.1]


def test_book_levels_one_row_per_level() -> None:
    """books='levels': a row per level, bids then asks, level 0 the best, count nullable."""
    df = to_dataframe([BOOK, BOOK])
    assert len(df) == 6
    first = df[df["book"] == 0]
    assert first["side"].tolist() == ["bid", "bid", "ask"]
    assert first["level"].tolist() == [0, 1, 0]
    assert first["price"].tolist() == [Decimal("99.9"), Decimal("99.8"), Decimal("100.1")]
    assert first["size"].tolist() == [Decimal("1.5"), Decimal("2"), Decimal("0.7")]
    assert str(df["count"].dtype) == "Int64"
    assert df["count"][0] == 3 and pd.isna(df["count"][1])
    assert str(df["sequence"].dtype) == "Int64" and df["sequence"][0] == 7
    assert df["book"].tolist() == [0, 0, 0, 1, 1, 1]
    assert str(df["time"].dtype) == "datetime64[ns, UTC]"


def test_book_top_one_row_per_book() -> None:
    """books='top': best bid/ask, sizes, mid and spread exactly; level counts."""
    df = to_dataframe([BOOK], books="top")
    row = df.iloc[0]
    assert len(df) == 1
    assert row["bid"] == Decimal("99.9") and row["bid_size"] == Decimal("1.5")
    assert row["ask"] == Decimal("100.1") and row["ask_size"] == Decimal("0.7")
    assert row["mid"] == Decimal("100.0") and row["spread"] == Decimal("0.2")
    assert (row["bid_levels"], row["ask_levels"]) == (2, 1)


def test_book_top_empty_side_as_float_is_nan() -> None:
    """An empty ask side gives NaN touch columns with floats (None with Decimals)."""
    one_sided = book((BookLevel(Decimal("1"), Decimal("2")),), ())
    floats = to_dataframe([one_sided], books="top", numbers="float")
    assert floats["bid"].dtype == "float64" and floats["bid"][0] == 1.0
    assert math.isnan(floats["ask"][0]) and math.isnan(floats["mid"][0])
    decimals = to_dataframe([one_sided], books="top")
    assert decimals["ask"][0] is None and decimals["spread"][0] is None


def test_messages_status_and_errors() -> None:
    """Messages keep channel and data; status and error events have their own columns."""
    message = Message(venue="hl", channel="candle", data={"o": "1"}, received_ns=NS)
    df = to_dataframe([message])
    assert list(df.columns) == ["time", "venue", "channel", "symbol", "is_snapshot", "data"]
    assert df["data"][0] == {"o": "1"} and df["channel"][0] == "candle"
    status = Status(venue="hl", state=ConnectionState.RECONNECTING, url="ws://x", received_ns=NS,
                    attempt=2, delay=0.5)
    sf = to_dataframe([status])
    assert sf["state"][0] == "reconnecting" and sf["attempt"][0] == 2 and sf["delay"][0] == 0.5
    error = ErrorEvent(venue="hl", message="bad frame", received_ns=NS, fatal=True)
    ef = to_dataframe([error])
    assert ef["message"][0] == "bad frame" and bool(ef["fatal"][0]) is True


def test_mixed_kinds_need_kind() -> None:
    """Several kinds without kind= is a ValueError that counts them and names the ways out."""
    mixed = [trade(0), trade(1), BOOK]
    with pytest.raises(ValueError, match=r"2 trade, 1 book.*kind=.*to_dataframes"):
        to_dataframe(mixed)
    assert len(to_dataframe(mixed, kind="trade")) == 2
    assert len(to_dataframe(iter(mixed), kind="book", books="top")) == 1


def test_to_dataframes_one_frame_per_kind() -> None:
    """to_dataframes returns a frame per kind, keyed in order of first appearance."""
    status = Status(venue="hl", state=ConnectionState.CONNECTED, url="ws://x", received_ns=NS)
    frames = to_dataframes([status, trade(0), BOOK, trade(1)], numbers="float")
    assert list(frames) == ["status", "trade", "book"]
    assert len(frames["trade"]) == 2 and frames["trade"]["price"].dtype == "float64"
    assert len(frames["book"]) == 3


def test_empty_input() -> None:
    """No events: an empty frame; with kind=, the kind's columns and dtypes, no rows."""
    assert to_dataframe([]).empty
    df = to_dataframe([], kind="trade")
    assert len(df) == 0 and "price" in df.columns
    assert str(df["time"].dtype) == "datetime64[ns, UTC]"


@pytest.mark.parametrize(
    "options", [{"numbers": "int"}, {"books": "depth"}, {"kind": "trades"}]
)
def test_bad_options_are_refused(options: dict[str, str]) -> None:
    """An unknown numbers, books or kind value is a ValueError naming the choices."""
    with pytest.raises(ValueError, match="must be one of"):
        to_dataframe([trade(0)], **options)


def test_missing_pandas_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without pandas, the ImportError tells which extra to install."""
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r"wsclients\[pandas\]"):
        to_dataframe([trade(0)])
