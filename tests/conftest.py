"""Shared test setup: a time unit, a clean environment, and a check that no thread leaks."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator

import pytest

T = float(os.environ.get("WSCLIENTS_TEST_TIME", "1.0"))
"""The time unit for waits in tests; raise WSCLIENTS_TEST_TIME on a slow machine."""

_PROXY_VARIABLES = (
    "http_proxy", "https_proxy", "all_proxy", "no_proxy",
    "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "WEBSOCKET_CLIENT_CA_BUNDLE",
)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's proxy settings must not change what the tests see."""
    for name in _PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def _our_threads() -> list[str]:
    return sorted(
        t.name for t in threading.enumerate() if t.name.startswith("wsclients-") and t.is_alive()
    )


@pytest.fixture(autouse=True)
def _no_leaked_threads() -> Iterator[None]:
    """After every test, no ``wsclients-*`` thread may remain (clients and fakes stopped)."""
    yield
    deadline = time.monotonic() + 3 * T
    while _our_threads() and time.monotonic() < deadline:
        time.sleep(0.02)
    leaked = _our_threads()
    assert not leaked, f"threads left running after the test: {leaked}"


@pytest.fixture(autouse=True)
def _fresh_hyperliquid_connection_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """HyperliquidClient counts its sockets process-wide and paces reconnects under the
    venue's 30 new connections a minute; each test starts from an empty count so that the
    suite's hundreds of short-lived clients do not slow each other down."""
    from wsclients.venues.hyperliquid import client
    from wsclients.venues.hyperliquid.limits import ConnectionBudget

    monkeypatch.setattr(client, "CONNECTIONS", ConnectionBudget())
