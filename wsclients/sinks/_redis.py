"""What the Redis sink and source share: importing redis-py, opening a client, showing a URL.

redis-py is the optional ``redis`` extra; nothing outside ``wsclients.sinks`` imports it, and
this module says how to install it when it is missing.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from typing import Any, Optional

try:
    import redis
    import redis.cluster
    from redis.backoff import NoBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import RedisError, ResponseError
    from redis.exceptions import TimeoutError as RedisTimeoutError
    from redis.retry import Retry
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "wsclients.sinks needs redis-py: pip install 'wsclients[redis]'"
    ) from exc

__all__ = [
    "DEFAULT_REDIS_URL",
    "RedisConnectionError",
    "RedisError",
    "RedisTimeoutError",
    "ResponseError",
    "TRANSIENT",
    "close_quietly",
    "display_url",
    "open_client",
]

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"

TRANSIENT: tuple[type[BaseException], ...] = (RedisConnectionError, RedisTimeoutError, OSError)
"""Failures that a reconnect may cure (server down, restarted, paused, network)."""


def open_client(
    url: str,
    *,
    cluster: bool,
    socket_timeout: Optional[float],
    options: Optional[Mapping[str, Any]],
) -> Any:
    """A connected redis-py client (``RedisCluster`` with ``cluster``); raises when the
    server does not answer a PING. Any thread; no retries of its own (callers back off)."""
    kwargs: dict[str, Any] = {
        "socket_timeout": socket_timeout,
        "socket_connect_timeout": socket_timeout,
        **(options or {}),
    }
    client: Any
    if cluster:
        client = redis.cluster.RedisCluster.from_url(url, **kwargs)
    else:
        # redis-py's own retry would hide an outage from our backoff and counters.
        kwargs.setdefault("retry_on_timeout", False)
        kwargs.setdefault("retry", Retry(NoBackoff(), 0))
        client = redis.Redis.from_url(url, **kwargs)
    try:
        client.ping()
    except BaseException:
        client.close()
        raise
    return client


def close_quietly(client: Any) -> None:
    """Close ``client``'s connections, ignoring errors (it is being given up on)."""
    try:
        client.close()
    except Exception:  # noqa: BLE001 - a broken connection may fail to close; nothing to do
        pass


def display_url(url: str) -> str:
    """``url`` without its password, for reprs, logs and Status events."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urllib.parse.urlunsplit(parts._replace(netloc=user + host))
