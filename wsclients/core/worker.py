"""Blocking work off the reader and timer threads: token fetches, REST snapshots, lookups.

A reader that waits on HTTP leaves frames in the kernel; the one timer thread that waits on
HTTP delays every client's heartbeat. A ``Worker`` runs such calls on a few daemon threads of
its own, started when work comes and ended when idle, so a client that never needs one
costs no thread.
"""

from __future__ import annotations

import collections
import logging
import threading
from concurrent.futures import Future
from typing import Any, Callable

from wsclients.errors import ClientStopped

__all__ = ["Worker"]

logger = logging.getLogger(__name__)


class Worker:
    """Up to ``max_threads`` daemon threads named ``wsclients-<name>-worker``.

    ``submit`` never blocks. A thread that found no work for ``idle_timeout`` seconds ends.
    ``stop()`` refuses new work, fails the queued jobs with ``ClientStopped`` and waits a
    little for running ones; a call stuck in HTTP cannot be interrupted, so its daemon thread
    is left to finish on its own and its result is dropped.
    """

    def __init__(self, name: str, *, max_threads: int = 2, idle_timeout: float = 5.0) -> None:
        self.name = name
        self._max_threads = max_threads
        self._idle_timeout = idle_timeout
        self._cond = threading.Condition()  # guards everything below
        self._jobs: collections.deque[tuple[Future[Any], Callable[[], Any]]] = (
            collections.deque()
        )
        self._threads: set[threading.Thread] = set()
        self._idle = 0
        self._stopped = False

    def submit(self, fn: Callable[[], Any]) -> Future[Any]:
        """Run ``fn()`` on a worker thread; its result or exception lands in the Future."""
        future: Future[Any] = Future()
        with self._cond:
            if self._stopped:
                future.set_exception(ClientStopped("the client is stopped"))
                return future
            self._jobs.append((future, fn))
            if self._idle:
                self._cond.notify()
            elif len(self._threads) < self._max_threads:
                thread = threading.Thread(
                    target=self._run, name=f"wsclients-{self.name}-worker", daemon=True
                )
                self._threads.add(thread)
                thread.start()
        return future

    def stop(self, timeout: float = 1.0) -> None:
        """Refuse new work, fail what is queued, and wait up to ``timeout`` for the rest."""
        with self._cond:
            self._stopped = True
            queued = list(self._jobs)
            self._jobs.clear()
            threads = list(self._threads)
            self._cond.notify_all()
        for future, _ in queued:
            future.set_exception(ClientStopped("the client is stopped"))
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(timeout)

    def _run(self) -> None:
        me = threading.current_thread()
        try:
            while True:
                with self._cond:
                    while not self._jobs and not self._stopped:
                        self._idle += 1
                        woke = self._cond.wait(self._idle_timeout)
                        self._idle -= 1
                        if not woke and not self._jobs:
                            return
                    if not self._jobs:
                        return
                    future, fn = self._jobs.popleft()
                if not future.set_running_or_notify_cancel():
                    continue
                try:
                    result = fn()
                except BaseException as exc:  # handed to whoever waits on the Future
                    future.set_exception(exc)
                else:
                    future.set_result(result)
        except Exception:  # should never run: the loop above handles every job's errors
            logger.exception("%s: worker thread failed", self.name)
        finally:
            with self._cond:
                self._threads.discard(me)
