"""Events: immutable, Decimal-valued, nanosecond times, helpers."""

from __future__ import annotations

import datetime as dt
import pickle
import sys
import weakref
from decimal import Decimal
from typing import Any

import attrs
import pytest

from wsclients import Book, BookLevel, ErrorEvent, Message, Side, Trade
from wsclients.errors import ProtocolViolation


def book(bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> Book:
    return Book(
        venue="v", symbol="X",
        bids=tuple(BookLevel(Decimal(p), Decimal(s)) for p, s in bids),
        asks=tuple(BookLevel(Decimal(p), Decimal(s)) for p, s in asks),
        timestamp_ns=1_700_000_000_123_456_789, received_ns=0,
    )


def test_events_are_frozen() -> None:
    """No field of an event can be reassigned."""
    t = Trade(venue="v", symbol="X", price=Decimal("1"), size=Decimal("2"), side=Side.BUY,
              trade_id="1", timestamp_ns=0, received_ns=0)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        t.price = Decimal("3")  # type: ignore[misc]


def test_book_helpers() -> None:
    """best_bid/best_ask/mid/spread from the touch; None on an empty side."""
    b = book([("100.5", "1"), ("100", "2")], [("101", "3")])
    assert b.best_bid == BookLevel(Decimal("100.5"), Decimal("1"))
    assert b.mid == Decimal("100.75") and b.spread == Decimal("0.5")
    empty = book([], [("1", "1")])
    assert empty.best_bid is None and empty.mid is None and empty.spread is None


def test_datetime_is_utc_with_microseconds() -> None:
    """timestamp_ns converts to an aware UTC datetime."""
    b = book([], [])
    assert b.datetime == dt.datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=dt.timezone.utc)


def test_raw_stays_out_of_repr_and_equality() -> None:
    """raw is kept for the user but does not clutter repr or break equality."""
    a = Message(venue="v", channel="c", data=1, received_ns=0, raw={"big": "x" * 100})
    b = Message(venue="v", channel="c", data=1, received_ns=0, raw=None)
    assert a == b and "big" not in repr(a)


def test_error_event_from_exception() -> None:
    """The one way background errors become events keeps the exception and its text."""
    exc = ProtocolViolation("bad frame", raw=b"\xff" * 500)
    e = ErrorEvent.from_exception(exc, venue="v", received_ns=5, fatal=True)
    assert e.exception is exc and e.fatal and e.message.startswith("bad frame")
    assert len(e.message) < 250  # payloads are shortened


def test_the_positional_builder_makes_the_same_trade() -> None:
    """new_trade (the parsers' fast path) builds an instance equal to the attrs constructor's,
    of the same class, with every field set, still frozen."""
    from wsclients.models import new_trade

    fields = dict(venue="v", symbol="S", price=Decimal("1.5"), size=Decimal("2"),
                  side=Side.SELL, trade_id="7", timestamp_ns=10, received_ns=20,
                  is_snapshot=True, raw={"a": 1})
    fast = new_trade(*fields.values())
    slow = Trade(**fields)  # type: ignore[arg-type]
    assert type(fast) is Trade and fast == slow and fast.raw == slow.raw
    assert [getattr(fast, f.name) for f in attrs.fields(Trade)] == list(fields.values())
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        fast.price = Decimal("3")  # type: ignore[misc]
    assert weakref.ref(fast)() is fast
    assert pickle.loads(pickle.dumps(fast)) == fast
    if sys.implementation.name == "cpython":  # the fast path: a twin made a Trade
        assert "__class__" in new_trade.__code__.co_names


def test_the_positional_builder_falls_back_where_classes_cannot_be_swapped() -> None:
    """A class whose weakref slot comes after its fields has no twin of the same layout: its
    builder sets the slots through their descriptors, and the instances are the same."""
    from wsclients.models import _positional_builder

    @attrs.frozen
    class Own:
        a: int
        b: Any = attrs.field(eq=False)

    build = _positional_builder(Own)
    made = build(1, [2])
    assert type(made) is Own and made == Own(1, [2]) and made.b == [2]
    assert "__class__" not in build.__code__.co_names
    assert weakref.ref(made)() is made
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        made.a = 3  # type: ignore[misc]
