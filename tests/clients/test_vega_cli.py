"""The Vega commands: tail, book and demo, against an in-process FakeVegaNode."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.conftest import T
from wsclients.cli import main
from wsclients.testing import FakeVegaNode

pytestmark = pytest.mark.timeout(30)


def run(*argv: str) -> int:
    """The real ``wsclients`` command line; a demo runs this venue's fake."""
    if argv and argv[0] == "demo":
        argv = ("demo", "--venue", "vega", *argv[1:])
    return main(list(argv))


@pytest.fixture
def node() -> Iterator[FakeVegaNode]:
    with FakeVegaNode() as node:
        node.start_blocks(0.05)
        yield node


def test_tail_trades_prints_trade_lines(node: FakeVegaNode, capsys: pytest.CaptureFixture[str]
                                        ) -> None:
    """`wsclients tail vega trades --market-id … --url …`"""
    market = node.market_ids[0]
    assert run("tail", "vega", "trades", "--market-id", market, "--url", node.url,
               "--seconds", str(0.6 * T)) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines and all(" TRADE " in line and market[:8] in line for line in lines)


def test_book_prints_a_ladder(node: FakeVegaNode, capsys: pytest.CaptureFixture[str]) -> None:
    """`wsclients book vega <market-id> --depth 3` piped: ladder blocks, 3 levels a side."""
    market = node.market_ids[1]
    assert run("book", "vega", market, "--depth", "3", "--url", node.url,
               "--seconds", str(0.6 * T)) == 0
    out = capsys.readouterr().out
    blocks = [block.splitlines() for block in out.split("\n\n") if block.strip()]
    assert blocks and "\x1b" not in out  # plain lines when not a terminal
    for block in blocks:
        assert "spread" in block[0] and market in block[0]
        assert sum(line.startswith("ask ") for line in block) == 3
        assert sum(line.startswith("bid ") for line in block) == 3


def test_raw_stream_as_json(node: FakeVegaNode, capsys: pytest.CaptureFixture[str]) -> None:
    """`tail vega raw markets/data --param marketIds=… --json`: one JSON object per line."""
    market = node.market_ids[0]
    assert run("tail", "vega", "raw", "markets/data", "--param", f"marketIds={market}",
               "--json", "--url", node.url, "--seconds", str(0.5 * T)) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert events and all(e["kind"] == "message" and e["channel"] == "markets/data"
                          for e in events)


def test_refused_stream_exits_before_connecting(capsys: pytest.CaptureFixture[str]) -> None:
    """Votes without a filter are refused by the client, with the reason, exit code 2."""
    assert run("tail", "vega", "votes", "--url", "http://127.0.0.1:9", "--seconds", "1") == 2
    assert "needs a party id or a proposal id" in capsys.readouterr().err


def test_demo_prints_trades_and_books(capsys: pytest.CaptureFixture[str]) -> None:
    """`wsclients demo --venue vega` runs on its own fake node."""
    assert run("demo", "--seconds", str(1.0 * T)) == 0
    out = capsys.readouterr().out
    assert out.startswith("fake Vega data node on http://127.0.0.1:")
    assert " TRADE " in out and " BOOK " in out
