"""The base client every venue client is: one hub, its sockets, and their lifecycle.

``Client`` holds what all venues share — the constructor options of docs/options.rst, the hub
with its callbacks and queues, ``start``/``stop``/``run_forever``, ``get``/``events``/
``queue``, ``state``, ``stats`` and a secret-free ``repr``. ``SubscribingClient`` adds the
one-socket, many-subscriptions pattern with a registry that queues subscriptions made before
``start()``, sends them at once while connected, and restores each exactly once after every
reconnect.
"""

from __future__ import annotations

import enum
import logging
import os
import threading
import time
import warnings
from collections.abc import Hashable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Literal, Optional, TypeVar, Union

import attrs

from wsclients.core import timers
from wsclients.core.backoff import Backoff
from wsclients.core.client_options import (
    check_options,
    check_url,
    document_client,
)
from wsclients.core.connection import Connection, OnClose, OnOpen
from wsclients.core.consumer import EventConsumer
from wsclients.core.deadline import Deadline
from wsclients.core.hub import Hub, Sink
from wsclients.core.options import ConnectionOptions
from wsclients.core.protocol import Job, VenueProtocol
from wsclients.core.redact import redact_url
from wsclients.core.worker import Worker
from wsclients.errors import (
    ClientStopped,
    ConnectFailed,
    InvalidOption,
    SubscriptionRejected,
    WSClientError,
)
from wsclients.models import ConnectionState

if TYPE_CHECKING:
    from wsclients.recording.recorder import Recorder

__all__ = [
    "DEFAULT", "Client", "HeaderSource", "Seconds", "Stats", "StreamSet", "SubscribingClient",
]

logger = logging.getLogger(__name__)


class _Default(enum.Enum):
    """Marks an option left to the venue's own default (None already means "off")."""

    token = 0

    def __repr__(self) -> str:
        return "DEFAULT"


DEFAULT = _Default.token
Seconds = Union[float, None, Literal[_Default.token]]

Callback = Optional[Callable[[Any], Any]]
HeaderSource = Union[Mapping[str, str], Callable[[], Mapping[str, str]]]
"""``headers=``: a mapping, or a callable asked for the headers on every (re)connect."""
_ClientT = TypeVar("_ClientT", bound="Client")
_P = TypeVar("_P")
_T = TypeVar("_T")

# Later states win when several sockets disagree: the client is as healthy as its worst one.
_STATE_ORDER = {
    ConnectionState.CONNECTED: 0,
    ConnectionState.IDLE: 1,
    ConnectionState.CLOSED: 1,
    ConnectionState.CONNECTING: 2,
    ConnectionState.RECONNECTING: 3,
}


@attrs.frozen(kw_only=True)
class Stats:
    """A snapshot of a client's counters (``client.stats``); later changes do not show."""

    state: ConnectionState
    """The client's state when the snapshot was taken."""
    messages: int
    """WebSocket data frames received, over all sockets and reconnects."""
    bytes: int
    """Payload bytes of those frames."""
    events: int
    """Events published (trades, books, messages, statuses, errors)."""
    reconnects: int
    """Times a socket went back to connecting after a drop, a failure or a forced reconnect."""
    dropped: int
    """Events dropped by queue overflow, over every queue."""
    errors: int
    """Error events published."""
    resyncs: int
    """Order-book resyncs from REST (venues with sequenced books)."""
    connections: int
    """Sockets open right now."""
    last_message_age: Optional[float]
    """Seconds since the last data frame on any socket; None before the first."""


class Client(EventConsumer):
    """Base of every venue client. See docs/options.rst for the options; all are keyword-only.

    Subclasses name their venue and defaults in class attributes, build their protocol(s)
    and open their socket(s) with ``_open_connection``.
    """

    venue: ClassVar[str] = "generic"
    default_url: ClassVar[str] = ""
    default_ping_interval: ClassVar[Optional[float]] = 20.0
    default_stale_timeout: ClassVar[Optional[float]] = 60.0
    url_schemes: ClassVar[tuple[str, ...]] = ("ws", "wss")
    """The URL schemes ``url`` may have (a venue taking an HTTP base URL adds its own)."""
    stop_when_all_closed: ClassVar[bool] = True
    """Whether the client stops itself once every socket has ended for good (fatal error or
    reconnect off). Venues whose sockets come and go with subscriptions say False."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Every client class shows the common options in its signature and docstring."""
        super().__init_subclass__(**kwargs)
        document_client(cls)

    def __init__(
        self,
        *,
        url: Optional[str] = None,
        # Callbacks
        on_trade: Callback = None,
        on_book: Callback = None,
        on_message: Callback = None,
        on_error: Callback = None,
        on_status: Callback = None,
        dispatch: str = "thread",
        # Reconnect
        reconnect: bool = True,
        backoff_min: float = 0.5,
        backoff_max: float = 30.0,
        max_attempts: Optional[int] = None,
        healthy_after: float = 10.0,
        # Heartbeat
        ping_interval: Seconds = DEFAULT,
        stale_timeout: Seconds = DEFAULT,
        # Queues
        queue_size: int = 100_000,
        overflow: str = "drop_oldest",
        # Transport
        headers: Optional[HeaderSource] = None,
        sslopt: Optional[Mapping[str, Any]] = None,
        http_proxy_host: Optional[str] = None,
        http_proxy_port: Optional[int] = None,
        proxy_type: Optional[str] = None,
        connect_timeout: float = 10.0,
        max_message_size: Optional[int] = 64 * 1024 * 1024,
        # Recording
        record: Optional[Union[str, os.PathLike[str]]] = None,
    ) -> None:
        check_options({
            "url": url, "on_trade": on_trade, "on_book": on_book, "on_message": on_message,
            "on_error": on_error, "on_status": on_status, "dispatch": dispatch,
            "reconnect": reconnect, "backoff_min": backoff_min, "backoff_max": backoff_max,
            "max_attempts": max_attempts, "healthy_after": healthy_after,
            "ping_interval": None if ping_interval is DEFAULT else ping_interval,
            "stale_timeout": None if stale_timeout is DEFAULT else stale_timeout,
            "queue_size": queue_size, "overflow": overflow, "headers": headers,
            "sslopt": sslopt, "http_proxy_host": http_proxy_host,
            "http_proxy_port": http_proxy_port, "proxy_type": proxy_type,
            "connect_timeout": connect_timeout, "max_message_size": max_message_size,
        })
        if backoff_max < backoff_min:
            raise InvalidOption("backoff_max", f"at least backoff_min ({backoff_min})",
                                backoff_max)
        self.url = check_url(url or self.default_url, self.url_schemes)
        self._backoff = Backoff(
            min_delay=backoff_min, max_delay=backoff_max, max_attempts=max_attempts
        )
        self.ping_interval = _positive_or_none(
            "ping_interval",
            self.default_ping_interval if ping_interval is DEFAULT else ping_interval,
        )
        self.stale_timeout = _positive_or_none(
            "stale_timeout",
            self.default_stale_timeout if stale_timeout is DEFAULT else stale_timeout,
        )
        self._queue_size = queue_size
        self._overflow = overflow
        self._headers: HeaderSource = headers if callable(headers) else dict(headers or {})
        self._ws_options: dict[str, Any] = {
            "sslopt": dict(sslopt) if sslopt else None,
            "http_proxy_host": http_proxy_host,
            "http_proxy_port": http_proxy_port,
            "proxy_type": proxy_type,
        }
        self._options = ConnectionOptions(
            reconnect=reconnect,
            backoff=self._backoff,
            healthy_after=healthy_after,
            ping_interval=self.ping_interval,
            stale_timeout=self.stale_timeout,
            connect_timeout=connect_timeout,
            ws_options=self._ws_options,
            max_message_size=max_message_size,
        )
        """What every socket of this client starts from (``_open_connection`` varies it)."""
        self._hub = Hub(
            venue=self.venue,
            callbacks={
                "trade": on_trade, "book": on_book, "message": on_message,
                "error": on_error, "status": on_status,
            },
            dispatch=dispatch,
            queue_size=queue_size,
            overflow=overflow,
        )
        self._connections: list[Connection] = []
        self._lock = threading.RLock()  # guards _connections and the started/stopped flags
        self._started = False
        self._warned_unstarted = False
        self._stopped = threading.Event()
        self._shutdown_done = threading.Event()
        self._resyncs = 0
        self._worker = Worker(self.venue)
        self._recorder: Optional[Recorder] = None
        if record is not None:
            self.record(record)

    # -- for subclasses ----------------------------------------------------------------

    def _open_connection(
        self,
        url: str,
        protocol: VenueProtocol,
        *,
        name: str = "",
        display_url: Optional[str] = None,
        headers: Optional[Mapping[str, str]] = None,
        on_open: Optional[OnOpen] = None,
        on_close: Optional[OnClose] = None,
        ping_interval: Seconds = DEFAULT,
        stale_timeout: Seconds = DEFAULT,
        request_limit: Optional[int] = None,
    ) -> Connection:
        """A managed socket with this client's options; started now if the client runs."""
        base = self._headers
        merged: Optional[HeaderSource]
        if callable(base):
            fixed = dict(headers or {})
            merged = lambda: {**base(), **fixed}  # noqa: E731 - asked on every connect
        else:
            merged = {**base, **(headers or {})} or None
        options = attrs.evolve(
            self._options,
            headers=merged,
            ping_interval=self.ping_interval if ping_interval is DEFAULT else ping_interval,
            stale_timeout=self.stale_timeout if stale_timeout is DEFAULT else stale_timeout,
            request_limit=request_limit,
        )
        connection = Connection(
            url, protocol, self._hub,
            venue=self.venue,
            name=name or self.venue,
            display_url=display_url,
            options=options,
            on_open=on_open,
            on_close=on_close,
            on_finish=self._connection_finished,
            on_jobs=self._schedule_jobs,
        )
        with self._lock:
            if self._stopped.is_set():
                raise ClientStopped("the client is stopped")
            connection.recorder = self._recorder
            self._connections.append(connection)
            if self._started:
                connection.start()
        return connection

    def _schedule_jobs(self, connection: Connection, jobs: list[Job]) -> None:
        """Run the blocking work a protocol asked for on the worker; its answer goes back
        into the protocol through the connection's command path."""
        for job in jobs:
            self._worker.submit(self._job_runner(connection, job)).add_done_callback(
                self._job_answer(connection, job)
            )

    def _job_runner(self, connection: Connection, job: Job) -> Callable[[], Any]:
        return lambda: self._run_job(connection, job)

    def _job_answer(self, connection: Connection, job: Job) -> Callable[[Any], None]:
        return lambda done: self._job_finished(connection, job, done)

    def _job_finished(self, connection: Connection, job: Job, done: Any) -> None:
        error = done.exception()
        result = None if error is not None else done.result()
        if isinstance(error, ClientStopped) or self._stopped.is_set():
            return
        def answer(protocol: Any) -> None:
            received_ns = time.time_ns()
            recorder = connection.recorder
            if recorder is not None:  # under the lock: in order with the frames
                recorder.job(connection, job, result, error, received_ns)
            done_at = getattr(protocol, "job_done_at", None)
            if done_at is not None:
                done_at(job, result, error, received_ns=received_ns)
            else:
                protocol.job_done(job, result, error)

        try:
            connection.command(answer)
        except Exception:
            logger.exception("%s: handing back %s failed", self.venue, job.kind)

    def _run_job(self, connection: Connection, job: Job) -> Any:
        """Do the blocking work ``job`` names (worker thread). Venues that ask for work
        override this; the default refuses, so a protocol cannot ask for what nobody runs."""
        raise WSClientError(f"{self.venue}: no handler for {job.kind!r} work")

    def _close_connection(self, connection: Connection, timeout: float = 2.0) -> None:
        """Stop one socket and forget it (e.g. a per-stream socket on unsubscribe)."""
        with self._lock:
            if connection in self._connections:
                self._connections.remove(connection)
        connection.stop(timeout)

    def _count_resync(self) -> None:
        """One more order-book resync, for ``stats``."""
        self._resyncs += 1

    def _resync_count(self) -> int:
        """Resyncs counted by the venue's own protocols (added to ``stats.resyncs``)."""
        return 0

    def _has_live_subscriptions(self) -> bool:
        """Whether anything may still arrive: some socket has not ended for good. Venues
        that track subscriptions add that at least one is left (the ``wsclients`` command
        exits when none is)."""
        with self._lock:
            connections = list(self._connections)
        return any(c.state is not ConnectionState.CLOSED for c in connections)

    def _on_start(self) -> None:
        """Called by ``start()`` before the sockets start."""

    def _error_fails_start(self, error: WSClientError) -> bool:
        """Whether a socket's fatal error makes ``start()`` raise (and stop the client).
        Venues whose sockets are independent streams may let one stream's refusal pass."""
        return True

    def _on_stop(self) -> None:
        """Called by ``stop()`` before the sockets stop."""

    def _connection_finished(self, connection: Connection) -> None:
        """A socket ended for good (reader thread). Stop the client when it was the last."""
        if not self.stop_when_all_closed or self._stopped.is_set():
            return
        with self._lock:
            alive = [c for c in self._connections if c.state is not ConnectionState.CLOSED]
        if not alive:
            self._shutdown(drain=True, timeout=1.0)

    # -- lifecycle ---------------------------------------------------------------------

    def start(self, wait: bool = True, timeout: Optional[float] = 10.0) -> None:
        """Start the background threads and connect. Idempotent while running.

        Args:
            wait: return only once every socket is connected (True), or at once (False).
            timeout: how long ``wait`` may take, seconds.

        Raises:
            AuthenticationFailed: the venue refused the credentials (the client is stopped).
            ConnectFailed: not connected within ``timeout``, or the attempts ran out (the
                client is stopped).
            ClientStopped: the client was stopped before; make a new one.
        """
        with self._lock:
            if self._stopped.is_set():
                raise ClientStopped("a stopped client cannot start again; make a new one")
            if not self._started:
                if self._recorder is not None:
                    self._recorder.start(self)  # an unwritable file fails start() here
                self._started = True
                self._hub.start()
                for sink in self._hub.sinks:
                    sink.start()
                self._on_start()
                for connection in list(self._connections):
                    connection.start()
            connections = list(self._connections)
        if not wait:
            return
        deadline = Deadline(timeout)
        for connection in connections:
            if not connection.wait_settled(deadline.remaining()):
                self.stop()
                failed = ConnectFailed(
                    connection.display_url,
                    attempts=connection.attempts,
                    reason=_not_connected_reason(timeout, connection.last_error),
                )
                raise failed from connection.last_error
            error = connection.fatal_error
            if error is not None and self._error_fails_start(error):
                self.stop()
                raise error

    def stop(self, timeout: float = 5.0) -> None:
        """Close every socket, end every thread, close the queues. Idempotent; any thread.

        Returns within about ``timeout`` seconds even mid-backoff or mid-connect. Callbacks
        already queued get up to a second to run (so ``on_status`` hears CLOSED); the rest
        are dropped. Events already queued stay readable with ``get()``.
        """
        self._shutdown(drain=False, timeout=timeout)

    def _shutdown(self, *, drain: bool, timeout: float) -> None:
        with self._lock:
            already = self._stopped.is_set()
            self._stopped.set()
            connections = list(self._connections)
        if already:
            # Stopping already (perhaps by itself after a fatal error): wait for that to
            # finish, so that after stop() returns no callback is still running.
            self._shutdown_done.wait(timeout)
            return
        deadline = Deadline(timeout)
        try:
            self._on_stop()
        except Exception:
            logger.exception("%s: stop hook failed", self.venue)
        for connection in connections:
            connection.stop(_left(deadline, floor=0.05))
        recorder = self._recorder
        if recorder is not None:  # after the sockets: their CLOSED statuses are recorded
            recorder.stop(_left(deadline, floor=0.05))
        self._worker.stop(min(0.5, _left(deadline)))
        # Let queued callbacks (the final CLOSED status among them) run for a moment; a slow
        # backlog is cut off so that stop() stays prompt.
        budget = _left(deadline, floor=0.05)
        self._hub.stop(budget if drain else min(budget, 1.0), drain=True)
        for sink in self._hub.sinks:  # after the last publish: each flushes what it holds
            try:
                sink.stop(_left(deadline, floor=0.05))
            except Exception:
                logger.exception("%s: stopping sink %r failed", self.venue, sink)
        timers.wait_idle(min(1.0, _left(deadline)))
        self._shutdown_done.set()

    def run_forever(self) -> None:
        """Start, then block until ``stop()`` is called elsewhere or Ctrl-C; stops cleanly.

        Ctrl-C, also during the first connect, stops the client and returns normally (no
        traceback; a script ending there exits with status 0).

        Raises:
            ConnectFailed, AuthenticationFailed: as ``start()`` does.
        """
        try:
            self.start()
            while not self._stopped.wait(0.2):
                pass
        except KeyboardInterrupt:
            logger.info("%s: interrupted", self.venue)
        finally:
            self.stop()

    def __enter__(self: _ClientT) -> _ClientT:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.stop()

    # -- consuming ---------------------------------------------------------------------

    def _before_blocking_get(self, timeout: Optional[float]) -> None:
        """``get()`` with no ``timeout`` on a client that was never started warns (a
        ``RuntimeWarning``) and then waits: another thread may yet start the client, but
        usually ``start()`` was forgotten and nothing would ever come."""
        if (timeout is None and not self._started and not self._stopped.is_set()
                and not self._warned_unstarted):
            self._warned_unstarted = True
            warnings.warn(
                f"{type(self).__name__}.get() without a timeout on a client that was never "
                "started waits forever: call start() first (or pass timeout=)",
                RuntimeWarning, stacklevel=3,
            )

    # -- recording ---------------------------------------------------------------------

    def record(
        self, path: Union[str, os.PathLike[str]], *, queue_size: int = 100_000
    ) -> Recorder:
        """Record the wire to ``path`` (JSON lines; gzip when it ends in ``.gz``) until the
        returned ``Recorder`` is stopped or this client stops.

        Every received frame with its ``received_ns``, each socket's opens, closes, status
        changes and live subscriptions, and the answers to blocking work (REST snapshots)
        are written on a thread of the recorder's own; ``wsclients.replay(path)`` plays
        them back through this venue's parsers. Write errors become ``ErrorEvent`` s.

        Raises:
            ValueError: this client is recording already.
            ClientStopped: the client is stopped.
            OSError: the client runs and the file cannot be created.
        """
        from wsclients.recording.recorder import Recorder

        with self._lock:
            if self._stopped.is_set():
                raise ClientStopped("the client is stopped")
            if self._recorder is not None:
                raise ValueError(f"already recording to {self._recorder.path}")
            recorder = Recorder(
                path, venue=self.venue, report=self._hub.report, queue_size=queue_size
            )
            if self._started:
                recorder.start(self)
            recorder.on_stop = self._recording_ended
            self._recorder = recorder
            connections = list(self._connections)
        for connection in connections:
            connection.command(_attacher(connection, recorder))
        return recorder

    def _record_learned(self, learned: Any) -> None:
        """Tell the recording (if any) what the client just learnt that its protocols
        consult outside any frame (e.g. market decimals fetched over REST for all
        sockets); a replay hands it to the venue's ``learned`` hook at this point."""
        recorder = self._recorder
        if recorder is not None:
            recorder.learned(learned)

    def _recording_ended(self, recorder: Recorder) -> None:
        with self._lock:
            if self._recorder is recorder:
                self._recorder = None
            connections = list(self._connections)
        for connection in connections:
            if connection.recorder is recorder:
                connection.recorder = None
    # -- sinks -------------------------------------------------------------------------

    def add_sink(self, sink: Sink) -> None:
        """Forward every event from now on to ``sink`` too (``wsclients.sinks``).

        The sink gets each batch after the queues and callbacks have theirs, on the reader
        thread, and buffers it for a thread of its own; a failing sink is logged and counted
        (``Hub.sink_errors``), never raised into the reader. It starts with the client (at
        once if the client runs) and is stopped, after a last flush, by ``stop()``.

        Raises:
            ClientStopped: the client is stopped.
        """
        with self._lock:
            if self._stopped.is_set():
                raise ClientStopped("the client is stopped")
            self._hub.add_sink(sink)
            if self._started:
                sink.start()

    def remove_sink(self, sink: Sink, timeout: float = 2.0) -> None:
        """Stop forwarding to ``sink`` and stop it (it flushes what it holds). Idempotent."""
        if self._hub.remove_sink(sink):
            sink.stop(timeout)

    # -- introspection -----------------------------------------------------------------

    @property
    def state(self) -> ConnectionState:
        """IDLE before ``start()``, CLOSED after ``stop()``, else the worst socket's state."""
        if self._stopped.is_set():
            return ConnectionState.CLOSED
        if not self._started:
            return ConnectionState.IDLE
        with self._lock:
            states = [c.state for c in self._connections]
        if not states:
            return ConnectionState.CONNECTED
        # A socket that ended for good (a stream the venue refused) does not make the client
        # CLOSED while others still run.
        running: list[ConnectionState] = [s for s in states if s is not ConnectionState.CLOSED]
        states = running or states
        return max(states, key=_STATE_ORDER.__getitem__)

    @property
    def stats(self) -> Stats:
        """A frozen snapshot of the counters."""
        with self._lock:
            connections = list(self._connections)
        last = max((c.last_message_ns or 0 for c in connections), default=0)
        return Stats(
            state=self.state,
            messages=sum(c.messages for c in connections),
            bytes=sum(c.bytes for c in connections),
            events=self._hub.events_published,
            reconnects=sum(c.reconnects for c in connections),
            dropped=self._hub.dropped,
            errors=self._hub.errors,
            resyncs=self._resyncs + self._resync_count(),
            connections=sum(1 for c in connections if c.is_open),
            last_message_age=(time.time_ns() - last) / 1e9 if last else None,
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} venue={self.venue} url={self._display_url()} {self.state}>"

    def _display_url(self) -> str:
        """The URL as shown to people: userinfo and query values hidden."""
        return redact_url(self.url)


document_client(Client)


class SubscribingClient(Client):
    """One socket carrying many subscriptions, sent as messages (Hyperliquid and the like).

    The registry of subscriptions lives in the protocol (one registry, one owner): the
    protocol sends a subscription at once when its session is up, and restores every one
    itself when a new session comes up. The client only hands it commands.
    """

    def __init__(self, protocol: VenueProtocol, **options: Any) -> None:
        super().__init__(**options)
        self._protocol = protocol
        self._connection = self._open_connection(
            self.url, protocol, name=self.venue, display_url=self._display_url(),
            request_limit=self._request_limit(),
        )

    def _request_limit(self) -> Optional[int]:
        """Requests in flight at once on the socket (venues with requests say how many)."""
        return None

    def _command(self, fn: Callable[[Any], _T]) -> _T:
        """Run ``fn(protocol)`` under the connection's lock; what it queues is sent now.

        Raises:
            ClientStopped: the client is stopped.
        """
        if self._stopped.is_set():
            raise ClientStopped("the client is stopped")
        return self._connection.command(fn)

    def _reconnect(self, reason: str) -> None:
        """Close the socket and reconnect at once (a ``Status`` event carries ``reason``)."""
        self._connection.reconnect_now(reason)


class StreamSet:
    """Socket-per-subscription bookkeeping (Vega streams, Allium topics): key → socket.

    Opening the same key twice keeps one socket; ``limit`` refuses one more socket than the
    venue allows, up front, instead of letting the venue refuse it over and over.
    """

    def __init__(self, client: Client, *, limit: Optional[int] = None, what: str = "stream"):
        self._client = client
        self.limit = limit
        self._what = what
        self._lock = threading.Lock()  # guards _sockets and _count
        self._sockets: dict[Hashable, Connection] = {}
        self._count = 0

    def open(
        self, key: Hashable, url: str, protocol: VenueProtocol, *, name: str = "",
        **kwargs: Any,
    ) -> Optional[Connection]:
        """Open a socket for ``key``; None when ``key`` already has one.

        Raises:
            SubscriptionRejected: ``limit`` sockets are open already.
            ClientStopped: the client is stopped.
        """
        with self._lock:
            if key in self._sockets:
                return None
            if self.limit is not None and len(self._sockets) >= self.limit:
                raise SubscriptionRejected(
                    key, f"at most {self.limit} {self._what}s may be open at once"
                )
            self._count += 1
            number = self._count
        connection = self._client._open_connection(
            url, protocol, name=f"{name or self._client.venue}-{number}", **kwargs
        )
        with self._lock:
            self._sockets[key] = connection
        return connection

    def close(self, key: Hashable, timeout: float = 2.0) -> bool:
        """Close ``key``'s socket; False when it had none."""
        with self._lock:
            connection = self._sockets.pop(key, None)
        if connection is None:
            return False
        self._client._close_connection(connection, timeout)
        return True

    def get(self, key: Hashable) -> Optional[Connection]:
        """``key``'s socket, or None."""
        with self._lock:
            return self._sockets.get(key)

    def keys(self) -> list[Hashable]:
        """Every key with a socket, in the order they were opened."""
        with self._lock:
            return list(self._sockets)

    def __len__(self) -> int:
        with self._lock:
            return len(self._sockets)


def _attacher(connection: Connection, recorder: Recorder) -> Callable[[Any], None]:
    """A command that attaches ``recorder`` under the connection's lock: recorded from the
    next frame on; a socket already open is recorded as joined, with what is live on it."""

    def attach(_protocol: Any) -> None:
        connection.recorder = recorder
        if connection.is_open:
            recorder.opened(connection, time.time_ns(), joined=True)

    return attach


def _left(deadline: Deadline, floor: float = 0.0) -> float:
    """Seconds left of a deadline that always has an end."""
    remaining = deadline.remaining(floor)
    assert remaining is not None
    return remaining


def _not_connected_reason(timeout: Optional[float], cause: Optional[BaseException]) -> str:
    """Why ``start()`` gave up, with the last underlying failure spelled out."""
    text = "not connected" + (f" within {timeout:g} s" if timeout is not None else "")
    if cause is not None:
        text += f"; last error: {_describe_cause(cause)}"
    return text


def _describe_cause(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _positive_or_none(name: str, value: Optional[float]) -> Optional[float]:
    if value is None:
        return None
    if value <= 0:
        raise ValueError(f"{name} must be positive seconds, or None to turn it off")
    return float(value)
