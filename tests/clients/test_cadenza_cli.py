"""The Cadenza and Centrifugo commands and examples, against in-process fakes."""

from __future__ import annotations

import importlib.util
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import T
from wsclients.cli import main
from wsclients.testing.cadenza import FakeCadenza
from wsclients.testing.centrifugo import FakeCentrifugo

pytestmark = pytest.mark.timeout(30)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
BTC = "BINANCE:BTC/USDT"


@pytest.fixture
def cadenza() -> Iterator[FakeCadenza]:
    with FakeCadenza(instruments=(BTC,)) as fake:
        fake.start_streaming(20.0)
        try:
            yield fake
        finally:
            fake.stop_streaming()


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tail_cadenza_trades_with_token_from_env(
    cadenza: FakeCadenza, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`wsclients tail cadenza trades BINANCE:BTC/USDT --url … --json` prints trades."""
    monkeypatch.setenv("CADENZA_TOKEN", cadenza.make_token("alice"))
    code = main(["tail", "cadenza", "trades", BTC, "--url", cadenza.url, "--json",
                 "--seconds", str(0.6 * T)])
    assert code == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert events and {e["kind"] for e in events} == {"trade"}
    assert {e["symbol"] for e in events} == {BTC}


def test_book_cadenza_prints_book_lines(
    cadenza: FakeCadenza, capsys: pytest.CaptureFixture[str]
) -> None:
    """`wsclients book cadenza BINANCE:BTC/USDT --depth 3` prints the top of the book."""
    code = main(["book", "cadenza", BTC, "--url", cadenza.url, "--depth", "3",
                 "--token", cadenza.make_token("alice"), "--seconds", str(0.6 * T)])
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines and all(" BOOK " in line for line in lines)


def test_tail_cadenza_needs_a_token(capsys: pytest.CaptureFixture[str]) -> None:
    """Without --token or $CADENZA_TOKEN the command says what is missing."""
    assert main(["tail", "cadenza", "account", "acc-1"]) == 2
    assert "CADENZA_TOKEN" in capsys.readouterr().err


def test_tail_centrifugo(capsys: pytest.CaptureFixture[str]) -> None:
    """`wsclients tail centrifugo URL chat` prints each publication."""
    with FakeCentrifugo() as fake:
        publisher = threading.Timer(0.3 * T, lambda: fake.publish("chat", {"text": "hi"}))
        publisher.start()
        code = main(["tail", "centrifugo", fake.url, "chat", "--token", fake.make_token("a"),
                     "--seconds", str(0.8 * T)])
        publisher.join()
    assert code == 0
    assert '{"text":"hi"}' in capsys.readouterr().out


@pytest.mark.parametrize("venue", ["cadenza", "centrifugo"])
def test_demo(venue: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`wsclients demo --venue …` streams from the venue's fake."""
    assert main(["demo", "--venue", venue, "--seconds", str(1.0 * T)]) == 0
    out = capsys.readouterr().out
    assert "fake" in out and len(out.splitlines()) > 2


def test_cadenza_book_example(capsys: pytest.CaptureFixture[str]) -> None:
    """examples/cadenza_book.py --fake prints books from a local fake."""
    load("cadenza_book").main(["--fake", "--updates", "3"])
    out = capsys.readouterr().out
    assert out.count("--- BINANCE:BTC/USDT") == 3 and "resyncs: 0" in out


def test_centrifugo_chat_example(capsys: pytest.CaptureFixture[str]) -> None:
    """examples/centrifugo_chat.py --fake publishes, reads its messages, presence and rpc."""
    load("centrifugo_chat").main(["--fake", "--messages", "2"])
    out = capsys.readouterr().out
    assert "[chat #1] {'text': 'hello 0'}" in out and "[chat #2]" in out
    assert "presence: ['example-user']" in out and "'echo': {'ping': 1}" in out
