"""FrameReader: RFC 6455 frames in, whole messages and control frames out (no socket)."""

from __future__ import annotations

import struct
from typing import Optional

import pytest
from websocket import WebSocketConnectionClosedException

from wsclients.core.frames import (
    OP_BINARY,
    OP_CLOSE,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    FrameReader,
    FrameRejected,
    MessageTooLarge,
)


def frame(payload: bytes, opcode: int = OP_TEXT, *, fin: bool = True, rsv: int = 0,
          mask: Optional[bytes] = None) -> bytes:
    """One frame as a server (or, with ``mask``, a client) writes it."""
    b0 = (0x80 if fin else 0) | rsv << 4 | opcode
    n = len(payload)
    bit = 0x80 if mask is not None else 0
    if n < 126:
        head = struct.pack("!BB", b0, bit | n)
    elif n < 1 << 16:
        head = struct.pack("!BBH", b0, bit | 126, n)
    else:
        head = struct.pack("!BBQ", b0, bit | 127, n)
    if mask is None:
        return head + payload
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class FakeSocket:
    """Hands out ``data`` in pieces of at most ``piece`` bytes, then EOF; records each ask."""

    def __init__(self, data: bytes, piece: int = 1 << 30) -> None:
        self.data = data
        self.piece = piece
        self.asks: list[int] = []

    def recv(self, bufsize: int, /) -> bytes:
        self.asks.append(bufsize)
        n = min(bufsize, self.piece)
        out, self.data = self.data[:n], self.data[n:]
        return out


def read_all(reader: FrameReader) -> list[tuple[int, bytes]]:
    out = []
    while True:
        try:
            out.append(reader.next_frame())
        except WebSocketConnectionClosedException:
            return out


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 300_000])
def test_lengths(size: int) -> None:
    """7-bit, 16-bit and 64-bit payload lengths all come back whole."""
    payload = bytes(i % 251 for i in range(size))
    reader = FrameReader(FakeSocket(frame(payload, OP_BINARY) + frame(b"next")))
    assert read_all(reader) == [(OP_BINARY, payload), (OP_TEXT, b"next")]


@pytest.mark.parametrize("piece", [1, 2, 3, 7, 100])
def test_frames_split_anywhere(piece: int) -> None:
    """Frames cut at any byte by TCP are reassembled."""
    stream = b"".join(frame(f'{{"n":{i}}}'.encode() * (i * 20)) for i in range(12))
    reader = FrameReader(FakeSocket(stream, piece=piece), chunk_size=64)
    assert [p for _, p in read_all(reader)] == [
        f'{{"n":{i}}}'.encode() * (i * 20) for i in range(12)]


def test_many_frames_one_recv() -> None:
    """A buffer full of frames costs one recv, and before_wait runs only before recvs."""
    calls: list[int] = []
    sock = FakeSocket(b"".join(frame(b"x%d" % i) for i in range(500)))
    reader = FrameReader(sock, before_wait=lambda: calls.append(len(sock.data)))
    assert len(read_all(reader)) == 500
    assert len(sock.asks) == 2  # the data, then EOF
    assert len(calls) == 2


def test_big_frame_read_linearly() -> None:
    """A frame larger than a chunk is read to its end without re-asking for tiny pieces."""
    payload = b"a" * 3_000_000
    sock = FakeSocket(frame(payload), piece=1 << 16)
    reader = FrameReader(sock, chunk_size=4096)
    assert reader.next_frame() == (OP_TEXT, payload)
    assert max(sock.asks) <= 1 << 20
    assert len(sock.asks) < 3_000_000 // (1 << 16) + 5


def test_fragments_with_control_frames_between() -> None:
    """A fragmented message is joined; a ping in the middle is returned on its own, first."""
    stream = (frame(b"he", OP_TEXT, fin=False) + frame(b"ll", 0, fin=False)
              + frame(b"p!", OP_PING) + frame(b"o", 0))
    assert read_all(FrameReader(FakeSocket(stream))) == [(OP_PING, b"p!"), (OP_TEXT, b"hello")]


def test_binary_fragments_keep_opcode() -> None:
    """A binary message in fragments comes back as binary."""
    stream = frame(b"\x00\x01", OP_BINARY, fin=False) + frame(b"\x02", 0)
    assert read_all(FrameReader(FakeSocket(stream))) == [(OP_BINARY, b"\x00\x01\x02")]


def test_masked_frame_rejected() -> None:
    """A masked server frame fails the connection (RFC 6455 §5.1: a client must close)."""
    stream = frame(b'{"channel":"pong"}', mask=b"\x01\x02\xfe\x7f")
    with pytest.raises(FrameRejected) as info:
        FrameReader(FakeSocket(stream)).next_frame()
    assert info.value.close_code == 1002


def test_control_frames() -> None:
    """Close, ping and pong come back with their payloads."""
    stream = frame(b"\x03\xe8bye", OP_CLOSE) + frame(b"", OP_PING) + frame(b"p", OP_PONG)
    assert read_all(FrameReader(FakeSocket(stream))) == [
        (OP_CLOSE, b"\x03\xe8bye"), (OP_PING, b""), (OP_PONG, b"p")]


@pytest.mark.parametrize(
    "stream",
    [
        frame(b"x", rsv=4),  # RSV1 without permessage-deflate
        frame(b"x", 0x3),  # reserved data opcode
        frame(b"x", 0xB),  # reserved control opcode
        frame(b"x" * 126, OP_PING),  # control frame over 125 bytes
        frame(b"x", OP_PING, fin=False),  # fragmented control frame
        frame(b"x", 0),  # continuation with no message
        frame(b"a", OP_TEXT, fin=False) + frame(b"b", OP_TEXT),  # new message mid-message
    ],
)
def test_protocol_errors(stream: bytes) -> None:
    """Frames that break RFC 6455 are rejected with close code 1002."""
    with pytest.raises(FrameRejected) as info:
        FrameReader(FakeSocket(stream)).next_frame()
    assert info.value.close_code == 1002


@pytest.mark.parametrize("cut", [0, 1, 3, 10])
def test_eof_mid_frame(cut: int) -> None:
    """TCP ending before or inside a frame is a lost connection."""
    stream = frame(b"y" * 200)[:cut] if cut else b""
    with pytest.raises(WebSocketConnectionClosedException):
        FrameReader(FakeSocket(stream)).next_frame()


def test_eof_inside_big_frame() -> None:
    """TCP ending inside a frame bigger than a chunk is a lost connection too."""
    stream = frame(b"z" * 100_000)[:50_000]
    with pytest.raises(WebSocketConnectionClosedException):
        FrameReader(FakeSocket(stream, piece=4096), chunk_size=1024).next_frame()


def test_socket_errors_pass_through() -> None:
    """An OSError from recv (socket shut down by stop()) reaches the caller unchanged."""

    class Broken:
        def recv(self, bufsize: int, /) -> bytes:
            raise ConnectionResetError("reset")

    with pytest.raises(ConnectionResetError):
        FrameReader(Broken()).next_frame()


@pytest.mark.parametrize("piece", [7, 4096, 1 << 30])
def test_oversize_message_is_skipped_without_being_held(piece: int) -> None:
    """A message over max_size is skipped as it streams in (never asked for whole) and
    reported; the next message arrives intact."""
    from wsclients.core.frames import MessageTooLarge

    big = b"x" * 300_000
    sock = FakeSocket(frame(big) + frame(b"after"), piece=piece)
    reader = FrameReader(sock, chunk_size=16384, max_size=1000)
    with pytest.raises(MessageTooLarge) as info:
        reader.next_frame()
    assert info.value.size == 300_000 and "max_message_size=1000" in str(info.value)
    assert reader.next_frame() == (OP_TEXT, b"after")
    assert max(sock.asks) <= 16384  # read in chunks, never the whole message at once


def test_oversize_fragmented_message_is_reported() -> None:
    """Fragments that add up past max_size are reported; the stream goes on."""
    from wsclients.core.frames import MessageTooLarge

    data = (frame(b"a" * 600, fin=False) + frame(b"b" * 600, OP_CONT_TEST, fin=True)
            + frame(b"ok"))
    reader = FrameReader(FakeSocket(data), max_size=1000)
    with pytest.raises(MessageTooLarge):
        reader.next_frame()
    assert reader.next_frame() == (OP_TEXT, b"ok")


OP_CONT_TEST = 0x0


def test_take_texts_takes_the_whole_text_frames_already_buffered() -> None:
    """After next_frame, take_texts hands out the rest of the buffered burst without a recv,
    up to its limit, and next_frame goes on where it stopped."""
    payloads = [b'{"n":%d}' % i for i in range(10)] + [b"x" * 300, "é".encode()]
    sock = FakeSocket(b"".join(frame(p) for p in payloads))
    reader = FrameReader(sock)
    first = reader.next_frame()
    out = [first[1]]
    reader.take_texts(out, 5)
    assert out == payloads[:6]
    assert len(sock.asks) == 1
    reader.take_texts(out, 100)
    assert out == payloads  # 16-bit lengths and checked UTF-8 too
    assert len(sock.asks) == 1
    assert read_all(reader) == []


@pytest.mark.parametrize("stopper", [
    frame(b"", OP_PING),  # a control frame: the caller answers it
    frame(b"bin", OP_BINARY),
    frame(b"part", fin=False) + frame(b"end", 0x0),  # a fragmented message
    frame(b"z" * 70_000),  # a 64-bit length
    frame(b"\xff\xfe"),  # not UTF-8: next_frame rejects it
    frame(b"masked", mask=b"abcd"),
])
def test_take_texts_leaves_anything_else_to_next_frame(stopper: bytes) -> None:
    """take_texts stops at the first frame that is not a whole, plain text frame and
    leaves it, with its checks and errors, to next_frame."""
    sock = FakeSocket(frame(b"a") + frame(b"b") + stopper + frame(b"c"))
    reader = FrameReader(sock)
    out = [reader.next_frame()[1]]
    reader.take_texts(out, 100)
    assert out == [b"a", b"b"]
    try:
        rest = read_all(reader)
    except FrameRejected:
        return  # the not-UTF-8 and masked frames: rejected by next_frame, as before
    assert rest[-1] == (OP_TEXT, b"c")
    assert len(rest) >= 2


def test_take_texts_stops_at_a_frame_not_yet_whole_or_over_max_size() -> None:
    """A frame cut by TCP waits for next_frame (which reads the rest); so does one over
    max_size (which next_frame skips and reports)."""
    whole = frame(b"a") + frame(b"long" * 20)
    sock = FakeSocket(whole + frame(b"c"), piece=len(whole) - 3)
    reader = FrameReader(sock, max_size=50)
    out = [reader.next_frame()[1]]
    reader.take_texts(out, 100)
    assert out == [b"a"]  # the second frame is cut
    with pytest.raises(MessageTooLarge):
        reader.next_frame()
    assert reader.next_frame() == (OP_TEXT, b"c")

    reader = FrameReader(FakeSocket(frame(b"a") + frame(b"long" * 20) + frame(b"c")),
                         max_size=50)
    out = [reader.next_frame()[1]]
    reader.take_texts(out, 100)
    assert out == [b"a"]  # whole, but over max_size


def test_take_texts_takes_nothing_inside_a_fragmented_message() -> None:
    """Between the fragments of a message (a ping came between them), nothing is taken."""
    sock = FakeSocket(frame(b"he", fin=False) + frame(b"", OP_PING) + frame(b"llo", 0x0))
    reader = FrameReader(sock)
    assert reader.next_frame() == (OP_PING, b"")
    out: list[bytes] = []
    reader.take_texts(out, 100)
    assert out == []
    assert reader.next_frame() == (OP_TEXT, b"hello")


def test_reads_ask_for_64_kib_until_one_fills_it() -> None:
    """A read allocates what it asks for before it knows how much comes: lone frames are
    read with 64 KiB asks (served from the heap; 128 KiB and more go through mmap), and a
    read that fills its ask (a burst) makes the next one ask for the whole chunk, until a
    read comes back short."""
    small = frame(b'{"a":1}')
    burst = frame(b"x" * 1000) * 300  # 300 KB waiting at once
    sock = FakeSocket(small + burst + small, piece=70_000)
    reader = FrameReader(sock, chunk_size=256 * 1024)
    frames = read_all(reader)
    assert len(frames) == 302
    assert sock.asks[0] == 64 * 1024  # nothing known yet: a small ask
    # The first ask came back full (the burst was waiting): then the whole chunk is asked,
    # and after a short read (70,000 < 262,144) a small ask again.
    assert sock.asks[1] == 256 * 1024
    assert sock.asks[2] == 64 * 1024
    assert max(sock.asks) == 256 * 1024
    # A chunk smaller than 64 KiB is never exceeded.
    tiny = FakeSocket(small * 10, piece=3)
    read_all(FrameReader(tiny, chunk_size=16))
    assert set(tiny.asks) == {16}
