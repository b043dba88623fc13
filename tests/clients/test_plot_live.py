"""plot.live against FakeHyperliquid: real sockets; the chart's panels and its redraws."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import T
from wsclients import plot
from wsclients.testing.hyperliquid import FakeHyperliquid
from wsclients.venues.hyperliquid import HyperliquidClient

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def client() -> Iterator[HyperliquidClient]:
    with FakeHyperliquid(trades_backfill=0) as fake:
        hl = HyperliquidClient(url=fake.url, backoff_min=0.01, backoff_max=0.05)
        hl.subscribe_trades("BTC")
        hl.subscribe_l2_book("ETH")
        hl.start()
        fake.wait_for_subscriptions(2, timeout=3 * T)
        for n in range(3):
            fake.publish_trade("BTC", f"6500{n}", "0.5", side="B" if n else "A")
        fake.publish_book("ETH", [("3000", "1"), ("2999", "2")], [("3001", "1")])
        try:
            yield hl
        finally:
            hl.stop()


def panels(figure: Figure) -> dict[str, Any]:
    return {ax.get_title().split(":")[0]: ax for ax in figure.axes}


def test_live_outside_a_kernel_draws_once_at_the_end(client: HyperliquidClient) -> None:
    """Outside a kernel, live() reads for `seconds` and returns one panel per symbol."""
    started = time.monotonic()
    figure = plot.live(client, seconds=0.6, refresh_interval=0.2)
    assert 0.6 <= time.monotonic() - started < 0.6 + 2 * T
    assert isinstance(figure, Figure)
    by_symbol = panels(figure)
    assert set(by_symbol) == {"BTC", "ETH"}
    btc = by_symbol["BTC"]
    assert btc.get_title() == "BTC: 3 trades, 0 books"
    price = next(line for line in btc.lines if line.get_label() == "price")
    assert list(price.get_ydata()) == [65000.0, 65001.0, 65002.0]
    eth = by_symbol["ETH"]
    labels = {str(line.get_label()): line for line in eth.lines}
    assert {"best bid", "best ask", "mid"} <= set(labels)
    assert list(labels["mid"].get_ydata())[-1] == 3000.5  # the published book's mid


def test_live_in_a_kernel_redraws_in_place(
    client: HyperliquidClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a kernel, the same figure is shown again every refresh, as a non-empty PNG."""
    shown: list[tuple[Figure, bytes]] = []
    monkeypatch.setattr(
        plot, "_kernel_display",
        lambda: lambda figure: shown.append((figure, plot._png(figure))),
    )
    figure = plot.live(client, seconds=0.8, kinds={"trade"}, refresh_interval=0.2)
    # A redraw per refresh plus the final one; fewer when rendering is slow, never just one.
    assert 2 <= len(shown) <= 6
    assert all(shown_figure is figure for shown_figure, _ in shown)
    assert all(png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5000 for _, png in shown)
    assert [ax.get_title() for ax in figure.axes] == ["BTC: 3 trades, 0 books"]


def test_live_returns_early_when_the_client_stops(client: HyperliquidClient) -> None:
    """A stopped client ends live() at once with what it had read."""
    client.stop()
    started = time.monotonic()
    figure = plot.live(client, seconds=10, refresh_interval=0.5)
    assert time.monotonic() - started < 1.0 * T
    assert set(panels(figure)) == {"BTC", "ETH"}
