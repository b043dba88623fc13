"""Allium's API over WebSocket, sans-I/O: request frames out, replies matched by id in.

Allium carries any call of its developer REST API over one socket
(https://docs.allium.so/datastreams/websockets, "APIs over Websockets"). A request is
``{"method", "id", "path", "body"}``; for ``GET`` the ``body`` holds the query parameters. The
reply is ``{"id", "status": "success" | "error", "data"}``, where ``data`` is the result or the
error message. Replies come in any order, matched by ``id``; at most 1,000 requests may be in
flight per connection.

``AlliumApiProtocol`` has no socket, thread or clock: the ``Connection`` that owns it calls it
under its lock, hands it fresh request ids, and resolves the Futures it answers through
``reply``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Optional, Union

import attrs

from wsclients.core import codec
from wsclients.core.protocol import ProtocolBuffers, guarded_parse
from wsclients.errors import (
    AlliumRequestFailed,
    AlliumTooManyInFlight,
    ProtocolViolation,
    RequestFailed,
    shorten,
)
from wsclients.models import ErrorEvent, Message

__all__ = [
    "API_URL",
    "MAX_IN_FLIGHT",
    "METHODS",
    "AlliumApiProtocol",
    "Body",
    "check_request",
    "request_frame",
]

logger = logging.getLogger(__name__)

VENUE = "allium"

API_URL = "wss://api.allium.so/api/v1/developer/ws/api"
"""The endpoint of Allium's API over WebSocket."""

METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
"""The HTTP methods a request may name (the venue's list)."""

MAX_IN_FLIGHT = 1000
"""Requests the venue lets one connection have in flight at once."""

Body = Union[Mapping[str, Any], Sequence[Any]]
"""A request's ``body``: key-value pairs (the query parameters for ``GET``), or a JSON array
for the endpoints that take one (e.g. ``POST /api/v1/developer/prices``)."""

# The venue's error text when a connection has too many requests in flight.
_IN_FLIGHT_TEXT = "max inflight requests reached"
# How long past its timeout a request's method and path are kept for a late error reply.
# The caller has its RequestTimeout by then; this only bounds what the table holds.
_FORGET_AFTER = 5.0


def check_request(method: str, path: str, body: Optional[Body] = None) -> tuple[str, str]:
    """Check a request before anything is sent; returns the method in upper case and the path.

    Raises:
        ValueError: an unknown method, a path that is not absolute (``/api/v1/…``), a body
            that is neither an object nor an array, or a ``GET`` body that is not an object
            of query parameters.
    """
    if not isinstance(method, str) or method.upper() not in METHODS:
        raise ValueError(f"method must be one of {sorted(METHODS)}, got {method!r}")
    method = method.upper()
    if not isinstance(path, str) or not path.startswith("/") or any(c.isspace() for c in path):
        raise ValueError(f"path must be an absolute API path like '/api/v1/…', got {path!r}")
    if body is not None:
        if isinstance(body, (str, bytes, bytearray)) or not isinstance(body, (Mapping, Sequence)):
            raise ValueError(f"body must be a JSON object or array, got {type(body).__name__}")
        if method == "GET" and not isinstance(body, Mapping):
            raise ValueError("a GET body holds the query parameters: it must be an object")
    return method, path


def request_frame(request_id: str, method: str, path: str, body: Optional[Body] = None) -> str:
    """The request as sent: ``{"method","id","path"}`` and ``body`` when there is one."""
    frame: dict[str, Any] = {"method": method, "id": request_id, "path": path}
    if body is not None:
        frame["body"] = dict(body) if isinstance(body, Mapping) else list(body)
    return codec.dumps(frame)


@attrs.define
class _Sent:
    """A request sent on the current socket and not answered yet."""

    request_id: int
    method: str
    path: str
    timeout: Optional[float]
    forget_at: Optional[float] = None


class AlliumApiProtocol(ProtocolBuffers):
    """Requests out, replies in, for one socket to Allium's API endpoint.

    There is no handshake on the socket (the key travels in the upgrade's ``X-API-KEY``
    header), so the session is up as soon as the socket opens. Each request is remembered
    by its wire id until its reply comes, to name its method and path in an error; the
    table is emptied with every socket, whose end fails each pending request anyway.

    Every method is called under the owning connection's lock: single-threaded code.
    """

    venue = VENUE

    def __init__(self) -> None:
        super().__init__()
        self._sent: dict[str, _Sent] = {}
        self._now: Optional[float] = None

    @property
    def in_flight(self) -> int:
        """Requests sent on this socket whose reply has not come (nor been given up on)."""
        return len(self._sent)

    # -- commands (under the connection's lock) -------------------------------------------

    def queue_request(
        self,
        request_id: int,
        method: str,
        path: str,
        body: Optional[Body] = None,
        *,
        timeout: Optional[float] = None,
    ) -> None:
        """Queue the frame of request ``request_id`` (checked with ``check_request`` before).

        ``timeout`` is how long its caller waits; the request is forgotten a little after it,
        so a reply that never comes leaves nothing behind.
        """
        wire_id = str(request_id)
        forget_at = None
        if timeout is not None and self._now is not None:
            forget_at = self._now + timeout + _FORGET_AFTER
        self._sent[wire_id] = _Sent(request_id, method, path, timeout, forget_at)
        self._outgoing.append(request_frame(wire_id, method, path, body))

    # -- hooks ---------------------------------------------------------------------------

    def on_open(self) -> None:
        """A fresh socket: nothing is in flight on it."""
        self._sent.clear()
        super().on_open()

    def on_close(self, code: Optional[int], reason: str) -> None:
        """The socket is gone, and with it every reply still owed (the connection fails
        their Futures with ``ConnectionLost``)."""
        self._sent.clear()

    def on_tick(self, now: float) -> None:
        """Forget requests whose caller stopped waiting long ago."""
        self._now = now
        expired = []
        for wire_id, sent in self._sent.items():
            if sent.forget_at is None:
                if sent.timeout is not None:
                    sent.forget_at = now + sent.timeout + _FORGET_AFTER
            elif now >= sent.forget_at:
                expired.append(wire_id)
        for wire_id in expired:
            del self._sent[wire_id]

    def receive_text(self, data: Union[str, bytes], *, received_ns: int) -> None:
        """Match one reply to its request. Never raises: a frame we cannot read becomes a
        non-fatal ``ErrorEvent``, and a frame that answers no request becomes a ``Message``
        on channel ``"api"`` (or an ``ErrorEvent`` when it reports an error)."""
        guarded_parse(self._receive, self._report, data, received_ns)

    # -- parsing -------------------------------------------------------------------------

    def _receive(self, data: Union[str, bytes], received_ns: int) -> None:
        frame = codec.loads(data)
        if not isinstance(frame, dict):
            raise ProtocolViolation("an API reply must be a JSON object", raw=shorten(data))
        wire_id = frame.get("id")
        if isinstance(wire_id, int) and not isinstance(wire_id, bool):
            wire_id = str(wire_id)
        sent = self._sent.pop(wire_id, None) if isinstance(wire_id, str) else None
        status = frame.get("status")
        if sent is None:
            self._unmatched(frame, wire_id, status, received_ns)
            return
        if status == "success":
            self.reply(sent.request_id, frame.get("data"))
        elif status == "error":
            self.reply(sent.request_id, error=_request_error(sent, frame.get("data")))
        else:
            self.reply(sent.request_id, error=ProtocolViolation(
                f"reply to {sent.method} {sent.path} has status {status!r}, not "
                "'success' or 'error'", raw=shorten(data),
            ))

    def _unmatched(
        self, frame: dict[str, Any], wire_id: Any, status: Any, received_ns: int
    ) -> None:
        if wire_id is not None and status in ("success", "error"):
            # A reply to a request given up on long ago, or not ours: nobody waits for it.
            logger.debug("Allium API reply for unknown or expired id %s", shorten(wire_id, 40))
            return
        if status == "error":
            exc = RequestFailed(_error_text(frame.get("data")), request="Allium API")
            self._events.append(ErrorEvent.from_exception(
                exc, venue=VENUE, received_ns=received_ns, fatal=False, raw=frame,
                code="request_failed",
            ))
            return
        self._events.append(
            Message(venue=VENUE, channel="api", data=frame, received_ns=received_ns, raw=frame)
        )

def _error_text(data: Any) -> str:
    """The server's error message: ``data`` is documented as a string; anything else is kept
    as compact JSON."""
    if isinstance(data, str):
        return data
    try:
        return codec.dumps(data)
    except (TypeError, ValueError):
        return repr(data)


def _request_error(sent: _Sent, data: Any) -> AlliumRequestFailed:
    message = _error_text(data)
    if _IN_FLIGHT_TEXT in message.lower():
        return AlliumTooManyInFlight(sent.method, sent.path, message, limit=MAX_IN_FLIGHT)
    return AlliumRequestFailed(sent.method, sent.path, message)
