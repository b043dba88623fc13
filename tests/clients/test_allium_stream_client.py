"""AlliumStreamClient against FakeAllium: real sockets, real threads, the real websocket-client."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any, Optional

import pytest

from tests.conftest import T
from tests.helpers import next_of, wait_until
from wsclients import (
    AlliumStreamClient,
    AuthenticationFailed,
    ConnectionState,
    ErrorEvent,
    F,
    Message,
    SubscriptionRejected,
)
from wsclients.testing.allium import FakeAllium, StreamAction
from wsclients.testing.server import FakeConnection

pytestmark = pytest.mark.timeout(30)

KEY = "sk-allium-stream-secret-987654321"
FAST: dict[str, Any] = {"backoff_min": 0.01, "backoff_max": 0.05}
BLOCKS = "ethereum.blocks"
TXS = "ethereum.transactions"
BIG = F("value") > "1000000000000000000"
BIG_JSON = {"field": "value", "operator": ">", "value": "1000000000000000000"}


@pytest.fixture
def fake() -> Iterator[FakeAllium]:
    with FakeAllium(api_key=KEY, rate=None) as fake:
        yield fake


def client_for(fake: FakeAllium, **options: Any) -> AlliumStreamClient:
    return AlliumStreamClient(api_key=KEY, url=fake.stream_url("unused"), **{**FAST, **options})


def actions_on(fake: FakeAllium, conn: FakeConnection, n: int) -> list[Any]:
    """The first ``n`` actions sent on ``conn``: names, setFilter with its data."""
    got = fake.wait_for_actions(n, lambda a: a.connection == conn.index, timeout=5 * T)
    return [_named(action) for action in got]


def _named(action: StreamAction) -> Any:
    return (action.action, action.data) if action.action == "setFilter" else action.action


def stream_conn(fake: FakeAllium, topic: str, index: int = 0) -> FakeConnection:
    assert wait_until(lambda: len(fake.stream_connections(topic)) > index)
    return fake.stream_connections(topic)[index]


def wait_started(fake: FakeAllium, conn: FakeConnection, started: bool = True,
                 filter: Optional[dict[str, Any]] = None) -> None:
    assert wait_until(lambda: fake.stream_state(conn).started is started
                      and (filter is None or fake.stream_state(conn).filter == filter))


def test_records_arrive_as_messages_on_the_topics_channel(fake: FakeAllium) -> None:
    """Subscribe, start: each record is Message(channel=topic, data=record)."""
    with client_for(fake) as client:
        client.subscribe(BLOCKS)
        conn = stream_conn(fake, BLOCKS)
        assert actions_on(fake, conn, 1) == ["start"]
        fake.publish(BLOCKS, {"number": 1, "hash": "0x01"})
        message = next_of(client, Message)
    assert (message.channel, message.data, message.venue) == (
        BLOCKS, {"number": 1, "hash": "0x01"}, "allium")
    upgrade = fake.requests[0]
    assert upgrade.query["topic"] == [BLOCKS]
    assert upgrade.headers["X-API-KEY"] == KEY
    assert "sec-websocket-extensions" not in {k.lower() for k in upgrade.headers}


def test_the_filter_is_set_before_start_and_applies(fake: FakeAllium) -> None:
    """setFilter precedes start; only matching records come (the fake filters)."""
    with client_for(fake) as client:
        client.subscribe(TXS, filter=BIG)
        conn = stream_conn(fake, TXS)
        assert actions_on(fake, conn, 2) == [("setFilter", BIG_JSON), "start"]
        fake.publish(TXS, [{"value": "5", "n": 1}, {"value": "2000000000000000000", "n": 2}])
        assert next_of(client, Message).data["n"] == 2
        assert client.filter_of(TXS) == BIG_JSON


def test_every_reconnect_sets_the_filter_and_starts_again(fake: FakeAllium) -> None:
    """After a drop the new socket gets setFilter then start, and records flow again."""
    with client_for(fake) as client:
        client.subscribe(TXS, filter=BIG)
        first = stream_conn(fake, TXS)
        wait_started(fake, first)
        fake.drop_all()
        assert wait_until(lambda: any(c is not first for c in fake.stream_connections(TXS)))
        second = next(c for c in fake.stream_connections(TXS) if c is not first)
        assert actions_on(fake, second, 2) == [("setFilter", BIG_JSON), "start"]
        wait_started(fake, second)
        fake.publish(TXS, {"value": "3000000000000000000", "n": 3})
        assert next_of(client, Message).data["n"] == 3
        assert client.stats.reconnects >= 1


def test_pause_and_resume_keep_the_socket(fake: FakeAllium) -> None:
    """pause sends stop (no records while paused), resume sends start; one socket all along."""
    with client_for(fake) as client:
        client.subscribe(BLOCKS)
        conn = stream_conn(fake, BLOCKS)
        wait_started(fake, conn)
        assert client.pause(BLOCKS) and not client.pause(BLOCKS)
        wait_started(fake, conn, started=False)
        assert fake.publish(BLOCKS, {"number": 7}) == 0 and client.is_paused(BLOCKS)
        assert client.resume(BLOCKS) and not client.resume(BLOCKS)
        wait_started(fake, conn)
        fake.publish(BLOCKS, {"number": 8})
        assert next_of(client, Message).data == {"number": 8}
        assert actions_on(fake, conn, 3) == ["start", "stop", "start"]
        assert len(fake.connections) == 1 and conn.is_open


def test_a_paused_stream_stays_paused_after_a_reconnect(fake: FakeAllium) -> None:
    """The user's pause survives a drop: the new socket gets the filter but no start."""
    with client_for(fake) as client:
        client.subscribe(TXS, filter=BIG)
        first = stream_conn(fake, TXS)
        wait_started(fake, first)
        client.pause(TXS)
        wait_started(fake, first, started=False)
        fake.drop_all()
        assert wait_until(lambda: any(c is not first for c in fake.stream_connections(TXS)))
        second = next(c for c in fake.stream_connections(TXS) if c is not first)
        assert actions_on(fake, second, 1) == [("setFilter", BIG_JSON)]
        assert wait_until(lambda: client.state is ConnectionState.CONNECTED)
        assert not fake.stream_state(second).started
        client.resume(TXS)
        wait_started(fake, second)


def test_a_new_filter_while_streaming_is_stop_set_filter_start(fake: FakeAllium) -> None:
    """The venue documents filters as set before start; the socket stays the same."""
    with client_for(fake) as client:
        client.subscribe(BLOCKS)
        conn = stream_conn(fake, BLOCKS)
        wait_started(fake, conn)
        client.set_filter(BLOCKS, F("miner") == "0xabc")
        miner = {"field": "miner", "operator": "=", "value": "0xabc"}
        assert actions_on(fake, conn, 4) == ["start", "stop", ("setFilter", miner), "start"]
        wait_started(fake, conn, filter=miner)
        fake.publish(BLOCKS, [{"miner": "0xdef", "n": 1}, {"miner": "0xabc", "n": 2}])
        assert next_of(client, Message).data["n"] == 2
        assert len(fake.connections) == 1


def test_clearing_the_filter_opens_a_fresh_unfiltered_socket(fake: FakeAllium) -> None:
    """No documented way to clear a filter: a new socket, started, with no setFilter."""
    with client_for(fake) as client:
        client.subscribe(TXS, filter=BIG)
        first = stream_conn(fake, TXS)
        wait_started(fake, first)
        client.set_filter(TXS, None)
        assert wait_until(lambda: any(c is not first for c in fake.stream_connections(TXS)))
        second = next(c for c in fake.stream_connections(TXS) if c is not first)
        assert actions_on(fake, second, 1) == ["start"]
        assert client.filter_of(TXS) is None and client.topics == [TXS]
        wait_started(fake, second)
        assert wait_until(lambda: not first.is_open)
        fake.publish(TXS, {"value": "1", "n": 4})
        assert next_of(client, Message).data["n"] == 4


def test_array_frames_are_one_message_per_record(fake: FakeAllium) -> None:
    """A frame holding an array of records gives one Message each, in order."""
    fake.records_per_frame = 3
    with client_for(fake) as client:
        client.subscribe(BLOCKS)
        wait_started(fake, stream_conn(fake, BLOCKS))
        fake.publish(BLOCKS, [{"n": n} for n in range(5)])
        got = [next_of(client, Message).data for _ in range(5)]
    assert got == [{"n": n} for n in range(5)] and fake.frames_sent == 2


def test_unknown_shapes_are_delivered_and_junk_is_reported(fake: FakeAllium) -> None:
    """A bare string or number is still a Message; a non-JSON frame is a non-fatal error."""
    with client_for(fake) as client:
        client.subscribe(BLOCKS)
        conn = stream_conn(fake, BLOCKS)
        wait_started(fake, conn)
        conn.send('"heartbeat?"')
        conn.send("not json")
        conn.send("42")
        assert next_of(client, Message).data == "heartbeat?"
        error = next_of(client, ErrorEvent)
        assert not error.fatal and "not JSON" in error.message
        assert next_of(client, Message).data == 42
        assert client.state is ConnectionState.CONNECTED


def test_each_topic_has_its_own_socket(fake: FakeAllium) -> None:
    """Two topics, two sockets, each record on its own channel; unsubscribe closes one."""
    with client_for(fake) as client:
        assert client.subscribe(BLOCKS) and client.subscribe(TXS) and not client.subscribe(TXS)
        blocks, txs = stream_conn(fake, BLOCKS), stream_conn(fake, TXS)
        wait_started(fake, blocks)
        wait_started(fake, txs)
        fake.publish(TXS, {"t": 1})
        assert next_of(client, Message).channel == TXS
        assert client.unsubscribe(BLOCKS) and not client.unsubscribe(BLOCKS)
        assert wait_until(lambda: not blocks.is_open) and txs.is_open
        assert client.topics == [TXS]
        with pytest.raises(SubscriptionRejected):
            client.pause(BLOCKS)


def test_a_topic_the_key_may_not_read_leaves_the_others_streaming() -> None:
    """403 on one topic: a fatal error for that stream; the other keeps going."""
    with FakeAllium(api_key=KEY, rate=None, topics={BLOCKS}) as fake:
        errors: list[ErrorEvent] = []
        with client_for(fake, on_error=errors.append) as client:
            client.subscribe(BLOCKS)
            client.subscribe("bitcoin.blocks")
            assert wait_until(lambda: any(e.fatal for e in errors))
            conn = stream_conn(fake, BLOCKS)
            wait_started(fake, conn)
            fake.publish(BLOCKS, {"number": 9})
            assert next_of(client, Message).data == {"number": 9}
        refused = next(e for e in errors if e.fatal)
        assert isinstance(refused.exception, AuthenticationFailed)
        assert refused.exception.code == 403 and KEY not in refused.message


def test_a_bad_key_fails_start(fake: FakeAllium) -> None:
    """401 on the upgrade: start() raises AuthenticationFailed; no retries."""
    client = AlliumStreamClient(api_key="nope-nope", url=fake.stream_url("x"), **FAST)
    client.subscribe(BLOCKS)
    with pytest.raises(AuthenticationFailed):
        client.start(timeout=5 * T)
    assert len(fake.requests) == 1 and client.state is ConnectionState.CLOSED


def test_compression_headers_are_refused() -> None:
    """permessage-deflate (the venue's own example) is refused with a clear error."""
    with pytest.raises(ValueError, match="permessage-deflate"):
        AlliumStreamClient(api_key=KEY, headers={"sec-websocket-extensions": "permessage-deflate"})


def test_the_key_appears_in_no_repr_log_or_event(
    fake: FakeAllium, caplog: pytest.LogCaptureFixture
) -> None:
    """Secrets stay out of everything a user might print or log."""
    caplog.set_level(logging.DEBUG)
    seen: list[Any] = []
    with client_for(fake, on_status=seen.append, on_error=seen.append) as client:
        client.subscribe(BLOCKS)
        wait_started(fake, stream_conn(fake, BLOCKS))
        fake.drop_all()
        assert wait_until(lambda: len(fake.connections) == 2)
        connection = client._streams.get(BLOCKS)
        assert connection is not None
        texts = [repr(client), repr(connection), repr(connection.options), repr(vars(client)),
                 repr(client.stats)]
    texts += [repr(event) for event in seen] + [
        record.getMessage() for record in caplog.records
        if not record.name.startswith("wsclients.testing")]
    assert seen and all(KEY not in text for text in texts)


def test_subscribing_with_a_bad_filter_opens_nothing(fake: FakeAllium) -> None:
    """A malformed filter dict is refused before any socket opens."""
    client = client_for(fake)
    with pytest.raises((ValueError, TypeError)):
        client.subscribe(TXS, filter={"field": "value", "operator": "~", "value": 1})
    with pytest.raises(ValueError):
        client.subscribe("ethereum blocks")
    assert client.topics == []
    client.stop()


def test_subscribing_before_start_is_queued(fake: FakeAllium) -> None:
    """Topics made before start() open with it; start returns once they are connected."""
    client = client_for(fake)
    client.subscribe(BLOCKS, paused=True)
    assert fake.connections == []
    started = time.monotonic()
    with client:
        assert client.state is ConnectionState.CONNECTED
        assert time.monotonic() - started < 5 * T
        conn = stream_conn(fake, BLOCKS)
        assert wait_until(lambda: conn.is_open) and not fake.stream_state(conn).started


def test_callable_headers_reach_the_upgrade_without_compression(
    fake: FakeAllium, caplog: pytest.LogCaptureFixture
) -> None:
    """Headers from a callable are sent; a compression header in them is dropped, logged."""
    def headers() -> dict[str, str]:
        return {"X-Trace": "t-1", "Sec-WebSocket-Extensions": "permessage-deflate"}

    with client_for(fake, headers=headers) as client:
        client.subscribe(BLOCKS)
        wait_started(fake, stream_conn(fake, BLOCKS))
    sent = {k.lower(): v for k, v in fake.requests[0].headers.items()}
    assert sent["x-trace"] == "t-1" and sent["x-api-key"] == KEY
    assert "sec-websocket-extensions" not in sent
    assert "permessage-deflate" in caplog.text


def test_a_refused_topic_is_dropped_and_can_be_subscribed_again() -> None:
    """After a 403 the topic leaves ``topics`` (the client stays CONNECTED); a new
    subscribe, once the account may read it, streams it."""
    with FakeAllium(api_key=KEY, rate=None, topics={BLOCKS}) as fake, \
            client_for(fake) as client:
        client.subscribe(BLOCKS)
        client.subscribe(TXS)
        assert wait_until(lambda: client.topics == [BLOCKS])
        assert client.state is ConnectionState.CONNECTED
        fake.topics = frozenset({BLOCKS, TXS})
        assert client.subscribe(TXS)
        wait_started(fake, stream_conn(fake, TXS))
        fake.publish(TXS, {"t": 2})
        assert next_of(client, Message).data == {"t": 2}


def test_a_bad_key_fails_start_whatever_the_number_of_topics(fake: FakeAllium) -> None:
    """401 on every topic: start() raises at once instead of returning with nothing open."""
    client = AlliumStreamClient(api_key="nope-nope", url=fake.stream_url("x"), **FAST)
    client.subscribe(BLOCKS)
    client.subscribe(TXS)
    with pytest.raises(AuthenticationFailed) as caught:
        client.start(timeout=5 * T)
    assert caught.value.code == 401 and client.state is ConnectionState.CLOSED


def test_start_fails_when_no_topic_may_be_read() -> None:
    """403 on each of two topics: nothing streams, so start() raises."""
    with FakeAllium(api_key=KEY, rate=None, topics=set()) as fake:
        client = client_for(fake)
        client.subscribe(BLOCKS)
        client.subscribe(TXS)
        with pytest.raises(AuthenticationFailed) as caught:
            client.start(timeout=5 * T)
        assert caught.value.code == 403


def test_max_streams_refuses_one_topic_too_many(fake: FakeAllium) -> None:
    """With max_streams=1 a second topic is refused up front; nothing is opened for it."""
    client = client_for(fake, max_streams=1)
    assert client.subscribe(BLOCKS)
    with pytest.raises(SubscriptionRejected):
        client.subscribe(TXS)
    assert client.topics == [BLOCKS]
    client.stop()
