"""Tradevest Websocket Prices: bid/ask ladders for EUR/crypto markets.

One socket carries one ``PRICE_SUBSCRIPTION``, fixed for its lifetime (tradevest-prices.md:
"if the client would like to modify the list of subscribed assets then a new connection should
be established"). The server then streams ``PRICES`` messages, each holding full ask and bid
ladders per market, plus a once-a-second entry with empty ladders for markets whose prices did
not change (the keep-alive). On any error it sends one ``ERROR`` message and closes.

``TradevestProtocol`` is the sans-I/O part (no socket, thread or clock); ``TradevestClient``
puts it on a managed connection.

Symbols: the venue has no instrument id, only ``{"currency": "EUR", "cryptoSymbol": "BTC"}``.
Users name a market ``"EUR/BTC"`` (currency first, as the venue's JSON has it) in the API, the
CLI and the examples alike; events name it ``"BTC-EUR"`` (crypto first, as a base-quote pair
is usually written), and every place that takes markets accepts that string too, as well as a
``("EUR", "BTC")`` tuple.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from time import time_ns
from typing import TYPE_CHECKING, Any, Callable, ClassVar, NamedTuple, Optional, Union

from wsclients.core import codec
from wsclients.core.amounts import checked_amount
from wsclients.core.client import HeaderSource, SubscribingClient
from wsclients.core.protocol import CloseRequest, ProtocolBuffers
from wsclients.errors import (
    ProtocolViolation,
    SubscriptionRejected,
    TradevestError,
    WSClientError,
    shorten,
)
from wsclients.models import Book, BookLevel, ErrorEvent, Message

if TYPE_CHECKING:
    from wsclients.recording.registry import ReplayContext, VenueRecording

__all__ = [
    "DEFAULT_URL",
    "PRETEST_URL",
    "TEST_URL",
    "MarketSpec",
    "TradevestClient",
    "TradevestError",
    "TradevestMarket",
    "TradevestProtocol",
    "normalize_markets",
    "parse_time_ns",
    "recording",
]

VENUE = "tradevest"

# venues/allium-tradevest.md §4.1: the OpenAPI lists only a Test and a Pretest server (no
# production host is documented) and the path `/websocket/prices` (singular; a secondary
# source writes `/websockets/prices`). The path is simply part of the URL a user can set.
TEST_URL = "wss://prices-provider.platform-test.tradevest.ai/websocket/prices"
PRETEST_URL = "wss://prices-provider.platform-pretest.tradevest.ai/websocket/prices"
DEFAULT_URL = TEST_URL


class TradevestMarket(NamedTuple):
    """One market: a fiat currency and a digital asset, spelled as the venue spells them."""

    currency: str
    crypto_symbol: str

    @property
    def symbol(self) -> str:
        """The name events carry for this market: ``"BTC-EUR"``."""
        return f"{self.crypto_symbol}-{self.currency}"

    def to_json(self) -> dict[str, str]:
        """The venue's ``market`` object."""
        return {"currency": self.currency, "cryptoSymbol": self.crypto_symbol}


MarketSpec = Union[TradevestMarket, tuple[str, str], str]
"""A market as users write it: ``"EUR/BTC"`` (currency first, as the venue's JSON has it; the
form the CLI and examples use too), ``("EUR", "BTC")``, or ``"BTC-EUR"`` (the symbol events
carry, so an event's symbol can be passed back)."""

_CODE = re.compile(r"[A-Z0-9]{1,20}")


def _check_code(value: Any, what: str, spec: Any) -> str:
    if not isinstance(value, str) or not _CODE.fullmatch(value):
        hint = ""
        if isinstance(value, str) and _CODE.fullmatch(value.upper()):
            hint = f" (did you mean {value.upper()!r}?)"
        raise SubscriptionRejected(
            spec, f"{what} must be an upper-case code such as 'EUR' or 'BTC'{hint}"
        )
    return value


def _to_market(spec: Any) -> TradevestMarket:
    if isinstance(spec, str):
        slash = spec.split("/")
        dash = spec.split("-")
        if len(slash) == 2 and len(dash) == 1:
            currency, crypto = slash
        elif len(dash) == 2 and len(slash) == 1:
            crypto, currency = dash
        else:
            raise SubscriptionRejected(
                spec, "a market string is written CURRENCY/CRYPTO, e.g. 'EUR/BTC' (or as the "
                "symbol events carry, 'BTC-EUR')"
            )
    elif isinstance(spec, tuple) and len(spec) == 2:
        currency, crypto = spec
    else:
        raise SubscriptionRejected(
            spec, "a market is a (currency, crypto_symbol) pair such as ('EUR', 'BTC')"
        )
    return TradevestMarket(
        _check_code(currency, "currency", spec), _check_code(crypto, "crypto symbol", spec)
    )


def normalize_markets(
    markets: Optional[Iterable[MarketSpec]],
) -> Optional[tuple[TradevestMarket, ...]]:
    """Validate markets as users write them; None (or nothing) means every market.

    Duplicates are dropped, order is kept.

    Raises:
        SubscriptionRejected: (also a ``ValueError``) for a market that is not two upper-case
            codes; raised before anything is sent, since the venue answers a bad market with
            ``ERROR`` and a closed socket.
    """
    if markets is None:
        return None
    if isinstance(markets, (str, TradevestMarket)):
        # A single market passed where a list was expected: a frequent slip, and iterating a
        # string would produce one-letter "markets".
        markets = [markets]
    result: dict[TradevestMarket, None] = {}
    for spec in markets:
        result[_to_market(spec)] = None
    return tuple(result) or None


_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?"
    r"(?:(Z|z)|([+-])(\d{2}):?(\d{2}))?"
)
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


def parse_time_ns(text: str) -> int:
    """An ISO-8601 time with its offset → integer nanoseconds since the epoch (UTC).

    venues/allium-tradevest.md §4.2: times carry milliseconds and a local offset
    (``"2024-07-10T08:01:22.783+02:00"``). Parsed by hand because ``datetime.fromisoformat``
    on Python < 3.11 rejects ``Z`` and would round the fraction to microseconds anyway.
    A time without an offset is taken as UTC.

    Raises:
        ValueError: when ``text`` is not such a time.
    """
    match = _TIME.fullmatch(text)
    if match is None:
        raise ValueError(f"not an ISO-8601 time: {shorten(text)!r}")
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    # The constructors check the ranges (month 13, hour 25 …) for us.
    days = dt.date(year, month, day).toordinal() - _EPOCH_ORDINAL
    dt.time(hour, minute, second)
    seconds = days * 86_400 + hour * 3_600 + minute * 60 + second
    if match.group(9):
        offset_h, offset_m = int(match.group(10)), int(match.group(11))
        if offset_h > 23 or offset_m > 59:
            raise ValueError(f"bad UTC offset in {text!r}")
        offset = offset_h * 3_600 + offset_m * 60
        seconds -= offset if match.group(9) == "+" else -offset
    fraction = match.group(7) or ""
    return seconds * 1_000_000_000 + int(fraction.ljust(9, "0") or 0)


def _decimal(value: Any, what: str) -> Decimal:
    # venues/allium-tradevest.md §4.2: decimals are JSON strings. Integers are exact too;
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


class TradevestProtocol(ProtocolBuffers):
    """The Tradevest prices protocol, driven by strings alone (STYLE §6.1).

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

    venue: ClassVar[str] = VENUE

    def __init__(
        self,
        markets: Optional[Iterable[MarketSpec]] = None,
        *,
        max_failures: Optional[int] = 5,
    ) -> None:
        if max_failures is not None and max_failures < 1:
            raise ValueError("max_failures must be at least 1 (or None for no limit)")
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

        venue-docs/tradevest-prices.md: ``markets`` is optional and, when omitted, means every
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
            self._report(ProtocolViolation("invalid JSON", raw=data), exc, received_ns, data)
            return
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "PRICES":
            self._receive_prices(message, received_ns)
        elif kind == "ERROR":
            self._receive_error(message, received_ns)
        elif isinstance(kind, str):
            # The response wrapper is meant to grow new types (venue-docs/tradevest-prices.md,
            # "all current and future message types"): pass them on rather than fail.
            self._events.append(
                Message(
                    venue=VENUE, channel=kind, data=message, received_ns=received_ns, raw=message
                )
            )
        else:
            self._report(
                ProtocolViolation("message without a type", raw=data), None, received_ns, data
            )

    def ping_message(self) -> Optional[str]:
        """None: the server expects no client messages after the subscription
        (venue-docs/tradevest-prices.md), so a heartbeat, if any, is a WebSocket ping."""
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

    def _report(
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
            self._report(
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
                self._report(violation, exc, received_ns, item)
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
        # venue-docs/tradevest-prices.md: the server closes right after ERROR; closing
        # ourselves too means a server that forgets to does not leave a dead subscription.
        self.close_request = CloseRequest(reason=reason, fatal=fatal)


def _check_token(token: Any) -> str:
    if not isinstance(token, str) or not token or any(c in token for c in "\r\n"):
        raise ValueError("token must be a non-empty string without line breaks")
    return token


def _with_bearer(headers: Any, token: Union[str, Callable[[], str]]) -> HeaderSource:
    """``headers`` with ``Authorization: Bearer <token>`` replacing any Authorization of
    theirs (any case); built per connect when the token or the headers are callables."""

    def build() -> dict[str, str]:
        given = headers() if callable(headers) else dict(headers or {})
        merged = {k: v for k, v in given.items() if k.lower() != "authorization"}
        merged["Authorization"] = "Bearer " + _check_token(token() if callable(token) else token)
        return merged

    if callable(token) or callable(headers):
        return build
    return build()  # a fixed token is checked now, before anything connects


_BAD_REQUEST = 400


def _describe_markets(markets: Optional[tuple[TradevestMarket, ...]]) -> str:
    if not markets:
        return "every market"
    return ", ".join(market.symbol for market in markets)


class TradevestClient(SubscribingClient):
    """Live bid/ask ladders from Tradevest Websocket Prices.

    Every ``PRICES`` entry becomes a ``Book`` (``symbol`` ``"BTC-EUR"``, full ladders,
    ``is_snapshot=True``); keep-alive entries yield nothing but keep the stale watchdog fed.
    An ``ERROR`` from the server becomes an ``ErrorEvent`` (its text and ``connectionId``)
    and a reconnect with backoff; after ``max_failures`` sockets in a row without a single
    ``PRICES`` message (an unknown market, say) the client stops with a fatal ``ErrorEvent``.

    Args:
        markets: ``["EUR/BTC", "EUR/ETH"]`` (currency first, as the venue's JSON has it),
            ``[("EUR", "BTC")]``, or the symbols events carry (``["BTC-EUR"]``); upper case.
            None or empty subscribes to every market.
        token: sent as ``Authorization: Bearer <token>`` on the upgrade (replacing any
            ``Authorization`` in ``headers``); a callable is asked for the token on every
            (re)connect, so a token that expires (the REST ones last an hour) can be
            fetched anew instead of failing the next reconnect. The venue does not
            document WebSocket auth (venues/allium-tradevest.md §4.3); its REST tokens are
            OAuth2 client credentials. Kept out of every repr, log and event.
        max_failures: sockets in a row that may end without prices before giving up;
            None never gives up.
        **options: the options every client takes (DESIGN §2.1): ``url`` (default: the Test
            server and the OpenAPI's ``/websocket/prices`` path; no production host is
            documented, so set it), callbacks, backoff, ``stale_timeout`` (default 5 s: the
            server sends something every second), ``headers`` (e.g. a ``Requestor-ID``) …

    Raises:
        SubscriptionRejected: (also a ``ValueError``) for a malformed market, at once.
    """

    venue: ClassVar[str] = VENUE
    default_url: ClassVar[str] = DEFAULT_URL
    # tradevest-prices.md: the server sends PRICES (keep-alives at least) every second and
    # expects no client message after the subscription, so silence is the only heartbeat
    # needed; a few missed seconds mean a dead socket.
    default_ping_interval: ClassVar[Optional[float]] = None
    default_stale_timeout: ClassVar[Optional[float]] = 5.0

    def __init__(
        self,
        markets: Optional[Iterable[MarketSpec]] = None,
        *,
        token: Optional[Union[str, Callable[[], str]]] = None,
        max_failures: Optional[int] = 5,
        **options: Any,
    ) -> None:
        protocol = TradevestProtocol(markets, max_failures=max_failures)
        if token is not None:
            options["headers"] = _with_bearer(options.pop("headers", None), token)
        self._prices = protocol
        super().__init__(protocol, **options)

    @property
    def markets(self) -> Optional[tuple[TradevestMarket, ...]]:
        """The subscribed markets; None means every market."""
        return self._prices.markets

    def set_markets(self, markets: Optional[Iterable[MarketSpec]]) -> None:
        """Subscribe to these markets instead (None or empty: every market).

        A subscription cannot change on a live socket (tradevest-prices.md), so a connected
        client closes it and reconnects at once; a ``Status`` event (RECONNECTING) says why.
        Before ``start()``, or between sockets, the next socket simply uses the new set.
        Safe from any thread.

        Raises:
            SubscriptionRejected: for a malformed market; the old markets stay.
        """
        normalized = normalize_markets(markets)  # raises before anything changes
        if self._command(lambda protocol: protocol.set_markets(normalized)):
            self._reconnect(f"markets changed to {_describe_markets(self._prices.markets)}")


# -- record and replay --------------------------------------------------------------------


def recording() -> VenueRecording:
    """How Tradevest sockets are recorded and rebuilt (``wsclients.recording.registry``):
    the description is the markets the socket subscribed to (None: every market)."""
    from wsclients.recording.registry import VenueRecording

    return VenueRecording(
        venue=VENUE,
        describe=_describe_for_recording,
        build=_replay_protocol,
        resubscribe=_replay_markets,
        client_config=lambda client: {"max_failures": client._prices.max_failures},
    )


def _describe_for_recording(protocol: TradevestProtocol) -> Optional[list[dict[str, str]]]:
    markets = protocol.markets
    return None if markets is None else [market.to_json() for market in markets]


def _from_description(description: Any) -> Optional[list[TradevestMarket]]:
    if description is None:
        return None
    return [TradevestMarket(m["currency"], m["cryptoSymbol"]) for m in description]


def _replay_protocol(description: Any, context: ReplayContext) -> TradevestProtocol:
    config = context.config if isinstance(context.config, dict) else {}
    return TradevestProtocol(
        _from_description(description), max_failures=config.get("max_failures", 5)
    )


def _replay_markets(protocol: TradevestProtocol, description: Any) -> None:
    markets = normalize_markets(_from_description(description))
    if markets != protocol.markets:
        protocol.set_markets(markets)
