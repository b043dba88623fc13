"""Payloads in and out: JSON (orjson when it is installed, the standard library otherwise)
and bounded raw-DEFLATE inflation.

Both JSON decoders accept ``bytes`` and reject the same input: bad JSON, invalid UTF-8
(encoded surrogates included) and nesting too deep for them (orjson stops at 1024 levels;
the standard library's ``RecursionError`` becomes a ``ValueError`` here). Frames from the
socket have had their UTF-8 checked by the frame reader already (RFC 6455 §8.1); the check
here covers every other caller.
"""

from __future__ import annotations

import json
import zlib
from typing import Any, Callable, Optional, Union

from wsclients.errors import MessageTooLarge

__all__ = ["HAVE_ORJSON", "MAX_INFLATED_SIZE", "DecodeError", "dumps", "inflate_raw", "loads"]

_orjson: Optional[Any]
try:
    import orjson as _orjson
except ImportError:  # pragma: no cover - exercised only without the "fast" extra
    _orjson = None

HAVE_ORJSON = _orjson is not None

DecodeError = ValueError
"""What ``loads`` raises on bad JSON or bad UTF-8 (orjson's and json's errors both are)."""


if _orjson is not None:
    _orjson_dumps = _orjson.dumps

    # orjson's own function, not a wrapper: every frame of every venue goes through it, and
    # a Python-level call around it costs about a tenth of decoding a small frame. It raises
    # orjson.JSONDecodeError, a ValueError, on bad JSON or UTF-8.
    loads: Callable[[Union[str, bytes, bytearray, memoryview]], Any] = _orjson.loads

    def dumps(obj: Any) -> str:
        """Encode compactly (no spaces), as venues expect."""
        return _orjson_dumps(obj).decode()  # type: ignore[no-any-return]

else:  # pragma: no cover
    _json_loads = json.loads
    _encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)

    def loads(data: Union[str, bytes, bytearray, memoryview]) -> Any:
        """Decode one JSON document; raises ``ValueError`` on bad JSON or UTF-8."""
        if not isinstance(data, str):
            # Strict UTF-8, as orjson: json.loads(bytes) would let encoded surrogates through.
            data = str(data, "utf-8")
        try:
            return _json_loads(data)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None

    def dumps(obj: Any) -> str:
        """Encode compactly (no spaces), as venues expect."""
        return _encoder.encode(obj)


MAX_INFLATED_SIZE = 16 * 1024 * 1024
"""The default bound of ``inflate_raw``: 16 MiB, far above any real venue payload (a
Hyperliquid fastAssetCtxs snapshot of every asset inflates to a few hundred KiB)."""


_INFLATE_STEP = 256 * 1024


def inflate_raw(data: bytes, max_size: int = MAX_INFLATED_SIZE) -> bytes:
    """Inflate raw DEFLATE (RFC 1951, no zlib or gzip header), never past ``max_size`` bytes.

    A few KiB of DEFLATE can inflate to gigabytes (a "decompression bomb"); this stops at
    the bound instead of growing memory with it.

    Raises:
        MessageTooLarge: the output would exceed ``max_size`` (``size`` is how far it got
            before stopping, a little past ``max_size``).
        zlib.error: ``data`` is not raw DEFLATE, or the stream is cut short.
    """
    inflater = zlib.decompressobj(wbits=-15)
    parts: list[bytes] = []
    size = 0
    pending = data
    # Piece by piece: a single decompress(data, max_size + 1) call grows its one output
    # buffer by doubling, which peaks near twice the bound.
    while not inflater.eof:
        part = inflater.decompress(pending, _INFLATE_STEP)
        progressed = part or len(inflater.unconsumed_tail) < len(pending)
        pending = inflater.unconsumed_tail
        if not progressed:
            break  # no input left and nothing more comes out: the stream is cut short
        size += len(part)
        if size > max_size:
            raise MessageTooLarge(size, max_size, what="inflated payload")
        parts.append(part)
    if not inflater.eof:
        raise zlib.error("incomplete or truncated raw DEFLATE stream")
    return b"".join(parts)
