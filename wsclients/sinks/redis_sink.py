"""Publish a client's events into Redis Streams, from a thread of the sink's own.

``client.add_sink(RedisStreamSink(url))`` makes one feed process serve any number of
consumers on any number of machines (``RedisStreamSource``). The reader thread only appends
each batch to a bounded buffer; the sink's writer thread encodes the events
(``wsclients.sinks.codec``) and writes each batch in one pipeline: per stream, one ``EVAL``
of a script that runs ``XADD … MAXLEN ~ N`` for each event (plain ``XADD`` pipelines where
the server refuses scripts). When
Redis is slow or down the buffer fills, drops its oldest events (counted in ``stats``), and
the writer reconnects with backoff; the client's callbacks and queues never notice.

Delivery into Redis is best effort: an event is lost when it is dropped from a full buffer,
and a batch whose write broke part-way is written again whole, so an entry may then appear
twice (consumers dedupe by ``trade_id`` or ``sequence`` where that matters).
"""

from __future__ import annotations

import collections
import logging
import random
import threading
import time
from collections.abc import Collection, Mapping, Sequence
from typing import Any, Callable, Optional, Union

import attrs

from wsclients.core.backoff import Backoff
from wsclients.core.deadline import Deadline
from wsclients.models import Event
from wsclients.sinks._redis import (
    DEFAULT_REDIS_URL,
    TRANSIENT,
    RedisError,
    close_quietly,
    display_url,
    open_client,
)
from wsclients.sinks.codec import encode_event

__all__ = ["DEFAULT_KINDS", "DEFAULT_STREAM_KEY", "RedisStreamSink", "SinkStats", "stream_key"]

logger = logging.getLogger(__name__)

DEFAULT_STREAM_KEY = "wsclients:{venue}:{kind}:{symbol}"
"""The stream each event goes to. ``{symbol}`` is a trade's or book's symbol, a message's
``symbol`` or else its ``channel``, and ``-`` for status and error events; ``{channel}`` is
a message's channel (else ``-``). ``wsclients:hyperliquid:trade:BTC`` for instance."""

DEFAULT_KINDS = frozenset({"trade", "book", "message"})
"""What a sink forwards unless told otherwise: the market data, not the feed's own
connection statuses and errors (pass ``kinds=None`` for every kind)."""

FIELD = "event"
"""The stream entry's one field, holding the event's JSON."""

KeyFunction = Callable[[Event], str]

_XADD_MANY = f"""
-- One stream's share of a batch in one call: KEYS[1] the stream, ARGV[1] the MAXLEN for
-- approximate trimming ("" for none), ARGV[2..] the events' JSON, oldest first.
local maxlen = ARGV[1]
for i = 2, #ARGV do
  if maxlen == "" then
    redis.call("XADD", KEYS[1], "*", "{FIELD}", ARGV[i])
  else
    redis.call("XADD", KEYS[1], "MAXLEN", "~", maxlen, "*", "{FIELD}", ARGV[i])
  end
end
return #ARGV - 1
"""
"""Run with EVAL (Redis and Valkey cache the compiled script by its hash). Packing and
parsing one command per event is most of redis-py's time; one call per stream and batch
cuts the writer's CPU per event about five-fold (benchmarks/bench_redis.py), and that
thread shares the GIL with the client's reader."""

_REFUSALS = ("WRONGTYPE", "OOM", "READONLY", "MISCONF")
"""Errors the server would give plain XADDs as well: the events are dropped, and the
script stays in use. Any other error from the script means scripts are refused there."""


def stream_key(event: Event, template: str = DEFAULT_STREAM_KEY) -> str:
    """The stream key ``template`` gives ``event`` (see ``DEFAULT_STREAM_KEY``)."""
    symbol = getattr(event, "symbol", None)
    channel = getattr(event, "channel", None) or "-"
    if not symbol:
        symbol = channel
    return template.format(venue=event.venue, kind=event.kind, symbol=symbol, channel=channel)


def _check_template(template: str) -> None:
    """Refuse a template that names an unknown field where it is given, not per event."""
    try:
        template.format(venue="v", kind="k", symbol="s", channel="c")
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(
            f"key template {template!r}: use {{venue}}, {{kind}}, {{symbol}}, {{channel}} "
            f"(and {{{{ }}}} for a literal brace); {exc!r}"
        ) from exc


@attrs.frozen(kw_only=True)
class SinkStats:
    """A snapshot of a sink's counters (``sink.stats``)."""

    written: int
    """Events written to Redis."""
    dropped: int
    """Events lost: pushed out of the full buffer, not encodable, or refused by Redis."""
    pending: int
    """Events waiting in the buffer right now."""
    lag: float
    """Seconds the oldest waiting event has waited since it was received (0 when none
    waits): how far behind the feed the sink is."""
    errors: int
    """Failed writes and connection attempts."""
    reconnects: int
    """Connections made after the first."""
    connected: bool
    """Whether the writer holds a working connection right now."""


class RedisStreamSink:
    """Writes every event a client publishes to a Redis stream (``client.add_sink(sink)``).

    Args:
        redis_url: ``redis://[[user]:password@]host:port/db`` (``rediss://`` for TLS), a
            standalone Redis or Valkey; with ``cluster=True`` any node of a cluster.
        key: a ``str.format`` template (``DEFAULT_STREAM_KEY``) or a function of the event
            giving its stream key. In a cluster, a hash tag keeps the streams a source
            reads together in one slot: ``"{{hl}}:{kind}:{symbol}"`` (braces doubled, as
            ``str.format`` wants) gives ``{hl}:trade:BTC``.
        kinds: event kinds to forward (``DEFAULT_KINDS``); None for all five.
        maxlen: each stream is trimmed to about this many entries (``XADD MAXLEN ~``);
            None never trims.
        buffer_size: events held while Redis is slow or away; beyond it the oldest are
            dropped and counted.
        batch_size: events per pipeline.
        include_raw: also send each event's ``raw`` venue item (``wsclients.sinks.codec``).
        scripted: write each stream's share of a batch with one server-side script call
            (``EVAL``) instead of one ``XADD`` per event: the same entries for a fifth of
            the CPU. A server that refuses scripts gets plain ``XADD`` pipelines instead,
            by itself; False starts with those.
        socket_timeout: seconds a Redis call may take before the connection is given up
            and made again.
        backoff_min, backoff_max: reconnect delays, as for clients.
        cluster: connect with ``redis.cluster.RedisCluster``.
        redis_options: more keyword arguments for redis-py's ``from_url``.
    """

    def __init__(
        self,
        redis_url: str = DEFAULT_REDIS_URL,
        *,
        key: Union[str, KeyFunction] = DEFAULT_STREAM_KEY,
        kinds: Optional[Collection[str]] = DEFAULT_KINDS,
        maxlen: Optional[int] = 100_000,
        # Buffer
        buffer_size: int = 100_000,
        batch_size: int = 1000,
        include_raw: bool = False,
        scripted: bool = True,
        # Connection
        socket_timeout: float = 5.0,
        backoff_min: float = 0.1,
        backoff_max: float = 5.0,
        cluster: bool = False,
        redis_options: Optional[Mapping[str, Any]] = None,
        name: str = "redis-sink",
    ) -> None:
        if buffer_size < 1 or batch_size < 1:
            raise ValueError("buffer_size and batch_size must be at least 1")
        if maxlen is not None and maxlen < 1:
            raise ValueError("maxlen must be at least 1, or None for no trimming")
        self._url = redis_url
        self.url = display_url(redis_url)
        # A template's key depends on venue, kind, symbol and channel only, so it is cached
        # per combination; a function of the event is asked every time.
        self._key_function: Optional[KeyFunction] = key if callable(key) else None
        self._template = key if isinstance(key, str) else DEFAULT_STREAM_KEY
        _check_template(self._template)
        self.kinds: Optional[frozenset[str]] = frozenset(kinds) if kinds is not None else None
        self.maxlen = maxlen
        self.buffer_size = buffer_size
        self.batch_size = batch_size
        self.include_raw = include_raw
        self.scripted = scripted
        self._maxlen_arg = "" if maxlen is None else str(maxlen)
        self._socket_timeout = socket_timeout
        self._backoff = Backoff(min_delay=backoff_min, max_delay=backoff_max)
        self._cluster = cluster
        self._redis_options = dict(redis_options or {})
        self._name = name
        # Guards _buffer and _dropped between the publishing thread(s) and the writer; held
        # only to append or take, never across I/O.
        self._lock = threading.Lock()
        self._buffer: collections.deque[Event] = collections.deque(maxlen=buffer_size)
        self._dropped = 0
        self._overflowing = False
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._flush_deadline = Deadline(0.0)  # replaced by stop()
        self._thread: Optional[threading.Thread] = None
        self._client: Any = None
        self._keys: dict[tuple[str, str, Optional[str], Optional[str]], str] = {}
        self.written = 0
        self.errors = 0
        self.reconnects = 0
        self._connections = 0
        self._losses = 0

    # -- the publishing side (any thread, never blocks) ----------------------------------

    def accept(self, events: Sequence[Event]) -> None:
        """Buffer ``events`` for the writer thread; drops the oldest when full. Never
        blocks on Redis: called on a client's reader thread."""
        kinds = self.kinds
        if kinds is not None:
            events = [e for e in events if e.kind in kinds]
            if not events:
                return
        with self._lock:
            buffer = self._buffer
            over = len(buffer) + len(events) - self.buffer_size
            buffer.extend(events)
            if over > 0:
                self._dropped += over
                if not self._overflowing:
                    self._overflowing = True
                    logger.warning("%s: buffer full (%d events), dropping the oldest",
                                   self._name, self.buffer_size)
        if not self._wake.is_set():
            self._wake.set()

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        """Start the writer thread (it connects, and reconnects, by itself). Idempotent;
        a stopped sink stays stopped."""
        if self._thread is not None or self._stop.is_set():
            return
        self._thread = threading.Thread(
            target=self._run, name=f"wsclients-{self._name}-writer", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Write what is buffered (for up to ``timeout`` seconds, while Redis answers),
        then end the writer thread and close the connection. Idempotent; any thread."""
        self._flush_deadline = Deadline(timeout)
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is None or thread is threading.current_thread():
            return
        thread.join(timeout + (self._socket_timeout or 0.0) + 0.5)
        if thread.is_alive():
            logger.warning("%s: writer thread still running after stop()", self._name)

    def __enter__(self) -> RedisStreamSink:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- introspection -----------------------------------------------------------------

    @property
    def stats(self) -> SinkStats:
        """A frozen snapshot of the counters."""
        with self._lock:
            pending = len(self._buffer)
            oldest = self._buffer[0].received_ns if pending else 0
            dropped = self._dropped
        return SinkStats(
            written=self.written,
            dropped=dropped,
            pending=pending,
            lag=max(0.0, (time.time_ns() - oldest) / 1e9) if pending else 0.0,
            errors=self.errors,
            reconnects=self.reconnects,
            connected=self._client is not None,
        )

    def __repr__(self) -> str:
        state = "stopped" if self._stop.is_set() else (
            "connected" if self._client is not None else "not connected")
        return f"<RedisStreamSink url={self.url} {state} written={self.written}>"

    # -- the writer thread -------------------------------------------------------------

    def _run(self) -> None:
        rng = random.Random()
        backoff = self._backoff
        failed_while_stopping = False
        try:
            while True:
                if self._client is None:
                    if self._stop.is_set() and (
                        failed_while_stopping or not self._buffer
                        or self._flush_deadline.expired
                    ):
                        break  # one try to flush on stop, no backoff loop
                    try:
                        self._connect()
                        backoff = backoff.reset()
                    except TRANSIENT + (RedisError,) as exc:
                        self.errors += 1
                        failed_while_stopping = self._stop.is_set()
                        backoff = backoff.increment(exc)
                        delay = backoff.delay(rng)
                        logger.warning("%s: cannot reach %s (%s); retrying in %.2f s",
                                       self._name, self.url, exc, delay)
                        self._stop.wait(delay)
                        continue
                self._wake.clear()
                batch = self._take()
                if not batch:
                    if self._stop.is_set():
                        break
                    self._wake.wait()
                    continue
                if self._stop.is_set() and self._flush_deadline.expired:
                    self._give_back(batch)
                    break
                try:
                    self._write(batch)
                except Exception as exc:
                    if not isinstance(exc, TRANSIENT + (RedisError,)):
                        # Should never run; the sink must outlive it, so: log, count, go on.
                        self._lost(len(batch), f"unexpected {exc!r} writing a batch",
                                   exc_info=True)
                        continue
                    self.errors += 1
                    failed_while_stopping = self._stop.is_set()
                    self._give_back(batch)
                    self._disconnect()
                    backoff = backoff.increment(exc)
                    delay = backoff.delay(rng)
                    logger.warning("%s: write to %s failed (%s); reconnecting in %.2f s",
                                   self._name, self.url, exc, delay)
                    self._stop.wait(delay)
        except Exception:  # should never run: every Redis failure is handled above
            logger.exception("%s: writer thread failed", self._name)
        finally:
            self._disconnect()
            left = self.stats.pending
            if left:
                logger.warning("%s: stopped with %d events unwritten", self._name, left)

    def _connect(self) -> None:
        self._client = open_client(
            self._url, cluster=self._cluster, socket_timeout=self._socket_timeout,
            options=self._redis_options,
        )
        self._connections += 1
        if self._connections > 1:
            self.reconnects += 1
        logger.info("%s: connected to %s", self._name, self.url)

    def _disconnect(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            close_quietly(client)

    def _take(self) -> list[Event]:
        with self._lock:
            buffer = self._buffer
            n = min(len(buffer), self.batch_size)
            batch = [buffer.popleft() for _ in range(n)]
            if not buffer:
                self._overflowing = False
        return batch

    def _give_back(self, batch: list[Event]) -> None:
        """Put a batch that was not written back at the front, as far as room allows (the
        oldest of it are the ones dropped)."""
        with self._lock:
            buffer = self._buffer
            room = self.buffer_size - len(buffer)
            kept = batch[-room:] if room > 0 else []
            self._dropped += len(batch) - len(kept)
            buffer.extendleft(reversed(kept))

    def _write(self, batch: list[Event]) -> None:
        """Write ``batch`` in one pipeline: per stream, one ``EVAL`` of ``_XADD_MANY``
        (``scripted``) or one ``XADD`` per event. Connection failures raise (the caller gives
        the batch back); what the server refuses is counted as dropped."""
        groups = self._encode(batch)
        if not groups:
            return
        scripted = self.scripted
        pipe = self._client.pipeline(transaction=False)
        commands: list[list[Event]] = []  # the events behind each queued command
        for key, (events, payloads) in groups.items():
            if scripted:
                # execute_command: RedisCluster's pipeline has no eval() of this shape.
                pipe.execute_command("EVAL", _XADD_MANY, 1, key, self._maxlen_arg, *payloads)
                commands.append(events)
            else:
                for event, payload in zip(events, payloads):
                    pipe.xadd(key, {FIELD: payload}, maxlen=self.maxlen, approximate=True)
                    commands.append([event])
        results = pipe.execute(raise_on_error=False)
        again: list[Event] = []
        for events, result in zip(commands, results):
            if not isinstance(result, Exception):
                self.written += len(events)
            elif scripted and not str(result).startswith(_REFUSALS):
                again.extend(events)  # scripts are off or forbidden there: plain XADD below
            else:
                self._lost(len(events), f"Redis refused the write ({result})")
        if again:
            logger.warning("%s: %s does not run the write script; one XADD per event from "
                           "now on", self._name, self.url)
            self.scripted = False
            self._give_back(again)

    def _encode(self, batch: list[Event]) -> dict[str, tuple[list[Event], list[str]]]:
        """The batch's events and their JSON, by stream key, in order within each stream."""
        include_raw = self.include_raw
        keys = self._keys
        key_function = self._key_function
        groups: dict[str, tuple[list[Event], list[str]]] = {}
        for event in batch:
            try:
                if key_function is not None:
                    key = key_function(event)
                else:
                    cache = (event.venue, event.kind, getattr(event, "symbol", None),
                             getattr(event, "channel", None))
                    key = keys.get(cache)  # type: ignore[assignment]
                    if key is None:
                        if len(keys) >= 10_000:  # one per symbol; bounded all the same
                            keys.clear()
                        key = keys[cache] = stream_key(event, self._template)
                payload = encode_event(event, include_raw=include_raw)
            except Exception:
                self._lost(1, f"cannot encode a {event.kind} event from {event.venue}",
                           exc_info=True)
                continue
            group = groups.get(key)
            if group is None:
                group = groups[key] = ([], [])
            group[0].append(event)
            group[1].append(payload)
        return groups

    def _lost(self, n: int, why: str, *, exc_info: bool = False) -> None:
        """``n`` events will never be written: count them; log the first loss in full."""
        with self._lock:
            self._dropped += n
        self._losses += 1
        self.errors += 1
        # The same cause usually repeats for every batch: a warning once, then debug lines.
        log = logger.warning if self._losses == 1 else logger.debug
        log("%s: %s; %d dropped (counted from now on)", self._name, why, n, exc_info=exc_info)
