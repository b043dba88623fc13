"""Hyperliquid's limits counted on our side: the message window, sockets, new connections."""

from __future__ import annotations

import random
import threading

import pytest

from wsclients.core.backoff import Backoff
from wsclients.venues.hyperliquid.limits import ConnectionBudget, MessageBudget, PacedBackoff


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_message_budget_is_a_sliding_window() -> None:
    """At most ``limit`` frames in any window: a burst, then room only as old frames age."""
    clock = Clock()
    budget = MessageBudget(3, 10.0, margin=0.0, clock=clock)
    for _ in range(3):
        assert budget.available()
        budget.spend()
    assert not budget.available()
    clock.now += 5.0
    assert not budget.available()  # a refilled bucket would allow 1.5 more here
    clock.now += 5.0
    assert budget.available()


def test_message_budget_margin_and_over_spending() -> None:
    """The margin stretches the window; a heartbeat spent over the limit delays the next."""
    clock = Clock()
    budget = MessageBudget(1, 10.0, margin=0.1, clock=clock)
    budget.spend()
    budget.spend()  # over the limit
    clock.now += 10.5
    assert not budget.available()
    clock.now += 0.6
    assert budget.available()
    with pytest.raises(ValueError):
        MessageBudget(0)


def test_connection_budget_counts_open_sockets_across_threads() -> None:
    """opened/closed from many threads keep an exact count that never goes negative."""
    budget = ConnectionBudget()

    def churn() -> None:
        for _ in range(500):
            budget.opened()
            budget.closed()

    threads = [threading.Thread(target=churn) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert budget.open_sockets == 0
    budget.closed()
    assert budget.open_sockets == 0


def test_reserve_books_the_first_instant_with_room() -> None:
    """The third connection in a 2-per-10 s window waits until the first leaves it; each
    booking counts for the next."""
    budget = ConnectionBudget(max_per_window=2, window=10.0)
    assert budget.attempt(now=0.0) == 1
    assert budget.reserve(0.5, now=1.0) == pytest.approx(0.5)
    assert budget.reserve(0.0, now=2.0) == pytest.approx(8.001)  # at 10.001
    assert budget.reserve(0.0, now=2.0) == pytest.approx(9.501)  # the one at 1.5 leaves
    assert budget.attempt(now=30.0) == 1  # old ones forgotten


def test_paced_backoff_keeps_its_settings_and_waits_for_room() -> None:
    """PacedBackoff grows like Backoff and never goes below the window's wait."""
    budget = ConnectionBudget(max_per_window=1, window=1000.0)
    budget.attempt()
    paced = PacedBackoff.of(Backoff(min_delay=0.01, max_delay=0.02), budget)
    grown = paced.increment()
    assert isinstance(grown, PacedBackoff) and grown.attempt == 1 and grown.max_delay == 0.02
    assert grown.delay(random.Random(1)) > 900.0
    assert isinstance(grown.reset(), PacedBackoff)
