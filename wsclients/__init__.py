"""wsclients: synchronous, thread-based WebSocket clients for market-data venues."""

from __future__ import annotations

import logging

from wsclients._version import __version__
from wsclients.book import BookSide, OrderBook
from wsclients.core.client import Stats
from wsclients.core.hub import EventQueue
from wsclients.errors import (
    AlliumRequestFailed,
    AlliumTooManyInFlight,
    AuthenticationFailed,
    BookOutOfSync,
    CallbackFailed,
    ClientStopped,
    ConnectFailed,
    ConnectionLost,
    NotConnected,
    ProtocolViolation,
    QueueOverflow,
    RateLimited,
    RequestFailed,
    RequestTimeout,
    SubscriptionRejected,
    TooManyInFlight,
    WSClientError,
)
from wsclients.models import (
    Book,
    BookLevel,
    ConnectionState,
    ErrorEvent,
    Event,
    Message,
    Side,
    Status,
    Trade,
)
from wsclients.venues.allium import AlliumApiClient, AlliumStreamClient, F
from wsclients.venues.hyperliquid import HyperliquidClient
from wsclients.venues.hyperliquid_rest import HyperliquidInfo
from wsclients.venues.tradevest import TradevestClient, TradevestError
from wsclients.venues.vega import VegaClient
from wsclients.venues.vega_rest import VegaRest

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "__version__",
    # clients
    "AlliumApiClient",
    "AlliumStreamClient",
    "F",
    "HyperliquidClient",
    "HyperliquidInfo",
    "TradevestClient",
    "TradevestError",
    "VegaClient",
    "VegaRest",
    # building blocks
    "BookSide",
    "EventQueue",
    "OrderBook",
    "Stats",
    # errors
    "AlliumRequestFailed",
    "AlliumTooManyInFlight",
    "AuthenticationFailed",
    "BookOutOfSync",
    "CallbackFailed",
    "ClientStopped",
    "ConnectFailed",
    "ConnectionLost",
    "NotConnected",
    "ProtocolViolation",
    "QueueOverflow",
    "RateLimited",
    "RequestFailed",
    "RequestTimeout",
    "SubscriptionRejected",
    "TooManyInFlight",
    "WSClientError",
    # models
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
