"""The connection and base client against a real local server: reconnects, heartbeats,
stale detection, fatal conditions, subscription restore, prompt stop."""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import T
from tests.core.echo import EchoClient, EchoServer, subscribes, trade
from tests.helpers import next_of, wait_until
from wsclients import (
    AuthenticationFailed,
    ConnectFailed,
    ConnectionState,
    ErrorEvent,
    Message,
    Status,
    Trade,
)
from wsclients.errors import ConnectionLost, NotConnected, ProtocolViolation

pytestmark = pytest.mark.timeout(30)

FAST = {"backoff_min": 0.01, "backoff_max": 0.05}


@pytest.fixture
def server() -> Iterator[EchoServer]:
    with EchoServer("echo") as server:
        yield server


def client_for(server: EchoServer, **options: Any) -> EchoClient:
    merged: dict[str, Any] = {**FAST, "ping_interval": None, "stale_timeout": None}
    merged.update(options)
    return EchoClient(url=server.url, **merged)




def test_trades_flow_and_first_frames_are_sent(server: EchoServer) -> None:
    """The protocol's opening frame goes out, and frames come back as typed events."""
    with client_for(server) as client:
        conn = server.wait_for_connections(1)[0]
        conn.wait_for_message(lambda m: m == '{"op":"hello"}')
        conn.send(trade(1))
        event = next_of(client, Trade)
        assert str(event.price) == "101.5" and event.venue == "echo"
        assert client.state is ConnectionState.CONNECTED
        assert client.stats.messages == 1


@pytest.mark.parametrize("fault", ["clean_close", "error_close", "tcp_drop"])
def test_reconnects_after_each_kind_of_loss(server: EchoServer, fault: str) -> None:
    """Clean close, close with an error code and a TCP drop all lead to a new socket."""
    with client_for(server) as client:
        conn = server.wait_for_connections(1)[0]
        if fault == "clean_close":
            conn.close(1000, "bye")
        elif fault == "error_close":
            conn.close(1011, "internal error")
        else:
            conn.drop()
        server.wait_for_connections(2, timeout=5 * T)
        lost = next_of(client, ErrorEvent)
        assert isinstance(lost.exception, ConnectionLost) and not lost.fatal
        reconnecting = next_of(client, Status, state=ConnectionState.RECONNECTING)
        if fault == "clean_close":
            assert (reconnecting.code, reconnecting.reason) == (1000, "bye")
        elif fault == "error_close":
            assert reconnecting.code == 1011
        else:
            assert reconnecting.code is None and "without a close frame" in reconnecting.reason
        next_of(client, Status, state=ConnectionState.CONNECTED)
        server.connections[1].send(trade(2))
        assert next_of(client, Trade).trade_id == "2"
        assert client.stats.reconnects == 1


def test_silence_past_stale_timeout_reconnects(server: EchoServer) -> None:
    """A server that keeps the socket open but sends nothing (no pongs either) is dropped."""
    with client_for(server, stale_timeout=0.3 * T, ping_interval=0.1 * T) as client:
        conn = server.wait_for_connections(1)[0]
        conn.go_silent()
        server.wait_for_connections(2, timeout=5 * T)
        status = next_of(client, Status, state=ConnectionState.RECONNECTING)
        assert "stale" in status.reason


def test_pongs_keep_a_quiet_connection_alive(server: EchoServer) -> None:
    """App-level pings are sent on time and their pongs count as traffic: no false stale."""
    with client_for(server, stale_timeout=0.3 * T, ping_interval=0.1 * T):
        conn = server.wait_for_connections(1)[0]
        conn.wait_for_messages(8, timeout=5 * T)  # hello + pings for ~0.7 s
        assert len(server.connections) == 1
        assert conn.received.count('{"op":"ping"}') >= 5


def test_websocket_pings_when_the_venue_has_no_app_ping(server: EchoServer) -> None:
    """With no app-level ping, WebSocket pings are sent and their pongs count as traffic."""
    client = EchoClient(url=server.url, app_ping=False, stale_timeout=0.3 * T,
                        ping_interval=0.1 * T, **FAST)
    with client:
        conn = server.wait_for_connections(1)[0]
        time.sleep(1.0 * T)  # several stale periods: the answered pings must keep it open
        assert len(server.connections) == 1 and conn.is_open
        assert '{"op":"ping"}' not in conn.received


def test_401_on_upgrade_is_fatal_and_not_retried(server: EchoServer) -> None:
    """Bad credentials stop the client at once: one attempt, a fatal error, no storm."""
    server.reject_handshake(401, "bad token", times=None)
    client = client_for(server)
    with pytest.raises(AuthenticationFailed) as info:
        client.start(timeout=5 * T)
    assert info.value.code == 401
    assert len(server.requests) == 1
    assert client.state is ConnectionState.CLOSED


def test_503_on_upgrade_is_retried(server: EchoServer) -> None:
    """A server that is briefly unavailable is retried with backoff until it answers."""
    server.reject_handshake(503, "busy", times=2)
    with client_for(server) as client:
        assert client.state is ConnectionState.CONNECTED
        statuses = []
        while True:
            event = client.get(timeout=T)
            if isinstance(event, Status):
                statuses.append(event)
                if event.state is ConnectionState.CONNECTED:
                    break
        retries = [s for s in statuses if s.state is ConnectionState.RECONNECTING]
        assert [s.code for s in retries] == [503, 503]
        assert [s.attempt for s in retries] == [1, 2]


def test_fatal_close_code_stops_and_reports(server: EchoServer) -> None:
    """A close code the venue calls terminal ends the client with one fatal ErrorEvent."""
    errors: list[ErrorEvent] = []
    client = client_for(server, on_error=errors.append)
    client.start()
    server.wait_for_connections(1)[0].close(4001, "banned")
    assert wait_until(lambda: client.state is ConnectionState.CLOSED)
    # Callbacks run on the dispatcher thread: the error may be heard just after the state.
    assert wait_until(lambda: any(e.fatal for e in errors))
    fatal = [e for e in errors if e.fatal]
    assert len(fatal) == 1 and isinstance(fatal[0].exception, ConnectionLost)
    assert "banned" in fatal[0].message and "4001" in fatal[0].message
    assert len(server.connections) == 1
    assert list(client.events(timeout=0)) is not None  # drained iterator ends
    client.stop()


def test_fatal_close_explained_by_the_protocol(server: EchoServer) -> None:
    """When is_fatal queues the venue's own fatal error, that is the one the user hears."""
    errors: list[ErrorEvent] = []
    client = client_for(server, on_error=errors.append)
    client.start()
    server.wait_for_connections(1)[0].close(4002, "bye")
    next_of(client, Status, state=ConnectionState.CLOSED)
    client.stop()
    fatal = [e for e in errors if e.fatal]
    assert [e.message for e in fatal] == ["account closed by the venue"]


def test_reconnect_now_cuts_a_backoff_short(server: EchoServer) -> None:
    """A forced reconnect during a long backoff connects at once, and the reason does not
    linger to skip the backoff of a later, unforced drop."""
    client = EchoClient(url=server.url, backoff_min=30, backoff_max=60, ping_interval=None,
                        stale_timeout=None)
    with client:
        server.wait_for_connections(1)[0].drop()
        next_of(client, Status, state=ConnectionState.RECONNECTING)
        started = time.monotonic()
        client.reconnect("new settings")
        server.wait_for_connections(2, timeout=5 * T)
        assert time.monotonic() - started < 2.0
        next_of(client, Status, state=ConnectionState.CONNECTED)
        server.connections[1].drop()
        status = next_of(client, Status, state=ConnectionState.RECONNECTING)
        assert status.reason != "new settings" and (status.delay or 0) >= 0
        assert status.attempt >= 1  # a real backoff step, not a forced skip


def test_protocol_fatal_request_stops_without_retry(server: EchoServer) -> None:
    """A protocol that asks for a fatal close is obeyed: no reconnect."""
    client = client_for(server)
    client.start()
    server.wait_for_connections(1)[0].send('{"type":"fatal"}')
    next_of(client, Status, state=ConnectionState.CLOSED)
    assert len(server.connections) == 1
    client.stop()


def test_protocol_close_request_reconnects(server: EchoServer) -> None:
    """A non-fatal close request reconnects like any drop."""
    with client_for(server):
        server.wait_for_connections(1)[0].send('{"type":"close"}')
        server.wait_for_connections(2, timeout=5 * T)


def test_max_attempts_gives_up_with_fatal_error(server: EchoServer) -> None:
    """After the attempt limit the client stops with ConnectFailed instead of trying forever."""
    server.reject_handshake(503, times=None)
    client = client_for(server, max_attempts=3)
    with pytest.raises(ConnectFailed) as info:
        client.start(timeout=5 * T)
    assert info.value.attempts == 3
    assert len(server.requests) == 3


def test_subscriptions_restored_exactly_once(server: EchoServer) -> None:
    """Subscriptions made before start and while connected all come back after a drop,
    each exactly once; an unsubscribed one does not."""
    client = client_for(server)
    client.subscribe("a")
    client.subscribe("b")
    client.subscribe("a")  # a duplicate is sent once
    with client:
        first = server.wait_for_connections(1)[0]
        client.subscribe("c")
        client.subscribe("gone")
        first.wait_for_messages(5)
        client.unsubscribe("gone")
        first.wait_for_message(lambda m: "unsubscribe" in m)
        assert subscribes(first) == ["a", "b", "c", "gone"]
        first.drop()
        second = server.wait_for_connections(2, timeout=5 * T)[1]
        second.wait_for_messages(4)
        time.sleep(0.1 * T)
        assert subscribes(second) == ["a", "b", "c"]
        assert second.received[0] == '{"op":"hello"}'  # the protocol's frame goes first


def test_subscribe_during_reconnects_is_never_lost_or_doubled(server: EchoServer) -> None:
    """Subscribing from another thread while the socket keeps dropping still ends with every
    channel subscribed exactly once on the final socket."""
    with client_for(server) as client:
        stop = threading.Event()

        def dropper() -> None:
            while not stop.is_set():
                for conn in server.live_connections:
                    conn.drop()
                time.sleep(0.02)

        thread = threading.Thread(target=dropper)
        thread.start()
        try:
            for i in range(30):
                client.subscribe(f"ch{i}")
                time.sleep(0.005)
        finally:
            stop.set()
            thread.join()
        deadline = time.monotonic() + 5 * T
        while time.monotonic() < deadline:
            live = server.live_connections
            connected = client.state is ConnectionState.CONNECTED
            if connected and live and len(subscribes(live[-1])) >= 30:
                break
            time.sleep(0.02)
        time.sleep(0.1 * T)
        assert client.state is ConnectionState.CONNECTED, "the reader must survive the storm"
        final = server.live_connections[-1]
        assert sorted(subscribes(final)) == sorted(f"ch{i}" for i in range(30))


def test_send_when_not_connected_fails_clearly(server: EchoServer) -> None:
    """send() before start or after stop raises NotConnected, naming the URL."""
    client = client_for(server)
    with pytest.raises(NotConnected, match="not connected"):
        client.send("x")
    with client:
        client.send('{"op":"x"}')
        server.wait_for_connections(1)[0].wait_for_message(lambda m: m == '{"op":"x"}')
    with pytest.raises(NotConnected):
        client.send("x")


def test_stop_during_backoff_is_prompt(server: EchoServer) -> None:
    """stop() cuts a long backoff wait short."""
    client = EchoClient(url=server.url, backoff_min=30, backoff_max=60, ping_interval=None,
                        stale_timeout=None)
    client.start()
    server.wait_for_connections(1)[0].drop()
    next_of(client, Status, state=ConnectionState.RECONNECTING)
    started = time.monotonic()
    client.stop()
    assert time.monotonic() - started < 1.0


def test_stop_during_hanging_handshake_is_prompt(server: EchoServer) -> None:
    """stop() returns at once while the server never answers the upgrade."""
    server.handshake_delay = math.inf
    client = client_for(server)
    client.start(wait=False)
    server.wait_for_requests(1)
    started = time.monotonic()
    client.stop()
    assert time.monotonic() - started < 1.0
    assert client.state is ConnectionState.CLOSED


def test_start_times_out_cleanly(server: EchoServer) -> None:
    """start(timeout=…) against a server that never answers raises and leaves no thread."""
    server.handshake_delay = math.inf
    client = client_for(server)
    with pytest.raises(ConnectFailed, match="not connected within"):
        client.start(timeout=0.3 * T)
    assert client.state is ConnectionState.CLOSED


def test_stop_is_idempotent_and_final(server: EchoServer) -> None:
    """stop() twice is fine; start() after stop() says to make a new client."""
    client = client_for(server)
    client.start()
    client.stop()
    client.stop()
    from wsclients.errors import ClientStopped

    with pytest.raises(ClientStopped):
        client.start()


def test_malformed_frame_then_good_frame(server: EchoServer) -> None:
    """Junk and a binary frame of junk each give an ErrorEvent; the next good frame is
    still delivered. (Text that is not UTF-8 fails the socket instead: test_frames_rfc.py.)"""
    with client_for(server) as client:
        conn = server.wait_for_connections(1)[0]
        conn.send("{not json")
        conn.send(b"\x00\x01binary junk")
        conn.send(trade(5))
        errors = [next_of(client, ErrorEvent) for _ in range(2)]
        assert all(isinstance(e.exception, ProtocolViolation) and not e.fatal for e in errors)
        assert next_of(client, Trade).trade_id == "5"
        assert client.state is ConnectionState.CONNECTED


def test_oversize_message_is_reported_and_skipped(server: EchoServer) -> None:
    """A frame over max_message_size is an ErrorEvent; the stream goes on."""
    with client_for(server, max_message_size=1000) as client:
        conn = server.wait_for_connections(1)[0]
        conn.send('{"type":"big","pad":"' + "x" * 5000 + '"}')
        conn.send(trade(6))
        error = next_of(client, ErrorEvent)
        assert "max_message_size" in error.message
        assert next_of(client, Trade).trade_id == "6"


def test_several_messages_in_one_binary_frame_are_one_frame(server: EchoServer) -> None:
    """A binary frame is passed to the protocol like text (venues decide what it means)."""
    with client_for(server) as client:
        conn = server.wait_for_connections(1)[0]
        conn.send(b'{"type":"bin"}')
        assert next_of(client, Message).channel == "bin"


def test_secrets_never_shown(server: EchoServer, caplog: pytest.LogCaptureFixture) -> None:
    """A secret header is sent on the upgrade but appears in no repr, log or event."""
    secret = "s3cr3t-token-value"
    caplog.set_level(logging.DEBUG, logger="wsclients")
    server.reject_handshake(503, times=1)
    client = client_for(server, headers={"Authorization": f"Bearer {secret}"})
    with client:
        conn = server.wait_for_connections(1)[0]
        assert conn.request_headers["Authorization"] == f"Bearer {secret}"
        conn.drop()
        server.wait_for_connections(2, timeout=5 * T)
        time.sleep(0.05)
        shown = [repr(client), str(client), repr(client.stats)]
        while True:
            try:
                shown.append(repr(client.get(timeout=0.1)))
            except queue.Empty:
                break
    # The fake server's own logs are the venue's side, not ours.
    shown.extend(r.getMessage() for r in caplog.records
                 if not r.name.startswith("wsclients.testing"))
    assert any(r.name.startswith("wsclients.core") for r in caplog.records)
    assert all(secret not in text for text in shown)
