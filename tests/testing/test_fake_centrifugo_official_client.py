"""FakeCentrifugo against the official asyncio SDK, centrifuge-python: where they disagree, the
fake is wrong."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Iterator
from typing import Any, Callable

import pytest

from tests.conftest import T
from wsclients.testing.centrifugo import FakeCentrifugo

pytest.importorskip("centrifuge")  # needs Python >= 3.10

import centrifuge  # noqa: E402

pytestmark = pytest.mark.timeout(30)


class Recorder(centrifuge.ClientEventHandler, centrifuge.SubscriptionEventHandler):  # type: ignore[misc]
    """Every client and subscription event, in order, as (name, context)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def __getattribute__(self, name: str) -> Any:
        if name.startswith("on_"):
            async def record(ctx: Any) -> None:
                object.__getattribute__(self, "events").append((name, ctx))
            return record
        return object.__getattribute__(self, name)

    def named(self, name: str) -> list[Any]:
        return [ctx for event, ctx in self.events if event == name]

    async def wait(self, condition: Callable[[], bool], timeout: float = 5 * T) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met; events: {self.events[-6:]}")
            await asyncio.sleep(0.01)


def run(coroutine: Awaitable[None]) -> None:
    asyncio.run(asyncio.wait_for(coroutine, 25))  # type: ignore[arg-type]


def make_client(fake: FakeCentrifugo, events: Recorder, **options: Any) -> Any:
    options.setdefault("token", fake.make_token("alice"))
    options.setdefault("min_reconnect_delay", 0.05)
    options.setdefault("max_reconnect_delay", 0.3)
    return centrifuge.Client(fake.url, events=events, proxy=None, timeout=2 * T, **options)


@pytest.fixture
def fake() -> Iterator[FakeCentrifugo]:
    with FakeCentrifugo() as server:
        yield server


def offsets(recorder: Recorder) -> list[int]:
    return [ctx.pub.offset for ctx in recorder.named("on_publication")]


def test_connect_subscribe_publications_and_rpc(fake: FakeCentrifugo) -> None:
    """Connect, subscribe, publications (batched too), rpc, history, presence, publish."""
    fake.on_rpc("echo", lambda data, info: {"echo": data, "user": info.user})

    async def main() -> None:
        client_events, sub_events = Recorder(), Recorder()
        client = make_client(fake, client_events)
        await client.connect()
        await client.ready(2 * T)
        sub = client.new_subscription("news", events=sub_events)
        await sub.subscribe()
        await sub.ready(2 * T)
        subscribed = sub_events.named("on_subscribed")[0]
        assert subscribed.recoverable and subscribed.positioned
        fake.publish("news", {"n": 1})
        with fake.batched():
            fake.publish("news", {"n": 2})
            fake.publish("news", {"n": 3})
        await sub_events.wait(lambda: len(offsets(sub_events)) == 3)
        assert offsets(sub_events) == [1, 2, 3]
        assert [c.pub.data for c in sub_events.named("on_publication")] == [
            {"n": 1}, {"n": 2}, {"n": 3}]
        result = await client.rpc("echo", {"a": 1})
        assert result.data == {"echo": {"a": 1}, "user": "alice"}
        with pytest.raises(centrifuge.ReplyError) as error:
            await client.rpc("nope", None)
        assert error.value.code == 104
        history = await sub.history(limit=-1)
        assert [p.offset for p in history.publications] == [1, 2, 3]
        await sub.publish({"n": 4})
        await sub_events.wait(lambda: len(offsets(sub_events)) == 4)
        assert sub_events.named("on_publication")[-1].pub.info.user == "alice"
        presence = await sub.presence_stats()
        assert presence.num_clients == 1 and presence.num_users == 1
        await client.disconnect()

    run(main())


def test_recovers_after_a_drop(fake: FakeCentrifugo) -> None:
    """After a TCP drop the SDK resubscribes with recover and gets the missed publications."""

    async def main() -> None:
        client_events, sub_events = Recorder(), Recorder()
        client = make_client(fake, client_events, min_reconnect_delay=0.2)
        await client.connect()
        sub = client.new_subscription("news", events=sub_events)
        await sub.subscribe()
        await sub.ready(2 * T)
        fake.publish("news", 1)
        await sub_events.wait(lambda: offsets(sub_events) == [1])
        fake.drop_all()
        fake.publish("news", 2)
        fake.publish("news", 3)
        await sub_events.wait(lambda: len(sub_events.named("on_subscribed")) == 2)
        again = sub_events.named("on_subscribed")[1]
        assert again.was_recovering and again.recovered
        await sub_events.wait(lambda: offsets(sub_events) == [1, 2, 3])
        assert fake.commands("subscribe")[1]["subscribe"]["recover"] is True
        await client.disconnect()

    run(main())


def test_failed_recovery_after_an_epoch_change(fake: FakeCentrifugo) -> None:
    """A new epoch while away: the SDK reports recovered=False and takes the new position."""

    async def main() -> None:
        client_events, sub_events = Recorder(), Recorder()
        client = make_client(fake, client_events, min_reconnect_delay=0.2)
        await client.connect()
        sub = client.new_subscription("news", events=sub_events)
        await sub.subscribe()
        await sub.ready(2 * T)
        fake.publish("news", 1)
        await sub_events.wait(lambda: offsets(sub_events) == [1])
        fake.drop_all()
        epoch = fake.set_epoch("news")
        fake.publish("news", "new")
        await sub_events.wait(lambda: len(sub_events.named("on_subscribed")) == 2)
        again = sub_events.named("on_subscribed")[1]
        assert again.was_recovering and not again.recovered
        assert again.stream_position.epoch == epoch and again.stream_position.offset == 1
        fake.publish("news", "next")
        await sub_events.wait(lambda: offsets(sub_events) == [1, 2])
        await client.disconnect()

    run(main())


def test_connection_token_refresh_through_get_token() -> None:
    """get_token gives the first token and, at ttl, the refresh token: no 3005 follows."""
    # Whole-second ttl: the SDK refreshes up to a second after exp, inside the grace.
    with FakeCentrifugo(expired_close_delay=1.2) as fake:
        calls: list[float] = []

        async def get_token() -> str:
            calls.append(time.monotonic())
            return fake.make_token("alice", ttl=2.0 if len(calls) == 1 else 60.0)

        async def main() -> None:
            events = Recorder()
            client = make_client(fake, events, token="", get_token=get_token)
            await client.connect()
            await client.ready(2 * T)
            refresh = await asyncio.to_thread(fake.wait_for_command, "refresh", timeout=4 * T)
            assert refresh["refresh"]["token"]
            await asyncio.sleep(1.4)  # past the first token's exp + grace
            assert fake.connected_count == 1 and client.state == centrifuge.ClientState.CONNECTED
            assert len(calls) == 2
            await client.disconnect()

        run(main())


def test_expired_connect_token_makes_the_sdk_fetch_a_new_one(fake: FakeCentrifugo) -> None:
    """Connect error 109: the SDK reconnects with a token from get_token."""
    tokens = [fake.make_token("alice", ttl=-10), fake.make_token("alice", ttl=60)]

    async def get_token() -> str:
        return tokens.pop(0)

    async def main() -> None:
        events = Recorder()
        client = make_client(fake, events, token="", get_token=get_token)
        await client.connect()
        await events.wait(lambda: bool(events.named("on_connected")))
        errors = [ctx.error for ctx in events.named("on_error")]
        assert any(getattr(e, "code", None) == 109 for e in errors)
        assert fake.connected_count == 1 and tokens == []
        await client.disconnect()

    run(main())


def test_subscription_token_refresh() -> None:
    """A $channel with get_token: the SDK subscribes, then sends sub_refresh at ttl."""
    with FakeCentrifugo(expired_sub_close_delay=1.2) as fake:
        async def get_sub_token(channel: str) -> str:
            return fake.make_token("alice", channel=channel, ttl=2.0)

        async def main() -> None:
            client_events, sub_events = Recorder(), Recorder()
            client = make_client(fake, client_events)
            await client.connect()
            sub = client.new_subscription("$vip", events=sub_events, get_token=get_sub_token)
            await sub.subscribe()
            await sub.ready(2 * T)
            refresh = await asyncio.to_thread(fake.wait_for_command, "sub_refresh",
                                              timeout=4 * T)
            assert refresh["sub_refresh"]["channel"] == "$vip"
            await asyncio.sleep(1.4)  # past the first token's exp + grace
            assert fake.subscribers("$vip") and not sub_events.named("on_unsubscribed")
            await client.disconnect()

        run(main())


def test_pings_are_answered() -> None:
    """Server pings every second: the SDK pongs and the connection stays up."""
    with FakeCentrifugo(ping_interval=1.0, pong_timeout=0.5) as fake:
        async def main() -> None:
            events = Recorder()
            client = make_client(fake, events)
            await client.connect()
            await asyncio.to_thread(fake.wait_for_command, "pong", timeout=3 * T)
            await asyncio.sleep(0.6)  # past the pong timeout
            assert fake.connected_count == 1 and not events.named("on_connecting")[1:]
            await client.disconnect()

        run(main())


@pytest.mark.parametrize("code, reconnects", [(3011, True), (3503, False), (3500, False)])
def test_disconnect_codes(fake: FakeCentrifugo, code: int, reconnects: bool) -> None:
    """3000-3499 reconnect; 3500-3999 are terminal for the SDK."""

    async def main() -> None:
        events = Recorder()
        client = make_client(fake, events)
        await client.connect()
        await client.ready(2 * T)
        fake.disconnect_all(code)
        if reconnects:
            await asyncio.to_thread(fake.wait_for_connected, 2, timeout=3 * T)
            assert events.named("on_connecting")[-1].code == code
        else:
            await events.wait(lambda: bool(events.named("on_disconnected")))
            assert events.named("on_disconnected")[0].code == code
        await client.disconnect()

    run(main())


@pytest.mark.parametrize("code, resubscribes", [(2000, False), (2500, True)])
def test_unsubscribe_push(fake: FakeCentrifugo, code: int, resubscribes: bool) -> None:
    """Unsubscribe push < 2500 ends the subscription; >= 2500 resubscribes."""

    async def main() -> None:
        client_events, sub_events = Recorder(), Recorder()
        client = make_client(fake, client_events)
        await client.connect()
        sub = client.new_subscription("news", events=sub_events)
        await sub.subscribe()
        await sub.ready(2 * T)
        fake.unsubscribe_client("news", code)
        if resubscribes:
            await sub_events.wait(lambda: len(sub_events.named("on_subscribed")) == 2)
            assert sub_events.named("on_subscribing")[-1].code == code
        else:
            await sub_events.wait(lambda: bool(sub_events.named("on_unsubscribed")))
            assert sub_events.named("on_unsubscribed")[0].code == code
            assert sub.state == centrifuge.SubscriptionState.UNSUBSCRIBED
        await client.disconnect()

    run(main())


def test_message_push_is_accepted(fake: FakeCentrifugo) -> None:
    """The message push reaches the SDK without upsetting it (0.7.0 has no handler for it)."""

    async def main() -> None:
        events = Recorder()
        client = make_client(fake, events)
        await client.connect()
        await client.ready(2 * T)
        assert fake.send_message({"down": 1}) == 1
        await asyncio.sleep(0.1)
        assert client.state == centrifuge.ClientState.CONNECTED and not events.named("on_error")
        await client.disconnect()

    run(main())
