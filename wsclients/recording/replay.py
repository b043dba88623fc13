"""Replay: a recording played back through the venue's own parsers, behind a client's API.

``ReplayClient`` *is* a ``Client`` (callbacks, ``get()``, ``events()``, ``queue()``,
``collect()``, ``stats``, ``start``/``stop``/``run_forever``, context manager) whose events
come from a file instead of sockets. For every recorded socket it builds the protocol class
the live client used (through the venue registry, ``registry.py``) and drives it exactly as
a connection does: ``reset_socket_state``/``on_open`` at each recorded open,
``receive_text(data, received_ns=<recorded>)`` for each frame, the recorded subscription
changes, the recorded answers to blocking work (``job_done``), ``on_close`` and ``is_fatal``
at each close. Frames the protocol wants to send go nowhere; recorded ``Status`` changes are
published as they were.

What comes out is what came out live: the same ``Trade``/``Book``/``Message`` events with the
same ``received_ns`` (the frame's, or for what a protocol builds from a REST answer, the
answer's — handed in through ``job_done_at``) and ``raw``; Hyperliquid's duplicate trades
dropped the same way; Vega books rebuilt from the very REST snapshots the live client
fetched. Each socket's events come in the same order as live; across sockets a replay
follows the order in which the frames were received (live, each reader hands its events to
the hub in batches, so two sockets' events may interleave a little differently).
Differences, by design:

- timers do not run (``on_tick``): a deadline a protocol would have checked (Hyperliquid's
  missed pongs, Vega's decimals retry) is not re-lived; the closes and reopens that followed
  are in the file and are replayed;
- errors the connection itself reported (``ConnectionLost``, a failed connect) are not in
  the file; the ``Status`` events that went with them are;
- a recording started on a running client begins mid-socket (``open.joined``): protocol
  state from before it (Hyperliquid's remembered trade ids, a Vega book's generation) is
  not known, so the first events may differ from live. Record from the start (``record=``)
  for an exact replay.

By default the replay waits for slow consumers instead of dropping (``overflow="block"``):
a file can wait. Events of kinds without a callback wait in the default queue (``get()``);
pass ``overflow="drop_oldest"`` when you never read them.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Collection
from typing import Any, ClassVar, Optional, Union

from wsclients.core.client import Client, Stats
from wsclients.core.protocol import Job, VenueProtocol
from wsclients.errors import (
    CorruptRecording,
    ProtocolViolation,
    RecordedFailure,
    RequestFailed,
    WSClientError,
)
from wsclients.models import ConnectionState, ErrorEvent, Event, Status
from wsclients.recording.fileformat import Source, frame_data, read_header, read_records
from wsclients.recording.registry import ReplayContext, VenueRecording, venue_recording

__all__ = ["ReplayClient", "replay"]

logger = logging.getLogger(__name__)

_BATCH = 64  # events held back before handing them to the hub, as a live reader does


class _Socket:
    """One recorded socket's protocol and counters."""

    __slots__ = ("protocol", "url", "open", "opens")

    def __init__(self, protocol: VenueProtocol, url: str) -> None:
        self.protocol = protocol
        self.url = url
        self.open = False
        self.opens = 0


class ReplayClient(Client):
    """A recording played back as a client. Made by ``wsclients.replay(path, …)``.

    Args:
        path: a file written by ``client.record`` (``.gz`` is read as gzip).
        speed: None plays as fast as the parsers and consumers go; a number paces the
            records at their recorded spacing divided by ``speed`` (1 = real time,
            10 = ten times faster).
        kinds: when given, only events of these kinds are published (e.g. ``{"trade"}``).
        **options: the options of any client (callbacks, ``dispatch``, ``queue_size``,
            ``overflow`` — default ``"block"`` here); connection options are accepted and
            ignored, so code that builds a live client's options can build a replay.

    Raises:
        CorruptRecording: the file is not a recording (its header cannot be read).
        UnknownVenue: the recording's venue registered no replay support.
        OSError: the file cannot be opened.
    """

    url_schemes: ClassVar[tuple[str, ...]] = ("file",)

    default_ping_interval: ClassVar[Optional[float]] = None
    default_stale_timeout: ClassVar[Optional[float]] = None
    stop_when_all_closed: ClassVar[bool] = False

    def __init__(
        self,
        path: Source,
        *,
        speed: Optional[float] = None,
        kinds: Optional[Collection[str]] = None,
        **options: Any,
    ) -> None:
        if speed is not None and speed <= 0:
            raise ValueError("speed must be positive (or None for as fast as possible)")
        self.path = os.fspath(path)
        header = read_header(self.path)
        venue: str = header["venue"]
        self._support: VenueRecording = venue_recording(venue)
        self._context = ReplayContext(config=header.get("config"))
        self.header = header
        """The recording's header (venue, start time, client configuration)."""
        self.speed = speed
        self._kinds = frozenset(kinds) if kinds is not None else None
        options.setdefault("overflow", "block")
        options.pop("record", None)  # a replay is not recorded again
        vars(self)["venue"] = venue  # this instance speaks for the recorded venue
        super().__init__(url=f"file://{self.path}", **options)
        self._sockets: dict[str, _Socket] = {}
        self._orphans: set[str] = set()  # sockets with records but no open record
        self._thread: Optional[threading.Thread] = None
        self._frames = 0
        self._bytes = 0
        self._last_frame_at: Optional[float] = None
        self.finished = threading.Event()
        """Set when the whole file has been played (or the replay was stopped)."""

    # -- lifecycle hooks -----------------------------------------------------------------

    def _on_start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name=f"wsclients-{self.venue}-replay", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop replaying; callbacks not yet run are dropped, queued events stay readable.
        Returns promptly, even mid-pause or while a full queue holds the replay back."""
        if self._stopped.is_set() and not self._shutdown_done.is_set():
            # The replay ended and is draining its callbacks: cut that short.
            self._hub.stop(timeout, drain=False)
        super().stop(timeout)  # closes the queues, which frees a replay blocked on one
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def run_forever(self) -> None:
        """Start and block until the whole file has played and every callback has run (or
        ``stop()`` / Ctrl-C)."""
        self.start()
        try:
            while not self._shutdown_done.wait(0.2):
                pass
        except KeyboardInterrupt:
            logger.info("%s replay: interrupted", self.venue)
        finally:
            self.stop()

    def _has_live_subscriptions(self) -> bool:
        """A replay has no sockets: events may come until the file is read."""
        return not self.finished.is_set()

    @property
    def ended_normally(self) -> bool:
        """The whole recording was read (the end of a replay is not a failure)."""
        return self.finished.is_set()

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Wait until the file has played to its end; True when it has."""
        return self.finished.wait(timeout)

    # -- introspection -------------------------------------------------------------------

    @property
    def state(self) -> ConnectionState:
        """CONNECTED while replaying, CLOSED once the file has played."""
        return super().state

    @property
    def stats(self) -> Stats:
        """Counters as a live client keeps them, for the frames replayed so far."""
        protocols = [s.protocol for s in list(self._sockets.values())]
        last = self._last_frame_at
        return Stats(
            state=self.state,
            messages=self._frames,
            bytes=self._bytes,
            events=self._hub.events_published,
            reconnects=sum(max(0, s.opens - 1) for s in list(self._sockets.values())),
            dropped=self._hub.dropped,
            errors=self._hub.errors,
            resyncs=sum(int(getattr(p, "resyncs", 0) or 0) for p in protocols),
            connections=sum(1 for s in list(self._sockets.values()) if s.open),
            last_message_age=None if last is None else time.monotonic() - last,
        )

    def _display_url(self) -> str:
        return f"replay of {self.path}"

    # -- the replay thread ---------------------------------------------------------------

    def _run(self) -> None:
        pending: list[Event] = []
        try:
            self._play(pending)
        except Exception as exc:  # should never run: every record is guarded
            logger.exception("%s replay failed", self.venue)
            pending.append(self._error(WSClientError(f"replay failed: {exc!r}"), fatal=True))
        finally:
            if pending:
                self._publish(pending)
            self.finished.set()
        # The end of the file is the end of the client: queues close once drained, so
        # events() loops end, and every callback runs before run_forever returns. (After a
        # stop() the stopping thread does that, and joins this one.)
        if not self._stopped.is_set():
            self._shutdown(drain=True, timeout=3600.0)

    def _play(self, pending: list[Event]) -> None:
        speed = self.speed
        first_ns: Optional[int] = None
        started = time.monotonic()
        stopped = self._stopped
        for record in read_records(self.path):
            if stopped.is_set():
                return
            if isinstance(record, CorruptRecording):
                pending.append(self._error(record))
                continue
            ns = record.get("ns")
            if speed is not None and isinstance(ns, int):
                if first_ns is None:
                    first_ns = ns
                delay = started + (ns - first_ns) / 1e9 / speed - time.monotonic()
                if delay > 0:
                    self._publish(pending)
                    if stopped.wait(delay):
                        return
            try:
                self._apply(record, pending)
            except (KeyError, TypeError, ValueError) as exc:
                pending.append(self._error(CorruptRecording(
                    self.path, int(record.get("_line", 0)),
                    f"bad {record.get('type')} record: {type(exc).__name__}: {exc}",
                )))
            if len(pending) >= _BATCH:
                self._publish(pending)

    def _apply(self, record: dict[str, Any], pending: list[Event]) -> None:
        kind = record["type"]
        if kind == "frame":
            self._frame(record, pending)
        elif kind == "status":
            pending.append(Status(
                venue=self.venue, state=ConnectionState(record["state"]),
                url=str(record.get("url") or ""), received_ns=int(record["ns"]),
                attempt=int(record.get("attempt") or 0), delay=record.get("delay"),
                code=record.get("code"), reason=str(record.get("reason") or ""),
            ))
        elif kind == "open":
            self._open(record, pending)
        elif kind == "close":
            self._close(record, pending)
        elif kind == "subscriptions":
            self._resubscribe(record, pending)
        elif kind == "job":
            self._job(record, pending)
        elif kind == "learned" and self._support.learned is not None:
            self._support.learned(self._context, record["learned"])
        # header, end and types from later versions: nothing to replay

    def _socket(self, record: dict[str, Any], pending: list[Event]) -> Optional[_Socket]:
        """The record's socket; None (reported once per socket) when it was never opened."""
        conn = record["conn"]
        socket = self._sockets.get(conn)
        if socket is None and conn not in self._orphans:
            self._orphans.add(conn)
            pending.append(self._error(CorruptRecording(
                self.path, int(record.get("_line", 0)),
                f"{record['type']} record for socket {conn!r}, which was never opened",
            )))
        return socket

    def _open(self, record: dict[str, Any], pending: list[Event]) -> None:
        conn = str(record["conn"])
        description = record.get("subscriptions")
        socket = self._sockets.get(conn)
        if socket is None:
            protocol = self._support.build(description, self._context)
            socket = self._sockets[conn] = _Socket(protocol, str(record.get("url") or ""))
        elif self._support.resubscribe is not None:
            self._support.resubscribe(socket.protocol, description)
        socket.open = True
        socket.opens += 1
        protocol = socket.protocol
        self._call(protocol, "on_open", int(record["ns"]), pending, _open_protocol)

    def _frame(self, record: dict[str, Any], pending: list[Event]) -> None:
        socket = self._sockets.get(record["conn"]) or self._socket(record, pending)
        if socket is None:
            return
        data = frame_data(record)
        received_ns = int(record["ns"])
        self._frames += 1
        self._bytes += len(data)
        self._last_frame_at = time.monotonic()
        protocol = socket.protocol
        try:
            protocol.receive_text(data, received_ns=received_ns)
        except Exception as exc:  # noqa: BLE001 - the same guard a connection has
            pending.append(self._protocol_failed(exc, "receive_text", data, received_ns))
        self._drain(protocol, pending)

    def _resubscribe(self, record: dict[str, Any], pending: list[Event]) -> None:
        description = record.get("subscriptions")
        conn = str(record["conn"])
        if conn not in self._sockets:
            # Subscriptions made before the socket's first open: the protocol is built now
            # and opened by the open record.
            protocol = self._support.build(description, self._context)
            self._sockets[conn] = _Socket(protocol, "")
            return
        socket = self._sockets[conn]
        resubscribe = self._support.resubscribe
        if resubscribe is None:
            return
        self._call(socket.protocol, "resubscribe", int(record["ns"]), pending,
                   lambda protocol: resubscribe(protocol, description))

    def _job(self, record: dict[str, Any], pending: list[Event]) -> None:
        socket = self._socket(record, pending)
        if socket is None:
            return
        job = Job(str(record["kind"]), _tuples(record.get("key")), _tuples(record.get("args")))
        error: Optional[BaseException] = None
        result: Any = None
        failure = record.get("error")
        if isinstance(failure, dict):
            error = _rebuilt_error(failure)
        else:
            result = self._support.decode_result(job, record.get("result"), self._context)
        received_ns = int(record["ns"])

        def answer(protocol: Any) -> None:
            done_at = getattr(protocol, "job_done_at", None)
            if done_at is not None:
                done_at(job, result, error, received_ns=received_ns)
            else:
                protocol.job_done(job, result, error)

        self._call(socket.protocol, "job_done", received_ns, pending, answer)

    def _close(self, record: dict[str, Any], pending: list[Event]) -> None:
        socket = self._socket(record, pending)
        if socket is None:
            return
        code = record.get("code")
        reason = str(record.get("reason") or "")
        socket.open = False

        def close(protocol: VenueProtocol) -> None:
            asked = protocol.close_request is not None
            protocol.on_close(code, reason)
            if not asked:  # as live: the connection asks is_fatal unless the protocol closed
                protocol.is_fatal(code, None)

        self._call(socket.protocol, "on_close", int(record["ns"]), pending, close)

    # -- helpers -------------------------------------------------------------------------

    def _call(self, protocol: VenueProtocol, where: str, received_ns: int,
              pending: list[Event], fn: Any) -> None:
        try:
            fn(protocol)
        except Exception as exc:  # noqa: BLE001 - the same guard a connection has
            pending.append(self._protocol_failed(exc, where, None, received_ns))
        self._drain(protocol, pending)

    def _drain(self, protocol: VenueProtocol, pending: list[Event]) -> None:
        """Take what the protocol made: events kept; frames, replies and jobs dropped (the
        frames have nowhere to go, the answers to the jobs are in the file)."""
        events = protocol.take_events()
        if events:
            pending += events
        protocol.take_frames()
        if protocol.attention:
            protocol.attention = False
            protocol.take_replies()
            protocol.take_jobs()

    def _publish(self, pending: list[Event]) -> None:
        if not pending:
            return
        batch = pending[:]
        pending.clear()
        kinds = self._kinds
        if kinds is not None:
            batch = [e for e in batch if e.kind in kinds]
            if not batch:
                return
        self._hub.publish(batch, catch_up=True)  # a burst, from the replay's own thread

    def _error(self, exc: BaseException, *, fatal: bool = False) -> ErrorEvent:
        return ErrorEvent.from_exception(
            exc, venue=self.venue, received_ns=time.time_ns(), fatal=fatal
        )

    def _protocol_failed(self, exc: BaseException, where: str, raw: Any,
                         received_ns: int) -> ErrorEvent:
        logger.error("%s replay: the protocol failed in %s", self.venue, where, exc_info=exc)
        failed = ProtocolViolation(f"{self.venue} protocol failed in {where}: "
                                   f"{type(exc).__name__}: {exc}")
        failed.__cause__ = exc
        return ErrorEvent.from_exception(failed, venue=self.venue, received_ns=received_ns,
                                         raw=raw, code="protocol_error")


def _open_protocol(protocol: VenueProtocol) -> None:
    protocol.reset_socket_state()
    protocol.on_open()
    if not protocol.needs_session:
        protocol.open_session()


def _rebuilt_error(failure: dict[str, Any]) -> BaseException:
    """A recorded blocking-work failure, as the protocol saw it where that matters: a
    ``RequestFailed`` (with its HTTP status) or a ``ProtocolViolation`` come back as such,
    anything else as a ``RecordedFailure`` naming the original class."""
    name = str(failure.get("type") or "Error")
    message = str(failure.get("message") or "")
    reason = failure.get("reason")
    error: WSClientError
    if "status" in failure or name == "RequestFailed":
        status = failure.get("status")
        request = failure.get("request")
        error = RequestFailed(
            str(reason if reason is not None else message),
            status=status if isinstance(status, int) else None,
            request=request if isinstance(request, str) else None,
        )
    elif name == "ProtocolViolation" and isinstance(reason, str):
        error = ProtocolViolation(reason)
    else:
        error = RecordedFailure(name, message)
    if failure.get("fatal") is True:
        error.fatal = True  # e.g. a token source that said "give up"
    return error


def _tuples(value: Any) -> Any:
    """JSON lists back to the tuples job keys were."""
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    return value


def replay(
    path: Union[str, os.PathLike[str]], speed: Optional[float] = None, **options: Any
) -> ReplayClient:
    """A recording (``client.record(path)``) as a client with the very API of a live one.

    ``speed=None`` replays as fast as possible; ``speed=1`` at recorded pace, ``10`` ten
    times faster. Options as ``ReplayClient``. Start it (``start()``, ``run_forever()`` or
    ``with``) and consume it as the live client would be consumed.
    """
    return ReplayClient(path, speed=speed, **options)
