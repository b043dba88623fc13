"""Tradevest markets and times: a market is ``{"currency": "EUR", "cryptoSymbol": "BTC"}`` on the
wire, ``"EUR/BTC"`` (or ``"BTC-EUR"``, or a tuple) for users, ``"BTC-EUR"`` in events; the
venue's ISO times become integer nanoseconds (docs/venues/tradevest.rst#tradevest-messages).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, NamedTuple, Optional, Union

from wsclients.errors import (
    SubscriptionRejected,
    shorten,
)

if TYPE_CHECKING:
    pass


VENUE = "tradevest"

# docs/venues/tradevest.rst#tradevest-endpoint: the OpenAPI lists only a Test and a Pretest server
# (no
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

    docs/venues/tradevest.rst#tradevest-messages: times carry milliseconds and a local offset
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
