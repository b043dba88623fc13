"""Hyperliquid: one socket carrying every subscription, an app-level heartbeat and ``post``
requests matched by ``id`` (docs/venues/hyperliquid.rst).

One file per concern: ``subscriptions`` (validation), ``parsing`` (items to events), ``protocol``
(sans-I/O), ``client``, ``limits`` (the venue's message and connection limits), ``rest`` (the
HTTP companion), ``record_replay`` (replay).
"""

from __future__ import annotations

from wsclients.venues.hyperliquid.client import HyperliquidClient
from wsclients.venues.hyperliquid.parsing import (
    book_from_l2,
    decode_fast_asset_ctxs,
    trade_from_item,
)
from wsclients.venues.hyperliquid.protocol import HyperliquidProtocol
from wsclients.venues.hyperliquid.record_replay import recording
from wsclients.venues.hyperliquid.subscriptions import (
    CANDLE_INTERVALS,
    MAINNET_URL,
    TESTNET_URL,
    Subscription,
    subscription_key,
    validate_subscription,
)

__all__ = [
    "CANDLE_INTERVALS",
    "HyperliquidClient",
    "HyperliquidProtocol",
    "MAINNET_URL",
    "Subscription",
    "TESTNET_URL",
    "book_from_l2",
    "decode_fast_asset_ctxs",
    "recording",
    "subscription_key",
    "trade_from_item",
    "validate_subscription",
]
