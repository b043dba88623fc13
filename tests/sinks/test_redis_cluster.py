"""The sink and the source on a three-node Redis Cluster (started for this module)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal

import pytest

from tests.conftest import T
from tests.sinks.redis_py import redis
from tests.sinks.redis_server import RedisCluster, redis_server_binary
from wsclients.models import Event, Side, Trade
from wsclients.sinks import RedisStreamSink, RedisStreamSource, stream_key

pytestmark = pytest.mark.timeout(30)

SYMBOLS = ("BTC", "ETH", "SOL", "DOGE")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisCluster]:
    binary = redis_server_binary()
    if binary is None:
        pytest.skip("no redis-server binary on PATH (apt-get install redis-server)")
    nodes = RedisCluster(binary, tmp_path_factory.mktemp("cluster")).start()
    yield nodes
    nodes.kill()


def trades(n: int) -> list[Trade]:
    now = time.time_ns()
    return [Trade(venue="hyperliquid", symbol=SYMBOLS[i % len(SYMBOLS)],
                  price=Decimal("1.50") + i, size=Decimal("0.001"), side=Side.SELL,
                  trade_id=str(i), timestamp_ns=i, received_ns=now) for i in range(n)]


def read(source: RedisStreamSource, n: int, timeout: float = 5 * T) -> list[Event]:
    got: list[Event] = []
    deadline = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        try:
            event = source.get(timeout=0.1)
        except Exception:  # noqa: BLE001 - queue.Empty: look again until the deadline
            continue
        if event.venue != "redis":
            got.append(event)
    return got


@pytest.fixture
def cluster_url(cluster: RedisCluster) -> str:
    """The cluster, emptied on every node."""
    for node in cluster.nodes:
        client = redis.Redis(port=node.port)
        client.flushall()
        client.close()
    return cluster.url


@pytest.mark.parametrize("scripted", [True, False], ids=["EVAL", "XADD"])
def test_streams_in_different_slots(cluster_url: str, scripted: bool) -> None:
    """Default keys spread over the nodes; one source per stream reads each back equal."""
    sent = trades(40)
    keys = sorted({stream_key(t) for t in sent})
    nodes = {redis.cluster.key_slot(k.encode()) * 3 // 16384 for k in keys}
    assert len(nodes) > 1, "the keys should live on more than one node"
    with RedisStreamSink(cluster_url, cluster=True, scripted=scripted) as sink:
        sink.accept(sent)
    assert sink.stats.written == len(sent) and sink.scripted is scripted
    for key in keys:
        with RedisStreamSource(cluster_url, cluster=True, streams=key, start_id="0",
                               block_timeout=0.05) as source:
            assert read(source, 10) == [t for t in sent if stream_key(t) == key]


def test_hash_tagged_streams_share_one_source_and_a_group(cluster_url: str) -> None:
    """A hash tag in the key template puts streams in one slot: one XREADGROUP reads all."""
    sent = trades(40)
    template = "{{hl}}:{kind}:{symbol}"
    keys = [f"{{hl}}:trade:{s}" for s in SYMBOLS]
    with RedisStreamSource(cluster_url, cluster=True, streams=keys, group="g", start_id="0",
                           block_timeout=0.05) as source, \
            RedisStreamSink(cluster_url, cluster=True, key=template) as sink:
        sink.accept(sent)
        got = read(source, len(sent))
    assert sorted(got, key=lambda e: int(e.trade_id)) == sent  # type: ignore[union-attr]
