"""A minimal, fast Hyperliquid-shaped WebSocket feed for the benchmarks, run in its own process.

Why not the ``FakeHyperliquid`` of ``wsclients.testing``: its sends go through websockets'
sans-I/O protocol (several microseconds of Python per frame) and it would share the client's
GIL. The benchmarks measure the *client*, so the sender must never be the bottleneck: this
process does a real RFC 6455 handshake, answers the subscribe with the venue's ack
(docs/venues/hyperliquid.rst#hyperliquid-envelope), then writes pre-encoded, unmasked server frames
straight to the
socket with ``sendall``. ``bench_throughput.py`` reports its ceiling (a client that only
drains the socket) next to the clients it measures.

Modes (one per process; every accepted connection gets the full stream):

- ``blast``: N ``trades`` frames, one real-shaped trade each
  (docs/venues/hyperliquid.rst#hyperliquid-samples), as fast as TCP takes them.
- ``paced``: ``trades`` frames at a fixed rate for some seconds, each trade carrying the
  sender's ``time.perf_counter_ns()`` in an extra ``sent_ns`` field (CLOCK_MONOTONIC, shared
  by every process on the machine) for send → user-code latency.

Run: ``python benchmarks/_feed.py blast --frames 200000`` prints ``port <n>`` and serves until
its stdin closes. The parent (a benchmark) reads the port and closes stdin to stop it.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import socket
import struct
import sys
import threading
import time
from typing import Optional

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3
_CHUNK = 1 << 20


def server_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """One unmasked, final server frame (RFC 6455 §5.2)."""
    n = len(payload)
    if n < 126:
        header = struct.pack("!BB", 0x80 | opcode, n)
    elif n < 1 << 16:
        header = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return header + payload


def trade_json(
    coin: str, side: str, px: str, sz: str, time_ms: int, tid: int, sent_ns: Optional[int] = None
) -> bytes:
    """A ``trades`` frame holding one trade, shaped like the capture in
    docs/venues/hyperliquid.rst#hyperliquid-samples."""
    extra = "" if sent_ns is None else f',"sent_ns":{sent_ns}'
    return (
        f'{{"channel":"trades","data":[{{"coin":"{coin}","side":"{side}","px":"{px}",'
        f'"sz":"{sz}","time":{time_ms},"hash":"0x{tid:064x}","tid":{tid},'
        f'"users":["0xcc0a3b6e3267c84361e91d8230868eea53431e4b",'
        f'"0xc64cc00b46101bd40aa1c3121195e85c0b0918d8"]{extra}}}]}}'
    ).encode()


def make_trades(n: int, seed: int = 6) -> list[tuple[str, str, str, str, int, int]]:
    """``n`` (coin, side, px, sz, time_ms, tid) from the seeded market, all for BTC."""
    from wsclients.testing.market import Market

    market = Market(["BTC"], seed=seed)
    out = []
    tid0 = 293_353_986_402_527
    for i, trade in enumerate(market.trades(n, "BTC")):
        side = "B" if trade.side == "buy" else "A"
        out.append(("BTC", side, str(trade.price), str(trade.size),
                    trade.timestamp_ns // 1_000_000, tid0 + i))
    return out


def blast_blob(n: int, seed: int = 6) -> bytes:
    """The whole blast stream: ``n`` pre-encoded trades frames, back to back."""
    return b"".join(server_frame(trade_json(*t)) for t in make_trades(n, seed))


# -- server side ---------------------------------------------------------------------------


class _Conn:
    """One accepted socket: the handshake and a reader for masked client frames."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""
        self.lock = threading.Lock()  # guards writes: the streamer and the pong answers

    def _fill(self, n: int) -> bool:
        while len(self.buf) < n:
            data = self.sock.recv(65536)
            if not data:
                return False
            self.buf += data
        return True

    def handshake(self) -> bool:
        while b"\r\n\r\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                return False
            self.buf += data
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        key = b""
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"sec-websocket-key":
                key = value.strip()
        accept = base64.b64encode(hashlib.sha1(key + _GUID).digest())
        self.sock.sendall(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )
        return True

    def read_frame(self) -> Optional[tuple[int, bytes]]:
        """The next client frame as (opcode, unmasked payload); None at end of stream."""
        if not self._fill(2):
            return None
        b0, b1 = self.buf[0], self.buf[1]
        n = b1 & 0x7F
        pos = 2
        if n == 126:
            if not self._fill(4):
                return None
            n = struct.unpack("!H", self.buf[2:4])[0]
            pos = 4
        elif n == 127:
            if not self._fill(10):
                return None
            n = struct.unpack("!Q", self.buf[2:10])[0]
            pos = 10
        masked = b1 & 0x80
        if masked:
            if not self._fill(pos + 4):
                return None
            mask = self.buf[pos:pos + 4]
            pos += 4
        if not self._fill(pos + n):
            return None
        payload = self.buf[pos:pos + n]
        self.buf = self.buf[pos + n:]
        if masked:
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        return b0 & 0x0F, payload

    def send(self, data: bytes) -> None:
        with self.lock:
            self.sock.sendall(data)

    def send_stream(self, blob: bytes) -> None:
        view = memoryview(blob)
        for start in range(0, len(view), _CHUNK):
            self.send(view[start:start + _CHUNK])  # type: ignore[arg-type]


def _serve(conn: _Conn, args: argparse.Namespace, blob: bytes) -> None:
    try:
        if not conn.handshake():
            return
        streamer: Optional[threading.Thread] = None
        while True:
            frame = conn.read_frame()
            if frame is None:
                return
            opcode, payload = frame
            if opcode == 0x8:  # close: echo it and leave
                conn.send(server_frame(payload[:2], opcode=0x8))
                return
            if opcode == 0x9:  # ping → pong
                conn.send(server_frame(payload, opcode=0xA))
                continue
            if opcode != 0x1:
                continue
            try:
                message = json.loads(payload)
            except ValueError:
                continue
            if message.get("method") == "ping":  # docs/venues/hyperliquid.rst#hyperliquid-heartbeat
                conn.send(server_frame(b'{"channel":"pong"}'))
            elif message.get("method") == "subscribe" and streamer is None:
                ack = {"channel": "subscriptionResponse",
                       "data": {"method": "subscribe", "subscription": message["subscription"]}}
                conn.send(server_frame(json.dumps(ack, separators=(",", ":")).encode()))
                target = _paced if args.mode == "paced" else conn.send_stream
                arg: object = (conn, args) if args.mode == "paced" else (blob,)
                streamer = threading.Thread(target=target, args=arg, daemon=True)  # type: ignore[arg-type]
                streamer.start()
    except OSError:
        return
    finally:
        try:
            conn.sock.close()
        except OSError:
            pass


def _paced(conn: _Conn, args: argparse.Namespace) -> None:
    trades = make_trades(min(int(args.rate * args.seconds) + 1, 200_000), args.seed)
    interval = 1.0 / args.rate
    total = int(args.rate * args.seconds)
    clock = time.perf_counter
    start = clock()
    try:
        for i in range(total):
            due = start + i * interval
            delay = due - clock()
            if delay > 0:
                time.sleep(delay)
            t = trades[i % len(trades)]
            now = time.perf_counter_ns()
            conn.send(server_frame(trade_json(*t, sent_ns=now)))
    except OSError:
        return


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="benchmark feed (see module docstring)")
    parser.add_argument("mode", choices=["blast", "paced"])
    parser.add_argument("--frames", type=int, default=200_000)
    parser.add_argument("--rate", type=float, default=2000.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=6)
    args = parser.parse_args(argv)
    blob = blast_blob(args.frames, args.seed) if args.mode == "blast" else b""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    print(f"port {listener.getsockname()[1]} bytes {len(blob)}", flush=True)

    def accept_loop() -> None:
        while True:
            try:
                sock, _ = listener.accept()
            except OSError:
                return
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=_serve, args=(_Conn(sock), args, blob), daemon=True).start()

    threading.Thread(target=accept_loop, daemon=True).start()
    sys.stdin.read()  # the parent closes our stdin to stop us
    listener.close()
    return 0


class Feed:
    """Start ``_feed.py`` in a subprocess; ``url`` once it listens; ``close()`` ends it."""

    def __init__(self, mode: str, *extra: str) -> None:
        import subprocess

        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), mode, *extra],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("port "):
            self.close()
            raise RuntimeError(f"feed did not start: {line!r}")
        words = line.split()
        self.port = int(words[1])
        self.stream_bytes = int(words[3])
        """Length of the blast stream (every frame after the ack)."""
        self.url = f"ws://127.0.0.1:{self.port}/ws"
        self.http_url = f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(5)
        except Exception:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> Feed:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


if __name__ == "__main__":
    sys.exit(main())
