"""Read events back out of Redis Streams, with the same API as a venue client.

``RedisStreamSource`` is the consumer half of ``RedisStreamSink``: it has the callbacks
(``on_trade``, ``on_book`` …), ``get()``, ``events()``, ``queue()``, ``start()``/``stop()``
and ``run_forever()`` of a client, through the same ``Hub`` the clients use, and it yields
the same event classes, equal to what the feed process saw. A reader thread of its own
calls ``XREAD`` (or ``XREADGROUP``) with a short block, so ``stop()`` returns promptly, and
reconnects with backoff when Redis goes away (``Status`` events with venue ``"redis"`` say
so; those, and undecodable entries as ``ErrorEvent``, are the source's own events).

Delivery: without ``group`` every source sees every entry from where it started (``$``: only
new ones), at most once (a source that was down misses what was trimmed meanwhile). With
``group`` the workers of one group share the entries, each to one worker. An entry is
acknowledged (``XACK``) once handed to the callbacks and queues (with
``dispatch="inline"``: once the callbacks have returned); a worker restarted under the same
``consumer`` name first gets again what it had read but not acknowledged, then new entries:
at least once.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Callable, Optional, Union

import attrs

from wsclients.core.backoff import Backoff
from wsclients.core.consumer import EventConsumer
from wsclients.core.deadline import Deadline
from wsclients.core.hub import Hub
from wsclients.errors import ClientStopped, ConnectFailed, ProtocolViolation
from wsclients.models import ConnectionState, ErrorEvent, Event, Status
from wsclients.sinks._redis import (
    DEFAULT_REDIS_URL,
    TRANSIENT,
    RedisError,
    ResponseError,
    close_quietly,
    display_url,
    open_client,
)
from wsclients.sinks.codec import decode_event
from wsclients.sinks.redis_sink import FIELD

__all__ = ["RedisStreamSource", "SourceStats"]

logger = logging.getLogger(__name__)

Callback = Optional[Callable[[Any], Any]]
Streams = Union[str, Sequence[str], Mapping[str, str]]

_FIELD_BYTES = FIELD.encode()

VENUE = "redis"
"""The ``venue`` of the source's own Status and ErrorEvent events."""


@attrs.frozen(kw_only=True)
class SourceStats:
    """A snapshot of a source's counters (``source.stats``)."""

    state: ConnectionState
    """The source's state."""
    entries: int
    """Stream entries read."""
    events: int
    """Events published (the entries' events plus the source's own statuses and errors)."""
    acked: int
    """Entries acknowledged to the consumer group (0 without one)."""
    dropped: int
    """Events dropped by queue overflow, over every queue."""
    errors: int
    """Error events published (undecodable entries, lost connections)."""
    reconnects: int
    """Connections made after the first."""
    lag: Optional[float]
    """Seconds from the last event's ``received_ns`` in the feed process to its reading
    here; None before the first."""


class RedisStreamSource(EventConsumer):
    """Events from Redis streams, delivered like a client delivers them.

    Args:
        redis_url: as for ``RedisStreamSink``.
        streams: one stream key, several, or a mapping key → start id. Without ``group``
            a start id is where reading begins (``"$"``: entries added from now on, ``"0"``:
            the whole stream, or any entry id: after it); with ``group`` it is where the
            group starts when this source creates it.
        group: a consumer group name: the workers of a group share the entries.
        consumer: this worker's name in the group (default ``<host>-<pid>``); give a
            restarted worker the same name so that it resumes where it left off.
        start_id: the start id of streams given without one.
        count: most entries per read.
        block_timeout: seconds one read waits for entries; also how long ``stop()`` may
            wait for the reader.
        on_trade, on_book, on_message, on_error, on_status, dispatch, queue_size, overflow:
            as for every client.
    """

    venue = VENUE

    def __init__(
        self,
        redis_url: str = DEFAULT_REDIS_URL,
        *,
        streams: Streams,
        group: Optional[str] = None,
        consumer: Optional[str] = None,
        start_id: str = "$",
        # Callbacks
        on_trade: Callback = None,
        on_book: Callback = None,
        on_message: Callback = None,
        on_error: Callback = None,
        on_status: Callback = None,
        dispatch: str = "thread",
        # Queues
        queue_size: int = 100_000,
        overflow: str = "drop_oldest",
        # Reading
        count: int = 1000,
        block_timeout: float = 0.2,
        # Connection
        socket_timeout: float = 5.0,
        backoff_min: float = 0.1,
        backoff_max: float = 5.0,
        cluster: bool = False,
        redis_options: Optional[Mapping[str, Any]] = None,
    ) -> None:
        if isinstance(streams, str):
            streams = [streams]
        starts = dict(streams) if isinstance(streams, Mapping) else dict.fromkeys(
            streams, start_id)
        if not starts:
            raise ValueError("streams: name at least one stream key")
        if count < 1 or block_timeout <= 0:
            raise ValueError("count must be at least 1 and block_timeout positive")
        self._url = redis_url
        self.url = display_url(redis_url)
        self.streams: tuple[str, ...] = tuple(starts)
        self._starts = starts
        self.group = group
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}"
        self._count = count
        self._block_ms = max(1, int(block_timeout * 1000))
        self._socket_timeout = socket_timeout
        self._backoff = Backoff(min_delay=backoff_min, max_delay=backoff_max)
        self._cluster = cluster
        self._redis_options = dict(redis_options or {})
        self._queue_size = queue_size
        self._overflow = overflow
        self._hub = Hub(
            venue=VENUE,
            callbacks={
                "trade": on_trade, "book": on_book, "message": on_message,
                "error": on_error, "status": on_status,
            },
            dispatch=dispatch, queue_size=queue_size, overflow=overflow, name="redis-source",
        )
        # Read position per stream: an entry id without a group; with one, "0" while this
        # consumer's unacknowledged entries are re-read, then ">" (new entries).
        self._positions: dict[str, str] = {}
        self._client: Any = None
        self._state = ConnectionState.IDLE
        self._lock = threading.Lock()  # guards _started and the _stop transition
        self._started = False
        self._stop = threading.Event()
        self._settled = threading.Event()
        self._fatal: Optional[BaseException] = None
        self._thread: Optional[threading.Thread] = None
        self._connections = 0
        self._entries = 0
        self._acked = 0
        self._reconnects = 0
        self._lag: Optional[float] = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self, wait: bool = True, timeout: Optional[float] = 10.0) -> None:
        """Start the reader thread. Idempotent while running.

        Args:
            wait: return once connected (and the groups exist), or at once.
            timeout: how long ``wait`` may take, seconds.

        Raises:
            ConnectFailed: not connected within ``timeout`` (the source is stopped).
            ClientStopped: the source was stopped before; make a new one.
        """
        with self._lock:
            if self._stop.is_set():
                raise ClientStopped("a stopped source cannot start again; make a new one")
            if not self._started:
                self._started = True
                self._state = ConnectionState.CONNECTING
                self._hub.start()
                self._thread = threading.Thread(
                    target=self._run, name="wsclients-redis-source-reader", daemon=True
                )
                self._thread.start()
        if wait and not self._settled.wait(timeout):
            self.stop()
            raise ConnectFailed(self.url, reason=f"not connected within {timeout:g} s")
        if self._fatal is not None:
            self.stop()
            raise ConnectFailed(self.url, reason=str(self._fatal)) from self._fatal

    def stop(self, timeout: float = 5.0) -> None:
        """End the reader thread, close the connection and the queues. Idempotent; any
        thread. Events already queued stay readable with ``get()``."""
        with self._lock:
            already = self._stop.is_set()
            self._stop.set()
        thread = self._thread
        deadline = Deadline(timeout)
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                logger.warning("redis source: reader thread still running after stop()")
        if already:
            return
        self._hub.stop(min(1.0, deadline.remaining(0.05) or 0.05), drain=True)

    def run_forever(self) -> None:
        """Start, then block until ``stop()`` is called elsewhere or Ctrl-C; stops cleanly."""
        self.start()
        try:
            # Until stop(), or until the reader ends by itself (a fatal refusal by Redis).
            while not self._stop.wait(0.2) and self._state is not ConnectionState.CLOSED:
                pass
        except KeyboardInterrupt:
            logger.info("redis source: interrupted")
        finally:
            self.stop()

    def __enter__(self) -> RedisStreamSource:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.stop()

    # -- introspection -----------------------------------------------------------------

    @property
    def state(self) -> ConnectionState:
        """IDLE, CONNECTING, CONNECTED, RECONNECTING, or CLOSED after ``stop()``."""
        return ConnectionState.CLOSED if self._stop.is_set() else self._state

    @property
    def stats(self) -> SourceStats:
        """A frozen snapshot of the counters."""
        return SourceStats(
            state=self.state,
            entries=self._entries,
            events=self._hub.events_published,
            acked=self._acked,
            dropped=self._hub.dropped,
            errors=self._hub.errors,
            reconnects=self._reconnects,
            lag=self._lag,
        )

    def __repr__(self) -> str:
        group = f" group={self.group} consumer={self.consumer}" if self.group else ""
        return (f"<RedisStreamSource url={self.url} streams={','.join(self.streams)}{group} "
                f"{self.state}>")

    # -- the reader thread -------------------------------------------------------------

    def _run(self) -> None:
        rng = random.Random()
        backoff = self._backoff
        try:
            while not self._stop.is_set():
                try:
                    if self._client is None:
                        self._connect()
                        backoff = backoff.reset()
                    self._read_once()
                except TRANSIENT + (RedisError,) as exc:
                    if isinstance(exc, ResponseError) and self._client is None:
                        # The server answered, and refused (a wrong type, a bad group id):
                        # retrying cannot help.
                        self._fatal = exc
                        self._hub.report(ConnectFailed(self.url, reason=str(exc)), fatal=True)
                        self._settled.set()
                        return
                    self._disconnect()
                    backoff = backoff.increment(exc)
                    delay = backoff.delay(rng)
                    logger.warning("redis source: %s (%s); retrying in %.2f s",
                                   self.url, exc, delay)
                    self._set_state(ConnectionState.RECONNECTING, attempt=backoff.attempt,
                                    delay=delay, reason=str(exc))
                    self._stop.wait(delay)
        except Exception as exc:  # should never run: Redis failures are handled above
            logger.exception("redis source: reader thread failed")
            self._hub.report(exc, fatal=True)
        finally:
            self._disconnect()
            self._settled.set()
            self._set_state(ConnectionState.CLOSED)

    def _connect(self) -> None:
        client = open_client(
            self._url, cluster=self._cluster, socket_timeout=self._socket_timeout,
            options=self._redis_options,
        )
        try:
            if self.group is not None:
                for stream, start in self._starts.items():
                    try:
                        client.xgroup_create(stream, self.group, id=start, mkstream=True)
                    except ResponseError as exc:
                        if "BUSYGROUP" not in str(exc):  # exists already: join it
                            raise
                    # Our own unacknowledged entries first (a restart resumes), then new.
                    self._positions.setdefault(stream, "0")
                for stream in self._starts:
                    if self._positions[stream] == ">":
                        self._positions[stream] = "0"  # after a reconnect: check again
            else:
                for stream, start in self._starts.items():
                    if stream not in self._positions:
                        self._positions[stream] = (
                            self._last_id(client, stream) if start == "$" else start)
        except BaseException:
            close_quietly(client)
            raise
        self._client = client
        self._connections += 1
        if self._connections > 1:
            self._reconnects += 1
        self._set_state(ConnectionState.CONNECTED)
        self._settled.set()

    @staticmethod
    def _last_id(client: Any, stream: str) -> str:
        """``$`` pinned to an id: later reads must not skip what arrives between them."""
        newest = client.xrevrange(stream, count=1)
        if not newest:
            return "0-0"
        entry_id = newest[0][0]
        return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)

    def _disconnect(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            close_quietly(client)

    def _read_once(self) -> None:
        client = self._client
        positions = self._positions
        if self.group is None:
            reply = client.xread(positions, count=self._count, block=self._block_ms)
        else:
            history = any(p != ">" for p in positions.values())
            reply = client.xreadgroup(
                self.group, self.consumer, positions, count=self._count,
                block=None if history else self._block_ms,
            )
        if not reply:
            return
        if isinstance(reply, dict):  # RESP3 replies map stream → entries
            reply = list(reply.items())
        for stream_name, entries in reply:
            stream = stream_name.decode() if isinstance(stream_name, bytes) else stream_name
            self._receive(client, stream, entries)

    def _receive(self, client: Any, stream: str, entries: Sequence[Any]) -> None:
        grouped = self.group is not None
        if not entries:
            if grouped and self._positions[stream] != ">":
                self._positions[stream] = ">"  # every unacknowledged entry re-read
            return
        events: list[Event] = []
        ids: list[Any] = []
        now = time.time_ns()
        for entry_id, fields in entries:
            ids.append(entry_id)
            if not fields:
                # With a group, an entry trimmed away before it was acknowledged comes back
                # without its fields: nothing is left to deliver.
                continue
            payload = fields.get(_FIELD_BYTES, fields.get(FIELD))
            if payload is None:
                events.append(_error(ProtocolViolation(f"entry without {FIELD!r}"), now,
                                     raw=fields))
                continue
            try:
                events.append(decode_event(payload))
            except ProtocolViolation as exc:
                events.append(_error(exc, now, raw=payload))
        self._entries += len(ids)
        if not grouped:
            last = ids[-1]
            self._positions[stream] = last.decode() if isinstance(last, bytes) else str(last)
        if events:
            self._lag = (now - events[-1].received_ns) / 1e9
            self._hub.publish(events, catch_up=True)  # a burst, from the source's thread
        if grouped:
            self._acked += int(client.xack(stream, self.group, *ids))

    def _set_state(self, state: ConnectionState, **fields: Any) -> None:
        if state is self._state and state is not ConnectionState.RECONNECTING:
            return
        self._state = state
        self._hub.publish_one(
            Status(venue=VENUE, state=state, url=self.url, received_ns=time.time_ns(), **fields)
        )



def _error(exc: ProtocolViolation, now: int, *, raw: Any) -> ErrorEvent:
    return ErrorEvent.from_exception(exc, venue=VENUE, received_ns=now, raw=raw)
