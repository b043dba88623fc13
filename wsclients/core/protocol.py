"""What a connection needs from a venue: a sans-I/O protocol object driven by strings alone.

A venue implements ``VenueProtocol`` with no socket, thread, lock or clock of its own, so a
recorded frame always yields the same events. The ``Connection`` (``core/connection.py``) owns
the socket and the threads and **serialises every call into its protocol** with one lock of
its own: the reader thread (frames), the shared timer thread (heartbeat, deadlines) and user
threads (commands: a subscribe, a request) never run protocol code at the same time. Events
are published, replies resolved and callbacks run only after that lock is released.

A protocol talks back through ``ProtocolBuffers``, which every venue protocol inherits:

- ``_events`` / ``_outgoing``: events parsed, frames owed to the venue (sent at once, in
  order, by whichever thread made the call);
- ``close_request``: close the socket now (reconnect with backoff, or stop for good);
- ``open_session()``: for venues with a handshake on the socket (``needs_session = True``:
  a Centrifugo ``connect``, an auth step), the session is up only when the protocol says so;
  ``start()`` waits for it and requests wait for it;
- ``set_heartbeat()``: ping interval and stale timeout decided at run time (Centrifugo
  announces its ping period in the connect reply);
- ``ask(job)``: blocking work (HTTP) the protocol needs; the client runs it on a worker and
  hands the answer back through ``job_done`` — never on the reader or the timer thread;
- ``reply(...)``: the answer to a request made with ``Connection.request``.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from typing import Any, Callable, ClassVar, Optional, Protocol, TypeVar, Union

import attrs

from wsclients.errors import ProtocolViolation, WSClientError, shorten
from wsclients.models import ErrorEvent, Event

__all__ = [
    "CloseRequest",
    "Heartbeat",
    "Job",
    "ProtocolBuffers",
    "Reply",
    "VenueProtocol",
    "PARSE_ERRORS",
    "guarded_parse",
    "parse_failed",
]

logger = logging.getLogger(__name__)

PARSE_ERRORS: tuple[type[BaseException], ...] = (
    KeyError, TypeError, ValueError, ArithmeticError, IndexError, AttributeError, WSClientError,
)
"""What reading a malformed item raises: dict, str and Decimal handling, or one of ours."""

_D = TypeVar("_D")


def guarded_parse(
    parse: Callable[[_D, int], None],
    report: Callable[[BaseException, int, _D], None],
    data: _D,
    received_ns: int,
) -> None:
    """One parse step (a frame, or one line of a batched frame) whose failure the venue
    reports in its own words: an item it cannot read becomes the venue's ``ErrorEvent`` and
    the next one is read as usual. Anything else is a bug; it is logged and reported the
    same way rather than lose the rest of a batch."""
    try:
        parse(data, received_ns)
    except Exception as exc:
        parse_failed(exc, report, data, received_ns)


def parse_failed(
    exc: Exception,
    report: Callable[[BaseException, int, _D], None],
    data: _D,
    received_ns: int,
) -> None:
    """What ``guarded_parse`` does with a failure, for a hot path that writes its own
    ``try`` (a call and two bound methods less per frame)."""
    if not isinstance(exc, PARSE_ERRORS):  # should never happen: keep the stream alive anyway
        logger.error("unexpected error parsing a frame", exc_info=exc)
    report(exc, received_ns, data)


@attrs.frozen
class CloseRequest:
    """A protocol's wish that the connection close its socket.

    ``fatal=True`` stops the connection for good (bad credentials, a stream the venue will
    never serve); otherwise the connection reconnects with backoff, as after any drop.
    ``code`` is the close code sent to the venue (1000 when None).
    """

    reason: str
    fatal: bool = False
    code: Optional[int] = None
    delay: Optional[float] = None
    """Wait at least this long before the next attempt (a venue that said "come back later");
    None leaves the delay to the backoff."""
    quiet: bool = False
    """The protocol has reported why already: no ``ConnectionLost`` event for this close."""


@attrs.frozen
class Heartbeat:
    """Timings a protocol decides at run time; None turns a watch off."""

    ping_interval: Optional[float]
    stale_timeout: Optional[float]


@attrs.frozen
class Job:
    """Blocking work a protocol asks for (a token, a REST snapshot, a lookup).

    ``kind`` names the work for the client that runs it; ``key`` lets the protocol match the
    answer to the question (and ignore an answer for a socket that is gone).
    """

    kind: str
    key: Hashable = None
    args: Any = attrs.field(default=None, eq=False)


@attrs.frozen
class Reply:
    """The answer to request ``request_id``: a result, or the error to raise to its caller."""

    request_id: Hashable
    result: Any = None
    error: Optional[BaseException] = None


class VenueProtocol(Protocol):
    """The hooks a venue gives a ``Connection``; every call is made under the connection's
    lock, so implementations are single-threaded code."""

    needs_session: ClassVar[bool]
    """True when the socket being open is not enough: the session is up only after the
    protocol calls ``open_session()`` (e.g. on the reply to its connect command)."""
    close_request: Optional[CloseRequest]
    session_up: bool
    heartbeat: Optional[Heartbeat]
    attention: bool
    reader_held_up: bool
    """True when the reader waited for room in a full ``overflow="block"`` queue since the
    previous tick: replies (pongs) and server pings may sit unread behind the user's backlog,
    so a missing one proves nothing about the server. Set by the connection before each
    ``on_tick``."""

    def reset_socket_state(self) -> None:
        """Per-socket flags back to their start (called right before ``on_open``)."""

    def open_session(self) -> None:
        """The session is up."""

    def on_open(self) -> None:
        """A fresh socket is open: reset per-socket state and queue what must be sent first
        (auth, connect; for venues without a session step, every subscription)."""

    def on_close(self, code: Optional[int], reason: str) -> None:
        """The socket is gone (any cause); forget what was tied to it."""

    def receive_text(self, data: Union[str, bytes], *, received_ns: int) -> None:
        """Parse one frame. Should not raise: a bad frame becomes a non-fatal ``ErrorEvent``
        (the connection guards the call anyway and reports what escapes)."""

    def on_tick(self, now: float) -> None:
        """Called from the timer thread about once a second while the socket is open, with
        ``time.monotonic()``: check deadlines (token expiry, missed pongs)."""

    def ping_message(self) -> Optional[str]:
        """The venue's app-level heartbeat frame, or None to send WebSocket pings instead."""
        ...

    def is_fatal(self, code: Optional[int], exc: Optional[BaseException]) -> bool:
        """Whether a close with this code (or this connect error) must stop reconnecting."""
        ...

    def job_done(self, job: Job, result: Any, error: Optional[BaseException]) -> None:
        """The answer to a ``Job`` this protocol asked for."""

    def take_events(self) -> list[Event]:
        """The events parsed since the last call; each is returned once."""
        ...

    def take_frames(self) -> list[str]:
        """Frames owed to the venue; each is returned once."""
        ...

    def take_replies(self) -> list[Reply]:
        """Answers to requests; each is returned once."""
        ...

    def take_jobs(self) -> list[Job]:
        """Blocking work asked for; each is returned once."""
        ...


class ProtocolBuffers:
    """The bookkeeping every venue protocol shares, and sensible defaults for the hooks.

    ``attention`` is raised whenever something beyond events and frames waits (a close, the
    session coming up, a reply, a job, a new heartbeat), so the reader's per-frame path reads
    one attribute for all of them.
    """

    needs_session: ClassVar[bool] = False
    venue: str = "venue"
    """The venue's name on the events this protocol makes."""

    def __init__(self) -> None:
        self._close_request: Optional[CloseRequest] = None
        self.session_up = False
        self.heartbeat: Optional[Heartbeat] = None
        self.attention = False
        self.reader_held_up = False
        self._events: list[Event] = []
        self._outgoing: list[str] = []
        self._replies: list[Reply] = []
        self._jobs: list[Job] = []

    # -- what a venue calls ----------------------------------------------------------------

    @property
    def close_request(self) -> Optional[CloseRequest]:
        """Set to ask for the socket to be closed; the connection acts on it at once."""
        return self._close_request

    @close_request.setter
    def close_request(self, value: Optional[CloseRequest]) -> None:
        self._close_request = value
        if value is not None:
            self.attention = True

    def open_session(self) -> None:
        """The session is up (the venue accepted us): the connection reports CONNECTED."""
        if not self.session_up:
            self.session_up = True
            self.attention = True

    def set_heartbeat(self, ping_interval: Optional[float], stale_timeout: Optional[float]) -> None:
        """Use these timings on this socket from now on (reset on every new socket)."""
        self.heartbeat = Heartbeat(ping_interval, stale_timeout)
        self.attention = True

    def ask(self, job: Job) -> None:
        """Ask the client to run blocking work; the answer comes back in ``job_done``."""
        self._jobs.append(job)
        self.attention = True

    def reply(
        self, request_id: Hashable, result: Any = None, error: Optional[BaseException] = None
    ) -> None:
        """Answer request ``request_id`` (made with ``Connection.request``)."""
        self._replies.append(Reply(request_id, result, error))
        self.attention = True

    def _report(self, exc: BaseException, received_ns: int, raw: Any) -> None:
        """A frame or item we could not read, as one non-fatal ``ErrorEvent``: one of our
        errors as it is, anything else wrapped in ``ProtocolViolation`` (the original as its
        cause), the raw text shortened; the next frame is read as usual."""
        if not isinstance(exc, WSClientError):
            wrapped = ProtocolViolation(f"cannot parse frame ({type(exc).__name__}: {exc})")
            wrapped.__cause__ = exc
            exc = wrapped
        if isinstance(raw, (str, bytes, bytearray)):
            raw = shorten(raw)
        self._events.append(ErrorEvent.from_exception(
            exc, venue=self.venue, received_ns=received_ns, fatal=False, raw=raw,
            code="protocol_violation",
        ))

    # -- default hooks -----------------------------------------------------------------------

    def on_open(self) -> None:
        """A fresh socket; nothing to send by default. (Venues without a session step are up
        as soon as this returns.)"""

    def on_close(self, code: Optional[int], reason: str) -> None:
        """The socket is gone."""

    def on_tick(self, now: float) -> None:
        """No deadlines to check by default."""

    def ping_message(self) -> Optional[str]:
        """WebSocket pings by default."""
        return None

    def is_fatal(self, code: Optional[int], exc: Optional[BaseException]) -> bool:
        """Nothing is fatal by default (401/403 on the upgrade are, in the connection)."""
        return False

    def job_done(self, job: Job, result: Any, error: Optional[BaseException]) -> None:
        """Venues that ask for jobs override this."""

    def job_done_at(
        self, job: Job, result: Any, error: Optional[BaseException], *, received_ns: int
    ) -> None:
        """``job_done`` with the time the answer came in, which is what the client calls.
        A protocol whose events built from an answer carry a time overrides this one
        instead, so that a replayed answer (``wsclients.recording``) yields its recorded
        time; by default it is ``job_done``."""
        self.job_done(job, result, error)

    # -- what the connection drains --------------------------------------------------------

    def reset_socket_state(self) -> None:
        """Called by the connection before ``on_open``: per-socket flags back to their start."""
        self._close_request = None
        self.session_up = False
        self.heartbeat = None
        self.attention = False
        self._outgoing.clear()

    def take_events(self) -> list[Event]:
        """The events parsed since the last call; each is returned once."""
        events, self._events = self._events, []
        return events

    def take_frames(self) -> list[str]:
        """Frames the protocol owes the venue; each is returned once."""
        frames, self._outgoing = self._outgoing, []
        return frames

    def take_replies(self) -> list[Reply]:
        """Answers to requests; each is returned once."""
        replies, self._replies = self._replies, []
        return replies

    def take_jobs(self) -> list[Job]:
        """Blocking work asked for; each is returned once."""
        jobs, self._jobs = self._jobs, []
        return jobs
