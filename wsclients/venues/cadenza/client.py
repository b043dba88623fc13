"""CadenzaClient: Cadenza's WebSocket API (a Centrifugo server) with typed channel helpers.

Endpoints, from Cadenza's WebSocket page (cadenza-client-python ``docs/WebSocketApi.md``):
production ``wss://cadenza-ws.algo724.com/connection/websocket`` and UAT
``wss://cadenza-ws-uat.algo724.com/connection/websocket`` (the default here, so that nothing
touches production by accident).
"""

from __future__ import annotations

import time
from typing import Any, ClassVar, Optional

from wsclients.core.client_options import check_count
from wsclients.models import Book
from wsclients.venues.cadenza.channels import DOCUMENTED_CHANNELS, ChannelTemplates
from wsclients.venues.cadenza.protocol import CadenzaProtocol
from wsclients.venues.centrifugo.client import CentrifugoClient, ConnectionTokenSource
from wsclients.venues.centrifugo.protocol import CentrifugoProtocol

__all__ = ["PRODUCTION_URL", "UAT_URL", "CadenzaClient"]

PRODUCTION_URL = "wss://cadenza-ws.algo724.com/connection/websocket"
UAT_URL = "wss://cadenza-ws-uat.algo724.com/connection/websocket"


class CadenzaClient(CentrifugoClient):
    """Cadenza order books, trades and trading-account events.

    ::

        cz = CadenzaClient(get_token=login, on_book=print)      # UAT unless told otherwise
        cz.subscribe_order_book("BINANCE:BTC/USDT")
        cz.subscribe_trading_account("5b0c…")
        cz.run_forever()

    Order-book channels become ``Book`` events from a local book (SNAPSHOT replaces,
    DIFF/DELTA apply, zero quantity deletes). A book is never delivered built on missing
    data: after a failed recovery, an offset gap or a crossed book it is dropped, an
    ``ErrorEvent`` (``BookOutOfSync``) says so, and the channel is subscribed afresh for a
    new snapshot. Trade channels give ``Trade`` events where the payload has a price and a
    size, ``Message`` events otherwise; trading-account channels give ``Message`` events with
    ``symbol`` set to the account id. Payloads of unknown shape are delivered, never dropped.

    Args:
        token, get_token: the connection JWT, or a callable fetching one (see
            ``CentrifugoClient``). One of them is required.
        url: the endpoint; defaults to UAT (``production=True`` picks production).
        channels: the channel-name templates (``DOCUMENTED_CHANNELS`` by default;
            ``UNIFIED_CHANNELS`` for the 2026-05 names, or your own ``ChannelTemplates``).
        book_depth: levels per side in ``Book`` events (None: the whole book).
        **options: ``CentrifugoClient``'s and the common client options.
    """

    venue: ClassVar[str] = "cadenza"
    default_url: ClassVar[str] = UAT_URL

    def __init__(
        self,
        *,
        token: Optional[str] = None,
        get_token: Optional[ConnectionTokenSource] = None,
        url: Optional[str] = None,
        production: bool = False,
        channels: ChannelTemplates = DOCUMENTED_CHANNELS,
        book_depth: Optional[int] = None,
        **options: Any,
    ) -> None:
        check_count("book_depth", book_depth, 1, none_ok=True, none_means="for the whole book")
        if not token and get_token is None:
            raise ValueError("Cadenza needs a JWT: token=… or get_token=…")
        if not isinstance(channels, ChannelTemplates):
            raise TypeError("channels must be a ChannelTemplates")
        self.channels = channels
        """The templates channel names are built from."""
        self._book_depth = book_depth
        super().__init__(
            url=url or (PRODUCTION_URL if production else UAT_URL),
            token=token, get_token=get_token, **options,
        )

    def _make_protocol(self, **options: Any) -> CentrifugoProtocol:
        return CadenzaProtocol(book_depth=self._book_depth, **options)

    @property
    def _cadenza(self) -> CadenzaProtocol:
        protocol = self.protocol
        assert isinstance(protocol, CadenzaProtocol)
        return protocol

    # ----------------------------------------------------------------- typed channels

    def subscribe_order_book(self, instrument_id: str, **options: Any) -> bool:
        """``instrument_id``'s order book (e.g. ``"BINANCE:BTC/USDT"``) as ``Book`` events.

        ``options`` are ``subscribe``'s (``token``, ``get_token`` …). Returns False when
        already subscribed.
        """
        channel = self.channels.order_book_channel(instrument_id)
        return bool(self._command(
            lambda protocol: protocol.subscribe_order_book(channel, instrument_id, **options)))

    def subscribe_trades(self, instrument_id: str, **options: Any) -> bool:
        """``instrument_id``'s public trades as ``Trade`` events."""
        channel = self.channels.trades_channel(instrument_id)
        return bool(self._command(
            lambda protocol: protocol.subscribe_trades(channel, instrument_id, **options)))

    def subscribe_trading_account(self, account_id: str, **options: Any) -> bool:
        """Trading account ``account_id``'s events (orders, portfolio, balances) as
        ``Message`` events."""
        channel = self.channels.trading_account_channel(account_id)
        return bool(self._command(
            lambda protocol: protocol.subscribe_trading_account(channel, account_id, **options)))

    def unsubscribe_order_book(self, instrument_id: str) -> bool:
        """Undo ``subscribe_order_book(instrument_id)``; False when it was not subscribed."""
        return self.unsubscribe(self.channels.order_book_channel(instrument_id))

    def unsubscribe_trades(self, instrument_id: str) -> bool:
        """Undo ``subscribe_trades(instrument_id)``; False when it was not subscribed."""
        return self.unsubscribe(self.channels.trades_channel(instrument_id))

    def unsubscribe_trading_account(self, account_id: str) -> bool:
        """Undo ``subscribe_trading_account(account_id)``; False when it was not subscribed."""
        return self.unsubscribe(self.channels.trading_account_channel(account_id))

    def order_book(self, instrument_id: str, depth: Optional[int] = None) -> Optional[Book]:
        """The local book of ``instrument_id`` now, or None while it waits for a snapshot
        (or is not subscribed)."""
        channel = self.channels.order_book_channel(instrument_id)

        def read(protocol: CadenzaProtocol) -> Optional[Book]:
            keeper = protocol.order_book(channel)
            if keeper is None or not keeper.book.is_synced:
                return None
            return keeper.book.to_event(received_ns=time.time_ns(), depth=depth)

        result: Optional[Book] = self._command(read)
        return result

    def _resync_count(self) -> int:
        return self._cadenza.resyncs

    @property
    def resyncs(self) -> int:
        """Order books rebuilt from a fresh snapshot after missed publications."""
        return self._cadenza.resyncs
