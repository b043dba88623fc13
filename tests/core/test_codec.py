"""JSON in and out, with orjson and with the standard library fallback alike."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from types import ModuleType

import pytest

import wsclients.core.codec as codec_module


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
