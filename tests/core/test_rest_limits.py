"""REST against a real local HTTP(S) server: Retry-After is capped and a wait between retries
ends when the session closes (the client stopping); the sockets' sslopt is REST's trust too."""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Optional

import pytest

from tests.conftest import T
from wsclients.core.rest import RestSession, tls_options
from wsclients.errors import ClientStopped, ConnectFailed, RateLimited
from wsclients.venues.hyperliquid import HyperliquidClient
from wsclients.venues.vega import VegaClient

pytestmark = pytest.mark.timeout(30)

TLS = Path(__file__).resolve().parent.parent / "fixtures" / "tls"


class Server:
    """A local HTTP server answering every GET with ``status`` (and Retry-After)."""

    def __init__(self, status: int = 200, retry_after: Optional[str] = None,
                 tls: bool = False) -> None:
        self.hits = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.hits += 1
                body = json.dumps({"message": "slow down"} if status >= 400 else {"ok": 1})
                self.send_response(status)
                if retry_after is not None:
                    self.send_header("Retry-After", retry_after)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body.encode())

            do_POST = do_GET  # noqa: N815 - http.server's naming

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(TLS / "localhost.crt", TLS / "localhost.key")
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,))
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.thread.join()
        self.httpd.server_close()


@pytest.fixture
def rate_limited() -> Iterator[Server]:
    server = Server(429, retry_after="3600")
    yield server
    server.close()


def test_retry_after_is_capped(rate_limited: Server) -> None:
    """A Retry-After of an hour costs max_retry_after per retry, not an hour."""
    session = RestSession(rate_limited.url, retries=2, max_retry_after=0.2)
    started = time.monotonic()
    with pytest.raises(RateLimited):
        session.get("/x")
    assert time.monotonic() - started < 0.4 + 1.0 * T
    assert rate_limited.hits == 3
    session.close()


def test_close_ends_a_retry_wait(rate_limited: Server) -> None:
    """close() from another thread ends a wait between retries at once with ClientStopped."""
    session = RestSession(rate_limited.url, retries=2)
    outcome: list[BaseException] = []

    def call() -> None:
        try:
            session.get("/x")
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=call)
    thread.start()
    time.sleep(0.2)
    started = time.monotonic()
    session.close()
    thread.join(2 * T)
    assert not thread.is_alive() and time.monotonic() - started < 0.5 * T
    assert isinstance(outcome[0], ClientStopped)


def test_vega_stop_ends_a_rest_call_waiting_on_retry_after(rate_limited: Server) -> None:
    """VegaClient.stop() releases a REST call that waits out a rate limit."""
    client = VegaClient(url=rate_limited.url)
    outcome: list[BaseException] = []

    def call() -> None:
        try:
            client.rest.get("markets")
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=call)
    thread.start()
    time.sleep(0.2)
    started = time.monotonic()
    client.stop()
    thread.join(2 * T)
    assert not thread.is_alive() and time.monotonic() - started < 1.0 * T
    assert isinstance(outcome[0], ClientStopped)


def test_vega_rest_trusts_the_sockets_ca() -> None:
    """sslopt={"ca_certs": …} makes REST trust a private CA just as the sockets do; without
    it the same node is refused."""
    server = Server(200, tls=True)
    try:
        trusted = VegaClient(url=server.url, sslopt={"ca_certs": str(TLS / "localhost.crt")})
        assert trusted.rest.get("markets") == {"ok": 1}
        trusted.stop()
        untrusted = VegaClient(url=server.url, rest_retries=0)
        with pytest.raises(ConnectFailed):
            untrusted.rest.get("markets")
        untrusted.stop()
    finally:
        server.close()


def test_hyperliquid_rest_trusts_the_sockets_ca() -> None:
    """HyperliquidClient.rest uses sslopt's CA too."""
    server = Server(200, tls=True)
    try:
        port = server.url.rsplit(":", 1)[1]
        client = HyperliquidClient(url=f"wss://127.0.0.1:{port}/ws",
                                   sslopt={"ca_certs": str(TLS / "localhost.crt")})
        assert client.rest.info({"type": "allMids"}) == {"ok": 1}
        client.stop()
    finally:
        server.close()


def test_tls_options_follow_sslopt() -> None:
    """CA file or directory, client certificate, and verification off only when asked."""
    assert tls_options(None) == {"verify": True}
    assert tls_options({"ca_certs": "/ca.pem"}) == {"verify": "/ca.pem"}
    assert tls_options({"ca_cert_path": "/cas"}) == {"verify": "/cas"}
    assert tls_options({"cert_reqs": ssl.CERT_NONE}) == {"verify": False}
    assert tls_options({"certfile": "c.pem", "keyfile": "k.pem"}) == {
        "verify": True, "cert": ("c.pem", "k.pem")}
