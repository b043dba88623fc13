"""The upgrade against hostile servers on real sockets: redirects are never followed (no
credentials leave, no request reaches another port, no wss → ws), one deadline covers the
whole exchange, response heads and error bodies are bounded, no cookie jar is shared, and
stop() ends an upgrade at once."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websocket

from tests.conftest import T
from tests.core.echo import EchoClient, trade
from tests.core.rawserver import Handler, RawServer, switching
from tests.helpers import next_of
from wsclients import ConnectionState, Status, Trade
from wsclients.core.handshake import (
    MAX_ERROR_BODY,
    MAX_HEAD_LINES,
    UpgradeRefused,
    open_websocket,
)

pytestmark = pytest.mark.timeout(30)

TLS = Path(__file__).resolve().parent.parent / "fixtures" / "tls"
FAST: dict[str, Any] = {"backoff_min": 0.01, "backoff_max": 0.05, "ping_interval": None,
                        "stale_timeout": None}
SECRET = "Authorization: Bearer s3cr3t-token"


def upgrade(url: str, timeout: float = 5.0, **options: object) -> websocket.WebSocket:
    """open_websocket with a secret header; the socket is closed by the caller."""
    ws, _ = open_websocket(url, header=[SECRET], timeout=timeout, options=options,
                           cancelled=lambda: False)
    return ws


def redirect_to(location: str) -> Handler:
    """A handler answering 302 to ``location``."""
    def handler(sock: socket.socket, head: bytes, stop: threading.Event) -> None:
        sock.sendall(f"HTTP/1.1 302 Found\r\nLocation: {location}\r\n"
                     "Content-Length: 0\r\n\r\n".encode())
        stop.wait(2)
    return handler


def test_redirect_to_another_port_is_not_followed() -> None:
    """A 302 to a local port is an error naming the target; that port receives nothing."""
    with RawServer() as target, \
            RawServer(redirect_to(f"ws://127.0.0.1:{target.port}/admin")) as server:
        with pytest.raises(UpgradeRefused) as caught:
            upgrade(server.url)
        time.sleep(0.2 * T)  # a followed redirect would have connected by now
        assert target.accepted == 0 and target.requests == []
    assert caught.value.status_code == 302
    assert f"redirect to ws://127.0.0.1:{target.port}/admin not followed" in str(caught.value)
    assert b"s3cr3t-token" in server.requests[0]  # the header did go to the venue itself


def test_redirect_from_wss_to_ws_is_not_followed() -> None:
    """A TLS server redirecting to plain ws:// gets no second request, secret or not."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(TLS / "localhost.crt", TLS / "localhost.key")
    with RawServer() as plain:
        location = f"ws://127.0.0.1:{plain.port}/"
        with RawServer(redirect_to(location), tls=context) as server:
            with pytest.raises(UpgradeRefused, match="redirect to ws://"):
                upgrade(server.url, sslopt={"ca_certs": str(TLS / "localhost.crt")})
            time.sleep(0.2 * T)
            assert plain.accepted == 0
        assert len(server.requests) == 1


def test_client_reports_a_redirect_with_its_redacted_target() -> None:
    """The client's status names the redirect target with query values hidden, and retries
    the venue's own URL, never the target."""
    with RawServer() as target:
        location = f"ws://127.0.0.1:{target.port}/?token=abc123"
        with RawServer(redirect_to(location)) as server:
            client = EchoClient(url=server.url, **FAST)
            try:
                client.start(wait=False)
                status = next_of(client, Status, state=ConnectionState.RECONNECTING)
            finally:
                client.stop()
            assert target.accepted == 0
    assert status.code == 302
    assert f"redirect to ws://127.0.0.1:{target.port}/?token=*** not followed" in status.reason
    assert "abc123" not in status.reason


def endless_headers(sock: socket.socket, head: bytes, stop: threading.Event) -> None:
    sock.sendall(b"HTTP/1.1 101 Switching Protocols\r\n")
    while not stop.is_set():
        sock.sendall(b"X-Filler: " + b"a" * 1000 + b"\r\n")


def huge_line(sock: socket.socket, head: bytes, stop: threading.Event) -> None:
    sock.sendall(b"HTTP/1.1 101 Switching Protocols\r\nX-Big: " + b"b" * (4 * 1024 * 1024))


def many_lines(sock: socket.socket, head: bytes, stop: threading.Event) -> None:
    filler = "".join(f"X-{i}: 1\r\n" for i in range(MAX_HEAD_LINES + 1))
    sock.sendall(switching(head, filler))
    stop.wait(2)


@pytest.mark.parametrize("handler", [endless_headers, huge_line, many_lines])
def test_oversized_response_heads_fail_fast(handler: Handler) -> None:
    """An endless head, a 4 MiB header line or too many lines end the upgrade in well
    under a second, long before the deadline, with bounded memory."""
    with RawServer(handler) as server:
        started = time.monotonic()
        with pytest.raises(websocket.WebSocketException, match="larger than|more than"):
            upgrade(server.url, timeout=10)
        assert time.monotonic() - started < 1.0 * T


def test_a_drip_fed_response_hits_the_one_deadline() -> None:
    """Header lines trickling in every 50 ms cannot stretch the upgrade past its timeout."""
    def drip(sock: socket.socket, head: bytes, stop: threading.Event) -> None:
        sock.sendall(b"HTTP/1.1 101 Switching Protocols\r\n")
        while not stop.wait(0.05):
            sock.sendall(b"X-Drip: 1\r\n")

    with RawServer(drip) as server:
        started = time.monotonic()
        with pytest.raises(websocket.WebSocketTimeoutException, match="within 0.5 s"):
            upgrade(server.url, timeout=0.5)
        elapsed = time.monotonic() - started
    assert 0.45 < elapsed < 0.5 + 0.5 * T


def test_a_client_leaves_connecting_when_the_upgrade_drips() -> None:
    """A client facing a drip-fed upgrade reports the timeout and retries after
    connect_timeout instead of staying in CONNECTING."""
    def drip(sock: socket.socket, head: bytes, stop: threading.Event) -> None:
        sock.sendall(b"HTTP/1.1 101 Switching Protocols\r\n")
        while not stop.wait(0.05):
            sock.sendall(b"X-Drip: 1\r\n")

    with RawServer(drip) as server:
        client = EchoClient(url=server.url, connect_timeout=0.3, **FAST)
        try:
            client.start(wait=False)
            status = next_of(client, Status, state=ConnectionState.RECONNECTING)
        finally:
            client.stop()
    assert "did not complete within 0.3 s" in status.reason


def test_an_error_body_is_read_only_up_to_its_cap() -> None:
    """A 503 announcing a 20 MiB body costs at most MAX_ERROR_BODY bytes and no wait."""
    def big_error(sock: socket.socket, head: bytes, stop: threading.Event) -> None:
        size = 20 * 1024 * 1024
        sock.sendall(f"HTTP/1.1 503 Busy\r\nContent-Length: {size}\r\n\r\n".encode())
        chunk = b"e" * 65536
        for _ in range(size // len(chunk)):
            if stop.is_set():
                return
            sock.sendall(chunk)

    with RawServer(big_error) as server:
        started = time.monotonic()
        with pytest.raises(UpgradeRefused) as caught:
            upgrade(server.url)
        assert time.monotonic() - started < 1.0 * T
    assert caught.value.status_code == 503
    assert caught.value.resp_body is not None and len(caught.value.resp_body) == MAX_ERROR_BODY
    assert len(caught.value.reason) < 300


def test_cookies_are_never_stored_nor_sent_unless_asked() -> None:
    """A Set-Cookie from one server is not sent on the next upgrade (no shared jar), and
    websocket-client's process-global jar stays empty; cookie= is sent when given."""
    def set_cookie(sock: socket.socket, head: bytes, stop: threading.Event) -> None:
        sock.sendall(switching(head, "Set-Cookie: sid=stolen; Domain=127.0.0.1\r\n"))
        stop.wait(2)

    with RawServer(set_cookie) as server:
        upgrade(server.url).shutdown()  # type: ignore[no-untyped-call]
        upgrade(server.url).shutdown()  # type: ignore[no-untyped-call]
        upgrade(server.url, cookie="mine=1").shutdown()  # type: ignore[no-untyped-call]
        first, second, third = server.requests
    assert b"Cookie" not in first and b"Cookie" not in second
    assert b"\r\nCookie: mine=1\r\n" in third
    assert websocket._handshake.CookieJar.jar == {}


def test_frames_sent_right_behind_the_101_are_delivered() -> None:
    """Bytes the upgrade read past the response head are the stream's first frame."""
    payload = trade(7).encode()

    def eager(sock: socket.socket, head: bytes, stop: threading.Event) -> None:
        sock.sendall(switching(head) + bytes([0x81, len(payload)]) + payload)
        stop.wait(5)

    with RawServer(eager) as server, EchoClient(url=server.url, **FAST) as client:
        assert next_of(client, Trade).trade_id == "7"


@pytest.mark.parametrize("delay", [0.0, 0.001, 0.01, 0.05, 0.2])
def test_stop_right_after_start_ends_a_hanging_upgrade(delay: float) -> None:
    """stop() just after start(wait=False) ends the reader at once, whatever point the
    upgrade reached, against a server that accepts and never answers."""
    with RawServer() as server:
        client = EchoClient(url=server.url, connect_timeout=30, **FAST)
        client.start(wait=False)
        time.sleep(delay)
        started = time.monotonic()
        client.stop(timeout=5)
        assert time.monotonic() - started < 0.5 * T
        assert client.state is ConnectionState.CLOSED


@pytest.fixture
def unanswered_port() -> Iterator[int]:
    """A port whose TCP connects hang: its listener's backlog is full and never accepted."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    held = []
    for _ in range(2):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        held.append(filler)
    time.sleep(0.05)
    yield port
    for filler in held:
        filler.close()
    listener.close()


def test_the_deadline_covers_the_tcp_connect(unanswered_port: int) -> None:
    """A TCP connect that hangs ends at the one deadline."""
    started = time.monotonic()
    with pytest.raises(websocket.WebSocketTimeoutException, match="TCP connect"):
        upgrade(f"ws://127.0.0.1:{unanswered_port}/", timeout=0.3)
    assert time.monotonic() - started < 0.3 + 0.5 * T


def test_stop_ends_a_hanging_tcp_connect(unanswered_port: int) -> None:
    """stop() during a TCP connect that would hang for connect_timeout returns at once."""
    client = EchoClient(url=f"ws://127.0.0.1:{unanswered_port}/", connect_timeout=30, **FAST)
    client.start(wait=False)
    time.sleep(0.2)
    started = time.monotonic()
    client.stop(timeout=5)
    assert time.monotonic() - started < 0.5 * T
    assert client.state is ConnectionState.CLOSED
