"""An idle dispatcher thread reads the socket itself (core/relay.py); callbacks still run on
the dispatcher only, in order, and a slow callback still never stalls reading."""

from __future__ import annotations

import queue
import random
import threading
import time
from collections.abc import Iterator
from typing import Any, Optional

import pytest

from tests.conftest import T
from tests.core.echo import EchoClient, EchoServer, trade
from wsclients import ConnectionState, Status, Trade
from wsclients.core.relay import ReadRelay
from wsclients.testing.server import FakeConnection

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def server() -> Iterator[EchoServer]:
    with EchoServer("relay") as server:
        yield server


def client_for(server: EchoServer, **options: Any) -> EchoClient:
    options.setdefault("ping_interval", None)
    options.setdefault("stale_timeout", None)
    return EchoClient(url=server.url, **options)


def relay_of(client: EchoClient) -> Optional[ReadRelay]:
    return client._hub._relay


def wait_until(condition: Any, timeout: float = 5 * T) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.005)


def lend_after_one_trade(server: EchoServer, client: EchoClient, seen: Seen) -> FakeConnection:
    """Send one trade, wait for its callback, and give the idle dispatcher time to take the
    socket: the connection, with the dispatcher holding the socket."""
    conn = server.wait_for_connections(1)[0]
    conn.send(trade(0))
    wait_until(lambda: len(seen.ids) >= 1)
    wait_until(lambda: (relay := relay_of(client)) is not None and relay.dispatcher_holds())
    return conn


class Seen:
    """Trade ids and the threads their callbacks ran on."""

    def __init__(self, expected: int) -> None:
        self.ids: list[str] = []
        self.threads: set[str] = set()
        self.expected = expected
        self.done = threading.Event()

    def __call__(self, t: Trade) -> None:
        self.ids.append(t.trade_id)
        self.threads.add(threading.current_thread().name)
        if len(self.ids) >= self.expected:
            self.done.set()


def test_lone_frames_are_read_by_the_idle_dispatcher(server: EchoServer) -> None:
    """Frames that arrive one at a time are read by the dispatcher thread (one wake-up per
    frame); their callbacks run there, in order."""
    seen = Seen(20)
    client = client_for(server, on_trade=seen)
    with client:
        conn = server.wait_for_connections(1)[0]
        wait_until(lambda: relay_of(client) is not None)
        for i in range(20):
            conn.send(trade(i))
            time.sleep(0.01)
        assert seen.done.wait(5 * T)
        relay = relay_of(client)
        assert relay is not None
        turns = relay.dispatcher_turns
    assert seen.ids == [str(i) for i in range(20)]
    assert seen.threads == {"wsclients-echo-dispatch"}
    assert turns >= 10  # at most a few frames came before the dispatcher first went idle


def test_a_slow_callback_does_not_stall_reading(server: EchoServer) -> None:
    """While a callback sleeps, the reader thread takes the socket back and keeps reading:
    the frames behind it are counted before the callback returns, and arrive in order."""
    release = threading.Event()
    seen = Seen(50)

    def on_trade(t: Trade) -> None:
        if t.trade_id == "0":
            release.wait(10 * T)
        seen(t)

    client = client_for(server, on_trade=on_trade)
    with client:
        conn = server.wait_for_connections(1)[0]
        wait_until(lambda: relay_of(client) is not None)
        time.sleep(0.05)  # the dispatcher is idle, holding the socket
        conn.send(trade(0))
        time.sleep(0.05)  # its callback is asleep now
        for i in range(1, 50):
            conn.send(trade(i))
        wait_until(lambda: client.stats.messages >= 50)  # read while the callback sleeps
        assert seen.ids == []
        release.set()
        assert seen.done.wait(5 * T)
    assert seen.ids == [str(i) for i in range(50)]


def test_order_and_completeness_across_hand_overs(server: EchoServer) -> None:
    """Bursts and lone frames mixed, with callbacks of varying length: the socket changes
    hands many times, and every trade still arrives once, in order."""
    rng = random.Random(7)
    total = 1500
    seen = Seen(total)

    def on_trade(t: Trade) -> None:
        if rng.random() < 0.02:
            time.sleep(0.002)
        seen(t)

    client = client_for(server, on_trade=on_trade)
    with client:
        conn = server.wait_for_connections(1)[0]
        wait_until(lambda: relay_of(client) is not None)
        i = 0
        while i < total:
            n = rng.choice([1, 1, 1, 2, 5, 50])
            n = min(n, total - i)
            conn.send_batch([trade(k) for k in range(i, i + n)])
            i += n
            if rng.random() < 0.3:
                time.sleep(rng.random() * 0.003)
        assert seen.done.wait(10 * T)
        relay = relay_of(client)
        assert relay is not None and relay.dispatcher_turns > 0
        inbox = client._hub._inbox
        assert inbox is not None
        # A dispatcher waiting in the relay is rung, not handed a token it never takes.
        assert inbox._wake.qsize() <= 2
    assert seen.ids == [str(k) for k in range(total)]


@pytest.mark.parametrize("end", ["close", "drop", "venue asks"])
def test_the_dispatcher_reads_the_end_and_the_reader_reconnects(
    server: EchoServer, end: str
) -> None:
    """A close frame, a dropped TCP connection or a venue's request to reconnect, read by the
    dispatcher, is the reader's news: the client reports it, reconnects, restores the
    subscription and reads on."""
    seen = Seen(2)
    statuses: queue.Queue[Status] = queue.Queue()
    client = client_for(server, on_trade=seen, on_status=statuses.put,
                        backoff_min=0.05)
    with client:
        client.subscribe("X")
        server.wait_for_connections(1)[0].wait_for_message(lambda m: "subscribe" in str(m))
        conn = lend_after_one_trade(server, client, seen)
        if end == "close":
            conn.close(1001, "going away")
        elif end == "drop":
            conn.drop()
        else:  # a message whose handling closes the socket (the protocol's close request)
            conn.send('{"type": "close"}')
        second = server.wait_for_connections(2)[1]
        second.wait_for_message(lambda m: "subscribe" in str(m))
        second.send(trade(1))
        assert seen.done.wait(5 * T)
    assert seen.ids == ["0", "1"]
    states = []
    while not statuses.empty():
        states.append(statuses.get().state)
    assert ConnectionState.RECONNECTING in states


def test_a_ping_read_by_the_dispatcher_is_answered(server: EchoServer) -> None:
    """Control frames are handled by whichever thread holds the socket."""
    seen = Seen(1)
    client = client_for(server, on_trade=seen)
    with client:
        conn = lend_after_one_trade(server, client, seen)
        assert conn.ping(b"are you there").wait(5 * T)


def test_stop_while_the_dispatcher_holds_the_socket(server: EchoServer) -> None:
    """stop() returns promptly and leaves no thread behind."""
    seen = Seen(1)
    client = client_for(server, on_trade=seen)
    client.start()
    lend_after_one_trade(server, client, seen)
    started = time.monotonic()
    client.stop()
    assert time.monotonic() - started < 2 * T
    assert not [t for t in threading.enumerate() if t.name.startswith("wsclients-echo")]
    assert client.state is ConnectionState.CLOSED


@pytest.mark.parametrize("options", [{"overflow": "block"}, {"dispatch": "inline"}])
def test_no_lending_under_block_or_inline(server: EchoServer, options: dict[str, str]) -> None:
    """With ``overflow="block"`` the dispatcher would wait on its own queue, and inline
    callbacks have no dispatcher: the reader keeps the socket."""
    seen = Seen(3)
    client = client_for(server, on_trade=seen, **options)
    with client:
        conn = server.wait_for_connections(1)[0]
        for i in range(3):
            conn.send(trade(i))
            time.sleep(0.01)
        assert seen.done.wait(5 * T)
        assert relay_of(client) is None
    assert seen.ids == ["0", "1", "2"]


def test_over_tls_with_messages_longer_than_a_read() -> None:
    """Over wss://, lone frames and messages longer than one read (several TLS records, the
    last read asking for exactly the rest) change hands between the threads and all arrive,
    in order."""
    import json
    import ssl
    from pathlib import Path

    tls = Path(__file__).resolve().parent.parent / "fixtures" / "tls"
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls / "localhost.crt", tls / "localhost.key")
    big = json.dumps({"type": "trade", "symbol": "X", "px": "1", "sz": "1", "id": "big",
                      "pad": "x" * 400_000})
    seen = Seen(5)
    with EchoServer("relay-tls", ssl=context) as server:
        client = client_for(server, on_trade=seen,
                            sslopt={"ca_certs": str(tls / "localhost.crt")})
        with client:
            conn = server.wait_for_connections(1)[0]
            wait_until(lambda: relay_of(client) is not None)
            conn.send(trade(0))
            wait_until(lambda: len(seen.ids) == 1)
            time.sleep(0.05)  # the dispatcher holds the socket
            conn.send_batch([big, trade(1)])
            wait_until(lambda: len(seen.ids) == 3)
            time.sleep(0.05)
            conn.send_batch([big, trade(2)])  # now perhaps read by the reader thread
            assert seen.done.wait(5 * T), seen.ids
    assert seen.ids == ["0", "big", "1", "big", "2"]


def test_doorbell_rings_until_cleared_and_not_after_close() -> None:
    """A ring makes the doorbell readable until cleared; after close a ring is a no-op (no
    later file with the same descriptor number can get it)."""
    import select

    from wsclients.core.relay import Doorbell

    bell = Doorbell()
    poller = select.poll()
    poller.register(bell.fileno(), select.POLLIN)
    assert poller.poll(0) == []
    bell.ring()
    bell.ring()
    assert [fd for fd, _ in poller.poll(0)] == [bell.fileno()]
    bell.clear()
    assert poller.poll(0) == []
    bell.close()
    bell.ring()  # no error, no write
    bell.close()  # idempotent


class _Inbox:
    """The two things ReadRelay asks of the dispatcher's queue, for the unit tests below."""

    def __init__(self) -> None:
        self.items: list[int] = []
        self.closed = False
        self.waker: Any = None

    def qsize(self) -> int:
        return len(self.items)

    def add_waker(self, wake: Any) -> None:
        self.waker = wake

    def remove_waker(self) -> None:
        self.waker = None


def test_bytes_buffered_above_the_socket_are_read_without_waiting() -> None:
    """Bytes ``poll`` cannot see (held by ``ssl``, or read ahead by the upgrade) must be read
    at once: neither thread may wait on the socket while ``buffered`` says so."""
    import socket

    from wsclients.core.relay import Doorbell

    ours, theirs = socket.socketpair()  # nothing is ever readable on ``ours``
    bell = Doorbell()
    held = [True]
    relay = ReadRelay(fileno=ours.fileno(), buffered=lambda: held[0], step=lambda: None,
                      inbox=_Inbox(), doorbell=bell)
    try:
        assert returns_soon(relay.reader_wait) is False  # in poll for ever without the check
        relay._holder = "dispatcher"  # as lent
        assert returns_soon(relay.dispatcher_wait) is False
        held[0] = False
        theirs.send(b"x")  # now the socket itself is readable
        assert returns_soon(relay.dispatcher_wait) is False
    finally:
        bell.ring()  # lets a wait that went wrong end
        theirs.send(b"x")
        time.sleep(0.05)
        bell.close()
        ours.close()
        theirs.close()


def returns_soon(call: Any) -> Any:
    """``call()``'s result, or AssertionError if it has not returned within a second."""
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(call()), daemon=True)
    thread.start()
    thread.join(1 * T)
    assert result, f"{call.__name__} is still waiting"
    return result[0]


def test_the_dispatcher_hands_over_as_soon_as_it_has_events() -> None:
    """Waiting on a lent socket, the dispatcher leaves for its queue once an event is in it
    (rung by the doorbell), and the socket goes back to the reader thread."""
    import socket

    from wsclients.core.relay import Doorbell, HandOver

    ours, theirs = socket.socketpair()
    bell = Doorbell()
    inbox = _Inbox()
    relay = ReadRelay(fileno=ours.fileno(), buffered=lambda: False, step=lambda: None,
                      inbox=inbox, doorbell=bell)
    try:
        relay._holder = "dispatcher"

        def publish_later() -> None:
            time.sleep(0.05)
            inbox.items.append(1)
            bell.ring()

        threading.Thread(target=publish_later).start()
        started = time.monotonic()
        with pytest.raises(HandOver):
            relay.dispatcher_wait()
        assert 0.04 < time.monotonic() - started < 2 * T
    finally:
        bell.close()
        ours.close()
        theirs.close()
