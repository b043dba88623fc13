"""How users name markets: one Tradevest form everywhere, Vega ids as the node writes them."""

from __future__ import annotations

from typing import Any

import pytest

from wsclients import TradevestClient, VegaClient
from wsclients.errors import SubscriptionRejected
from wsclients.testing.vega import FakeVegaNode
from wsclients.venues.tradevest import TradevestMarket, normalize_markets
from wsclients.venues.vega import check_market_id

BTC = TradevestMarket("EUR", "BTC")


@pytest.mark.parametrize("spec", ["EUR/BTC", "BTC-EUR", ("EUR", "BTC"), BTC])
def test_tradevest_takes_the_cli_form_in_the_api(spec: Any) -> None:
    """"EUR/BTC" (what the CLI and examples write) means the same market as the others."""
    assert normalize_markets([spec]) == (BTC,)
    client = TradevestClient([spec])
    try:
        assert client.markets == (BTC,)
    finally:
        client.stop()


@pytest.mark.parametrize("spec", ["EUR/BTC/X", "EUR-BTC/X", "EUR/", "/BTC", "eur/btc"])
def test_tradevest_refuses_malformed_market_strings(spec: str) -> None:
    """Two codes, one separator, upper case; the message shows the form to use."""
    with pytest.raises(SubscriptionRejected, match="EUR"):
        normalize_markets([spec])


def test_vega_market_ids_are_64_hex_characters() -> None:
    """A name or a short id is refused with the rule; a real-looking id passes."""
    good = "0570e3ba31dda99bcaa78cf7c32fe97f3ec93c7a87ae6efd41fc524defa1bef2"
    assert check_market_id("trades", good) == good
    for bad in ("BTC/USD", good[:-1], good + "0", "g" * 64, 5):
        with pytest.raises(SubscriptionRejected, match="64 hex characters"):
            check_market_id("trades", bad)


@pytest.mark.parametrize("subscribe", [
    lambda c: c.subscribe_trades("BTC/USD"),
    lambda c: c.subscribe_book("BTC/USD"),
    lambda c: c.subscribe_market_data(["a" * 64, "short"]),
    lambda c: c.subscribe("markets/depth", marketIds="nope"),
    lambda c: c.subscribe_positions("p", market_id="nope"),
])
def test_vega_client_checks_every_market_id(subscribe: Any) -> None:
    """Typed helpers and the raw escape hatch alike refuse a bad id before any socket."""
    client = VegaClient()
    try:
        with pytest.raises(SubscriptionRejected, match="64 hex characters"):
            subscribe(client)
        assert client.subscriptions == []
    finally:
        client.stop()


def test_the_fake_nodes_market_ids_pass_the_check() -> None:
    """FakeVegaNode lists ids a real node could have, so the demo and tests pass the check."""
    node = FakeVegaNode(extra_markets=2)
    assert all(check_market_id("x", market_id) for market_id in node.market_ids)
