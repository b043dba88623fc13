"""Transport options reach the socket: TLS verification (on by default), sslopt, an HTTP
CONNECT proxy, extra headers."""

from __future__ import annotations

import select
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import T
from tests.core.echo import EchoClient, EchoServer, trade
from wsclients import ConnectFailed, ConnectionState, Trade

pytestmark = pytest.mark.timeout(30)

TLS = Path(__file__).resolve().parent.parent / "fixtures" / "tls"
FAST = {"backoff_min": 0.01, "backoff_max": 0.05, "ping_interval": None, "stale_timeout": None}


@pytest.fixture
def tls_server() -> Iterator[EchoServer]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(TLS / "localhost.crt", TLS / "localhost.key")
    with EchoServer("tls", ssl=context) as server:
        yield server


def test_tls_with_trusted_ca_connects(tls_server: EchoServer) -> None:
    """sslopt reaches the TLS layer: with our CA the wss:// socket opens and data flows."""
    assert tls_server.url.startswith("wss://")
    client = EchoClient(url=tls_server.url, sslopt={"ca_certs": str(TLS / "localhost.crt")},
                        **FAST)
    with client:
        tls_server.wait_for_connections(1)[0].send(trade(1))
        event = client.get(timeout=5 * T)
        while not isinstance(event, Trade):
            event = client.get(timeout=5 * T)
        assert event.trade_id == "1"


def test_untrusted_certificate_is_fatal_not_retried(tls_server: EchoServer) -> None:
    """Verification is on by default; an untrusted certificate stops at once with a clear
    message instead of retrying forever."""
    client = EchoClient(url=tls_server.url, **FAST)
    with pytest.raises(ConnectFailed, match="TLS certificate not trusted"):
        client.start(timeout=5 * T)
    assert client.state is ConnectionState.CLOSED
    assert len(tls_server.connections) == 0


class ConnectProxy:
    """A minimal HTTP CONNECT proxy on 127.0.0.1 that records the targets asked for."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.targets: list[str] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._accept = threading.Thread(target=self._serve, name="test-proxy")
        self._accept.start()

    def _serve(self) -> None:
        self.listener.settimeout(0.05)
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except socket.timeout:
                continue
            thread = threading.Thread(target=self._tunnel, args=(client,), name="test-proxy")
            self._threads.append(thread)
            thread.start()

    def _tunnel(self, client: socket.socket) -> None:
        with client:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = client.recv(4096)
                if not chunk:
                    return
                head += chunk
            target = head.split(b"\r\n", 1)[0].split()[1].decode()
            self.targets.append(target)
            host, port = target.rsplit(":", 1)
            with socket.create_connection((host, int(port))) as upstream:
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                while not self._stop.is_set():
                    ready, _, _ = select.select([client, upstream], [], [], 0.05)
                    for sock in ready:
                        data = sock.recv(65536)
                        if not data:
                            return
                        (upstream if sock is client else client).sendall(data)

    def close(self) -> None:
        self._stop.set()
        self._accept.join()
        for thread in self._threads:
            thread.join()
        self.listener.close()


def test_http_proxy_options_are_used() -> None:
    """http_proxy_host/port send the socket through the proxy (CONNECT to the venue)."""
    proxy = ConnectProxy()
    try:
        with EchoServer("behind-proxy") as server:
            client = EchoClient(url=server.url, http_proxy_host="127.0.0.1",
                                http_proxy_port=proxy.port, proxy_type="http", **FAST)
            with client:
                conn = server.wait_for_connections(1)[0]
                conn.send(trade(3))
                event = client.get(timeout=5 * T)
                while not isinstance(event, Trade):
                    event = client.get(timeout=5 * T)
            assert proxy.targets == [f"127.0.0.1:{server.port}"]
    finally:
        proxy.close()


def test_callable_headers_are_asked_on_every_connect() -> None:
    """headers=callable is called for each upgrade, so each reconnect sends fresh values."""
    calls: list[int] = []

    def headers() -> dict[str, str]:
        calls.append(1)
        return {"X-Attempt": str(len(calls))}

    with EchoServer("headers") as server:
        with EchoClient(url=server.url, headers=headers, **FAST):
            server.wait_for_connections(1)[0].drop()
            server.wait_for_connections(2, timeout=5 * T)
        seen = [c.request_headers["X-Attempt"] for c in server.connections]
    assert seen == ["1", "2"]


def test_extra_headers_reach_the_upgrade() -> None:
    """headers= are sent on every upgrade, reconnects included."""
    with EchoServer("headers") as server:
        with EchoClient(url=server.url, headers={"X-Requestor": "abc"}, **FAST):
            first = server.wait_for_connections(1)[0]
            first.drop()
            second = server.wait_for_connections(2, timeout=5 * T)[1]
        assert first.request_headers["X-Requestor"] == "abc"
        assert second.request_headers["X-Requestor"] == "abc"
