"""A venue's own constructor options are checked in the constructor, as the common ones are.

A bad value (negative, zero where it means nothing, a string, a bool for an int) raises
``InvalidOption`` naming the option before anything else happens, instead of being taken
silently and failing later (or never). Clients are constructed, never started: no network.
"""

from __future__ import annotations

from typing import Any, Callable

import pytest

from wsclients import (
    AlliumApiClient,
    AlliumStreamClient,
    CadenzaClient,
    CentrifugoClient,
    HyperliquidClient,
    TradevestClient,
    VegaClient,
)
from wsclients.core.client import Client
from wsclients.core.client_options import check_count, check_seconds
from wsclients.errors import InvalidOption

CENTRIFUGO_URL = "wss://example.com/connection/websocket"

MAKERS: dict[str, Callable[..., Client]] = {
    "hyperliquid": lambda **kw: HyperliquidClient(**kw),
    "vega": lambda **kw: VegaClient(**kw),
    "centrifugo": lambda **kw: CentrifugoClient(url=CENTRIFUGO_URL, token="t", **kw),
    "cadenza": lambda **kw: CadenzaClient(token="t", **kw),
    "tradevest": lambda **kw: TradevestClient(**kw),
    "allium_api": lambda **kw: AlliumApiClient(api_key="k", **kw),
    "allium_stream": lambda **kw: AlliumStreamClient(api_key="k", **kw),
}

_NOT_AN_INT = ["x", 1.5, True, False]
_NOT_SECONDS = ["1", True, -1, -0.5]

BAD: list[tuple[str, str, Any]] = [
    *[("hyperliquid", "post_limit", v) for v in [0, -1, None, *_NOT_AN_INT]],
    *[("hyperliquid", "post_timeout", v) for v in [0, *_NOT_SECONDS]],
    *[("hyperliquid", "trade_memory", v) for v in [0, -1, None, *_NOT_AN_INT]],
    *[("hyperliquid", "message_limit", v) for v in [0, -1, *_NOT_AN_INT]],
    *[("hyperliquid", "message_window", v) for v in [0, None, *_NOT_SECONDS]],
    *[("vega", "rest_timeout", v) for v in [0, None, *_NOT_SECONDS]],
    *[("vega", "rest_retries", v) for v in [-1, None, *_NOT_AN_INT]],
    *[("centrifugo", "request_timeout", v) for v in [0, *_NOT_SECONDS]],
    *[("centrifugo", "max_server_ping_delay", v) for v in [None, *_NOT_SECONDS]],
    *[("centrifugo", "request_limit", v) for v in [0, -1, *_NOT_AN_INT]],
    *[("cadenza", "book_depth", v) for v in [0, -1, *_NOT_AN_INT]],
    *[("cadenza", "request_timeout", v) for v in [0, -1]],  # CentrifugoClient's, inherited
    *[("tradevest", "max_failures", v) for v in [0, -1, *_NOT_AN_INT]],
    *[("allium_api", "request_timeout", v) for v in [0, *_NOT_SECONDS]],
    *[("allium_api", "max_in_flight", v) for v in [0, -1, None, *_NOT_AN_INT]],
    *[("allium_stream", "max_streams", v) for v in [0, -1, *_NOT_AN_INT]],
]


@pytest.mark.parametrize(("venue", "name", "value"), BAD,
                         ids=[f"{v}-{n}={x!r}" for v, n, x in BAD])
def test_bad_venue_option_fails_in_the_constructor(venue: str, name: str, value: Any) -> None:
    """Refused at once with InvalidOption (a TypeError and a ValueError) naming the option."""
    with pytest.raises(InvalidOption) as info:
        MAKERS[venue](**{name: value})
    assert info.value.name == name
    assert str(info.value).startswith(f"{name} must be ")
    assert isinstance(info.value, TypeError) and isinstance(info.value, ValueError)


GOOD: list[tuple[str, dict[str, Any]]] = [
    *[(venue, {}) for venue in MAKERS],  # the defaults
    ("hyperliquid", {"post_limit": 1, "post_timeout": None, "trade_memory": 1,
                     "message_limit": 1, "message_window": 0.5}),
    ("hyperliquid", {"post_timeout": 2, "message_window": 1}),
    ("vega", {"rest_timeout": 0.5, "rest_retries": 0}),
    ("centrifugo", {"request_timeout": None, "max_server_ping_delay": 0, "request_limit": 1}),
    ("cadenza", {"book_depth": 1}),
    ("cadenza", {"book_depth": None, "request_limit": None}),
    ("tradevest", {"max_failures": None}),
    ("tradevest", {"max_failures": 1}),
    ("allium_api", {"request_timeout": None, "max_in_flight": 1}),
    ("allium_stream", {"max_streams": 1}),
]


@pytest.mark.parametrize(("venue", "options"), GOOD,
                         ids=[f"{v}-{sorted(o)}" for v, o in GOOD])
def test_valid_venue_options_construct(venue: str, options: dict[str, Any]) -> None:
    """The defaults and the edge values that mean something still construct."""
    client = MAKERS[venue](**options)
    client.stop()


def test_checks_keep_their_values() -> None:
    """Valid values reach the client unchanged."""
    hl = HyperliquidClient(post_limit=7, post_timeout=None, trade_memory=3)
    try:
        assert hl._request_limit() == 7
        assert hl._post_timeout is None
        assert hl.protocol._trade_memory == 3
    finally:
        hl.stop()
    vega = VegaClient(rest_timeout=2.5, rest_retries=0)
    try:
        assert vega.rest._session.timeout == 2.5
    finally:
        vega.stop()


@pytest.mark.parametrize("value", [1, 5, None])
def test_check_count_accepts(value: Any) -> None:
    check_count("n", value, 1, none_ok=True)


@pytest.mark.parametrize(("value", "kwargs", "message"), [
    (0, {}, "n must be an int >= 1; got 0"),
    (True, {}, "n must be an int >= 1; got True"),
    (None, {}, "n must be an int >= 1; got None"),
    (-1, {"none_ok": True}, "n must be an int >= 1, or None for no limit; got -1"),
    ("2", {"none_ok": True, "none_means": "for all"}, "n must be an int >= 1, or None for all"),
])
def test_check_count_refuses(value: Any, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidOption, match=message.replace("(", r"\(")):
        check_count("n", value, 1, **kwargs)


def test_check_count_minimum_zero() -> None:
    check_count("n", 0, 0)
    with pytest.raises(InvalidOption, match="n must be an int >= 0; got -1"):
        check_count("n", -1, 0)


@pytest.mark.parametrize(("value", "kwargs", "message"), [
    (-1, {}, "s must be non-negative seconds; got -1"),
    ("1", {}, "s must be non-negative seconds; got '1'"),
    (False, {}, "s must be non-negative seconds; got False"),
    (0, {"strict": True}, "s must be positive seconds; got 0"),
    (None, {"strict": True}, "s must be positive seconds; got None"),
    (-2, {"none_ok": True}, "s must be non-negative seconds, or None to turn it off"),
    (0.0, {"strict": True, "none_ok": True, "none_means": "to wait"},
     "s must be positive seconds, or None to wait; got 0.0"),
])
def test_check_seconds_refuses(value: Any, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidOption, match=message):
        check_seconds("s", value, **kwargs)


def test_check_seconds_accepts() -> None:
    check_seconds("s", 0)
    check_seconds("s", 0.25, strict=True)
    check_seconds("s", None, none_ok=True)
