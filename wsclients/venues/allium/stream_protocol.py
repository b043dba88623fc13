"""Allium's data streams over WebSocket, sans-I/O: one topic per socket, records in.

The topic is part of the URL (``…/ws/stream?topic=ethereum.blocks``). On the open socket the
client sends actions (https://docs.allium.so/datastreams/websockets, "Data Streams over
Websockets"): ``{"action": "setFilter", "data": <filter>}`` before ``{"action": "start"}`` to
receive only matching records, ``{"action": "stop"}`` to pause without closing, ``start`` again
to resume. Records then arrive as JSON, each frame one record (an object) or, as tolerated
here, an array of them.

The venue's own words on delivery: streams over WebSocket suit "real-time monitoring where
occasional message loss is acceptable"; nothing is replayed after a reconnect.

``AlliumStreamProtocol`` keeps what the user asked for (the filter, paused or not) and puts
it back on every new socket: ``setFilter`` first, then ``start``, so a reconnect never streams
unfiltered records, nor stays silent waiting for a ``start`` nobody sends.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Optional, Union
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from wsclients.core import codec
from wsclients.core.protocol import ProtocolBuffers, guarded_parse
from wsclients.errors import ProtocolViolation
from wsclients.models import Message

__all__ = [
    "START",
    "STOP",
    "STREAM_URL",
    "AlliumStreamProtocol",
    "check_topic",
    "set_filter_frame",
    "stream_url",
]

logger = logging.getLogger(__name__)

VENUE = "allium"

STREAM_URL = "wss://api.allium.so/api/v1/developer/ws/stream"
"""The endpoint of Allium's data streams; the topic goes in its ``topic`` query parameter."""

START = '{"action":"start"}'
STOP = '{"action":"stop"}'


def check_topic(topic: Any) -> str:
    """A topic as the venue names it (``"ethereum.blocks"``). Topics are free text — the
    venue documents the ``{blockchain}.{data_type}`` pattern but publishes no full list — so
    only emptiness and whitespace are refused.

    Raises:
        ValueError: ``topic`` is not a non-empty string without whitespace.
    """
    if not isinstance(topic, str) or not topic or any(c.isspace() for c in topic):
        raise ValueError(f"a topic is a non-empty name like 'ethereum.blocks', got {topic!r}")
    return topic


def stream_url(topic: str, base: str = STREAM_URL) -> str:
    """The socket URL of ``topic``: ``base`` with ``topic=<topic>`` in its query (any
    ``topic`` already there is replaced; other parameters are kept)."""
    parts = urlsplit(base)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "topic"]
    query.append(("topic", check_topic(topic)))
    return urlunsplit(parts._replace(query=urlencode(query, safe=".:-_")))


def set_filter_frame(filter_data: Mapping[str, Any]) -> str:
    """``{"action": "setFilter", "data": <filter>}``."""
    return codec.dumps({"action": "setFilter", "data": dict(filter_data)})


class AlliumStreamProtocol(ProtocolBuffers):
    """One topic's socket: actions out, records in as ``Message(channel=topic, data=record)``.

    Args:
        topic: the stream, as in the URL.
        filter_data: the filter's JSON object (as the filter builder's ``filter_json`` makes
            it), sent with ``setFilter`` on every socket before ``start``; None for none.
        paused: start paused: on a new socket only the filter is sent, no ``start``.

    Frames queued while no socket is open are dropped by the connection; ``on_open`` puts
    the whole state back. Every method runs under the owning connection's lock.
    """

    venue = VENUE

    def __init__(
        self, topic: str, *, filter_data: Optional[Mapping[str, Any]] = None, paused: bool = False
    ) -> None:
        super().__init__()
        self.topic = check_topic(topic)
        self.filter_data: Optional[dict[str, Any]] = (
            dict(filter_data) if filter_data is not None else None
        )
        self.paused = paused
        """Whether the user paused the stream (kept across reconnects)."""

    # -- commands (under the connection's lock) -------------------------------------------

    def pause(self) -> bool:
        """Queue ``stop``; the socket stays open. False when already paused."""
        if self.paused:
            return False
        self.paused = True
        self._outgoing.append(STOP)
        return True

    def resume(self) -> bool:
        """Queue ``start``. False when not paused."""
        if not self.paused:
            return False
        self.paused = False
        self._outgoing.append(START)
        return True

    def set_filter(self, filter_data: Mapping[str, Any]) -> None:
        """Use a new filter from now on. The venue documents filters as set before
        ``start``, so a streaming socket gets ``stop`` → ``setFilter`` → ``start``; a paused
        one gets only ``setFilter`` and stays paused. (Removing a filter needs a new socket:
        the venue documents no way to clear one.)"""
        self.filter_data = dict(filter_data)
        if self.paused:
            self._outgoing.append(set_filter_frame(self.filter_data))
        else:
            self._outgoing.extend((STOP, set_filter_frame(self.filter_data), START))

    # -- hooks ---------------------------------------------------------------------------

    def on_open(self) -> None:
        """A fresh socket streams nothing until told: filter first, then ``start`` (unless
        the user paused the stream)."""
        super().on_open()
        if self.filter_data is not None:
            self._outgoing.append(set_filter_frame(self.filter_data))
        if not self.paused:
            self._outgoing.append(START)

    def receive_text(self, data: Union[str, bytes], *, received_ns: int) -> None:
        """Turn one frame into ``Message`` events: an object is one record, an array is one
        record per element; any other JSON value is delivered as it is. Never raises: a frame
        that is not JSON becomes a non-fatal ``ErrorEvent``."""
        guarded_parse(self._receive, self._report, data, received_ns)

    # -- parsing -------------------------------------------------------------------------

    def _receive(self, data: Union[str, bytes], received_ns: int) -> None:
        try:
            frame = codec.loads(data)
        except ValueError as exc:
            raise ProtocolViolation("a stream frame that is not JSON", raw=data) from exc
        topic = self.topic
        records = frame if isinstance(frame, list) else (frame,)
        self._events.extend(
            Message(venue=VENUE, channel=topic, data=record, received_ns=received_ns, raw=record)
            for record in records
        )

