"""The example on docs/testing.rst runs as written (the page includes this file from the marker).
"""

from __future__ import annotations

# --- example ---
from decimal import Decimal

from wsclients import HyperliquidClient, Trade
from wsclients.testing import FakeHyperliquid


def next_trade_at(hl: HyperliquidClient, price: str) -> Trade:
    """The next trade at ``price`` (earlier ones are skipped)."""
    for event in hl.events(kinds={"trade"}, timeout=5):
        if isinstance(event, Trade) and event.price == Decimal(price):
            return event
    raise AssertionError(f"no trade at {price}")


def test_trades_survive_a_dropped_socket() -> None:
    """A trade after the venue drops the socket still arrives: the subscription is restored."""
    with FakeHyperliquid() as venue, HyperliquidClient(url=venue.url, backoff_min=0.01) as hl:
        hl.subscribe_trades("BTC")
        venue.wait_for_subscriptions(1)
        venue.publish_trade("BTC", "100.5", "2", side="A")
        assert next_trade_at(hl, "100.5").size == Decimal("2")

        venue.drop_all()                 # an abrupt TCP close, no close frame
        venue.wait_for_connections(2)    # the client has reconnected
        venue.publish_trade("BTC", "101", "1", side="B")
        assert next_trade_at(hl, "101").size == Decimal("1")
