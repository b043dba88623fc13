"""RFC 6455 conformance of the frame reader for what a client must do with server frames.

The cases follow the sections an Autobahn-style suite covers: framing (§5.2), fragmentation
(§5.4), control frames (§5.5), close codes (§7.4) and UTF-8 (§8.1). Each case either delivers
or fails the connection with the close code the RFC gives. Reader-level tests feed bytes
through a real socketpair; the end-to-end tests run a raw-socket server that does a real
handshake, then sends crafted bytes to a real client and reads back its close frame.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import socket
import struct
import threading
from collections.abc import Iterator
from typing import Callable, Optional, Union

import pytest
from websocket import WebSocketConnectionClosedException

from tests.conftest import T
from tests.core.echo import EchoClient, trade
from tests.helpers import next_of
from wsclients.core.frames import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    FrameReader,
    parse_close,
)
from wsclients.errors import ConnectionLost, FrameRejected, MessageTooLarge
from wsclients.models import ErrorEvent, Trade

pytestmark = pytest.mark.timeout(30)

Frame = tuple[int, bytes]
Outcome = Union[Frame, FrameRejected, MessageTooLarge]


def frame(payload: bytes, opcode: int = OP_TEXT, *, fin: bool = True, rsv: int = 0,
          mask: Optional[bytes] = None, length_bytes: Optional[int] = None,
          length: Optional[int] = None) -> bytes:
    """One frame as a server writes it; ``length_bytes`` (0, 2 or 8) forces an encoding and
    ``length`` a declared length other than the payload's."""
    b0 = (0x80 if fin else 0) | rsv << 4 | opcode
    n = len(payload) if length is None else length
    bit = 0x80 if mask is not None else 0
    if length_bytes is None:
        length_bytes = 0 if n < 126 else 2 if n < 1 << 16 else 8
    if length_bytes == 0:
        head = struct.pack("!BB", b0, bit | n)
    elif length_bytes == 2:
        head = struct.pack("!BBH", b0, bit | 126, n)
    else:
        head = struct.pack("!BBQ", b0, bit | 127, n)
    if mask is None:
        return head + payload
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def close(code: Optional[int], reason: bytes = b"") -> bytes:
    """A close frame with ``code`` (none when None) and raw ``reason`` bytes."""
    payload = b"" if code is None else struct.pack("!H", code) + reason
    return frame(payload, OP_CLOSE)


@contextlib.contextmanager
def fed(data: bytes, *, keep_open: bool = False, **options: object) -> Iterator[FrameReader]:
    """A FrameReader over one end of a socketpair whose other end writes ``data`` (then EOF,
    unless ``keep_open``)."""
    ours, theirs = socket.socketpair()
    ours.settimeout(5 * T)  # a reader that waits for bytes that never come fails the test

    def write() -> None:
        try:
            theirs.sendall(data)
            if not keep_open:
                theirs.shutdown(socket.SHUT_WR)
        except OSError:  # the reader stopped early and closed its end
            pass

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        yield FrameReader(ours, chunk_size=4096, **options)  # type: ignore[arg-type]
    finally:
        ours.close()
        writer.join(5 * T)
        theirs.close()


def outcomes(data: bytes, **options: object) -> list[Outcome]:
    """Everything the reader makes of ``data``: frames and errors, up to EOF or a rejection."""
    out: list[Outcome] = []
    with fed(data, **options) as reader:
        while True:
            try:
                out.append(reader.next_frame())
            except WebSocketConnectionClosedException:
                return out
            except MessageTooLarge as exc:
                out.append(exc)
            except FrameRejected as exc:
                out.append(exc)
                return out


def rejected(data: bytes, **options: object) -> FrameRejected:
    """The FrameRejected that ends reading ``data`` (the test fails if none does)."""
    last = outcomes(data, **options)[-1]
    assert isinstance(last, FrameRejected), last
    return last


NEXT = frame(b'{"next":1}')
"""A good frame after the case: delivered when the case is too, never after a rejection."""


# ------------------------------------------------------------ §5.2 framing and lengths


@pytest.mark.parametrize("size", [0, 125, 126, 127, 65_535, 65_536, 200_000])
def test_length_boundaries_are_delivered(size: int) -> None:
    """Payloads at each length-encoding boundary (7-bit, 16-bit, 64-bit) arrive whole."""
    payload = bytes(i % 251 for i in range(size))
    assert outcomes(frame(payload, OP_BINARY) + NEXT) == [
        (OP_BINARY, payload), (OP_TEXT, b'{"next":1}')]


@pytest.mark.parametrize("length_bytes", [2, 8])
def test_longer_length_encoding_than_needed_is_delivered(length_bytes: int) -> None:
    """A small payload with a 16- or 64-bit length is still a valid frame to read."""
    assert outcomes(frame(b"tiny", OP_BINARY, length_bytes=length_bytes)) == [
        (OP_BINARY, b"tiny")]


@pytest.mark.parametrize("declared", [1 << 63, (1 << 64) - 1])
def test_64_bit_length_with_top_bit_is_rejected(declared: int) -> None:
    """§5.2: the most significant bit of a 64-bit length must be 0 → 1002, without waiting
    for (or buffering) the payload it claims."""
    assert rejected(frame(b"", OP_BINARY, length_bytes=8, length=declared) + NEXT,
                    keep_open=True).close_code == 1002


@pytest.mark.parametrize("rsv", [1, 2, 4, 7])
@pytest.mark.parametrize("opcode", [OP_TEXT, OP_BINARY, OP_PING, OP_CLOSE])
def test_rsv_bits_are_rejected(rsv: int, opcode: int) -> None:
    """§5.2: RSV1-3 set with no extension negotiated → 1002, on data and control frames."""
    assert rejected(frame(b"", opcode, rsv=rsv) + NEXT).close_code == 1002


def test_rsv_bits_on_a_continuation_are_rejected() -> None:
    """RSV bits on a later fragment fail the connection too."""
    stream = frame(b"a", fin=False) + frame(b"b", OP_CONT, rsv=4) + NEXT
    assert rejected(stream).close_code == 1002


@pytest.mark.parametrize("opcode", [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF])
def test_reserved_opcodes_are_rejected(opcode: int) -> None:
    """§5.2: reserved data (3-7) and control (0xB-0xF) opcodes → 1002."""
    assert rejected(frame(b"x", opcode) + NEXT).close_code == 1002


def test_reserved_opcode_mid_message_is_rejected() -> None:
    """A reserved opcode between fragments fails the connection as well."""
    stream = frame(b"a", fin=False) + frame(b"", 0xB) + frame(b"b", OP_CONT)
    assert rejected(stream).close_code == 1002


@pytest.mark.parametrize("opcode", [OP_TEXT, OP_BINARY, OP_PING, OP_CLOSE])
def test_masked_server_frames_are_rejected(opcode: int) -> None:
    """§5.1: a client must close the connection on a masked frame → 1002."""
    payload = b"\x03\xe8" if opcode == OP_CLOSE else b"hi"
    assert rejected(frame(payload, opcode, mask=b"\x01\x02\x03\x04") + NEXT).close_code == 1002


# ------------------------------------------------------------ §5.4 fragmentation


def test_fragments_with_control_frames_interleaved() -> None:
    """§5.4: control frames between fragments are returned as they come; the message after."""
    stream = (frame(b'{"a":', fin=False) + frame(b"p1", OP_PING)
              + frame(b"", OP_CONT, fin=False) + frame(b"", OP_PONG)
              + frame(b"1}", OP_CONT) + NEXT)
    assert outcomes(stream) == [
        (OP_PING, b"p1"), (OP_PONG, b""), (OP_TEXT, b'{"a":1}'), (OP_TEXT, b'{"next":1}')]


def test_close_between_fragments_is_returned() -> None:
    """A close frame in the middle of a fragmented message is returned (the connection ends)."""
    stream = frame(b"ab", fin=False) + close(1000)
    assert outcomes(stream) == [(OP_CLOSE, b"\x03\xe8")]


def test_many_fragments_of_one_byte() -> None:
    """A message in a fragment per byte (and empty fragments) is joined in order."""
    text = b'{"fragmented":"message"}'
    stream = frame(text[:1], OP_TEXT, fin=False) + b"".join(
        frame(text[i:i + 1], OP_CONT, fin=False) + frame(b"", OP_CONT, fin=False)
        for i in range(1, len(text))) + frame(b"", OP_CONT)
    assert outcomes(stream) == [(OP_TEXT, text)]


def test_binary_fragments_keep_their_opcode() -> None:
    """A fragmented binary message comes back binary (the opcode is the first fragment's)."""
    stream = frame(b"\xff\x00", OP_BINARY, fin=False) + frame(b"\xfe", OP_CONT)
    assert outcomes(stream) == [(OP_BINARY, b"\xff\x00\xfe")]


@pytest.mark.parametrize(
    "stream",
    [
        frame(b"x", OP_CONT),
        frame(b"x", OP_CONT, fin=False),
        frame(b"whole") + frame(b"x", OP_CONT),
    ],
    ids=["final", "non-final", "after-a-whole-message"],
)
def test_continuation_without_a_message_is_rejected(stream: bytes) -> None:
    """§5.4: a continuation frame with no fragmented message open → 1002."""
    assert rejected(stream + NEXT).close_code == 1002


@pytest.mark.parametrize("opcode", [OP_TEXT, OP_BINARY])
@pytest.mark.parametrize("fin", [True, False])
def test_new_message_while_one_is_open_is_rejected(opcode: int, fin: bool) -> None:
    """§5.4: a new data frame while a fragmented message is open → 1002."""
    stream = frame(b"a", fin=False) + frame(b"b", opcode, fin=fin) + NEXT
    assert rejected(stream).close_code == 1002


# ------------------------------------------------------------ §5.5 control frames


@pytest.mark.parametrize("opcode", [OP_PING, OP_PONG, OP_CLOSE])
def test_control_frame_of_125_bytes_is_delivered(opcode: int) -> None:
    """125 bytes is the largest control payload allowed."""
    payload = b"\x03\xe8" + b"r" * 123 if opcode == OP_CLOSE else b"p" * 125
    assert outcomes(frame(payload, opcode)) == [(opcode, payload)]


@pytest.mark.parametrize("opcode", [OP_PING, OP_PONG, OP_CLOSE])
@pytest.mark.parametrize("size", [126, 65_536])
def test_control_frame_over_125_bytes_is_rejected(opcode: int, size: int) -> None:
    """§5.5: a control payload over 125 bytes → 1002, before its payload is read."""
    stream = frame(b"\x03\xe8" + b"r" * (size - 2), opcode)
    assert rejected(stream[:12], keep_open=True).close_code == 1002


@pytest.mark.parametrize("opcode", [OP_PING, OP_PONG, OP_CLOSE])
def test_fragmented_control_frame_is_rejected(opcode: int) -> None:
    """§5.5: control frames must not be fragmented → 1002."""
    stream = frame(b"\x03\xe8", opcode, fin=False) + frame(b"", OP_CONT)
    assert rejected(stream).close_code == 1002


def test_control_frames_are_never_skipped_as_too_large() -> None:
    """max_size applies to messages: a 125-byte ping still arrives with max_size=10."""
    assert outcomes(frame(b"p" * 125, OP_PING), max_size=10) == [(OP_PING, b"p" * 125)]


# ------------------------------------------------------------ §7.4 close frames


@pytest.mark.parametrize(
    "code", [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014,
             3000, 3999, 4000, 4999])
def test_allowed_close_codes(code: int) -> None:
    """§7.4: codes a peer may send are delivered and parse to (code, reason)."""
    payload = struct.pack("!H", code) + "bye ✓".encode()
    assert outcomes(frame(payload, OP_CLOSE)) == [(OP_CLOSE, payload)]
    assert parse_close(payload) == (code, "bye ✓")


def test_empty_close_has_no_code() -> None:
    """An empty close payload is allowed and has no code (read as 1005)."""
    assert outcomes(close(None)) == [(OP_CLOSE, b"")]
    assert parse_close(b"") == (None, "")


@pytest.mark.parametrize(
    "code", [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65_535])
def test_invalid_or_reserved_close_codes_are_rejected(code: int) -> None:
    """§7.4: 0-999, 1004, 1005, 1006, 1015 and the reserved 1016-2999 (and anything past
    4999) are never sent by a peer → 1002."""
    assert rejected(close(code) + NEXT).close_code == 1002
    with pytest.raises(FrameRejected):
        parse_close(struct.pack("!H", code))


def test_close_with_a_one_byte_payload_is_rejected() -> None:
    """§5.5.1: a close body is empty or starts with a 2-byte code → 1002."""
    assert rejected(frame(b"\x03", OP_CLOSE)).close_code == 1002
    with pytest.raises(FrameRejected) as info:
        parse_close(b"\x03")
    assert info.value.close_code == 1002


@pytest.mark.parametrize("reason", [b"\xff", b"\xed\xa0\x80", b"ok\xce", b"\xc0\xaf"])
def test_close_reason_not_utf8_is_rejected(reason: bytes) -> None:
    """§5.5.1, §8.1: a close reason that is not UTF-8 → 1007."""
    assert rejected(close(1000, reason)).close_code == 1007
    with pytest.raises(FrameRejected) as info:
        parse_close(b"\x03\xe8" + reason)
    assert info.value.close_code == 1007


# ------------------------------------------------------------ §8.1 UTF-8 in text


VALID_TEXT = "κόσμε 𝄞 ✓ ascii".encode()
INVALID_TEXT = [
    b"\xff",  # never valid
    b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",  # encoded surrogate
    b"\xf4\x90\x80\x80",  # past U+10FFFF
    b"\xc0\xaf",  # overlong "/"
    b"ends mid-character \xce",  # truncated sequence
]


def test_valid_utf8_text_is_delivered_whole_and_split_at_every_byte() -> None:
    """Multi-byte UTF-8 is delivered, also when fragments split a character anywhere."""
    assert outcomes(frame(VALID_TEXT)) == [(OP_TEXT, VALID_TEXT)]
    for cut in range(1, len(VALID_TEXT)):
        stream = (frame(VALID_TEXT[:cut], fin=False) + frame(b"", OP_PING)
                  + frame(VALID_TEXT[cut:], OP_CONT))
        assert outcomes(stream) == [(OP_PING, b""), (OP_TEXT, VALID_TEXT)], cut


@pytest.mark.parametrize("payload", INVALID_TEXT)
def test_invalid_utf8_text_is_rejected(payload: bytes) -> None:
    """§8.1: a text message that is not UTF-8 → 1007 (whatever JSON decoder is installed)."""
    assert rejected(frame(payload) + NEXT).close_code == 1007


@pytest.mark.parametrize("payload", INVALID_TEXT)
def test_invalid_utf8_in_fragmented_text_is_rejected(payload: bytes) -> None:
    """§8.1: the same, with the message split into fragments at every byte."""
    for cut in range(len(payload) + 1):
        stream = frame(payload[:cut], fin=False) + frame(payload[cut:], OP_CONT) + NEXT
        assert rejected(stream).close_code == 1007, cut


def test_invalid_utf8_fails_fast_before_the_message_ends() -> None:
    """A fragment whose bytes can never become UTF-8 is rejected at once, without waiting
    for the rest of the message (the writer keeps the socket open)."""
    stream = frame(b'{"a":"\xed\xa0\x80', fin=False)
    assert rejected(stream, keep_open=True).close_code == 1007


def test_binary_is_not_checked_for_utf8() -> None:
    """Binary messages carry any bytes."""
    assert outcomes(frame(b"\xff\xfe", OP_BINARY)) == [(OP_BINARY, b"\xff\xfe")]


# ------------------------------------------------------------ size limit


def test_oversize_message_is_skipped_and_the_next_one_read() -> None:
    """RFC 6455 §10.4 leaves the limit to the endpoint: a message over max_size is skipped
    (reported once), and the socket goes on."""
    got = outcomes(frame(b"x" * 5000) + NEXT, max_size=1000)
    assert isinstance(got[0], MessageTooLarge) and got[0].size == 5000
    assert got[1:] == [(OP_TEXT, b'{"next":1}')]


def test_oversize_fragmented_message_is_dropped_as_it_streams() -> None:
    """Fragments past max_size are dropped, not gathered; control frames between them still
    arrive; one MessageTooLarge at the message's end, then the stream goes on."""
    stream = (frame(b"a" * 600, fin=False) + frame(b"b" * 600, OP_CONT, fin=False)
              + frame(b"", OP_PING) + frame(b"c" * 5000, OP_CONT, fin=False)
              + frame(b"d", OP_CONT) + NEXT)
    got = outcomes(stream, max_size=1000)
    assert got[0] == (OP_PING, b"")
    assert isinstance(got[1], MessageTooLarge) and got[1].size == 6201
    assert got[2:] == [(OP_TEXT, b'{"next":1}')]


def test_first_fragment_over_the_limit() -> None:
    """A first fragment already over max_size drops the whole message, whose continuations
    are then no protocol error."""
    stream = frame(b"a" * 2000, OP_BINARY, fin=False) + frame(b"b", OP_CONT) + NEXT
    got = outcomes(stream, max_size=1000)
    assert isinstance(got[0], MessageTooLarge) and got[0].size == 2001
    assert got[1:] == [(OP_TEXT, b'{"next":1}')]


# ------------------------------------------------------------ end to end: a real client


_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3


class RawServer:
    """A WebSocket server on a raw socket: a real handshake, then each connection gets the
    bytes ``script(index)`` gives (None: a good trade frame); it reads the client's frames
    until a close frame and records its code."""

    def __init__(self, script: Callable[[int], Optional[bytes]]) -> None:
        self._script = script
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port = self._listener.getsockname()[1]
        self.close_codes: list[Optional[int]] = []
        self.client_frames: list[Frame] = []
        self.closed = threading.Event()  # a close frame came back
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="raw-ws-server", daemon=True)

    def __enter__(self) -> RawServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(5 * T)
        self._listener.close()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    def _serve(self) -> None:
        index = 0
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except socket.timeout:
                continue
            with conn:
                conn.settimeout(0.1)
                try:
                    self._talk(conn, index)
                except OSError:
                    pass
            index += 1

    def _recv_exact(self, conn: socket.socket, n: int) -> bytes:
        data = b""
        while len(data) < n:
            try:
                chunk = conn.recv(n - len(data))
            except socket.timeout:
                if self._stop.is_set():
                    raise OSError("server stopping") from None
                continue
            if not chunk:
                raise OSError("client went away")
            data += chunk
        return data

    def _talk(self, conn: socket.socket, index: int) -> None:
        request = b""
        while b"\r\n\r\n" not in request:
            request += self._recv_exact(conn, 1)
        key = next(line.split(b":", 1)[1].strip() for line in request.split(b"\r\n")
                   if line.lower().startswith(b"sec-websocket-key:"))
        accept = base64.b64encode(hashlib.sha1(key + _GUID).digest())
        conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
        crafted = self._script(index)
        conn.sendall(frame(trade(index).encode()) if crafted is None else crafted)
        while not self._stop.is_set():
            b0, b1 = self._recv_exact(conn, 2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._recv_exact(conn, 2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._recv_exact(conn, 8))[0]
            key = self._recv_exact(conn, 4)  # clients always mask (§5.3)
            payload = bytes(b ^ key[i % 4] for i, b in enumerate(self._recv_exact(conn, n)))
            self.client_frames.append((b0 & 0x0F, payload))
            if b0 & 0x0F == OP_CLOSE:
                self.close_codes.append(parse_close(payload)[0])
                self.closed.set()
                return


def client_for(server: RawServer) -> EchoClient:
    return EchoClient(url=server.url, backoff_min=0.01, backoff_max=0.05,
                      ping_interval=None, stale_timeout=None)


@pytest.mark.parametrize(
    ("crafted", "code"),
    [
        (frame(b"{}", rsv=4), 1002),
        (frame(b"{}", 0x5), 1002),
        (frame(b"{}", mask=b"abcd"), 1002),
        (frame(b"x", OP_CONT), 1002),
        (frame(b"p" * 126, OP_PING), 1002),
        (close(1005), 1002),
        (frame(b'{"type":"x","v":"\xff"}'), 1007),
        (frame(b'{"type":', fin=False) + frame(b'"\xed\xa0\x80"}', OP_CONT), 1007),
        (close(1000, b"\xff"), 1007),
    ],
    ids=["rsv", "reserved-opcode", "masked", "stray-continuation", "long-ping",
         "close-1005", "text-not-utf8", "fragment-not-utf8", "close-reason-not-utf8"],
)
def test_client_fails_the_connection_with_the_code_and_reconnects(
    crafted: bytes, code: int
) -> None:
    """A real client given a bad frame reports an ErrorEvent, sends a close frame with the
    RFC's code (the server reads it), and comes back on a new socket that works."""
    with RawServer(lambda i: crafted if i == 0 else None) as server, \
            client_for(server) as client:
        error = next_of(client, ErrorEvent)
        assert isinstance(error.exception, FrameRejected) and not error.fatal
        assert error.code == code and error.exception.close_code == code
        assert server.closed.wait(3 * T) and server.close_codes[0] == code
        lost = next_of(client, ErrorEvent)
        assert isinstance(lost.exception, ConnectionLost) and lost.code == code
        assert next_of(client, Trade).trade_id == "1"  # the second socket's frame


def test_client_answers_a_ping_between_fragments_and_gets_the_message() -> None:
    """A ping in the middle of a fragmented message is answered at once with a pong, and
    the message is delivered whole after it."""
    text = trade(7).encode()
    crafted = (frame(text[:10], fin=False) + frame(b"mid", OP_PING)
               + frame(text[10:], OP_CONT) + frame(b"", OP_PING))
    with RawServer(lambda i: crafted if i == 0 else None) as server, \
            client_for(server) as client:
        assert next_of(client, Trade).trade_id == "7"
        client.stop()
        assert server.closed.wait(3 * T) and server.close_codes == [1000]
        pongs = [payload for opcode, payload in server.client_frames if opcode == OP_PONG]
        assert pongs == [b"mid", b""]
        assert json.loads(server.client_frames[0][1]) == {"op": "hello"}
