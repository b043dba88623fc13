"""JSON in and out, with orjson and with the standard library fallback alike."""

from __future__ import annotations

import importlib
import sys
import tracemalloc
import zlib
from collections.abc import Iterator
from types import ModuleType

import pytest

import wsclients.core.codec as codec_module
from wsclients.core.codec import MAX_INFLATED_SIZE, inflate_raw
from wsclients.errors import MessageTooLarge


@pytest.fixture(params=["orjson", "stdlib"])
def codec(request: pytest.FixtureRequest) -> Iterator[ModuleType]:
    """The codec module as loaded with orjson, and as loaded without it."""
    if request.param == "orjson":
        yield codec_module
        return
    saved = sys.modules.get("orjson")
    sys.modules["orjson"] = None  # type: ignore[assignment]  # makes `import orjson` fail
    try:
        fallback = importlib.reload(codec_module)
        assert not fallback.HAVE_ORJSON
        yield fallback
    finally:
        if saved is not None:
            sys.modules["orjson"] = saved
        else:
            del sys.modules["orjson"]
        importlib.reload(codec_module)


def test_loads_str_bytes_and_memoryview(codec: ModuleType) -> None:
    """Frames arrive as bytes (UTF-8 not yet checked) or str; both decode the same."""
    text = '{"px":"1.5","coin":"\u00e9"}'
    expected = {"px": "1.5", "coin": "\u00e9"}
    assert codec.loads(text) == expected
    assert codec.loads(text.encode()) == expected
    assert codec.loads(memoryview(text.encode())) == expected


@pytest.mark.parametrize("bad", [b"{not json", b'{"a":"\xff\xfe"}', b"", b"[1,"])
def test_bad_json_and_bad_utf8_raise_value_error(codec: ModuleType, bad: bytes) -> None:
    """Bad JSON and invalid UTF-8 both raise ValueError (codec.DecodeError)."""
    with pytest.raises(codec.DecodeError):
        codec.loads(bad)


def test_dumps_is_compact_text(codec: ModuleType) -> None:
    """Outgoing frames are compact str, as venues expect."""
    out = codec.dumps({"method": "subscribe", "subscription": {"type": "trades", "coin": "é"}})
    assert isinstance(out, str) and " " not in out
    assert codec.loads(out)["subscription"]["coin"] == "é"


@pytest.mark.parametrize("bad", [b'"\xed\xa0\x80"', b'"\xf4\x90\x80\x80"', b'"\xc0\xaf"'])
def test_both_decoders_reject_the_same_bad_utf8(codec: ModuleType, bad: bytes) -> None:
    """Encoded surrogates, code points past U+10FFFF and overlong forms are rejected with
    and without orjson (json.loads(bytes) alone would let surrogates through)."""
    with pytest.raises(codec.DecodeError):
        codec.loads(bad)


@pytest.mark.parametrize("depth", [1_100, 100_000])
def test_deep_nesting_is_a_value_error(codec: ModuleType, depth: int) -> None:
    """JSON nested past the decoder's depth is a ValueError, never a RecursionError."""
    with pytest.raises(codec.DecodeError):
        codec.loads(b"[" * depth + b"]" * depth)


def _raw_deflate(data: bytes, *, repeat: int = 1) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return b"".join(compressor.compress(data) for _ in range(repeat)) + compressor.flush()


def test_inflate_raw_round_trip_up_to_the_bound() -> None:
    """Output of exactly max_size bytes is returned whole; one byte more is refused."""
    payload = bytes(range(256)) * 40
    assert inflate_raw(_raw_deflate(payload), max_size=len(payload)) == payload
    with pytest.raises(MessageTooLarge) as info:
        inflate_raw(_raw_deflate(payload), max_size=len(payload) - 1)
    assert info.value.limit == len(payload) - 1 and "inflated payload" in str(info.value)


def test_inflate_raw_stops_a_bomb_without_growing_memory() -> None:
    """64 KiB of DEFLATE that would inflate to 64 MiB stops at the bound: the peak of
    Python allocations stays near max_size, not near the 64 MiB."""
    bomb = _raw_deflate(bytes(1 << 20), repeat=64)
    assert len(bomb) < 100_000
    tracemalloc.start()
    try:
        with pytest.raises(MessageTooLarge):
            inflate_raw(bomb, max_size=1 << 20)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 3 << 20


def test_inflate_raw_default_bound_is_16_mib() -> None:
    """The documented default: MAX_INFLATED_SIZE (16 MiB) is enforced when no bound is given."""
    assert MAX_INFLATED_SIZE == 16 * 1024 * 1024
    with pytest.raises(MessageTooLarge):
        inflate_raw(_raw_deflate(bytes(1 << 20), repeat=17))


@pytest.mark.parametrize("bad", [b"\xff\xff\xff", b""])
def test_inflate_raw_bad_or_truncated_stream(bad: bytes) -> None:
    """Input that is not raw DEFLATE, or is cut short, is a zlib.error as before."""
    with pytest.raises(zlib.error):
        inflate_raw(bad)
    with pytest.raises(zlib.error):
        inflate_raw(_raw_deflate(b"hello world" * 100)[:-5])
