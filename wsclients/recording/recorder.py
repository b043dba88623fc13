"""The recorder: takes the wire from a client's connections and writes it on its own thread.

The connection calls the ``RecordingSink`` hooks (``core/sink.py``) on its reader thread and
under its protocol lock; each hook only appends a tuple to a bounded deque. A writer thread of
the recorder's own wakes every few milliseconds, turns what waits into lines and writes them
in one call, so the reader never waits for a disk. When the deque is full (a disk slower
than the venue) records are dropped, counted, and reported once per episode as an
``ErrorEvent``; when a write fails (a full disk) the recording stops with an ``ErrorEvent``
and the client goes on.
"""

from __future__ import annotations

import collections
import logging
import os
import threading
import time
from typing import IO, Any, Callable, Optional, Union

from wsclients.core.protocol import Job
from wsclients.core.redact import redact_url
from wsclients.errors import QueueOverflow, RecordingFailed, UnknownVenue
from wsclients.models import Status
from wsclients.recording.fileformat import (
    FORMAT,
    VERSION,
    Source,
    frame_line,
    frame_prefix,
    open_for_writing,
    record_line,
)
from wsclients.recording.registry import VenueRecording, venue_recording

__all__ = ["Recorder"]

logger = logging.getLogger(__name__)

_WAKE_EVERY = 0.02  # seconds the writer sleeps when there is nothing to write
Report = Callable[[BaseException], Any]


class Recorder:
    """A recording in progress: what ``client.record(path)`` returns.

    ``stop()`` ends it (flushing what waits and closing the file); it also ends when its
    client stops. Counters: ``records`` written, ``dropped`` for want of room, and
    ``error``, the write failure that ended it, if any. Usable as a context manager.
    """

    def __init__(
        self,
        path: Source,
        *,
        venue: str,
        report: Optional[Report] = None,
        queue_size: int = 100_000,
    ) -> None:
        if queue_size < 1:
            raise ValueError("queue_size must be at least 1")
        self.path = os.fspath(path)
        self.venue = venue
        self.records = 0
        """Records written so far."""
        self.frames = 0
        """Of those, received frames."""
        self.dropped = 0
        """Records dropped because the writer fell ``queue_size`` records behind."""
        self.error: Optional[RecordingFailed] = None
        """Why the recording stopped early, if it did."""
        try:
            self._support: Optional[VenueRecording] = venue_recording(venue)
        except UnknownVenue:
            logger.warning("%s: no replay support registered; recording frames only", venue)
            self._support = None
        self._report = report
        self._maxsize = queue_size
        self._items: collections.deque[tuple[Any, ...]] = collections.deque()
        self._ids: dict[Any, str] = {}  # connection → its id in the file
        self._described: dict[str, Any] = {}  # conn id → the last description written
        self._prefixes: dict[Any, bytes] = {}  # connection → its frame lines' start (writer)
        self._file: Optional[IO[bytes]] = None
        self._thread: Optional[threading.Thread] = None
        self._stopping = threading.Event()
        self._stopped = threading.Event()
        self._lock = threading.Lock()  # guards start/stop and _ids
        self._reported_drops = 0
        self.on_stop: Optional[Callable[[Recorder], None]] = None
        """Called once when the recording ends (the client detaches it)."""

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """True from ``start`` until the recording ends."""
        return self._thread is not None and not self._stopped.is_set()

    def start(self, client: Any = None) -> None:
        """Create the file, write the header and start the writer thread. Idempotent.

        Raises:
            OSError: the file cannot be created (nothing is started).
        """
        with self._lock:
            if self._thread is not None or self._stopped.is_set():
                return
            config = None
            if client is not None and self._support is not None:
                config = self._support.client_config(client)
            self._file = open_for_writing(self.path)
            self._file.write(record_line({
                "type": "header", "format": FORMAT, "version": VERSION, "venue": self.venue,
                "started_ns": time.time_ns(), "config": config,
            }))
            self._thread = threading.Thread(
                target=self._run, name=f"wsclients-{self.venue}-recorder", daemon=True
            )
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Write what waits, close the file and end the writer thread. Idempotent; any
        thread. Records that come in after this are ignored."""
        self._stopping.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        elif thread is None:
            self._finish()

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "recording" if self.running else "stopped"
        return f"<Recorder {self.venue} {self.path!r} {state} records={self.records}>"

    # -- the sink: called by connections, must only take note ----------------------------

    def frame(self, connection: Any, data: Union[str, bytes], received_ns: int) -> None:
        """A data frame (reader thread; the hot path: one bound check, one append)."""
        if len(self._items) < self._maxsize:
            self._items.append((connection, data, received_ns))
        else:
            self.dropped += 1

    def status(self, connection: Any, status: Status) -> None:
        """A state change."""
        self._note(connection, {
            "type": "status", "ns": status.received_ns, "url": redact_url(status.url),
            "state": status.state.value, "attempt": status.attempt, "delay": status.delay,
            "code": status.code, "reason": status.reason,
        })

    def opened(self, connection: Any, received_ns: int, *, joined: bool = False) -> None:
        """A fresh socket (or, ``joined``, one already open when recording began)."""
        conn = self._id(connection)
        description = self._describe(connection)
        self._described[conn] = description
        self._note(connection, {
            "type": "open", "ns": received_ns, "url": redact_url(connection.display_url),
            "subscriptions": description, "joined": joined,
        })

    def closed(self, connection: Any, code: Optional[int], reason: str, received_ns: int) -> None:
        """The socket is gone."""
        self._note(connection, {"type": "close", "ns": received_ns, "code": code,
                                "reason": reason})

    def command(self, connection: Any) -> None:
        """A command ran: note the subscriptions when they changed."""
        conn = self._id(connection)
        description = self._describe(connection)
        if description != self._described.get(conn):
            self._described[conn] = description
            self._note(connection, {"type": "subscriptions", "ns": time.time_ns(),
                                    "subscriptions": description})

    def job(
        self, connection: Any, job: Job, result: Any, error: Optional[BaseException],
        received_ns: int,
    ) -> None:
        """A blocking-work answer, about to be handed to the protocol."""
        record: dict[str, Any] = {
            "type": "job", "ns": received_ns, "kind": job.kind,
            "key": _jsonable(job.key), "args": _jsonable(job.args),
        }
        private = self._support is not None and job.kind in self._support.private_jobs
        if error is not None:
            record["error"] = _error_fields(error, private=private)
        else:
            try:
                encode = self._support.encode_result if self._support else _as_is
                record["result"] = encode(job, result)
            except Exception as exc:  # noqa: BLE001 - a recorder never breaks the client
                logger.exception("%s: cannot record a %s answer", self.venue, job.kind)
                record["error"] = {"type": type(exc).__name__,
                                   "message": f"not recordable: {exc}"}
        self._note(connection, record)

    def learned(self, learned: Any) -> None:
        """The client learnt something all its protocols consult (any thread)."""
        self._note(None, {"type": "learned", "ns": time.time_ns(), "learned": learned})

    # -- helpers -------------------------------------------------------------------------

    def _note(self, connection: Any, record: dict[str, Any]) -> None:
        if self._stopping.is_set():
            return
        if connection is not None:
            record["conn"] = self._id(connection)
        if len(self._items) < self._maxsize:
            self._items.append((record,))
        else:
            self.dropped += 1

    def _id(self, connection: Any) -> str:
        conn = self._ids.get(connection)
        if conn is None:
            with self._lock:
                conn = self._ids.get(connection)
                if conn is None:
                    base = str(getattr(connection, "name", "") or self.venue)
                    taken = set(self._ids.values())
                    conn, number = base, 1
                    while conn in taken:
                        number += 1
                        conn = f"{base}#{number}"
                    self._ids[connection] = conn
        return conn

    def _describe(self, connection: Any) -> Any:
        if self._support is None:
            return None
        try:
            return self._support.describe(connection.protocol)
        except Exception:  # noqa: BLE001 - a recorder never breaks the client
            logger.exception("%s: cannot describe the subscriptions", self.venue)
            return None

    # -- writer thread -------------------------------------------------------------------

    def _run(self) -> None:
        items = self._items
        try:
            while True:
                stopping = self._stopping.is_set()
                if items:
                    if not self._write_waiting():
                        return
                elif stopping:
                    return
                else:
                    self._check_drops()
                    self._stopping.wait(_WAKE_EVERY)
        except Exception as exc:  # should never run: writes are guarded below
            logger.exception("%s: recorder thread failed", self.venue)
            self._fail(str(exc))
        finally:
            self._finish()

    def _write_waiting(self) -> bool:
        """Write every record waiting now; False when writing failed."""
        items = self._items
        prefixes = self._prefixes
        lines: list[bytes] = []
        append = lines.append
        take = items.popleft
        frames = 0
        for _ in range(len(items)):
            item = take()
            if len(item) == 3:
                connection, data, received_ns = item
                prefix = prefixes.get(connection)
                if prefix is None:
                    prefix = prefixes[connection] = frame_prefix(self._id(connection))
                append(frame_line(prefix, data, received_ns))
                frames += 1
            else:
                append(record_line(item[0]))
        file = self._file
        assert file is not None
        try:
            file.write(b"".join(lines))
            file.flush()
        except (OSError, ValueError) as exc:
            self._fail(f"{type(exc).__name__}: {exc}")
            return False
        self.records += len(lines)
        self.frames += frames
        self._check_drops()
        return True

    def _check_drops(self) -> None:
        dropped = self.dropped
        if dropped > self._reported_drops and not self._items:
            # One report per episode: the queue ran empty again since the first drop.
            self._reported_drops = dropped
            self._tell(QueueOverflow(f"{self.venue} recorder queue", self._maxsize,
                                     "drop_newest"))

    def _fail(self, reason: str) -> None:
        self.error = RecordingFailed(self.path, reason)
        logger.error("%s", self.error)
        self._stopping.set()
        self._items.clear()
        self._tell(self.error)

    def _tell(self, exc: BaseException) -> None:
        if self._report is not None:
            try:
                self._report(exc)
            except Exception:  # noqa: BLE001 - reporting must not end the writer
                logger.exception("%s: reporting a recorder problem failed", self.venue)

    def _finish(self) -> None:
        """Write the end record and close the file (writer thread, or stop() without one)."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        file, self._file = self._file, None
        if file is not None:
            try:
                if self.error is None:
                    file.write(record_line({"type": "end", "ns": time.time_ns(),
                                            "records": self.records, "dropped": self.dropped}))
                file.close()
            except (OSError, ValueError) as exc:
                if self.error is None:
                    self.error = RecordingFailed(self.path, f"{type(exc).__name__}: {exc}")
                    self._tell(self.error)
        on_stop, self.on_stop = self.on_stop, None
        if on_stop is not None:
            try:
                on_stop(self)
            except Exception:  # noqa: BLE001
                logger.exception("%s: recorder stop hook failed", self.venue)


def _error_fields(error: BaseException, *, private: bool = False) -> dict[str, Any]:
    """A blocking-work failure as JSON: its class and text, and the fields a protocol may
    decide on (an HTTP status, whether it is fatal) so that the replay can rebuild it.
    ``private`` (a token fetch): the class and the verdict only, the text may hold a
    secret."""
    fields: dict[str, Any] = {"type": type(error).__name__,
                              "message": "" if private else str(error)}
    if getattr(error, "fatal", False) is True:
        fields["fatal"] = True
    if private:
        return fields
    for name in ("reason", "status", "request"):
        value = getattr(error, name, None)
        if isinstance(value, (str, int)):
            fields[name] = value
    return fields


def _as_is(job: Job, result: Any) -> Any:
    return result


def _jsonable(value: Any) -> Any:
    """Job keys and arguments as JSON: tuples become lists (``decode`` turns them back).
    Anything else is written as its type's name only: its text could hold a secret (a
    user's token callable bound to a key, say)."""
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return f"<{type(value).__name__}>"
