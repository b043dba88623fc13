"""The sans-I/O Tradevest protocol: one ``PRICE_SUBSCRIPTION`` per socket, ``PRICES`` into
``Book`` events (keep-alives feed the watchdog only), ``ERROR`` into an ``ErrorEvent`` and a
close, and giving up after repeated sockets without prices
(docs/venues/tradevest.rst#tradevest-protocol).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from time import time_ns
from typing import TYPE_CHECKING, Any, Optional, Union

from wsclients.core import codec
from wsclients.core.amounts import checked_amount
from wsclients.core.client_options import check_count
from wsclients.core.protocol import CloseRequest, ProtocolBuffers
from wsclients.errors import (
    ProtocolViolation,
    SubscriptionRejected,
    TradevestError,
    WSClientError,
    shorten,
)
from wsclients.models import Book, BookLevel, ErrorEvent, Message
from wsclients.venues.tradevest.markets import (
    VENUE,
    MarketSpec,
    TradevestMarket,
    normalize_markets,
    parse_time_ns,
)

if TYPE_CHECKING:
    pass


def _decimal(value: Any, what: str) -> Decimal:
    # docs/venues/tradevest.rst#tradevest-messages: decimals are JSON strings. Integers are exact
    # too;
    # floats are refused rather than silently rounded.
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        try:
            number = Decimal(value)
        except InvalidOperation:
            pass
        else:
            # Prices and quantities of a spot crypto broker are never negative.
            return checked_amount(number, what)
    raise ValueError(f"{what} is not a decimal string: {shorten(value, 40)}")


def _levels(items: Any, side: str) -> tuple[BookLevel, ...]:
    if not isinstance(items, list):
        raise ValueError(f"{side} is not a list")
    levels = []
    for item in items:
        if not isinstance(item, dict):
            raise ValueError(f"a level in {side} is not an object")
        levels.append(
            BookLevel(
                _decimal(item.get("price"), "price"), _decimal(item.get("quantity"), "quantity")
            )
        )
    return tuple(levels)


def _market_of(item: Any) -> TradevestMarket:
    market = item.get("market")
    if not isinstance(market, dict):
        raise ValueError("entry has no market object")
    currency, crypto = market.get("currency"), market.get("cryptoSymbol")
    if not isinstance(currency, str) or not isinstance(crypto, str) or not currency or not crypto:
        raise ValueError("market lacks currency or cryptoSymbol")
    return TradevestMarket(currency, crypto)


_NOT_SENT = object()
# HTTP 400 on the upgrade: the venue lists it for the prices endpoint; the request is at fault.
_BAD_REQUEST = 400


class TradevestProtocol(ProtocolBuffers):
    """The Tradevest prices protocol, driven by strings alone (docs/design.rst#design-sans-io).

    Each fresh socket gets exactly one ``PRICE_SUBSCRIPTION`` for the markets in force at that
    moment. ``PRICES`` entries become ``Book`` events (full ladders, ``is_snapshot=True``);
    empty-ladder entries are keep-alives and yield nothing (the connection's stale watchdog
    counts the frame itself). ``ERROR`` becomes an ``ErrorEvent`` and a close request, so the
    connection reconnects with backoff.

    Sockets that end without a single ``PRICES`` message are counted; after ``max_failures``
    of them in a row the protocol asks for a fatal close instead of another attempt (an
    unknown market would otherwise be retried forever). ``max_failures=None`` never gives up.

    Single-threaded: the connection serialises every call (``set_markets`` arrives as a
    command from a user thread).
    """

    venue = VENUE

    def __init__(
        self,
        markets: Optional[Iterable[MarketSpec]] = None,
        *,
        max_failures: Optional[int] = 5,
    ) -> None:
        check_count("max_failures", max_failures, 1, none_ok=True,
                    none_means="to never give up")
        super().__init__()
        self._markets = normalize_markets(markets)
        self.max_failures = max_failures
        self._failures = 0
        self._socket_open = False
        """A socket is open (or just ended) and its outcome is not counted yet."""
        self._socket_had_prices = False
        self._sent: Any = _NOT_SENT
        # Each market's last ladders, for entries that carry one side only.
        self._last_sides: dict[str, tuple[tuple[BookLevel, ...], tuple[BookLevel, ...]]] = {}
        """The markets the live socket subscribed to; _NOT_SENT between sockets."""

    # -- configuration -------------------------------------------------------------------

    @property
    def markets(self) -> Optional[tuple[TradevestMarket, ...]]:
        """The markets the next socket subscribes to; None means every market."""
        return self._markets

    @property
    def failures(self) -> int:
        """Sockets in a row that ended without any ``PRICES`` message."""
        return self._failures

    def set_markets(self, markets: Optional[Iterable[MarketSpec]]) -> bool:
        """Use these markets from the next socket on.

        Resets the failure count, and the current socket's end is not counted as a failure:
        the caller closes it on purpose.

        Returns:
            True when a live socket carries a different subscription, so the caller must
            reconnect; False when no socket is subscribed (the next one picks the new markets
            up by itself) or the markets did not change.

        Raises:
            SubscriptionRejected: for an invalid market (nothing is changed then).
        """
        normalized = normalize_markets(markets)
        self._markets = normalized
        self._failures = 0
        stale = self._sent is not _NOT_SENT and self._sent != normalized
        if stale:
            self._socket_open = False
        return stale

    def on_close(self, code: Optional[int], reason: str) -> None:
        """The socket that carried the last subscription has ended."""
        self._sent = _NOT_SENT

    def subscription_message(self) -> str:
        """The ``PRICE_SUBSCRIPTION`` frame for the current markets.

        docs/venues/tradevest.rst#tradevest-protocol: ``markets`` is optional and, when omitted,
        means every
        market; so "every market" omits it rather than sending an empty list.
        """
        markets = self._markets
        body: dict[str, Any] = {}
        if markets:
            body["markets"] = [market.to_json() for market in markets]
        return codec.dumps({"type": "PRICE_SUBSCRIPTION", "priceSubscription": body})

    # -- VenueProtocol -------------------------------------------------------------------

    def on_open(self) -> None:
        """A fresh socket: queue its one ``PRICE_SUBSCRIPTION``."""
        self._socket_open = True
        self._socket_had_prices = False
        self._sent = self._markets
        self._last_sides.clear()  # a fresh socket starts from full ladders
        self._outgoing.append(self.subscription_message())
        self.open_session()

    def receive_text(self, data: Union[str, bytes], *, received_ns: int) -> None:
        """Parse one frame into events; never raises."""
        try:
            message = codec.loads(data)
        except ValueError as exc:
            self._report_error(ProtocolViolation("invalid JSON", raw=data), exc, received_ns, data)
            return
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "PRICES":
            self._receive_prices(message, received_ns)
        elif kind == "ERROR":
            self._receive_error(message, received_ns)
        elif isinstance(kind, str):
            # The response wrapper is meant to grow new types
            # (docs/venues/tradevest.rst#tradevest-protocol,
            # "all current and future message types"): pass them on rather than fail.
            self._events.append(
                Message(
                    venue=VENUE, channel=kind, data=message, received_ns=received_ns, raw=message
                )
            )
        else:
            self._report_error(
                ProtocolViolation("message without a type", raw=data), None, received_ns, data
            )

    def ping_message(self) -> Optional[str]:
        """None: the server expects no client messages after the subscription
        (docs/venues/tradevest.rst#tradevest-protocol), so a heartbeat, if any, is a WebSocket
        ping."""
        return None

    def is_fatal(self, code: Optional[int], exc: Optional[BaseException]) -> bool:
        """Counts a socket that ended without ``PRICES``; fatal once ``max_failures`` in a row.

        Called by the connection on every close. Connect errors before a socket opened are not
        counted here (they are the connection's ``max_attempts`` business), nor is a close
        asked for by ``set_markets``. An HTTP 400 on the upgrade (listed by the venue for the
        prices endpoint) is the request's fault: retrying it unchanged cannot help, so it is
        fatal at once, with the server's body in the message.
        """
        if code == _BAD_REQUEST and exc is not None and hasattr(exc, "resp_body"):
            body = getattr(exc, "resp_body", b"") or b""
            text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
            self._events.append(ErrorEvent.from_exception(
                SubscriptionRejected(
                    "PRICE_SUBSCRIPTION upgrade",
                    f"HTTP 400 Bad Request: {shorten(text) or 'no body'}",
                    code=_BAD_REQUEST,
                ),
                venue=VENUE, received_ns=time_ns(), fatal=True, code=_BAD_REQUEST,
            ))
            return True
        self._count_socket_end()
        return self._exhausted()

    # -- internals -----------------------------------------------------------------------

    def _count_socket_end(self) -> None:
        if self._socket_open:
            self._socket_open = False
            if not self._socket_had_prices:
                self._failures += 1

    def _exhausted(self) -> bool:
        return self.max_failures is not None and self._failures >= self.max_failures

    def _report_error(
        self,
        exc: WSClientError,
        cause: Optional[BaseException],
        received_ns: int,
        raw: Any,
        *,
        fatal: bool = False,
    ) -> None:
        if cause is not None:
            exc.__cause__ = cause
        if isinstance(raw, (str, bytes)):
            raw = shorten(raw)
        self._events.append(
            ErrorEvent.from_exception(
                exc, venue=VENUE, received_ns=received_ns, fatal=fatal, raw=raw
            )
        )

    def _receive_prices(self, message: dict[str, Any], received_ns: int) -> None:
        entries = message.get("prices")
        if not isinstance(entries, list):
            self._report_error(
                ProtocolViolation("PRICES without a prices list", raw=message),
                None,
                received_ns,
                message,
            )
            return
        parsed_any = False
        for item in entries:
            try:
                if not isinstance(item, dict):
                    raise ValueError("price entry is not an object")
                market = _market_of(item)
                asks = _levels(item.get("asks"), "asks")
                bids = _levels(item.get("bids"), "bids")
                time = item.get("time")
                if not isinstance(time, str):
                    raise ValueError("entry has no time")
                timestamp_ns = parse_time_ns(time)
            except (ValueError, ArithmeticError) as exc:
                violation = ProtocolViolation(f"bad PRICES entry: {exc}", raw=item)
                self._report_error(violation, exc, received_ns, item)
                continue
            parsed_any = True
            if not asks and not bids:
                continue  # the once-a-second keep-alive: nothing changed
            # Best first, whatever order the server used (the sample is already so).
            bid_side = tuple(sorted(bids, key=lambda level: level.price, reverse=True))
            ask_side = tuple(sorted(asks, key=lambda level: level.price))
            # The venue sends empty arrays when "no price change", so an entry with one side
            # empty says nothing about that side: keep the last one seen, and mark the Book
            # as not a full snapshot (docs/venues/tradevest.rst#tradevest-messages).
            last = self._last_sides.get(market.symbol, ((), ()))
            one_sided = not bids or not asks
            if not bids:
                bid_side = last[0]
            if not asks:
                ask_side = last[1]
            self._last_sides[market.symbol] = (bid_side, ask_side)
            self._events.append(
                Book(
                    venue=VENUE,
                    symbol=market.symbol,
                    bids=bid_side,
                    asks=ask_side,
                    timestamp_ns=timestamp_ns,
                    received_ns=received_ns,
                    is_snapshot=not one_sided,
                    raw=item,
                )
            )
        if parsed_any or not entries:
            self._socket_had_prices = True
            self._failures = 0

    def _receive_error(self, message: dict[str, Any], received_ns: int) -> None:
        text = message.get("error")
        connection_id = message.get("connectionId")
        error = TradevestError(
            text if isinstance(text, str) else shorten(text),
            connection_id=connection_id if isinstance(connection_id, str) else None,
        )
        self._count_socket_end()
        fatal = self._exhausted()
        failures = self._failures
        reason = str(error)
        if fatal:
            reason += f"; giving up after {failures} connections in a row without prices"
        self._events.append(
            ErrorEvent(
                venue=VENUE,
                message=reason,
                received_ns=received_ns,
                fatal=fatal,
                exception=error,
                raw=message,
            )
        )
        # docs/venues/tradevest.rst#tradevest-protocol: the server closes right after ERROR; closing
        # ourselves too means a server that forgets to does not leave a dead subscription.
        self.close_request = CloseRequest(reason=reason, fatal=fatal)
