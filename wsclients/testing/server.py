"""FakeServer: a real WebSocket server on 127.0.0.1 in threads, with fault injection.

Every venue fake and every socket test builds on it, so tests exercise the real client, the real
websocket-client and real sockets (docs/testing.rst#testing-suite). It wraps
``websockets.sync.server`` (an
optional dependency: the ``testing`` extra); the runtime library never imports this package.

A fixture::

    @pytest.fixture
    def server():
        with FakeServer("echo") as server:   # binds 127.0.0.1:0, serves in daemon threads
            yield server                     # stop() on exit: prompt, joins every thread

A venue fake overrides the hooks, which run in the connection's own thread::

    class FakeVenue(FakeServer):
        def on_connect(self, conn):
            conn.send('{"type":"welcome"}')

        def on_message(self, conn, message):        # already recorded in conn.received
            if message == '{"op":"ping"}':
                conn.send('{"op":"pong"}')

        def handle_http(self, request):             # plain GET on the same port
            return 200, {"markets": []}

A test then waits on results, never on sleeps::

    conn = server.wait_for_connections(1)[0]
    conn.wait_for_message(lambda m: "subscribe" in m)
    conn.drop()                                     # abrupt TCP close, no close frame

Faults: ``close(code, reason)``, ``drop()``, ``go_silent()`` (no frames and no pongs while the TCP
socket stays open), ``handshake_delay``, ``reject_handshake(status)``, several messages in one
frame (``send_many``), binary frames and text frames that are not UTF-8 (``send_raw_text``).
"""

from __future__ import annotations

import http
import inspect
import json
import logging
import math
import socket
import ssl as _ssl
import struct
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any, Callable, ClassVar, Optional, TypeVar, Union
from urllib.parse import parse_qs, urlsplit

import attrs
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.protocol import OPEN
from websockets.sync.server import Server, ServerConnection, serve

__all__ = ["FakeConnection", "FakeRequest", "FakeServer", "HttpResult", "Message"]

logger = logging.getLogger(__name__)

Message = Union[str, bytes]
"""What a WebSocket message is: ``str`` from a text frame, ``bytes`` from a binary frame."""

HttpResult = Union["tuple[int, Any]", "tuple[int, Any, Mapping[str, str]]"]
"""What ``handle_http`` returns: ``(status, body)`` or ``(status, body, headers)``.

``body`` is ``bytes`` (sent as is), ``str`` (UTF-8 text) or anything JSON-serialisable
(``Decimal`` and other unknown types are written with ``str()``).
"""

_DEFAULT_TIMEOUT = 5.0
# websockets 14 added shutdown(close_connections=...); older versions only close the listener.
_SHUTDOWN_CLOSES_CONNECTIONS = "close_connections" in inspect.signature(Server.shutdown).parameters
# websockets 15 added keepalive pings to its threading server (on by default, every 20 s).
_SERVE_HAS_KEEPALIVE = "ping_interval" in inspect.signature(serve).parameters
# How long stop() lets clients answer its 1001 close frame before it cuts the sockets.
_STOP_GRACE = 0.2


@attrs.define(eq=False)
class FakeRequest:
    """One HTTP request the server received: a WebSocket upgrade or a plain HTTP request.

    ``status`` is the answer once decided: 101 for an accepted upgrade, the rejection status,
    or the status ``handle_http`` returned; ``None`` while the answer is still pending
    (for example during ``handshake_delay``).
    """

    method: str
    target: str
    """The request target exactly as sent: path plus ``?query``."""
    path: str
    query: dict[str, list[str]]
    """Parsed query string; every key maps to the list of its values, in order."""
    headers: Mapping[str, str]
    """Case-insensitive request headers (a ``websockets.datastructures.Headers``)."""
    is_upgrade: bool
    status: Optional[int] = None


class FakeConnection:
    """One accepted WebSocket connection: what the client sent, and ways to answer or misbehave.

    All methods are thread-safe; hooks call them from the connection's thread, tests from theirs.
    Sending on a connection that is already closed does nothing (a fake must not crash because
    the client left first); ``is_open`` says whether it still is.
    """

    def __init__(
        self, server: FakeServer, ws: _ServerConnection, request: FakeRequest, index: int
    ) -> None:
        self.server = server
        self.index = index
        """Position in ``server.connections`` (0 for the first connection ever accepted)."""
        self.request = request
        self._ws = ws
        self._received: list[Message] = []
        self._handler_done = threading.Event()

    def __repr__(self) -> str:
        state = "open" if self.is_open else "closed"
        return f"<FakeConnection {self.server.name}#{self.index} {self.request.target} {state}>"

    # Request --------------------------------------------------------------------------------

    @property
    def path(self) -> str:
        """Request path without the query string."""
        return self.request.path

    @property
    def query(self) -> dict[str, list[str]]:
        """Parsed query string of the upgrade request (repeated keys keep every value)."""
        return self.request.query

    @property
    def request_headers(self) -> Mapping[str, str]:
        """Case-insensitive headers of the upgrade request."""
        return self.request.headers

    # State ----------------------------------------------------------------------------------

    @property
    def received(self) -> list[Message]:
        """Copy of every message the client sent so far, in order (``str`` or ``bytes``)."""
        with self.server._cond:
            return list(self._received)

    @property
    def is_open(self) -> bool:
        """Whether the WebSocket is open (no close frame exchanged, socket not cut)."""
        return self._ws.protocol.state is OPEN

    @property
    def is_silent(self) -> bool:
        """Whether ``go_silent()`` is in force."""
        return self._ws.silent

    @property
    def close_code_received(self) -> int | None:
        """Close code the client sent in its close frame, ``None`` if it sent none (yet)."""
        close = self._ws.protocol.close_rcvd
        return None if close is None else int(close.code)

    @property
    def close_reason_received(self) -> str | None:
        """Close reason the client sent in its close frame, ``None`` if it sent none (yet)."""
        close = self._ws.protocol.close_rcvd
        return None if close is None else close.reason

    # Receiving ------------------------------------------------------------------------------

    def recv(self, timeout: Optional[float] = None) -> Message | None:
        """Block until the client's next message, record it and return it.

        Returns ``None`` once the connection is closed. Only the connection's own thread calls
        this (``FakeServer.handle`` does); tests read ``received`` or use the wait helpers.

        Raises:
            TimeoutError: nothing came within ``timeout`` seconds.
        """
        try:
            message = self._ws.recv(timeout)
        except ConnectionClosed:
            return None
        with self.server._cond:
            self._received.append(message)
            self.server._cond.notify_all()
        return message

    def wait_for_message(
        self,
        predicate: Callable[[Message], bool] | None = None,
        *,
        timeout: float = _DEFAULT_TIMEOUT,
        start: int = 0,
    ) -> Message:
        """Wait until the client has sent a message matching ``predicate`` and return it.

        Scans the whole history from index ``start`` on (not only new messages), so a message
        that arrived before the call counts. ``predicate=None`` matches any message.

        Raises:
            TimeoutError: no matching message within ``timeout`` seconds.
        """
        found: list[Message] = []

        def ready() -> bool:
            for message in self._received[start:]:
                if predicate is None or predicate(message):
                    found.append(message)
                    return True
            return False

        self.server._wait(ready, timeout, lambda: f"no matching message on {self!r}", self)
        return found[0]

    def wait_for_messages(self, n: int, *, timeout: float = _DEFAULT_TIMEOUT) -> list[Message]:
        """Wait until the client has sent at least ``n`` messages; return the first ``n``.

        Raises:
            TimeoutError: fewer than ``n`` messages within ``timeout`` seconds.
        """
        self.server._wait(
            lambda: len(self._received) >= n,
            timeout,
            lambda: f"{len(self._received)} of {n} messages on {self!r}",
            self,
        )
        with self.server._cond:
            return self._received[:n]

    def wait_closed(self, timeout: float = _DEFAULT_TIMEOUT) -> None:
        """Wait until the connection is over: socket closed and its handler returned.

        After this, ``received`` holds everything the client sent.

        Raises:
            TimeoutError: still open after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        self._handler_done.wait(timeout)
        self._ws.recv_events_thread.join(max(0.0, deadline - time.monotonic()))
        if not self._handler_done.is_set() or self._ws.recv_events_thread.is_alive():
            raise TimeoutError(f"{self!r} still open after {timeout} s")

    # Sending --------------------------------------------------------------------------------

    def send(self, message: Message) -> None:
        """Send one message: ``str`` as a text frame, ``bytes`` as a binary frame."""
        try:
            self._ws.send(message)
        except ConnectionClosed:
            pass

    def send_many(self, messages: Iterable[str], *, separator: str = "\n") -> None:
        """Send several messages in ONE text frame, joined by ``separator``.

        Centrifugo batches replies this way (newline-delimited JSON in a single frame).
        """
        self.send(separator.join(messages))

    def send_batch(self, messages: Iterable[Message]) -> None:
        """Send each message in its own frame, taking the connection lock once.

        For benchmarks and floods: far cheaper per message than ``send`` in a loop.
        """
        ws = self._ws
        with ws.protocol_mutex:
            if ws.protocol.state is not OPEN:
                return
            for message in messages:
                if isinstance(message, str):
                    ws.protocol.send_text(message.encode())
                else:
                    ws.protocol.send_binary(message)
            try:
                ws.send_data()
            except OSError:
                pass  # the socket is gone; its reader thread notices and closes the connection

    def send_raw_text(self, payload: bytes) -> None:
        """Send a TEXT frame whose payload is ``payload`` as is, even if it is not UTF-8."""
        ws = self._ws
        with ws.protocol_mutex:
            if ws.protocol.state is not OPEN:
                return
            ws.protocol.send_text(payload)
            try:
                ws.send_data()
            except OSError:
                pass

    def send_invalid_utf8(self) -> None:
        """Send a TEXT frame that is not valid UTF-8 (a lone continuation byte inside JSON)."""
        self.send_raw_text(b'{"bad":"\x80"}')

    def ping(self, payload: bytes = b"") -> threading.Event:
        """Send a WebSocket ping; the returned event is set when the matching pong arrives."""
        try:
            return self._ws.ping(payload or None)
        except ConnectionClosed:
            return threading.Event()

    # Faults ---------------------------------------------------------------------------------

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Start the closing handshake with this code and reason; do not wait for it.

        Ends ``go_silent()`` first (a close frame is not silence). Use ``wait_closed()`` to wait
        for the client's answer. No-op if the connection is not open.
        """
        self._ws.send_close_nowait(code, reason)

    def drop(self, *, reset: bool = False) -> None:
        """Cut the TCP connection with NO close frame, as Vega and Hyperliquid servers do.

        The client sees an abrupt end of stream (FIN); with ``reset=True`` it sees a TCP reset
        (RST) instead. Idempotent.
        """
        self._ws.abort(reset=reset)

    def go_silent(self) -> None:
        """Keep the TCP socket open but send nothing at all, not even pongs to pings.

        The server keeps reading (and recording) what the client sends; frames the protocol
        owes (pongs, close replies) and messages sent meanwhile are discarded, so the client
        only notices through its own heartbeat/stale timeout. ``resume()`` ends it.
        """
        self._ws.set_silent(True)

    def resume(self) -> None:
        """End ``go_silent()``: later frames are sent again (discarded ones are lost)."""
        self._ws.set_silent(False)


class _ServerConnection(ServerConnection):
    """websockets' server connection with named threads, a silent mode and an abort.

    Bound to its FakeServer through a per-server subclass (see ``FakeServer._connection_class``)
    because websockets instantiates the connection class itself.
    """

    fake: ClassVar[FakeServer]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.silent = False  # guarded by protocol_mutex; read by send_data under it
        self.fake_request: FakeRequest | None = None  # set by FakeServer._process_request
        self.eof_done = False  # guarded by protocol_mutex
        super().__init__(*args, **kwargs)
        # The constructor runs in websockets' per-socket handler thread, right after it starts:
        # give it and the reader thread names so leaks are visible and stop() can join them.
        self.number = self.fake._register_socket(self)
        base = f"{self.fake.thread_prefix}-{abs(self.number)}"
        threading.current_thread().name = base
        self.recv_events_thread.name = f"{base}-recv"
        if self.number < 0:
            # Accepted while stop() was running, after it listed the sockets to cut.
            self.abort()

    def send_data(self) -> None:
        # Every write to the socket goes through here (under protocol_mutex), including the
        # automatic pong websockets sends for each ping: a silent peer drops them all.
        if self.silent:
            self.protocol.data_to_send()
            return
        super().send_data()
        if self.protocol.eof_sent and not self.eof_done:
            # The server has finished its side: the closing handshake is complete, the
            # connection failed, or an HTTP answer went out. websockets only half-closes and
            # waits for the client's FIN; close TCP outright instead, as RFC 6455 §7.1.1 wants
            # of a server, so a client that never closes its socket cannot keep us open.
            self.eof_done = True
            try:
                self.socket.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def start_keepalive(self) -> None:
        super().start_keepalive()
        if self.keepalive_thread is not None:
            self.keepalive_thread.name = f"{self.fake.thread_prefix}-{abs(self.number)}-ping"

    def set_silent(self, silent: bool) -> None:
        with self.protocol_mutex:
            self.silent = silent

    def send_close_nowait(self, code: int, reason: str) -> None:
        # websockets' close() blocks until the client answers; a test thread that is also the
        # client cannot answer while it waits, so write the close frame and return at once.
        # The reader thread completes the handshake when the client's reply arrives.
        with self.protocol_mutex:
            self.silent = False
            if self.protocol.state is not OPEN:
                return
            self.protocol.send_close(code, reason)
            try:
                self.send_data()
            except OSError:
                pass

    def abort(self, *, reset: bool = False) -> None:
        try:
            if reset:
                self._reset()
            else:
                # shutdown() also wakes a thread blocked in sendall() on a full buffer, which
                # holds protocol_mutex that close_socket() needs.
                self.socket.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already closed
        self.close_socket()

    def _reset(self) -> None:
        # SO_LINGER with a zero timeout makes close() send RST instead of FIN. SHUT_RD sends
        # nothing but wakes a reader blocked in recv() (websockets < 14), which would hold the
        # file open. Holding protocol_mutex keeps the woken reader from half-closing (FIN)
        # before our close; if a writer is stuck on a full buffer, go on without it.
        locked = self.protocol_mutex.acquire(timeout=1.0)
        try:
            self.silent = True
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.socket.shutdown(socket.SHUT_RD)
            self.socket.close()
        finally:
            if locked:
                self.protocol_mutex.release()


_ServerT = TypeVar("_ServerT", bound="FakeServer")


class FakeServer:
    """A WebSocket (and plain HTTP) server on 127.0.0.1, ephemeral port, in daemon threads.

    Subclass it for a venue fake and override the hooks: ``check_handshake``, ``handle_http``,
    ``handle`` or the finer ``on_connect`` / ``on_message`` / ``on_disconnect``. Hooks run in
    the thread of the connection (one per socket) and must return promptly once ``stopping``
    is set.

    For subclasses (stable, although underscored): ``self._cond`` is the condition whose lock
    guards every record; a fake may guard its own records with it and ``notify_all()`` after a
    change, then block on them with ``self._wait(ready, timeout, describe, conn=None)``, which
    evaluates ``ready()`` under the lock and raises ``TimeoutError`` with ``describe()``.

    Args:
        name: short name used in thread names (``wsclients-fake-<name>``) and reprs.
        path: path appended to ``url`` (the server answers on every path regardless).
        ping_interval: send WebSocket pings this often (seconds); ``None`` (default): never.
            Needs websockets >= 15.
        ping_timeout: close the connection when a ping gets no pong for this long.
        max_size: largest message accepted from a client, in bytes.
        ssl: serve TLS with this server-side context (``wss://`` and ``https://`` URLs).
    """

    handshake_delay: float
    """Seconds to wait before answering each upgrade request; ``math.inf`` waits until stop()."""

    def __init__(
        self,
        name: str = "server",
        *,
        path: str = "",
        ping_interval: float | None = None,
        ping_timeout: float | None = None,
        max_size: int | None = 2**24,
        ssl: Optional[_ssl.SSLContext] = None,
    ) -> None:
        self.name = name
        self.path = path
        self._ssl = ssl
        self.thread_prefix = f"wsclients-fake-{name}"
        self.handshake_delay = 0.0
        self._ping_interval = ping_interval
        self._ping_timeout = ping_timeout
        self._max_size = max_size
        self._port = 0
        # One lock for all the recorded state below; waiters sleep on its condition.
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._ws_server: Server | None = None
        self._serve_thread: threading.Thread | None = None
        self._sockets: list[_ServerConnection] = []  # every accepted TCP socket, ever
        self._handler_threads: list[threading.Thread] = []
        self._helper_threads: list[threading.Thread] = []
        self._connections: list[FakeConnection] = []
        self._requests: list[FakeRequest] = []
        self._errors: list[BaseException] = []
        self._silent = False
        # (status, body, headers, remaining or None for every upgrade) — see reject_handshake().
        self._rejection: tuple[int, str, dict[str, str], int | None] | None = None

    def __repr__(self) -> str:
        state = "running" if self._ws_server is not None else "stopped"
        return f"<{type(self).__name__} {self.name} 127.0.0.1:{self._port} {state}>"

    # Lifecycle ------------------------------------------------------------------------------

    def start(self: _ServerT) -> _ServerT:
        """Bind 127.0.0.1 (an ephemeral port the first time, the same port on a restart) and
        serve in a daemon thread. Idempotent; returns ``self``."""
        with self._cond:
            if self._ws_server is not None:
                return self
            self._stopping.clear()
            keepalive: dict[str, Any] = {}
            if _SERVE_HAS_KEEPALIVE:
                # Pass None explicitly too: websockets' default is a ping every 20 s.
                keepalive = {
                    "ping_interval": self._ping_interval,
                    "ping_timeout": self._ping_timeout,
                }
            elif self._ping_interval is not None:
                raise RuntimeError("FakeServer(ping_interval=...) needs websockets >= 15")
            ws_server = serve(
                self._handler,
                "127.0.0.1",
                self._port,
                process_request=self._process_request,
                compression=None,
                open_timeout=None,
                close_timeout=2.0,
                max_size=self._max_size,
                server_header=None,
                logger=logging.getLogger(f"{__name__}.websockets"),
                create_connection=self._connection_class(),
                ssl=self._ssl,
                **keepalive,
            )
            self._port = ws_server.socket.getsockname()[1]
            self._ws_server = ws_server
            self._serve_thread = threading.Thread(
                target=ws_server.serve_forever, name=self.thread_prefix, daemon=True
            )
            self._serve_thread.start()
        logger.debug("fake %s listening on %s", self.name, self.url)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving: close every connection, the listening socket, and join every thread.

        Open connections get a 1001 close frame and a brief chance to answer; then every socket
        is cut, including silent ones and handshakes still delayed. Returns promptly (well
        under a second) unless a hook refuses to return. Idempotent. The server may be
        started again afterwards, on the same port.

        Args:
            timeout: how long hooks and helper threads get to return once ``stopping`` is set.

        Raises:
            RuntimeError: a hook or helper thread was still running after ``timeout``; the
                server is left half-stopped (upgrades are refused): call ``stop()`` again once
                the hook can return.
        """
        with self._cond:
            ws_server = self._ws_server
            if ws_server is None:
                return
            self._stopping.set()
            self._cond.notify_all()
            sockets = list(self._sockets)
            connections = [conn for conn in self._connections if conn.is_open]
        for conn in connections:
            conn.close(1001, "server stopping")
        deadline = time.monotonic() + _STOP_GRACE
        for conn in connections:
            conn._ws.recv_events_thread.join(max(0.0, deadline - time.monotonic()))
        for ws in sockets:
            ws.abort()
        # Handler threads end once their hook returns; websockets' shutdown() joins them
        # without a timeout, so check first rather than hang the test run.
        with self._cond:
            threads = list(self._handler_threads) + list(self._helper_threads)
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        stuck = [thread.name for thread in threads if thread.is_alive()]
        if stuck:
            raise RuntimeError(
                f"fake {self.name}: threads still running {timeout} s after stop: {stuck}"
            )
        if _SHUTDOWN_CLOSES_CONNECTIONS:
            ws_server.shutdown(close_connections=False)
        else:
            ws_server.shutdown()  # websockets < 14: closes the listening socket, joins nothing
        if self._serve_thread is not None:
            self._serve_thread.join(timeout)
        # No socket can arrive now; those accepted after the snapshot above cut themselves.
        with self._cond:
            sockets = list(self._sockets)
            threads = list(self._handler_threads)
        for thread in threads:
            thread.join(timeout)
        for ws in sockets:
            ws.recv_events_thread.join(timeout)
            keepalive_thread = getattr(ws, "keepalive_thread", None)  # websockets >= 15
            if keepalive_thread is not None:
                keepalive_thread.join(timeout)
        with self._cond:
            self._ws_server = None
            self._serve_thread = None
            self._handler_threads.clear()
            self._helper_threads.clear()
        logger.debug("fake %s stopped", self.name)

    def __enter__(self: _ServerT) -> _ServerT:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def stopping(self) -> threading.Event:
        """Set while stopping (or stopped): loops in hooks and helper threads wait on it."""
        return self._stopping

    def start_thread(
        self, target: Callable[..., object], *args: Any, name: str
    ) -> threading.Thread:
        """Run ``target(*args)`` in a daemon thread that ``stop()`` joins.

        For venue fakes that stream on their own schedule. ``target`` must return soon after
        ``stopping`` is set (wait on it instead of sleeping).
        """
        thread = threading.Thread(
            target=self._run_helper, args=(target, args), name=f"{self.thread_prefix}-{name}",
            daemon=True,
        )
        with self._cond:
            self._helper_threads.append(thread)
        thread.start()
        return thread

    # Addresses ------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound port (0 before the first ``start()``).

        Set it before the first ``start()`` to serve on a fixed port (``wsclients fake
        --port``); 0 picks a free one.
        """
        return self._port

    @port.setter
    def port(self, port: int) -> None:
        with self._cond:
            if self._ws_server is not None:
                raise RuntimeError("the port of a running server cannot change")
            if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
                raise ValueError(f"port must be 0..65535, got {port!r}")
            self._port = port

    @property
    def url(self) -> str:
        """``ws://127.0.0.1:<port>`` (``wss://`` with TLS) plus ``path``."""
        scheme = "wss" if self._ssl is not None else "ws"
        return f"{scheme}://127.0.0.1:{self._port}{self.path}"

    @property
    def http_url(self) -> str:
        """``http://127.0.0.1:<port>`` (``https://`` with TLS), for ``handle_http``."""
        scheme = "https" if self._ssl is not None else "http"
        return f"{scheme}://127.0.0.1:{self._port}"

    # Records --------------------------------------------------------------------------------

    @property
    def connections(self) -> list[FakeConnection]:
        """Every accepted WebSocket connection, in order of arrival, closed ones included."""
        with self._cond:
            return list(self._connections)

    @property
    def live_connections(self) -> list[FakeConnection]:
        """The connections that are still open."""
        return [conn for conn in self.connections if conn.is_open]

    @property
    def requests(self) -> list[FakeRequest]:
        """Every HTTP request received (upgrades, rejected ones, plain HTTP), in order."""
        with self._cond:
            return list(self._requests)

    @property
    def handler_errors(self) -> list[BaseException]:
        """Exceptions raised by hooks (each was also logged); a test may assert it is empty."""
        with self._cond:
            return list(self._errors)

    def wait_for_connections(
        self, n: int, *, timeout: float = _DEFAULT_TIMEOUT
    ) -> list[FakeConnection]:
        """Wait until ``n`` connections have been accepted in total; return the first ``n``.

        Raises:
            TimeoutError: fewer than ``n`` within ``timeout`` seconds.
        """
        self._wait(
            lambda: len(self._connections) >= n,
            timeout,
            lambda: f"{len(self._connections)} of {n} connections",
        )
        with self._cond:
            return self._connections[:n]

    def wait_for_requests(
        self,
        n: int,
        *,
        timeout: float = _DEFAULT_TIMEOUT,
        predicate: Callable[[FakeRequest], bool] | None = None,
    ) -> list[FakeRequest]:
        """Wait until ``n`` HTTP requests (matching ``predicate``, if given) have arrived;
        return the first ``n`` of them. Counts rejected upgrades, which connections don't.

        Raises:
            TimeoutError: fewer than ``n`` within ``timeout`` seconds.
        """

        def matching() -> list[FakeRequest]:
            return [r for r in self._requests if predicate is None or predicate(r)]

        self._wait(
            lambda: len(matching()) >= n,
            timeout,
            lambda: f"{len(matching())} of {n} requests",
        )
        with self._cond:
            return matching()[:n]

    # Whole-server actions and faults --------------------------------------------------------

    def broadcast(self, message: Message) -> None:
        """Send ``message`` to every open connection."""
        for conn in self.live_connections:
            conn.send(message)

    def close_all(self, code: int = 1000, reason: str = "") -> None:
        """Send a close frame with this code and reason to every open connection."""
        for conn in self.live_connections:
            conn.close(code, reason)

    def drop_all(self, *, reset: bool = False) -> None:
        """Cut every open connection without a close frame (see ``FakeConnection.drop``)."""
        for conn in self.live_connections:
            conn.drop(reset=reset)

    def go_silent(self) -> None:
        """Make every open connection, and every later one once accepted, silent."""
        with self._cond:
            self._silent = True
        for conn in self.live_connections:
            conn.go_silent()

    def resume(self) -> None:
        """End ``go_silent()`` for the server and every open connection."""
        with self._cond:
            self._silent = False
        for conn in self.live_connections:
            conn.resume()

    def reject_handshake(
        self,
        status: int,
        body: str = "",
        *,
        times: int | None = 1,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Answer the next ``times`` upgrade requests (``None``: all of them, until
        ``accept_handshakes()``) with HTTP ``status`` and ``body`` instead of 101."""
        with self._cond:
            self._rejection = (status, body, dict(headers or {}), times)

    def accept_handshakes(self) -> None:
        """Cancel ``reject_handshake()``."""
        with self._cond:
            self._rejection = None

    # Hooks for subclasses -------------------------------------------------------------------

    def check_handshake(self, request: FakeRequest) -> tuple[int, str] | None:
        """Decide an upgrade request: return ``(status, body)`` to refuse it, ``None`` to accept.

        Runs after ``handshake_delay`` and ``reject_handshake``, in the socket's thread. For
        venues that authenticate during the upgrade (a token in a header or the query).
        """
        return None

    def handle_http(self, request: FakeRequest) -> HttpResult:
        """Answer a plain (non-upgrade) HTTP request; default: 404.

        Returns ``(status, body)`` or ``(status, body, headers)``; see ``HttpResult``. The
        connection closes after the answer. Requests with a body never reach this hook
        (websockets refuses them; the client may just see the connection drop), and
        websockets < 14 accepts GET requests only.
        """
        return 404, {"error": f"no route for {request.method} {request.path}"}

    def handle(self, conn: FakeConnection) -> None:
        """Serve one connection, in its own thread, until it closes.

        Default: ``on_connect``, then every message is recorded and passed to ``on_message``,
        then ``on_disconnect``. An override that returns while the connection is open makes
        websockets close it with 1000.
        """
        self.on_connect(conn)
        try:
            while True:
                message = conn.recv()
                if message is None:
                    break
                self.on_message(conn, message)
        finally:
            self.on_disconnect(conn)

    def on_connect(self, conn: FakeConnection) -> None:
        """Called once the upgrade is accepted; send greetings or snapshots here."""

    def on_message(self, conn: FakeConnection, message: Message) -> None:
        """Called for each message the client sends, after it is recorded."""

    def on_disconnect(self, conn: FakeConnection) -> None:
        """Called when the connection has closed (whoever closed it)."""

    # Internals ------------------------------------------------------------------------------

    def _connection_class(self) -> type[_ServerConnection]:
        fake = self

        class _BoundServerConnection(_ServerConnection):
            pass

        _BoundServerConnection.fake = fake
        return _BoundServerConnection

    def _register_socket(self, ws: _ServerConnection) -> int:
        # Returns the socket's number, negated when stop() has begun (the caller then aborts).
        with self._cond:
            self._sockets.append(ws)
            self._handler_threads.append(threading.current_thread())
            number = len(self._sockets)
            return -number if self._stopping.is_set() else number

    def _wait(
        self,
        ready: Callable[[], bool],
        timeout: float,
        describe: Callable[[], str],
        conn: FakeConnection | None = None,
    ) -> None:
        with self._cond:
            if not self._cond.wait_for(ready, timeout):
                detail = ""
                if conn is not None:
                    detail = f"; received so far: {_shorten(conn._received)}"
                raise TimeoutError(f"fake {self.name}: after {timeout} s, {describe()}{detail}")

    def _run_helper(self, target: Callable[..., object], args: tuple[Any, ...]) -> None:
        try:
            target(*args)
        except Exception as exc:
            self._record_error(exc, f"helper thread {threading.current_thread().name}")

    def _record_error(self, exc: BaseException, where: str) -> None:
        logger.error("fake %s: %s failed", self.name, where, exc_info=exc)
        with self._cond:
            self._errors.append(exc)
            self._cond.notify_all()

    def _process_request(self, ws: ServerConnection, request: Request) -> Response | None:
        # websockets calls this in the socket's thread with every parsed HTTP request, upgrade
        # or not; returning a Response answers it instead of upgrading.
        split = urlsplit(request.path)
        # websockets < 14 parses GET requests only and has no Request.method.
        method: str = getattr(request, "method", "GET")
        is_upgrade = request.headers.get("Upgrade", "").lower() == "websocket"
        record = FakeRequest(
            method=method,
            target=request.path,
            path=split.path,
            query=parse_qs(split.query, keep_blank_values=True),
            headers=request.headers,
            is_upgrade=is_upgrade,
        )
        assert isinstance(ws, _ServerConnection)
        ws.fake_request = record
        with self._cond:
            self._requests.append(record)
            self._cond.notify_all()
        try:
            response = self._answer(record) if is_upgrade else self._answer_http(record)
        except Exception as exc:
            self._record_error(exc, f"answering {method} {request.path}")
            response = _response(500, b"fake server hook failed\n", {"Content-Type": "text/plain"})
        with self._cond:
            record.status = 101 if response is None else response.status_code
            self._cond.notify_all()
        return response

    def _answer(self, request: FakeRequest) -> Response | None:
        delay = self.handshake_delay
        if delay > 0:
            self._stopping.wait(None if math.isinf(delay) else delay)
        if self._stopping.is_set():
            return _response(503, b"server is stopping\n", {"Content-Type": "text/plain"})
        with self._cond:
            rejection = self._rejection
            if rejection is not None:
                status, body, headers, remaining = rejection
                if remaining is not None:
                    remaining -= 1
                    self._rejection = None if remaining <= 0 else (status, body, headers, remaining)
        if rejection is not None:
            return _response(rejection[0], rejection[1].encode(), rejection[2])
        refusal = self.check_handshake(request)
        if refusal is not None:
            return _response(refusal[0], refusal[1].encode(), {})
        return None

    def _answer_http(self, request: FakeRequest) -> Response:
        result = self.handle_http(request)
        headers: dict[str, str] = {}
        if len(result) == 3:
            status, body, extra_headers = result
            headers.update(extra_headers)
        else:
            status, body = result
        if isinstance(body, bytes):
            payload = body
            headers.setdefault("Content-Type", "application/octet-stream")
        elif isinstance(body, str):
            payload = body.encode()
            headers.setdefault("Content-Type", "text/plain; charset=utf-8")
        else:
            payload = json.dumps(body, separators=(",", ":"), default=str).encode()
            headers.setdefault("Content-Type", "application/json")
        return _response(status, payload, headers)

    def _handler(self, ws: ServerConnection) -> None:
        # websockets runs this in the socket's thread after a successful upgrade.
        assert isinstance(ws, _ServerConnection) and ws.fake_request is not None
        request = ws.fake_request
        with self._cond:
            conn = FakeConnection(self, ws, request, len(self._connections))
            self._connections.append(conn)
            stopping = self._stopping.is_set()
            silent = self._silent
            self._cond.notify_all()
        try:
            if stopping:
                ws.abort()
                return
            if silent:
                ws.set_silent(True)
            self.handle(conn)
        except ConnectionClosed:
            pass
        except Exception as exc:
            self._record_error(exc, f"handler of {conn!r}")
            conn.close(1011, "fake server handler failed")
        finally:
            with self._cond:
                conn._handler_done.set()
                self._cond.notify_all()


def _response(status: int, body: bytes, headers: Mapping[str, str]) -> Response:
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = "Unknown"
    all_headers = Headers(headers)
    for name in ("Connection", "Content-Length"):
        if name in all_headers:
            del all_headers[name]
    # websockets closes the socket after any non-101 answer; say so, so that HTTP clients
    # do not try to reuse the connection.
    all_headers["Connection"] = "close"
    all_headers["Content-Length"] = str(len(body))
    return Response(status, phrase, all_headers, body)


def _shorten(messages: list[Message], limit: int = 300) -> str:
    text = repr(messages[-5:])
    return text if len(text) <= limit else text[: limit - 3] + "..."

