"""RedisStreamSink and RedisStreamSource against a real redis-server on 127.0.0.1."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import T
from tests.helpers import next_of, wait_until
from tests.sinks.redis_py import redis
from tests.sinks.redis_server import RedisServer, redis_server_binary
from tests.sinks.test_codec import sample_events
from wsclients.errors import ConnectFailed
from wsclients.models import Book, ConnectionState, ErrorEvent, Event, Message, Status, Trade
from wsclients.sinks import RedisStreamSink, RedisStreamSource, encode_event, stream_key
from wsclients.testing.hyperliquid import FakeHyperliquid
from wsclients.venues.hyperliquid import HyperliquidClient

pytestmark = pytest.mark.timeout(30)

BTC_TRADES = "wsclients:hyperliquid:trade:BTC"


def sink_for(url: str, **options: Any) -> RedisStreamSink:
    options.setdefault("backoff_min", 0.01)
    options.setdefault("backoff_max", 0.05)
    return RedisStreamSink(url, **options)


def source_for(url: str, **options: Any) -> RedisStreamSource:
    options.setdefault("backoff_min", 0.01)
    options.setdefault("backoff_max", 0.05)
    options.setdefault("block_timeout", 0.05)
    return RedisStreamSource(url, **options)


def market_events(source: RedisStreamSource, n: int, timeout: float = 5 * T) -> list[Event]:
    """The next ``n`` events that came through the stream (the source's own are skipped)."""
    got: list[Event] = []
    deadline = time.monotonic() + timeout
    while len(got) < n:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"only {len(got)} of {n} events came"
        try:
            event = source.get(timeout=remaining)
        except queue.Empty:
            continue
        if event.venue != "redis":
            got.append(event)
    return got


def trades(n: int, start: int = 0) -> list[Trade]:
    return [Trade(venue="hyperliquid", symbol="BTC", price=Decimal("97000.5") + i,
                  size=Decimal("0.001"), side=None, trade_id=str(i), timestamp_ns=i,
                  received_ns=time.time_ns()) for i in range(start, start + n)]


@pytest.fixture
def fake() -> Iterator[FakeHyperliquid]:
    with FakeHyperliquid() as server:
        yield server


@pytest.mark.parametrize("scripted", [True, False], ids=["EVAL", "XADD"])
def test_every_event_kind_round_trips(redis_url: str, scripted: bool) -> None:
    """Each kind goes in through the sink and comes out of the source equal, in order."""
    events = sample_events()
    keys = list(dict.fromkeys(stream_key(e) for e in events))
    with sink_for(redis_url, kinds=None, scripted=scripted) as sink, \
            source_for(redis_url, streams=keys, start_id="0") as source:
        sink.accept(events)
        got = market_events(source, len(events))
    for key in keys:
        assert [e for e in got if stream_key(e) == key] == \
            [e for e in events if stream_key(e) == key]
    assert sink.stats.written == len(events) and sink.stats.dropped == 0


def test_a_feed_client_and_a_source_see_the_same_events(
    redis_url: str, fake: FakeHyperliquid
) -> None:
    """A HyperliquidClient with the sink attached: the source yields exactly its events."""
    seen: list[Event] = []
    client = HyperliquidClient(url=fake.url, on_trade=seen.append, on_book=seen.append,
                               dispatch="inline")
    client.add_sink(sink_for(redis_url, maxlen=1000))
    source = source_for(redis_url, streams=[BTC_TRADES, "wsclients:hyperliquid:book:BTC"])
    try:
        source.start()
        client.subscribe_trades("BTC")
        client.subscribe_l2_book("BTC")
        client.start()
        fake.wait_for_subscriptions(2)
        assert wait_until(lambda: any(isinstance(e, Book) for e in seen))
        for i in range(40):
            fake.publish_trade("BTC", Decimal("97000.10") + i, "0.00100", side="A")
        fake.publish_book("BTC", [("96999", "1.5", 2)], [("97001.00", "0.25", 1)])
        assert wait_until(lambda: len([e for e in seen if isinstance(e, Trade)]) >= 40)
        assert wait_until(lambda: len([e for e in seen if isinstance(e, Book)]) >= 2)
        got = market_events(source, len(seen))
    finally:
        client.stop()
        source.stop()
    assert sorted(got, key=repr) == sorted(seen, key=repr)
    trade = next(e for e in got if isinstance(e, Trade) and e.trade_id == seen[-2].trade_id)  # type: ignore[union-attr]
    assert str(trade.size) == "0.00100"


def test_two_workers_of_a_group_split_one_stream(redis_url: str) -> None:
    """Consumer groups: two workers share 2,000 entries, none lost, none twice."""
    a = source_for(redis_url, streams=BTC_TRADES, group="g", consumer="a", count=50)
    b = source_for(redis_url, streams=BTC_TRADES, group="g", consumer="b", count=50)
    sent = trades(2000)
    with a, b, sink_for(redis_url, batch_size=100) as sink:
        for i in range(0, len(sent), 100):
            sink.accept(sent[i:i + 100])
        got_a = [e.trade_id for e in market_events(a, 1, 5 * T)]  # type: ignore[union-attr]
        got_b: list[str] = []

        def collect() -> bool:
            for source, into in ((a, got_a), (b, got_b)):
                while True:
                    try:
                        event = source.get(timeout=0)
                    except queue.Empty:
                        break
                    if isinstance(event, Trade):
                        into.append(event.trade_id)
            return len(got_a) + len(got_b) >= len(sent)

        assert wait_until(collect)
        # Acknowledged right after the hand-off, so it may trail by one read.
        assert wait_until(lambda: (a.stats.acked, b.stats.acked) == (len(got_a), len(got_b)))
    assert sorted(got_a + got_b, key=int) == [t.trade_id for t in sent]  # nothing lost or doubled
    assert got_a and got_b, "both workers took a share"


def test_a_restarted_worker_resumes_after_its_last_ack(redis_url: str) -> None:
    """Same group and consumer name: a restart skips what was acknowledged, gets the rest."""
    with sink_for(redis_url) as sink:
        with source_for(redis_url, streams=BTC_TRADES, group="g", consumer="w") as worker:
            sink.accept(trades(10))
            first = market_events(worker, 10)
            assert wait_until(lambda: worker.stats.acked == 10)
        sink.accept(trades(5, start=10))
        assert wait_until(lambda: sink.stats.written == 15)
    with source_for(redis_url, streams=BTC_TRADES, group="g", consumer="w") as again:
        second = market_events(again, 5)
        with pytest.raises(AssertionError):
            market_events(again, 1, timeout=0.3 * T)
    assert [e.trade_id for e in first + second] == [str(i) for i in range(15)]  # type: ignore[union-attr]


def test_an_entry_read_but_not_acked_comes_again(redis_url: str) -> None:
    """At least once: an entry a crashed worker never acknowledged is delivered on restart."""
    server = redis.Redis.from_url(redis_url)
    server.xgroup_create(BTC_TRADES, "g", id="0", mkstream=True)
    (trade,) = trades(1)
    server.xadd(BTC_TRADES, {"event": encode_event(trade)})
    server.xreadgroup("g", "w", {BTC_TRADES: ">"})  # read, then "crashed" before XACK
    server.close()
    with source_for(redis_url, streams=BTC_TRADES, group="g", consumer="w") as worker:
        assert market_events(worker, 1) == [trade]
        assert wait_until(lambda: worker.stats.acked == 1)


def test_without_a_group_reading_starts_at_dollar_or_a_given_id(redis_url: str) -> None:
    """'$' skips what is already there; '0' or an entry id starts from there."""
    server = redis.Redis.from_url(redis_url)
    old = trades(3)
    ids = [server.xadd(BTC_TRADES, {"event": encode_event(t)}) for t in old]
    server.close()
    with source_for(redis_url, streams=BTC_TRADES) as new_only, \
            source_for(redis_url, streams={BTC_TRADES: "0"}) as everything, \
            source_for(redis_url, streams={BTC_TRADES: ids[0].decode()}) as after_first, \
            sink_for(redis_url) as sink:
        assert market_events(everything, 3) == old
        assert market_events(after_first, 2) == old[1:]
        new = trades(1, start=3)
        sink.accept(new)
        assert market_events(new_only, 1) == new


def test_undecodable_entries_become_error_events(redis_url: str) -> None:
    """A foreign entry is an ErrorEvent from venue 'redis'; the next entry is read."""
    with source_for(redis_url, streams=BTC_TRADES) as source:
        server = redis.Redis.from_url(redis_url)
        server.xadd(BTC_TRADES, {"event": "{not json"})
        server.xadd(BTC_TRADES, {"other": "x"})
        (trade,) = trades(1)
        server.xadd(BTC_TRADES, {"event": encode_event(trade)})
        server.close()
        errors = [next_of(source, ErrorEvent), next_of(source, ErrorEvent)]  # type: ignore[arg-type]
        assert all(e.venue == "redis" and not e.fatal for e in errors)
        assert market_events(source, 1) == [trade]


def test_the_sink_reconnects_after_redis_is_killed_and_the_feed_never_stalls(
    own_redis: RedisServer, fake: FakeHyperliquid
) -> None:
    """Redis killed mid-stream: callbacks keep up, the bounded buffer drops and counts,
    and once Redis is back the sink reconnects and writes again."""
    seen: list[Trade] = []
    sink = sink_for(own_redis.url, buffer_size=50, socket_timeout=1.0)
    client = HyperliquidClient(url=fake.url, on_trade=seen.append)
    client.add_sink(sink)
    client.subscribe_trades("BTC")
    try:
        client.start()
        fake.wait_for_subscriptions(1)
        for i in range(20):
            fake.publish_trade("BTC", 100 + i, "1")
        assert wait_until(lambda: sink.stats.written == 20)
        own_redis.kill()
        started = time.monotonic()
        for i in range(200):
            fake.publish_trade("BTC", 200 + i, "1")
        assert wait_until(lambda: len(seen) == 220, timeout=2 * T)
        assert time.monotonic() - started < 2 * T  # the feed did not wait for Redis
        assert wait_until(lambda: sink.stats.dropped >= 150 and not sink.stats.connected)
        own_redis.start()
        fake.publish_trade("BTC", 999, "1")
        # Every event is written or counted as dropped.
        assert wait_until(lambda: sink.stats.written + sink.stats.dropped == 221)
        stats = sink.stats
        assert stats.written > 20 and stats.pending == 0
        assert stats.reconnects >= 1 and stats.errors >= 1
        back = redis.Redis.from_url(own_redis.url)
        newest = back.xrevrange(BTC_TRADES, count=1)
        back.close()
        assert b'"price":"999"' in newest[0][1][b"event"]
    finally:
        client.stop()
    assert not any(t.name.startswith("wsclients-redis") for t in threading.enumerate())


def test_a_paused_redis_does_not_slow_the_feed(
    own_redis: RedisServer, fake: FakeHyperliquid
) -> None:
    """SIGSTOP on redis-server: the feed's callbacks run at full speed; after SIGCONT the
    sink catches up."""
    seen: list[Trade] = []
    sink = sink_for(own_redis.url, socket_timeout=0.5)
    client = HyperliquidClient(url=fake.url, on_trade=seen.append)
    client.add_sink(sink)
    client.subscribe_trades("BTC")
    try:
        client.start()
        fake.wait_for_subscriptions(1)
        fake.publish_trade("BTC", 1, "1")
        assert wait_until(lambda: sink.stats.written == 1)
        own_redis.pause()
        try:
            started = time.monotonic()
            for i in range(300):
                fake.publish_trade("BTC", 2 + i, "1")
            assert wait_until(lambda: len(seen) == 301, timeout=2 * T)
            elapsed = time.monotonic() - started
            assert elapsed < 1.5 * T, f"callbacks took {elapsed:.2f} s behind a paused Redis"
            assert wait_until(lambda: sink.stats.lag > 0)  # the sink is behind, not the feed
        finally:
            own_redis.resume()
        assert wait_until(lambda: sink.stats.pending == 0 and sink.stats.written >= 301,
                          timeout=8 * T)
        assert sink.stats.dropped == 0
    finally:
        client.stop()


def test_the_source_reconnects_when_redis_comes_back(own_redis: RedisServer) -> None:
    """Status RECONNECTING then CONNECTED (venue 'redis'), and reading goes on."""
    with source_for(own_redis.url, streams=BTC_TRADES) as source:
        own_redis.kill()
        next_of(source, Status, state=ConnectionState.RECONNECTING)
        own_redis.start()
        next_of(source, Status, state=ConnectionState.CONNECTED)
        with sink_for(own_redis.url) as sink:
            sent = trades(3)
            sink.accept(sent)
            assert market_events(source, 3) == sent
        assert source.stats.reconnects == 1


def test_start_fails_clearly_and_secrets_stay_out_of_reprs(own_redis: RedisServer) -> None:
    """No server: start() raises ConnectFailed; a password never shows in a repr."""
    own_redis.kill()
    url = f"redis://user:hunter2@127.0.0.1:{own_redis.port}/0"
    source = source_for(url, streams=BTC_TRADES)
    sink = sink_for(url)
    assert "hunter2" not in repr(source) and "hunter2" not in repr(sink)
    with pytest.raises(ConnectFailed) as info:
        source.start(timeout=0.3 * T)
    assert "hunter2" not in str(info.value)
    assert source.state is ConnectionState.CLOSED
    source.stop()  # idempotent
    sink.start()
    sink.accept(trades(3))
    started = time.monotonic()
    sink.stop(timeout=0.2)
    assert time.monotonic() - started < 1.0 * T  # no Redis: stop does not wait for one
    assert sink.stats.pending == 3


@pytest.mark.parametrize("group", [None, "g"])
def test_a_key_that_is_not_a_stream_fails_start(redis_url: str, group: str | None) -> None:
    """Redis refuses (WRONGTYPE): start() raises at once instead of retrying forever."""
    server = redis.Redis.from_url(redis_url)
    server.set(BTC_TRADES, "not a stream")
    server.close()
    source = source_for(redis_url, streams=BTC_TRADES, group=group)
    started = time.monotonic()
    with pytest.raises(ConnectFailed, match="WRONGTYPE"):
        source.start(timeout=5 * T)
    assert time.monotonic() - started < 2 * T
    assert source.state is ConnectionState.CLOSED


def test_stream_keys_follow_the_template_or_function(redis_url: str) -> None:
    """Default keys per venue/kind/symbol; a template or a function overrides; default
    kinds leave the feed's statuses out; a bad template is refused at once."""
    trade, book, status = sample_events()[0], sample_events()[2], sample_events()[6]
    assert stream_key(trade) == BTC_TRADES and stream_key(book) == "wsclients:vega:book:M"
    assert stream_key(status) == "wsclients:hyperliquid:status:-"
    with sink_for(redis_url) as default, \
            sink_for(redis_url, key="{{hl}}:{kind}:{symbol}") as tagged, \
            sink_for(redis_url, key=lambda event: f"all:{event.venue}", kinds=None) as named:
        for sink in (default, tagged, named):
            sink.accept([trade, book, status])
        assert wait_until(lambda: (default.stats.written, tagged.stats.written,
                                   named.stats.written) == (2, 2, 3))
    server = redis.Redis.from_url(redis_url)
    keys = sorted(k.decode() for k in server.keys("*"))
    server.close()
    assert keys == sorted([BTC_TRADES, "wsclients:vega:book:M", "{hl}:trade:BTC",
                           "{hl}:book:M", "all:hyperliquid", "all:vega"])
    with pytest.raises(ValueError, match="hl"):
        RedisStreamSink(redis_url, key="{hl}:{kind}")


def test_an_event_that_cannot_be_encoded_is_dropped_and_counted(redis_url: str) -> None:
    """A message whose data JSON cannot carry (a set) is counted; its batch still goes."""
    odd = Message(venue="hyperliquid", channel="x", data={"s": {1, 2}}, received_ns=1,
                  symbol="BTC")
    sent = trades(2)
    with sink_for(redis_url) as sink, \
            source_for(redis_url, streams=BTC_TRADES, start_id="0") as source:
        sink.accept([sent[0], odd, sent[1]])
        assert market_events(source, 2) == sent
        assert wait_until(lambda: sink.stats.dropped == 1 and sink.stats.written == 2)
        assert sink.stats.errors == 1


def test_a_server_without_scripts_gets_plain_xadds(tmp_path: Path) -> None:
    """EVAL renamed away: the sink notices, writes one XADD per event, loses nothing."""
    binary = redis_server_binary()
    if binary is None:
        pytest.skip("no redis-server binary on PATH (apt-get install redis-server)")
    server = RedisServer(binary, tmp_path, "--rename-command", "EVAL", "").start()
    try:
        sent = trades(50)
        with sink_for(server.url, batch_size=20) as sink, \
                source_for(server.url, streams=BTC_TRADES, start_id="0") as source:
            sink.accept(sent)
            assert market_events(source, 50) == sent
            assert not sink.scripted and sink.stats.dropped == 0
    finally:
        server.kill()


def test_a_stream_key_holding_another_type_loses_only_its_events(redis_url: str) -> None:
    """WRONGTYPE for one key: its events are counted as dropped, other streams go on."""
    server = redis.Redis.from_url(redis_url)
    server.set(BTC_TRADES, "not a stream")
    server.close()
    book = sample_events()[2]
    with sink_for(redis_url) as sink, \
            source_for(redis_url, streams=stream_key(book), start_id="0") as source:
        sink.accept([*trades(3), book])
        assert market_events(source, 1) == [book]
        assert wait_until(lambda: sink.stats.dropped == 3 and sink.stats.written == 1)
        assert sink.scripted  # a refusal plain XADD would get too: the script stays
