"""Vega numbers: 64-bit wire integers and the per-market decimals that turn them into prices and
sizes (docs/venues/vega.rst#vega-decimals).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Callable, Optional

import attrs

from wsclients.core.amounts import checked_amount
from wsclients.errors import (
    ProtocolViolation,
)

if TYPE_CHECKING:
    pass


# --------------------------------------------------------------------------------------------
# Numbers


def _int_text(value: Any, what: str) -> str:
    """A wire integer (a decimal string, docs/venues/vega.rst#vega-framing), checked."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str):
        digits = value[1:] if value[:1] == "-" else value
        if digits.isascii() and digits.isdigit():
            return value
    raise ProtocolViolation(f"{what} is not an integer string", raw=value)


def _wire_int(value: Any, what: str) -> int:
    """A 64-bit wire integer; parsed as int, never float (sequence numbers exceed 2**53)."""
    return int(_int_text(value, what))


_MAX_DIGITS = 78  # uint256, the widest integer the node sends (prices), has 78 digits


def _unsigned(value: Any, what: str) -> Any:
    """Prices and sizes are unsigned on Vega (venues docs: ``price`` string of a uint,
    ``size``/``volume`` uint64): a sign or more digits than a uint256 is a broken frame."""
    if isinstance(value, str) and (value[:1] == "-" or len(value) > _MAX_DIGITS):
        raise ProtocolViolation(f"{what} is not an unsigned integer string", raw=value[:40])
    if isinstance(value, int) and not isinstance(value, bool) and value < 0:
        raise ProtocolViolation(f"{what} is negative", raw=value)
    return value


def _scaled(value: Any, places: int, what: str) -> Decimal:
    """``int(value) / 10**places`` exactly (no context rounding); places may be negative,
    and then the result is a plain integer (``20``, not ``2E+1``)."""
    if places <= 0:
        return Decimal(int(_int_text(value, what)) * 10**-places)
    sign, digits, exponent = Decimal(_int_text(value, what)).as_tuple()
    assert isinstance(exponent, int)
    return Decimal((sign, digits, exponent - places))


@attrs.frozen
class MarketDecimals:
    """How one market scales its integers (docs/venues/vega.rst#vega-decimals)."""

    price: int
    """``decimalPlaces``: prices are integers in units of 10**-price."""
    position: int
    """``positionDecimalPlaces`` (may be negative): sizes are in units of 10**-position."""

    @classmethod
    def from_market(cls, market: Mapping[str, Any]) -> MarketDecimals:
        """From a REST ``Market`` object (``GET /api/v2/market/{id}`` → ``market``), where both
        are 64-bit and so JSON strings; an omitted one is 0."""
        try:
            price = _wire_int(market.get("decimalPlaces", "0"), "decimalPlaces")
            position = _wire_int(market.get("positionDecimalPlaces", "0"), "positionDecimalPlaces")
        except AttributeError as exc:
            raise ProtocolViolation("market is not an object", raw=market) from exc
        return cls(price, position)

    def price_of(self, value: Any) -> Decimal:
        """A wire price as a real price (an unsigned integer string on the wire)."""
        return checked_amount(_scaled(_unsigned(value, "price"), self.price, "price"), "price")

    def size_of(self, value: Any) -> Decimal:
        """A wire size or volume as a real size (uint64 on the wire)."""
        return checked_amount(_scaled(_unsigned(value, "size"), self.position, "size"), "size")


DecimalsLookup = Callable[[str], Optional[MarketDecimals]]
"""Gives a market's decimals, or None while they are not known. It never blocks: the protocol
asks for unknown ones as a ``Job`` (the client fetches them over REST on its worker) and holds
what needs them meanwhile. Tests use ``decimals_from_mapping``."""


def decimals_from_mapping(known: Mapping[str, MarketDecimals]) -> DecimalsLookup:
    """A lookup over fixed decimals (tests, or users who know their markets)."""
    return lambda market_id: known.get(market_id)


# Trades held while their market's decimals load, at most; past it the oldest are dropped
# and reported (a REST outage must not grow memory without bound).
_MAX_HELD_TRADES = 10_000
# A failed decimals fetch is asked again after this long (seconds).
_DECIMALS_RETRY_AFTER = 5.0
# How long the pages of one snapshot may take to end with ``lastPage``, and how many updates
# may wait for it: past either, the snapshot is taken again (a fresh socket) and it is said.
SNAPSHOT_TIMEOUT = 30.0
_MAX_HELD_UPDATES = 10_000


def _encode_decimals(decimals: MarketDecimals) -> list[int]:
    """``[price, position]``: how recordings keep a market's decimals."""
    return [decimals.price, decimals.position]
