"""The ``wsclients`` command for Hyperliquid: the demo and ``tail`` against the local fake."""

from __future__ import annotations

import argparse
import json

import pytest

from wsclients.cli import main
from wsclients.cli.hyperliquid import run_demo
from wsclients.testing.hyperliquid import FakeHyperliquid

pytestmark = pytest.mark.timeout(30)




def test_demo_prints_trades_and_books(capsys: pytest.CaptureFixture[str]) -> None:
    """The demo runs offline and prints trades and top-of-book lines."""
    args = argparse.Namespace(seconds=1.0, json=False, status=False, venue="hyperliquid")
    assert run_demo(args) == 0
    out = capsys.readouterr().out
    assert "fake Hyperliquid on ws://127.0.0.1:" in out
    assert " TRADE " in out and " BOOK " in out


def test_wsclients_demo_command(capsys: pytest.CaptureFixture[str]) -> None:
    """Plain ``wsclients demo --seconds N`` is the Hyperliquid one."""
    assert main(["demo", "--seconds", "0.5"]) == 0
    assert "fake Hyperliquid" in capsys.readouterr().out


def test_tail_trades_json(capsys: pytest.CaptureFixture[str]) -> None:
    """``tail hyperliquid trades BTC --url … --json``: one JSON line per trade, decimals as
    strings."""
    with FakeHyperliquid(stream=True, rate=100) as fake:
        code = main(["tail", "hyperliquid", "trades", "BTC", "ETH", "--url", fake.url,
                     "--json", "--seconds", "1"])
    assert code == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    trades = [line for line in lines if line["kind"] == "trade"]
    assert trades and {t["symbol"] for t in trades} <= {"BTC", "ETH"}
    assert isinstance(trades[0]["price"], str)


@pytest.mark.parametrize("argv, needle", [
    (["book", "SOL", "--n-sig-figs", "5", "--mantissa", "2"], " BOOK  SOL"),
    (["bbo", "ETH"], " BOOK  ETH"),
    (["candles", "BTC", "1m"], " candle "),
    (["mids"], " allMids "),
    (["raw", "--subscription", '{"type":"activeAssetCtx","coin":"BTC"}'], " activeAssetCtx "),
])
def test_tail_streams(capsys: pytest.CaptureFixture[str], argv: list[str], needle: str) -> None:
    """Every tail stream prints readable lines from the fake."""
    with FakeHyperliquid(stream=True, rate=100) as fake:
        code = main(["tail", "hyperliquid", *argv, "--url", fake.url, "--seconds", "0.7"])
    assert code == 0
    assert needle in capsys.readouterr().out


def test_tail_rejects_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    """argparse refuses a bad interval or a non-object subscription."""
    with pytest.raises(SystemExit):
        main(["tail", "hyperliquid", "candles", "BTC", "7m"])
    with pytest.raises(SystemExit):
        main(["tail", "hyperliquid", "raw", "--subscription", "[1]"])
