"""Fan a client's events out through an existing broker, and read them back elsewhere.

One feed process holds the venue sockets and publishes into Redis Streams
(``RedisStreamSink``, attached with ``client.add_sink``); any number of processes on any
number of machines read them with ``RedisStreamSource``, which behaves like a client. Those
two need the ``redis`` extra (redis-py): ``pip install 'wsclients[redis]'``, and import it
only when first named, so the wire format (``wsclients.sinks.codec``: ``encode_event``,
``decode_event``) works without it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from wsclients.sinks.codec import decode_event, encode_event

if TYPE_CHECKING:
    from wsclients.sinks.redis_sink import (
        DEFAULT_KINDS,
        DEFAULT_STREAM_KEY,
        RedisStreamSink,
        SinkStats,
        stream_key,
    )
    from wsclients.sinks.redis_source import RedisStreamSource, SourceStats

__all__ = [
    "DEFAULT_KINDS",
    "DEFAULT_STREAM_KEY",
    "RedisStreamSink",
    "RedisStreamSource",
    "SinkStats",
    "SourceStats",
    "decode_event",
    "encode_event",
    "stream_key",
]

_LAZY = {
    "DEFAULT_KINDS": "wsclients.sinks.redis_sink",
    "DEFAULT_STREAM_KEY": "wsclients.sinks.redis_sink",
    "RedisStreamSink": "wsclients.sinks.redis_sink",
    "SinkStats": "wsclients.sinks.redis_sink",
    "stream_key": "wsclients.sinks.redis_sink",
    "RedisStreamSource": "wsclients.sinks.redis_source",
    "SourceStats": "wsclients.sinks.redis_source",
}


def __getattr__(name: str) -> Any:
    """The Redis-backed names, imported on first use (ImportError names the extra)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'wsclients.sinks' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
