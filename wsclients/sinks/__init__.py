"""Fan a client's events out through an existing broker, and read them back elsewhere.

One feed process holds the venue sockets and publishes into Redis Streams
(``RedisStreamSink``, attached with ``client.add_sink``); any number of processes on any
number of machines read them with ``RedisStreamSource``, which behaves like a client. Needs
the ``redis`` extra (redis-py): ``pip install 'wsclients[redis]'``. The wire format is
``wsclients.sinks.codec``.
"""

from __future__ import annotations

from wsclients.sinks.codec import decode_event, encode_event
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
