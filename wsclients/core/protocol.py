"""What a connection needs from a venue: a sans-I/O protocol object driven by strings alone.

A venue module implements ``VenueProtocol`` with no socket, thread or clock of its own, so a
recorded frame always yields the same events. The ``Connection`` (``core/connection.py``) owns
the socket and the threads and calls these methods, all on its reader thread except
``ping_message`` (called from the shared timer thread) — so ``ping_message`` must not touch
state that ``receive_text`` changes without care.
"""

from __future__ import annotations

from typing import Optional, Protocol, Union

import attrs

from wsclients.models import Event

__all__ = ["CloseRequest", "ProtocolBuffers", "VenueProtocol"]


@attrs.frozen
class CloseRequest:
    """A protocol's wish that the connection close its socket.

    ``fatal=True`` stops the connection for good (bad credentials, a stream the venue will
    never serve); otherwise the connection reconnects with backoff, as after any drop.
    """

    reason: str
    fatal: bool = False
    code: Optional[int] = None


class VenueProtocol(Protocol):
    """The hooks a venue gives a ``Connection``.

    Per frame the reader thread calls ``receive_text``, then drains ``events_received`` and
    ``data_to_send``, then looks at ``close_request``.
    """

    close_request: Optional[CloseRequest]
    """Set by ``receive_text`` when the venue wants the socket closed; the connection reads it
    after every frame and resets it to None on the next ``on_open``."""

    def on_open(self) -> None:
        """A fresh socket is open: reset per-socket state and queue what must be sent first
        (auth, the subscription). Subscriptions kept by the client are restored by the client
        itself right after, so they are not queued here."""

    def receive_text(self, data: Union[str, bytes], *, received_ns: int) -> None:
        """Parse one frame. Never raises: a bad frame becomes a non-fatal ``ErrorEvent``."""

    def events_received(self) -> list[Event]:
        """The events parsed since the last call; each is returned once."""
        ...

    def data_to_send(self) -> list[str]:
        """Frames the protocol owes the venue (pong, auth, ack); each is returned once."""
        ...

    def ping_message(self) -> Optional[str]:
        """The venue's app-level heartbeat frame, or None to send WebSocket pings instead."""
        ...

    def is_fatal(self, code: Optional[int], exc: Optional[BaseException]) -> bool:
        """Whether a close with this code (or this connect error) must stop reconnecting."""
        ...


class ProtocolBuffers:
    """The bookkeeping every venue protocol repeats: the close request and the two lists that
    ``receive_text`` fills and the connection drains. Venue protocols inherit it and append to
    ``_events`` and ``_outgoing``."""

    def __init__(self) -> None:
        self.close_request: Optional[CloseRequest] = None
        self._events: list[Event] = []
        self._outgoing: list[str] = []

    def events_received(self) -> list[Event]:
        """The events parsed since the last call; each is returned once."""
        events, self._events = self._events, []
        return events

    def data_to_send(self) -> list[str]:
        """Frames the protocol owes the venue; each is returned once."""
        frames, self._outgoing = self._outgoing, []
        return frames
