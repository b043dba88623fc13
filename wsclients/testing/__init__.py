"""Fake venue servers and a seeded synthetic market, for tests, benchmarks and demos.

Needs the ``testing`` extra (websockets). The runtime library never imports this package.
"""

from __future__ import annotations

from wsclients.testing.allium import FakeAllium
from wsclients.testing.cadenza import (
    CADENZA_NAMESPACES,
    CURRENT_CHANNELS,
    LEGACY_CHANNELS,
    ChannelTemplates,
    FakeCadenza,
)
from wsclients.testing.centrifugo import (
    ChannelOptions,
    ClientInfo,
    FakeCentrifugo,
    ForceDisconnect,
    ReplyError,
)
from wsclients.testing.hyperliquid import FakeHyperliquid
from wsclients.testing.market import BookChange, BookSnapshot, Market, SyntheticTrade
from wsclients.testing.server import FakeConnection, FakeRequest, FakeServer
from wsclients.testing.tradevest import FakeTradevest
from wsclients.testing.vega import FakeVegaNode

__all__ = [
    # market
    "BookChange",
    "BookSnapshot",
    "Market",
    "SyntheticTrade",
    # server
    "FakeConnection",
    "FakeRequest",
    "FakeServer",
    # centrifugo
    "ChannelOptions",
    "ClientInfo",
    "FakeCentrifugo",
    "ForceDisconnect",
    "ReplyError",
    # cadenza
    "CADENZA_NAMESPACES",
    "CURRENT_CHANNELS",
    "LEGACY_CHANNELS",
    "ChannelTemplates",
    "FakeCadenza",
    # venue fakes
    "FakeAllium",
    "FakeHyperliquid",
    "FakeTradevest",
    "FakeVegaNode",
]
