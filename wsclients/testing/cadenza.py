"""FakeCadenza: FakeCentrifugo serving Cadenza's market-data and trading-account channels, fed
by a seeded ``Market``.

Cadenza (algo724) runs a standard Centrifugo behind
``wss://cadenza-ws.algo724.com/connection/websocket``; its WebSocket API is documented with
the OpenAPI clients (``docs/WebSocketApi.md`` in https://github.com/cyberapper/cadenza-client-python).
Everything of FakeCentrifugo holds here; on top of it:

- **Channels**, from an overridable template (``ChannelTemplates``). ``LEGACY_CHANNELS`` (the
  default) are the names of the WebSocket API page: ``market:orderBook:{instrumentId}``,
  ``market:trade:{instrumentId}``, ``tradingAccount:{accountId}``. ``CURRENT_CHANNELS`` are the
  names of the newer spec (2026-05): ``market:orderbook:{venue}:{symbol}``,
  ``market:trade:{venue}:{symbol}``. Instrument ids are ``{VENUE}:{BASE}/{QUOTE}``.
- **Order book** publications in the spec's ``orderBook`` schema (camelCase, decimals as
  strings, bids best first descending, asks ascending)::

      {"updateType": "SNAPSHOT", "instrumentId": "BINANCE:BTC/USDT", "venue": "BINANCE",
       "symbol": "BTC/USDT", "orderBookType": "L2", "columns": ["price", "quantity"],
       "bids": [["64999.9", "0.042"]], "asks": [["65000.0", "0.007"]],
       "timestamp": 1700000000001}

  ``SNAPSHOT`` replaces the book; ``DIFF`` carries only the changed levels, a ``"0"`` quantity
  deleting the level. ``book(instrument)`` is the fake's own book after the last publication.
- **Trades**, one publication per trade::

      {"instrumentId": "BINANCE:BTC/USDT", "venue": "BINANCE", "symbol": "BTC/USDT",
       "tradeId": "17", "price": "65000.1", "quantity": "0.003", "side": "BUY",
       "timestamp": 1700000000002}

- **Trading-account events**, scripted by tests: ``publish_order_update`` sends
  ``{"type": "orderUpdate", "order": {...}}``, ``publish_account_event`` any payload.

Assumptions (Cadenza does not publish them): the publication ``data`` is the bare payload (not
the ``wsMarketOrderBookUpdate`` wrapper); a SNAPSHOT is published into a book channel when a
client subscribes (so every subscriber, and a recovering one, has a starting point) and every
``snapshot_every`` steps; the first publication of a book channel is a SNAPSHOT; the trade
payload's shape; the namespaces keep a history and force recovery (``CADENZA_NAMESPACES``);
any authenticated user may subscribe to any channel unless ``account_owners`` is given; no
market-data subscription RPC is needed before data flows.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import attrs

from wsclients.testing.centrifugo import ChannelOptions, FakeCentrifugo
from wsclients.testing.market import DEFAULT_SPECS, Level, Market, SyntheticTrade

__all__ = [
    "CADENZA_NAMESPACES",
    "CURRENT_CHANNELS",
    "LEGACY_CHANNELS",
    "ChannelTemplates",
    "FakeCadenza",
]


@attrs.frozen(kw_only=True)
class ChannelTemplates:
    """Channel name templates. Placeholders: ``{instrumentId}``, ``{venue}``, ``{symbol}``
    (market channels) and ``{accountId}`` (trading-account channel)."""

    order_book: str
    trade: str
    trading_account: str

    def order_book_channel(self, instrument_id: str) -> str:
        return self.order_book.format(**_ids(instrument_id))

    def trade_channel(self, instrument_id: str) -> str:
        return self.trade.format(**_ids(instrument_id))

    def trading_account_channel(self, account_id: str) -> str:
        return self.trading_account.format(accountId=account_id)


LEGACY_CHANNELS = ChannelTemplates(
    order_book="market:orderBook:{instrumentId}",
    trade="market:trade:{instrumentId}",
    trading_account="tradingAccount:{accountId}",
)
"""The names of Cadenza's WebSocket API page (and of its clients before 2026-05)."""

CURRENT_CHANNELS = ChannelTemplates(
    order_book="market:orderbook:{venue}:{symbol}",
    trade="market:trade:{venue}:{symbol}",
    trading_account="tradingAccount:{accountId}",
)
"""The names of the 2026-05 spec (lowercase ``orderbook``, venue and symbol)."""

_STREAM = ChannelOptions(history_size=300, history_ttl=300.0, force_recovery=True,
                         allow_subscribe_for_client=True)

CADENZA_NAMESPACES: Mapping[str, ChannelOptions] = {"market": _STREAM, "tradingAccount": _STREAM}
"""Both namespaces with history and forced recovery, open to authenticated users (assumed)."""

_TAKER_SIDE = {"buy": "BUY", "sell": "SELL"}


class FakeCadenza(FakeCentrifugo):
    """FakeCentrifugo with Cadenza's channels. Options are keyword-only; any other keyword
    goes to FakeCentrifugo (``secret``, ``ping_interval``, ``namespaces``, ...).

    Args:
        instruments: instrument ids served (``{VENUE}:{BASE}/{QUOTE}``).
        seed: seeds the market (and FakeCentrifugo's epochs and client ids).
        depth: book levels per side (ticks of the market's window).
        channels: the channel name templates.
        changes_per_step: levels the market resizes per book step.
        snapshot_on_subscribe: publish a SNAPSHOT into a book channel after each subscribe.
        snapshot_every: also publish a SNAPSHOT instead of a DIFF every this many steps of an
            instrument (None: never).
        rate: steps per second streamed from ``start()`` (None: only ``step()`` moves).
        account_owners: account id → the user (``sub``) allowed on its channel; when given,
            other users, and accounts not listed, get 103.

    Unlike FakeCentrifugo's defaults, ``include_server_time`` and ``include_publication_time``
    are on, and ``namespaces`` is ``CADENZA_NAMESPACES``.
    """

    def __init__(
        self,
        *,
        instruments: Sequence[str] = ("BINANCE:BTC/USDT", "BINANCE:ETH/USDT"),
        seed: int = 0,
        depth: int = 20,
        channels: ChannelTemplates = LEGACY_CHANNELS,
        changes_per_step: int = 5,
        snapshot_on_subscribe: bool = True,
        snapshot_every: int | None = 50,
        rate: float | None = None,
        account_owners: Mapping[str, str] | None = None,
        name: str = "cadenza",
        **options: Any,
    ) -> None:
        options.setdefault("namespaces", CADENZA_NAMESPACES)
        # Cadenza's examples show a server time in the connect reply and a time in
        # publications (docs/WebSocketApi.md, WsConnectResult / WsPublication).
        options.setdefault("include_server_time", True)
        options.setdefault("include_publication_time", True)
        super().__init__(seed=seed, name=name, **options)
        for instrument in instruments:
            _ids(instrument)  # fail early on a malformed id
        self.instruments = tuple(instruments)
        self.channels = channels
        self.changes_per_step = changes_per_step
        self.snapshot_on_subscribe = snapshot_on_subscribe
        self.snapshot_every = snapshot_every
        self.rate = rate
        self.account_owners = None if account_owners is None else dict(account_owners)
        specs = {i: DEFAULT_SPECS[_base(i)] for i in instruments if _base(i) in DEFAULT_SPECS}
        self._market = Market(self.instruments, seed=seed, depth=depth,
                              specs=specs or None)
        self._book_channels = {channels.order_book_channel(i): i for i in instruments}
        self._steps = dict.fromkeys(self.instruments, 0)
        self._snapshotted: set[str] = set()
        self._streaming = threading.Event()
        if rate is not None:
            self._streaming.set()
        self._stream_thread_running = False

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> FakeCadenza:
        """Serve (see ``FakeCentrifugo.start``) and start the streaming thread."""
        super().start()
        with self._lock:
            if self._stream_thread_running:
                return self
            self._stream_thread_running = True
        self.start_thread(self._stream_loop, name="market")
        return self

    def stop(self, timeout: float = 5.0) -> None:
        super().stop(timeout)
        with self._lock:
            self._stream_thread_running = False

    def start_streaming(self, rate: float | None = None) -> None:
        """Step the market ``rate`` times per second on its own."""
        if rate is not None:
            self.rate = rate
        if not self.rate:
            raise ValueError("start_streaming needs a rate")
        self._streaming.set()

    def stop_streaming(self) -> None:
        self._streaming.clear()

    # ----------------------------------------------------------------- channels

    def book_channel(self, instrument: str) -> str:
        return self.channels.order_book_channel(instrument)

    def trade_channel(self, instrument: str) -> str:
        return self.channels.trade_channel(instrument)

    def account_channel(self, account_id: str) -> str:
        return self.channels.trading_account_channel(account_id)

    # ----------------------------------------------------------------- market

    def book(self, instrument: str) -> tuple[list[tuple[Decimal, Decimal]],
                                             list[tuple[Decimal, Decimal]]]:
        """The book as published so far: ``(bids, asks)`` of ``(price, quantity)``, best
        first. What a client that applied every SNAPSHOT and DIFF must hold."""
        with self._lock:
            bids, asks = self._market.book(instrument)
        return [(p, q) for p, q, _ in bids], [(p, q) for p, q, _ in asks]

    def step(self, n: int = 1) -> None:
        """Move the market ``n`` times: per instrument, a trade and a book step, each
        published (the book step as a DIFF, or a SNAPSHOT as described)."""
        for _ in range(n):
            with self._lock:
                for instrument in self.instruments:
                    trade = self._market.next_trade(instrument)
                    self.publish(self.trade_channel(instrument),
                                 self.trade_payload(instrument, trade))
                    change = self._market.step_book(instrument, self.changes_per_step)
                    self._steps[instrument] += 1
                    every = self.snapshot_every
                    if instrument not in self._snapshotted or (
                            every and self._steps[instrument] % every == 0):
                        self.publish_snapshot(instrument)
                    else:
                        self.publish(self.book_channel(instrument), self.book_payload(
                            instrument, "DIFF", change.bids, change.asks,
                            change.timestamp_ns // 1_000_000))

    def publish_snapshot(self, instrument: str) -> int:
        """Publish the whole book of ``instrument`` as a SNAPSHOT; returns its offset."""
        with self._lock:
            snapshot = self._market.snapshot(instrument)
            self._snapshotted.add(instrument)
            return self.publish(self.book_channel(instrument), self.book_payload(
                instrument, "SNAPSHOT", snapshot.bids, snapshot.asks,
                snapshot.timestamp_ns // 1_000_000))

    def publish_trade(
        self, instrument: str, price: Decimal | str, quantity: Decimal | str, side: str = "BUY",
        *, trade_id: str = "0", timestamp_ms: int | None = None,
    ) -> dict[str, Any]:
        """Publish one scripted trade (``timestamp_ms`` default: now); returns the payload."""
        ids = _ids(instrument)
        payload = {"instrumentId": instrument, "venue": ids["venue"], "symbol": ids["symbol"],
                   "tradeId": trade_id, "price": str(price), "quantity": str(quantity),
                   "side": side,
                   "timestamp": time.time_ns() // 1_000_000 if timestamp_ms is None
                   else timestamp_ms}
        self.publish(self.trade_channel(instrument), payload)
        return payload

    def publish_order_update(self, account_id: str, order: Mapping[str, Any]) -> int:
        """``{"type": "orderUpdate", "order": order}`` on the account's channel (the shape of
        the only example Cadenza gives); returns the offset."""
        return self.publish(self.account_channel(account_id),
                            {"type": "orderUpdate", "order": dict(order)})

    def publish_account_event(self, account_id: str, data: Any) -> int:
        """Any payload on the account's channel; returns the offset."""
        return self.publish(self.account_channel(account_id), data)

    # ----------------------------------------------------------------- payloads

    def book_payload(
        self, instrument: str, update_type: str, bids: Sequence[Level], asks: Sequence[Level],
        timestamp_ms: int,
    ) -> dict[str, Any]:
        """The ``orderBook`` object of one publication (override for another shape)."""
        ids = _ids(instrument)
        return {
            "updateType": update_type, "instrumentId": instrument, "venue": ids["venue"],
            "symbol": ids["symbol"], "orderBookType": "L2", "columns": ["price", "quantity"],
            "bids": [[str(price), str(size)] for price, size, _ in bids],
            "asks": [[str(price), str(size)] for price, size, _ in asks],
            "timestamp": timestamp_ms,
        }

    def trade_payload(self, instrument: str, trade: SyntheticTrade) -> dict[str, Any]:
        """The payload of one trade publication (an assumed shape; override for another)."""
        ids = _ids(instrument)
        return {
            "instrumentId": instrument, "venue": ids["venue"], "symbol": ids["symbol"],
            "tradeId": str(trade.trade_id), "price": str(trade.price),
            "quantity": str(trade.size), "side": _TAKER_SIDE[trade.side],
            "timestamp": trade.timestamp_ns // 1_000_000,
        }

    # ----------------------------------------------------------------- FakeCentrifugo hooks

    def authorize_subscribe(self, channel: str, user: str) -> int | None:
        if self.account_owners is None:
            return None
        owners = {self.account_channel(a): owner for a, owner in self.account_owners.items()}
        prefix = self.channels.trading_account.split("{", 1)[0]
        if channel.startswith(prefix) and owners.get(channel) != user:
            return 103
        return None

    def after_subscribe(self, channel: str, client: str) -> None:
        instrument = self._book_channels.get(channel)
        if instrument is not None and self.snapshot_on_subscribe:
            self.publish_snapshot(instrument)

    def _stream_loop(self) -> None:
        while not self.stopping.is_set():
            if not self._streaming.is_set() or not self.rate:
                self.stopping.wait(0.02)
                continue
            self.step()
            self.stopping.wait(1.0 / self.rate)


def _ids(instrument_id: str) -> dict[str, str]:
    venue, separator, symbol = instrument_id.partition(":")
    if not separator or "/" not in symbol:
        raise ValueError(f"instrument ids look like BINANCE:BTC/USDT, got {instrument_id!r}")
    return {"instrumentId": instrument_id, "venue": venue, "symbol": symbol}


def _base(instrument_id: str) -> str:
    return _ids(instrument_id)["symbol"].split("/", 1)[0].upper()

