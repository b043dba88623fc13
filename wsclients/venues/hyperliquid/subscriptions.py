"""Hyperliquid subscriptions: the types the venue knows, their fields, and the checks made before
anything is sent (the server drops the whole socket for a bad coin).

Facts: docs/venues/hyperliquid.rst#hyperliquid-subscriptions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from wsclients.core import codec
from wsclients.errors import (
    SubscriptionRejected,
)
from wsclients.models import Side

VENUE = "hyperliquid"

MAINNET_URL = "wss://api.hyperliquid.xyz/ws"
TESTNET_URL = "wss://api.hyperliquid-testnet.xyz/ws"

Subscription = dict[str, Any]
"""A subscription object exactly as sent in ``{"method":"subscribe","subscription":…}``."""

# docs/venues/hyperliquid.rst#hyperliquid-subscriptions: the only intervals the server knows.
CANDLE_INTERVALS = frozenset(
    ["1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "8h", "12h", "1d", "3d", "1w", "1M"]
)

# docs/venues/hyperliquid.rst#hyperliquid-subscriptions: the fields each subscription type takes.
# "coin"/"user"/"interval" are required where
# listed in the first set, the second set holds optional fields and their defaults.
_REQUIRED: dict[str, tuple[str, ...]] = {
    "allMids": (),
    "notification": ("user",),
    "webData3": ("user",),
    "twapStates": ("user",),
    "clearinghouseState": ("user",),
    "openOrders": ("user",),
    "candle": ("coin", "interval"),
    "l2Book": ("coin",),
    "trades": ("coin",),
    "orderUpdates": ("user",),
    "userEvents": ("user",),
    "userFills": ("user",),
    "userFundings": ("user",),
    "userNonFundingLedgerUpdates": ("user",),
    "activeAssetCtx": ("coin",),
    "activeAssetData": ("user", "coin"),
    "userTwapSliceFills": ("user",),
    "userTwapHistory": ("user",),
    "bbo": ("coin",),
    "spotState": ("user",),
    "allDexsClearinghouseState": ("user",),
    "allDexsAssetCtxs": (),
    "outcomeMetaUpdates": (),
    "fastAssetCtxs": (),
}
_OPTIONAL: dict[str, dict[str, Any]] = {
    "allMids": {"dex": None},
    "twapStates": {"dex": None},
    "clearinghouseState": {"dex": None},
    "openOrders": {"dex": None},
    "l2Book": {"nSigFigs": None, "mantissa": None, "fast": False},
    "userFills": {"aggregateByTime": False},
    "spotState": {"isPortfolioMargin": False},
}

# docs/venues/hyperliquid.rst#hyperliquid-envelope: channel names that differ from the subscription
# type.
_CHANNEL_TO_TYPE = {"user": "userEvents", "activeSpotAssetCtx": "activeAssetCtx"}
# docs/venues/hyperliquid.rst#hyperliquid-envelope: spotState's isPortfolioMargin comes back as
# ignorePortfolioMargin (TP-B only); its value
# may not mean the same, so it is left out of the ack match.
_ECHO_ALIASES = frozenset(["ignorePortfolioMargin"])
# One rule for is_snapshot: a push that replaces the state it describes is a snapshot. These
# types send their whole state on every push (docs/venues/hyperliquid.rst#hyperliquid-subscriptions
# "Snap" column: "full state", "full map
# every push", a coin's whole context); the user streams say so themselves (isSnapshot), and
# fastAssetCtxs sends a snapshot and then only changes. A candle push replaces only the
# current candle of a series, so it is an update.
_FULL_STATE = frozenset([
    "allMids", "webData3", "twapStates", "clearinghouseState", "openOrders", "spotState",
    "allDexsClearinghouseState", "allDexsAssetCtxs", "activeAssetCtx", "activeAssetData",
    "assetCtxs", "spotAssetCtxs",
])
# Types the venue no longer serves, with what it answers
# (docs/venues/hyperliquid.rst#hyperliquid-subscriptions).
_RETIRED = {
    "webData2": (
        "webData2 is no longer served: mainnet answers it with \"Error parsing JSON into "
        "valid websocket request\"; subscribe to webData3 instead"
    ),
}
_KNOWN_CHANNELS = frozenset(_REQUIRED) | frozenset(
    # docs/venues/hyperliquid.rst#hyperliquid-subscriptions "+": NKTKAS-only types
    ["assetCtxs", "spotAssetCtxs", "userHistoricalOrders"]
)

_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}\Z")
# docs/venues/hyperliquid.rst#hyperliquid-fields WsTrade: aggressor side
_SIDES = {"B": Side.BUY, "A": Side.SELL}
# docs/venues/hyperliquid.rst#hyperliquid-envelope: legacy non-JSON greeting
_GREETING = "Websocket connection established."
_GREETINGS = frozenset([_GREETING, _GREETING.encode()])  # frames come as str or bytes
_GREETING_LEN = len(_GREETING)
_PING = '{"method":"ping"}'

# docs/venues/hyperliquid.rst#hyperliquid-errors error strings, verbatim prefixes.
_ALREADY_SUBSCRIBED = "Already subscribed: "
_ALREADY_UNSUBSCRIBED = "Already unsubscribed: "
_PARSE_ERROR = "Error parsing JSON into valid websocket request: "
_INVALID_SUBSCRIPTION = "Invalid subscription: "
_TOO_MANY_SUBSCRIPTIONS = "Cannot subscribe to more than"
_TOO_MANY_USERS = "Cannot track more than"
_TOO_MANY_MESSAGES = "Cannot send more than"
_TOO_MANY_POSTS = re.compile(r"too many pending post requests id=(\d+)\s*\Z")
_POST_LIMIT = 100  # docs/venues/hyperliquid.rst#hyperliquid-limits: 100 simultaneous inflight posts


# --------------------------------------------------------------------------- validation


def _check_coin(subscription: Mapping[str, Any], coin: Any) -> str:
    """A coin the server will not drop the socket for
    (docs/venues/hyperliquid.rst#hyperliquid-errors last row)."""
    if not isinstance(coin, str) or not coin or coin != coin.strip() or " " in coin:
        raise SubscriptionRejected(subscription, f"coin must be a non-empty name, got {coin!r}")
    dex, sep, name = coin.partition(":")
    if sep:
        # docs/venues/hyperliquid.rst#hyperliquid-envelope: HIP-3 perps are "dex:COIN";
        # docs/venues/hyperliquid.rst#hyperliquid-errors: an uppercase dex prefix drops the socket.
        if not dex or not name or dex != dex.lower():
            raise SubscriptionRejected(
                subscription, f"builder-dex coin must look like 'xyz:COIN', got {coin!r}"
            )
    else:
        name = coin
    if name[0] not in "@#" and name.islower():
        # docs/venues/hyperliquid.rst#hyperliquid-errors: a lowercase coin drops the socket; names
        # are case-sensitive ("BTC", "kPEPE").
        raise SubscriptionRejected(
            subscription, f"coin names are case-sensitive: {coin!r} (did you mean "
            f"{coin[: len(coin) - len(name)] + name.upper()!r}?)"
        )
    return coin


def _check_user(subscription: Mapping[str, Any], user: Any) -> str:
    if not isinstance(user, str) or not _ADDRESS.match(user):
        raise SubscriptionRejected(
            subscription, f"user must be a 0x-prefixed 40-hex-digit address, got {user!r}"
        )
    return user.lower()


def validate_subscription(subscription: Mapping[str, Any]) -> Subscription:
    """Check a subscription before it is sent and return the object to send.

    The server answers a bad coin or ``nSigFigs`` by dropping the whole socket without a word
    (docs/venues/hyperliquid.rst#hyperliquid-errors), taking every other subscription with it, so
    known types are checked here first.
    Addresses are lower-cased; optional fields left at their defaults are omitted (the server
    fills them in, docs/venues/hyperliquid.rst#hyperliquid-envelope) and ``mantissa=1`` is sent as
    no mantissa (same aggregation, docs/venues/hyperliquid.rst#hyperliquid-fields).
    Unknown types pass through untouched apart from the shape check.

    Raises:
        SubscriptionRejected: the subscription would be refused or would kill the socket.
    """
    if not isinstance(subscription, Mapping):
        raise SubscriptionRejected(subscription, "a subscription is a dict with a 'type'")
    kind = subscription.get("type")
    if not isinstance(kind, str) or not kind:
        raise SubscriptionRejected(subscription, "a subscription needs a 'type' string")
    if kind in _RETIRED:
        raise SubscriptionRejected(subscription, _RETIRED[kind])
    if kind not in _REQUIRED:
        return dict(subscription)
    optional = _OPTIONAL.get(kind, {})
    unknown = set(subscription) - {"type"} - set(_REQUIRED[kind]) - set(optional)
    if unknown:
        raise SubscriptionRejected(subscription, f"unknown field(s) for {kind}: {sorted(unknown)}")
    result: Subscription = {"type": kind}
    for name in _REQUIRED[kind]:
        if name not in subscription:
            raise SubscriptionRejected(subscription, f"{kind} needs {name!r}")
        value = subscription[name]
        if name == "coin":
            result[name] = _check_coin(subscription, value)
        elif name == "user":
            result[name] = _check_user(subscription, value)
        else:  # interval
            if value not in CANDLE_INTERVALS:
                raise SubscriptionRejected(
                    subscription, f"interval must be one of {sorted(CANDLE_INTERVALS)}"
                )
            result[name] = value
    for name, default in optional.items():
        value = subscription.get(name, default)
        if name == "dex":
            if value is not None and (
                not isinstance(value, str) or value != value.strip().lower() or ":" in value
            ):
                raise SubscriptionRejected(subscription, f"dex must be a lowercase name: {value!r}")
        elif name in ("fast", "aggregateByTime", "isPortfolioMargin"):
            if not isinstance(value, bool):
                raise SubscriptionRejected(subscription, f"{name} must be True or False")
        elif name == "nSigFigs":
            # docs/venues/hyperliquid.rst#hyperliquid-fields: nSigFigs ∈ {2,3,4,5,null};
            # docs/venues/hyperliquid.rst#hyperliquid-errors: 6 drops the socket.
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or not 2 <= value <= 5
            ):
                raise SubscriptionRejected(subscription, "nSigFigs must be 2, 3, 4, 5 or None")
        elif name == "mantissa" and value is not None:
            # docs/venues/hyperliquid.rst#hyperliquid-fields conflict: the docs allow 1, 2, 5 with
            # nSigFigs 5; NKTKAS and OBS allow 2, 5.
            # We accept all three and send 1 as "no mantissa" (the same step,
            # docs/venues/hyperliquid.rst#hyperliquid-fields TP-A table),
            # so the server only ever sees the values every source agrees on.
            if isinstance(value, bool) or value not in (1, 2, 5):
                raise SubscriptionRejected(subscription, "mantissa must be 1, 2, 5 or None")
            if subscription.get("nSigFigs") != 5:
                raise SubscriptionRejected(subscription, "mantissa is only allowed with nSigFigs=5")
            if value == 1:
                value = None
        if value != default or isinstance(value, bool) != isinstance(default, bool):
            result[name] = value
    if kind == "activeAssetData" and ("/" in result["coin"] or result["coin"].startswith("@")):
        # docs/venues/hyperliquid.rst#hyperliquid-subscriptions: perps only; what the venue answers
        # for a spot coin is not documented.
        raise SubscriptionRejected(subscription, "activeAssetData is for perp coins only")
    return result


def subscription_key(subscription: Mapping[str, Any]) -> str:
    """A canonical identity for a (validated) subscription: sorted compact JSON.

    Two spellings the server treats as one (explicit defaults, mixed-case address) get one key.
    """
    clean = validate_subscription(subscription)
    return codec.dumps(dict(sorted(clean.items())))


def _echo_matches(sent: Mapping[str, Any], echo: Mapping[str, Any]) -> bool:
    """Whether a server echo (normalized, defaults filled,
    docs/venues/hyperliquid.rst#hyperliquid-envelope) is the subscription we sent.

    Subset match as NKTKAS does: every field we sent must agree where the echo has it (the
    server may rename or drop fields, e.g. spotState), and any extra echoed field must hold a
    default (null / false / "").
    """
    for name, value in sent.items():
        if name in echo:
            other = echo[name]
            if name == "user" and isinstance(other, str) and isinstance(value, str):
                if other.lower() != value.lower():
                    return False
            elif other != value or isinstance(other, bool) != isinstance(value, bool):
                return False
    return all(
        name in sent or name in _ECHO_ALIASES or value is None or value is False or value == ""
        for name, value in echo.items()
    )
