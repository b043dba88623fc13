"""TradevestClient: the protocol on a managed socket, the token as a bearer header, and
``set_markets`` reconnecting with the new set.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Optional, Union

from wsclients.core.client import HeaderSource, SubscribingClient
from wsclients.venues.tradevest.markets import (
    DEFAULT_URL,
    VENUE,
    MarketSpec,
    TradevestMarket,
    normalize_markets,
)
from wsclients.venues.tradevest.protocol import TradevestProtocol

if TYPE_CHECKING:
    pass


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
            document WebSocket auth (docs/venues/tradevest.rst#tradevest-auth); its REST tokens are
            OAuth2 client credentials. Kept out of every repr, log and event.
        max_failures: sockets in a row that may end without prices before giving up;
            None never gives up.
        **options: the options every client takes (docs/options.rst): ``url`` (default: the Test
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
