"""Backoff as a value: growth, full jitter, limits, reset."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wsclients.core.backoff import Backoff
from wsclients.errors import ConnectFailed


def test_cap_grows_exponentially_to_the_maximum() -> None:
    """The upper bound doubles per failure and stops at max_delay."""
    b = Backoff(min_delay=0.5, max_delay=4.0)
    caps = []
    for _ in range(6):
        b = b.increment()
        caps.append(b.cap())
    assert caps == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_delays_are_jittered_and_grow() -> None:
    """Delays are spread over [0, cap] (full jitter) and their mean grows with attempts."""
    rng = random.Random(7)
    early = Backoff(min_delay=1, max_delay=100).increment()
    late = early.increment().increment().increment()
    early_delays = [early.delay(rng) for _ in range(500)]
    late_delays = [late.delay(rng) for _ in range(500)]
    assert len(set(early_delays)) > 400  # not a fixed delay
    assert min(early_delays) < 0.1 and max(early_delays) > 0.9
    assert sum(late_delays) / 500 > 3 * sum(early_delays) / 500


def test_attempt_limit_raises_connect_failed_chained() -> None:
    """Using up max_attempts raises ConnectFailed from the last error."""
    b = Backoff(max_attempts=2).increment(OSError("refused"))
    with pytest.raises(ConnectFailed) as info:
        b.increment(OSError("refused again"), url="ws://x")
    assert info.value.attempts == 2 and isinstance(info.value.__cause__, OSError)
    assert "ws://x" in str(info.value)


def test_reset_and_immutability() -> None:
    """increment() returns a new value; reset() goes back to the first delay."""
    b = Backoff()
    c = b.increment().increment()
    assert b.attempt == 0 and c.attempt == 2
    assert c.reset().attempt == 0 and b.reset() is b


@given(st.integers(0, 10_000), st.floats(0, 10), st.floats(0, 100), st.integers(0, 2**32))
def test_delay_is_always_within_bounds(attempts: int, lo: float, extra: float, seed: int) -> None:
    """0 <= delay <= max_delay for any attempt count, even absurdly large ones."""
    b = Backoff(min_delay=lo, max_delay=lo + extra, attempt=attempts)
    delay = b.delay(random.Random(seed))
    assert 0 <= delay <= lo + extra
