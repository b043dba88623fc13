"""What both Allium clients send on the upgrade: the user's headers and the API key.

Both endpoints take the key in the ``X-API-KEY`` header of the upgrade and nowhere else
(https://docs.allium.so/datastreams/websockets, "Authentication"). The venue's compression
example adds ``Sec-WebSocket-Extensions: permessage-deflate``; websocket-client cannot
decode compressed frames, so a socket that negotiated it would fail on its first message.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Optional

from wsclients.core.client import HeaderSource

__all__ = ["API_KEY_HEADER", "UpgradeHeaders", "check_api_key"]

logger = logging.getLogger(__name__)

API_KEY_HEADER = "X-API-KEY"
_EXTENSIONS = "sec-websocket-extensions"
_REFUSED = frozenset({_EXTENSIONS, API_KEY_HEADER.lower()})
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


def _problem(headers: Mapping[str, str]) -> Optional[str]:
    for name in headers:
        lowered = name.lower()
        if lowered == _EXTENSIONS:
            return _NO_COMPRESSION
        if lowered == API_KEY_HEADER.lower():
            return "pass the key as api_key=…, not in headers"
    return None


class UpgradeHeaders:
    """The headers of every upgrade: the user's extra ones plus ``X-API-KEY``.

    A callable the connection asks on every connect, so the key lives in this one object,
    whose ``repr`` hides it, rather than in a plain dict that any repr of the connection's
    options would print.

    Raises:
        ValueError: (when built) ``headers`` is a mapping holding ``Sec-WebSocket-Extensions``
            or ``X-API-KEY``. A callable is asked on every connect; such headers are dropped
            from its answer there, with an ERROR log line (a reconnect loop could not report
            it better).
    """

    __slots__ = ("_extra", "_key")

    def __init__(self, headers: Optional[HeaderSource], api_key: str) -> None:
        if headers is not None and not callable(headers):
            problem = _problem(headers)
            if problem is not None:
                raise ValueError(problem)
            headers = dict(headers)
        self._extra = headers
        self._key = check_api_key(api_key)

    def __call__(self) -> Mapping[str, str]:
        extra = self._extra
        if extra is None:
            fresh: dict[str, str] = {}
        elif callable(extra):
            fresh = dict(extra())
            problem = _problem(fresh)
            if problem is not None:
                logger.error("allium: %s; the header is dropped", problem)
                fresh = {k: v for k, v in fresh.items() if k.lower() not in _REFUSED}
        else:
            fresh = dict(extra)
        fresh[API_KEY_HEADER] = self._key
        return fresh

    def __repr__(self) -> str:
        return f"<{type(self).__name__} X-API-KEY hidden>"
