"""Events out: callbacks on a dispatcher thread, bounded consumer queues, overflow policy.

Every event a client makes goes through ``Hub.publish`` on the thread that made it (a socket's
reader, the timer thread for timeouts). From there it is copied into each consumer queue (the
default one behind ``get()``/``events()`` and any made with ``queue()``) and, when callbacks
are set, handed to one dispatcher thread that runs them in arrival order. A slow or raising
callback therefore never stalls a reader: the reader only appends to a bounded deque (and,
after a burst, gives the consumer a millisecond at most to catch up: ``Hub.publish``).

Every queue is bounded. What happens when one is full is its ``overflow`` policy:
``drop_oldest`` (the default), ``drop_newest``, or ``block`` (the publishing thread waits:
backpressure onto the socket). Drops are counted, and each overflow *episode* (from the first
drop until the queue next runs empty) is reported once as an ``ErrorEvent``.

Under a drop policy a full queue never drops an error or a status: those that do not fit go
to a small lane of their own that ``get()`` serves first, so the overflow report (and the news
of a reconnect) reaches ``on_error``/``on_status`` and ``get()`` while the flood goes on. Under
``block`` the hub remembers when a publisher last waited (``Hub.last_blocked``): a socket's
heartbeat must not take a reader held up by the user for a dead server.

Sinks (``add_sink``) see every published batch after the queues and callbacks have theirs:
a sink forwards events elsewhere (``wsclients.sinks.RedisStreamSink``) on a thread of its
own, so its ``accept`` only buffers and must never block the publishing thread.
"""

from __future__ import annotations

import collections
import logging
import queue
import sys
import threading
import time
import traceback
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from threading import current_thread
from typing import Any, Callable, Literal, Optional, Protocol

import attrs

from wsclients.core import relay as relays
from wsclients.core.deadline import Deadline
from wsclients.errors import CallbackFailed, QueueOverflow
from wsclients.models import ErrorEvent, Event

__all__ = [
    "EVENT_KINDS", "OVERFLOW_POLICIES", "EventQueue", "Hub", "Overflow", "Sink", "check_overflow",
    "logging_configured",
]

logger = logging.getLogger(__name__)

Overflow = Literal["drop_oldest", "drop_newest", "block"]
OVERFLOW_POLICIES: tuple[str, ...] = ("drop_oldest", "drop_newest", "block")

Callback = Callable[[Any], Any]

_CONTROL_KINDS = frozenset({"error", "status"})
# Most errors and statuses a full queue holds beside its data (the oldest go first): a
# bound even for a consumer that never reads.
_URGENT_MAX = 1000

# A feeding thread that hands the dispatcher a burst waits (at most _CATCH_UP_WAIT s) while
# more than _CATCH_UP_ABOVE events are queued for it, until it is down to _CAUGHT_UP: see
# Hub.publish.
_CATCH_UP_ABOVE = 128
_CAUGHT_UP = 16
_CATCH_UP_WAIT = 0.001

EVENT_KINDS = frozenset({"trade", "book", "message", "status", "error"})
"""Every event's ``kind``."""


def logging_configured(start: logging.Logger) -> bool:
    """Whether a record logged on ``start`` reaches a handler someone set up (the package's
    own ``NullHandler`` does not count, and neither does ``logging.lastResort``)."""
    current: Optional[logging.Logger] = start
    while current is not None:
        if any(not isinstance(h, logging.NullHandler) for h in current.handlers):
            return True
        if not current.propagate:
            return False
        current = current.parent
    return False


class Sink(Protocol):
    """Something that forwards a client's events elsewhere (``Hub.add_sink``).

    ``accept`` runs on the publishing thread (a socket's reader): it must only hand the
    batch over and return, never wait on I/O. ``start`` and ``stop`` bracket its own thread;
    both are idempotent.
    """

    def accept(self, events: Sequence[Event]) -> None: ...

    def start(self) -> None: ...

    def stop(self, timeout: float = ...) -> None: ...


def check_overflow(policy: str) -> None:
    """Refuse an unknown policy where it enters, with the allowed names in the message."""
    if policy not in OVERFLOW_POLICIES:
        raise ValueError(f"overflow must be one of {', '.join(OVERFLOW_POLICIES)}; got {policy!r}")


class EventQueue:
    """A bounded, thread-safe queue of events for one consumer loop.

    ``get()`` blocks for the next event; iterating yields events until the client stops and
    the queue is drained. Made by ``client.queue(...)``; the client's own default queue is
    one too. Any number of threads may call ``get``; the hub is the only producer.
    """

    def __init__(
        self,
        *,
        maxsize: int,
        overflow: str = "drop_oldest",
        kinds: Optional[Collection[str]] = None,
        name: str = "event queue",
        on_overflow: Optional[Callable[[QueueOverflow], None]] = None,
        report_overflow: bool = True,
    ) -> None:
        if maxsize <= 0:
            raise ValueError("maxsize must be a positive number of events")
        check_overflow(overflow)
        self.maxsize = maxsize
        self.overflow = overflow
        self.kinds: Optional[frozenset[str]] = frozenset(kinds) if kinds is not None else None
        self.name = name
        self.dropped = 0
        self._drop_oldest = overflow == "drop_oldest"
        self._items: collections.deque[Event] = collections.deque(
            maxlen=maxsize if self._drop_oldest else None
        )
        # Errors and statuses that met a full queue under a drop policy: served first.
        self._urgent: collections.deque[Event] = collections.deque(maxlen=_URGENT_MAX)
        self.last_blocked = 0.0
        """``time.monotonic()`` when a publisher last waited for room (``block``)."""
        # A sleeping consumer waits for a token on _wake; a producer puts one only when
        # someone may be asleep (_waiters), so a busy consumer costs the producer nothing.
        # A SimpleQueue hands over in C, one lock release to wake the sleeper: about half the
        # cost of a Condition, whose waiter must also take the condition's lock back.
        # A token may be left over (a waiter that timed out or found an event on its own);
        # it only costs the next sleeper one extra look at the queue.
        self._wake: queue.SimpleQueue[None] = queue.SimpleQueue()
        self._waiters_lock = threading.Lock()  # guards _waiters (consumers only)
        self._not_full = threading.Condition(threading.Lock())
        self._waiters = 0
        # The dispatcher thread, when it waits in a ReadRelay (core/relay.py) rather than on
        # _wake, is rung through this instead.
        self._waker: Optional[Callable[[], None]] = None
        self._blocked = 0
        # Producers waiting in catch_up (see Hub.publish), and whether a wait ran out with
        # the consumer still behind (it is stuck in a slow callback: nobody waits for it
        # until it has run empty).
        self._caught_up = threading.Condition(threading.Lock())
        self._catching_up = 0
        self._consumer_stuck = False
        self._closed = False
        self._in_overflow = False
        self._on_overflow = on_overflow
        self._report_overflow = report_overflow

    # -- producer side (the hub) -------------------------------------------------------

    def _put_many(self, events: list[Event]) -> None:
        kinds = self.kinds
        if kinds is not None:
            # Kinds are per class: a batch's few classes say at C speed whether it must be
            # filtered at all (a callback user's default queue skips every batch of trades).
            event_types: set[type[Event]] = set(map(type, events))
            present = {event_type.kind for event_type in event_types}
            if present.isdisjoint(kinds):
                return
            if not present <= kinds:
                events = [e for e in events if e.kind in kinds]
        items = self._items
        room = self.maxsize - len(items)
        if room >= len(events):
            items.extend(events)
        elif self.overflow != "block" and any(e.kind in _CONTROL_KINDS for e in events):
            kept = max(room, 0)
            items.extend(events[:kept])  # what fits keeps its order
            rest = events[kept:]
            control = [e for e in rest if e.kind in _CONTROL_KINDS]
            # The lane is bounded too: what it pushes out is a drop like any other.
            self.dropped += max(0, len(self._urgent) + len(control) - _URGENT_MAX)
            self._urgent.extend(control)
            data = [e for e in rest if e.kind not in _CONTROL_KINDS]
            if data:
                self._put_many_data(data, 0)
        else:
            self._put_many_data(events, room)
        if self._waiters:
            self._wake_waiters()

    def _wake_waiters(self) -> None:
        # The dispatcher waiting in a ReadRelay hears its doorbell, not a token: a token
        # nobody takes would stay in _wake for good, one per publish. A consumer that moves
        # from the relay to get() looks at the deque after counting itself, so it misses
        # nothing rung rather than put.
        waker = self._waker
        if waker is not None:
            waker()
        else:
            self._wake.put(None)

    def _put_urgent(self, event: Event) -> None:
        """Put ``event`` ahead of the backlog (the news of an overflow, about that backlog)."""
        if self.kinds is not None and event.kind not in self.kinds:
            return
        self._urgent.append(event)
        if self._waiters:
            self._wake_waiters()

    def _put_many_data(self, events: list[Event], room: int) -> None:
        """The overflow path: the queue cannot take every event as it is."""
        items = self._items
        if self._drop_oldest:
            # The deque's maxlen drops the oldest in C: a full queue nobody reads (the
            # default queue of a callback-only user) costs no more than an empty one.
            items.extend(events)
            self.dropped += len(events) - max(room, 0)
            self._overflowed()
        elif self.overflow == "block":
            self._put_blocking(events)
        else:
            self._put_overflowing(events, room)

    def _put_overflowing(self, events: list[Event], room: int) -> None:
        """drop_newest: keep what fits, count the rest."""
        kept = max(room, 0)
        self._items.extend(events[:kept])
        self.dropped += len(events) - kept
        self._overflowed()

    def _put_blocking(self, events: list[Event]) -> None:
        items = self._items
        for event in events:
            if len(items) >= self.maxsize:
                with self._not_full:
                    self._blocked += 1
                    try:
                        while len(items) >= self.maxsize and not self._closed:
                            self.last_blocked = time.monotonic()
                            if self._waiters:  # let a sleeping consumer drain first
                                self._wake_waiters()
                            self._not_full.wait(0.1)
                    finally:
                        self._blocked -= 1
                        self.last_blocked = time.monotonic()
                if self._closed:
                    return
            items.append(event)

    def catch_up(self) -> None:
        """Let the consumer take most of a backlog before the producer goes on (see
        ``Hub.publish``): wait until at most ``_CAUGHT_UP`` events are left, but no longer
        than ``_CATCH_UP_WAIT`` seconds. A wait that runs out means the consumer is stuck
        (a slow callback, or nobody reads): no producer waits again until the consumer has
        run empty."""
        items = self._items
        if self._consumer_stuck or len(items) <= _CATCH_UP_ABOVE or self._closed:
            return
        with self._caught_up:
            self._catching_up += 1
            try:
                if not self._caught_up.wait_for(
                    lambda: len(items) <= _CAUGHT_UP or self._closed, _CATCH_UP_WAIT
                ):
                    self._consumer_stuck = True
            finally:
                self._catching_up -= 1

    def _consumer_caught_up(self) -> None:
        with self._caught_up:
            self._caught_up.notify_all()

    def _overflowed(self) -> None:
        if self._in_overflow:
            return
        self._in_overflow = True
        logger.warning("%s overflowed (%d events, %s)", self.name, self.maxsize, self.overflow)
        if self._report_overflow and self._on_overflow is not None:
            self._on_overflow(QueueOverflow(self.name, self.maxsize, self.overflow))

    def close(self) -> None:
        """No more events will come: wake every waiter. Idempotent."""
        self._closed = True
        # A waiter counted itself before looking at _closed: it either sees the flag or is
        # counted here and gets a token.
        for _ in range(self._waiters):
            self._wake.put(None)
        waker = self._waker
        if waker is not None:
            waker()
        with self._not_full:
            self._not_full.notify_all()
        self._consumer_caught_up()

    # -- consumer side -----------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """Whether the client stopped feeding this queue (events left in it stay readable)."""
        return self._closed

    def add_waker(self, wake: Callable[[], None]) -> None:
        """Count the caller as a waiter that ``wake`` rouses (the dispatcher waiting in a
        ``ReadRelay``), until ``remove_waker``. One at a time."""
        with self._waiters_lock:
            self._waker = wake
            self._waiters += 1

    def remove_waker(self) -> None:
        with self._waiters_lock:
            self._waiters -= 1
            self._waker = None

    def qsize(self) -> int:
        """How many events wait right now."""
        return len(self._items) + len(self._urgent)

    def get(self, timeout: Optional[float] = None) -> Event:
        """The next event, waiting up to ``timeout`` seconds (None = until one comes).

        Raises:
            queue.Empty: on timeout, or at once when the client has stopped and the queue is
                drained (no event can come any more).
        """
        self._report_overflow = True
        event: Optional[Event]
        try:
            event = (self._urgent or self._items).popleft()
        except IndexError:
            event = None
        if event is None:  # waited outside the handler: queue.Empty chains no IndexError
            event = self._wait_for_event(timeout)
        if self._blocked:
            self._room_made()
        if self._catching_up and len(self._items) <= _CAUGHT_UP:
            self._consumer_caught_up()
        return event

    def _room_made(self) -> None:
        """Wake a producer blocked on a full queue (the "block" policy)."""
        with self._not_full:
            self._not_full.notify()

    def _wait_for_event(self, timeout: Optional[float]) -> Event:
        items = self._items
        wake = self._wake.get
        deadline = Deadline(timeout)
        with self._waiters_lock:
            self._waiters += 1  # before the emptiness check: see _put_many and close
        try:
            while True:
                try:
                    return (self._urgent or items).popleft()
                except IndexError:
                    pass
                self._in_overflow = False  # ran empty: the episode is over
                self._consumer_stuck = False  # and it is keeping up
                if self._closed:
                    raise queue.Empty(f"{self.name}: the client is stopped and every "
                                      "event has been read") from None
                remaining = deadline.remaining()
                if remaining is None:
                    wake()
                else:
                    if remaining <= 0:
                        raise queue.Empty(
                            f"{self.name}: no event within {timeout:g} s") from None
                    try:
                        wake(timeout=remaining)
                    except queue.Empty:
                        pass  # the next turn looks once more, then gives up
        finally:
            with self._waiters_lock:
                self._waiters -= 1

    def __iter__(self) -> Iterator[Event]:
        """Yield events until the client stops and the queue is drained."""
        while True:
            try:
                yield self.get()
            except queue.Empty:
                return

    def __repr__(self) -> str:
        return (
            f"<EventQueue {self.name!r} {len(self._items)}/{self.maxsize} "
            f"overflow={self.overflow} dropped={self.dropped}>"
        )


class Hub:
    """Fans events out to callbacks and queues; owns the dispatcher thread.

    ``publish`` may be called from any thread. Callbacks run on the dispatcher thread
    (``dispatch="thread"``) or on the publishing thread (``dispatch="inline"``).
    """

    def __init__(
        self,
        *,
        venue: str,
        callbacks: Mapping[str, Optional[Callback]],
        dispatch: str = "thread",
        queue_size: int = 100_000,
        overflow: str = "drop_oldest",
        name: str = "",
    ) -> None:
        if dispatch not in ("thread", "inline"):
            raise ValueError(f"dispatch must be 'thread' or 'inline'; got {dispatch!r}")
        check_overflow(overflow)
        self.venue = venue
        self._name = name or venue
        self._callbacks: dict[str, Callback] = {k: v for k, v in callbacks.items() if v}
        self._inline = dispatch == "inline"
        self.events_published = 0
        self.errors = 0
        # An event goes to its kind's callback when there is one, else it waits in the
        # default queue: a callback user does not also pay for a queue of copies nobody
        # reads (100,000 trades held ~150 MB and slowed every GC pass: benchmarks/README).
        # Extra queues made with queue() still see every kind they ask for.
        queued_kinds = None if not self._callbacks else EVENT_KINDS - self._callbacks.keys()
        # It reports overflow only once somebody reads it: a full queue nobody reads is
        # no news to a user who never calls get().
        self.default_queue = EventQueue(
            maxsize=queue_size, overflow=overflow, kinds=queued_kinds,
            name=f"{self._name} default queue",
            on_overflow=self._report_overflow, report_overflow=False,
        )
        # Copy-on-write tuple: publish iterates it without a lock.
        self._queues: tuple[EventQueue, ...] = (self.default_queue,)
        self._queues_lock = threading.Lock()  # guards replacing _queues
        self._inbox: Optional[EventQueue] = None
        if self._callbacks and not self._inline:
            self._inbox = EventQueue(
                maxsize=queue_size, overflow=overflow, name=f"{self._name} callback queue",
                on_overflow=self._report_overflow,
            )
        self._thread: Optional[threading.Thread] = None
        self._stopping = False
        # The socket an idle dispatcher reads itself (core/relay.py); its doorbell lives as
        # long as the dispatcher thread.
        self._relay: Optional[relays.ReadRelay] = None
        self._doorbell: Optional[relays.Doorbell] = None
        self._printed: set[tuple[str, type]] = set()  # unhandled failures shown on stderr
        self._sinks: tuple[Sink, ...] = ()  # copy-on-write, like _queues, under _queues_lock
        self.sink_errors = 0
        self.batch_size = 64 if self._inbox is None else 256
        """Most events a reader holds back before publishing them (it publishes whatever it
        holds before it waits for the network, so a lone frame is never held): a bound on
        the delay of the first event of a burst. With a dispatcher thread a publish may wake
        it, a thread switch that costs tens of microseconds, so bursts go in bigger batches
        (256 against 64 made on_trade about 15 % faster on the throughput benchmark);
        inline callbacks and queues have no wake-up to save."""

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        """Start the dispatcher thread (if there are callbacks to run). Idempotent."""
        if self._inbox is None or self._thread is not None:
            return
        self._stopping = False
        if relays.available():
            self._doorbell = relays.Doorbell()
        self._thread = threading.Thread(
            target=self._dispatch_loop, name=f"wsclients-{self._name}-dispatch", daemon=True
        )
        self._thread.start()

    def lend_socket(
        self,
        sock: relays.Pollable,
        buffered: Callable[[], bool],
        step: Callable[[], Optional[tuple[Optional[int], str]]],
    ) -> Optional[relays.ReadRelay]:
        """A ``ReadRelay`` through which the reader of one connection lends its socket to
        the dispatcher thread while it is idle (see core/relay.py), or None where that
        cannot be: inline callbacks or none, a ``block`` policy on the callback queue (the
        dispatcher would wait on itself), or no ``select.poll``. The reader ends it with
        ``return_socket``."""
        inbox = self._inbox
        doorbell = self._doorbell
        if inbox is None or doorbell is None or inbox.overflow == "block" or self._stopping:
            return None
        relay = relays.ReadRelay(
            fileno=sock.fileno(), buffered=buffered, step=step, inbox=inbox, doorbell=doorbell)
        self._relay = relay
        return relay

    def reading_here(self) -> bool:
        """Whether the calling thread is the dispatcher, reading a lent socket (it then
        stands for that socket's reader)."""
        relay = self._relay
        return (relay is not None and self._thread is current_thread()
                and relay.dispatcher_holds())

    def return_socket(self, relay: relays.ReadRelay) -> None:
        """The reader is done with ``relay``'s socket (it holds it): the dispatcher waits on
        its queue again."""
        if self._relay is relay:
            self._relay = None
        relay.end()

    def stop(self, timeout: float = 1.0, *, drain: bool = False) -> bool:
        """Stop dispatching and close every queue; True if the dispatcher thread ended.

        Events already in consumer queues stay readable. Callbacks not yet run are
        dropped (a stopped client calls no more user code) unless ``drain`` — used when the
        client stops itself after a fatal error, so ``on_error`` still hears why.
        Idempotent.
        """
        if not drain:
            self._stopping = True
        for q in self._queues:
            q.close()
        if self._inbox is not None:
            self._inbox.close()
        thread = self._thread
        if thread is None or thread is threading.current_thread():
            return True
        thread.join(timeout)
        self._stopping = True
        if thread.is_alive():
            logger.warning("%s: a callback is still running after stop()", self._name)
            return False
        self._thread = None
        return True

    # -- producing ---------------------------------------------------------------------

    def publish(self, events: list[Event], *, catch_up: bool = False) -> None:
        """Deliver events to every queue and to the callbacks. Any thread; never raises.

        ``catch_up`` is for a thread that feeds a burst (a socket's reader, a replay): it
        then waits (at most a millisecond per queue) while more than ``_CATCH_UP_ABOVE``
        events are queued for the dispatcher thread or for a ``get()`` loop, so that the
        consumer runs now rather than at the interpreter's next forced thread switch (5 ms
        later, by default). Events then live for a fraction of a millisecond instead of
        several, and the garbage collector no longer finds hundreds of them alive on every
        pass: on the throughput benchmark's blast, from about 650 young and 5 full
        collections per 200,000 trades (0.6 µs a trade) to 35-360 young and 1-2 full ones
        (0.1-0.2 µs). The feeding thread must not hold a lock a callback may need. A
        consumer stuck in a slow callback, or a queue nobody reads, costs one such wait,
        not one per burst.
        """
        self.events_published += len(events)
        # The scan below in C first: a batch of a thousand trades has no error to look at.
        if ErrorEvent in map(type, events):
            events = self._count_errors(events)
        for q in self._queues:
            q._put_many(events)
        inbox = self._inbox
        if inbox is not None:
            inbox._put_many(events)
        elif self._inline and self._callbacks:
            self._run_callbacks(events)
        for sink in self._sinks:
            try:
                sink.accept(events)
            except Exception:
                self._sink_failed(sink)
        if catch_up:
            thread = self._thread
            # The dispatcher reads the socket itself at times (core/relay.py): it must
            # never wait for its own queue to drain.
            if inbox is not None and thread is not None and thread is not current_thread():
                inbox.catch_up()
            for q in self._queues:
                q.catch_up()

    def _count_errors(self, events: list[Event]) -> list[Event]:
        """Count the errors of a batch, and give one raised off any frame (a timer, a job:
        no arrival time) the time it is published, rather than 1970 (in a copy: the
        caller's list is left alone)."""
        for index, event in enumerate(events):
            if event.kind == "error":
                self.errors += 1
                if not event.received_ns:
                    events = list(events)
                    events[index] = attrs.evolve(event, received_ns=time.time_ns())
        return events

    def publish_one(self, event: Event) -> None:
        """``publish([event])``."""
        self.publish([event])

    def report(
        self, exc: BaseException, *, fatal: bool = False, raw: Any = None
    ) -> ErrorEvent:
        """Publish ``exc`` as an ``ErrorEvent`` (the one path background errors take)."""
        event = ErrorEvent.from_exception(
            exc, venue=self.venue, received_ns=time.time_ns(), fatal=fatal, raw=raw
        )
        self.publish([event])
        return event

    def _report_overflow(self, exc: QueueOverflow) -> None:
        """The news of an overflow goes ahead of every backlog: published like any event,
        it could itself be dropped or wait behind the flood it reports."""
        event = ErrorEvent.from_exception(exc, venue=self.venue, received_ns=time.time_ns())
        self.events_published += 1
        self.errors += 1
        for q in self._queues:
            q._put_urgent(event)
        if self._inbox is not None:
            self._inbox._put_urgent(event)
        elif self._inline and self._callbacks:
            self._run_callbacks((event,))

    def last_blocked(self) -> float:
        """``time.monotonic()`` when a publisher last waited on a full ``block`` queue
        (0.0: never). While a reader waits, this stays within 0.1 s of now."""
        latest = max((q.last_blocked for q in self._queues), default=0.0)
        if self._inbox is not None:
            latest = max(latest, self._inbox.last_blocked)
        return latest

    # -- queues ------------------------------------------------------------------------

    def queue(
        self,
        *,
        kinds: Optional[Collection[str]] = None,
        maxsize: int = 10_000,
        overflow: str = "drop_oldest",
        name: str = "",
    ) -> EventQueue:
        """A new consumer queue that receives every event published from now on."""
        q = EventQueue(
            maxsize=maxsize, overflow=overflow, kinds=kinds,
            name=name or f"{self._name} queue", on_overflow=self._report_overflow,
        )
        if self._stopping:
            q.close()
        with self._queues_lock:
            self._queues = (*self._queues, q)
        return q

    def remove_queue(self, q: EventQueue) -> None:
        """Stop feeding ``q`` (it is closed). Idempotent."""
        with self._queues_lock:
            self._queues = tuple(x for x in self._queues if x is not q)
        q.close()

    @property
    def dropped(self) -> int:
        """Events dropped by overflow, over every queue the hub feeds."""
        total = sum(q.dropped for q in self._queues)
        if self._inbox is not None:
            total += self._inbox.dropped
        return total

    # -- unhandled callback failures ---------------------------------------------------

    def _print_unhandled(self, name: str, kind: str, exc: BaseException) -> None:
        """Nobody handles this failure (no ``on_error``, no logging): print it, as
        ``threading.excepthook`` does, once per callback and exception type, so a raising
        callback is never a silent ``stats.errors`` count."""
        if logging_configured(logger):
            return  # the logger.error above reached a handler the user set up
        key = (name, type(exc))
        with self._queues_lock:
            if key in self._printed:
                return
            self._printed.add(key)
        trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        try:
            sys.stderr.write(
                f"wsclients: callback {name} raised on a {kind} event. Each failure is sent "
                f"as an ErrorEvent and counted in stats.errors; this is printed once per "
                f"callback and exception type because nothing handles them: pass on_error= "
                f"to the client, or configure logging (e.g. logging.basicConfig()).\n{trace}"
            )
            sys.stderr.flush()
        except (OSError, ValueError, AttributeError):  # no usable stderr (pythonw, closed)
            pass

    # -- sinks -------------------------------------------------------------------------

    @property
    def sinks(self) -> tuple[Sink, ...]:
        """The sinks fed by ``publish``, in the order they were added."""
        return self._sinks

    def add_sink(self, sink: Sink) -> None:
        """Hand every batch published from now on to ``sink.accept``. Adding it twice
        changes nothing. The caller starts and stops the sink."""
        with self._queues_lock:
            if all(s is not sink for s in self._sinks):
                self._sinks = (*self._sinks, sink)

    def remove_sink(self, sink: Sink) -> bool:
        """Stop feeding ``sink`` (it is not stopped); False if it was not added."""
        with self._queues_lock:
            kept = tuple(s for s in self._sinks if s is not sink)
            removed = len(kept) != len(self._sinks)
            self._sinks = kept
        return removed

    def _sink_failed(self, sink: Sink) -> None:
        # Counted, and logged with its traceback the first time only: a broken sink fails on
        # every batch, and one log line per batch would drown the reader it must not slow.
        # Never published as an ErrorEvent, which would go back into the failing sink.
        self.sink_errors += 1
        if self.sink_errors == 1:
            logger.exception("%s: sink %r failed (counted from now on)", self._name, sink)
        else:
            logger.debug("%s: sink %r failed again", self._name, sink, exc_info=True)

    # -- dispatching -------------------------------------------------------------------

    def _dispatch_loop(self) -> None:
        inbox = self._inbox
        assert inbox is not None
        doorbell = self._doorbell
        # The hot loop takes events straight off the inbox's deques while there are any (the
        # urgent lane first, as get() does), and goes through get(), which sleeps, only when
        # both run empty: a burst then costs one popleft and one callback call per event.
        urgent = inbox._urgent
        popleft = inbox._items.popleft
        get = inbox.get
        callbacks = self._callbacks
        failed = self._callback_failed
        last_class: Optional[type] = None
        callback: Optional[Callback] = None
        try:
            while not self._stopping:
                try:
                    event = urgent.popleft() if urgent else popleft()
                except IndexError:
                    relay = self._relay
                    # Idle: read the socket here while a reader lends it (core/relay.py).
                    if relay is not None and not inbox.closed and relay.serve():
                        continue
                    try:
                        event = get()
                    except queue.Empty:  # closed and drained
                        return
                else:
                    if inbox._blocked:  # a "block" producer waits for the room just made
                        inbox._room_made()
                    if inbox._catching_up and len(inbox._items) <= _CAUGHT_UP:
                        inbox._consumer_caught_up()
                if self._stopping:
                    return
                if type(event) is not last_class:  # a burst is mostly one class of event
                    last_class = type(event)
                    callback = callbacks.get(event.kind)  # kind is a class attribute
                if callback is None:
                    continue
                try:
                    callback(event)
                except Exception as exc:
                    failed(event, callback, exc)
        except Exception:  # should never run: user errors are caught above
            logger.exception("%s: dispatcher thread failed", self._name)
        finally:
            if self._doorbell is doorbell:
                self._doorbell = None
            if doorbell is not None:
                doorbell.close()

    def _run_callbacks(self, events: Iterable[Event]) -> None:
        callbacks = self._callbacks
        last_class: Optional[type] = None
        callback: Optional[Callback] = None
        for event in events:
            if type(event) is not last_class:  # a batch is mostly one class of event
                last_class = type(event)
                callback = callbacks.get(event.kind)  # kind is a class attribute
            if callback is None:
                continue
            try:
                callback(event)
            except Exception as exc:
                self._callback_failed(event, callback, exc)

    def _callback_failed(self, event: Event, callback: Callback, exc: Exception) -> None:
        name = getattr(callback, "__qualname__", repr(callback))
        logger.error("%s: callback %s raised", self._name, name, exc_info=exc)
        if event.kind == "error" or "error" not in self._callbacks:
            self._print_unhandled(name, event.kind, exc)
        error = CallbackFailed(name, event.kind)
        error.__cause__ = exc
        if event.kind == "error":
            # The error callback itself failed: logging it is all that is left to do,
            # or a broken on_error would feed itself forever.
            self.errors += 1
            for q in self._queues:
                q._put_many([ErrorEvent.from_exception(
                    error, venue=self.venue, received_ns=time.time_ns())])
            return
        self.report(error, raw=event)
