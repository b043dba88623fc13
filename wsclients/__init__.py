"""wsclients: synchronous, thread-based WebSocket clients for market-data venues."""

from __future__ import annotations

import logging

from wsclients._version import __version__
from wsclients.errors import (
    AuthenticationFailed,
    BookOutOfSync,
    ClientStopped,
    ConnectFailed,
    ProtocolViolation,
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

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "__version__",
    # errors
    "AuthenticationFailed",
    "BookOutOfSync",
    "ClientStopped",
    "ConnectFailed",
    "ProtocolViolation",
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
