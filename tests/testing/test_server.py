"""FakeServer against the real websocket-client and requests, on 127.0.0.1 sockets."""

from __future__ import annotations

import inspect
import math
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import requests
import websocket
from websocket import ABNF, WebSocketBadStatusException, WebSocketTimeoutException

from wsclients.testing import FakeConnection, FakeRequest, FakeServer
from wsclients.testing.server import HttpResult, Message

pytestmark = pytest.mark.timeout(10)

T = 2.0  # generous timeout for things that should happen at once
SHORT = 0.3  # how long we wait for things that must NOT happen


def fake_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("wsclients-")]


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    yield
    assert fake_threads() == []


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer("test") as server:
        yield server


def connect(url: str, **options: object) -> websocket.WebSocket:
    return websocket.create_connection(url, timeout=T, **options)


def http() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # a developer's proxy settings must not reach 127.0.0.1
    return session


# Lifecycle and addresses --------------------------------------------------------------------


def test_urls_and_serving_thread() -> None:
    """url/http_url point at the bound port; a named daemon thread serves until stop()."""
    fake = FakeServer("addr", path="/ws")
    assert fake.port == 0
    with fake:
        assert fake.port > 0
        assert fake.url == f"ws://127.0.0.1:{fake.port}/ws"
        assert fake.http_url == f"http://127.0.0.1:{fake.port}"
        assert "wsclients-fake-addr" in fake_threads()
        with socket.create_connection(("127.0.0.1", fake.port), timeout=T):
            pass
    assert fake_threads() == []
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", fake.port), timeout=T)


def test_start_and_stop_are_idempotent() -> None:
    """start() twice keeps one server; stop() twice (or before start) does nothing more."""
    fake = FakeServer("idem")
    fake.stop()
    assert fake.start() is fake
    port = fake.port
    fake.start()
    assert fake.port == port
    assert fake_threads().count("wsclients-fake-idem") == 1
    fake.stop()
    fake.stop()


def test_restart_on_same_port() -> None:
    """After stop(), start() binds the same port again, so a client can reconnect."""
    with FakeServer("restart") as fake:
        port = fake.port
        connect(fake.url).close()
        fake.stop()
        fake.start()
        assert fake.port == port
        ws = connect(fake.url)
        assert len(fake.wait_for_connections(2)) == 2
        ws.close()


# Receiving and recording --------------------------------------------------------------------


def test_records_messages_path_query_and_headers(server: FakeServer) -> None:
    """Each connection records what the client sent, its path, query and headers."""
    ws = connect(server.url + "/v1/feed?coin=BTC&coin=ETH&x=", header=["X-Key: k1"])
    ws.send("hello")
    ws.send_binary(b"\x00\x01")
    conn = server.wait_for_connections(1)[0]
    assert conn.wait_for_messages(2) == ["hello", b"\x00\x01"]
    assert conn.received == ["hello", b"\x00\x01"]
    assert conn.path == "/v1/feed"
    assert conn.query == {"coin": ["BTC", "ETH"], "x": [""]}
    assert conn.request_headers["x-key"] == "k1"
    assert conn.request.status == 101
    assert conn.index == 0
    ws.close()


def test_connections_kept_in_order_including_closed(server: FakeServer) -> None:
    """server.connections lists every connection in arrival order, closed ones too."""
    first = connect(server.url + "/a")
    server.wait_for_connections(1)
    first.close()
    server.connections[0].wait_closed(T)
    second = connect(server.url + "/b")
    conns = server.wait_for_connections(2)
    assert [c.path for c in conns] == ["/a", "/b"]
    assert [c.index for c in conns] == [0, 1]
    assert not conns[0].is_open
    assert conns[1].is_open
    assert server.live_connections == [conns[1]]
    second.close()


def test_close_code_and_reason_from_client_are_recorded(server: FakeServer) -> None:
    """The close code and reason the client sends are kept on the connection."""
    ws = connect(server.url)
    conn = server.wait_for_connections(1)[0]
    assert conn.close_code_received is None
    ws.close(status=4002, reason=b"done here")
    conn.wait_closed(T)
    assert conn.close_code_received == 4002
    assert conn.close_reason_received == "done here"


def test_hooks_run_in_the_connection_thread() -> None:
    """on_connect, on_message and on_disconnect run, in order, on the connection's thread."""
    calls: list[tuple[str, str]] = []

    class Echo(FakeServer):
        def on_connect(self, conn: FakeConnection) -> None:
            calls.append(("connect", threading.current_thread().name))
            conn.send("welcome")

        def on_message(self, conn: FakeConnection, message: Message) -> None:
            calls.append(("message", threading.current_thread().name))
            conn.send(f"echo {message!r}")

        def on_disconnect(self, conn: FakeConnection) -> None:
            calls.append(("disconnect", threading.current_thread().name))

    with Echo("echo") as fake:
        ws = connect(fake.url)
        assert ws.recv() == "welcome"
        ws.send("hi")
        assert ws.recv() == "echo 'hi'"
        ws.close()
        fake.wait_for_connections(1)[0].wait_closed(T)
    assert [c[0] for c in calls] == ["connect", "message", "disconnect"]
    assert {c[1] for c in calls} == {"wsclients-fake-echo-1"}


def test_handler_error_is_recorded_and_closes_with_1011() -> None:
    """A hook that raises is recorded in handler_errors; the client gets close code 1011."""

    class Broken(FakeServer):
        def on_message(self, conn: FakeConnection, message: Message) -> None:
            raise ValueError("boom")

    with Broken("broken") as fake:
        ws = connect(fake.url)
        ws.send("x")
        opcode, frame = ws.recv_data_frame(True)
        assert opcode == ABNF.OPCODE_CLOSE
        assert int.from_bytes(frame.data[:2], "big") == 1011
        assert [str(e) for e in fake.handler_errors] == ["boom"]
        ws.close()


# Sending --------------------------------------------------------------------------------------


def test_send_text_and_binary(server: FakeServer) -> None:
    """str goes out as a text frame, bytes as a binary frame."""
    ws = connect(server.url)
    conn = server.wait_for_connections(1)[0]
    conn.send("text")
    conn.send(b"\xff\x00")
    assert ws.recv_data() == (ABNF.OPCODE_TEXT, b"text")
    assert ws.recv_data() == (ABNF.OPCODE_BINARY, b"\xff\x00")
    ws.close()


def test_send_many_puts_several_messages_in_one_frame(server: FakeServer) -> None:
    """send_many joins messages with newlines into ONE text frame (Centrifugo batching)."""
    ws = connect(server.url)
    conn = server.wait_for_connections(1)[0]
    conn.send_many(['{"id":1}', '{"id":2}', '{"id":3}'])
    conn.send("next")
    assert ws.recv() == '{"id":1}\n{"id":2}\n{"id":3}'
    assert ws.recv() == "next"
    ws.close()


def test_send_batch_sends_one_frame_per_message(server: FakeServer) -> None:
    """send_batch sends each message in its own frame, in order."""
    ws = connect(server.url)
    conn = server.wait_for_connections(1)[0]
    conn.send_batch([f"m{i}" for i in range(500)] + [b"bin"])
    assert [ws.recv() for _ in range(500)] == [f"m{i}" for i in range(500)]
    assert ws.recv_data() == (ABNF.OPCODE_BINARY, b"bin")
    ws.close()


def test_invalid_utf8_arrives_in_a_text_frame(server: FakeServer) -> None:
    """send_invalid_utf8/send_raw_text produce TEXT frames whose payload is not UTF-8."""
    ws = connect(server.url, skip_utf8_validation=True)
    conn = server.wait_for_connections(1)[0]
    conn.send_invalid_utf8()
    conn.send_raw_text(b"\xff\xfe")
    for expected in (None, b"\xff\xfe"):
        opcode, data = ws.recv_data()
        assert opcode == ABNF.OPCODE_TEXT
        if expected is not None:
            assert data == expected
        with pytest.raises(UnicodeDecodeError):
            data.decode("utf-8")
    ws.close()


def test_broadcast_reaches_every_open_connection(server: FakeServer) -> None:
    """broadcast sends to all open connections."""
    clients = [connect(server.url) for _ in range(3)]
    server.wait_for_connections(3)
    server.broadcast("all")
    assert [ws.recv() for ws in clients] == ["all", "all", "all"]
    for ws in clients:
        ws.close()


def test_server_ping_is_answered_by_client(server: FakeServer) -> None:
    """conn.ping() returns an event set when the client's pong arrives."""
    ws = connect(server.url)
    conn = server.wait_for_connections(1)[0]
    pong = conn.ping(b"hb")
    assert not pong.is_set()
    ws.settimeout(SHORT)
    with pytest.raises(WebSocketTimeoutException):
        ws.recv()  # websocket-client answers the ping while it reads
    assert pong.wait(T)
    ws.close()


# Faults -------------------------------------------------------------------------------------


def test_close_sends_code_and_reason(server: FakeServer) -> None:
    """close(code, reason) sends a close frame the client can read, without blocking."""
    ws = connect(server.url)
    conn = server.wait_for_connections(1)[0]
    started = time.monotonic()
    conn.close(4001, "auth expired")
    assert time.monotonic() - started < SHORT
    opcode, frame = ws.recv_data_frame(True)
    assert opcode == ABNF.OPCODE_CLOSE
    assert int.from_bytes(frame.data[:2], "big") == 4001
    assert frame.data[2:] == b"auth expired"
    conn.wait_closed(T)  # websocket-client answered the close frame
    assert not conn.is_open
    ws.close()


def test_close_all_closes_every_connection(server: FakeServer) -> None:
    """close_all sends the close frame to every open connection."""
    clients = [connect(server.url) for _ in range(2)]
    server.wait_for_connections(2)
    server.close_all(1012, "restart")
    for ws in clients:
        opcode, frame = ws.recv_data_frame(True)
        assert opcode == ABNF.OPCODE_CLOSE
        assert frame.data == (1012).to_bytes(2, "big") + b"restart"
        ws.close()


def test_drop_cuts_tcp_without_close_frame(server: FakeServer) -> None:
    """drop() ends the stream abruptly: the client reads EOF, never a close frame."""
    ws = connect(server.url)
    conn = server.wait_for_connections(1)[0]
    conn.send("before")
    conn.drop()
    assert ws.recv() == "before"
    with pytest.raises(websocket.WebSocketConnectionClosedException):
        ws.recv_data_frame(True)
    conn.wait_closed(T)
    assert not conn.is_open
    conn.drop()  # idempotent
    ws.close()


def test_drop_with_reset_sends_rst(server: FakeServer) -> None:
    """drop(reset=True) makes the client see a TCP reset."""
    ws = connect(server.url)
    conn = server.wait_for_connections(1)[0]
    conn.drop(reset=True)
    with pytest.raises(ConnectionResetError):
        ws.recv_data_frame(True)
    ws.close()


def test_drop_all(server: FakeServer) -> None:
    """drop_all cuts every open connection without close frames."""
    clients = [connect(server.url) for _ in range(2)]
    conns = server.wait_for_connections(2)
    server.drop_all()
    for ws in clients:
        with pytest.raises(websocket.WebSocketConnectionClosedException):
            ws.recv_data_frame(True)
        ws.close()
    for conn in conns:
        conn.wait_closed(T)


def ping_answered(ws: websocket.WebSocket, payload: bytes, timeout: float) -> bool:
    ws.ping(payload)
    ws.settimeout(timeout)
    try:
        opcode, frame = ws.recv_data_frame(True)
    except WebSocketTimeoutException:
        return False
    finally:
        ws.settimeout(T)
    assert (opcode, frame.data) == (ABNF.OPCODE_PONG, payload)
    return True


def test_go_silent_stops_pongs_and_messages_but_keeps_reading(server: FakeServer) -> None:
    """A silent connection answers no ping and sends nothing, yet records what it receives."""
    ws = connect(server.url)
    conn = server.wait_for_connections(1)[0]
    assert ping_answered(ws, b"p1", T)
    conn.go_silent()
    assert conn.is_silent
    conn.send("lost")
    assert not ping_answered(ws, b"p2", SHORT)
    ws.send("still heard")
    assert conn.wait_for_message() == "still heard"
    assert conn.is_open
    conn.resume()
    assert ping_answered(ws, b"p3", T)
    conn.send("after")
    assert ws.recv() == "after"
    ws.close()


def test_server_go_silent_covers_later_connections(server: FakeServer) -> None:
    """server.go_silent() silences open connections and new ones once accepted."""
    early = connect(server.url)
    server.wait_for_connections(1)
    server.go_silent()
    late = connect(server.url)  # the upgrade itself is still answered
    server.wait_for_connections(2)
    assert all(conn.is_silent for conn in server.connections)
    assert not ping_answered(early, b"a", SHORT)
    assert not ping_answered(late, b"b", SHORT)
    server.resume()
    assert ping_answered(late, b"c", T)
    early.close(timeout=0)
    late.close()


def test_handshake_delay(server: FakeServer) -> None:
    """handshake_delay holds the upgrade answer for that many seconds."""
    server.handshake_delay = 0.3
    started = time.monotonic()
    ws = connect(server.url)
    assert time.monotonic() - started >= 0.3
    ws.close()


def test_infinite_handshake_delay_hangs_until_stop() -> None:
    """handshake_delay=inf never answers; stop() still returns promptly and joins threads."""
    fake = FakeServer("hang").start()
    fake.handshake_delay = math.inf
    with pytest.raises(WebSocketTimeoutException):
        websocket.create_connection(fake.url, timeout=SHORT)
    pending = fake.wait_for_requests(1)[0]
    assert pending.is_upgrade and pending.status is None
    started = time.monotonic()
    fake.stop()
    assert time.monotonic() - started < 1.0
    assert fake.connections == []


@pytest.mark.parametrize("status", [401, 403, 503])
def test_reject_handshake_once(server: FakeServer, status: int) -> None:
    """reject_handshake(status) answers the next upgrade with that HTTP status, then accepts."""
    server.reject_handshake(status, "go away")
    with pytest.raises(WebSocketBadStatusException) as info:
        connect(server.url)
    assert info.value.status_code == status
    assert info.value.resp_body == b"go away"
    ws = connect(server.url)
    assert [r.status for r in server.requests] == [status, 101]
    assert len(server.wait_for_connections(1)) == 1
    ws.close()


def test_reject_every_handshake_until_accepted(server: FakeServer) -> None:
    """times=None rejects every upgrade until accept_handshakes()."""
    server.reject_handshake(503, times=None, headers={"Retry-After": "1"})
    for _ in range(3):
        with pytest.raises(WebSocketBadStatusException) as info:
            connect(server.url)
        assert info.value.status_code == 503
        assert info.value.resp_headers["retry-after"] == "1"
    assert len(server.wait_for_requests(3, predicate=lambda r: r.status == 503)) == 3
    assert server.connections == []
    server.accept_handshakes()
    connect(server.url).close()


def test_check_handshake_hook_refuses_upgrade() -> None:
    """check_handshake can refuse an upgrade based on the request (e.g. a missing token)."""

    class Authed(FakeServer):
        def check_handshake(self, request: FakeRequest) -> tuple[int, str] | None:
            if request.headers.get("Authorization") != "Bearer good":
                return 401, "bad token"
            return None

    with Authed("authed") as fake:
        with pytest.raises(WebSocketBadStatusException) as info:
            connect(fake.url, header=["Authorization: Bearer bad"])
        assert info.value.status_code == 401
        connect(fake.url, header=["Authorization: Bearer good"]).close()
        assert [r.status for r in fake.requests] == [401, 101]


# Plain HTTP ---------------------------------------------------------------------------------


class Rest(FakeServer):
    def handle_http(self, request: FakeRequest) -> HttpResult:
        if request.path == "/api/v2/markets":
            return 200, {"markets": request.query.get("id", [])}
        if request.path == "/raw":
            return 200, b"\x01\x02", {"Content-Type": "application/x-test", "X-Extra": "1"}
        if request.path == "/text":
            return 429, "slow down"
        if request.path == "/boom":
            raise RuntimeError("hook bug")
        return super().handle_http(request)


def test_http_handler_answers_requests_on_the_same_port() -> None:
    """Non-upgrade requests go to handle_http; JSON, bytes and text bodies are encoded."""
    with Rest("rest") as fake, http() as session:
        reply = session.get(fake.http_url + "/api/v2/markets?id=a&id=b", timeout=T)
        assert reply.status_code == 200
        assert reply.headers["Content-Type"] == "application/json"
        assert reply.json() == {"markets": ["a", "b"]}
        raw = session.get(fake.http_url + "/raw", timeout=T)
        assert (raw.content, raw.headers["Content-Type"], raw.headers["X-Extra"]) == (
            b"\x01\x02",
            "application/x-test",
            "1",
        )
        text = session.get(fake.http_url + "/text", timeout=T)
        assert (text.status_code, text.text) == (429, "slow down")
        assert session.get(fake.http_url + "/nowhere", timeout=T).status_code == 404
        recorded = fake.requests
        assert [(r.method, r.path, r.is_upgrade) for r in recorded][:2] == [
            ("GET", "/api/v2/markets", False),
            ("GET", "/raw", False),
        ]
        assert [r.status for r in recorded] == [200, 200, 429, 404]
        assert fake.connections == []
        ws = connect(fake.url)  # and WebSockets still work on the same port
        ws.close()


def test_http_handler_error_becomes_500() -> None:
    """A raising handle_http answers 500 and is recorded in handler_errors."""
    with Rest("rest500") as fake, http() as session:
        assert session.get(fake.http_url + "/boom", timeout=T).status_code == 500
        assert [str(e) for e in fake.handler_errors] == ["hook bug"]


# Waiting ------------------------------------------------------------------------------------


def test_wait_helpers_time_out_with_a_clear_error(server: FakeServer) -> None:
    """Wait helpers raise TimeoutError (after the timeout, not before) when nothing comes."""
    with pytest.raises(TimeoutError, match="0 of 1 connections"):
        server.wait_for_connections(1, timeout=0.05)
    ws = connect(server.url)
    conn = server.wait_for_connections(1)[0]
    ws.send("one")
    assert conn.wait_for_message() == "one"
    started = time.monotonic()
    with pytest.raises(TimeoutError, match="'one'"):
        conn.wait_for_message(lambda m: m == "two", timeout=0.1)
    assert time.monotonic() - started >= 0.1
    with pytest.raises(TimeoutError, match="1 of 2 messages"):
        conn.wait_for_messages(2, timeout=0.05)
    with pytest.raises(TimeoutError):
        conn.wait_closed(0.05)
    ws.close()


def test_wait_for_message_scans_history_from_start(server: FakeServer) -> None:
    """wait_for_message matches past messages too; start= skips the first ones."""
    ws = connect(server.url)
    conn = server.wait_for_connections(1)[0]
    for text in ("sub:a", "x", "sub:b"):
        ws.send(text)
    conn.wait_for_messages(3)

    def is_sub(message: Message) -> bool:
        return isinstance(message, str) and message.startswith("sub:")

    assert conn.wait_for_message(is_sub) == "sub:a"
    assert conn.wait_for_message(is_sub, start=1) == "sub:b"
    ws.close()


def test_waiters_wake_up_when_data_arrives(server: FakeServer) -> None:
    """A waiter blocked before the event returns as soon as it happens."""
    results: list[object] = []
    waiter = threading.Thread(target=lambda: results.append(server.wait_for_connections(1)))
    waiter.start()
    ws = connect(server.url)
    waiter.join(T)
    assert len(results) == 1
    ws.close()


def test_start_thread_is_joined_on_stop() -> None:
    """Helper threads get a wsclients-fake name and are joined by stop()."""
    ticks: list[int] = []
    with FakeServer("helper") as fake:

        def stream() -> None:
            while not fake.stopping.wait(0.01):
                ticks.append(1)

        thread = fake.start_thread(stream, name="stream")
        assert thread.name == "wsclients-fake-helper-stream"
        assert thread.is_alive()
    assert not thread.is_alive()


# Stopping -----------------------------------------------------------------------------------


def test_stop_is_prompt_with_busy_silent_and_pending_connections() -> None:
    """stop() returns in < 1 s with open, silent and half-open sockets, leaving no thread."""
    fake = FakeServer("busy").start()
    open_ws = connect(fake.url)
    silent_ws = connect(fake.url)
    fake.wait_for_connections(2)[1].go_silent()
    raw = socket.create_connection(("127.0.0.1", fake.port), timeout=T)  # never sends a request
    started = time.monotonic()
    fake.stop()
    assert time.monotonic() - started < 1.0
    assert fake_threads() == []
    opcode, frame = open_ws.recv_data_frame(True)
    assert opcode == ABNF.OPCODE_CLOSE
    assert int.from_bytes(frame.data[:2], "big") == 1001
    assert raw.recv(1) == b""
    for ws in (open_ws, silent_ws):
        ws.close(timeout=0)
    raw.close()


def test_stop_reports_a_hook_that_never_returns() -> None:
    """A hook ignoring `stopping` is reported by stop() instead of hanging forever."""
    release = threading.Event()

    class Stuck(FakeServer):
        def on_connect(self, conn: FakeConnection) -> None:
            release.wait()

    fake = Stuck("stuck").start()
    ws = connect(fake.url)
    fake.wait_for_connections(1)
    with pytest.raises(RuntimeError, match="wsclients-fake-stuck-1"):
        fake.stop(timeout=0.2)
    release.set()
    fake.stop()  # a second stop() finishes the job once the hook has returned
    assert fake_threads() == []
    ws.close(timeout=0)


def test_server_pings_only_when_asked() -> None:
    """No keepalive pings by default; ping_interval makes the server ping on its own."""
    import websockets.sync.server

    if "ping_interval" not in inspect.signature(websockets.sync.server.serve).parameters:
        pytest.skip("server keepalive needs websockets >= 15")
    with FakeServer("quiet") as quiet, FakeServer("pinger", ping_interval=0.05) as pinger:
        quiet_ws, pinger_ws = connect(quiet.url), connect(pinger.url)
        pinger_ws.settimeout(T)
        opcode, _ = pinger_ws.recv_data_frame(True)
        assert opcode == ABNF.OPCODE_PING
        assert "wsclients-fake-pinger-1-ping" in fake_threads()
        quiet_ws.settimeout(SHORT)
        with pytest.raises(WebSocketTimeoutException):
            quiet_ws.recv_data_frame(True)
        quiet_ws.close()
        pinger_ws.close()
