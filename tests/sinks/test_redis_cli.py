"""``wsclients publish`` and ``wsclients tail redis`` against a real redis-server."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from decimal import Decimal

import pytest

from tests.conftest import T
from tests.helpers import wait_until
from tests.sinks.redis_py import redis
from wsclients.cli import main
from wsclients.models import Side, Trade
from wsclients.sinks import RedisStreamSink
from wsclients.testing.hyperliquid import FakeHyperliquid

pytestmark = pytest.mark.timeout(30)

BTC_TRADES = "wsclients:hyperliquid:trade:BTC"


def test_publish_feeds_redis_and_stops_cleanly_on_ctrl_c(redis_url: str) -> None:
    """A feed process fills the stream; SIGINT ends it with code 0, counters, no traceback."""
    with FakeHyperliquid(stream=True, rate=200) as fake:
        proc = subprocess.Popen(
            [sys.executable, "-m", "wsclients", "publish", "hyperliquid", "trades", "BTC",
             "--url", fake.url, "--redis", redis_url, "--status", "--maxlen", "500"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        try:
            client = redis.Redis.from_url(redis_url)
            assert wait_until(lambda: client.xlen(BTC_TRADES) >= 20, timeout=10 * T)
            client.close()
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=10 * T)
        finally:
            proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert "publishing ws://127.0.0.1:" in err and "status connected" in err
    assert "sink stopped: written" in err and "dropped 0, unwritten 0" in err


def test_tail_redis_prints_the_stream_back(
    redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``tail redis STREAM --from 0 --json``: one JSON line per event, exact decimals."""
    trade = Trade(venue="hyperliquid", symbol="BTC", price=Decimal("97000.50"),
                  size=Decimal("0.00100"), side=Side.BUY, trade_id="9", timestamp_ns=1,
                  received_ns=2)
    with RedisStreamSink(redis_url) as sink:
        sink.accept([trade, trade])
    assert main(["tail", "redis", BTC_TRADES, "--redis", redis_url, "--from", "0", "--json",
                 "--seconds", str(0.5 * T)]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 2
    assert lines[0]["price"] == "97000.50" and lines[0]["size"] == "0.00100"
    assert lines[0]["kind"] == "trade" and lines[0]["side"] == "buy"


def test_publish_without_redis_py_says_what_to_install() -> None:
    """Without redis-py, the command names the extra instead of a traceback."""
    code = ("import sys; sys.modules['redis'] = None\n"
            "from wsclients.cli import main\n"
            "sys.exit(main(['publish', 'hyperliquid', 'trades', 'BTC']))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=20)
    assert result.returncode == 2
    assert "pip install 'wsclients[redis]'" in result.stderr
    assert "Traceback" not in result.stderr
