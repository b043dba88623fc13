"""The Tradevest commands: tail and demo, against an in-process FakeTradevest."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.conftest import T
from wsclients.cli import main
from wsclients.testing import FakeTradevest

pytestmark = pytest.mark.timeout(30)


def run(*argv: str) -> int:
    """The real ``wsclients`` command line; a demo runs this venue's fake."""
    if argv and argv[0] == "demo":
        argv = ("demo", "--venue", "tradevest", *argv[1:])
    return main(list(argv))


@pytest.fixture
def fake() -> Iterator[FakeTradevest]:
    with FakeTradevest(price_interval=0.05, token="t0k") as fake:
        yield fake


def test_tail_prices_prints_book_lines(
    fake: FakeTradevest, capsys: pytest.CaptureFixture[str]
) -> None:
    """`wsclients tail tradevest prices EUR/BTC ETH-EUR --url … --token …`: both written forms."""
    code = run(
        "tail",
        "tradevest",
        "prices",
        "EUR/BTC",
        "ETH-EUR",
        "--url",
        fake.url,
        "--token",
        "t0k",
        "--header",
        "Requestor-ID: r-1",
        "--seconds",
        str(0.5 * T),
    )
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines and all(" BOOK " in line and "spread" in line for line in lines)
    assert {"BTC-EUR", "ETH-EUR"} <= {line.split()[3] for line in lines}
    conn = fake.connections[0]
    assert fake.subscription(conn) == (("EUR", "BTC"), ("EUR", "ETH"))
    assert conn.request_headers["Requestor-ID"] == "r-1"


def test_tail_every_market_as_json_with_token_from_env(
    fake: FakeTradevest, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No MARKET means every market; --json prints JSON books; the token may come from env."""
    monkeypatch.setenv("TRADEVEST_TOKEN", "t0k")
    assert (
        run("tail", "tradevest", "prices", "--url", fake.url, "--json", "--seconds", str(0.5 * T))
        == 0
    )
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert events and all(e["kind"] == "book" and e["is_snapshot"] for e in events)
    assert {"BTC-EUR", "ETH-EUR", "SOL-EUR"} <= {e["symbol"] for e in events}
    assert fake.subscription(fake.connections[0]) is None


def test_wrong_token_exits_1_with_a_message(
    fake: FakeTradevest, capsys: pytest.CaptureFixture[str]
) -> None:
    """A refused token ends the command with exit code 1 and a short reason, once."""
    assert (
        run(
            "tail",
            "tradevest",
            "prices",
            "EUR/BTC",
            "--url",
            fake.url,
            "--token",
            "nope",
            "--seconds",
            str(2 * T),
        )
        == 1
    )
    err = capsys.readouterr().err
    assert "authentication failed" in err and "nope" not in err
    assert len(fake.requests) == 1


def test_bad_market_exits_2_before_connecting(capsys: pytest.CaptureFixture[str]) -> None:
    """A malformed market is refused with the reason, exit code 2, no socket opened."""
    assert run("tail", "tradevest", "prices", "EUR/B-TC", "--url", "ws://127.0.0.1:9") == 2
    assert "rejected" in capsys.readouterr().err


def test_lower_case_market_exits_2_with_a_hint(capsys: pytest.CaptureFixture[str]) -> None:
    """The CLI takes markets exactly as the API does: lower case is refused with a hint."""
    assert run("tail", "tradevest", "prices", "eur/btc", "--url", "ws://127.0.0.1:9") == 2
    err = capsys.readouterr().err
    assert "'EUR'" in err and len(err.strip().splitlines()) == 1


def test_demo_prints_books(capsys: pytest.CaptureFixture[str]) -> None:
    """`wsclients demo --venue tradevest` runs on its own fake server."""
    assert run("demo", "--seconds", str(1.0 * T)) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("fake Tradevest prices server on ws://127.0.0.1:")
    books = [line for line in lines[1:] if " BOOK " in line]
    assert {"BTC-EUR", "ETH-EUR"} <= {line.split()[3] for line in books}
