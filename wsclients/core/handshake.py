"""The WebSocket upgrade (RFC 6455 §4.1), done by us with one deadline and bounded reads.

websocket-client's ``WebSocket.connect`` gives each ``recv`` its own timeout (a response drip-fed
a line at a time never ends), reads header lines a byte per system call with no size limit,
reads an error body of any ``Content-Length`` whole, follows redirects to any host, port and
scheme with every header (``Authorization`` included), and keeps a cookie jar shared by every
socket of the process. Here:

- one deadline covers TCP connect, TLS and the whole HTTP exchange, and every wait checks
  ``cancelled`` at least every ``_SLICE`` seconds, so ``stop()`` ends an upgrade at once;
- the response head is read a buffer at a time and refused past ``MAX_HEAD_BYTES`` or
  ``MAX_HEAD_LINES``; an error body is read up to ``MAX_ERROR_BODY`` bytes, never more;
- a 3xx is never followed: it is an error naming the (redacted) target;
- no cookie is stored or sent unless the caller passes one (``cookie=``).

Without a proxy the TCP connect is ours too (non-blocking, under the deadline, cancellable);
through a proxy, opening the socket (an HTTP CONNECT tunnel or SOCKS, and DNS) stays
websocket-client's (``websocket._http.connect``), bounded by the timeout per step. The TLS
wrap is websocket-client's in both cases, so every ``sslopt`` option keeps working; only the
TLS handshake is driven here, under the same deadline.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import logging
import os
import selectors
import socket
import ssl
from collections.abc import Mapping, Sequence
from typing import Any, Callable, Optional

import websocket
from websocket._http import _ssl_socket, proxy_info
from websocket._http import connect as _open_transport
from websocket._socket import DEFAULT_SOCKET_OPTION, sock_opt
from websocket._url import get_proxy_info, parse_url

from wsclients.core.deadline import Deadline
from wsclients.core.redact import redact_url

__all__ = [
    "MAX_ERROR_BODY",
    "MAX_HEAD_BYTES",
    "MAX_HEAD_LINES",
    "BufferedSocket",
    "HandshakeCancelled",
    "UpgradeRefused",
    "open_websocket",
]

MAX_HEAD_BYTES = 64 * 1024
"""Largest response head (status line and headers) accepted, bytes."""
MAX_HEAD_LINES = 100
"""Most header lines accepted in a response."""
MAX_ERROR_BODY = 16 * 1024
"""Most bytes of an error response's body read (and shown, shortened)."""

logger = logging.getLogger(__name__)

_SLICE = 0.1  # longest wait between two looks at ``cancelled``
_CHUNK = 4096
_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3
_PROXY_OPTIONS = (
    "http_proxy_host", "http_proxy_port", "http_proxy_auth", "http_no_proxy", "proxy_type",
    "http_proxy_timeout",
)


class UpgradeRefused(websocket.WebSocketBadStatusException):
    """The server answered the upgrade with another status than 101 (a 3xx included).

    A subclass of websocket-client's bad-status error, so callers that classify by status
    (401/403: credentials refused) keep working; ``reason`` is the printable explanation.
    """

    def __init__(
        self, status: int, reason: str, headers: Mapping[str, str], body: Optional[bytes]
    ) -> None:
        super().__init__(reason, status, None, dict(headers), body)
        self.reason = reason


class HandshakeCancelled(websocket.WebSocketException):
    """``cancelled()`` turned true during the upgrade (the connection is stopping)."""


class BufferedSocket:
    """A socket whose first reads return bytes the upgrade already took from the kernel
    (frames the server sent right behind its 101 response)."""

    __slots__ = ("_pending", "_sock")

    def __init__(self, sock: socket.socket, pending: bytes) -> None:
        self._sock = sock
        self._pending = pending

    def pending(self) -> int:
        """Bytes readable without waiting: those read ahead, and a TLS socket's own."""
        inner = getattr(self._sock, "pending", None)
        return len(self._pending) + (inner() if inner is not None else 0)

    def recv(self, bufsize: int, /) -> bytes:
        """The buffered bytes first, then the socket's."""
        pending = self._pending
        if pending:
            self._pending = pending[bufsize:]
            return pending[:bufsize]
        return self._sock.recv(bufsize)


class _Exchange:
    """Non-blocking reads and writes on one socket under one deadline."""

    def __init__(
        self, sock: socket.socket, deadline: Deadline, timeout: float,
        cancelled: Callable[[], bool],
    ) -> None:
        self.sock = sock
        self.deadline = deadline
        self.timeout = timeout
        self.cancelled = cancelled

    def wait(self, events: int, what: str) -> None:
        """Wait until the socket is ready for ``events``, within the deadline."""
        with selectors.DefaultSelector() as selector:
            selector.register(self.sock, events)
            while True:
                if self.cancelled():
                    raise HandshakeCancelled("the connection is stopping")
                remaining = self.deadline.remaining()
                if remaining is not None and remaining <= 0:
                    raise websocket.WebSocketTimeoutException(
                        f"the upgrade did not complete within {self.timeout:g} s ({what})"
                    )
                step = _SLICE if remaining is None else min(_SLICE, remaining)
                if selector.select(step):
                    return

    def tls_handshake(self) -> None:
        sock = self.sock
        assert isinstance(sock, ssl.SSLSocket)
        while True:
            try:
                sock.do_handshake()
                return
            except ssl.SSLWantReadError:
                self.wait(selectors.EVENT_READ, "TLS handshake")
            except ssl.SSLWantWriteError:
                self.wait(selectors.EVENT_WRITE, "TLS handshake")

    def send_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                sent = self.sock.send(view)
            except (BlockingIOError, ssl.SSLWantWriteError):
                self.wait(selectors.EVENT_WRITE, "sending the request")
                continue
            except ssl.SSLWantReadError:
                self.wait(selectors.EVENT_READ, "sending the request")
                continue
            view = view[sent:]

    def recv(self, size: int, what: str) -> bytes:
        """Up to ``size`` bytes; b"" when the peer closed."""
        while True:
            # TLS may hold decrypted bytes no select() can see: try before waiting.
            try:
                return self.sock.recv(size)
            except (BlockingIOError, ssl.SSLWantReadError):
                self.wait(selectors.EVENT_READ, what)
            except ssl.SSLWantWriteError:
                self.wait(selectors.EVENT_WRITE, what)


def open_websocket(
    url: str,
    *,
    header: Optional[Sequence[str]],
    timeout: float,
    options: Mapping[str, Any],
    cancelled: Callable[[], bool],
) -> tuple[websocket.WebSocket, bytes]:
    """Connect to ``url`` and upgrade; the open ``WebSocket`` and bytes read past the head.

    Args:
        url: ``ws://`` or ``wss://``.
        header: extra request header lines (``"Name: value"``).
        timeout: seconds for everything: TCP connect, TLS and the HTTP exchange.
        options: websocket-client connect options: ``sslopt``, the proxy options,
            ``origin``, ``suppress_origin``, ``host``, ``subprotocols``, ``cookie``.
        cancelled: polled during every wait after the TCP connect; True ends the upgrade
            with ``HandshakeCancelled``.

    Raises:
        UpgradeRefused: any status but 101 (redirects are not followed).
        websocket.WebSocketTimeoutException: the deadline passed.
        websocket.WebSocketException: a response head too large or not HTTP, a failed
            upgrade check; OSError and ssl errors from the network as they come.
    """
    deadline = Deadline(timeout)
    hostname, port, resource, is_secure = parse_url(url)
    sslopt = dict(options.get("sslopt") or {})
    transport = sock_opt(None, {**sslopt, "do_handshake_on_connect": False})
    transport.timeout = timeout
    proxy = proxy_info(  # type: ignore[no-untyped-call]
        **{k: options[k] for k in _PROXY_OPTIONS if options.get(k) is not None}
    )
    proxy_host, _, _ = get_proxy_info(
        hostname, is_secure, proxy.proxy_host, proxy.proxy_port, proxy.auth, proxy.no_proxy
    )
    if proxy_host:  # options or the environment (http_proxy, https_proxy) name one
        sock, _ = _open_transport(url, transport, proxy, None)
    else:
        sock = _connect_tcp(hostname, port, deadline, timeout, cancelled)
        if is_secure:
            try:
                sock = _ssl_socket(sock, transport.sslopt, hostname)
            except BaseException:
                sock.close()
                raise
    try:
        sock.setblocking(False)
        exchange = _Exchange(sock, deadline, timeout, cancelled)
        if is_secure and isinstance(sock, ssl.SSLSocket):
            exchange.tls_handshake()
        key = base64.b64encode(os.urandom(16)).decode("ascii")
        request = _request(resource, hostname, port, is_secure, key, header, options)
        exchange.send_all(request.encode("utf-8"))
        status, headers, rest = _read_head(exchange)
        if status != 101:
            raise _refused(exchange, status, headers, rest, url)
        subprotocol = _check_accept(headers, key, options.get("subprotocols"))
    except BaseException:
        sock.close()
        raise
    ws = websocket.WebSocket(
        sslopt=sslopt,
        skip_utf8_validation=True,  # our frame reader validates UTF-8 itself
        enable_multithread=True,  # websocket-client's send lock: pongs, pings and user
    )  # sends come from different threads
    sock.settimeout(timeout)
    ws.sock = sock
    ws.connected = True
    logger.debug("upgraded %s (subprotocol %s)", redact_url(url), subprotocol)
    return ws, rest


def _connect_tcp(
    hostname: str, port: int, deadline: Deadline, timeout: float,
    cancelled: Callable[[], bool],
) -> socket.socket:
    """A connected TCP socket to the first address that answers, under the deadline."""
    addresses = socket.getaddrinfo(hostname, port, 0, socket.SOCK_STREAM, socket.SOL_TCP)
    if not addresses:
        raise websocket.WebSocketAddressException(f"host not found: {hostname}:{port}")
    last_error: Optional[BaseException] = None
    for family, kind, proto, _, address in addresses:
        sock = socket.socket(family, kind, proto)
        try:
            for option in DEFAULT_SOCKET_OPTION:
                sock.setsockopt(*option)
            sock.setblocking(False)
            code = sock.connect_ex(address)
            if code not in (0, errno.EINPROGRESS, errno.EWOULDBLOCK):
                raise OSError(code, os.strerror(code))
            if code:
                _Exchange(sock, deadline, timeout, cancelled).wait(
                    selectors.EVENT_WRITE, "TCP connect"
                )
                code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if code:
                    raise OSError(code, os.strerror(code))
            sock.settimeout(timeout)
            return sock
        except (websocket.WebSocketTimeoutException, HandshakeCancelled):
            sock.close()
            raise
        except OSError as exc:
            sock.close()
            last_error = exc
    assert last_error is not None
    raise last_error


def _request(
    resource: str, hostname: str, port: int, is_secure: bool, key: str,
    header: Optional[Sequence[str]], options: Mapping[str, Any],
) -> str:
    host = f"[{hostname}]" if ":" in hostname else hostname
    if port != (443 if is_secure else 80):
        host = f"{host}:{port}"
    lines = [
        f"GET {resource} HTTP/1.1",
        f"Host: {options.get('host') or host}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
    ]
    if not options.get("suppress_origin"):
        origin = options.get("origin") or f"{'https' if is_secure else 'http'}://{host}"
        lines.append(f"Origin: {origin}")
    subprotocols = options.get("subprotocols")
    if subprotocols:
        lines.append(f"Sec-WebSocket-Protocol: {','.join(subprotocols)}")
    cookie = options.get("cookie")
    if cookie:
        lines.append(f"Cookie: {cookie}")
    for line in header or ():
        if "\r" in line or "\n" in line:
            raise ValueError("a header line may not contain CR or LF")
        lines.append(line)
    return "\r\n".join(lines) + "\r\n\r\n"


def _read_head(exchange: _Exchange) -> tuple[int, dict[str, str], bytes]:
    """Status, headers (lower-case names) and the bytes read past the blank line."""
    buf = b""
    while True:
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            head, rest = buf[:end], buf[end + 4:]
            break
        if len(buf) > MAX_HEAD_BYTES:
            raise websocket.WebSocketException(
                f"the upgrade response head is larger than {MAX_HEAD_BYTES} bytes"
            )
        chunk = exchange.recv(_CHUNK, "reading the response")
        if not chunk:
            raise websocket.WebSocketConnectionClosedException(
                "the server closed the connection during the upgrade"
            )
        buf += chunk
    if len(head) > MAX_HEAD_BYTES:
        raise websocket.WebSocketException(
            f"the upgrade response head is larger than {MAX_HEAD_BYTES} bytes"
        )
    lines = head.decode("iso-8859-1").split("\r\n")
    if len(lines) - 1 > MAX_HEAD_LINES:
        raise websocket.WebSocketException(
            f"the upgrade response has more than {MAX_HEAD_LINES} header lines"
        )
    status_line = lines[0].split(" ", 2)
    if len(status_line) < 2 or not status_line[0].startswith("HTTP/") \
            or not status_line[1].isdigit():
        raise websocket.WebSocketException(f"not an HTTP response: {lines[0][:80]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            raise websocket.WebSocketException(f"malformed header line: {line[:80]!r}")
        name = name.strip().lower()
        value = value.strip()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return int(status_line[1]), headers, rest


def _refused(
    exchange: _Exchange, status: int, headers: Mapping[str, str], body: bytes, url: str
) -> UpgradeRefused:
    if 300 <= status < 400:
        location = headers.get("location")
        target = redact_url(location) if location else "no Location"
        return UpgradeRefused(
            status, f"HTTP {status}: redirect to {target} not followed", headers, None
        )
    try:
        length = min(int(headers.get("content-length", "0")), MAX_ERROR_BODY)
    except ValueError:
        length = 0
    try:
        while len(body) < length:
            chunk = exchange.recv(min(_CHUNK, length - len(body)), "reading the error body")
            if not chunk:
                break
            body += chunk
    except (OSError, websocket.WebSocketException):
        pass  # the status is the news; a body cut short only shortens the message
    body = body[:length]
    text = f"HTTP {status}"
    if body:
        text += ": " + body.decode("utf-8", "replace")[:200]
    return UpgradeRefused(status, text, headers, body or None)


def _check_accept(
    headers: Mapping[str, str], key: str, subprotocols: Optional[Sequence[str]]
) -> Optional[str]:
    """The checks of RFC 6455 §4.1 on a 101; the subprotocol the server chose."""
    if "websocket" not in headers.get("upgrade", "").lower():
        raise websocket.WebSocketException("the upgrade response lacks 'Upgrade: websocket'")
    connection = [t.strip().lower() for t in headers.get("connection", "").split(",")]
    if "upgrade" not in connection:
        raise websocket.WebSocketException("the upgrade response lacks 'Connection: Upgrade'")
    expected = base64.b64encode(hashlib.sha1((key + _GUID).encode()).digest()).decode()
    if headers.get("sec-websocket-accept", "").strip() != expected:
        raise websocket.WebSocketException("the upgrade response has a wrong Sec-WebSocket-Accept")
    if not subprotocols:
        return None
    chosen = headers.get("sec-websocket-protocol", "").strip().lower()
    if chosen not in [p.lower() for p in subprotocols]:
        raise websocket.WebSocketException("the server chose no subprotocol we offered")
    return chosen
