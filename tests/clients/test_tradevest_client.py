"""TradevestClient against FakeTradevest on 127.0.0.1: real sockets, threads, websocket-client."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any, Callable

import pytest

from tests.conftest import T
from tests.helpers import next_event
from wsclients.errors import AuthenticationFailed, SubscriptionRejected
from wsclients.models import Book, ConnectionState, ErrorEvent, Event, Status
from wsclients.testing.tradevest import FakeTradevest
from wsclients.venues.tradevest import TradevestClient, TradevestError, TradevestMarket

pytestmark = pytest.mark.timeout(30)

FAST = {"backoff_min": 0.01, "backoff_max": 0.05}
SHORT = 0.3 * T  # how long we watch for things that must NOT happen


@pytest.fixture
def fake() -> Iterator[FakeTradevest]:
    with FakeTradevest(price_interval=0.05, keepalive_interval=0.5) as fake:
        yield fake


def client_for(
    fake: FakeTradevest, markets: Any = (("EUR", "BTC"),), **options: Any
) -> TradevestClient:
    merged: dict[str, Any] = {**FAST, "url": fake.url}
    merged.update(options)
    return TradevestClient(markets, **merged)




def is_book(symbol: str | None = None) -> Callable[[Event], bool]:
    return lambda e: isinstance(e, Book) and (symbol is None or e.symbol == symbol)


def is_status(state: ConnectionState) -> Callable[[Event], bool]:
    return lambda e: isinstance(e, Status) and e.state is state


def drain(client: TradevestClient) -> list[Event]:
    events = []
    while True:
        try:
            events.append(client.get(timeout=0))
        except Exception:
            return events


def test_subscribe_some(fake: FakeTradevest) -> None:
    """Only the subscribed markets are requested and streamed, as snapshot books."""
    with client_for(fake, [("EUR", "BTC"), "ETH-EUR"]) as client:
        conn = fake.wait_for_connections(1)[0]
        assert fake.wait_for_subscription(conn) == (("EUR", "BTC"), ("EUR", "ETH"))
        assert json.loads(conn.received[0]) == {
            "type": "PRICE_SUBSCRIPTION",
            "priceSubscription": {
                "markets": [
                    {"currency": "EUR", "cryptoSymbol": "BTC"},
                    {"currency": "EUR", "cryptoSymbol": "ETH"},
                ]
            },
        }
        seen: set[str] = set()
        while seen != {"BTC-EUR", "ETH-EUR"}:
            book = next_event(client, is_book())
            assert isinstance(book, Book)
            assert book.is_snapshot and book.bids and book.asks
            assert book.best_bid is not None and book.best_ask is not None
            assert book.best_bid.price < book.best_ask.price
            assert abs(book.timestamp_ns - book.received_ns) < 5 * 10**9
            seen.add(book.symbol)
        assert len(conn.received) == 1  # exactly one message per socket
        assert client.markets == (TradevestMarket("EUR", "BTC"), TradevestMarket("EUR", "ETH"))


def test_subscribe_all(fake: FakeTradevest) -> None:
    """markets=None omits the attribute and every market streams."""
    with client_for(fake, None) as client:
        conn = fake.wait_for_connections(1)[0]
        assert fake.wait_for_subscription(conn) is None
        assert json.loads(conn.received[0]) == {
            "type": "PRICE_SUBSCRIPTION",
            "priceSubscription": {},
        }
        seen: set[str] = set()
        while seen != {"BTC-EUR", "ETH-EUR", "SOL-EUR"}:
            book = next_event(client, is_book())
            assert isinstance(book, Book)
            seen.add(book.symbol)


def test_keepalives_feed_the_watchdog_without_books() -> None:
    """Keep-alives yield no Book, yet a stale_timeout shorter than the price interval holds."""
    fake = FakeTradevest(price_interval=None, keepalive_interval=0.05)
    with fake, client_for(fake, stale_timeout=0.3) as client:
        next_event(client, is_book("BTC-EUR"))  # the first full message
        before = fake.keepalives_sent
        fake.wait_for_keepalives(before + 20)  # ≥ 1 s of keep-alives only, > stale_timeout
        events = drain(client)
        assert not [e for e in events if isinstance(e, Book)]
        assert not [e for e in events if isinstance(e, (Status, ErrorEvent))]
        assert client.stats.reconnects == 0
        assert len(fake.connections) == 1
        assert client.stats.messages >= 20


def test_silent_server_reconnects(fake: FakeTradevest) -> None:
    """A socket that goes silent is dropped after stale_timeout and a new one subscribes."""
    with client_for(fake, stale_timeout=0.3) as client:
        conn = fake.wait_for_connections(1)[0]
        next_event(client, is_book())
        conn.go_silent()
        status = next_event(client, is_status(ConnectionState.RECONNECTING))
        assert isinstance(status, Status) and "stale" in status.reason
        second = fake.wait_for_connections(2)[1]
        assert fake.wait_for_subscription(second) == (("EUR", "BTC"),)
        next_event(client, is_book("BTC-EUR"))
        assert client.state is ConnectionState.CONNECTED


def test_error_then_close_reports_and_backs_off(fake: FakeTradevest) -> None:
    """ERROR → ErrorEvent with text and connectionId, then a reconnect after a backoff."""
    with client_for(fake) as client:
        conn = fake.wait_for_connections(1)[0]
        next_event(client, is_book())
        connection_id = fake.send_error(conn, "Internal error")
        error = next_event(client, lambda e: isinstance(e, ErrorEvent))
        assert isinstance(error, ErrorEvent) and not error.fatal
        assert isinstance(error.exception, TradevestError)
        assert error.exception.connection_id == connection_id
        assert "Internal error" in error.message and connection_id in error.message
        status = next_event(client, is_status(ConnectionState.RECONNECTING))
        assert isinstance(status, Status)
        assert status.attempt == 1 and status.delay is not None  # backoff, not a forced reconnect
        fake.wait_for_connections(2)
        next_event(client, is_book())
        assert client.state is ConnectionState.CONNECTED


def test_malformed_prices_is_an_error_event_and_the_stream_goes_on(fake: FakeTradevest) -> None:
    """A PRICES frame we cannot read → non-fatal ErrorEvent; later books still arrive."""
    with client_for(fake) as client:
        conn = fake.wait_for_connections(1)[0]
        next_event(client, is_book())
        bad = fake.entry(("EUR", "BTC"))
        bad["asks"] = [{"price": "not a number", "quantity": "1"}]
        conn.send(fake.prices_message([bad]))
        conn.send("{not json")
        for _ in range(2):
            error = next_event(client, lambda e: isinstance(e, ErrorEvent))
            assert isinstance(error, ErrorEvent) and not error.fatal
        next_event(client, is_book("BTC-EUR"))
        assert len(fake.connections) == 1 and client.stats.reconnects == 0


def test_set_markets_reconnects_with_the_new_set(fake: FakeTradevest) -> None:
    """set_markets closes the socket, says why in a Status, and subscribes anew."""
    with client_for(fake) as client:
        first = fake.wait_for_connections(1)[0]
        next_event(client, is_book("BTC-EUR"))
        client.set_markets([("EUR", "ETH")])
        status = next_event(client, is_status(ConnectionState.RECONNECTING))
        assert isinstance(status, Status) and status.reason == "markets changed to ETH-EUR"
        second = fake.wait_for_connections(2)[1]
        assert fake.wait_for_subscription(second) == (("EUR", "ETH"),)
        next_event(client, is_book("ETH-EUR"))
        first.wait_closed()
        assert client.markets == (TradevestMarket("EUR", "ETH"),)
        # Setting the same markets again is not a reason to reconnect.
        client.set_markets(["ETH-EUR"])
        time.sleep(SHORT)
        assert len(fake.connections) == 2


def test_set_markets_before_start_needs_no_reconnect(fake: FakeTradevest) -> None:
    """Before start() the new set is simply what the first socket sends."""
    client = client_for(fake)
    client.set_markets(None)
    with client:
        conn = fake.wait_for_connections(1)[0]
        assert fake.wait_for_subscription(conn) is None
        next_event(client, is_book())
        assert client.stats.reconnects == 0


def test_invalid_markets_are_refused_before_connecting(fake: FakeTradevest) -> None:
    """Lower-case or mis-shaped markets raise at once; set_markets keeps the old set."""
    with pytest.raises(SubscriptionRejected):
        client_for(fake, [("eur", "btc")])
    with client_for(fake) as client:
        with pytest.raises(SubscriptionRejected):
            client.set_markets(["EUR/BTC/ETH"])
        assert client.markets == (TradevestMarket("EUR", "BTC"),)
    assert len(fake.requests) == 1  # only the valid client ever connected


def test_unknown_market_stops_after_max_failures() -> None:
    """Repeated ERRORs without any PRICES end in one fatal ErrorEvent, not a reconnect loop."""
    with FakeTradevest(markets=[("EUR", "BTC")]) as fake:
        client = client_for(fake, [("EUR", "XYZ")], max_failures=3)
        with client:
            fatal = next_event(client, lambda e: isinstance(e, ErrorEvent) and e.fatal)
            assert isinstance(fatal, ErrorEvent)
            assert "Unsupported market: EUR/XYZ" in fatal.message
            assert "giving up after 3" in fatal.message
            next_event(client, is_status(ConnectionState.CLOSED))
            time.sleep(SHORT)
            assert len(fake.connections) == 3
            assert len(fake.error_ids) == 3
            assert client.state is ConnectionState.CLOSED


def test_wrong_token_is_fatal_without_a_reconnect_storm() -> None:
    """403 on the upgrade: start() raises AuthenticationFailed, one attempt only."""
    with FakeTradevest(token="right") as fake:
        client = client_for(fake, token="wrong")
        with pytest.raises(AuthenticationFailed):
            client.start(timeout=5 * T)
        time.sleep(SHORT)
        assert [r.status for r in fake.requests] == [403]
        assert fake.connections == []
        assert client.state is ConnectionState.CLOSED
        client.stop()


def test_wrong_token_in_the_background_is_a_fatal_event() -> None:
    """start(wait=False) reports the refusal as a fatal ErrorEvent and stops."""
    with FakeTradevest(token="right") as fake:
        client = client_for(fake, token="wrong")
        client.start(wait=False)
        error = next_event(client, lambda e: isinstance(e, ErrorEvent))
        assert isinstance(error, ErrorEvent) and error.fatal
        assert isinstance(error.exception, AuthenticationFailed)
        next_event(client, is_status(ConnectionState.CLOSED))
        time.sleep(SHORT)
        assert len(fake.requests) == 1
        client.stop()


def test_token_callable_is_asked_again_on_every_reconnect() -> None:
    """token=callable: an expired token is replaced on the next connect instead of turning
    the reconnect into a fatal 403."""
    tokens = iter(["first", "second"])
    current: list[str] = []

    def fetch() -> str:
        current.append(next(tokens))
        return current[-1]

    with FakeTradevest(token="first", price_interval=0.05) as fake:
        with client_for(fake, token=fetch) as client:
            next_event(client, is_book())
            fake.token = "second"  # the venue now wants the refreshed token
            fake.drop_all()
            fake.wait_for_connections(2, timeout=5 * T)
            next_event(client, is_status(ConnectionState.CONNECTED))
            assert client.state is ConnectionState.CONNECTED
        sent = [c.request_headers["Authorization"] for c in fake.connections]
    assert sent == ["Bearer first", "Bearer second"] and current == ["first", "second"]


def test_token_is_sent_and_never_shown(caplog: pytest.LogCaptureFixture) -> None:
    """The bearer token goes on the upgrade and nowhere else: not in repr, events or logs."""
    caplog.set_level(logging.DEBUG)
    secret = "tok-3f9a1c7e"
    with FakeTradevest(token=secret, price_interval=0.05) as fake:
        client = client_for(
            fake, token=secret, headers={"Requestor-ID": "r-1", "authorization": "Basic x"}
        )
        events: list[Event] = []
        with client:
            events.append(next_event(client, is_book()))
            conn = fake.wait_for_connections(1)[0]
            fake.send_error(conn, "boom")
            events.append(next_event(client, lambda e: isinstance(e, ErrorEvent)))
            events.append(next_event(client, is_book()))
            shown = [repr(client), str(client), repr(client.stats)]
        events.extend(drain(client))
        request = fake.requests[0]
        assert request.headers.get_all("Authorization") == [f"Bearer {secret}"]  # type: ignore[attr-defined]
        assert request.headers["Requestor-ID"] == "r-1"
        shown += [repr(e) for e in events] + [str(e) for e in events]
        # The fake server's own (websockets) debug log prints the headers it received: that is
        # the server's side. Everything the client side logged must be clean.
        shown += [
            r.getMessage() for r in caplog.records if not r.name.startswith("wsclients.testing")
        ]
        assert any(r.name.startswith("wsclients.core") for r in caplog.records)
        assert not [text for text in shown if secret in text]


def test_bad_token_value_is_refused() -> None:
    """An empty token or one with line breaks (header injection) is a ValueError."""
    for token in ("", "a\r\nX-Evil: 1"):
        with pytest.raises(ValueError):
            TradevestClient(token=token)


def test_callbacks_get_and_events(fake: FakeTradevest) -> None:
    """on_book gets the books; an extra queue(kinds={"book"}) sees them too; the default
    queue keeps only the kinds that have no callback (statuses here)."""
    books: list[Book] = []
    with client_for(fake, on_book=books.append) as client:
        extra = client.queue(kinds={"book"})
        got = next(iter(extra))
        assert isinstance(got, Book) and got.symbol == "BTC-EUR"
        assert all(e.kind != "book" for e in client.events(timeout=0.2 * T))
        deadline = time.monotonic() + 5 * T
        while not books and time.monotonic() < deadline:
            time.sleep(0.01)
        assert books and books[0].symbol == "BTC-EUR"
        assert client.stats.messages >= 1 and client.stats.events >= 1


def test_stop_is_prompt_idempotent_and_leaves_no_threads(fake: FakeTradevest) -> None:
    """stop() returns quickly, twice, and no wsclients-* client thread remains."""
    client = client_for(fake)
    client.start()
    next_event(client, is_book())
    started = time.monotonic()
    client.stop()
    client.stop()
    assert time.monotonic() - started < 2 * T
    assert client.state is ConnectionState.CLOSED
    # The autouse fixture in tests/conftest.py checks for leaked wsclients-* threads.


def test_default_url_is_the_openapi_path() -> None:
    """Without url=, the client targets the documented Test server and /websocket/prices."""
    client = TradevestClient()
    assert client.url == "wss://prices-provider.platform-test.tradevest.ai/websocket/prices"
    assert client.stale_timeout == 5.0 and client.ping_interval is None
    assert client.state is ConnectionState.IDLE
