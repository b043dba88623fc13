"""The transport and recovery options of one socket, as one frozen value.

A client builds one ``ConnectionOptions`` from its constructor arguments and hands it to every
socket it opens (``attrs.evolve`` for a socket that differs, e.g. its own headers), instead
of threading a dozen arguments through three constructors.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable, Optional, Union

import attrs

from wsclients.core.backoff import Backoff

__all__ = ["ConnectionOptions", "Headers"]

Headers = Union[Mapping[str, str], Callable[[], Mapping[str, str]]]
"""Extra upgrade headers: fixed, or a callable asked on every connect (tokens that expire)."""


@attrs.frozen(kw_only=True)
class ConnectionOptions:
    """How one socket connects, watches and recovers. Every field has the library default."""

    reconnect: bool = True
    """Reconnect after an unexpected close (False: the socket ends with its first close)."""
    backoff: Backoff = Backoff()
    """Delays between attempts, and the attempt limit."""
    healthy_after: float = 10.0
    """Seconds a socket must stay open before the backoff starts again from its first delay."""
    ping_interval: Optional[float] = None
    """Seconds between heartbeats (the venue's app-level ping, or a WebSocket ping)."""
    stale_timeout: Optional[float] = None
    """Seconds without any frame before the socket is declared dead."""
    connect_timeout: float = 10.0
    """One deadline for TCP connect, TLS and the upgrade handshake, seconds."""
    headers: Optional[Headers] = attrs.field(default=None, repr=False)
    """Extra upgrade headers (never shown: they may carry a token)."""
    ws_options: Mapping[str, Any] = attrs.field(factory=dict)
    """Passed to websocket-client: ``sslopt``, ``http_proxy_host``, ``http_proxy_port``,
    ``proxy_type``."""
    max_message_size: Optional[int] = 64 * 1024 * 1024
    """Largest message accepted, bytes; a larger one is skipped and reported."""
    request_limit: Optional[int] = None
    """Requests in flight at once on this socket (``Connection.request``); None: no limit."""
