"""Reading WebSocket frames from a connected socket, a buffer at a time (RFC 6455 §5).

websocket-client does the handshake, TLS, proxies and every send for us; for reading, its
``recv_data_frame`` makes three ``recv`` system calls per frame (header, length, payload) and
builds several objects on the way, which cost about half the reader's time on a busy stream.
``FrameReader`` instead takes whatever the kernel has (up to ``chunk_size`` bytes) in one call
and slices frames out of it, so a burst of small frames costs one system call per few hundred
frames. It only reads; the caller answers pings and closes (``Connection._read``).

Errors are websocket-client's own exception types, so a connection describes them the same
way whichever reader raised them.
"""

from __future__ import annotations

from typing import Callable, Optional, Protocol

from websocket import WebSocketConnectionClosedException, WebSocketProtocolException

from wsclients.errors import MessageTooLarge

__all__ = [
    "OP_BINARY", "OP_CLOSE", "OP_PING", "OP_PONG", "OP_TEXT", "FrameReader", "MessageTooLarge",
]

OP_CONT = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA

_CONTROL = frozenset({OP_CLOSE, OP_PING, OP_PONG})
_FIN_TEXT = 0x80 | OP_TEXT  # the common case: a whole text frame, no extension bits
_CHUNK = 256 * 1024
_EMPTY = b""


class _Socket(Protocol):
    def recv(self, bufsize: int, /) -> bytes: ...


class FrameReader:
    """Whole messages and control frames from a client-side WebSocket, in arrival order.

    Args:
        sock: the connected socket (plain or TLS), after the upgrade handshake; only its
            ``recv`` is used. Nothing else may read from it.
        chunk_size: the most bytes asked of one ``recv``.
        before_wait: called right before each ``recv`` (the reader is about to wait for the
            network): the connection hands over the events it has batched so far.
        max_size: the largest message accepted; a larger one is skipped as it streams in,
            never held in memory, and reported with ``MessageTooLarge``.

    Not thread-safe: one reader thread owns it.
    """

    __slots__ = (
        "_before_wait", "_buf", "_chunk", "_max_size", "_part_opcode", "_parts", "_pos", "_recv",
    )

    def __init__(
        self,
        sock: _Socket,
        *,
        chunk_size: int = _CHUNK,
        before_wait: Optional[Callable[[], None]] = None,
        max_size: Optional[int] = None,
    ) -> None:
        self._recv = sock.recv
        self._max_size = max_size
        self._chunk = chunk_size
        self._before_wait = before_wait
        self._buf = _EMPTY
        self._pos = 0
        self._parts: Optional[list[bytes]] = None  # fragments of a message in progress
        self._part_opcode = 0

    def next_frame(self) -> tuple[int, bytes]:
        """Block until the next data message or control frame; return ``(opcode, payload)``.

        Text and binary messages come back whole (fragments joined, RFC 6455 §5.4); control
        frames (close, ping, pong) as they arrive, also between fragments. Text payloads are
        raw UTF-8 bytes, not validated here (the JSON decoder validates them).

        Raises:
            WebSocketConnectionClosedException: the peer closed TCP without a close frame.
            WebSocketProtocolException: a frame breaks RFC 6455 (reserved bits, unknown opcode,
                fragmented or oversized control frame, stray continuation).
            OSError: the socket failed (or was shut down by another thread).
        """
        while True:
            buf = self._buf
            pos = self._pos
            avail = len(buf) - pos
            need = 2
            if avail >= 2:
                b1 = buf[pos + 1]
                length = b1 & 0x7F
                header = 2
                if length == 126:
                    header = 4
                    if avail >= 4:
                        length = (buf[pos + 2] << 8) | buf[pos + 3]
                elif length == 127:
                    header = 10
                    if avail >= 10:
                        length = int.from_bytes(buf[pos + 2:pos + 10], "big")
                if b1 & 0x80:
                    header += 4  # a masking key (servers must not mask, RFC 6455 §5.1)
                need = header
                if avail >= header:
                    if self._max_size is not None and length > self._max_size:
                        self._pos = pos + header
                        self._skip(length)
                        raise MessageTooLarge(length, self._max_size)
                    need = header + length
                    if avail >= need:
                        start = pos + header
                        stop = start + length
                        self._pos = stop
                        b0 = buf[pos]
                        if b0 == _FIN_TEXT and b1 < 0x80 and self._parts is None:
                            return OP_TEXT, buf[start:stop]
                        frame = self._frame(b0, b1, buf[start - 4:start] if b1 & 0x80 else None,
                                            buf[start:stop])
                        if frame is not None:
                            return frame
                        continue
            self._fill(need)

    def _frame(
        self, b0: int, b1: int, mask: Optional[bytes], payload: bytes
    ) -> Optional[tuple[int, bytes]]:
        """Every frame but a whole unmasked text frame; None for a fragment kept for later."""
        if b0 & 0x70:
            raise WebSocketProtocolException("reserved bits set (no extension was negotiated)")
        if mask is not None:
            payload = _unmask(mask, payload)
        fin = b0 & 0x80
        opcode = b0 & 0x0F
        if opcode in _CONTROL:
            if not fin or len(payload) > 125:
                raise WebSocketProtocolException("control frame fragmented or over 125 bytes")
            return opcode, payload
        if opcode == OP_CONT:
            if self._parts is None:
                raise WebSocketProtocolException("continuation frame without a message")
            self._parts.append(payload)
            if not fin:
                return None
            parts, self._parts = self._parts, None
            size = sum(map(len, parts))
            if self._max_size is not None and size > self._max_size:
                raise MessageTooLarge(size, self._max_size)
            return self._part_opcode, _EMPTY.join(parts)
        if opcode not in (OP_TEXT, OP_BINARY):
            raise WebSocketProtocolException(f"invalid opcode {opcode:#x}")
        if self._parts is not None:
            raise WebSocketProtocolException("new message before the last one was finished")
        if fin:
            return opcode, payload
        self._parts = [payload]
        self._part_opcode = opcode
        return None

    def _skip(self, count: int) -> None:
        """Discard the next ``count`` bytes, reading them from the socket as they come."""
        avail = len(self._buf) - self._pos
        if avail >= count:
            self._pos += count
            return
        count -= avail
        self._buf = _EMPTY
        self._pos = 0
        while count > 0:
            data = self._recv(min(count, self._chunk))
            if not data:
                raise WebSocketConnectionClosedException("Connection to remote host was lost.")
            count -= len(data)

    def _fill(self, need: int) -> None:
        """Read until at least ``need`` bytes from ``_pos`` on are buffered (at least one recv).

        A frame larger than a chunk is read straight to its end and joined once, so a big
        message costs linear time, not a re-copy of the buffer per chunk.
        """
        if self._before_wait is not None:
            self._before_wait()
        rest = self._buf[self._pos:]
        self._pos = 0
        if need <= self._chunk:
            data = self._recv(self._chunk)
            if not data:
                self._buf = rest
                raise WebSocketConnectionClosedException("Connection to remote host was lost.")
            self._buf = rest + data if rest else data
            return
        parts = [rest]
        have = len(rest)
        while have < need:
            data = self._recv(min(need - have, 1 << 20))
            if not data:
                self._buf = _EMPTY.join(parts)
                raise WebSocketConnectionClosedException("Connection to remote host was lost.")
            parts.append(data)
            have += len(data)
        self._buf = _EMPTY.join(parts)


def _unmask(mask: bytes, payload: bytes) -> bytes:
    """XOR ``payload`` with the 4-byte ``mask`` (RFC 6455 §5.3), a whole word at a time."""
    if not payload:
        return payload
    n = len(payload)
    key = int.from_bytes((mask * (n // 4 + 1))[:n], "big")
    return (int.from_bytes(payload, "big") ^ key).to_bytes(n, "big")
