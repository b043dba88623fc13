"""A raw TCP server on 127.0.0.1 for handshake tests: it answers the upgrade however the test
says (endless headers, lines drip-fed, a redirect), which no well-behaved WebSocket server does."""

from __future__ import annotations

import base64
import hashlib
import socket
import ssl
import threading
from typing import Callable, Optional

Handler = Callable[[socket.socket, bytes, threading.Event], None]


def accept_value(request: bytes) -> str:
    """The Sec-WebSocket-Accept for the key in ``request`` (RFC 6455 §4.2.2)."""
    for line in request.decode("latin-1").split("\r\n"):
        name, _, value = line.partition(":")
        if name.strip().lower() == "sec-websocket-key":
            digest = hashlib.sha1((value.strip() + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")
                                  .encode()).digest()
            return base64.b64encode(digest).decode()
    raise AssertionError("no Sec-WebSocket-Key in the request")


def switching(request: bytes, extra: str = "") -> bytes:
    """A valid 101 answer to ``request``."""
    return (
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {accept_value(request)}\r\n{extra}\r\n"
    ).encode()


class RawServer:
    """Accepts connections, reads each request head, then runs ``handler(sock, head, stop)``.

    ``requests`` holds every request head received; ``accepted`` counts connections (a
    listener that must see none checks it stays 0).
    """

    def __init__(self, handler: Optional[Handler] = None,
                 tls: Optional[ssl.SSLContext] = None) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.requests: list[bytes] = []
        self.accepted = 0
        self._handler = handler
        self._tls = tls
        self.stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._accept = threading.Thread(target=self._serve, name="test-raw-server")
        self._accept.start()

    @property
    def url(self) -> str:
        return f"{'wss' if self._tls else 'ws'}://127.0.0.1:{self.port}/"

    def _serve(self) -> None:
        self.listener.settimeout(0.02)
        while not self.stop.is_set():
            try:
                sock, _ = self.listener.accept()
            except socket.timeout:
                continue
            self.accepted += 1
            thread = threading.Thread(target=self._run, args=(sock,), name="test-raw-server")
            self._threads.append(thread)
            thread.start()

    def _run(self, sock: socket.socket) -> None:
        try:
            sock.settimeout(5)
            if self._tls is not None:
                sock = self._tls.wrap_socket(sock, server_side=True)
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = sock.recv(4096)
                if not chunk:
                    return
                head += chunk
            self.requests.append(head)
            if self._handler is not None:
                self._handler(sock, head, self.stop)
            else:
                self.stop.wait(5)
        except (OSError, ssl.SSLError):
            pass
        finally:
            sock.close()

    def close(self) -> None:
        self.stop.set()
        self._accept.join()
        for thread in self._threads:
            thread.join()
        self.listener.close()

    def __enter__(self) -> RawServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
