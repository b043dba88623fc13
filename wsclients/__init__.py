"""wsclients: synchronous, thread-based WebSocket clients for market-data venues."""

from __future__ import annotations

import logging

from wsclients import plot
from wsclients._version import __version__
from wsclients.book import BookSide, OrderBook
from wsclients.collect import collect_events
from wsclients.core.client import Stats
from wsclients.core.hub import EventQueue
from wsclients.dataframe import to_dataframe, to_dataframes
from wsclients.errors import (
    AlliumRequestFailed,
    AlliumTooManyInFlight,
    AuthenticationFailed,
    BookOutOfSync,
    CallbackFailed,
    CentrifugoError,
    ClientStopped,
    ConnectFailed,
    ConnectionLost,
    CorruptRecording,
    FrameRejected,
    InvalidOption,
    MessageTooLarge,
    NotConnected,
    NotRecordable,
    ProtocolStopped,
    ProtocolViolation,
    QueueOverflow,
    RateLimited,
    RecordedFailure,
    RecordingFailed,
    RequestFailed,
    RequestTimeout,
    SubscriptionRejected,
    TooManyInFlight,
    TradevestError,
    UnknownVenue,
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
from wsclients.recording import Recorder, ReplayClient, replay
from wsclients.venues.allium import AlliumApiClient, AlliumStreamClient, F
from wsclients.venues.cadenza.channels import (
    DOCUMENTED_CHANNELS,
    UNIFIED_CHANNELS,
    ChannelTemplates,
)
from wsclients.venues.cadenza.client import CadenzaClient
from wsclients.venues.centrifugo.client import CentrifugoClient
from wsclients.venues.centrifugo.events import Publication, RecoveryFailed
from wsclients.venues.hyperliquid import HyperliquidClient
from wsclients.venues.hyperliquid.rest import HyperliquidInfo
from wsclients.venues.tradevest import TradevestClient
from wsclients.venues.vega import VegaClient
from wsclients.venues.vega.rest import VegaRest

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "__version__",
    # clients
    "AlliumApiClient",
    "AlliumStreamClient",
    "F",
    "CadenzaClient",
    "CentrifugoClient",
    "HyperliquidClient",
    "HyperliquidInfo",
    "TradevestClient",
    "TradevestError",
    "VegaClient",
    "VegaRest",
    # building blocks
    "ChannelTemplates",
    "DOCUMENTED_CHANNELS",
    "UNIFIED_CHANNELS",
    "BookSide",
    "EventQueue",
    "OrderBook",
    "Stats",
    # notebooks (pandas and matplotlib are imported only when these run)
    "collect_events",
    "plot",
    "to_dataframe",
    "to_dataframes",
    # record and replay
    "Recorder",
    "ReplayClient",
    "replay",
    # errors
    "AlliumRequestFailed",
    "AlliumTooManyInFlight",
    "AuthenticationFailed",
    "BookOutOfSync",
    "CallbackFailed",
    "CentrifugoError",
    "ClientStopped",
    "ConnectFailed",
    "ConnectionLost",
    "CorruptRecording",
    "FrameRejected",
    "InvalidOption",
    "MessageTooLarge",
    "NotConnected",
    "NotRecordable",
    "ProtocolStopped",
    "ProtocolViolation",
    "QueueOverflow",
    "RateLimited",
    "RecordedFailure",
    "RecordingFailed",
    "RequestFailed",
    "RequestTimeout",
    "SubscriptionRejected",
    "TooManyInFlight",
    "UnknownVenue",
    "WSClientError",
    # models
    "Book",
    "BookLevel",
    "ConnectionState",
    "ErrorEvent",
    "Event",
    "Message",
    "Publication",
    "RecoveryFailed",
    "Side",
    "Status",
    "Trade",
]
