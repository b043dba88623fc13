"""The dispatcher thread reads the socket itself while it has nothing else to do.

Why: with callbacks on a dispatcher thread, a frame that arrives alone used to wake two
threads one after the other: the reader (woken by the socket), then the dispatcher (woken
by the reader). Each wake-up of a thread whose CPU has gone idle can wait for that CPU to
come back, which on a virtual machine's halted vCPU now and then takes milliseconds: a
scheduler trace of the latency benchmark showed every millisecond-long delay of a callback
on such a wake-up (docs/threading.rst, "Who reads the socket"). A single-threaded client
pays that risk once per frame; two threads in turn paid it twice.

While the dispatcher is idle, the reader thread lends it the socket: the dispatcher waits
on the socket (and on its queue), reads what arrives, and publishes it to its own queue.
Before it runs a single callback it gives the socket back, so a slow callback never stalls
reading; if the reader thread has not woken up to take it by the time the callbacks are
done, the dispatcher keeps it for the next frame. A frame that arrives alone then wakes one
thread, the one that runs the callbacks, as with ``dispatch="inline"``; callbacks still run
only on the dispatcher thread, in arrival order.

Who may read is one field, ``holder``, changed under one lock. Events enter the dispatcher's
queue only from the thread that holds the socket (or from elsewhere in the client, as
before), so their order is the order the frames came in.
"""

from __future__ import annotations

import os
import queue
import select
import sys
import threading
from typing import Callable, Optional, Protocol

__all__ = ["Doorbell", "HandOver", "Pollable", "ReadEnded", "ReadRelay", "available"]

_ONE = (1).to_bytes(8, sys.byteorder)  # an eventfd counts in native 8-byte integers
_READER = "reader"
_DISPATCHER = "dispatcher"


def available() -> bool:
    """Whether this platform can wait on a socket and a doorbell at once (``select.poll``)."""
    return hasattr(select, "poll")


class HandOver(BaseException):
    """Unwinds the dispatcher's read: it has events to dispatch, or the relay is over.

    A ``BaseException`` so that no ``except Exception`` on the read path can swallow it; the
    frame reader's state is consistent where it is raised (before a ``recv``), so the reader
    thread reads on from there."""


class ReadEnded(Exception):
    """The dispatcher read the end of the socket (a close frame, a rejected frame): the
    reader thread returns ``outcome`` from its read loop as if it had read it."""

    def __init__(self, outcome: tuple[Optional[int], str]) -> None:
        super().__init__(outcome)
        self.outcome = outcome


class Doorbell:
    """A file descriptor the dispatcher can ``poll`` together with a socket: ``ring`` wakes
    it. An ``eventfd`` where the platform has one (one descriptor), else a pipe (two).

    A ring after ``close`` does nothing, so no file that later gets the same descriptor
    number can ever receive the ring."""

    def __init__(self) -> None:
        self._eventfd = hasattr(os, "eventfd")
        if self._eventfd:
            self._read_fd = self._write_fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        else:
            self._read_fd, self._write_fd = os.pipe()
            os.set_blocking(self._read_fd, False)
            os.set_blocking(self._write_fd, False)
        self._lock = threading.Lock()
        self._closed = False

    def fileno(self) -> int:
        return self._read_fd

    def ring(self) -> None:
        with self._lock:
            if self._closed:
                return
            try:
                os.write(self._write_fd, _ONE if self._eventfd else b"\0")
            except BlockingIOError:  # full of rings nobody has heard yet
                pass

    def clear(self) -> None:
        try:
            os.read(self._read_fd, 4096 if not self._eventfd else 8)
        except BlockingIOError:
            pass

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            os.close(self._read_fd)
            if self._write_fd != self._read_fd:
                os.close(self._write_fd)


class Pollable(Protocol):
    """A socket, as far as ``poll`` is concerned."""

    def fileno(self) -> int: ...


class _Inbox(Protocol):
    """What the relay needs of the dispatcher's queue (``hub.EventQueue``)."""

    @property
    def closed(self) -> bool: ...

    def qsize(self) -> int: ...

    def add_waker(self, wake: Callable[[], None]) -> None: ...

    def remove_waker(self) -> None: ...


class ReadRelay:
    """Lends one connection's socket to the dispatcher thread while it is idle.

    Args:
        fileno: the socket's file descriptor, to ``poll``.
        buffered: whether bytes are already readable without waiting (TLS records held
            by the ``ssl`` module, bytes the upgrade read ahead): then nobody polls.
        step: reads and handles one message from the socket (the connection's read loop
            body); returns the connection's outcome once the socket has ended.
        inbox: the dispatcher's queue.
        doorbell: the dispatcher's doorbell.

    The reader thread calls ``reader_wait`` where it would wait for the network; the
    dispatcher thread calls ``serve`` when its queue runs empty, and ``dispatcher_wait``
    (through the same read loop) where it would wait for the network.
    """

    def __init__(
        self,
        *,
        fileno: int,
        buffered: Callable[[], bool],
        step: Callable[[], Optional[tuple[Optional[int], str]]],
        inbox: _Inbox,
        doorbell: Doorbell,
    ) -> None:
        self._fileno = fileno
        self._buffered = buffered
        self._step = step
        self._inbox = inbox
        self._bell = doorbell
        self._lock = threading.Lock()
        self._holder = _READER
        self._claimed = True  # the reader thread has taken the socket since it was given back
        self._handed: Optional[BaseException] = None  # what the reader thread must raise
        self._dispatcher_idle = False  # the dispatcher is in serve()
        self._ended = False
        self._reader_wake: queue.SimpleQueue[None] = queue.SimpleQueue()
        # While the dispatcher is busy the reader waits in poll rather than in recv, so
        # that the dispatcher, idle again, can ring it to lend the socket once more.
        self._reader_bell = Doorbell()
        self._reader_polling = False
        self._poll_reader = select.poll()
        self._poll_reader.register(self._reader_bell.fileno(), select.POLLIN)
        self._poll_reader.register(fileno, select.POLLIN)
        self._poll_bell = select.poll()
        self._poll_bell.register(doorbell.fileno(), select.POLLIN)
        self._poll_both = select.poll()
        self._poll_both.register(doorbell.fileno(), select.POLLIN)
        self._poll_both.register(fileno, select.POLLIN)
        self.dispatcher_turns = 0
        """How many times the dispatcher read the socket (for tests and curiosity)."""

    # -- either thread -----------------------------------------------------------------

    def dispatcher_holds(self) -> bool:
        """Whether the dispatcher holds the socket; asked by the thread that reads, which
        is the only one that can change the answer at that moment."""
        return self._holder is _DISPATCHER

    # -- reader thread -----------------------------------------------------------------

    def reader_wait(self) -> bool:
        """The reader thread is about to wait for the network: lend the socket to an idle
        dispatcher, and sleep until it comes back. True if it was lent (the frame reader's
        state may have moved on: look again before reading); False to read now (bytes are
        waiting). While the dispatcher is busy, the reader waits in ``poll`` for either the
        socket or the dispatcher going idle, and lends it the socket then.

        Raises what the dispatcher met while it held the socket (the socket's end, an
        error), exactly as the reader's own read would have raised it."""
        fileno = self._fileno
        while True:
            if self._buffered():
                return False
            with self._lock:
                if self._ended:
                    return False
                if self._dispatcher_idle:
                    self._holder = _DISPATCHER
                    break
                self._reader_polling = True
            try:
                ready = [fd for fd, _ in self._poll_reader.poll()]
            finally:
                with self._lock:
                    self._reader_polling = False
            if fileno in ready:
                return False
            self._reader_bell.clear()
        self._bell.ring()
        while True:
            self._reader_wake.get()
            with self._lock:
                if self._holder is _READER:
                    self._claimed = True
                    handed, self._handed = self._handed, None
                    break
        if handed is not None:
            raise handed
        return True

    def end(self) -> None:
        """The reader thread is done with this socket (it holds it): the dispatcher stops
        waiting on it and goes back to its queue."""
        with self._lock:
            self._ended = True
        self._bell.ring()
        self._reader_bell.close()

    # -- dispatcher thread -------------------------------------------------------------

    def serve(self) -> bool:
        """The dispatcher's wait while its queue is empty: for events, and for the socket
        while it holds it. True once there may be events to dispatch; False if the relay
        has ended (wait for events the usual way)."""
        inbox = self._inbox
        with self._lock:
            if self._ended:
                return False
            if self._holder is _READER and not self._claimed and self._handed is None:
                self._holder = _DISPATCHER  # the reader thread never woke to take it back
            self._dispatcher_idle = True
            ring_reader = self._reader_polling
        if ring_reader:  # it waits for the network: it will lend the socket again
            self._reader_bell.ring()
        inbox.add_waker(self._bell.ring)
        try:
            while True:
                if inbox.qsize() or inbox.closed:
                    return True
                with self._lock:
                    if self._ended:
                        return False
                    mine = self._holder is _DISPATCHER
                if mine:
                    self._read_turn()
                    return True
                self._poll_bell.poll()
                self._bell.clear()
        finally:
            inbox.remove_waker()
            with self._lock:
                self._dispatcher_idle = False
                if self._holder is _DISPATCHER:
                    self._holder = _READER
                    self._claimed = False
                    give_back = True
                else:
                    give_back = False
            if give_back:
                self._reader_wake.put(None)

    def _read_turn(self) -> None:
        self.dispatcher_turns += 1
        step = self._step
        inbox = self._inbox
        try:
            while True:
                outcome = step()
                if outcome is not None:
                    raise ReadEnded(outcome)
                if inbox.qsize():  # a burst's first batch: dispatch it, let the reader read
                    return
        except HandOver:
            return
        except Exception as exc:  # the socket's end or failure: the reader thread's news
            with self._lock:
                self._handed = exc

    def dispatcher_wait(self) -> bool:
        """The dispatcher, holding the socket, is about to wait for the network: wait for
        the socket or for anything else to do. False: read now. Raises ``HandOver`` when
        there are events to dispatch, or the client is stopping, or the relay has ended."""
        inbox = self._inbox
        fileno = self._fileno
        while True:
            if inbox.qsize() or inbox.closed or self._ended:
                raise HandOver
            if self._buffered():
                return False
            ready = False
            rang = False
            for fd, _ in self._poll_both.poll():
                if fd == fileno:
                    ready = True
                else:
                    rang = True
            if rang:
                self._bell.clear()
            if ready:
                return False
