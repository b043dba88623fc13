"""Cadenza's channel names: documented, overridable templates, never one hard-coded form.

Cadenza's WebSocket page (https://github.com/cyberapper/cadenza-client-python,
``docs/WebSocketApi.md``) lists ``market:orderBook:{instrumentId}``,
``market:trade:{instrumentId}`` and ``tradingAccount:{accountId}``; the unified market-data
schemas of 2026-05 (same repository, ``api/openapi.yaml`` of the Go client) name them
``market:orderbook:{venue}:{symbol}`` and ``market:trade:{venue}:{symbol}``. Which form a
server uses is not confirmed, so the client takes a ``ChannelTemplates`` value and ships both:
``DOCUMENTED_CHANNELS`` (the default) and ``UNIFIED_CHANNELS``.

A template is a ``str.format`` string with these fields:

- ``{instrument_id}``: the instrument as given, e.g. ``BINANCE:BTC/USDT``;
- ``{venue}`` and ``{symbol}``: its two halves, ``BINANCE`` and ``BTC/USDT`` (split at the
  first ``:``), spelled as given — a server that wants ``binance`` or ``BTCUSDT`` gets them
  when the user passes them so;
- ``{account_id}``: a trading account id.
"""

from __future__ import annotations

import string
from typing import Optional

import attrs

__all__ = [
    "DOCUMENTED_CHANNELS",
    "UNIFIED_CHANNELS",
    "ChannelTemplates",
    "split_instrument",
]

_FIELDS = frozenset(["instrument_id", "venue", "symbol", "account_id"])


def split_instrument(instrument_id: str) -> tuple[str, str]:
    """``"BINANCE:BTC/USDT"`` → ``("BINANCE", "BTC/USDT")``.

    Raises:
        ValueError: the id has no ``VENUE:`` prefix or an empty half.
    """
    venue, sep, symbol = instrument_id.partition(":")
    if not sep or not venue or not symbol:
        raise ValueError(
            f"an instrument id is VENUE:SYMBOL (e.g. 'BINANCE:BTC/USDT'), got {instrument_id!r}")
    return venue, symbol


def _check(template: str) -> None:
    names = {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}
    unknown = names - _FIELDS
    if unknown:
        raise ValueError(f"unknown field(s) {sorted(unknown)} in channel template {template!r}; "
                         f"use {sorted(_FIELDS)}")


@attrs.frozen(kw_only=True)
class ChannelTemplates:
    """How channel names are built from instruments and accounts.

    Raises:
        ValueError: a template uses a field other than ``instrument_id``, ``venue``,
            ``symbol`` and ``account_id``.
    """

    order_book: str = "market:orderBook:{instrument_id}"
    """The order-book channel of one instrument."""
    trades: str = "market:trade:{instrument_id}"
    """The public-trades channel of one instrument."""
    trading_account: str = "tradingAccount:{account_id}"
    """The events of one trading account (orders, portfolio, balances)."""

    def __attrs_post_init__(self) -> None:
        for template in (self.order_book, self.trades, self.trading_account):
            _check(template)

    def order_book_channel(self, instrument_id: str) -> str:
        """The order-book channel of ``instrument_id``."""
        return _fill(self.order_book, instrument_id=instrument_id)

    def trades_channel(self, instrument_id: str) -> str:
        """The trades channel of ``instrument_id``."""
        return _fill(self.trades, instrument_id=instrument_id)

    def trading_account_channel(self, account_id: str) -> str:
        """The channel of trading account ``account_id``."""
        return _fill(self.trading_account, account_id=account_id)


def _fill(
    template: str, *, instrument_id: Optional[str] = None, account_id: Optional[str] = None
) -> str:
    fields: dict[str, str] = {}
    if instrument_id is not None:
        if not isinstance(instrument_id, str) or not instrument_id:
            raise ValueError("an instrument id is a non-empty string")
        fields["instrument_id"] = instrument_id
        if "{venue}" in template or "{symbol}" in template:
            fields["venue"], fields["symbol"] = split_instrument(instrument_id)
    if account_id is not None:
        if not isinstance(account_id, str) or not account_id:
            raise ValueError("an account id is a non-empty string")
        fields["account_id"] = account_id
    try:
        return template.format(**fields)
    except KeyError as exc:
        raise ValueError(f"channel template {template!r} needs {exc.args[0]!r}") from exc


DOCUMENTED_CHANNELS = ChannelTemplates()
"""The channels Cadenza's WebSocket page lists (the default)."""

UNIFIED_CHANNELS = ChannelTemplates(
    order_book="market:orderbook:{venue}:{symbol}",
    trades="market:trade:{venue}:{symbol}",
)
"""The channels of Cadenza's 2026-05 unified market-data schemas."""
