"""Tradevest Websocket Prices: bid/ask ladders for EUR/crypto markets.

One socket carries one ``PRICE_SUBSCRIPTION``, fixed for its lifetime; the server then
streams ``PRICES`` messages and, on any error, one ``ERROR`` and a close
(docs/venues/tradevest.rst). One file per concern: ``markets`` (market names and times),
``protocol`` (sans-I/O), ``client``, ``record_replay``.

Symbols: the venue has no instrument id, only ``{"currency": "EUR", "cryptoSymbol": "BTC"}``.
Users name a market ``"EUR/BTC"`` (currency first, as the venue's JSON has it) in the API, the
CLI and the examples alike; events name it ``"BTC-EUR"`` (crypto first, as a base-quote pair
is usually written), and every place that takes markets accepts that string too, as well as a
``("EUR", "BTC")`` tuple.
"""

from __future__ import annotations

from wsclients.errors import TradevestError
from wsclients.venues.tradevest.client import TradevestClient
from wsclients.venues.tradevest.markets import (
    DEFAULT_URL,
    PRETEST_URL,
    TEST_URL,
    MarketSpec,
    TradevestMarket,
    normalize_markets,
    parse_time_ns,
)
from wsclients.venues.tradevest.protocol import TradevestProtocol
from wsclients.venues.tradevest.record_replay import recording

__all__ = [
    "DEFAULT_URL",
    "MarketSpec",
    "PRETEST_URL",
    "TEST_URL",
    "TradevestClient",
    "TradevestError",
    "TradevestMarket",
    "TradevestProtocol",
    "normalize_markets",
    "parse_time_ns",
    "recording",
]
