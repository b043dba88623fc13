"""A local Vega order book from ``markets/depth/updates`` plus REST snapshots it asks for,
chained on sequence numbers (docs/venues/vega.rst#vega-depth-resync).
"""

from __future__ import annotations

import collections
import random
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Optional

import attrs

from wsclients.book import OrderBook
from wsclients.core.backoff import Backoff
from wsclients.core.protocol import CloseRequest, Job
from wsclients.errors import (
    BookOutOfSync,
    ProtocolViolation,
)
from wsclients.models import BookLevel, ErrorEvent
from wsclients.venues.vega.decimals import DecimalsLookup, MarketDecimals, _wire_int
from wsclients.venues.vega.protocol import _Base
from wsclients.venues.vega.streams import _MAX_BUFFERED_UPDATES, VENUE, VegaStream

if TYPE_CHECKING:
    pass


# --------------------------------------------------------------------------------------------
# Order book


class VegaBookProtocol(_Base):
    """A local order book from ``markets/depth/updates`` plus REST snapshots
    (docs/venues/vega.rst#vega-depth-resync).

    The protocol buffers updates until it has a snapshot, which it asks for through
    ``snapshot_wanted`` (a reason: ``"initial"``, ``"reconnect"``, ``"gap"``, ``"crossed"``).
    The client fetches ``GET /api/v2/market/depth/{id}/latest`` and calls
    ``receive_snapshot``; buffered updates at or below its sequence number are dropped, the
    first newer one is applied if its ``previousSequenceNumber`` is at or below the snapshot
    (the snapshot may be taken mid-block; levels are absolute, so this is safe), and from then
    on each update must chain exactly onto the last. A gap or a crossed book starts a resync.
    Each applied update yields a ``Book`` (top ``depth`` levels); a snapshot yields a ``Book``
    with ``is_snapshot=True``.
    """

    def __init__(
        self,
        market_id: str,
        *,
        decimals: DecimalsLookup,
        depth: Optional[int] = None,
        retry: Optional[Backoff] = None,
        rng: Optional[random.Random] = None,
    ) -> None:
        super().__init__(
            VegaStream("markets/depth/updates", (("marketIds", market_id),)), decimals=decimals
        )
        self.market_id = market_id
        self.depth = depth
        self._retry = attrs.evolve(retry or Backoff(), max_attempts=None, attempt=0)
        self._rng = rng or random.Random()
        self._generation = 0  # counts sockets, so a late snapshot for an old one is ignored
        self._market_decimals: Optional[MarketDecimals] = None
        self.resyncs = 0
        """Snapshots taken again after the first (a gap, a crossed book, a reconnect)."""
        self.snapshot_wanted: Optional[str] = "initial"
        """Why a REST snapshot is needed now, or None while the book is in sync."""
        self._book: Optional[OrderBook] = None
        self._lenient = False
        self._buffer: collections.deque[tuple[Mapping[str, Any], int]] = collections.deque(
            maxlen=_MAX_BUFFERED_UPDATES
        )
        self._synced_once = False
        self.applied_since_snapshot = 0
        """Updates applied since the last snapshot (0: the snapshot has not chained yet)."""

    @property
    def book(self) -> Optional[OrderBook]:
        """The local book, or None while waiting for a snapshot."""
        return self._book

    def on_open(self) -> None:
        """A fresh socket: updates may have been missed, so the book is rebuilt from a new
        snapshot (vega#11032: rebuild after any disconnect), asked for at once."""
        super().on_open()
        self._generation += 1
        self._book = None
        self._buffer.clear()
        # A book that was never built is still waiting for its first snapshot.
        self._want_snapshot("reconnect" if self._synced_once else "initial")

    def _want_snapshot(self, why: str) -> None:
        """Ask the client for a REST snapshot (a ``Job``); the answer comes in ``job_done``."""
        self.snapshot_wanted = why
        self.ask(Job("snapshot", (self._generation, why), self.market_id))

    def job_done(self, job: Job, result: Any, error: Optional[BaseException]) -> None:
        """The snapshot (``(MarketDecimals, depth)``) or why it could not be had."""
        self.job_done_at(job, result, error, received_ns=time.time_ns())

    def job_done_at(
        self, job: Job, result: Any, error: Optional[BaseException], *, received_ns: int
    ) -> None:
        """``job_done``; the snapshot ``Book`` is received at ``received_ns``."""
        if job.kind != "snapshot" or not isinstance(job.key, tuple):
            return
        generation, why = job.key
        if generation != self._generation or self.snapshot_wanted is None:
            return  # for a socket that is gone, or already answered
        if error is not None:
            self.snapshot_failed(error, received_ns=received_ns)
            return
        decimals, depth = result
        self._market_decimals = decimals
        self.receive_snapshot(depth, received_ns=received_ns)
        if self.snapshot_wanted is None and why != "initial":
            self.resyncs += 1

    def _retry_later(self, reason: str) -> None:
        """No usable snapshot: try again on a fresh socket after a backoff delay (with
        jitter), growing while it keeps failing; the socket's updates are of no use until."""
        self._retry = self._retry.increment()
        delay = self._retry.delay(self._rng)
        self.close_request = CloseRequest(
            f"retrying the {self.market_id} snapshot ({reason})", delay=delay, quiet=True
        )

    def receive_snapshot(self, depth: Mapping[str, Any], *, received_ns: int) -> None:
        """Feed the answer to ``snapshot_wanted``: a REST ``GetLatestMarketDepthResponse``
        (``marketId``, ``buy``, ``sell``, ``sequenceNumber``; REST emits defaults, but missing
        keys are read as zero too). Then replays the buffered updates. Never raises."""
        try:
            bids = self._levels(depth.get("buy") or [])
            asks = self._levels(depth.get("sell") or [])
            sequence = _wire_int(depth.get("sequenceNumber", "0"), "sequenceNumber")
        except Exception as exc:  # noqa: BLE001 - a bad snapshot is reported, and asked again
            self._report(exc, received_ns, raw=depth)
            return
        book = OrderBook(self.market_id, venue=VENUE, depth=self.depth)
        book.apply_snapshot(bids, asks, sequence=sequence)
        self._book = book
        self._lenient = True
        self._synced_once = True
        self.applied_since_snapshot = 0
        self.snapshot_wanted = None
        self._events.append(book.to_event(received_ns=received_ns, is_snapshot=True, raw=depth))
        buffered = list(self._buffer)
        self._buffer.clear()
        for update, update_ns in buffered:
            self._receive_update(update, update_ns)

    def snapshot_failed(self, exc: BaseException, *, received_ns: int) -> None:
        """The client could not fetch the snapshot; reported, and asked again later on a
        fresh socket."""
        self._report(exc, received_ns, raw=None)
        self._retry_later("the snapshot could not be fetched")

    def _receive_result(self, result: dict[str, Any], frame: Any, received_ns: int) -> None:
        updates = result.get("update", [])
        if not isinstance(updates, list):
            raise ProtocolViolation("update is not a list", raw=updates)
        for update in updates:
            if not isinstance(update, Mapping):
                self._report(ProtocolViolation("update is not an object"), received_ns, raw=update)
            elif update.get("marketId", self.market_id) == self.market_id:
                self._receive_update(update, received_ns)

    def _receive_update(self, update: Mapping[str, Any], received_ns: int) -> None:
        if self._book is None:
            self._buffer.append((update, received_ns))
            return
        try:
            sequence = _wire_int(update.get("sequenceNumber", "0"), "sequenceNumber")
            # docs/venues/vega.rst#vega-depth-production: absent on the first update after a node
            # start (= 0).
            previous = _wire_int(
                update.get("previousSequenceNumber", "0"), "previousSequenceNumber"
            )
            bids = self._levels(update.get("buy") or [])
            asks = self._levels(update.get("sell") or [])
        except Exception as exc:  # noqa: BLE001 - unreadable update: the book cannot go on
            self._report(exc, received_ns, raw=update)
            self._resync("gap", received_ns, reason="unreadable update")
            return
        current = self._book.sequence or 0
        if sequence <= current:
            return  # older than the book: already in the snapshot
        in_chain = previous <= current if self._lenient else previous == current
        if not in_chain:
            self._resync(
                "gap", received_ns, expected=current, got=previous,
                reason="sequence gap", pending=(update, received_ns),
            )
            return
        self._book.apply_delta(bids, asks, sequence=sequence)
        self._lenient = False
        self.applied_since_snapshot += 1
        self._retry = self._retry.reset()  # it chained: resyncs may be immediate again
        if self._book.is_crossed:
            self._resync("crossed", received_ns, got=sequence, reason="crossed book")
            return
        self._events.append(self._book.to_event(received_ns=received_ns, raw=update))

    def _resync(
        self,
        why: str,
        received_ns: int,
        *,
        reason: str,
        expected: Optional[int] = None,
        got: Optional[int] = None,
        pending: Optional[tuple[Mapping[str, Any], int]] = None,
    ) -> None:
        """Drop the book and ask for a snapshot; updates from now on are buffered."""
        exc = BookOutOfSync(self.market_id, expected=expected, got=got, reason=reason)
        self._events.append(ErrorEvent.from_exception(exc, venue=VENUE, received_ns=received_ns))
        never_chained = self.applied_since_snapshot == 0
        self._book = None
        self._buffer.clear()
        if pending is not None:
            self._buffer.append(pending)
        self.snapshot_wanted = why
        if never_chained:
            # The last snapshot never chained onto the stream (a REST answer from a node
            # behind the stream's, say): back off instead of asking again at frame rate.
            self._retry_later(reason)
        else:
            self._want_snapshot(why)

    def _levels(self, levels: Any) -> list[BookLevel]:
        """Wire levels → BookLevels; a level with only ``price`` has volume 0 and is removed
        (defaults are omitted on streams, docs/venues/vega.rst#vega-depth-production)."""
        if not isinstance(levels, list):
            raise ProtocolViolation("price levels are not a list", raw=levels)
        decimals = self._market_decimals or self._decimals(self.market_id)
        if decimals is None:
            raise ProtocolViolation(f"no decimals known for market {self.market_id}")
        return [
            BookLevel(
                decimals.price_of(level["price"]),
                decimals.size_of(level.get("volume", "0")),
                _wire_int(level.get("numberOfOrders", "0"), "numberOfOrders"),
            )
            for level in levels
        ]
