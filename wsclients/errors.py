"""The one exception hierarchy of wsclients.

::

    WSClientError
    ├── ConnectFailed          could not connect, or the attempts ran out
    │   ├── AuthenticationFailed   bad key / token / JWT: fatal, never retried
    │   └── ProtocolStopped        the venue's protocol ended the socket for good
    ├── NotConnected           a send or request while the socket is not open
    ├── ConnectionLost         an open socket ended without our asking (we reconnect)
    ├── SubscriptionRejected   the venue refused a subscription (or we refused it first)
    ├── ProtocolViolation      a frame we cannot understand (also ValueError)
    │   ├── FrameRejected          a server frame breaks RFC 6455: fail the socket with its code
    │   └── MessageTooLarge        a message or inflated payload over its size limit, skipped
    ├── TradevestError         Tradevest's ERROR message, with its connectionId
    ├── RequestFailed          a REST or in-socket request answered with an error
    │   ├── RateLimited            HTTP 429 after the retries
    │   ├── AlliumRequestFailed    an Allium API request answered ``status: "error"``
    │   │   └── AlliumTooManyInFlight  Allium's own "max inflight requests reached" (also
    │   │                              TooManyInFlight)
    │   └── CentrifugoError        a Centrifugo reply error (code, message, temporary)
    ├── RequestTimeout         no answer in time (also TimeoutError)
    ├── TooManyInFlight        the venue's in-flight request limit is reached
    ├── BookOutOfSync          a sequence gap or crossed book: resync needed
    ├── ClientStopped          the client stopped while the call waited
    ├── InvalidOption          a constructor option or argument of the wrong type or value
    ├── CallbackFailed         a user callback raised (the stream goes on)
    ├── QueueOverflow          a bounded queue dropped events (once per episode)
    ├── RecordingFailed        a recording could not be written (the client goes on)
    ├── CorruptRecording       a recording's line could not be read (also ValueError)
    ├── UnknownVenue           no replay support for a recording's venue (also ValueError)
    ├── NotRecordable          a client whose traffic a replay could not stand for (also
    │                          ValueError)
    └── RecordedFailure        blocking work that failed while recording, replayed

Blocking calls raise these; background threads deliver them inside an ``ErrorEvent``.
Every translation of a websocket-client or requests exception chains the original as
``__cause__``. Messages are built in ``__str__`` from fields and never hold secrets or whole
payloads.
"""

from __future__ import annotations

import reprlib
from typing import Any, Optional

__all__ = [
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
    "TradevestError",
    "UnknownVenue",
    "WSClientError",
    "bounded_repr",
    "shorten",
]

_MAX_SHOWN = 200


def _bounded_repr() -> reprlib.Repr:
    """A ``repr`` that stops at a fixed depth and item count.

    Venue data can nest a thousand levels deep (a hostile or broken frame): the builtin
    ``repr`` then raises ``RecursionError``, and a huge list costs its whole size in time
    even when only 200 characters are kept.
    """
    bounded = reprlib.Repr()
    bounded.maxlevel = 8
    bounded.maxdict = bounded.maxlist = bounded.maxtuple = 32
    bounded.maxset = bounded.maxfrozenset = bounded.maxdeque = bounded.maxarray = 32
    bounded.maxstring = bounded.maxother = bounded.maxlong = _MAX_SHOWN
    return bounded


_REPR = _bounded_repr()


def bounded_repr(value: Any) -> str:
    """``repr(value)`` at most 8 levels and 32 items per level deep, strings cut at 200
    characters: safe on any venue data, however deep or large."""
    return _REPR.repr(value)


def shorten(value: Any, limit: int = _MAX_SHOWN) -> str:
    """A printable, bounded rendering of a payload for messages and logs.

    Bounded in time and depth whatever ``value`` holds: text is cut at ``limit`` characters,
    other values are rendered at most 8 levels and 32 items per level deep (``reprlib``),
    so deeply nested venue data cannot raise ``RecursionError`` here.
    """
    if isinstance(value, (bytes, bytearray, memoryview)):
        text = bytes(value[: limit + 1]).decode("utf-8", "replace")
    elif isinstance(value, str):
        text = value
    else:
        text = bounded_repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


class WSClientError(Exception):
    """Root of every error wsclients raises or reports."""

    fatal: bool = False
    """Whether the condition stops a client instead of being retried."""

    code: Optional[Any] = None

    def __repr__(self) -> str:
        # Bounded like shorten(): an argument may be deeply nested venue data, whose builtin
        # repr raises RecursionError (and an ErrorEvent's repr shows its exception).
        return f"{type(self).__name__}({', '.join(map(bounded_repr, self.args))})"


class ConnectFailed(WSClientError):
    """Could not connect, or the allowed attempts are used up."""

    def __init__(
        self, url: str, *, attempts: int = 0, code: Optional[int] = None, reason: str = ""
    ) -> None:
        super().__init__(url, attempts, code, reason)
        self.url = url
        self.attempts = attempts
        self.code = code
        self.reason = reason

    def __str__(self) -> str:
        text = f"could not connect to {self.url}"
        if self.attempts:
            text += f" after {self.attempts} attempt{'s' if self.attempts != 1 else ''}"
        if self.code is not None:
            text += f" (code {self.code})"
        if self.reason:
            text += f": {shorten(self.reason)}"
        return text


class AuthenticationFailed(ConnectFailed):
    """The venue refused our credentials. Fatal: retrying would only hammer it."""

    fatal = True

    def __str__(self) -> str:
        text = f"authentication failed at {self.url}"
        if self.code is not None:
            text += f" (code {self.code})"
        if self.reason:
            text += f": {shorten(self.reason)}"
        return text


class ProtocolStopped(ConnectFailed):
    """The venue protocol ended the connection for good; it has already reported why in an
    ``ErrorEvent`` of its own (a refused stream, a terminal close code)."""

    fatal = True

    def __str__(self) -> str:
        return self.reason or f"{self.url}: stopped by the venue protocol"


class NotConnected(WSClientError):
    """A send or request while the socket is not open (connecting, reconnecting, closed).

    Not a kind of ``ConnectFailed``: nothing failed to connect, the call came at a moment
    without a socket, and retrying it later is the usual answer.
    """

    def __init__(self, url: str, *, reason: str = "") -> None:
        super().__init__(url, reason)
        self.url = url
        self.reason = reason

    def __str__(self) -> str:
        return f"not connected to {self.url}" + (f" ({self.reason})" if self.reason else "")


class ConnectionLost(WSClientError):
    """An open socket ended without our asking: a close frame, a TCP drop or silence."""

    def __init__(self, url: str, *, code: Optional[int] = None, reason: str = "") -> None:
        super().__init__(url, code, reason)
        self.url = url
        self.code = code
        self.reason = reason

    def __str__(self) -> str:
        text = f"connection to {self.url} lost"
        if self.code is not None:
            text += f" (code {self.code})"
        if self.reason:
            text += f": {shorten(self.reason)}"
        return text


class SubscriptionRejected(WSClientError, ValueError):
    """A subscription the venue refused, or one we refuse before sending because the venue
    would accept it silently and never answer (or drop the socket)."""

    def __init__(self, subscription: Any, reason: str, *, code: Optional[Any] = None) -> None:
        super().__init__(subscription, reason)
        self.subscription = subscription
        self.reason = reason
        self.code = code

    def __str__(self) -> str:
        return f"subscription {shorten(self.subscription)} rejected: {self.reason}"


class ProtocolViolation(WSClientError, ValueError):
    """A frame or item we cannot understand. The stream goes on with the next one."""

    def __init__(self, reason: str, *, raw: Any = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.raw = raw

    def __str__(self) -> str:
        if self.raw is None:
            return self.reason
        return f"{self.reason}: {shorten(self.raw)}"


class RequestFailed(WSClientError):
    """A request (REST or over the socket) answered with an error."""

    def __init__(
        self, reason: str, *, status: Optional[int] = None, request: Optional[str] = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.code = status
        self.request = request

    def __str__(self) -> str:
        text = self.request + ": " if self.request else ""
        if self.status is not None:
            text += f"HTTP {self.status}: "
        return text + shorten(self.reason)


class RateLimited(RequestFailed):
    """The venue kept answering 429 after our retries, or banned us for a while (a 403 that
    says when to come back). ``retry_after`` is that wait in seconds, when the venue gave one."""

    def __init__(
        self,
        reason: str,
        *,
        status: Optional[int] = None,
        request: Optional[str] = None,
        retry_after: Optional[float] = None,
    ) -> None:
        super().__init__(reason, status=status, request=request)
        self.retry_after = retry_after


class CentrifugoError(RequestFailed):
    """A Centrifugo server answered a command with an error (``{"code", "message",
    "temporary"}``, https://centrifugal.dev/docs/server/codes).

    ``temporary`` errors (100 internal, 111 too many requests) may succeed when retried; 109
    means the token expired.
    """

    def __init__(
        self, code: int, message: str, *, temporary: bool = False, request: Optional[str] = None
    ) -> None:
        super().__init__(message, request=request)
        self.args = (code, message, temporary, request)
        self.code = code
        self.server_code = code
        self.message = message
        self.temporary = temporary

    def __str__(self) -> str:
        text = self.request + ": " if self.request else ""
        text += f"error {self.code}: {shorten(self.message)}"
        return text + " (temporary)" if self.temporary else text


class RequestTimeout(WSClientError, TimeoutError):
    """No answer in time."""

    def __init__(self, what: str, timeout: Optional[float]) -> None:
        super().__init__(what, timeout)
        self.what = what
        self.timeout = timeout

    def __str__(self) -> str:
        if self.timeout is None:
            return f"{self.what}: no answer"
        return f"{self.what}: no answer within {self.timeout:g} s"


class TooManyInFlight(WSClientError):
    """The in-flight request limit is reached and the caller chose not to wait."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit

    def __str__(self) -> str:
        return f"{self.limit} requests already in flight"


class AlliumRequestFailed(RequestFailed):
    """An Allium API request over the socket answered ``{"status": "error", "data": …}``.

    ``message`` is the server's own text (``data``); ``method`` and ``path`` say which request
    it answers, since one socket carries many at once.
    """

    def __init__(self, method: str, path: str, message: str) -> None:
        super().__init__(message, request=f"{method} {path}")
        self.method = method
        self.path = path
        self.message = message

    def __str__(self) -> str:
        return f"Allium {self.method} {self.path} failed: {shorten(self.message)}"


class AlliumTooManyInFlight(AlliumRequestFailed, TooManyInFlight):
    """Allium refused a request because the connection already has its maximum in flight
    ("max inflight requests reached, please wait for requests to finish"). The client keeps
    to the limit itself, so this comes only when the server counts differently; retrying
    once other requests finished is safe."""

    def __init__(self, method: str, path: str, message: str, *, limit: int = 1000) -> None:
        super().__init__(method, path, message)
        self.limit = limit


class BookOutOfSync(WSClientError):
    """The local book can no longer be trusted (gap or crossed): it must be resynced."""

    def __init__(
        self, symbol: str, *, expected: Optional[int] = None, got: Optional[int] = None,
        reason: str = "sequence gap",
    ) -> None:
        super().__init__(symbol, expected, got, reason)
        self.symbol = symbol
        self.expected = expected
        self.got = got
        self.reason = reason

    def __str__(self) -> str:
        text = f"book {self.symbol} out of sync: {self.reason}"
        if self.expected is not None or self.got is not None:
            text += f" (expected {self.expected}, got {self.got})"
        return text


class ClientStopped(WSClientError):
    """The client stopped (or the connection dropped) while the call was waiting."""

    def __init__(self, reason: str = "client stopped") -> None:
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return self.reason


class InvalidOption(WSClientError, TypeError, ValueError):
    """An option or argument of the wrong type or value, refused where it was given.

    Also a ``TypeError`` and a ``ValueError``, so either standard idiom catches it.
    """

    def __init__(self, name: str, expected: str, value: Any) -> None:
        super().__init__(name, expected, value)
        self.name = name
        self.expected = expected
        self.value = value

    def __str__(self) -> str:
        return f"{self.name} must be {self.expected}; got {shorten(repr(self.value), 80)}"


class QueueOverflow(WSClientError):
    """A bounded queue overflowed and events were dropped (reported once per episode)."""

    def __init__(self, queue_name: str, maxsize: int, policy: str) -> None:
        super().__init__(queue_name, maxsize, policy)
        self.queue_name = queue_name
        self.maxsize = maxsize
        self.policy = policy

    def __str__(self) -> str:
        return (
            f"{self.queue_name} is full ({self.maxsize} events): the consumer is too slow, "
            f"dropping events ({self.policy}) until it catches up"
        )


class CallbackFailed(WSClientError):
    """A user callback raised; the event stream goes on."""

    def __init__(self, callback: str, kind: str) -> None:
        super().__init__(callback, kind)
        self.callback = callback
        self.kind = kind

    def __str__(self) -> str:
        cause = self.__cause__
        detail = f": {type(cause).__name__}: {cause}" if cause is not None else ""
        return f"callback {self.callback} raised on a {self.kind} event{detail}"


class TradevestError(WSClientError):
    """Tradevest's ``ERROR`` message: its text and the ``connectionId`` Tradevest asks for
    when investigating (https://docs.tradevest.ai/websockets/websocket-prices/prices)."""

    def __init__(self, error: str, *, connection_id: Optional[str] = None) -> None:
        super().__init__(error, connection_id)
        self.error = error
        self.connection_id = connection_id

    def __str__(self) -> str:
        text = f"Tradevest error: {shorten(self.error)}"
        if self.connection_id:
            text += f" (connectionId {shorten(self.connection_id, 64)})"
        return text


class RecordingFailed(WSClientError):
    """Writing a recording failed (a full disk, a closed file); the recording stops and the
    client goes on."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(path, reason)
        self.path = path
        self.reason = reason

    def __str__(self) -> str:
        return f"recording to {self.path} failed: {shorten(self.reason)}; recording stopped"


class CorruptRecording(WSClientError, ValueError):
    """A line of a recording that cannot be read (cut short, not JSON, missing fields). A
    replay reports it and goes on with the next line; only an unreadable header is raised."""

    def __init__(self, path: str, line: int, reason: str) -> None:
        super().__init__(path, line, reason)
        self.path = path
        self.line = line
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.path}, line {self.line}: {shorten(self.reason)}"


class UnknownVenue(WSClientError, ValueError):
    """A recording names a venue that registered no replay support."""

    def __init__(self, venue: str, reason: str = "") -> None:
        super().__init__(venue, reason)
        self.venue = venue
        self.reason = reason

    def __str__(self) -> str:
        text = f"no replay support for venue {shorten(self.venue, 64)!r}"
        return f"{text}: {self.reason}" if self.reason else text


class NotRecordable(WSClientError, ValueError):
    """``record`` on a client whose traffic a replay could not stand for (its replies answer
    its caller's requests, which are not on the wire it receives)."""

    def __init__(self, client: str, reason: str) -> None:
        super().__init__(client, reason)
        self.client = client
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.client} cannot be recorded: {self.reason}"


class RecordedFailure(WSClientError):
    """Blocking work (a REST snapshot, a lookup) that failed while recording, handed to the
    protocol again on replay: ``type_name`` is the original error's class."""

    def __init__(self, type_name: str, message: str) -> None:
        super().__init__(type_name, message)
        self.type_name = type_name
        self.message = message

    def __str__(self) -> str:
        return f"{self.type_name}: {self.message}" if self.message else self.type_name
class FrameRejected(ProtocolViolation):
    """A server frame breaks RFC 6455, so the connection must be failed (RFC 6455 §7.1.7).

    The reader raises it and reads no further; the connection sends a close frame with
    ``close_code`` and opens a new socket. ``close_code`` is 1002 (protocol error: reserved
    bits or opcode, a masked or malformed frame, a bad close frame) or 1007 (text that is not
    UTF-8), RFC 6455 §7.4.1. ``reason`` is short ASCII, fit for the close frame's reason.
    """

    def __init__(self, close_code: int, reason: str) -> None:
        super().__init__(reason)
        self.close_code = close_code
        self.code = close_code

    def __str__(self) -> str:
        return f"frame rejected with close code {self.close_code}: {self.reason}"


class MessageTooLarge(ProtocolViolation):
    """A message (or a payload being inflated) over its size limit was skipped unread.

    The stream goes on after it: nothing of it was held in memory past the limit.
    """

    def __init__(self, size: int, limit: int, *, what: str = "message") -> None:
        super().__init__(f"{what} too large")
        self.size = size
        self.limit = limit
        self.what = what

    def __str__(self) -> str:
        if self.what == "message":
            return (f"message of {self.size} bytes exceeds max_message_size={self.limit}; "
                    "skipped")
        return f"{self.what} exceeds {self.limit} bytes; skipped"
