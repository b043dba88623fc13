"""Hyperliquid items to events: trades, l2 books and the compressed fastAssetCtxs payload.

Shared by the socket protocol and the REST companion
(docs/venues/hyperliquid.rst#hyperliquid-fields).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from wsclients.core import codec
from wsclients.core.amounts import PLAUSIBLE_HIGH, PLAUSIBLE_LOW, checked_amount
from wsclients.errors import (
    ProtocolViolation,
)
from wsclients.models import Book, BookLevel, Trade, new_trade
from wsclients.venues.hyperliquid.subscriptions import _SIDES, VENUE

# --------------------------------------------------------------------------- parsing helpers


def _decimal(value: Any, what: str = "price or size") -> Decimal:
    """Prices and sizes are decimal strings on the wire
    (docs/venues/hyperliquid.rst#hyperliquid-subscriptions); never go through float. Neither
    is ever negative, NaN or infinite on Hyperliquid: such a value is a broken frame."""
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        try:
            return checked_amount(Decimal(value), what)
        except ArithmeticError as exc:  # decimal.InvalidOperation: not a number at all
            raise ProtocolViolation(f"{what} is not a decimal string", raw=value) from exc
    raise ProtocolViolation(f"expected a decimal string, got {type(value).__name__}")


def _int(value: Any, what: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ProtocolViolation(f"{what} must be an integer, got {type(value).__name__}")


def _str(value: Any, what: str) -> str:
    if isinstance(value, str):
        return value
    raise ProtocolViolation(f"{what} must be a string, got {type(value).__name__}")


def _levels(side: Any) -> tuple[BookLevel, ...]:
    if not isinstance(side, list):
        raise ProtocolViolation("book side must be a list")
    return tuple(
        BookLevel(_decimal(level["px"], "price"), _decimal(level["sz"], "size"),
                  _int(level["n"], "n"))
        for level in side
    )


def decode_fast_asset_ctxs(data: str) -> Any:
    """docs/venues/hyperliquid.rst#hyperliquid-subscriptions: ``data`` is base64 of raw DEFLATE
    (RFC 1951) of a JSON object, inflated
    to at most ``codec.MAX_INFLATED_SIZE`` bytes (else ``MessageTooLarge``, a ValueError)."""
    return codec.loads(codec.inflate_raw(base64.b64decode(data, validate=True)))


_RECENT_PRICES_MAX = 4096
_recent_prices: dict[str, Decimal] = {}
"""Price string → its Decimal, for trade_from_item; emptied whenever it is full (a dict is
safe to share between threads: each operation holds the interpreter lock)."""


def trade_from_item(item: Mapping[str, Any], received_ns: int) -> Trade:
    """One WsTrade object (socket ``trades`` item or REST ``recentTrades`` element) → Trade.

    Raises:
        ProtocolViolation, KeyError, TypeError, ArithmeticError: the item is malformed.
    """
    # The hot path of a trades stream: exact-type checks first, the helpers (and their error
    # messages) only for anything unusual.
    coin = item["coin"]
    time_ms = item["time"]
    tid = item["tid"]
    if type(coin) is not str or type(time_ms) is not int or type(tid) is not int:
        coin = _str(coin, "coin")
        time_ms = _int(time_ms, "time")
        tid = _int(tid, "tid")
    side = _SIDES.get(item["side"])
    if side is None:
        raise ProtocolViolation(f"trade side must be 'A' or 'B', got {item['side']!r}")
    px = item["px"]
    sz = item["sz"]
    # Prices have at most 5 significant figures (docs/venues/hyperliquid.rst#hyperliquid-fields)
    # and come back from trade to trade: the Decimal of a price string seen lately is reused
    # (it passed the checks below when it was made).
    price = _recent_prices.get(px) if type(px) is str else None
    try:
        # Decimal strings of plausible amounts pass in two comparisons each (about half the
        # cost of _decimal); anything else goes through _decimal's checks and messages.
        size = Decimal(sz) if type(sz) is str else _decimal(sz, "size")
        plausible = PLAUSIBLE_LOW <= size < PLAUSIBLE_HIGH
        if price is None:
            price = Decimal(px) if type(px) is str else _decimal(px, "price")
            plausible = plausible and PLAUSIBLE_LOW <= price < PLAUSIBLE_HIGH
            if plausible and type(px) is str:
                if len(_recent_prices) >= _RECENT_PRICES_MAX:
                    _recent_prices.clear()
                _recent_prices[px] = price
    except ArithmeticError:  # not a number at all, or a NaN compared
        plausible = False
    if not plausible:
        price = _decimal(px, "price")
        size = _decimal(sz, "size")
    # new_trade takes Trade's fields in order (venue, symbol, price, size, side, trade_id,
    # timestamp_ns, received_ns, is_snapshot, raw): about half the cost of the keyword
    # constructor.
    return new_trade(
        VENUE,
        coin,
        price,
        size,
        side,
        # docs/venues/hyperliquid.rst#hyperliquid-fields: "for a globally unique trade id, use
        # (block_time, coin, tid)".
        f"{time_ms}:{tid}",
        time_ms * 1_000_000,
        received_ns,
        False,  # is_snapshot: the protocol marks a subscription's backfill
        item,
    )


def book_from_l2(data: Mapping[str, Any], received_ns: int) -> Book:
    """An l2Book payload (socket frame ``data`` or REST answer) → snapshot Book.

    Raises:
        ProtocolViolation, KeyError, TypeError, ValueError, ArithmeticError: malformed data.
    """
    bids, asks = data["levels"]
    return Book(
        venue=VENUE,
        symbol=_str(data["coin"], "coin"),
        bids=_levels(bids),
        asks=_levels(asks),
        timestamp_ns=_int(data["time"], "time") * 1_000_000,
        received_ns=received_ns,
        # docs/venues/hyperliquid.rst#hyperliquid-subscriptions: every l2Book frame is a full
        # snapshot
        is_snapshot=True,
        raw=data,
    )
