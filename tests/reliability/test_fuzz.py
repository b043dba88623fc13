"""Seeded fuzzing of what the network hands us: frames into the reader, text into the venues.

Two promises are checked with Hypothesis (derandomized, so every run tries the same inputs):
the frame reader raises nothing but its own errors (``FrameRejected``, ``MessageTooLarge``,
a closed connection) whatever bytes arrive, and reads valid frames exactly; and each venue
protocol's ``receive_text`` never raises on junk, wrong types, bad UTF-8 or JSON nested
thousands of levels deep, and still turns the next good frame into its event.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any, Callable, Optional, Union

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websocket import WebSocketConnectionClosedException

from tests.core.test_frames_rfc import frame
from tests.venues.test_vega import LOOKUP
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
from wsclients.errors import FrameRejected, MessageTooLarge
from wsclients.models import Book, ErrorEvent, Event, Trade
from wsclients.venues.hyperliquid import HyperliquidProtocol
from wsclients.venues.tradevest import TradevestProtocol
from wsclients.venues.vega import VegaStreamProtocol, make_stream

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(60)]

FIXTURES = Path(__file__).parent.parent / "fixtures"

FUZZ = settings(
    max_examples=2_000, derandomize=True, deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
"""Seeded (derandomize) and repeatable; no example database, so no files are written."""

Outcome = Union[tuple[int, bytes], str]


class ChunkedSocket:
    """The reader's only need from a socket, ``recv``, handing ``data`` out ``piece`` bytes
    at a time and then EOF (an in-memory stand-in: thousands of examples per test)."""

    def __init__(self, data: bytes, piece: int) -> None:
        self.data = memoryview(data)
        self.piece = piece

    def recv(self, bufsize: int, /) -> bytes:
        n = min(bufsize, self.piece)
        out, self.data = bytes(self.data[:n]), self.data[n:]
        return out


def read_everything(reader: FrameReader, limit: int = 10_000) -> list[Outcome]:
    """Frames, and the names of the errors met, until EOF or a rejection."""
    out: list[Outcome] = []
    for _ in range(limit):
        try:
            out.append(reader.next_frame())
        except MessageTooLarge:
            out.append("too large")
        except FrameRejected as exc:
            assert exc.close_code in (1002, 1007)
            out.append(f"rejected {exc.close_code}")
            return out
        except WebSocketConnectionClosedException:
            return out
    raise AssertionError("the reader kept returning frames from a finite stream")


def assert_frames_are_sound(outcomes: list[Outcome]) -> None:
    """What the reader returns obeys RFC 6455: UTF-8 text, small well-formed control frames."""
    for item in outcomes:
        if isinstance(item, str):
            continue
        opcode, payload = item
        assert opcode in (OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG)
        if opcode == OP_TEXT:
            payload.decode("utf-8")
        elif opcode != OP_BINARY:
            assert len(payload) <= 125
            if opcode == OP_CLOSE:
                parse_close(payload)


pieces = st.sampled_from([1, 2, 3, 7, 64, 4096])
limits = st.sampled_from([None, 8, 100, 1000])


# ------------------------------------------------------------ the frame reader


@FUZZ
@given(data=st.binary(max_size=400), piece=pieces, max_size=limits)
def test_reader_random_bytes(data: bytes, piece: int, max_size: Optional[int]) -> None:
    """Any bytes at all: only the reader's own errors, and every frame returned is sound."""
    reader = FrameReader(ChunkedSocket(data, piece), chunk_size=256, max_size=max_size)
    assert_frames_are_sound(read_everything(reader))


_SIZES = [0, 1, 7, 8, 9, 99, 100, 101, 125, 126, 127, 999, 1000, 1001, 1500]
"""Message sizes around the length encodings and the max_size limits fuzzed."""
_CHARACTERS = "a{}\":,0 \u00e9\u03ba\u20ac\u2713\U0001d11e"
"""One-, two-, three- and four-byte UTF-8 characters, so fragments split them anywhere."""


def random_message(rnd: random.Random) -> tuple[bytes, list[Outcome], Outcome, int]:
    """A data message as frames on the wire (fragmented at random, control frames between
    fragments), the control frames the reader must return first, the message, its size."""
    opcode = rnd.choice([OP_TEXT, OP_BINARY])
    size = rnd.choice(_SIZES)
    if opcode == OP_TEXT:
        payload = "".join(rnd.choice(_CHARACTERS) for _ in range(size)).encode()[:size]
        payload = payload.decode("utf-8", "ignore").encode()
    else:
        payload = rnd.randbytes(size)
    cuts = sorted(rnd.randrange(len(payload) + 1) for _ in range(rnd.randrange(4)))
    parts = [payload[a:b] for a, b in zip([0, *cuts], [*cuts, len(payload)])]
    wire = b""
    between: list[Outcome] = []
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        wire += frame(part, opcode if i == 0 else OP_CONT, fin=last)
        if not last and rnd.random() < 0.5:
            control = (rnd.choice([OP_PING, OP_PONG]), rnd.randbytes(rnd.randrange(126)))
            wire += frame(control[1], control[0])
            between.append(control)
    return wire, between, (opcode, payload), len(payload)


@FUZZ
@given(rnd=st.randoms(use_true_random=True), piece=pieces, max_size=limits)
def test_reader_reads_valid_streams_exactly(
    rnd: random.Random, piece: int, max_size: Optional[int]
) -> None:
    """Valid streams (fragmented or not, control frames between fragments, cut by TCP
    anywhere) come back exactly: every message whole, or skipped as too large with the next
    one read normally."""
    wire = b""
    expected: list[Outcome] = []
    for _ in range(rnd.randrange(7)):
        frames, between, message, size = random_message(rnd)
        wire += frames
        expected += between
        expected.append("too large" if max_size is not None and size > max_size else message)
    reader = FrameReader(ChunkedSocket(wire, piece), chunk_size=256, max_size=max_size)
    assert read_everything(reader) == expected


Stream = tuple[bytes, list[Outcome], bytes, list[Outcome], bytes]


def mutated_stream(rnd: random.Random) -> Stream:
    """Good frames, one frame whose first byte or payload is mutated (its length kept, so
    the frame boundary after it stays where it was), then good frames again."""
    def good() -> tuple[bytes, Outcome]:
        payload = "".join(rnd.choice(_CHARACTERS) for _ in range(rnd.randrange(40))).encode()
        return frame(payload), (OP_TEXT, payload)

    before = [good() for _ in range(rnd.randrange(4))]
    after = [good() for _ in range(rnd.randint(1, 3))]
    payload = rnd.randbytes(rnd.choice([0, 2, 5, 125, 126, 140]))
    target = bytearray(frame(payload, rnd.choice([OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING])))
    if rnd.random() < 0.5:
        target[0] = 0x80 | rnd.randrange(0x80)  # FIN kept: RSV bits, any opcode
    else:
        header = 2 if len(payload) < 126 else 4
        for _ in range(rnd.randint(1, 4)):
            if len(target) > header:
                target[rnd.randrange(header, len(target))] = rnd.randrange(256)
    return (b"".join(f for f, _ in before), [o for _, o in before], bytes(target),
            [o for _, o in after], b"".join(f for f, _ in after))


@FUZZ
@given(rnd=st.randoms(use_true_random=True), piece=pieces)
def test_reader_mutated_frame_between_good_ones(rnd: random.Random, piece: int) -> None:
    """The good frames before a mutated one come back exactly; the mutated one is delivered
    sound or rejected; unless it was rejected, the reader is at the next frame boundary and
    reads the good frames after it exactly. A fresh reader started at that boundary (the
    reconnect after a rejection) reads them too."""
    prefix, expected_before, mutated, expected_after, suffix = mutated_stream(rnd)
    reader = FrameReader(ChunkedSocket(prefix + mutated + suffix, piece), chunk_size=64)
    got = read_everything(reader)
    assert got[: len(expected_before)] == expected_before
    rest = got[len(expected_before):]
    assert rest, "the mutated frame produced nothing at all"
    assert_frames_are_sound(rest)
    if isinstance(rest[0], str) and rest[0].startswith("rejected"):
        assert len(rest) == 1
    else:
        assert rest[1:] == expected_after
    fresh = FrameReader(ChunkedSocket(suffix, piece), chunk_size=64)
    assert read_everything(fresh) == expected_after


# ------------------------------------------------------------ the venue protocols


def fixture_lines(name: str) -> list[str]:
    return [line for line in (FIXTURES / name).read_text().splitlines() if line.strip()]


class Venue:
    """A venue protocol to fuzz: how to build one, frames to mutate, and a good frame with
    the event it must give."""

    def __init__(self, name: str, build: Callable[[], Any], samples: list[str], check: str,
                 expect: Callable[[Event], bool]) -> None:
        self.name = name
        self.build = build
        self.samples = samples
        self.check = check
        self.expect = expect

    def __repr__(self) -> str:
        return self.name


def _tradevest() -> TradevestProtocol:
    protocol = TradevestProtocol([("EUR", "BTC")], max_failures=None)
    protocol.on_open()
    return protocol


def _vega() -> VegaStreamProtocol:
    protocol = VegaStreamProtocol(
        make_stream("trades", marketIds="COIN_ALPHA_HBOT_MARKET_ID"), decimals=LOOKUP)
    protocol.on_open()
    return protocol


HL_CHECK = json.dumps({"channel": "trades", "data": [
    {"coin": "CHECK", "side": "B", "px": "1.5", "sz": "2", "time": 1, "hash": "0x0",
     "tid": 4_242_424_242, "users": ["0x1", "0x2"]}]})

VENUES = [
    Venue("hyperliquid", HyperliquidProtocol,
          [line for name in ("trades.jsonl", "l2book.jsonl", "bbo.jsonl", "candle.jsonl",
                             "control.jsonl", "user_events.jsonl", "fast_asset_ctxs.jsonl")
           for line in fixture_lines(f"hyperliquid/{name}")],
          HL_CHECK, lambda e: isinstance(e, Trade) and e.symbol == "CHECK"),
    Venue("vega", _vega,
          [line for name in ("trades.jsonl", "errors.jsonl", "market_data.jsonl")
           for line in fixture_lines(f"vega/{name}")],
          fixture_lines("vega/trades.jsonl")[0], lambda e: isinstance(e, Trade)),
    Venue("tradevest", _tradevest,
          [line for name in ("prices.jsonl", "error.jsonl", "keepalive.jsonl")
           for line in fixture_lines(f"tradevest/{name}")],
          fixture_lines("tradevest/prices.jsonl")[0], lambda e: isinstance(e, Book)),
]


def assert_survives(venue: Venue, frames: list[Union[str, bytes]]) -> None:
    """``receive_text`` never raises on ``frames``; every event they give can be shown; the
    good frame after them still gives its event."""
    protocol = venue.build()
    for text in frames:
        protocol.receive_text(text, received_ns=1)
    for event in protocol.take_events():
        repr(event)
        if isinstance(event, ErrorEvent):
            assert not isinstance(event.exception, RecursionError)
            str(event.exception)
    protocol.receive_text(venue.check, received_ns=2)
    assert any(venue.expect(e) for e in protocol.take_events()), venue


_ODD_VALUES: list[Any] = [
    None, True, False, 0, -1, 2**70, 1.5e308, -0.0, "", "x", "1e5", "NaN", "-", " 1", "0x10",
    "١٢٣", [], {}, [None], {"": None}, [[[]]], {"px": {}}, "2024-13-45T99:99:99Z",
]


def random_json(rnd: random.Random, depth: int = 0) -> Any:
    """A random JSON value: odd scalars, or small lists and objects of them."""
    roll = rnd.random()
    if depth < 3 and roll < 0.15:
        return [random_json(rnd, depth + 1) for _ in range(rnd.randrange(4))]
    if depth < 3 and roll < 0.3:
        return {rnd.choice(["px", "sz", "coin", "type", "data", "a"]): random_json(rnd, depth + 1)
                for _ in range(rnd.randrange(4))}
    return rnd.choice(_ODD_VALUES)


def retyped(rnd: random.Random, value: Any, depth: int = 0) -> Any:
    """``value`` with some of its members replaced by JSON of the wrong type."""
    if depth > 0 and rnd.random() < 0.2:
        return random_json(rnd)
    if isinstance(value, dict):
        return {k: retyped(rnd, v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [retyped(rnd, v, depth + 1) for v in value]
    return value


def wrong_typed(rnd: random.Random, venue: Venue) -> str:
    """A real frame of the venue's with members swapped for values of the wrong type."""
    return json.dumps(retyped(rnd, json.loads(rnd.choice(venue.samples))))


def garbled(rnd: random.Random, venue: Venue) -> Union[str, bytes]:
    """A real frame with characters replaced, cut short, or made invalid UTF-8."""
    text = bytearray(rnd.choice(venue.samples).encode())
    for _ in range(rnd.randint(1, 6)):
        if not text:
            break
        at = rnd.randrange(len(text))
        choice = rnd.randrange(4)
        if choice == 0:
            text[at] = rnd.choice(b'{}[]",:0-.e')
        elif choice == 1:
            del text[at:]
        elif choice == 2:
            text[at:at] = rnd.choice([b"\xff", b"\xed\xa0\x80", b"\xc0\xaf", b"\xce"])
        else:
            text[at] = rnd.randrange(256)
    data = bytes(text)
    return data if rnd.random() < 0.5 else data.decode("utf-8", "replace")


def junk(rnd: random.Random, venue: Venue) -> Union[str, bytes]:
    """JSON-ish text, random bytes, or random JSON of no venue's shape."""
    roll = rnd.randrange(3)
    if roll == 0:
        return "".join(rnd.choice('{}[]",:0123456789-.eEtrufalsn \\u"ab') for _ in
                       range(rnd.randrange(60)))
    if roll == 1:
        return rnd.randbytes(rnd.randrange(60))
    return json.dumps(random_json(rnd))


@pytest.mark.parametrize("venue", VENUES, ids=repr)
def test_venue_survives_junk_and_wrong_types(venue: Venue) -> None:
    """Random JSON-ish junk, garbled real frames (bad UTF-8 included) and real frames with
    wrong-typed members never make receive_text raise, and the next good frame still gives
    its event."""

    @FUZZ
    @given(rnd=st.randoms(use_true_random=True))
    def check(rnd: random.Random) -> None:
        makers = (junk, garbled, wrong_typed)
        frames = [rnd.choice(makers)(rnd, venue) for _ in range(rnd.randint(1, 4))]
        assert_survives(venue, frames)

    check()


def nested(depth: int, kind: str, leaf: str = "1") -> str:
    if kind == "list":
        return "[" * depth + leaf + "]" * depth
    return '{"a":' * depth + leaf + "}" * depth


NESTING_SLOTS = {
    "hyperliquid": ["{}", '{{"channel":{}}}', '{{"channel":"trades","data":{}}}',
                    '{{"channel":"candle","data":{}}}', '{{"channel":"l2Book","data":{}}}',
                    '{{"channel":"subscriptionResponse","data":{{"method":"subscribe",'
                    '"subscription":{}}}}}',
                    '{{"channel":"post","data":{{"id":1,"response":{{"type":"error",'
                    '"payload":{}}}}}}}', '{{"channel":"error","data":{}}}'],
    "vega": ["{}", '{{"result":{}}}', '{{"error":{}}}', '{{"result":{{"trades":{}}}}}',
             '{{"result":{{"trades":[{}]}}}}', '{{"error":{{"code":3,"message":{}}}}}'],
    "tradevest": ["{}", '{{"type":{}}}', '{{"type":"PRICES","prices":{}}}',
                  '{{"type":"PRICES","prices":[{{"market":{}}}]}}',
                  '{{"type":"ERROR","error":{}}}', '{{"type":"SOMETHING_NEW","x":{}}}'],
}


@pytest.mark.parametrize("venue", VENUES, ids=repr)
@pytest.mark.parametrize("depth", [990, 1_000, 1_020, 1_100, 20_000])
def test_venue_survives_deep_nesting(venue: Venue, depth: int) -> None:
    """JSON nested 1,000+ levels deep, in every place a venue reads, never raises
    (no RecursionError from parsing, parsing errors or showing events) and the next good
    frame still gives its event."""
    frames: list[Union[str, bytes]] = []
    for slot in NESTING_SLOTS[venue.name]:
        for kind in ("list", "dict"):
            frames.append(slot.format(nested(depth - slot.count("{{"), kind)))
            frames.append(slot.format(json.dumps("x" + nested(depth, kind))))  # in a string
    assert_survives(venue, frames)

