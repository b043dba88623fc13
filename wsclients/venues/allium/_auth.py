"""What both Allium clients do with the API key and the upgrade headers.

Both endpoints take the key in the ``X-API-KEY`` header of the upgrade and nowhere else
(https://docs.allium.so/datastreams/websockets, "Authentication"). The venue's compression
example adds ``Sec-WebSocket-Extensions: permessage-deflate``; websocket-client cannot
decode compressed frames, so a socket that negotiated it would fail on the first record.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Optional

from wsclients.core.client import HeaderSource

__all__ = ["API_KEY_HEADER", "check_api_key", "checked_headers"]

logger = logging.getLogger(__name__)

API_KEY_HEADER = "X-API-KEY"
_EXTENSIONS = "sec-websocket-extensions"
_NO_COMPRESSION = (
    "Sec-WebSocket-Extensions is not allowed: websocket-client cannot decode "
    "permessage-deflate frames, so a compressed Allium stream would fail on its first message"
)


def check_api_key(api_key: Any) -> str:
    """The key, checked for shape only (the venue judges it on the upgrade).

    Raises:
        ValueError: not a non-empty string, or one that cannot go in an HTTP header.
    """
    if not isinstance(api_key, str) or not api_key.strip():
        raise ValueError("api_key is required: the Allium API key (sent as X-API-KEY)")
    if any(c in api_key for c in "\r\n\0"):
        raise ValueError("api_key contains characters that cannot go in an HTTP header")
    return api_key


def _refused(headers: Mapping[str, str]) -> Optional[str]:
    for name in headers:
        lowered = name.lower()
        if lowered == _EXTENSIONS:
            return _NO_COMPRESSION
        if lowered == API_KEY_HEADER.lower():
            return "pass the key as api_key=…, not in headers"
    return None


def checked_headers(headers: Optional[HeaderSource]) -> Optional[HeaderSource]:
    """The user's extra headers, minus what an Allium socket must not send.

    Raises:
        ValueError: a mapping holding ``Sec-WebSocket-Extensions`` or ``X-API-KEY``. A
            callable is asked on every connect; such headers are dropped from its answer
            there, with an ERROR log line (a reconnect loop could not report it better).
    """
    if headers is None:
        return None
    if not callable(headers):
        problem = _refused(headers)
        if problem is not None:
            raise ValueError(problem)
        return headers
    source = headers

    def without_refused() -> Mapping[str, str]:
        fresh = dict(source())
        if _refused(fresh) is None:
            return fresh
        logger.error("allium: %s; the header is dropped", _refused(fresh))
        return {
            k: v for k, v in fresh.items()
            if k.lower() not in (_EXTENSIONS, API_KEY_HEADER.lower())
        }

    return without_refused
