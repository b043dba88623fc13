"""A slow consumer under every overflow policy: every trade is either delivered or counted
as dropped, never silently lost (``delivered + dropped == sent``).

The fake sends ``SENT`` trades as fast as it can to a client whose consumer (a callback, or a
thread reading ``get()``) takes a moment per event, behind a queue of ``QUEUE_SIZE``. Two
witness queues, too large to overflow, count what the client published: trades, and every
other kind. The hub's ``dropped`` counter covers every event it dropped, so the trades it
dropped are that counter minus the other events it dropped (those published minus those
delivered: statuses, the overflow report).
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Optional

import pytest

from tests.conftest import T
from tests.helpers import wait_until
from wsclients import HyperliquidClient
from wsclients.core.hub import OVERFLOW_POLICIES
from wsclients.models import Event
from wsclients.testing import FakeHyperliquid

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(60)]

SENT = 2_000
QUEUE_SIZE = 50
PAUSE = 0.0001
"""Seconds the consumer spends on each event: far slower than the fake sends."""
WITNESS_SIZE = 10**6
OTHER_KINDS = frozenset({"status", "error", "book", "message"})


class Tally:
    """What the slow consumer saw, by kind (written by one consumer thread)."""

    def __init__(self) -> None:
        self.trades = 0
        self.others = 0

    def take(self, event: Event) -> None:
        time.sleep(PAUSE)
        if event.kind == "trade":
            self.trades += 1
        else:
            self.others += 1


def soak_client(fake: FakeHyperliquid, overflow: str, tally: Optional[Tally]) -> HyperliquidClient:
    """A client whose every kind goes to ``tally`` (callbacks) or, with None, to ``get()``."""
    callbacks: dict[str, Callable[[Any], Any]] = {}
    if tally is not None:
        callbacks = {f"on_{kind}": tally.take for kind in ("trade", *OTHER_KINDS)}
    client = HyperliquidClient(
        url=fake.url, queue_size=QUEUE_SIZE, overflow=overflow, **callbacks
    )
    client.subscribe_trades("BTC")
    return client


@pytest.mark.parametrize("consumer", ["callback", "get"])
@pytest.mark.parametrize("overflow", OVERFLOW_POLICIES)
def test_every_trade_is_delivered_or_counted_as_dropped(overflow: str, consumer: str) -> None:
    """delivered + dropped == sent for trades, for every policy and both consumers; with
    ``block`` nothing is dropped at all."""
    tally = Tally()
    with FakeHyperliquid() as fake:
        client = soak_client(fake, overflow, tally if consumer == "callback" else None)
        trades = client.queue(kinds={"trade"}, maxsize=WITNESS_SIZE)
        others = client.queue(kinds=OTHER_KINDS, maxsize=WITNESS_SIZE)
        reading = threading.Event()
        reader: Optional[threading.Thread] = None
        if consumer == "get":
            def read() -> None:
                while not reading.is_set():
                    try:
                        tally.take(client.get(timeout=0.05))
                    except Exception:  # noqa: BLE001 - queue.Empty, or closed at the end
                        continue

            reader = threading.Thread(target=read, name="slow-consumer", daemon=True)
            reader.start()
        try:
            client.start(timeout=5 * T)
            fake.wait_for_subscriptions(1)
            for n in range(SENT):
                fake.publish_trade("BTC", "65000.5", "0.1", tid=n + 1)

            def trades_dropped() -> int:
                other_dropped = others.qsize() - tally.others
                return client.stats.dropped - other_dropped

            settled = wait_until(
                lambda: trades.qsize() == SENT and tally.trades + trades_dropped() == SENT,
                timeout=20 * T,
            )
            figures = (
                f"{overflow}/{consumer}: sent {SENT}, published {trades.qsize()}, delivered "
                f"{tally.trades}, trades dropped {trades_dropped()}, hub dropped "
                f"{client.stats.dropped}, other kinds {others.qsize()} published / "
                f"{tally.others} delivered"
            )
            assert settled, figures
            assert trades.dropped == others.dropped == 0, figures
            if overflow == "block":
                assert client.stats.dropped == 0 and tally.trades == SENT, figures
            else:
                assert trades_dropped() > 0, f"the consumer was not slow enough: {figures}"
        finally:
            reading.set()
            client.stop()
            if reader is not None:
                reader.join(5 * T)
