"""Reading WebSocket frames from a connected socket, a buffer at a time (RFC 6455 §5).

websocket-client does the handshake, TLS, proxies and every send for us; for reading, its
``recv_data_frame`` makes three ``recv`` system calls per frame (header, length, payload) and
builds several objects on the way, which cost about half the reader's time on a busy stream.
``FrameReader`` instead takes whatever the kernel has (up to ``chunk_size`` bytes) in one call
and slices frames out of it, so a burst of small frames costs one system call per few hundred
frames. It only reads; the caller answers pings and closes (``Connection._read``).

It does what RFC 6455 asks of a client receiving server frames: a frame that breaks the
framing rules (reserved bits or opcodes, a masked frame, a malformed control or close frame,
a stray or interrupted fragment) or a text message that is not UTF-8 raises
``FrameRejected`` with the close code the connection must be failed with (§7.1.7, §7.4.1).
The common frame (a whole, unmasked text frame of ASCII JSON) costs one ``isascii()`` more
than before these checks (about 10-20 ns a frame); non-ASCII text is decoded once to check it.

A connection closed under the reader raises websocket-client's
``WebSocketConnectionClosedException``, as websocket-client's own reader did.
"""

from __future__ import annotations

import codecs
from typing import Callable, Optional, Protocol

from websocket import WebSocketConnectionClosedException

from wsclients.errors import FrameRejected, MessageTooLarge

__all__ = [
    "OP_BINARY", "OP_CLOSE", "OP_CONT", "OP_PING", "OP_PONG", "OP_TEXT", "FrameReader",
    "FrameRejected", "MessageTooLarge", "parse_close",
]

OP_CONT = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA

PROTOCOL_ERROR = 1002
"""RFC 6455 §7.4.1: the peer broke the protocol."""
INVALID_DATA = 1007
"""RFC 6455 §7.4.1: a text message (or close reason) that is not UTF-8."""

_FIN_TEXT = 0x80 | OP_TEXT  # the common case: a whole text frame, no extension bits
_CHUNK = 256 * 1024
# What a read asks for while frames come one at a time. ``recv(n)`` allocates n bytes before
# it knows how many arrive; glibc serves 128 KiB and more with mmap, so a 256 KiB ask for a
# 300-byte frame cost an mmap, an mremap and a munmap (and the munmap's TLB shootdown on the
# other CPUs) per frame: strace counted about 1.5 such calls per lone frame. 64 KiB comes
# from the heap, and a read that fills it (a burst) makes the next ask 256 KiB again.
_SMALL_CHUNK = 64 * 1024
_EMPTY = b""
_MAX_CONTROL = 125  # RFC 6455 §5.5: control frame payloads are at most 125 bytes

# RFC 6455 §7.4.1-7.4.2 and the IANA "WebSocket Close Code Number Registry": the codes a peer
# may put in a close frame. 1004 is reserved; 1005, 1006 and 1015 must never be sent;
# 1016-2999 are reserved for the RFC and its extensions; 3000-4999 belong to libraries,
# frameworks and applications.
_SENDABLE_CLOSE_CODES = frozenset({1000, 1001, 1002, 1003, *range(1007, 1015)})
_new_utf8_decoder = codecs.getincrementaldecoder("utf-8")


def parse_close(payload: bytes) -> tuple[Optional[int], str]:
    """The ``(code, reason)`` of a close frame's payload (RFC 6455 §5.5.1, §7.4).

    An empty payload has no code: ``(None, "")`` (the peer's close is then read as 1005).

    Raises:
        FrameRejected: a 1-byte payload or a code no peer may send (1002), or a reason that
            is not UTF-8 (1007).
    """
    if not payload:
        return None, ""
    if len(payload) < 2:
        raise FrameRejected(PROTOCOL_ERROR, "close frame with a 1-byte payload")
    code = (payload[0] << 8) | payload[1]
    if code not in _SENDABLE_CLOSE_CODES and not 3000 <= code <= 4999:
        raise FrameRejected(PROTOCOL_ERROR, f"invalid close code {code}")
    try:
        reason = payload[2:].decode("utf-8")
    except UnicodeDecodeError:
        raise FrameRejected(INVALID_DATA, "close reason is not valid UTF-8") from None
    return code, reason


class _Socket(Protocol):
    def recv(self, bufsize: int, /) -> bytes: ...


class FrameReader:
    """Whole messages and control frames from a client-side WebSocket, in arrival order.

    Args:
        sock: the connected socket (plain or TLS), after the upgrade handshake; only its
            ``recv`` is used. Nothing else may read from it.
        chunk_size: the most bytes asked of one ``recv``.
        before_wait: called right before each ``recv`` (the reader is about to wait for the
            network): the connection hands over the events it has batched so far. If it
            returns True, another thread may have read from the socket meanwhile: the
            reader skips that ``recv`` and looks at its buffer again.
        max_size: the largest message accepted; a larger one (whole or fragmented) is skipped
            as it streams in, never held in memory, and reported with ``MessageTooLarge``.
            RFC 6455 §10.4 leaves the limit and what to do past it to the endpoint; skipping
            keeps the socket, and the subscriptions on it, alive.

    Not thread-safe: one thread at a time reads through it (the connection's reader, or
    the dispatcher it lends the socket to: core/relay.py). After ``FrameRejected`` the
    caller must fail the connection (RFC 6455 §7.1.7: no further data is processed) and
    drop the reader.
    """

    __slots__ = (
        "_ask", "_before_wait", "_buf", "_chunk", "_dropping", "_max_size", "_part_opcode",
        "_part_size", "_parts", "_pos", "_recv", "_small", "_utf8",
    )

    def __init__(
        self,
        sock: _Socket,
        *,
        chunk_size: int = _CHUNK,
        before_wait: Optional[Callable[[], Optional[bool]]] = None,
        max_size: Optional[int] = None,
    ) -> None:
        self._recv = sock.recv
        self._max_size = max_size
        self._chunk = chunk_size
        self._small = self._ask = min(chunk_size, _SMALL_CHUNK)  # see _SMALL_CHUNK
        self._before_wait = before_wait
        self._buf = _EMPTY
        self._pos = 0
        # The fragmented message in progress (RFC 6455 §5.4): None when there is none.
        self._parts: Optional[list[bytes]] = None
        self._part_opcode = 0
        self._part_size = 0
        self._dropping = False  # the message went over max_size: its fragments are skipped
        self._utf8: Optional[codecs.IncrementalDecoder] = None  # checks a text message's parts

    def next_frame(self) -> tuple[int, bytes]:
        """Block until the next data message or control frame; return ``(opcode, payload)``.

        Text and binary messages come back whole (fragments joined, RFC 6455 §5.4); control
        frames (close, ping, pong) as they arrive, also between fragments. Text payloads are
        UTF-8 bytes, already validated; a close frame's payload is valid for ``parse_close``.

        Raises:
            FrameRejected: the server broke RFC 6455; fail the connection with its
                ``close_code`` and read no further.
            MessageTooLarge: a message over ``max_size`` was skipped; the next call reads on.
            WebSocketConnectionClosedException: the peer closed TCP without a close frame.
            OSError: the socket failed (or was shut down by another thread).
        """
        while True:
            buf = self._buf
            pos = self._pos
            avail = len(buf) - pos
            need = 2
            if avail >= 2:
                b1 = buf[pos + 1]
                if b1 & 0x80:  # RFC 6455 §5.1: a client must close on a masked frame
                    raise FrameRejected(PROTOCOL_ERROR, "masked frame from the server")
                length = b1
                header = 2
                if length == 126:
                    header = 4
                    if avail >= 4:
                        length = (buf[pos + 2] << 8) | buf[pos + 3]
                elif length == 127:
                    header = 10
                    if avail >= 10:
                        length = int.from_bytes(buf[pos + 2:pos + 10], "big")
                        if length >> 63:  # RFC 6455 §5.2: the top bit must be 0
                            raise FrameRejected(PROTOCOL_ERROR, "64-bit length with top bit set")
                need = header
                if avail >= header:
                    b0 = buf[pos]
                    if b0 != _FIN_TEXT or self._parts is not None:
                        self._check_header(b0, length)
                        if self._max_size is not None and self._over_limit(b0, length):
                            self._skip_frame(pos + header, b0, length)
                            continue
                    elif self._max_size is not None and length > self._max_size:
                        self._skip_frame(pos + header, b0, length)
                        continue
                    need = header + length
                    if avail >= need:
                        start = pos + header
                        stop = start + length
                        self._pos = stop
                        if b0 == _FIN_TEXT and self._parts is None:
                            payload = buf[start:stop]
                            if payload.isascii():
                                return OP_TEXT, payload
                            return OP_TEXT, _checked_text(payload)
                        frame = self._frame(b0, buf[start:stop])
                        if frame is not None:
                            return frame
                        continue
            self._fill(need)

    def take_texts(self, out: list[bytes], limit: int) -> None:
        """Append to ``out`` the payloads of up to ``limit`` more text messages that are
        already buffered whole, each in one frame; never waits for the network.

        The reader's batch path: after ``next_frame`` returned a text message, the rest of a
        burst is usually in the buffer already, and taking it in one call costs a fraction of
        one ``next_frame`` call per frame. It stops at the first frame that is anything else
        (a control frame, a fragment, a long or masked header, a message over ``max_size``,
        text that is not UTF-8, a frame not yet whole): ``next_frame`` reads that one, with
        every check and error of its own.
        """
        if self._parts is not None:
            return
        buf = self._buf
        pos = self._pos
        end = len(buf)
        max_size = self._max_size
        append = out.append
        while limit > 0 and end - pos >= 2 and buf[pos] == _FIN_TEXT:
            length = buf[pos + 1]
            if length < 126:
                start = pos + 2
            elif length == 126 and end - pos >= 4:
                length = (buf[pos + 2] << 8) | buf[pos + 3]
                start = pos + 4
            else:  # a 64-bit length, a masked frame, or a header not yet whole
                break
            stop = start + length
            if stop > end or (max_size is not None and length > max_size):
                break
            payload = buf[start:stop]
            if not payload.isascii():
                try:
                    payload.decode("utf-8")
                except UnicodeDecodeError:
                    break  # next_frame rejects it
            append(payload)
            pos = stop
            limit -= 1
        self._pos = pos

    def _check_header(self, b0: int, length: int) -> None:
        """Reject a frame by its header alone, before any of its payload is read."""
        if b0 & 0x70:
            raise FrameRejected(PROTOCOL_ERROR, "reserved bits set (no extension negotiated)")
        opcode = b0 & 0x0F
        if opcode & 0x08:
            if opcode > OP_PONG:
                raise FrameRejected(PROTOCOL_ERROR, f"reserved control opcode {opcode:#x}")
            if not b0 & 0x80:
                raise FrameRejected(PROTOCOL_ERROR, "fragmented control frame")
            if length > _MAX_CONTROL:
                raise FrameRejected(PROTOCOL_ERROR, "control frame over 125 bytes")
        elif opcode == OP_CONT:
            if self._parts is None:
                raise FrameRejected(PROTOCOL_ERROR, "continuation frame without a message")
        elif opcode > OP_BINARY:
            raise FrameRejected(PROTOCOL_ERROR, f"reserved data opcode {opcode:#x}")
        elif self._parts is not None:
            raise FrameRejected(PROTOCOL_ERROR, "new message before the fragmented one ended")

    def _over_limit(self, b0: int, length: int) -> bool:
        """Whether this data frame takes its message past ``max_size`` (control frames are
        never skipped: they are small and must be answered)."""
        assert self._max_size is not None
        if b0 & 0x08:
            return False
        if b0 & 0x0F == OP_CONT:
            return self._dropping or self._part_size + length > self._max_size
        return length > self._max_size

    def _skip_frame(self, start: int, b0: int, length: int) -> None:
        """Skip a data frame's payload (from ``start``) as it streams in, never holding it;
        raise ``MessageTooLarge`` once its message ends."""
        assert self._max_size is not None
        self._pos = start
        self._skip(length)
        if b0 & 0x0F != OP_CONT:
            self._part_opcode = b0 & 0x0F
            self._part_size = 0
        self._parts = []
        self._part_size += length
        self._dropping = True
        self._utf8 = None
        if b0 & 0x80:
            size = self._part_size
            self._end_message()
            raise MessageTooLarge(size, self._max_size)

    def _frame(self, b0: int, payload: bytes) -> Optional[tuple[int, bytes]]:
        """A whole frame whose header passed ``_check_header``, except the common whole
        text frame; None for a fragment kept (or dropped) until its message ends."""
        opcode = b0 & 0x0F
        if opcode & 0x08:
            if opcode == OP_CLOSE:
                parse_close(payload)
            return opcode, payload
        fin = b0 & 0x80
        if opcode != OP_CONT:  # a new message (_check_header: none is in progress)
            if fin:
                return opcode, payload if opcode == OP_BINARY else _checked_text(payload)
            self._parts = []
            self._part_opcode = opcode
            self._part_size = 0
            self._utf8 = _new_utf8_decoder() if opcode == OP_TEXT else None
        parts = self._parts  # not dropping: the fragments of a dropped message are skipped
        assert parts is not None
        parts.append(payload)
        self._part_size += len(payload)
        if self._utf8 is not None:
            # Checked fragment by fragment, so a bad sequence fails fast (RFC 6455 §8.1).
            try:
                self._utf8.decode(payload, final=bool(fin))
            except UnicodeDecodeError:
                raise FrameRejected(INVALID_DATA, "text message is not valid UTF-8") from None
        if not fin:
            return None
        opcode = self._part_opcode
        self._end_message()
        return opcode, _EMPTY.join(parts)

    def _end_message(self) -> None:
        self._parts = None
        self._part_size = 0
        self._dropping = False
        self._utf8 = None

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
        if self._before_wait is not None and self._before_wait():
            return  # another thread read meanwhile (core/relay.py): the caller looks again
        rest = self._buf[self._pos:]
        self._pos = 0
        if need <= self._chunk:
            ask = self._ask
            data = self._recv(ask)
            self._ask = self._chunk if len(data) == ask else self._small
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


def _checked_text(payload: bytes) -> bytes:
    """``payload`` if it is UTF-8 (RFC 6455 §8.1), else ``FrameRejected`` (1007)."""
    try:
        payload.decode("utf-8")
    except UnicodeDecodeError:
        raise FrameRejected(INVALID_DATA, "text message is not valid UTF-8") from None
    return payload
