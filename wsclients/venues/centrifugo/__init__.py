"""Centrifugo client protocol v2 over JSON: the sans-I/O protocol and the client.

https://centrifugal.dev/docs/transports/client_protocol
"""

from __future__ import annotations

from wsclients.venues.centrifugo.codes import is_terminal_close, should_resubscribe
from wsclients.venues.centrifugo.events import Publication, RecoveryFailed
from wsclients.venues.centrifugo.protocol import CentrifugoProtocol, TokenSource
from wsclients.venues.centrifugo.record_replay import recording

__all__ = [
    "CentrifugoProtocol",
    "Publication",
    "RecoveryFailed",
    "TokenSource",
    "is_terminal_close",
    "recording",
    "should_resubscribe",
]
