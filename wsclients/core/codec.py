"""JSON in and out: orjson when it is installed, the standard library otherwise.

Both decoders accept ``bytes`` and validate UTF-8 themselves, which is why connections can
tell websocket-client to skip its own (pure-Python, slow) UTF-8 check.
"""

from __future__ import annotations

import json
from typing import Any, Optional, Union

__all__ = ["HAVE_ORJSON", "DecodeError", "dumps", "loads"]

_orjson: Optional[Any]
try:
    import orjson as _orjson
except ImportError:  # pragma: no cover - exercised only without the "fast" extra
    _orjson = None

HAVE_ORJSON = _orjson is not None

DecodeError = ValueError
"""What ``loads`` raises on bad JSON or bad UTF-8 (orjson's and json's errors both are)."""


if _orjson is not None:
    _orjson_loads = _orjson.loads
    _orjson_dumps = _orjson.dumps

    def loads(data: Union[str, bytes, bytearray, memoryview]) -> Any:
        """Decode one JSON document; raises ``ValueError`` on bad JSON or UTF-8."""
        return _orjson_loads(data)

    def dumps(obj: Any) -> str:
        """Encode compactly (no spaces), as venues expect."""
        return _orjson_dumps(obj).decode()  # type: ignore[no-any-return]

else:  # pragma: no cover
    _json_loads = json.loads
    _encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)

    def loads(data: Union[str, bytes, bytearray, memoryview]) -> Any:
        """Decode one JSON document; raises ``ValueError`` on bad JSON or UTF-8."""
        if isinstance(data, memoryview):
            data = bytes(data)
        return _json_loads(data)

    def dumps(obj: Any) -> str:
        """Encode compactly (no spaces), as venues expect."""
        return _encoder.encode(obj)
