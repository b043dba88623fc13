"""The connection owns its protocol: session phases, commands, requests, timer verdicts and
blocking work on the worker, against a tiny venue that needs a connect step."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from typing import Any, Optional, Union

import pytest

from tests.conftest import T
from tests.core.echo import EchoClient, EchoProtocol, EchoServer, trade
from tests.helpers import next_of, wait_until
from wsclients import ConnectFailed, ConnectionLost, ConnectionState, ErrorEvent, Trade
from wsclients.core.client import SubscribingClient
from wsclients.core.connection import Connection
from wsclients.core.pending import wait_result
from wsclients.core.protocol import CloseRequest, Job
from wsclients.testing import FakeVegaNode
from wsclients.testing.hyperliquid import FakeHyperliquid
from wsclients.testing.server import FakeConnection
from wsclients.venues.hyperliquid import HyperliquidClient
from wsclients.venues.vega import VegaClient

pytestmark = pytest.mark.timeout(30)

FAST: dict[str, Any] = {"backoff_min": 0.01, "backoff_max": 0.05}


class SessionServer(EchoServer):
    """Answers ``{"op":"connect"}`` with a welcome (unless told to stay mute), echoes
    requests as replies, and answers app pings."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.welcome: Optional[dict[str, Any]] = {"type": "welcome"}
        self.answer_requests = True

    def on_message(self, conn: FakeConnection, message: Union[str, bytes]) -> None:
        super().on_message(conn, message)
        item = json.loads(message)
        if item.get("op") == "connect" and self.welcome is not None:
            conn.send(json.dumps(self.welcome))
        elif item.get("op") == "req" and self.answer_requests:
            conn.send(json.dumps({"type": "reply", "id": item["id"], "echo": item["n"]}))


class SessionProtocol(EchoProtocol):
    """Echo, plus a connect step, replies, a deadline checked on the timer and a job."""

    needs_session = True

    def __init__(self) -> None:
        super().__init__(app_ping=False)
        self.deadline: Optional[float] = None
        self.job_answers: list[Any] = []
        self.ask_on_open = False

    def on_open(self) -> None:
        self.opens += 1
        self._outgoing.append('{"op":"connect"}')
        if self.ask_on_open:
            self.ask(Job("slow", self.opens, "lookup"))

    def receive_text(self, data: Union[str, bytes], *, received_ns: int) -> None:
        item = json.loads(data)
        if item.get("type") == "welcome":
            self.open_session()
            stale = item.get("stale")
            if stale is not None:
                self.set_heartbeat(None, stale)
            self._outgoing.extend(self.subscribe_message(c) for c in self.channels)
        elif item.get("type") == "reply":
            self.reply(item["id"], item["echo"])
        else:
            super().receive_text(data, received_ns=received_ns)

    def request(self, request_id: int, n: int) -> None:
        self._outgoing.append(json.dumps({"op": "req", "id": request_id, "n": n}))

    def on_tick(self, now: float) -> None:
        if self.deadline is not None and now >= self.deadline:
            self.deadline = None
            self.close_request = CloseRequest("the deadline passed")

    def job_done(self, job: Job, result: Any, error: Optional[BaseException]) -> None:
        self.job_answers.append((job.key, result, error))


class SessionClient(EchoClient):
    def __init__(self, **options: Any) -> None:
        self.protocol = SessionProtocol()
        self.job_started = threading.Event()
        self.job_release = threading.Event()
        SubscribingClient.__init__(self, self.protocol, **options)

    def request(self, n: int, timeout: float = 5.0) -> Any:
        future = self._connection.request(
            lambda protocol, request_id: protocol.request(request_id, n), timeout=timeout
        )
        return wait_result(future, "req", timeout)

    def request_async(self, n: int, timeout: float = 5.0) -> Future[Any]:
        return self._connection.request(
            lambda protocol, request_id: protocol.request(request_id, n), timeout=timeout
        )

    def _run_job(self, connection: Connection, job: Job) -> Any:
        self.job_started.set()
        self.job_release.wait(5 * T)
        return f"answer {job.args}"


@pytest.fixture
def server() -> Iterator[SessionServer]:
    with SessionServer("session") as server:
        yield server


def make(server: SessionServer, **options: Any) -> SessionClient:
    merged: dict[str, Any] = {**FAST, "ping_interval": None, "stale_timeout": None}
    merged.update(options)
    return SessionClient(url=server.url, **merged)


def sent(server: SessionServer, index: int = 0) -> list[dict[str, Any]]:
    return [json.loads(m) for m in server.connections[index].received]


def test_start_waits_for_the_session_and_subscribes_after_it(server: SessionServer) -> None:
    """Socket open is not enough: start() returns on the welcome, and the subscriptions go
    out after the connect command, never before it."""
    client = make(server)
    client.subscribe("a")
    with client:
        assert client.state is ConnectionState.CONNECTED
        client.subscribe("b")
        wait_until(lambda: len(sent(server)) >= 3)
        ops = [(m["op"], m.get("channel")) for m in sent(server)]
    assert ops[:3] == [("connect", None), ("subscribe", "a"), ("subscribe", "b")]


def test_no_session_means_start_fails_with_the_reason(server: SessionServer) -> None:
    """A venue that never accepts the connect: start() gives up at its timeout and says the
    socket never got a session."""
    server.welcome = None
    client = make(server)
    with pytest.raises(ConnectFailed, match="not connected within"):
        client.start(timeout=0.5)
    assert client.state is ConnectionState.CLOSED


def test_heartbeat_set_at_run_time_catches_a_silent_server(server: SessionServer) -> None:
    """The welcome says "stale after 0.3 s"; the client had no watchdog of its own, yet a
    server gone silent is replaced within about that time."""
    server.welcome = {"type": "welcome", "stale": 0.3}
    with make(server) as client:
        server.go_silent()
        started = time.monotonic()
        server.wait_for_connections(2, timeout=5 * T)
        assert time.monotonic() - started < 2.0
        assert client.stats.reconnects >= 1


def test_a_timer_verdict_takes_effect_without_a_frame(server: SessionServer) -> None:
    """A close request made on the timer thread (a deadline) closes the socket at once; it
    does not wait for a data frame that a quiet venue never sends."""
    with make(server) as client:
        client._connection.command(lambda p: setattr(p, "deadline", 0.0))
        server.wait_for_connections(2, timeout=3 * T)
        wait_until(lambda: client.state is ConnectionState.CONNECTED)


def test_a_command_close_request_takes_effect_at_once(server: SessionServer) -> None:
    """A command that asks for a close (from a user thread) is acted on before it returns."""
    with make(server) as client:
        client._connection.command(
            lambda p: setattr(p, "close_request", CloseRequest("user asked")))
        server.wait_for_connections(2, timeout=3 * T)


def test_requests_from_16_threads_are_matched(server: SessionServer) -> None:
    """Sixteen threads each get their own answer, matched by id."""
    results: dict[int, Any] = {}
    with make(server) as client:
        def work(n: int) -> None:
            results[n] = client.request(n)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(5 * T)
    assert results == {n: n for n in range(16)}


def test_a_drop_fails_pending_requests_and_later_ones_wait(server: SessionServer) -> None:
    """A request in flight when the socket drops fails with ConnectionLost; one made while
    reconnecting goes out on the next socket and is answered."""
    with make(server) as client:
        server.answer_requests = False
        pending = client.request_async(1)
        wait_until(lambda: any(m.get("op") == "req" for m in sent(server)))
        server.drop_all()
        with pytest.raises(ConnectionLost):
            pending.result(3 * T)
        server.answer_requests = True
        assert client.request(2) == 2


def test_blocking_work_runs_on_the_worker_while_frames_flow(server: SessionServer) -> None:
    """A job that blocks (like HTTP) runs on the client's worker: the reader keeps reading
    and delivering meanwhile, and the answer comes back into the protocol."""
    client = make(server)
    client.protocol.ask_on_open = True
    with client:
        assert client.job_started.wait(3 * T)
        assert any(t.name == "wsclients-echo-worker" for t in threading.enumerate())
        for i in range(20):
            server.broadcast(trade(i))
        trades = [next_of(client, Trade) for _ in range(20)]
        assert [t.trade_id for t in trades] == [str(i) for i in range(20)]
        assert client.protocol.job_answers == []
        client.job_release.set()
        wait_until(lambda: client.protocol.job_answers != [])
    assert client.protocol.job_answers == [(1, "answer lookup", None)]


def test_hyperliquid_missed_pongs_recover_without_the_stale_watchdog() -> None:
    """With stale_timeout=None and a fake gone silent, two unanswered pings replace the
    socket within ping_interval × (max missed + 1), not never."""
    with FakeHyperliquid() as fake, HyperliquidClient(
        url=fake.url, ping_interval=0.3, stale_timeout=None, **FAST
    ) as client:
        fake.go_silent()
        started = time.monotonic()
        fake.wait_for_connections(2, timeout=5 * T)
        assert time.monotonic() - started <= 0.3 * 3 + 0.5
        wait_until(lambda: client.state is ConnectionState.CONNECTED)


def test_vega_slow_rest_does_not_stall_the_stream() -> None:
    """REST answering after 2 s while the stream keeps sending: the trades wait for their
    decimals (nothing dropped, nothing out of order) and the reader keeps reading."""
    with FakeVegaNode() as node:
        node.rest_delay = 2.0
        market = node.market_ids[0]
        errors: list[ErrorEvent] = []
        with VegaClient(url=node.url, on_error=errors.append, **FAST) as client:
            client.subscribe_trades([market])
            node.wait_for_streams("trades")
            for _ in range(10):
                node.step(trades=3)
                time.sleep(0.05)
            reads = client.stats.messages
            assert reads >= 10  # frames were read while REST was still answering
            trades = [next_of(client, Trade, timeout=5 * T) for _ in range(30)]
            ids = [t.trade_id for t in trades]
            assert len(set(ids)) == 30
        assert not errors
