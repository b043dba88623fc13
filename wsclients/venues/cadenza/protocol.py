"""Cadenza's channels on top of the Centrifugo protocol: books, trades, account events.

Cadenza's WebSocket API is a standard Centrifugo server (cadenza-client-python
``docs/WebSocketApi.md``: "Connect to the Cadenza WebSocket API using the Centrifugo
protocol"). This protocol adds what Cadenza's channels mean: order-book publications kept in
a local book and delivered as ``Book`` events, trades as ``Trade`` events, trading-account
events as ``Message`` events naming the account.

A book is only delivered while it is whole. When publications were missed — recovery failed
after a reconnect, an offset gap, a crossed book — it is cleared and the channel is
subscribed afresh (without recovery) so that a new snapshot rebuilds it; no ``Book`` is
delivered until that snapshot arrives (docs/venues/cadenza.rst#cadenza-books).
"""

from __future__ import annotations

import logging
from typing import Any, Optional, Union

import attrs

from wsclients.core.protocol import PARSE_ERRORS
from wsclients.errors import BookOutOfSync
from wsclients.models import ErrorEvent
from wsclients.venues.cadenza.book import BookKeeper, parse_order_book
from wsclients.venues.cadenza.trades import parse_trades
from wsclients.venues.centrifugo.events import Publication
from wsclients.venues.centrifugo.protocol import CentrifugoProtocol

__all__ = ["CadenzaProtocol"]

logger = logging.getLogger(__name__)

VENUE = "cadenza"



@attrs.frozen
class _Trades:
    instrument_id: str


@attrs.frozen
class _Account:
    account_id: str


_Stream = Union[BookKeeper, _Trades, _Account]


class CadenzaProtocol(CentrifugoProtocol):
    """``CentrifugoProtocol`` plus what each Cadenza channel carries.

    Args:
        book_depth: levels per side in ``Book`` events (None: the whole book).
        **options: ``CentrifugoProtocol``'s options.
    """

    def __init__(self, *, book_depth: Optional[int] = None, **options: Any) -> None:
        options.setdefault("venue", VENUE)
        super().__init__(**options)
        self._book_depth = book_depth
        self._streams: dict[str, _Stream] = {}
        self.resyncs = 0
        """Order books rebuilt from a fresh snapshot after missed publications."""

    # ----------------------------------------------------------------- registering channels

    def subscribe_order_book(self, channel: str, instrument_id: str, **options: Any) -> bool:
        """Subscribe ``channel`` as ``instrument_id``'s order book."""
        added = self.subscribe(channel, **options)
        if added:
            self._streams[channel] = BookKeeper(
                instrument_id, venue=self.venue, depth=self._book_depth)
        return added

    def subscribe_trades(self, channel: str, instrument_id: str, **options: Any) -> bool:
        """Subscribe ``channel`` as ``instrument_id``'s trades."""
        added = self.subscribe(channel, **options)
        if added:
            self._streams[channel] = _Trades(instrument_id)
        return added

    def subscribe_trading_account(self, channel: str, account_id: str, **options: Any) -> bool:
        """Subscribe ``channel`` as trading account ``account_id``'s events."""
        added = self.subscribe(channel, **options)
        if added:
            self._streams[channel] = _Account(account_id)
        return added

    def unsubscribe(self, channel: str) -> bool:
        """Forget the channel and what was kept for it."""
        self._streams.pop(channel, None)
        return super().unsubscribe(channel)

    def order_book(self, channel: str) -> Optional[BookKeeper]:
        """The book kept for an order-book channel."""
        stream = self._streams.get(channel)
        return stream if isinstance(stream, BookKeeper) else None

    # ----------------------------------------------------------------- hooks

    def _subscribed(self, channel: str, *, recovered: Optional[bool]) -> None:
        keeper = self.order_book(channel)
        if keeper is None or recovered:
            return
        keeper.reset()
        if recovered is False:
            # The server answered recovered: false: what the book missed is gone for good.
            self._resync(keeper, channel, "recovery failed after a reconnect")

    def _deliver_publication(self, event: Publication) -> None:
        stream = self._streams.get(event.channel)
        if isinstance(stream, BookKeeper):
            self._book_publication(stream, event)
        elif isinstance(stream, _Trades):
            trades = parse_trades(
                event.data, instrument_id=stream.instrument_id, venue=self.venue,
                offset=event.offset, received_ns=event.received_ns)
            if trades is None:
                self._events.append(attrs.evolve(event, symbol=stream.instrument_id))
            else:
                self._events.extend(trades)
        elif isinstance(stream, _Account):
            self._events.append(attrs.evolve(event, symbol=stream.account_id))
        else:
            self._events.append(event)

    def _book_publication(self, keeper: BookKeeper, event: Publication) -> None:
        if keeper.book.is_synced and not keeper.check_offset(event.offset):
            self._resync(keeper, event.channel,
                         f"publication offset {event.offset} after {keeper.last_offset}")
            return
        try:
            update = parse_order_book(event.data)
        except PARSE_ERRORS as exc:
            # A book update we cannot read leaves the book unknown: rebuild it.
            self._resync(keeper, event.channel, f"unreadable order-book update ({exc})",
                         raw=event.raw)
            return
        if update is None:
            # Not an order book: delivered as it is, never dropped.
            self._events.append(attrs.evolve(event, symbol=keeper.instrument_id))
            return
        try:
            book = keeper.apply(update, offset=event.offset, received_ns=event.received_ns)
        except BookOutOfSync as exc:
            self._resync(keeper, event.channel, exc.reason)
            return
        if book is not None:
            self._events.append(book)

    def _resync(self, keeper: BookKeeper, channel: str, reason: str, raw: Any = None) -> None:
        """Drop the book, say why, and subscribe afresh for a new snapshot."""
        keeper.reset()
        self.resyncs += 1
        error = BookOutOfSync(keeper.instrument_id, reason=reason)
        logger.warning("%s: %s; taking a fresh snapshot", self.venue, error)
        self._events.append(ErrorEvent.from_exception(
            error, venue=self.venue, received_ns=self._last_received_ns, raw=raw,
            code="book_out_of_sync"))
        self.resubscribe(channel)
