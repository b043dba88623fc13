"""CentrifugoClient against FakeCentrifugo on 127.0.0.1: real sockets, threads and timers."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import T
from tests.helpers import next_event, next_of, wait_until
from wsclients import (
    CentrifugoClient,
    CentrifugoError,
    ConnectionState,
    ErrorEvent,
    Message,
    NotConnected,
    Publication,
    RecoveryFailed,
    RequestTimeout,
    SubscriptionRejected,
    WSClientError,
)
from wsclients.testing.centrifugo import ClientInfo, FakeCentrifugo, ReplyError

pytestmark = pytest.mark.timeout(60)

FAST: dict[str, Any] = {"backoff_min": 0.01, "backoff_max": 0.05}
WRONG_SECRET = "not-the-fake-servers-secret-at-all-32b"


@pytest.fixture
def fake() -> Iterator[FakeCentrifugo]:
    with FakeCentrifugo() as server:
        yield server


def make(fake: FakeCentrifugo, **options: Any) -> CentrifugoClient:
    if "token" not in options and "get_token" not in options:
        options["token"] = fake.make_token("alice")
    return CentrifugoClient(url=fake.url, **FAST, **options)


def publications(
    client: CentrifugoClient, n: int, channel: str = "chat", timeout: float = 3 * T
) -> list[Publication]:
    """The next ``n`` publications of ``channel`` (other events skipped)."""
    return [next_event(client, lambda e: isinstance(e, Publication) and e.channel == channel,
                       timeout) for _ in range(n)]  # type: ignore[misc]


class TestSession:
    def test_connect_comes_first_and_start_waits_for_its_reply(self, fake: FakeCentrifugo) -> None:
        """The first command is connect id 1; start() returns connected; ids increase."""
        client = make(fake, name="tester")
        client.subscribe("chat")
        with client:
            assert client.state is ConnectionState.CONNECTED
            fake.wait_for_subscribers("chat")
            commands = fake.commands()
            assert list(commands[0]) == ["id", "connect"] and commands[0]["id"] == 1
            assert commands[0]["connect"]["name"] == "tester"
            ids = [c["id"] for c in commands if c.get("id")]
            assert ids == sorted(ids) and len(set(ids)) == len(ids)

    def test_subscribe_after_start_is_sent_at_once(self, fake: FakeCentrifugo) -> None:
        """A subscription made while connected goes out now and data flows."""
        with make(fake) as client:
            assert client.subscribe("chat") and not client.subscribe("chat")
            fake.wait_for_subscribers("chat")
            fake.publish("chat", {"text": "hi"})
            [event] = publications(client, 1)
            assert event.data == {"text": "hi"} and event.offset == 1
            assert client.subscriptions == {"chat": "subscribed"}

    def test_a_terminal_close_code_makes_exactly_one_connection(self) -> None:
        """An invalid token (close 3500): start() raises, one connection, no retry storm."""
        errors: list[ErrorEvent] = []
        with FakeCentrifugo() as fake:
            client = make(fake, token=fake.make_token("alice", secret=WRONG_SECRET),
                          on_error=errors.append)
            with pytest.raises(WSClientError):
                client.start(timeout=3 * T)
            time.sleep(0.3)
            client.stop()
            assert len(fake.connections) == 1
        assert any(e.fatal and e.code == 3500 for e in errors)

    def test_connect_error_109_fetches_a_new_token(self, fake: FakeCentrifugo) -> None:
        """Expired token at connect → get_token once more → connected."""
        tokens = [fake.make_token("alice", exp=time.time() - 60), fake.make_token("alice")]
        calls: list[str] = []

        def get_token() -> str:
            calls.append(threading.current_thread().name)
            return tokens[min(len(calls) - 1, 1)]

        with make(fake, get_token=get_token) as client:
            assert client.state is ConnectionState.CONNECTED
            assert len(calls) == 2
            assert not any("reader" in name or "timer" in name for name in calls)

    def test_a_slow_get_token_outliving_the_stale_delay_is_retried(self) -> None:
        """3502 while our own get_token still runs is not terminal: its token connects next."""
        with FakeCentrifugo(stale_close_delay=0.2) as fake:
            calls: list[int] = []

            def slow_token() -> str:
                calls.append(1)
                time.sleep(0.5)
                return fake.make_token("alice")

            with make(fake, get_token=slow_token) as client:
                assert client.state is ConnectionState.CONNECTED
                assert len(fake.connections) >= 2 and calls == [1]

    def test_a_permanent_connect_error_is_fatal(self, fake: FakeCentrifugo) -> None:
        """A non-temporary connect error stops the client with its code."""
        fake.inject_error("connect", 101)
        client = make(fake)
        with pytest.raises(WSClientError):
            client.start(timeout=3 * T)
        client.stop()
        assert len(fake.connections) == 1

    def test_a_temporary_connect_error_retries(self, fake: FakeCentrifugo) -> None:
        """temporary: true on connect → another attempt, then connected."""
        fake.inject_error("connect", 100)
        with make(fake) as client:
            assert client.state is ConnectionState.CONNECTED
            assert fake.connected_count == 1 and len(fake.connections) == 2

    def test_refresh_before_expiry_keeps_the_socket(self) -> None:
        """A token with a short ttl is refreshed in time: no 3005, one connection."""
        with FakeCentrifugo(expired_close_delay=1.0) as fake:
            calls: list[int] = []

            def get_token() -> str:
                calls.append(1)
                return fake.make_token("alice", ttl=2)

            with make(fake, get_token=get_token):
                fake.wait_for_command("refresh", timeout=5 * T)
                fake.wait_for_command("refresh", timeout=5 * T, start=1)
                assert fake.connected_count == 1 and len(fake.connections) == 1
                assert len(calls) >= 3

    def test_a_silent_server_is_caught_by_the_ping_watchdog(self) -> None:
        """No ping for ping + max_server_ping_delay → a new socket."""
        with FakeCentrifugo(ping_interval=1.0, pong_timeout=None) as fake, \
                make(fake, max_server_ping_delay=0.3) as client:
            fake.live_connections[0].go_silent()
            fake.wait_for_connected(2, timeout=5 * T)
            assert wait_until(lambda: client.state is ConnectionState.CONNECTED)

    def test_pings_are_answered_exactly_once(self) -> None:
        """Each server ping gets one pong; the socket survives several ping periods."""
        with FakeCentrifugo(ping_interval=1.0, pong_timeout=0.5) as fake, make(fake):
            fake.wait_for_command("pong", timeout=3 * T)
            fake.ping_all()
            fake.wait_for_command("pong", timeout=3 * T, start=1)
            assert fake.connected_count == 1 and len(fake.connections) == 1


class TestDelivery:
    def test_200_batched_publications_arrive_in_order(self, fake: FakeCentrifugo) -> None:
        """Publications batched into frames are split and all delivered, in order."""
        with make(fake) as client:
            client.subscribe("chat")
            fake.wait_for_subscribers("chat")
            for start in range(0, 200, 50):
                with fake.batched():
                    for n in range(start, start + 50):
                        fake.publish("chat", {"n": n})
            got = publications(client, 200)
            assert [p.data["n"] for p in got] == list(range(200))
            assert [p.offset for p in got] == list(range(1, 201))

    def test_recovery_after_a_drop_delivers_missed_publications_once(
        self, fake: FakeCentrifugo
    ) -> None:
        """Published while the TCP connection was down: delivered once, in order."""
        with make(fake) as client:
            client.subscribe("chat")
            fake.wait_for_subscribers("chat")
            for n in range(5):
                fake.publish("chat", {"n": n})
            publications(client, 5)
            fake.drop_all()
            for n in range(5, 15):
                fake.publish("chat", {"n": n})
            fake.wait_for_connected(2, timeout=5 * T)
            fake.wait_for_subscribers("chat")
            for n in range(15, 20):
                fake.publish("chat", {"n": n})
            got = publications(client, 15)
            assert [p.data["n"] for p in got] == list(range(5, 20))
            resubscribe = fake.commands("subscribe")[-1]["subscribe"]
            assert resubscribe["recover"] is True and resubscribe["offset"] == 5
            with pytest.raises(AssertionError):
                publications(client, 1, timeout=0.3 * T)  # nothing twice

    def test_a_failed_recovery_is_announced(self, fake: FakeCentrifugo) -> None:
        """The stream's epoch changed while away: RecoveryFailed, then new data."""
        with make(fake) as client:
            client.subscribe("chat")
            fake.wait_for_subscribers("chat")
            fake.publish("chat", {"n": 0})
            publications(client, 1)
            fake.drop_all()
            fake.set_epoch("chat")
            fake.wait_for_connected(2, timeout=5 * T)
            failed = next_of(client, RecoveryFailed, channel="chat")
            assert failed.offset == 0 and failed.epoch == fake.stream_position("chat")[0]
            fake.wait_for_subscribers("chat")
            fake.publish("chat", {"n": 1})
            [event] = publications(client, 1)
            assert event.data == {"n": 1}

    def test_join_leave_and_server_messages(self, fake: FakeCentrifugo) -> None:
        """join/leave pushes and async messages are Messages."""
        with make(fake) as client:
            client.subscribe("chat", join_leave=True)
            fake.wait_for_subscribers("chat")
            with make(fake, token=fake.make_token("bob")) as other:
                other.subscribe("chat")
                joined = next_event(client, lambda e: isinstance(e, Message)
                                    and isinstance(e.data, dict) and e.data.get("type") == "join"
                                    and e.data["info"]["user"] == "bob")
                assert joined.channel == "chat"  # type: ignore[union-attr]
            fake.send_message({"hello": 1})
            message = next_event(client, lambda e: isinstance(e, Message) and e.channel == "")
            assert message.data == {"hello": 1}  # type: ignore[union-attr]


class TestSubscriptions:
    def test_a_refused_subscription_ends_alone(self, fake: FakeCentrifugo) -> None:
        """Unknown namespace (102): an ErrorEvent naming it; other channels carry on."""
        with make(fake) as client:
            client.subscribe("nowhere:x")
            client.subscribe("chat")
            error = next_of(client, ErrorEvent, code=102)
            assert "nowhere:x" in error.message
            assert isinstance(error.exception, SubscriptionRejected)
            assert wait_until(lambda: client.subscriptions == {"chat": "subscribed"})

    def test_unsubscribe_push_codes(self, fake: FakeCentrifugo) -> None:
        """2500 resubscribes; 2000 ends the subscription."""
        with make(fake) as client:
            client.subscribe("chat")
            fake.wait_for_subscribers("chat")
            fake.unsubscribe_client("chat", 2500)
            fake.wait_for_command("subscribe", start=1)
            fake.wait_for_subscribers("chat")
            fake.unsubscribe_client("chat", 2000)
            error = next_of(client, ErrorEvent, code=2000)
            assert "chat" in error.message
            assert wait_until(lambda: client.subscriptions == {})

    def test_subscription_tokens_and_sub_refresh(self) -> None:
        """A $channel gets its token from get_token and is refreshed before it expires."""
        with FakeCentrifugo(expired_sub_close_delay=1.0) as fake:
            asked: list[str] = []

            def sub_token(channel: str) -> str:
                asked.append(channel)
                return fake.make_token("alice", channel=channel, ttl=2)

            with make(fake) as client:
                client.subscribe("$private", get_token=sub_token)
                fake.wait_for_subscribers("$private")
                fake.wait_for_command("sub_refresh", timeout=5 * T)
                assert asked[:2] == ["$private", "$private"]
                assert fake.subscribers("$private") and fake.connected_count == 1


class TestRequests:
    def test_rpc_publish_history_presence(self, fake: FakeCentrifugo) -> None:
        """Each request returns its result."""
        fake.on_rpc("double", lambda data, info: {"x": data["x"] * 2})
        with make(fake) as client:
            assert client.rpc("double", {"x": 21}, timeout=3 * T) == {"x": 42}
            assert client.rpc_async("double", {"x": 1}).result(3 * T) == {"x": 2}
            client.subscribe("chat")
            fake.wait_for_subscribers("chat")
            client.publish("chat", {"text": "mine"})
            history = client.history("chat", limit=10)
            assert [p["data"] for p in history["publications"]] == [{"text": "mine"}]
            assert history["epoch"] and history["offset"] == 1
            assert list(client.presence("chat").values())[0]["user"] == "alice"
            assert client.presence_stats("chat") == {"num_clients": 1, "num_users": 1}

    def test_error_replies_are_typed(self, fake: FakeCentrifugo) -> None:
        """A reply error is raised as CentrifugoError(code, message)."""

        def refuse(data: Any, info: ClientInfo) -> Any:
            raise ReplyError(1001, "no such user")

        fake.on_rpc("user", refuse)
        with make(fake) as client:
            with pytest.raises(CentrifugoError) as caught:
                client.rpc("user", {"id": 1})
            assert (caught.value.code, caught.value.message) == (1001, "no such user")

    def test_request_timeout_and_failure_on_disconnect(self, fake: FakeCentrifugo) -> None:
        """No answer → RequestTimeout; a drop fails pending requests at once."""
        release = threading.Event()

        def slow(data: Any, info: ClientInfo) -> Any:
            release.wait(5)
            return None

        fake.on_rpc("slow", slow)
        with make(fake) as client:
            with pytest.raises(RequestTimeout):
                client.rpc("slow", timeout=0.2)
            release.set()
            release.clear()
            future = client.rpc_async("slow", timeout=10)
            time.sleep(0.1)
            fake.drop_all()
            release.set()
            with pytest.raises(WSClientError):
                future.result(3 * T)

    def test_send_is_fire_and_forget(self, fake: FakeCentrifugo) -> None:
        """send() reaches the server's handler; without a session it raises."""
        got: list[Any] = []
        fake.on_send(lambda data, info: got.append(data))
        client = make(fake)
        with pytest.raises(NotConnected):
            client.send({"early": True})
        with client:
            client.send({"x": 1})
            assert wait_until(lambda: got == [{"x": 1}])


def test_the_secret_is_never_shown(fake: FakeCentrifugo, caplog: pytest.LogCaptureFixture) -> None:
    """The token appears in no repr, log line, event or exception."""
    secret = fake.make_token("alice")
    events: list[Any] = []
    caplog.set_level(logging.DEBUG, logger="wsclients")
    fake.inject_error("subscribe", 103, channel="chat")
    client = CentrifugoClient(url=fake.url, token=secret, on_error=events.append,
                              on_status=events.append, **FAST)
    client.subscribe("chat", token=secret)
    with client:
        assert wait_until(lambda: any(isinstance(e, ErrorEvent) for e in events))
        fake.drop_all()
        fake.wait_for_connected(2, timeout=5 * T)
        texts = [repr(client), str(client), repr(client.protocol), caplog.text]
        texts += [repr(e) + str(getattr(e, "exception", "")) for e in events]
    assert all(secret not in text for text in texts)
    bad = CentrifugoClient(url=fake.url, token=fake.make_token("x", secret=WRONG_SECRET), **FAST)
    with pytest.raises(WSClientError) as caught:
        bad.start(timeout=3 * T)
    bad.stop()
    assert secret not in str(caught.value)
