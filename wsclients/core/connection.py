"""One socket's life: connect, read, heartbeat, watch for silence, reconnect, stop.

A ``Connection`` runs websocket-client's low-level ``websocket.WebSocket`` in one reader thread
of its own, inside our own reconnect loop. We do not use ``WebSocketApp.run_forever``: it
needs a second thread per socket for pings, its ``reconnect=`` has a fixed delay and drops
silently (docs/threading.rst#threading-why-not-websocketapp), and its per-frame callback wrapper
and ``select`` cost
throughput. Reading frames ourselves gives one thread per socket, timers on the one shared
timer thread (``core/timers.py``), and a per-frame path of a few attribute updates.
The upgrade is ours (``core/handshake.py``: one deadline, bounded reads, no redirects, no
cookie jar); websocket-client does proxies, the TLS wrap and every send; after the upgrade
the reader takes frames from the socket a buffer at a time (``core/frames.py``), not three
system calls per frame as ``recv_data_frame`` does.

What the venue says and wants comes through a sans-I/O ``VenueProtocol``; this module never
learns a venue's name. Events go to the ``Hub``; nothing here calls user code under a lock.
"""

from __future__ import annotations

import enum
import logging
import random
import socket
import ssl
import struct
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future
from functools import partial
from typing import Any, Callable, NamedTuple, Optional, TypeVar

import websocket

from wsclients.core import timers
from wsclients.core.deadline import Deadline
from wsclients.core.frames import (
    OP_BINARY,
    OP_CLOSE,
    OP_PING,
    OP_TEXT,
    FrameReader,
    parse_close,
)
from wsclients.core.handshake import (
    BufferedSocket,
    HandshakeCancelled,
    UpgradeRefused,
    open_websocket,
)
from wsclients.core.hub import Hub
from wsclients.core.options import ConnectionOptions, Headers
from wsclients.core.pending import PendingRequests
from wsclients.core.protocol import CloseRequest, Job, Reply, VenueProtocol
from wsclients.core.redact import redact_url
from wsclients.core.relay import ReadEnded, ReadRelay
from wsclients.core.sink import RecordingSink
from wsclients.errors import (
    AuthenticationFailed,
    ClientStopped,
    ConnectFailed,
    ConnectionLost,
    FrameRejected,
    MessageTooLarge,
    NotConnected,
    ProtocolStopped,
    ProtocolViolation,
    RequestTimeout,
    WSClientError,
    shorten,
)
from wsclients.models import ConnectionState, ErrorEvent, Event, Status

__all__ = ["Connection", "Headers", "ProtocolClose", "Verdict", "classify_failure"]

logger = logging.getLogger(__name__)

# HTTP statuses on the upgrade that mean "your credentials are wrong": retrying only hammers.
_AUTH_STATUSES = frozenset({401, 403})
# How long a blocked send may wait for room in the kernel buffer before the socket is
# declared dead. Without it a peer that stops reading would freeze the shared timer thread.
_SEND_TIMEOUT = 5.0

OnOpen = Callable[["Connection"], None]
OnClose = Callable[["Connection", Optional[int], str], None]
OnJobs = Callable[["Connection", list[Job]], None]
T = TypeVar("T")


class Connection:
    """One managed socket. ``start()`` spawns its reader; ``stop()`` ends it.

    The connection owns its protocol: every call into it — frames from the reader, the
    heartbeat and deadlines from the timer thread, commands and requests from user threads —
    runs under ``_protocol_lock``, so venue protocols are single-threaded code. Frames the
    protocol queues are sent under that lock too (so they leave in the order they were
    queued); events, replies and jobs are handed on only after it is released, and no user
    code ever runs under it.

    Thread use: ``command``, ``request``, ``send``, ``stop`` and ``reconnect_now`` are safe
    from any thread.
    """

    def __init__(
        self,
        url: str,
        protocol: VenueProtocol,
        hub: Hub,
        *,
        venue: str,
        name: str = "",
        display_url: Optional[str] = None,
        options: Optional[ConnectionOptions] = None,
        # Hooks (reader thread; on_finish when it ends for good, not by stop())
        on_open: Optional[OnOpen] = None,
        on_close: Optional[OnClose] = None,
        on_finish: Optional[Callable[[Connection], None]] = None,
        on_jobs: Optional[OnJobs] = None,
        rng: Optional[random.Random] = None,
    ) -> None:
        self.url = url
        self.display_url = redact_url(display_url or url)
        """The URL as printed everywhere: userinfo and query values hidden."""
        self.protocol = protocol
        self.venue = venue
        self.name = name or venue
        self.options = options = options or ConnectionOptions()
        self._hub = hub
        self._ping_interval = options.ping_interval
        self._stale_timeout = options.stale_timeout
        self._on_open = on_open
        self._on_close = on_close
        self._on_finish = on_finish
        self._on_jobs = on_jobs
        self._rng = rng or random.Random()
        self.requests = PendingRequests(limit=options.request_limit, what=f"{self.name} request")
        """Requests sent with ``request()`` and not answered yet."""

        self.state = ConnectionState.IDLE
        self.fatal_error: Optional[WSClientError] = None
        """Why the connection stopped for good, when it was not ``stop()``."""
        self.last_error: Optional[BaseException] = None
        """The cause of the last failed attempt (DNS, refused, TLS, an HTTP status)."""
        self.attempts = 0
        """Connection attempts made so far."""
        # Counters, written by the reader thread only (the timer reads them).
        self.messages = 0
        self.bytes = 0
        self.control_frames = 0
        self.reconnects = 0
        self.last_message_ns: Optional[int] = None
        self.recorder: Optional[RecordingSink] = None
        """Where the wire is recorded (``client.record``); None costs one check per frame."""

        # Serialises every call into the protocol and every send of what it queued.
        self._protocol_lock = threading.Lock()
        self._stop = threading.Event()
        self._wakeup = threading.Event()  # ends a backoff wait early (stop, reconnect_now)
        self._connected = threading.Event()  # the socket is open (sends allowed)
        self._session = threading.Event()  # the venue session is up (requests may go)
        self._settled = threading.Event()  # first session up, or closed for good
        self._thread: Optional[threading.Thread] = None
        self._ws: Optional[websocket.WebSocket] = None
        self._timer: Optional[timers.Timer] = None
        self._abort_reason: Optional[str] = None  # set when another thread kills the socket
        self._verdict: Optional[CloseRequest] = None  # the protocol's close request, if any
        self._forced_reason: Optional[str] = None  # set by reconnect_now()
        self._seen_count = -1
        self._last_seen = 0.0
        self._last_ping = 0.0
        self._last_tick = 0.0

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        """Start the reader thread; it connects and keeps reconnecting. Idempotent.

        Returns at once; ``wait_settled()`` waits for the session (or a fatal end).
        """
        if self._thread is not None or self._stop.is_set():
            return
        self._thread = threading.Thread(
            target=self._run, name=f"wsclients-{self.name}-reader", daemon=True
        )
        self._thread.start()

    def wait_settled(self, timeout: Optional[float]) -> bool:
        """Wait until the first session is up, or until the connection ended for good."""
        return self._settled.wait(timeout)

    def wait_session(self, timeout: Optional[float]) -> bool:
        """Wait until the session is up now; False on timeout or when closed for good."""
        deadline = Deadline(timeout)
        while not self._session.wait(min(0.05, deadline.remaining() or 0.05)):
            if self.state is ConnectionState.CLOSED or deadline.expired:
                return False
        return True

    @property
    def is_open(self) -> bool:
        """True while the socket is open and ``send`` will go through."""
        return self._connected.is_set()

    @property
    def session_up(self) -> bool:
        """True while the venue session is up (for most venues: the socket is open)."""
        return self._session.is_set()

    def stop(self, timeout: float = 2.0) -> bool:
        """Close the socket and end the reader thread. Idempotent, safe from any thread.

        The socket is shut down at once, which wakes a reader blocked in ``recv``; a TCP
        connect or an upgrade under way sees the stop within a tenth of a second
        (core/handshake.py), and a backoff wait is cut short; returns True when the thread
        ended within ``timeout``. Through a proxy, or while DNS answers, the connect ends by
        itself at its ``connect_timeout``; the thread is a daemon meanwhile.
        """
        self._stop.set()
        self._wakeup.set()
        self._cancel_timer()
        # Before the socket closes, so that waiting requests hear "stopped", not "lost".
        self.requests.fail_all(ClientStopped("the connection was stopped"))
        ws = self._ws
        if ws is not None:
            _close_quietly(ws, send_close=self._connected.is_set())
        thread = self._thread
        if thread is None or thread is threading.current_thread():
            self._finish(None)
            return True
        thread.join(timeout)
        if thread.is_alive():
            logger.warning("%s: reader thread still running after stop()", self.name)
            return False
        return True

    def reconnect_now(self, reason: str) -> None:
        """Close the socket and open a new one at once, without backoff (e.g. a new
        subscription set that cannot change on a live socket). During a backoff wait it
        cuts the wait short; the next socket is the new one."""
        ws = self._ws
        if ws is None:
            self._wakeup.set()
            return
        self._forced_reason = reason
        _close_quietly(ws, send_close=True)

    # -- commands: user threads into the protocol ---------------------------------------

    def command(self, fn: Callable[[Any], T]) -> T:
        """Run ``fn(protocol)`` under the connection's lock and act on what it queued.

        Frames go out at once when the socket is open (queued while it is not, they are
        dropped: the protocol restores its state on the next socket); a close request takes
        effect at once; events are published after the lock is released. Exceptions from
        ``fn`` reach the caller.
        """
        result, _ = self._command(fn)
        return result

    def _command(self, fn: Callable[[Any], T]) -> tuple[T, bool]:
        """``command``, also saying whether the frames it queued were sent."""
        with self._protocol_lock:
            try:
                result = fn(self.protocol)
            finally:
                if self.recorder is not None:
                    self.recorder.command(self)
                sent = self._send_queued()
                events = self.protocol.take_events()
                attended = self._attend() if self.protocol.attention else None
        if events:
            self._hub.publish(events)
        if attended is not None:
            self._after_attend(attended)
        return result, sent

    def request(
        self,
        build: Callable[[Any, int], None],
        *,
        timeout: Optional[float],
        block: bool = True,
        what: str = "request",
    ) -> Future[Any]:
        """Send a request the protocol builds, and return a Future of its answer.

        Waits up to ``timeout`` for the session (a request made while reconnecting goes out
        on the next socket), takes a fresh id (unique for this connection's life), registers
        it (``request_limit`` in flight at most: wait for a slot, or raise with
        ``block=False``), then runs ``build(protocol, id)`` under the lock; the protocol
        queues the frame and later answers with ``reply(id, …)``. A socket that closes fails
        the requests sent on it with ``ConnectionLost``.

        Raises:
            RequestTimeout: no session within ``timeout``.
            ClientStopped: the connection is stopped or closed for good.
            TooManyInFlight: the limit is reached (and no slot freed up in time).
        """
        deadline = Deadline(timeout)
        request_id = self.requests.new_id()
        while True:
            if self._closed_for_good():
                raise ClientStopped(f"{what}: the connection is closed")
            if not self.wait_session(deadline.remaining()):
                if self._closed_for_good():
                    raise ClientStopped(f"{what}: the connection is closed")
                raise RequestTimeout(f"{what} (waiting for the connection)", timeout)
            future = self.requests.add(
                request_id, timeout=deadline.remaining(), block=block, what=what
            )

            def send(protocol: Any, future: Future[Any] = future) -> bool:
                # The end of the socket waited for fails every registered Future with
                # ConnectionLost, this one too although it was not sent yet: never send a
                # request (to be answered) under a Future that told its caller it was lost.
                if future.done():
                    return False
                build(protocol, request_id)
                return True

            try:
                built, sent = self._command(send)
            except BaseException:
                self.requests.discard(request_id)
                raise
            if built and sent:
                return future
            if not built and isinstance(future.exception(), RequestTimeout):
                return future  # its own time ran out first
            # The socket went away between the wait and the send: the next one carries it,
            # under a fresh Future.
            self.requests.discard(request_id)

    def _closed_for_good(self) -> bool:
        return self._stop.is_set() or self.state is ConnectionState.CLOSED

    def send(self, text: str) -> None:
        """Send one text frame as it is, outside the protocol. Thread-safe.

        Raises:
            NotConnected: the socket is not open (connecting, reconnecting or closed).
        """
        with self._protocol_lock:
            ws = self._ws
            if ws is None or not self._connected.is_set():
                raise NotConnected(self.display_url, reason=str(self.state))
            try:
                ws.send(text)
            except (websocket.WebSocketException, OSError) as exc:
                raise NotConnected(self.display_url, reason=str(exc)) from exc

    # -- under the protocol lock ---------------------------------------------------------

    def _send_queued(self) -> bool:
        """Send what the protocol queued; False when there was no socket to send it on."""
        frames = self.protocol.take_frames()
        if not frames:
            return True
        ws = self._ws
        if ws is None or not self._connected.is_set():
            logger.debug("%s: %d frame(s) dropped, no socket", self.name, len(frames))
            return False
        try:
            for text in frames:
                ws.send(text)
        except (websocket.WebSocketException, OSError) as exc:
            self._kill(f"send failed: {_describe(exc)}")
            return False
        return True

    def _attend(self) -> _Attended:
        """Take what waits besides events and frames: replies, jobs, the session coming
        up, a new heartbeat, a close request (acted on now, from whichever thread)."""
        protocol = self.protocol
        protocol.attention = False
        replies = protocol.take_replies()
        jobs = protocol.take_jobs()
        heartbeat = protocol.heartbeat
        retime = heartbeat is not None and (
            (heartbeat.ping_interval, heartbeat.stale_timeout)
            != (self._ping_interval, self._stale_timeout)
        )
        if heartbeat is not None:
            self._ping_interval = heartbeat.ping_interval
            self._stale_timeout = heartbeat.stale_timeout
        session_up = (
            protocol.session_up and self._connected.is_set() and not self._session.is_set()
        )
        request = protocol.close_request
        if request is not None and self._verdict is None:
            self._verdict = request
            if threading.current_thread() is not self._thread and not self._hub.reading_here():
                self._kill(request.reason)  # wake the reader, wherever it waits
        return _Attended(replies, jobs, session_up, retime)

    def _kill(self, reason: str) -> None:
        """Shut the socket from any thread; the reader then ends it with ``reason``."""
        ws = self._ws
        if ws is None:
            return
        if self._abort_reason is None:
            self._abort_reason = reason
        _close_quietly(ws, send_close=False)

    # -- after the lock ------------------------------------------------------------------

    def _after_attend(self, attended: _Attended) -> None:
        for reply in attended.replies:
            if reply.error is not None:
                self.requests.reject(reply.request_id, reply.error)
            else:
                self.requests.resolve(reply.request_id, reply.result)
        if attended.jobs:
            if self._on_jobs is None:
                logger.error("%s: the protocol asked for work nobody runs", self.name)
            else:
                self._on_jobs(self, attended.jobs)
        if attended.retime and self._timer is not None:
            self._cancel_timer()
            self._start_timer()  # the new timings decide how often the timer looks
        if attended.session_up:
            self._session.set()
            self._set_state(ConnectionState.CONNECTED)
            self._settled.set()

    def _protocol_failed(self, exc: BaseException, where: str, raw: Any, received_ns: int) -> Event:
        """The guard at the protocol boundary: a protocol that raises costs one
        ``ErrorEvent`` carrying the frame, never the stream."""
        logger.error("%s: the protocol failed in %s", self.name, where, exc_info=exc)
        failed = ProtocolViolation(
            f"{self.venue} protocol failed in {where}: {type(exc).__name__}: {shorten(str(exc))}",
            raw=shorten(raw) if isinstance(raw, (str, bytes, bytearray)) else None,
        )
        failed.__cause__ = exc
        return ErrorEvent.from_exception(
            failed, venue=self.venue, received_ns=received_ns, fatal=False,
            raw=failed.raw, code="protocol_error",
        )

    # -- reader thread -----------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._loop()
        except Exception as exc:  # should never run: every step below handles its errors
            logger.exception("%s: reader thread failed", self.name)
            self._hub.report(
                ConnectFailed(self.display_url, reason=f"internal error: {exc!r}"), fatal=True
            )
            self._finish(None)

    def _loop(self) -> None:
        backoff = self.options.backoff
        self._set_state(ConnectionState.CONNECTING)
        while not self._stop.is_set():
            code, reason, error, opened_at = self._connect_and_read()
            if self._stop.is_set():
                break
            forced, self._forced_reason = self._forced_reason, None
            if forced is not None:
                self.reconnects += 1
                backoff = backoff.reset()
                self._set_state(ConnectionState.RECONNECTING, reason=forced, delay=0.0)
                continue
            if error is not None and opened_at is None:
                self.last_error = error
            fatal = self._fatal_error(code, reason, error, opened=opened_at is not None)
            if fatal is not None:
                self._finish(fatal, code=code)
                return
            quiet = isinstance(error, ProtocolClose) and error.quiet
            if opened_at is not None and not quiet:
                self._hub.report(ConnectionLost(self.display_url, code=code, reason=reason))
                if time.monotonic() - opened_at >= self.options.healthy_after:
                    backoff = backoff.reset()
            if not self.options.reconnect:
                self._finish(None, code=code, reason=reason or "reconnect is off")
                return
            try:
                backoff = backoff.increment(error, url=self.display_url)
            except ConnectFailed as exc:
                self._finish(exc, code=code)
                return
            delay = backoff.delay(self._rng)
            if isinstance(error, ProtocolClose) and error.delay is not None:
                delay = max(delay, error.delay)
            self.reconnects += 1
            logger.info("%s: reconnecting in %.2f s (%s)", self.name, delay, reason)
            if opened_at is None and error is not None and not self._settled.is_set():
                # The first connect failed once more: on_error hears why (refused, DNS,
                # HTTP status) at once, not only when start() gives up.
                attempt_failed = ConnectFailed(
                    self.display_url, attempts=self.attempts, code=code, reason=reason
                )
                attempt_failed.__cause__ = error
                self._hub.report(attempt_failed)
            self._set_state(
                ConnectionState.RECONNECTING,
                attempt=backoff.attempt, delay=delay, code=code, reason=reason,
            )
            # Woken early by stop() or reconnect_now(); either way the loop decides next.
            self._wakeup.wait(delay)
            self._wakeup.clear()
        self._finish(None)

    def _connect_and_read(
        self,
    ) -> tuple[Optional[int], str, Optional[BaseException], Optional[float]]:
        """One socket from connect to close: (close code, reason, error, opened_at)."""
        options = self.options
        ws: Optional[websocket.WebSocket] = None
        self._abort_reason = None
        self._verdict = None
        # A reconnect asked for before this socket is this socket.
        self._forced_reason = None
        if not self._stop.is_set():
            self._wakeup.clear()
        opened_at: Optional[float] = None
        code: Optional[int] = None
        reason = ""
        error: Optional[BaseException] = None
        self.attempts += 1
        try:
            if self._stop.is_set():
                return None, "stopped", None, None
            ws, early = open_websocket(
                self.url, header=_header_list(options.headers),
                timeout=options.connect_timeout, options=options.ws_options,
                cancelled=self._stop.is_set,
            )
            self._ws = ws
            if self._stop.is_set():  # stop() ran before the socket was ours to shut
                return None, "stopped", None, None
            _prepare_socket(ws)
            opened_at = time.monotonic()
            self._opened(ws)
            code, reason = self._read(ws, early)
        except HandshakeCancelled:
            return None, "stopped", None, None
        except websocket.WebSocketBadStatusException as exc:
            code, reason, error = exc.status_code, _status_reason(exc), exc
        except ProtocolClose as exc:
            code, reason, error = exc.code, exc.reason, exc
        except (websocket.WebSocketException, OSError, ValueError) as exc:
            reason, error = (self._abort_reason or _describe(exc)), exc
            if self._abort_reason is not None:
                error = None
        finally:
            with self._protocol_lock:
                was_open = self._connected.is_set()
                self._connected.clear()
                self._session.clear()
            self._cancel_timer()
            if ws is not None:
                _close_quietly(ws, send_close=False, release=True)
            self._ws = None
            verdict = self._verdict
            if verdict is not None and not isinstance(error, ProtocolClose):
                code, reason = verdict.code, verdict.reason
                error = ProtocolClose.of(verdict)
            if was_open:
                self._closed(code, reason)
        if self._abort_reason is not None and error is None:
            reason = self._abort_reason
        return code, reason, error, opened_at

    def _opened(self, ws: websocket.WebSocket) -> None:
        """A fresh socket: the protocol queues its first frames (connect, auth, the
        subscriptions of venues without a session step) and sends them before anything."""
        now = time.time_ns()
        with self._protocol_lock:
            protocol = self.protocol
            self._ping_interval = self.options.ping_interval
            self._stale_timeout = self.options.stale_timeout
            self._connected.set()
            if self.recorder is not None:
                self.recorder.opened(self, now)
            try:
                protocol.reset_socket_state()
                protocol.on_open()
                if not protocol.needs_session:
                    protocol.open_session()  # the socket is the session
            except Exception as exc:
                self._hub.publish_one(self._protocol_failed(exc, "on_open", None, now))
            self._send_queued()
            events = protocol.take_events()
            attended = self._attend() if protocol.attention else None
        if self._on_open is not None:
            self._on_open(self)
        if events:
            self._hub.publish(events)
        self._start_timer()
        if attended is not None:
            self._after_attend(attended)
        if self._verdict is not None:
            raise ProtocolClose.of(self._verdict)
        if not self._session.is_set():
            logger.debug("%s: socket open, waiting for the session", self.name)

    def _closed(self, code: Optional[int], reason: str) -> None:
        """The socket is gone: tell the protocol, fail the requests sent on it."""
        now = time.time_ns()
        with self._protocol_lock:
            if self.recorder is not None:
                self.recorder.closed(self, code, reason, now)
            try:
                self.protocol.on_close(code, reason)
            except Exception as exc:
                self._hub.publish_one(self._protocol_failed(exc, "on_close", None, now))
            self.protocol.take_frames()  # nowhere to send them
            events = self.protocol.take_events()
            attended = self._attend() if self.protocol.attention else None
        if events:
            self._hub.publish(events)
        if attended is not None:
            attended = _Attended(attended.replies, attended.jobs, False, False)
            self._after_attend(attended)
        self.requests.fail_all(
            ClientStopped("the connection was stopped") if self._stop.is_set()
            else ConnectionLost(self.display_url, code=code, reason=reason or "socket closed")
        )
        if self._on_close is not None:
            try:
                self._on_close(self, code, reason)
            except Exception:
                logger.exception("%s: on_close hook failed", self.name)

    def _read(self, ws: websocket.WebSocket, early: bytes) -> tuple[Optional[int], str]:
        """Read frames until the socket closes; the hot path of the whole library.

        Frames are parsed in batches: after a text message, the others already buffered
        whole (up to the hub's ``batch_size``) are taken with it, stamped with one arrival
        time and parsed under one hold of the protocol lock (``_receive_batch``). Their
        events go to the hub together, handed over right before the reader waits for the
        network again (or once ``batch_size`` are waiting). A burst then costs one
        hand-over, and at most one wake-up of the dispatcher thread, per batch instead of
        per frame; a frame that arrives alone is published as soon as it is parsed.

        Where it would wait for the network while the dispatcher thread is idle, the
        reader lends it the socket (core/relay.py): the dispatcher then reads, and runs
        the callbacks of, a frame that arrives alone, one thread woken instead of two. The
        loop body (``step``) is the same on either thread, one at a time.
        """
        batch_size = self._hub.batch_size
        pending: list[Event] = []
        publish = self._hub.publish
        relay: Optional[ReadRelay] = None

        def flush() -> None:  # never called with the protocol lock held (see Hub.publish)
            if pending:
                batch = pending[:]
                pending.clear()
                publish(batch, catch_up=True)  # the hub never lets its dispatcher wait

        def before_wait() -> bool:
            flush()
            if relay is None:
                return False
            if relay.dispatcher_holds():
                return relay.dispatcher_wait()
            return relay.reader_wait()

        assert ws.sock is not None  # connected: _prepare_socket ran
        # Bytes the upgrade read past its response are the first frames.
        source = BufferedSocket(ws.sock, early) if early else ws.sock
        reader = FrameReader(source, max_size=self.options.max_message_size,
                             before_wait=before_wait)
        next_frame = reader.next_frame
        take_texts = reader.take_texts
        receive_batch = self._receive_batch

        def step() -> Optional[tuple[Optional[int], str]]:
            """Read and handle one message; the connection's outcome once it has ended."""
            try:
                opcode, data = next_frame()
            except MessageTooLarge as exc:  # skipped unread; the next message is fine
                self.messages += 1
                self.bytes += exc.size
                flush()
                self._hub.report(exc)
                return None
            except FrameRejected as exc:  # RFC 6455 §7.1.7: fail the connection, reconnect
                flush()
                self._hub.report(exc)
                try:
                    ws.send_close(exc.close_code, exc.reason.encode())
                except (websocket.WebSocketException, OSError):
                    pass  # the socket is gone already; it ends all the same
                return exc.close_code, exc.reason
            if opcode in (OP_TEXT, OP_BINARY):
                frames = [data]
                if opcode == OP_TEXT:  # the text frames right behind it come along
                    take_texts(frames, batch_size - 1)
                receive_batch(ws, frames, pending, flush)
                if len(pending) >= batch_size:
                    flush()
            elif opcode == OP_CLOSE:
                ws.send_close()  # echo it (RFC 6455 §5.5.1), as websocket-client's reader did
                return parse_close(data)  # validated by the reader already
            else:
                self.control_frames += 1
                if opcode == OP_PING:
                    ws.pong(data)
            return None

        relay = self._hub.lend_socket(ws.sock, partial(_buffered, source), step)
        try:
            while True:
                outcome = step()
                if outcome is not None:
                    return outcome
        except ReadEnded as ended:  # the dispatcher read the end while it held the socket
            return ended.outcome
        finally:
            if relay is not None:
                self._hub.return_socket(relay)
            flush()  # what was parsed is delivered before the socket's end is reported

    def _receive_batch(
        self,
        ws: websocket.WebSocket,
        frames: list[bytes],
        pending: list[Event],
        flush: Callable[[], None],
    ) -> None:
        """Parse ``frames`` (data messages read together) into ``pending``, and send what
        the protocol owes the venue.

        One arrival time for the batch: its frames came off the socket in the same read.
        The protocol lock is held once per batch, not per frame, unless a frame raises the
        protocol's ``attention``: the connection then hands on the events so far (``flush``)
        and attends to it (a reply, a job, a close request) before the next frame is parsed,
        as if it had come alone.
        """
        protocol = self.protocol
        receive = protocol.receive_text
        count = len(frames)
        self.messages += count
        self.bytes += sum(map(len, frames))
        self.last_message_ns = now = time.time_ns()
        index = 0
        while index < count:
            with self._protocol_lock:
                recorder = self.recorder
                while index < count:
                    data = frames[index]
                    index += 1
                    if recorder is not None:
                        recorder.frame(self, data, now)
                    try:
                        receive(data, received_ns=now)
                    except Exception as exc:
                        pending.append(self._protocol_failed(exc, "receive_text", data, now))
                    if protocol.attention:
                        break
                # Everything these frames produced is taken before anything is sent: a send
                # that fails on a socket that just died must not drop their events (the
                # protocol already counts them as delivered, e.g. for deduplication), replies
                # or jobs.
                pending += protocol.take_events()
                out = protocol.take_frames()
                attended = self._attend() if protocol.attention else None
                failed: Optional[Exception] = None
                if out:
                    try:
                        for text in out:
                            ws.send(text)
                    except (websocket.WebSocketException, OSError) as exc:
                        failed = exc  # raised once the rest is handed on
            if attended is not None:
                flush()
                self._after_attend(attended)
                verdict = self._verdict
                if verdict is not None:
                    raise ProtocolClose.of(verdict)
            if failed is not None:
                raise failed

    # -- timer thread: heartbeat, stale watchdog, protocol deadlines ----------------------

    def _start_timer(self) -> None:
        now = time.monotonic()
        self._seen_count = -1
        self._last_seen = now
        self._last_ping = now
        self._last_tick = now
        periods = [p for p in (self._ping_interval, self._stale_timeout and self._stale_timeout / 2)
                   if p]
        # At least once a second: protocols check their deadlines on every tick.
        self._timer = timers.call_every(max(0.02, min(periods + [1.0])), self._tick)

    def _cancel_timer(self) -> None:
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()

    def _tick(self) -> None:
        ws = self._ws
        if ws is None or not self._connected.is_set():
            return
        now = time.monotonic()
        count = self.messages + self.control_frames
        stale = self._stale_timeout
        # A reader waiting for the user (overflow="block") is not reading: silence then
        # says nothing about the server, and its pongs wait unread behind the backlog.
        held_since = self._hub.last_blocked()
        if count != self._seen_count or held_since >= self._last_seen:
            self._seen_count = count
            self._last_seen = now
        elif stale is not None and now - self._last_seen > stale:
            self._kill(f"no data for {stale:g} s (stale connection)")
            logger.warning("%s: %s", self.name, self._abort_reason)
            return
        ping_due = self._ping_interval is not None and now - self._last_ping >= self._ping_interval
        received_ns = time.time_ns()
        failure: Optional[Event] = None
        with self._protocol_lock:
            if not self._connected.is_set():
                return
            protocol = self.protocol
            # Held up since the previous tick (0.2 s slack: a waiting reader marks the time
            # every 0.1 s).
            protocol.reader_held_up = held_since >= self._last_tick - 0.2
            self._last_tick = now
            try:
                protocol.on_tick(now)
                message = protocol.ping_message() if ping_due else None
            except Exception as exc:
                failure = self._protocol_failed(exc, "on_tick", None, received_ns)
                message = None
            if ping_due:
                self._last_ping = now
                try:
                    if message is None:
                        ws.ping()
                    else:
                        ws.send(message)
                except (websocket.WebSocketException, OSError) as exc:
                    self._kill(f"heartbeat failed: {_describe(exc)}")
            self._send_queued()
            events = protocol.take_events()
            attended = self._attend() if protocol.attention else None
        if failure is not None:
            events.append(failure)
        if events:
            self._hub.publish(events)
        if attended is not None:
            self._after_attend(attended)

    # -- state -------------------------------------------------------------------------

    def _set_state(
        self,
        state: ConnectionState,
        *,
        attempt: int = 0,
        delay: Optional[float] = None,
        code: Optional[int] = None,
        reason: str = "",
    ) -> None:
        self.state = state
        status = Status(
            venue=self.venue, state=state, url=self.display_url, received_ns=time.time_ns(),
            attempt=attempt, delay=delay, code=code, reason=reason,
        )
        if self.recorder is not None:
            self.recorder.status(self, status)
        self._hub.publish_one(status)

    def _fatal_error(
        self, code: Optional[int], reason: str, error: Optional[BaseException], *, opened: bool
    ) -> Optional[WSClientError]:
        """The error that must stop reconnecting, or None to retry."""
        verdict = classify_failure(code, error)
        if verdict is Verdict.PROTOCOL_STOP:
            return ProtocolStopped(self.display_url, code=code, reason=reason)
        if verdict is Verdict.RETRY_PROTOCOL:
            return None
        if verdict is Verdict.BAD_CERTIFICATE:
            assert isinstance(error, ssl.SSLCertVerificationError)
            # A certificate we cannot trust will not become trustworthy by retrying; the
            # fix is sslopt (e.g. ca_certs), never turning verification off for you.
            bad_cert = ConnectFailed(
                self.display_url, attempts=self.attempts,
                reason=f"TLS certificate not trusted: {error.verify_message}")
            bad_cert.__cause__ = error
            return bad_cert
        if verdict is Verdict.AUTHENTICATION:
            auth = AuthenticationFailed(self.display_url, code=code, reason=reason)
            auth.__cause__ = error
            return auth
        with self._protocol_lock:
            try:
                fatal = self.protocol.is_fatal(code, error)
            except Exception:
                logger.exception("%s: is_fatal failed", self.name)
                fatal = False
            events = self.protocol.take_events()
        if not fatal:
            if events:
                self._hub.publish(events)
            return None
        # is_fatal may have queued the venue's own explanation: when it says "fatal" itself,
        # that is the error the user hears, not a generic one.
        if events:
            self._hub.publish(events)
            if any(e.kind == "error" and getattr(e, "fatal", False) for e in events):
                return ProtocolStopped(self.display_url, code=code, reason=reason)
        failed: WSClientError
        if opened:
            failed = ConnectionLost(self.display_url, code=code, reason=reason)
        else:
            failed = ConnectFailed(
                self.display_url, attempts=self.attempts, code=code, reason=reason
            )
        failed.__cause__ = error
        return failed

    def _finish(
        self, error: Optional[WSClientError], *, code: Optional[int] = None, reason: str = ""
    ) -> None:
        """Enter CLOSED once, reporting a fatal error if there is one."""
        if self.state is ConnectionState.CLOSED:
            return
        self._cancel_timer()
        self._connected.clear()
        self._session.clear()
        if error is not None and not isinstance(error, ProtocolStopped):
            self.fatal_error = error
            logger.error("%s: giving up: %s", self.name, error)
            self._hub.report(error, fatal=True)
        elif isinstance(error, ProtocolStopped):
            self.fatal_error = error
        if error is not None and not reason:
            reason = str(error)
        self._set_state(ConnectionState.CLOSED, code=code, reason=reason or "stopped")
        self._settled.set()
        self.requests.fail_all(ClientStopped("the connection is closed"))
        if self._on_finish is not None and not self._stop.is_set():
            try:
                self._on_finish(self)
            except Exception:
                logger.exception("%s: on_finish hook failed", self.name)

    def __repr__(self) -> str:
        return f"<Connection {self.name} {self.display_url} {self.state}>"


class _Attended(NamedTuple):
    """What ``_attend`` took under the lock, for ``_after_attend`` to hand on."""

    replies: list[Reply]
    jobs: list[Job]
    session_up: bool
    retime: bool


class Verdict(enum.Enum):
    """What a failed or closed socket means, decided from the failure alone."""

    RETRY = "retry"
    RETRY_PROTOCOL = "retry at the protocol's request"
    PROTOCOL_STOP = "stopped for good by the protocol"
    BAD_CERTIFICATE = "TLS certificate not trusted"
    AUTHENTICATION = "credentials refused"


def classify_failure(code: Optional[int], error: Optional[BaseException]) -> Verdict:
    """The venue-neutral part of "retry or give up?" as a pure function (the protocol's
    ``is_fatal`` decides the rest)."""
    if isinstance(error, ProtocolClose):
        return Verdict.PROTOCOL_STOP if error.fatal else Verdict.RETRY_PROTOCOL
    if isinstance(error, ssl.SSLCertVerificationError):
        return Verdict.BAD_CERTIFICATE
    if isinstance(error, websocket.WebSocketBadStatusException) and code in _AUTH_STATUSES:
        return Verdict.AUTHENTICATION
    return Verdict.RETRY


class ProtocolClose(Exception):
    """Raised inside the reader when the protocol asked for the socket to be closed."""

    def __init__(
        self, code: Optional[int], reason: str, fatal: bool, delay: Optional[float] = None,
        quiet: bool = False,
    ) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.fatal = fatal
        self.delay = delay
        self.quiet = quiet

    @classmethod
    def of(cls, request: CloseRequest) -> ProtocolClose:
        """The exception for a protocol's close request."""
        return cls(request.code, request.reason, request.fatal, request.delay, request.quiet)


# -- helpers ---------------------------------------------------------------------------


def _header_list(headers: Optional[Headers]) -> Optional[list[str]]:
    """The upgrade's extra header lines, asked for afresh on every connect when ``headers``
    is a callable (a token that expires is fetched anew for each reconnect)."""
    if callable(headers):
        headers = headers()
    if headers is None:
        return None
    if isinstance(headers, Mapping):
        return [f"{k}: {v}" for k, v in headers.items()]
    return list(headers)


def _buffered(source: Any) -> bool:
    """Whether ``source`` (the reader's socket) has bytes readable without waiting: TLS
    records the ``ssl`` module already holds, or bytes the upgrade read ahead. A ``poll`` on
    the socket would not see them."""
    pending = getattr(source, "pending", None)
    return bool(pending()) if pending is not None else False


def _prepare_socket(ws: websocket.WebSocket) -> None:
    """After the handshake: blocking reads (the timer watches for silence) and a kernel
    send timeout so that a peer that stops reading cannot block a sender forever."""
    ws.settimeout(None)
    raw = ws.sock
    if raw is None:
        return
    try:
        seconds = int(_SEND_TIMEOUT)
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", seconds, 0))
    except (OSError, AttributeError, struct.error):  # not on every platform; best effort
        pass
    try:
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (OSError, AttributeError):
        pass


def _close_quietly(ws: websocket.WebSocket, *, send_close: bool, release: bool = False) -> None:
    """Shut the socket down so a blocked ``recv`` (or handshake) returns at once.

    Other threads only shut down; the reader thread alone releases the descriptor
    (``release=True``), so a number the kernel hands out again is never read by the old
    reader.
    """
    if send_close:
        try:
            ws.send_close(websocket.STATUS_NORMAL)
        except Exception:
            pass
    raw = ws.sock
    if raw is not None:
        try:
            raw.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    if release:
        try:
            ws.shutdown()  # type: ignore[no-untyped-call]
        except Exception:
            pass


def _status_reason(exc: websocket.WebSocketBadStatusException) -> str:
    if isinstance(exc, UpgradeRefused):
        return exc.reason
    body = getattr(exc, "resp_body", None)
    text = f"HTTP {exc.status_code}"
    if body:
        text += ": " + (body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body))
    return text[:200]


def _describe(exc: BaseException) -> str:
    if isinstance(exc, websocket.WebSocketConnectionClosedException):
        return "connection dropped without a close frame"
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
