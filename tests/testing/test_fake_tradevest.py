"""FakeTradevest against a plain websocket-client socket on 127.0.0.1."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import websocket

from tests.conftest import T
from wsclients.testing.tradevest import DEFAULT_MARKETS, FakeTradevest
from wsclients.venues.tradevest import parse_time_ns

pytestmark = pytest.mark.timeout(20)

BTC = {"currency": "EUR", "cryptoSymbol": "BTC"}
ETH = {"currency": "EUR", "cryptoSymbol": "ETH"}


@pytest.fixture
def fake() -> Iterator[FakeTradevest]:
    with FakeTradevest(price_interval=0.05, keepalive_interval=0.05) as fake:
        yield fake


def connect(fake: FakeTradevest, **options: Any) -> websocket.WebSocket:
    return websocket.create_connection(fake.url, timeout=3 * T, **options)


def subscribe(ws: websocket.WebSocket, *markets: dict[str, str] | None) -> None:
    body: dict[str, Any] = {} if not markets else {"markets": list(markets)}
    ws.send(json.dumps({"type": "PRICE_SUBSCRIPTION", "priceSubscription": body}))


def receive(ws: websocket.WebSocket) -> dict[str, Any]:
    message = json.loads(ws.recv())
    assert isinstance(message, dict)
    return message


def expect_error_then_close(ws: websocket.WebSocket) -> dict[str, Any]:
    message = receive(ws)
    assert message["type"] == "ERROR"
    uuid.UUID(message["connectionId"])  # a well-formed UUID
    opcode, _ = ws.recv_data(control_frame=True)
    assert opcode == websocket.ABNF.OPCODE_CLOSE
    return message


def test_subscribe_some_streams_full_ladders_for_those_markets(fake: FakeTradevest) -> None:
    """The first PRICES holds each subscribed market with sorted ladders and an offset time."""
    ws = connect(fake)
    try:
        subscribe(ws, BTC, ETH)
        message = receive(ws)
        assert message["type"] == "PRICES"
        entries = message["prices"]
        assert [e["market"] for e in entries] == [BTC, ETH]
        for e in entries:
            asks = [Decimal(level["price"]) for level in e["asks"]]
            bids = [Decimal(level["price"]) for level in e["bids"]]
            assert 0 < len(asks) <= fake.depth and 0 < len(bids) <= fake.depth
            assert asks == sorted(asks) and bids == sorted(bids, reverse=True)
            assert bids[0] < asks[0]
            assert all(isinstance(level["quantity"], str) for level in e["asks"] + e["bids"])
            assert e["time"].endswith("+02:00")
            parse_time_ns(e["time"])
        conn = fake.wait_for_connections(1)[0]
        assert fake.wait_for_subscription(conn) == (("EUR", "BTC"), ("EUR", "ETH"))
    finally:
        ws.close()


@pytest.mark.parametrize("body", [{}, {"markets": []}, {"markets": None}])
def test_no_markets_means_every_market(fake: FakeTradevest, body: dict[str, Any]) -> None:
    """Omitted, empty or null markets subscribe to every market the fake knows."""
    ws = connect(fake)
    try:
        ws.send(json.dumps({"type": "PRICE_SUBSCRIPTION", "priceSubscription": body}))
        message = receive(ws)
        markets = [
            (e["market"]["currency"], e["market"]["cryptoSymbol"]) for e in message["prices"]
        ]
        assert tuple(markets) == DEFAULT_MARKETS
        assert fake.subscription(fake.connections[0]) is None
    finally:
        ws.close()


def test_prices_change_over_time(fake: FakeTradevest) -> None:
    """Later messages carry changed ladders for the subscribed market."""
    ws = connect(fake)
    try:
        subscribe(ws, BTC)
        first = receive(ws)["prices"][0]
        for _ in range(50):
            entry = receive(ws)["prices"][0]
            if entry["asks"] and (entry["asks"], entry["bids"]) != (first["asks"], first["bids"]):
                break
        else:
            pytest.fail("the ladders never changed")
    finally:
        ws.close()


def test_keepalives_when_prices_do_not_change() -> None:
    """With no price changes, each market gets an empty-ladder entry every keepalive_interval."""
    with FakeTradevest(price_interval=None, keepalive_interval=0.05) as fake:
        ws = connect(fake)
        try:
            subscribe(ws, BTC, ETH)
            assert all(e["asks"] for e in receive(ws)["prices"])
            for _ in range(3):
                entries = receive(ws)["prices"]
                assert [e["market"] for e in entries] == [BTC, ETH]
                assert all(e["asks"] == [] and e["bids"] == [] for e in entries)
            fake.wait_for_keepalives(6)
        finally:
            ws.close()


@pytest.mark.parametrize(
    "request_text, error",
    [
        (
            '{"type":"PRICE_SUBSCRIPTION","priceSubscription":{"markets":'
            '[{"currency":"EUR","cryptoSymbol":"XYZ"}]}}',
            "Unsupported market: EUR/XYZ",
        ),
        ("not json", "Malformed request"),
        ('{"type":"PRICES"}', "Malformed request"),
        ('{"type":"PRICE_SUBSCRIPTION","priceSubscription":{"markets":{}}}', "Malformed request"),
        ('{"type":"PRICE_SUBSCRIPTION","priceSubscription":[]}', "Malformed request"),
        (
            '{"type":"PRICE_SUBSCRIPTION","priceSubscription":{"markets":[{"currency":"EUR"}]}}',
            "Malformed request",
        ),
        (
            '{"type":"PRICE_SUBSCRIPTION","priceSubscription":{"markets":["BTC"]}}',
            "Malformed request",
        ),
    ],
)
def test_bad_subscription_gets_error_then_close(
    fake: FakeTradevest, request_text: str, error: str
) -> None:
    """An unknown market or a malformed request → ERROR with a fresh UUID, then a close."""
    ws = connect(fake)
    try:
        ws.send(request_text)
        message = expect_error_then_close(ws)
        assert message["error"].startswith(error)
        assert fake.error_ids == [message["connectionId"]]
    finally:
        ws.close()


def test_second_message_gets_error_then_close(fake: FakeTradevest) -> None:
    """After the subscription the server expects nothing: another message is an error."""
    ws = connect(fake)
    try:
        subscribe(ws, BTC)
        assert receive(ws)["type"] == "PRICES"
        subscribe(ws, ETH)
        while (message := receive(ws))["type"] == "PRICES":
            pass
        assert message["type"] == "ERROR"
        assert "Unexpected message" in message["error"]
    finally:
        ws.close()


def test_each_error_has_its_own_connection_id(fake: FakeTradevest) -> None:
    """send_error returns the id it sent; ids differ between errors."""
    ids = []
    for _ in range(2):
        ws = connect(fake)
        try:
            subscribe(ws, BTC)
            receive(ws)
            conn = fake.live_connections[-1]
            sent = fake.send_error(conn, "boom")
            while (message := receive(ws))["type"] != "ERROR":
                pass
            assert message == {"type": "ERROR", "error": "boom", "connectionId": sent}
            ids.append(sent)
        finally:
            ws.close()
    assert len(set(ids)) == 2 and fake.error_ids == ids


def test_token_is_checked_on_the_upgrade() -> None:
    """With a token set, a missing or wrong bearer token gets 403; the right one connects."""
    with FakeTradevest(token="s3cret") as fake:
        for header in ([], ["Authorization: Bearer wrong"]):
            with pytest.raises(websocket.WebSocketBadStatusException) as info:
                connect(fake, header=header)
            assert info.value.status_code == 403
        ws = connect(fake, header=["Authorization: Bearer s3cret"])
        try:
            subscribe(ws, BTC)
            assert receive(ws)["type"] == "PRICES"
        finally:
            ws.close()
        assert [r.status for r in fake.requests] == [403, 403, 101]


def test_silent_connection_sends_nothing_and_counts_nothing() -> None:
    """go_silent() stops the stream (and the keep-alive count) while the socket stays open."""
    with FakeTradevest(price_interval=None, keepalive_interval=0.02) as fake:
        ws = connect(fake)
        try:
            subscribe(ws, BTC)
            receive(ws)
            conn = fake.wait_for_connections(1)[0]
            conn.go_silent()
            count = fake.keepalives_sent
            ws.settimeout(0.2)
            with pytest.raises(websocket.WebSocketTimeoutException):
                while True:
                    ws.recv()
            assert fake.keepalives_sent <= count + 1
        finally:
            ws.shutdown()  # type: ignore[no-untyped-call]  # a silent peer would never answer a close frame
