"""One contract every venue client keeps, run against each venue's fake.

start/stop are idempotent and prompt and leave no thread; subscriptions come back after a
drop and data flows again; Status events arrive in order; a raising callback becomes an
ErrorEvent and the stream goes on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any, Callable

import pytest

from tests.conftest import T
from tests.helpers import wait_until
from wsclients import (
    AlliumApiClient,
    AlliumStreamClient,
    CadenzaClient,
    CallbackFailed,
    CentrifugoClient,
    ConnectionState,
    ErrorEvent,
    HyperliquidClient,
    TradevestClient,
    VegaClient,
)
from wsclients.core.client import Client
from wsclients.testing import FakeHyperliquid, FakeServer, FakeTradevest, FakeVegaNode
from wsclients.testing.allium import FakeAllium
from wsclients.testing.cadenza import FakeCadenza
from wsclients.testing.centrifugo import FakeCentrifugo

pytestmark = pytest.mark.timeout(60)

FAST: dict[str, Any] = {"backoff_min": 0.01, "backoff_max": 0.05}


class Venue:
    """How to drive one venue's fake for the contract: make a subscribed client, make the
    fake print data (a trade or a book), cut every socket."""

    def __init__(
        self,
        fake: FakeServer,
        make: Callable[..., Client],
        emit: Callable[[], None],
        drop: Callable[[], None],
        data_kind: str,
    ) -> None:
        self.fake = fake
        self.make = make
        self.emit = emit
        self.drop = drop
        self.data_kind = data_kind


def _hyperliquid() -> tuple[FakeServer, Venue]:
    fake = FakeHyperliquid()
    tids = iter(range(1_000, 100_000))

    def make(**options: Any) -> Client:
        client = HyperliquidClient(url=fake.url, **FAST, **options)
        client.subscribe_trades("BTC")
        return client

    def emit() -> None:
        fake.publish_trade("BTC", "100.5", "1", tid=next(tids))

    return fake, Venue(fake, make, emit, fake.drop_all, "trade")


def _vega() -> tuple[FakeServer, Venue]:
    fake = FakeVegaNode()

    def make(**options: Any) -> Client:
        client = VegaClient(url=fake.url, **FAST, **options)
        client.subscribe_trades([fake.market_ids[0]])
        return client

    return fake, Venue(fake, make, lambda: fake.step(trades=1), fake.drop_streams, "trade")


def _tradevest() -> tuple[FakeServer, Venue]:
    fake = FakeTradevest(price_interval=0.05)

    def make(**options: Any) -> Client:
        return TradevestClient([("EUR", "BTC")], url=fake.url, **FAST, **options)

    return fake, Venue(fake, make, lambda: None, fake.drop_all, "book")


def _allium_streams() -> tuple[FakeServer, Venue]:
    fake = FakeAllium(rate=None)
    numbers = iter(range(1, 1_000_000))

    def make(**options: Any) -> Client:
        client = AlliumStreamClient(
            api_key=fake.api_key or "", url=fake.stream_url("x"), **FAST, **options)
        client.subscribe("ethereum.blocks")
        return client

    def emit() -> None:
        fake.publish("ethereum.blocks", {"number": next(numbers)})

    return fake, Venue(fake, make, emit, fake.drop_all, "message")


def _centrifugo() -> tuple[FakeServer, Venue]:
    fake = FakeCentrifugo()
    counter = iter(range(1_000_000))

    def make(**options: Any) -> Client:
        client = CentrifugoClient(url=fake.url, token=fake.make_token("alice"), **FAST, **options)
        client.subscribe("chat")
        return client

    def emit() -> None:
        fake.publish("chat", {"n": next(counter)})

    return fake, Venue(fake, make, emit, fake.drop_all, "message")


def _allium_api() -> tuple[FakeServer, Venue]:
    # Replies resolve Futures rather than becoming events; a frame that answers no request
    # is delivered as a Message on channel "api", which is what the contract watches here.
    # The request path after a reconnect is tested in test_allium_api_client.py.
    fake = FakeAllium(rate=None)

    def make(**options: Any) -> Client:
        return AlliumApiClient(api_key=fake.api_key or "", url=fake.api_url, **FAST, **options)

    def emit() -> None:
        for conn in fake.api_connections():
            conn.send('{"notice":"contract"}')

    return fake, Venue(fake, make, emit, fake.drop_all, "message")


def _cadenza() -> tuple[FakeServer, Venue]:
    fake = FakeCadenza(instruments=("BINANCE:BTC/USDT",))

    def make(**options: Any) -> Client:
        client = CadenzaClient(token=fake.make_token("alice"), url=fake.url, **FAST, **options)
        client.subscribe_trades("BINANCE:BTC/USDT")
        return client

    return fake, Venue(fake, make, lambda: fake.step(1), fake.drop_all, "trade")


@pytest.fixture(
    params=[_hyperliquid, _vega, _tradevest, _centrifugo, _cadenza, _allium_streams, _allium_api],
    ids=["hyperliquid", "vega", "tradevest", "centrifugo", "cadenza", "allium-streams",
         "allium-api"],
)
def venue(request: pytest.FixtureRequest) -> Iterator[Venue]:
    fake, venue = request.param()
    with fake:
        yield venue


def wait_for_data(client: Client, venue: Venue, timeout: float = 5 * T) -> Any:
    """Keep the fake printing until a data event arrives; other events are skipped."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        venue.emit()
        try:
            event = client.get(timeout=0.05)
        except Exception:
            continue
        if event.kind == venue.data_kind:
            return event
    raise AssertionError(f"no {venue.data_kind} event within {timeout} s")


def test_start_and_stop_are_idempotent_and_prompt(venue: Venue) -> None:
    """start() twice is one start; stop() twice is one stop; stop is quick and final."""
    client = venue.make()
    client.start()
    client.start()
    assert client.state is ConnectionState.CONNECTED
    wait_for_data(client, venue)
    started = time.monotonic()
    client.stop()
    client.stop()
    assert time.monotonic() - started < 2.0
    assert client.state is ConnectionState.CLOSED
    assert not [t for t in threading.enumerate()
                if t.name.startswith("wsclients-") and "fake" not in t.name
                and t.name != "wsclients-timers"]


def test_subscriptions_come_back_after_a_drop(venue: Venue) -> None:
    """Every socket cut: the client reconnects, resubscribes, and data flows again."""
    with venue.make() as client:
        wait_for_data(client, venue)
        connections = len(venue.fake.connections)
        venue.drop()
        venue.fake.wait_for_connections(connections + 1, timeout=5 * T)
        wait_until(lambda: client.state is ConnectionState.CONNECTED)
        reconnected_ns = time.time_ns()
        # Data read after the new socket opened can only come from a restored subscription.
        while wait_for_data(client, venue).received_ns < reconnected_ns:
            pass
        assert client.stats.reconnects >= 1


def test_status_events_arrive_in_order(venue: Venue) -> None:
    """connecting → connected → reconnecting → connected → closed, heard by on_status."""
    states: list[ConnectionState] = []
    client = venue.make(on_status=lambda status: states.append(status.state))
    client.start()
    wait_for_data(client, venue)
    connections = len(venue.fake.connections)
    venue.drop()
    venue.fake.wait_for_connections(connections + 1, timeout=5 * T)
    wait_until(lambda: states.count(ConnectionState.CONNECTED) >= 2)
    client.stop()
    S = ConnectionState
    assert states == [S.CONNECTING, S.CONNECTED, S.RECONNECTING, S.CONNECTED, S.CLOSED]


def test_a_raising_callback_becomes_an_error_event(venue: Venue) -> None:
    """A data callback that raises is reported as CallbackFailed; later data still arrives."""
    calls: list[Any] = []
    errors: list[ErrorEvent] = []

    def broken(event: Any) -> None:
        calls.append(event)
        if len(calls) == 1:
            raise RuntimeError("user bug")

    callbacks = {f"on_{venue.data_kind}": broken, "on_error": errors.append}
    with venue.make(**callbacks) as client:
        deadline = time.monotonic() + 5 * T
        while len(calls) < 2 and time.monotonic() < deadline:
            venue.emit()
            time.sleep(0.02)
        assert len(calls) >= 2, "the stream stopped after the callback raised"
        assert client.state is ConnectionState.CONNECTED
    failures = [e for e in errors if isinstance(e.exception, CallbackFailed)]
    assert len(failures) == 1 and "user bug" in failures[0].message and not failures[0].fatal


@pytest.mark.parametrize("exc_type", [TypeError, KeyError, AttributeError, RecursionError])
def test_a_raising_protocol_costs_one_error_event(venue: Venue, exc_type: type) -> None:
    """A venue protocol that raises on a frame (a bug, a hostile frame) costs one non-fatal
    ErrorEvent carrying that frame; the socket stays up and later data still arrives."""
    errors: list[ErrorEvent] = []
    client = venue.make(on_error=errors.append)
    protocol = client._connections[0].protocol
    real = protocol.receive_text
    seen = 0

    def sometimes_raising(data: Any, *, received_ns: int) -> None:
        nonlocal seen
        seen += 1
        if seen == 2:  # after the session's first frame
            raise exc_type("injected")
        real(data, received_ns=received_ns)

    protocol.receive_text = sometimes_raising  # type: ignore[method-assign]
    with client:
        deadline = time.monotonic() + 5 * T
        while seen < 2 and time.monotonic() < deadline:
            venue.emit()
            time.sleep(0.02)
        wait_for_data(client, venue)
        assert client.state is ConnectionState.CONNECTED
        reconnects = client.stats.reconnects
    failures = [e for e in errors if e.code == "protocol_error"]
    assert len(failures) == 1 and not failures[0].fatal
    assert exc_type.__name__ in failures[0].message and failures[0].raw
    assert reconnects == 0
