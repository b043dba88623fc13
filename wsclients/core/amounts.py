"""Plausibility checks on prices and sizes: what no venue sends is an error, not market data.

``Decimal`` happily parses ``NaN``, ``Infinity``, ``-5`` and ``1e999999``. A frame carrying one
of those as a price or size is broken (or hostile); delivering it would poison a book, a
dataframe or a strategy downstream. Each venue parser passes its numbers through
``checked_amount`` with its own rule for negative prices, and a failure becomes the usual
non-fatal ``ErrorEvent`` for that frame.
"""

from __future__ import annotations

from decimal import Decimal

from wsclients.errors import ProtocolViolation

__all__ = ["MAX_MAGNITUDE", "PLAUSIBLE_HIGH", "PLAUSIBLE_LOW", "checked_amount"]

MAX_MAGNITUDE = 40
"""Largest decimal exponent accepted either way (``1e40`` and ``1e-40`` are the limits): far
beyond any price or size traded, far below what would make arithmetic on it slow."""

PLAUSIBLE_LOW = Decimal(f"1e-{MAX_MAGNITUDE}")
PLAUSIBLE_HIGH = Decimal(f"1e{MAX_MAGNITUDE + 1}")
"""Every amount ``a`` with ``PLAUSIBLE_LOW <= a < PLAUSIBLE_HIGH`` passes ``checked_amount``
(finite, positive, exponent in range): a parser's hot path may test that in two comparisons
and call ``checked_amount`` only for the rest (zero, negatives, NaN: comparing a NaN raises
``InvalidOperation``)."""


def checked_amount(number: Decimal, what: str, *, negative: bool = False) -> Decimal:
    """``number`` when it is a finite amount in range; ``negative`` allows values below zero
    (a venue whose products can trade at negative prices).

    Raises:
        ProtocolViolation: NaN, an infinity, a negative value not allowed, or a magnitude
            beyond ``MAX_MAGNITUDE``.
    """
    if not number.is_finite():
        raise ProtocolViolation(f"{what} is not a finite number: {number}")
    if number.is_signed() and number and not negative:
        raise ProtocolViolation(f"{what} is negative: {number}")
    if number and not -MAX_MAGNITUDE <= number.adjusted() <= MAX_MAGNITUDE:
        raise ProtocolViolation(f"{what} is out of range: {str(number)[:40]}")
    return number
