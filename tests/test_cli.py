"""The ``wsclients`` command's frame: help, version, venue listing, output formats."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal

import pytest

from wsclients import Book, BookLevel, ConnectionState, ErrorEvent, Message, Side, Status, Trade
from wsclients._version import __version__
from wsclients.cli import VENUES, main
from wsclients.cli._output import event_to_json, format_event


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    """--version prints the package version."""
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"wsclients {__version__}"


def test_help_lists_commands_and_venues(capsys: pytest.CaptureFixture[str]) -> None:
    """--help names the commands; `tail --help` names every venue."""
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert all(word in out for word in ("demo", "tail", "book"))
    with pytest.raises(SystemExit):
        main(["tail", "--help"])
    out = capsys.readouterr().out
    assert all(venue in out for venue in VENUES)


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    """Bare `wsclients` shows the help and exits 2."""
    assert main([]) == 2
    assert "usage: wsclients" in capsys.readouterr().out


def test_console_script_entry_point_runs() -> None:
    """`python -m wsclients --version` works as a process (the installed script's target)."""
    result = subprocess.run([sys.executable, "-m", "wsclients", "--version"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and __version__ in result.stdout


def test_json_lines_keep_decimals_as_strings() -> None:
    """--json output: one object per event, decimals as strings, never floats."""
    trade = Trade(venue="v", symbol="BTC", price=Decimal("0.1"), size=Decimal("3.000"),
                  side=Side.SELL, trade_id="9", timestamp_ns=1, received_ns=2, raw={"x": 1})
    data = json.loads(event_to_json(trade))
    assert data == {"kind": "trade", "venue": "v", "symbol": "BTC", "price": "0.1",
                    "size": "3.000", "side": "sell", "trade_id": "9", "timestamp_ns": 1,
                    "received_ns": 2, "is_snapshot": False}
    book = Book(venue="v", symbol="BTC", bids=(BookLevel(Decimal("1.5"), Decimal("2"), 3),),
                asks=(), timestamp_ns=1, received_ns=1, is_snapshot=True)
    assert json.loads(event_to_json(book))["bids"] == [["1.5", "2", 3]]


def test_readable_lines() -> None:
    """The default output is one readable line per event kind."""
    book = Book(venue="v", symbol="BTC", bids=(BookLevel(Decimal("99"), Decimal("1")),),
                asks=(BookLevel(Decimal("101"), Decimal("2")),), timestamp_ns=0, received_ns=0)
    assert "99" in format_event(book) and "spread 2" in format_event(book)
    msg = Message(venue="v", channel="candle", data={"o": Decimal("1")}, received_ns=0)
    assert 'candle {"o":"1"}' in format_event(msg)
    status = Status(venue="v", state=ConnectionState.RECONNECTING, url="ws://x",
                    received_ns=0, attempt=2, delay=0.5, code=1006)
    assert "reconnecting (attempt 2, retry in 0.50 s, code 1006)" in format_event(status)
    error = ErrorEvent(venue="v", message="boom", received_ns=0, fatal=True)
    assert "FATAL: boom" in format_event(error)


def test_demo_piped_into_head_exits_quietly() -> None:
    """`wsclients demo | head -1`: the closed pipe ends the command with no traceback."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "wsclients", "demo", "--seconds", "20"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # what `head -1` does after its line
    try:
        code = proc.wait(timeout=15)
    finally:
        proc.kill()
    stderr = proc.stderr.read()
    proc.stderr.close()
    assert first.strip()
    assert code == 0 and "Traceback" not in stderr, stderr


def test_long_ids_are_shortened_in_readable_lines_only() -> None:
    """A 64-hex market id is cut in the readable line and kept whole in --json."""
    market = "b488aa3ca45b2a619e0a15e2109ec4f97a62b71b80acc634b94ba7d5690316c6"
    trade = Trade(venue="vega", symbol=market, price=Decimal("1"), size=Decimal("1"),
                  side=None, trade_id="1", timestamp_ns=0, received_ns=0)
    assert "b488aa3c… " in format_event(trade) and market not in format_event(trade)
    assert json.loads(event_to_json(trade))["symbol"] == market


def test_demo_without_the_testing_extra_says_what_to_install() -> None:
    """Without websockets installed, `wsclients demo` names the extra instead of a traceback."""
    code = ("import sys; sys.modules['websockets'] = None\n"
            "from wsclients.cli import main\n"
            "sys.exit(main(['demo', '--seconds', '1']))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2
    assert "wsclients[testing]" in result.stderr and "Traceback" not in result.stderr
