"""How events read for people: one-line str() of trades and books, a ladder in Jupyter."""

from __future__ import annotations

import html.parser
from decimal import Decimal

import attrs

from wsclients import Book, BookLevel, Side, Trade

NS = 1_767_261_600_123_456_789  # 2026-01-01 10:00:00.123456789 UTC


def trade(side: Side | None = Side.BUY) -> Trade:
    return Trade(venue="hyperliquid", symbol="BTC", price=Decimal("65000.5"),
                 size=Decimal("0.010"), side=side, trade_id="7", timestamp_ns=NS,
                 received_ns=NS, raw={"big": "x" * 10_000})


def deep_book(levels: int = 500) -> Book:
    return Book(
        venue="vega", symbol="ETH/USD",
        bids=tuple(BookLevel(Decimal(3000 - n), Decimal("1.5"), n) for n in range(levels)),
        asks=tuple(BookLevel(Decimal(3001 + n), Decimal("2"), None) for n in range(levels)),
        timestamp_ns=NS, received_ns=NS, raw=["y" * 10_000],
    )


class _Cells(html.parser.HTMLParser):
    """The text of every <td> and the caption, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.caption = ""
        self._where = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        if tag in ("td", "caption"):
            self._where = tag
            if tag == "td":
                self.rows[-1].append("")

    def handle_endtag(self, tag: str) -> None:
        self._where = ""

    def handle_data(self, data: str) -> None:
        if self._where == "td":
            self.rows[-1][-1] += data
        elif self._where == "caption":
            self.caption += data


def test_trade_str_is_one_line() -> None:
    """str(Trade): UTC time to the millisecond, symbol, side, size @ price; raw stays out."""
    assert str(trade()) == "2026-01-01 10:00:00.123 BTC buy 0.010 @ 65000.5"
    assert str(trade(Side.SELL)).endswith("BTC sell 0.010 @ 65000.5")
    assert " ? 0.010 @ " in str(trade(None))


def test_book_str_is_one_short_line_however_deep() -> None:
    """str(Book): symbol, touch with sizes, level counts; short even for 500 levels a side."""
    text = str(deep_book())
    assert text == "ETH/USD bid 1.5 @ 3000 | ask 2 @ 3001 (500x500 levels)"
    assert "\n" not in text
    empty = attrs.evolve(deep_book(), bids=(), asks=())
    assert str(empty) == "ETH/USD bid - | ask - (0x0 levels)"


def test_repr_and_eq_are_unchanged() -> None:
    """repr still shows the fields (not raw), and raw still takes no part in equality."""
    assert repr(trade()).startswith("Trade(venue='hyperliquid', symbol='BTC'")
    assert "xxxx" not in repr(trade())
    assert trade() == attrs.evolve(trade(), raw=None)
    assert not hasattr(trade(), "__dict__")  # still slotted


def test_book_ladder_html() -> None:
    """_repr_html_: asks above bids with the best prices meeting in the middle, 10 a side."""
    cells = _Cells()
    cells.feed(deep_book()._repr_html_())
    body = [row for row in cells.rows if row]  # the header row has <th>, not <td>
    assert len(body) == 20
    assert body[0] == ["", "3010", "2"]  # the 10th ask on top
    assert body[9] == ["", "3001", "2"]  # best ask just above …
    assert body[10] == ["1.5", "3000", ""]  # … the best bid
    assert body[19] == ["1.5", "2991", ""]
    assert "vega ETH/USD" in cells.caption and "mid 3000.5" in cells.caption
    assert "980 more levels not shown" in cells.caption


def test_book_ladder_escapes_the_symbol() -> None:
    """A symbol with markup in it is shown as text, not parsed as HTML."""
    book = attrs.evolve(deep_book(2), symbol="<b>X</b>")
    assert "&lt;b&gt;X&lt;/b&gt;" in book._repr_html_() and "<b>" not in book._repr_html_()
