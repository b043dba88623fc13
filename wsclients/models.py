"""The events every client delivers, and the small enums they use.

Events are frozen, slotted attrs classes: immutable, cheap to build on the reader thread and
safe to hand to another thread. Parsers build them by keyword (``kw_only``) so a new field can
never shift positions; ``BookLevel`` stays positional because books build thousands of them.
``raw`` keeps the decoded venue item for whatever the model does not carry; it is left out of
``repr`` and of equality, which compare the model and not venue JSON.
"""

from __future__ import annotations

import datetime as dt
import enum
import html
from decimal import Decimal
from typing import Any, Callable, ClassVar, NamedTuple, Optional, TypeVar, Union, cast

import attrs

from wsclients.errors import bounded_repr

__all__ = [
    "Book",
    "BookLevel",
    "ConnectionState",
    "ErrorEvent",
    "Event",
    "Message",
    "Side",
    "Status",
    "Trade",
]


def _ns_to_datetime(ns: int) -> dt.datetime:
    """Integer nanoseconds since the epoch → aware UTC datetime (microsecond precision)."""
    seconds, rest = divmod(ns, 1_000_000_000)
    return dt.datetime.fromtimestamp(seconds, tz=dt.timezone.utc).replace(microsecond=rest // 1000)


def _clock(ns: int) -> str:
    """Nanoseconds since the epoch → ``2026-01-02 10:00:00.123`` (UTC, milliseconds)."""
    return _ns_to_datetime(ns).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def _touch(level: Optional[BookLevel]) -> str:
    """``size @ price`` of a best level, or ``-`` for an empty side."""
    return "-" if level is None else f"{level.size} @ {level.price}"


_LADDER_LEVELS = 10
"""Levels per side that ``Book._repr_html_`` shows; the rest are counted, not drawn."""


def _ladder_html(book: Book) -> str:
    """A small HTML table: ask levels above bid levels, best prices meeting in the middle."""
    asks = book.asks[:_LADDER_LEVELS]
    bids = book.bids[:_LADDER_LEVELS]
    rows = [
        f"<tr><td></td><td>{level.price}</td><td style='color:#c0392b'>{level.size}</td></tr>"
        for level in reversed(asks)
    ]
    rows += [
        f"<tr><td style='color:#1e8449'>{level.size}</td><td>{level.price}</td><td></td></tr>"
        for level in bids
    ]
    hidden = len(book.asks) - len(asks) + len(book.bids) - len(bids)
    more = f", {hidden} more levels not shown" if hidden else ""
    caption = (
        f"{html.escape(book.venue)} {html.escape(book.symbol)} at {_clock(book.timestamp_ns)}"
        f" — mid {book.mid if book.mid is not None else '-'},"
        f" spread {book.spread if book.spread is not None else '-'}{more}"
    )
    return (
        f"<table><caption>{caption}</caption>"
        "<thead><tr><th>bid size</th><th>price</th><th>ask size</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


class Side(enum.Enum):
    """Which side of the book an order or an aggressor was on."""

    BUY = "buy"
    SELL = "sell"

    def __str__(self) -> str:
        return self.value


class ConnectionState(enum.Enum):
    """Where a client or one of its sockets is in its life."""

    IDLE = "idle"
    """Built but not started."""
    CONNECTING = "connecting"
    """First connect attempt under way."""
    CONNECTED = "connected"
    """The socket is open and subscriptions have been sent."""
    RECONNECTING = "reconnecting"
    """The socket was lost; waiting out the backoff or trying again."""
    CLOSED = "closed"
    """Stopped by the user, by a fatal error, or after the last allowed attempt."""

    def __str__(self) -> str:
        return self.value


class BookLevel(NamedTuple):
    """One price level: the price, the total size resting there and, where the venue says,
    how many orders make it up. A NamedTuple because books build many of them per update."""

    price: Decimal
    size: Decimal
    count: Optional[int] = None  # type: ignore[assignment]  # shadows tuple.count, by design


class _Weakrefable:
    """``Trade``'s ``__weakref__`` slot, in a base class so that it comes first in the layout.

    A slot a class declares itself comes after its fields, and CPython then refuses to turn
    an instance of another class with the same slots into one of this class (it compares
    the layouts field by field from the base on). With the weakref slot in the base, the
    parsers' builder (``_positional_builder``) can fill a plain twin and make it a ``Trade``.
    """

    __slots__ = ("__weakref__",)


@attrs.frozen(kw_only=True)
class Trade(_Weakrefable):
    """A trade printed on the venue."""

    kind: ClassVar[str] = "trade"

    venue: str
    """Which venue it came from (``"hyperliquid"``, ``"vega"`` …)."""
    symbol: str
    """The venue's own instrument id, spelled as subscribed."""
    price: Decimal
    """Trade price, built from the venue's decimal string."""
    size: Decimal
    """Trade size in base units."""
    side: Optional[Side]
    """The aggressor's side, or None where the venue does not say."""
    trade_id: str
    """An id unique for this venue and symbol."""
    timestamp_ns: int
    """The venue's trade time, nanoseconds since the epoch (UTC)."""
    received_ns: int
    """When the frame carrying it was read from the socket."""
    is_snapshot: bool = False
    """True for a past trade the venue sent as history when the subscription began (a
    backfill), not a new print."""
    raw: Any = attrs.field(default=None, repr=False, eq=False)
    """The decoded venue item this event was built from."""

    @property
    def datetime(self) -> dt.datetime:
        """``timestamp_ns`` as an aware UTC datetime."""
        return _ns_to_datetime(self.timestamp_ns)

    def __str__(self) -> str:
        """One line for people: ``2026-01-02 10:00:00.123 BTC buy 0.1 @ 65000.5``."""
        side = self.side.value if self.side is not None else "?"
        return f"{_clock(self.timestamp_ns)} {self.symbol} {side} {self.size} @ {self.price}"


@attrs.frozen(kw_only=True)
class Book:
    """An order-book view: the top levels on each side, best first."""

    kind: ClassVar[str] = "book"

    venue: str
    """Which venue it came from."""
    symbol: str
    """The venue's own instrument id."""
    bids: tuple[BookLevel, ...]
    """Bid levels, highest price first."""
    asks: tuple[BookLevel, ...]
    """Ask levels, lowest price first."""
    timestamp_ns: int
    """The venue's time for this state of the book (``received_ns`` where it gives none)."""
    received_ns: int
    """When the frame that produced this view was read."""
    sequence: Optional[int] = None
    """The venue's sequence number for this state, where it has one."""
    is_snapshot: bool = False
    """True for a full snapshot (first view, resync, or a venue that only sends snapshots)."""
    raw: Any = attrs.field(default=None, repr=False, eq=False)
    """The decoded venue item this event was built from."""

    @property
    def best_bid(self) -> Optional[BookLevel]:
        """The highest bid, or None on an empty side."""
        return self.bids[0] if self.bids else None

    @property
    def best_ask(self) -> Optional[BookLevel]:
        """The lowest ask, or None on an empty side."""
        return self.asks[0] if self.asks else None

    @property
    def mid(self) -> Optional[Decimal]:
        """Midpoint of the touch, or None when a side is empty."""
        if not self.bids or not self.asks:
            return None
        return (self.bids[0].price + self.asks[0].price) / 2

    @property
    def spread(self) -> Optional[Decimal]:
        """Best ask minus best bid, or None when a side is empty."""
        if not self.bids or not self.asks:
            return None
        return self.asks[0].price - self.bids[0].price

    @property
    def datetime(self) -> dt.datetime:
        """``timestamp_ns`` as an aware UTC datetime."""
        return _ns_to_datetime(self.timestamp_ns)

    def __str__(self) -> str:
        """One line however deep the book: ``BTC bid 1.2 @ 65000 | ask 0.8 @ 65001 (20x20
        levels)``. The ``repr`` carries every level; this is for logs and ``print``."""
        return (
            f"{self.symbol} bid {_touch(self.best_bid)} | ask {_touch(self.best_ask)} "
            f"({len(self.bids)}x{len(self.asks)} levels)"
        )

    def _repr_html_(self) -> str:
        """The book as a price ladder (asks above bids), which Jupyter shows for a ``Book``."""
        return _ladder_html(self)

    def plot(self, ax: Any = None) -> Any:
        """A cumulative depth chart of this book on ``ax`` (a new figure when None); returns
        the matplotlib ``Axes``. Needs the ``plot`` extra: see ``wsclients.plot.depth``."""
        from wsclients.plot import depth  # matplotlib only when asked for

        return depth(self, ax=ax)


@attrs.frozen(kw_only=True)
class Message:
    """Anything that is not a trade or a book: candles, orders, positions, account events,
    records. ``channel`` names the stream as the user subscribed to it."""

    kind: ClassVar[str] = "message"

    venue: str
    """Which venue it came from."""
    channel: str
    """The stream's name, as the user subscribed to it."""
    data: Any = attrs.field(repr=bounded_repr)
    """The decoded payload. Its ``repr`` is bounded: venue data may nest 1,000 levels deep."""
    received_ns: int
    """When the frame carrying it was read."""
    is_snapshot: bool = False
    """True when the venue marks this as (part of) a state snapshot rather than an update."""
    symbol: Optional[str] = None
    """The instrument or key this message concerns, where there is one."""
    raw: Any = attrs.field(default=None, repr=False, eq=False)
    """The decoded venue frame."""

    @property
    def datetime(self) -> dt.datetime:
        """``received_ns`` as an aware UTC datetime (messages carry no common venue time)."""
        return _ns_to_datetime(self.received_ns)


@attrs.frozen(kw_only=True)
class Status:
    """A change in a socket's state; one for every step of connect, reconnect and close."""

    kind: ClassVar[str] = "status"

    venue: str
    """Which venue's client."""
    state: ConnectionState
    """The new state."""
    url: str
    """The socket's URL (never with secrets in its query)."""
    received_ns: int
    """When the change happened."""
    attempt: int = 0
    """Consecutive failed attempts so far (0 once connected)."""
    delay: Optional[float] = None
    """Seconds until the next attempt, when reconnecting."""
    code: Optional[int] = None
    """The close code or HTTP status that ended the last socket, if any."""
    reason: str = ""
    """Why: the close reason or the error, shortened."""

    @property
    def datetime(self) -> dt.datetime:
        return _ns_to_datetime(self.received_ns)


@attrs.frozen(kw_only=True)
class ErrorEvent:
    """Something went wrong in a background thread. ``fatal`` means the client has stopped
    (or the stream it names has), otherwise it carries on."""

    kind: ClassVar[str] = "error"

    venue: str
    """Which venue's client."""
    message: str
    """What happened, for a person."""
    received_ns: int
    """When it happened."""
    code: Optional[Union[int, str]] = None
    """The venue's or the socket's error code, when there is one."""
    fatal: bool = False
    """True when the client (or the stream named in ``message``) will not go on."""
    exception: Optional[BaseException] = attrs.field(default=None, eq=False)
    """One of ``wsclients.errors``; the original error is its ``__cause__``."""
    raw: Any = attrs.field(default=None, repr=False, eq=False)
    """The offending frame or item, shortened when large."""

    @classmethod
    def from_exception(
        cls,
        exc: BaseException,
        *,
        venue: str,
        received_ns: int,
        fatal: bool = False,
        raw: Any = None,
        code: Optional[Union[int, str]] = None,
    ) -> ErrorEvent:
        """The one way background threads turn an exception into an event."""
        if code is None:
            code = getattr(exc, "code", None)
        return cls(
            venue=venue,
            message=str(exc) or type(exc).__name__,
            received_ns=received_ns,
            code=code,
            fatal=fatal,
            exception=exc,
            raw=raw,
        )

    @property
    def datetime(self) -> dt.datetime:
        return _ns_to_datetime(self.received_ns)


Event = Union[Trade, Book, Message, Status, ErrorEvent]
_E = TypeVar("_E")
"""Every event a callback or a queue can deliver."""


def _positional_builder(cls: type[_E]) -> Callable[..., _E]:
    """A constructor for ``cls`` taking every field positionally, in declaration order.

    Parsers on the hot path build one event per trade. attrs' frozen ``__init__`` sets each
    field through ``object.__setattr__`` looked up by name, and even setting the slots through
    their descriptors is a C call with its argument tuple per field (about 0.45 µs for a
    ``Trade``). So the builder fills an instance of a twin class, the same slots without the
    frozen ``__setattr__`` (plain attribute stores, which the interpreter specialises), then
    makes it a ``cls`` by assigning ``__class__``: about 0.18 µs. CPython allows that only
    between classes of the same layout (``Trade`` keeps its weakref slot in a base for this);
    where it refuses, the builder sets the slots through their descriptors instead. The
    instances are the same either way: same class, same fields, same equality (a test
    compares both ways for every class). Defaults are not applied: every field must be given.
    """
    fields = attrs.fields(cast(Any, cls))
    names = [field.name for field in fields]
    args = ", ".join(names)
    twin = type(f"_{cls.__name__}Twin", cls.__bases__, {"__slots__": tuple(names)})
    swap = ["event = new(twin)", *(f"event.{name} = {name}" for name in names),
            "event.__class__ = cls", "return event"]
    build = _compile(args, swap, {"new": object.__new__, "twin": twin, "cls": cls})
    probe = [object() for _ in names]
    try:
        event = build(*probe)
        if type(event) is not cls or [getattr(event, name) for name in names] != probe:
            raise TypeError("the twin's slots do not read back")
    except TypeError:  # another layout, or an interpreter that does not swap classes
        setters = {f"set_{i}": getattr(cls, name).__set__ for i, name in enumerate(names)}
        lines = ["event = new(cls)", *(f"set_{i}(event, {name})" for i, name in enumerate(names)),
                 "return event"]
        build = _compile(args, lines, {"new": object.__new__, "cls": cls, **setters})
    build.__doc__ = f"{cls.__name__}({args}), positionally, without attrs' per-field lookup."
    return build


def _compile(args: str, lines: list[str], namespace: dict[str, Any]) -> Callable[..., Any]:
    source = "\n".join([f"def build({args}):", *(f"    {line}" for line in lines)])
    exec(source, namespace)  # noqa: S102 - code built from attrs field names only
    build: Callable[..., Any] = namespace["build"]
    return build


new_trade = _positional_builder(Trade)
"""``Trade`` from its fields in order (venue, symbol, price, size, side, trade_id,
timestamp_ns, received_ns, is_snapshot, raw): the parsers' fast path."""
