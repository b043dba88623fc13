"""``wsclients book``: a live order-book ladder, redrawn in place on a terminal.

Asks above bids, best prices meeting in the middle, columns aligned over the levels shown.
On a terminal each new book replaces the last one (ANSI cursor-up and clear); piped to a
file or another program it prints plain lines, one block per book, with no escape codes.
"""

from __future__ import annotations

from typing import IO, Optional

from wsclients.cli._output import LinePrinter, clock
from wsclients.models import Book, BookLevel, Event

__all__ = ["LadderPrinter", "render_ladder"]


def _count(level: BookLevel) -> str:
    return str(level.count) if level.count is not None else ""


def render_ladder(book: Book, depth: int) -> list[str]:
    """The ladder of ``book``'s top ``depth`` levels a side, as lines of equal layout."""
    asks = list(reversed(book.asks[:depth]))  # the highest shown ask on top
    bids = list(book.bids[:depth])
    levels = asks + bids
    price_w = max([len("price")] + [len(str(level.price)) for level in levels])
    size_w = max([len("size")] + [len(str(level.size)) for level in levels])
    count_w = max([len("orders")] + [len(_count(level)) for level in levels])
    spread = f"  spread {book.spread}" if book.spread is not None else ""
    mid = f"  mid {book.mid}" if book.mid is not None else ""
    lines = [
        f"{clock(book.timestamp_ns)} {book.venue} {book.symbol}{spread}{mid}",
        f"{'':4} {'price':>{price_w}}  {'size':>{size_w}}  {'orders':>{count_w}}",
    ]

    def row(side: str, level: BookLevel) -> str:
        return (f"{side:<4} {level.price!s:>{price_w}}  {level.size!s:>{size_w}}  "
                f"{_count(level):>{count_w}}").rstrip()

    lines += [row("ask", level) for level in asks] or [f"{'ask':<4} (none)"]
    lines.append("-" * (5 + price_w + 2 + size_w + 2 + count_w))
    lines += [row("bid", level) for level in bids] or [f"{'bid':<4} (none)"]
    return lines


class LadderPrinter(LinePrinter):
    """Shows books as a ladder and every other event as a line.

    Args:
        depth: levels a side.
        tty: redraw in place; None asks ``out.isatty()``.
    """

    def __init__(
        self, out: IO[str], *, depth: int, as_json: bool = False, tty: Optional[bool] = None
    ) -> None:
        super().__init__(out, as_json=as_json)
        self.depth = depth
        self.tty = out.isatty() if tty is None else tty
        self._drawn = 0  # lines of the ladder now on screen (tty only)

    def show(self, event: Event) -> None:
        """A book redraws the ladder; anything else is printed as a line below it."""
        if self.as_json or not isinstance(event, Book):
            super().show(event)
            self._drawn = 0  # the ladder scrolled up: draw the next one below
            return
        lines = render_ladder(event, self.depth)
        if self.tty:
            # Back to the ladder's first line, clear to the end, draw anew.
            prefix = f"\x1b[{self._drawn}F\x1b[J" if self._drawn else ""
            self.out.write(prefix + "\n".join(lines) + "\n")
            self._drawn = len(lines)
        else:
            self.out.write("\n".join(lines) + "\n\n")
        self.out.flush()
