"""Cadenza (algo724): its Centrifugo WebSocket API, channels, order books and client.

https://github.com/cyberapper/cadenza-client-python (``docs/WebSocketApi.md``)
"""

from __future__ import annotations

from wsclients.venues.cadenza.book import BookKeeper, BookUpdate, parse_order_book
from wsclients.venues.cadenza.channels import (
    DOCUMENTED_CHANNELS,
    UNIFIED_CHANNELS,
    ChannelTemplates,
    split_instrument,
)
from wsclients.venues.cadenza.protocol import CadenzaProtocol
from wsclients.venues.cadenza.record_replay import recording
from wsclients.venues.cadenza.trades import parse_trades

__all__ = [
    "DOCUMENTED_CHANNELS",
    "UNIFIED_CHANNELS",
    "BookKeeper",
    "BookUpdate",
    "CadenzaProtocol",
    "ChannelTemplates",
    "parse_order_book",
    "parse_trades",
    "recording",
    "split_instrument",
]
