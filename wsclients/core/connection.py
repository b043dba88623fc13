"""One socket's life: connect, read, heartbeat, watch for silence, reconnect, stop.

A ``Connection`` runs websocket-client's low-level ``websocket.WebSocket`` in one reader thread
of its own, inside our own reconnect loop. We do not use ``WebSocketApp.run_forever``: it
needs a second thread per socket for pings, its ``reconnect=`` has a fixed delay and drops
silently (venues/peers.md §4 B5), and its per-frame callback wrapper and ``select`` cost
throughput. Reading frames ourselves gives one thread per socket, timers on the one shared
timer thread (``core/timers.py``), and a per-frame path of a few attribute updates.
websocket-client does the handshake, TLS, proxies and every send; after the handshake the
reader takes frames from the socket a buffer at a time (``core/frames.py``), not three system
calls per frame as ``recv_data_frame`` does.

What the venue says and wants comes through a sans-I/O ``VenueProtocol``; this module never
learns a venue's name. Events go to the ``Hub``; nothing here calls user code under a lock.
"""

from __future__ import annotations

import logging
import random
import socket
import ssl
import struct
import threading
import time
from collections.abc import Mapping
from typing import Any, Callable, Optional, Union

import websocket

from wsclients.core import timers
from wsclients.core.backoff import Backoff
from wsclients.core.frames import (
    OP_BINARY,
    OP_CLOSE,
    OP_PING,
    OP_TEXT,
    FrameReader,
    FrameRejected,
    MessageTooLarge,
)
from wsclients.core.hub import Hub
from wsclients.core.protocol import VenueProtocol
from wsclients.errors import (
    AuthenticationFailed,
    ConnectFailed,
    ConnectionLost,
    NotConnected,
    WSClientError,
)
from wsclients.models import ConnectionState, Event, Status

__all__ = ["Connection", "Headers"]

logger = logging.getLogger(__name__)


_DATA_OPCODES = frozenset({OP_TEXT, OP_BINARY})
# Most events a reader holds back before handing them to the hub (see Connection._read): a
# bound on the extra delay of the first event of a large burst.
_BATCH = 64

# HTTP statuses on the upgrade that mean "your credentials are wrong": retrying only hammers.
_AUTH_STATUSES = frozenset({401, 403})
# How long a blocked send may wait for room in the kernel buffer before the socket is
# declared dead. Without it a peer that stops reading would freeze the shared timer thread.
_SEND_TIMEOUT = 5.0

Headers = Union[Mapping[str, str], list[str], Callable[[], Mapping[str, str]]]
"""Extra upgrade headers: fixed, or a callable asked on every connect."""
OnOpen = Callable[["Connection"], None]
OnClose = Callable[["Connection", Optional[int], str], None]


class Connection:
    """One managed socket. ``start()`` spawns its reader; ``stop()`` ends it.

    Thread use: ``send``, ``stop`` and ``reconnect_now`` are safe from any thread. The
    protocol's ``receive_text`` and the ``on_open``/``on_close`` hooks run on the reader thread;
    heartbeats and the stale check run on the shared timer thread.
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
        # Reconnect
        reconnect: bool = True,
        backoff: Optional[Backoff] = None,
        healthy_after: float = 10.0,
        # Heartbeat
        ping_interval: Optional[float] = None,
        stale_timeout: Optional[float] = None,
        # Transport
        connect_timeout: float = 10.0,
        headers: Optional[Headers] = None,
        ws_options: Optional[Mapping[str, Any]] = None,
        max_message_size: Optional[int] = None,
        # Hooks (reader thread; on_finish when it ends for good, not by stop())
        on_open: Optional[OnOpen] = None,
        on_close: Optional[OnClose] = None,
        on_finish: Optional[Callable[[Connection], None]] = None,
        rng: Optional[random.Random] = None,
    ) -> None:
        self.url = url
        self.display_url = display_url or url
        self.protocol = protocol
        self.venue = venue
        self.name = name or venue
        self._hub = hub
        self._reconnect = reconnect
        self._backoff = backoff or Backoff()
        self._healthy_after = healthy_after
        self._ping_interval = ping_interval
        self._stale_timeout = stale_timeout
        self._connect_timeout = connect_timeout
        self._headers = headers
        self._ws_options = dict(ws_options or {})
        self._max_message_size = max_message_size
        self._on_open = on_open
        self._on_close = on_close
        self._on_finish = on_finish
        self._rng = rng or random.Random()

        self.state = ConnectionState.IDLE
        self.fatal_error: Optional[WSClientError] = None
        """Why the connection stopped for good, when it was not ``stop()``."""
        # Counters, written by the reader thread only (the timer reads them).
        self.messages = 0
        self.bytes = 0
        self.control_frames = 0
        self.reconnects = 0
        self.last_message_ns: Optional[int] = None

        self._stop = threading.Event()
        self._wakeup = threading.Event()  # ends a backoff wait early (stop, reconnect_now)
        self._connected = threading.Event()  # set on every successful open; cleared on loss
        self._settled = threading.Event()  # first open, or closed for good
        self._thread: Optional[threading.Thread] = None
        self._ws: Optional[websocket.WebSocket] = None
        self._timer: Optional[timers.Timer] = None
        self._abort_reason: Optional[str] = None  # set by the timer when it kills the socket
        self._forced_reason: Optional[str] = None  # set by reconnect_now()
        self._seen_count = -1
        self._last_seen = 0.0
        self._last_ping = 0.0

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        """Start the reader thread; it connects and keeps reconnecting. Idempotent.

        Returns at once; ``wait_settled()`` waits for the first open (or a fatal end).
        """
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, name=f"wsclients-{self.name}-reader", daemon=True
        )
        self._thread.start()

    def wait_settled(self, timeout: Optional[float]) -> bool:
        """Wait until the first open, or until the connection ended for good."""
        return self._settled.wait(timeout)

    @property
    def is_open(self) -> bool:
        """True while the socket is open and ``send`` will go through."""
        return self._connected.is_set()

    def stop(self, timeout: float = 2.0) -> bool:
        """Close the socket and end the reader thread. Idempotent, safe from any thread.

        The socket is shut down at once, which wakes a reader blocked in ``recv`` or in the
        upgrade handshake and cuts a backoff wait short; returns True when the thread ended
        within ``timeout``. A TCP connect still under way ends by itself at its
        ``connect_timeout`` (it cannot be interrupted); the thread is a daemon meanwhile.
        """
        self._stop.set()
        self._wakeup.set()
        self._cancel_timer()
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
        self._thread = None
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

    # -- sending -----------------------------------------------------------------------

    def send(self, text: str) -> None:
        """Send one text frame. Thread-safe.

        Raises:
            NotConnected: the socket is not open (connecting, reconnecting or closed).
        """
        ws = self._ws
        if ws is None or not self._connected.is_set():
            raise NotConnected(self.display_url, reason=str(self.state))
        try:
            ws.send(text)
        except (websocket.WebSocketException, OSError) as exc:
            raise NotConnected(self.display_url, reason=str(exc)) from exc

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
        backoff = self._backoff
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
            fatal = self._fatal_error(code, reason, error, opened=opened_at is not None)
            if fatal is not None:
                self._finish(fatal, code=code)
                return
            if opened_at is not None:
                self._hub.report(ConnectionLost(self.display_url, code=code, reason=reason))
                if time.monotonic() - opened_at >= self._healthy_after:
                    backoff = backoff.reset()
            if not self._reconnect:
                self._finish(None, code=code, reason=reason or "reconnect is off")
                return
            try:
                backoff = backoff.increment(error, url=self.display_url)
            except ConnectFailed as exc:
                self._finish(exc, code=code)
                return
            delay = backoff.delay(self._rng)
            self.reconnects += 1
            logger.info("%s: reconnecting in %.2f s (%s)", self.name, delay, reason)
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
        ws = websocket.WebSocket(
            sslopt=self._ws_options.get("sslopt"),
            skip_utf8_validation=True,  # codec.loads validates UTF-8 itself
            enable_multithread=True,  # websocket-client's send lock: pongs, pings and
        )  # user sends come from different threads
        self._ws = ws
        self._abort_reason = None
        # A reconnect asked for before this socket is this socket.
        self._forced_reason = None
        if not self._stop.is_set():
            self._wakeup.clear()
        opened_at: Optional[float] = None
        code: Optional[int] = None
        reason = ""
        error: Optional[BaseException] = None
        try:
            ws.connect(  # type: ignore[no-untyped-call]
                self.url, header=_header_list(self._headers), timeout=self._connect_timeout,
                **_connect_options(self._ws_options),
            )
            if self._stop.is_set():
                return None, "stopped", None, None
            _prepare_socket(ws)
            opened_at = time.monotonic()
            self._opened(ws)
            code, reason = self._read(ws)
        except websocket.WebSocketBadStatusException as exc:
            code, reason, error = exc.status_code, _status_reason(exc), exc
        except ProtocolClose as exc:
            code, reason, error = exc.code, exc.reason, exc
        except (websocket.WebSocketException, OSError, ValueError, NotConnected) as exc:
            # NotConnected: an on_open hook's send met the socket already gone.
            reason, error = (self._abort_reason or _describe(exc)), exc
            if self._abort_reason is not None:
                error = None
        finally:
            was_open = self._connected.is_set()
            self._connected.clear()
            self._cancel_timer()
            _close_quietly(ws, send_close=False, release=True)
            self._ws = None
            if was_open and self._on_close is not None:
                try:
                    self._on_close(self, code, reason)
                except Exception:
                    logger.exception("%s: on_close hook failed", self.name)
        if self._abort_reason is not None:
            reason = self._abort_reason
        return code, reason, error, opened_at

    def _opened(self, ws: websocket.WebSocket) -> None:
        protocol = self.protocol
        protocol.close_request = None
        protocol.on_open()
        for text in protocol.data_to_send():
            ws.send(text)
        self._connected.set()
        if self._on_open is not None:
            self._on_open(self)  # restores subscriptions; runs before anyone sees CONNECTED
        events = protocol.events_received()
        if events:
            self._hub.publish(events)
        self._set_state(ConnectionState.CONNECTED)
        self._settled.set()
        self._start_timer()

    def _read(self, ws: websocket.WebSocket) -> tuple[Optional[int], str]:
        """Read frames until the socket closes; the hot path of the whole library.

        Events go to the hub in batches: those of every frame already buffered go together,
        handed over right before the reader waits for the network again (or once
        ``_BATCH`` are waiting). A burst then costs one hand-over, and at most one wake-up of
        the dispatcher thread, per batch instead of per frame (DESIGN §3.1); a frame that
        arrives alone is published as soon as it is parsed, as before.
        """
        protocol = self.protocol
        receive = protocol.receive_text
        events_received = protocol.events_received
        data_to_send = protocol.data_to_send
        publish = self._hub.publish
        time_ns = time.time_ns
        pending: list[Event] = []

        def flush() -> None:
            if pending:
                batch = pending[:]
                pending.clear()
                publish(batch)

        assert ws.sock is not None  # connected: _prepare_socket ran
        next_frame = FrameReader(
            ws.sock, max_size=self._max_message_size, before_wait=flush
        ).next_frame
        try:
            while True:
                try:
                    opcode, data = next_frame()
                except MessageTooLarge as exc:  # skipped unread; the next message is fine
                    self.messages += 1
                    self.bytes += exc.size
                    flush()
                    self._hub.report(exc)
                    continue
                except FrameRejected as exc:  # RFC 6455 §7.1.7: fail the connection, reconnect
                    flush()
                    self._hub.report(exc)
                    try:
                        ws.send_close(exc.close_code, exc.reason.encode())
                    except (websocket.WebSocketException, OSError):
                        pass  # the socket is gone already; it ends all the same
                    return exc.close_code, exc.reason
                if opcode in _DATA_OPCODES:
                    self.messages += 1
                    self.bytes += len(data)
                    self.last_message_ns = now = time_ns()
                    receive(data, received_ns=now)
                    events = events_received()
                    if events:
                        pending += events
                        if len(pending) >= _BATCH:
                            flush()
                    out = data_to_send()
                    if out:
                        for text in out:
                            ws.send(text)
                    request = protocol.close_request
                    if request is not None:
                        raise ProtocolClose(request.code, request.reason, request.fatal)
                elif opcode == OP_CLOSE:
                    ws.send_close()  # echo it (RFC 6455 §5.5.1), as websocket-client's reader did
                    return _close_frame(data)
                else:
                    self.control_frames += 1
                    if opcode == OP_PING:
                        ws.pong(data)
        finally:
            flush()  # what was parsed is delivered before the socket's end is reported

    # -- timer thread: heartbeat and stale watchdog --------------------------------------

    def _start_timer(self) -> None:
        periods = [p for p in (self._ping_interval, self._stale_timeout and self._stale_timeout / 2)
                   if p]
        if not periods:
            return
        now = time.monotonic()
        self._seen_count = -1
        self._last_seen = now
        self._last_ping = now
        self._timer = timers.call_every(max(0.02, min(min(periods), 1.0)), self._tick)

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
        if count != self._seen_count:
            self._seen_count = count
            self._last_seen = now
        elif self._stale_timeout is not None and now - self._last_seen > self._stale_timeout:
            self._abort_reason = f"no data for {self._stale_timeout:g} s (stale connection)"
            logger.warning("%s: %s", self.name, self._abort_reason)
            _close_quietly(ws, send_close=False)
            return
        if self._ping_interval is not None and now - self._last_ping >= self._ping_interval:
            self._last_ping = now
            try:
                message = self.protocol.ping_message()
                if message is None:
                    ws.ping()
                else:
                    ws.send(message)
            except (websocket.WebSocketException, OSError) as exc:
                self._abort_reason = f"heartbeat failed: {_describe(exc)}"
                _close_quietly(ws, send_close=False)

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
        self._hub.publish_one(Status(
            venue=self.venue, state=state, url=self.display_url, received_ns=time.time_ns(),
            attempt=attempt, delay=delay, code=code, reason=reason,
        ))

    def _fatal_error(
        self, code: Optional[int], reason: str, error: Optional[BaseException], *, opened: bool
    ) -> Optional[WSClientError]:
        """The error that must stop reconnecting, or None to retry."""
        if isinstance(error, ProtocolClose):
            if error.fatal:
                return ProtocolStopped(self.display_url, code=code, reason=reason)
            return None
        if isinstance(error, ssl.SSLCertVerificationError):
            # A certificate we cannot trust will not become trustworthy by retrying; the
            # fix is sslopt (e.g. ca_certs), never turning verification off for you.
            bad_cert = ConnectFailed(
                self.display_url, reason=f"TLS certificate not trusted: {error.verify_message}")
            bad_cert.__cause__ = error
            return bad_cert
        if isinstance(error, websocket.WebSocketBadStatusException) and code in _AUTH_STATUSES:
            auth = AuthenticationFailed(self.display_url, code=code, reason=reason)
            auth.__cause__ = error
            return auth
        try:
            fatal = self.protocol.is_fatal(code, error)
        except Exception:
            logger.exception("%s: is_fatal failed", self.name)
            fatal = False
        if not fatal:
            return None
        # is_fatal may have queued the venue's own explanation: when it says "fatal" itself,
        # that is the error the user hears, not a generic one.
        events = self.protocol.events_received()
        if events:
            self._hub.publish(events)
            if any(e.kind == "error" and getattr(e, "fatal", False) for e in events):
                return ProtocolStopped(self.display_url, code=code, reason=reason)
        failed: WSClientError
        if opened:
            failed = ConnectionLost(self.display_url, code=code, reason=reason)
        else:
            failed = ConnectFailed(self.display_url, code=code, reason=reason)
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
        if self._on_finish is not None and not self._stop.is_set():
            try:
                self._on_finish(self)
            except Exception:
                logger.exception("%s: on_finish hook failed", self.name)

    def __repr__(self) -> str:
        return f"<Connection {self.name} {self.display_url} {self.state}>"


class ProtocolClose(Exception):
    """Raised inside the reader when the protocol asked for the socket to be closed."""

    def __init__(self, code: Optional[int], reason: str, fatal: bool) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.fatal = fatal


class ProtocolStopped(ConnectFailed):
    """The venue protocol ended the connection for good (it has already reported why)."""

    fatal = True

    def __str__(self) -> str:
        return self.reason or f"{self.url}: stopped by the venue protocol"


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


_CONNECT_OPTION_NAMES = (
    "http_proxy_host", "http_proxy_port", "http_proxy_auth", "http_no_proxy", "proxy_type",
    "http_proxy_timeout", "origin", "subprotocols", "host", "cookie", "suppress_origin",
)


def _connect_options(options: Mapping[str, Any]) -> dict[str, Any]:
    return {k: options[k] for k in _CONNECT_OPTION_NAMES if options.get(k) is not None}


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


def _close_frame(data: bytes) -> tuple[Optional[int], str]:
    if len(data) >= 2:
        code = int.from_bytes(data[:2], "big")
        return code, data[2:].decode("utf-8", "replace")
    return None, ""


def _status_reason(exc: websocket.WebSocketBadStatusException) -> str:
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
