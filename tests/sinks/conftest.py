"""Fixtures for the Redis sink tests: a session-wide redis-server, and private ones.

Skipped, with the reason, only when redis-py or a redis-server binary cannot be had.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sinks.redis_server import RedisServer, redis_server_binary


def _binary() -> str:
    binary = redis_server_binary()
    if binary is None:
        pytest.skip("no redis-server binary on PATH (apt-get install redis-server)")
    return binary


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One redis-server shared by the tests that only read and write streams."""
    server = RedisServer(_binary(), tmp_path_factory.mktemp("redis")).start()
    yield server
    server.kill()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> Iterator[str]:
    """The shared server's URL, emptied before the test."""
    from tests.sinks.redis_py import redis  # skips the test without redis-py

    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    yield redis_server.url


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A server of this test's own, to kill, restart or pause."""
    server = RedisServer(_binary(), tmp_path).start()
    yield server
    server.kill()
