"""Vega data node: every ``/api/v2/stream/*`` stream, a correct local order book, and the client.

On Vega the subscription *is* the connection: each stream is its own WebSocket whose URL and
query string say what to send (docs/venues/vega.rst). One file per concern: ``urls``,
``streams`` (routes and checks), ``decimals``, ``frames``, ``protocol`` (one stream socket),
``book`` (the local order book), ``client``, ``rest`` (the REST companion), ``record_replay``.
"""

from __future__ import annotations

from wsclients.venues.vega.book import VegaBookProtocol
from wsclients.venues.vega.client import (
    Subscription,
    VegaBookSubscription,
    VegaClient,
    check_market_id,
)
from wsclients.venues.vega.decimals import DecimalsLookup, MarketDecimals, decimals_from_mapping
from wsclients.venues.vega.frames import StreamError
from wsclients.venues.vega.protocol import VegaStreamProtocol
from wsclients.venues.vega.record_replay import recording
from wsclients.venues.vega.streams import STREAM_LIMIT, STREAM_PATHS, VegaStream, make_stream
from wsclients.venues.vega.urls import rest_base_url, stream_base_url

__all__ = [
    "DecimalsLookup",
    "MarketDecimals",
    "STREAM_LIMIT",
    "STREAM_PATHS",
    "StreamError",
    "Subscription",
    "VegaBookProtocol",
    "VegaBookSubscription",
    "VegaClient",
    "VegaStream",
    "VegaStreamProtocol",
    "check_market_id",
    "decimals_from_mapping",
    "make_stream",
    "recording",
    "rest_base_url",
    "stream_base_url",
]
