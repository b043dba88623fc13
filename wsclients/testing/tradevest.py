"""FakeTradevest: a local Tradevest Websocket Prices server for tests and demos.

It follows the venue's page (https://docs.tradevest.ai/websockets/websocket-prices/prices):
the client sends one ``PRICE_SUBSCRIPTION``; the server then streams ``PRICES`` built from a
seeded ``Market`` — full ask and bid ladders for markets that changed, and an entry with empty
ladders every ``keepalive_interval`` for markets that did not ("every second … if no price
change"). The venue's communication diagram shows one market per ``PRICES`` message; its
JSON sample shows several in one: ``one_market_per_message=True`` sends the former.

What the venue documents: the single subscription message, the ``PRICES``/``ERROR`` shapes,
``ERROR`` followed by a close, the keep-alive entries, and HTTP 400/401/403 listed on the
endpoint. **Assumptions of this fake, not documented by the venue** (see
docs/venues/tradevest.rst#tradevest-unconfirmed): an ``ERROR`` for any second client message
or any first message that is not a valid subscription; the close code after ``ERROR``
(``error_close_code``, 1000); the error texts; an ``ERROR`` for an unsupported market; and
that a token is checked as ``Authorization: Bearer <token>`` (403 otherwise).

Use::

    with FakeTradevest(price_interval=0.1) as fake:
        client = TradevestClient([("EUR", "BTC")], url=fake.url)
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, Optional

from wsclients.testing.market import Market
from wsclients.testing.server import FakeConnection, FakeRequest, FakeServer

__all__ = ["DEFAULT_MARKETS", "FakeTradevest"]

DEFAULT_MARKETS: tuple[tuple[str, str], ...] = (("EUR", "BTC"), ("EUR", "ETH"), ("EUR", "SOL"))
"""The markets the fake knows by default, as ``(currency, cryptoSymbol)``."""

Pair = tuple[str, str]


class _Rejected(Exception):
    """A request the fake answers with ERROR; the text is the error message."""


class FakeTradevest(FakeServer):
    """Tradevest prices over a real WebSocket on 127.0.0.1.

    Args:
        markets: the markets the venue supports, ``(currency, cryptoSymbol)``; a subscription
            naming any other gets ``ERROR``; subscribing to "every market" streams these.
        token: when set, the upgrade must carry ``Authorization: Bearer <token>`` (else 403).
        price_interval: seconds between price changes (every subscribed market changes);
            None: prices never change after the first message, only keep-alives flow.
        keepalive_interval: a market with no change for this long gets an empty-ladder entry
            (the doc's "every second").
        depth: levels per side in each ladder.
        seed: seeds the ``Market`` of each connection (each connection starts the same walk).
        utc_offset_minutes: the offset written in ``time`` (the doc's sample has +02:00).
        error_close_code: the close code that follows an ``ERROR`` message.
        path: the URL path (the OpenAPI's ``/websocket/prices``).
        one_market_per_message: send each market's entry in a ``PRICES`` message of its own
            (the venue's diagram) instead of one message per tick (its JSON sample).
    """

    def __init__(
        self,
        *,
        markets: Iterable[Pair] = DEFAULT_MARKETS,
        token: Optional[str] = None,
        price_interval: Optional[float] = 0.2,
        keepalive_interval: float = 1.0,
        depth: int = 10,
        seed: int = 0,
        utc_offset_minutes: int = 120,
        error_close_code: int = 1000,
        path: str = "/websocket/prices",
        one_market_per_message: bool = False,
        **options: Any,
    ) -> None:
        super().__init__("tradevest", path=path, **options)
        self.markets: tuple[Pair, ...] = tuple((c, s) for c, s in markets)
        self.token = token
        self.price_interval = price_interval
        self.keepalive_interval = keepalive_interval
        self.depth = depth
        self.seed = seed
        self.error_close_code = error_close_code
        self.one_market_per_message = one_market_per_message
        self._tz = dt.timezone(dt.timedelta(minutes=utc_offset_minutes))
        # Guarded by the base class's _cond, like every other record.
        self._subscriptions: dict[int, Optional[tuple[Pair, ...]]] = {}
        self._error_ids: list[str] = []
        self._keepalives = 0
        self._prices_messages = 0

    # Records --------------------------------------------------------------------------------

    def subscription(self, conn: FakeConnection) -> Optional[tuple[Pair, ...]]:
        """The markets ``conn`` subscribed to (None: every market).

        Raises:
            KeyError: ``conn`` has no accepted subscription (yet).
        """
        with self._cond:
            return self._subscriptions[conn.index]

    def wait_for_subscription(
        self, conn: FakeConnection, *, timeout: float = 5.0
    ) -> Optional[tuple[Pair, ...]]:
        """Wait until ``conn``'s subscription was accepted; return its markets (None: all).

        Raises:
            TimeoutError: no accepted subscription within ``timeout``.
        """
        self._wait(
            lambda: conn.index in self._subscriptions,
            timeout,
            lambda: f"no accepted subscription on {conn!r}",
            conn,
        )
        return self.subscription(conn)

    @property
    def error_ids(self) -> list[str]:
        """The ``connectionId`` of every ``ERROR`` sent, in order."""
        with self._cond:
            return list(self._error_ids)

    @property
    def keepalives_sent(self) -> int:
        """Keep-alive entries (empty ladders) sent so far, over all connections."""
        with self._cond:
            return self._keepalives

    @property
    def prices_sent(self) -> int:
        """``PRICES`` messages sent so far, over all connections."""
        with self._cond:
            return self._prices_messages

    def wait_for_keepalives(self, n: int, *, timeout: float = 5.0) -> None:
        """Wait until ``n`` keep-alive entries have been sent in total.

        Raises:
            TimeoutError: fewer within ``timeout``.
        """
        self._wait(
            lambda: self._keepalives >= n, timeout, lambda: f"{self._keepalives} of {n} keep-alives"
        )

    # Actions --------------------------------------------------------------------------------

    def send_error(self, conn: FakeConnection, error: str = "Internal error") -> str:
        """Send ``ERROR`` with a fresh ``connectionId`` and close, as the venue does on any
        error; returns the ``connectionId``."""
        connection_id = str(uuid.uuid4())
        with self._cond:
            self._error_ids.append(connection_id)
            self._cond.notify_all()
        conn.send(json.dumps({"type": "ERROR", "error": error, "connectionId": connection_id}))
        conn.close(self.error_close_code)
        return connection_id

    def prices_message(self, entries: Iterable[dict[str, Any]]) -> str:
        """A ``PRICES`` frame holding ``entries`` (as built by ``entry``)."""
        return json.dumps({"type": "PRICES", "prices": list(entries)})

    def entry(
        self,
        pair: Pair,
        asks: Iterable[tuple[Decimal, Decimal]] = (),
        bids: Iterable[tuple[Decimal, Decimal]] = (),
    ) -> dict[str, Any]:
        """One ``prices[]`` entry, stamped now; empty ladders make a keep-alive."""
        now = dt.datetime.now(self._tz).isoformat(timespec="milliseconds")
        return {
            "market": {"currency": pair[0], "cryptoSymbol": pair[1]},
            "time": now,
            "asks": [{"price": str(p), "quantity": str(q)} for p, q in asks],
            "bids": [{"price": str(p), "quantity": str(q)} for p, q in bids],
        }

    # Hooks ----------------------------------------------------------------------------------

    def check_handshake(self, request: FakeRequest) -> Optional[tuple[int, str]]:
        if (
            self.token is not None
            and request.headers.get("Authorization") != f"Bearer {self.token}"
        ):
            return 403, json.dumps({"message": "Forbidden"})
        return None

    def handle(self, conn: FakeConnection) -> None:
        first = conn.recv()
        if first is None:
            return
        try:
            pairs = self._parse_subscription(first)
        except _Rejected as exc:
            self.send_error(conn, str(exc))
            return
        with self._cond:
            self._subscriptions[conn.index] = pairs
            self._cond.notify_all()
        self.start_thread(self._stream, conn, pairs or self.markets, name=f"stream-{conn.index}")
        # docs/venues/tradevest.rst#tradevest-protocol: after the subscription the server expects
        # nothing.
        if conn.recv() is not None:
            self.send_error(conn, "Unexpected message: the subscription cannot be changed")

    # Internals ------------------------------------------------------------------------------

    def _parse_subscription(self, message: Any) -> Optional[tuple[Pair, ...]]:
        try:
            request = json.loads(message)
        except ValueError:
            raise _Rejected("Malformed request: not JSON") from None
        if not isinstance(request, dict) or request.get("type") != "PRICE_SUBSCRIPTION":
            raise _Rejected("Malformed request: expected a PRICE_SUBSCRIPTION message")
        body = request.get("priceSubscription", {})
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise _Rejected("Malformed request: priceSubscription is not an object")
        markets = body.get("markets")
        if markets is None or markets == []:
            return None  # omitted or empty: every market
        if not isinstance(markets, list):
            raise _Rejected("Malformed request: markets is not an array")
        pairs: dict[Pair, None] = {}
        for market in markets:
            if not isinstance(market, dict):
                raise _Rejected("Malformed request: a market is not an object")
            pair = (market.get("currency"), market.get("cryptoSymbol"))
            if not all(isinstance(part, str) for part in pair):
                raise _Rejected("Malformed request: market needs currency and cryptoSymbol")
            if pair not in self.markets:
                raise _Rejected(f"Unsupported market: {pair[0]}/{pair[1]}")
            pairs[pair] = None  # type: ignore[index]
        return tuple(pairs)

    def _ladders(
        self, market: Market, symbol: str
    ) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        bids, asks = market.book(symbol)
        depth = self.depth
        return (
            [(price, size) for price, size, _count in asks[:depth]],
            [(price, size) for price, size, _count in bids[:depth]],
        )

    def _stream(self, conn: FakeConnection, pairs: tuple[Pair, ...]) -> None:
        """One connection's PRICES stream; runs in a helper thread until the socket ends."""
        symbols = {pair: f"{pair[1]}-{pair[0]}" for pair in pairs}
        market = Market(list(symbols.values()), seed=self.seed, depth=max(self.depth, 1) + 2)
        # The first message carries every subscribed market, so a client has books at once.
        self._send_prices(
            conn,
            [self.entry(pair, *self._ladders(market, symbols[pair])) for pair in pairs],
            keepalives=0,
        )
        now = time.monotonic()
        last_sent = dict.fromkeys(pairs, now)
        next_change = None if self.price_interval is None else now + self.price_interval
        tick = min(x for x in (self.price_interval, self.keepalive_interval) if x) / 4
        stopping = self.stopping
        while conn.is_open and not stopping.wait(tick):
            now = time.monotonic()
            entries = []
            keepalives = 0
            if next_change is not None and now >= next_change:
                next_change = now + (self.price_interval or 0.0)
                for pair in pairs:
                    market.step_book(symbols[pair], changes=3)
                    entries.append(self.entry(pair, *self._ladders(market, symbols[pair])))
                    last_sent[pair] = now
            for pair in pairs:
                if now - last_sent[pair] >= self.keepalive_interval:
                    entries.append(self.entry(pair))
                    last_sent[pair] = now
                    keepalives += 1
            if entries:
                self._send_prices(conn, entries, keepalives=keepalives)

    def _send_prices(
        self, conn: FakeConnection, entries: list[dict[str, Any]], *, keepalives: int
    ) -> None:
        if not conn.is_open or conn.is_silent:
            return
        batches = [[entry] for entry in entries] if self.one_market_per_message else [entries]
        for batch in batches:
            conn.send(self.prices_message(batch))
        with self._cond:
            self._prices_messages += len(batches)
            self._keepalives += keepalives
            self._cond.notify_all()
