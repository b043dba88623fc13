"""The ``wsclients`` command: exit codes, one-line errors, first-connect statuses, ``fake``,
``book`` ladders, backfill marks and JSON-only stdout."""

from __future__ import annotations

import io
import json
import queue
import socket
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from tests.conftest import T
from tests.helpers import next_of
from wsclients import HyperliquidClient, TradevestClient, VegaClient
from wsclients.cli import VENUES, main
from wsclients.cli._ladder import LadderPrinter, render_ladder
from wsclients.models import Book, BookLevel, Trade
from wsclients.testing.hyperliquid import FakeHyperliquid
from wsclients.testing.vega import FakeVegaNode
from wsclients.venues.vega import check_market_id

pytestmark = pytest.mark.timeout(30)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize("argv, needle", [
    (["tail", "hyperliquid", "trades", "btc"], "coin names are case-sensitive: 'btc'"),
    (["tail", "hyperliquid", "book", "BTC", "--mantissa", "2"],
     "mantissa is only allowed with nSigFigs=5"),
    (["tail", "hyperliquid", "trades", "BTC", "--url", "ftp://x/ws"],
     "url must be a ws:// or wss:// URL"),
    (["tail", "vega", "depth", "--market-id", "BTC-USD"], "a market id is 64 hex characters"),
    (["book", "vega", "abc"], "a market id is 64 hex characters"),
    (["tail", "tradevest", "prices", "EUR/BTC/ETH"], "a market string is written CURRENCY/CRYPTO"),
])
def test_a_wrong_command_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    """A WSClientError raised by a command: one line on stderr, exit 2, nothing sent."""
    port = _closed_port()
    url = {"hyperliquid": f"ws://127.0.0.1:{port}/ws", "vega": f"http://127.0.0.1:{port}",
           "tradevest": f"ws://127.0.0.1:{port}/p"}[argv[1]]
    if "--url" not in argv:
        argv = [*argv, "--url", url]
    assert main(argv) == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith("wsclients: ") and needle in line


@pytest.mark.parametrize("seconds", ["0", "-1", "nan", "soon"])
def test_seconds_must_be_positive(capsys: pytest.CaptureFixture[str], seconds: str) -> None:
    """--seconds 0 or less (or not a number) is a usage error, exit 2, before any socket."""
    with pytest.raises(SystemExit) as info:
        main(["tail", "hyperliquid", "trades", "BTC", "--seconds", seconds])
    assert info.value.code == 2
    assert "--seconds" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["demo", "--seconds", seconds])


def test_cannot_connect_is_exit_1_with_the_cause(capsys: pytest.CaptureFixture[str]) -> None:
    """No venue there: exit 1, one line naming the last error (refused); the failed
    attempts were shown on stderr as statuses while start() waited."""
    client_url = f"ws://127.0.0.1:{_closed_port()}/ws"
    original = HyperliquidClient.start

    def quick_start(self: HyperliquidClient, wait: bool = True, timeout: Any = 10.0) -> None:
        original(self, wait, 0.8 * T)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(HyperliquidClient, "start", quick_start)
        assert main(["tail", "hyperliquid", "trades", "BTC", "--url", client_url]) == 1
    err = capsys.readouterr().err
    assert "status reconnecting (attempt 1" in err and "refused" in err.lower()
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"wsclients: could not connect to {client_url}")
    assert "last error: ConnectionRefusedError" in last
    assert "Traceback" not in err


def test_statuses_show_until_the_venue_comes_up(capsys: pytest.CaptureFixture[str]) -> None:
    """The fake starts late on the port the command dials: the refused attempts show as
    status lines on stderr, then trades flow and the exit code is 0."""
    port = _closed_port()
    fake = FakeHyperliquid(stream=True, rate=50)
    fake.port = port
    timer = threading.Timer(0.6 * T, fake.start)
    timer.start()
    try:
        code = main(["tail", "hyperliquid", "trades", "BTC", "--url",
                     f"ws://127.0.0.1:{port}/ws", "--seconds", str(0.6 * T)])
    finally:
        timer.join()
        fake.stop()
    captured = capsys.readouterr()
    assert code == 0
    assert "status reconnecting" in captured.err and " TRADE " in captured.out


def test_no_live_subscription_left_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    """Hyperliquid refuses the only coin: the command ends (exit 1) instead of idling."""
    with FakeHyperliquid(invalid_subscription="error") as fake:
        started = time.monotonic()
        code = main(["tail", "hyperliquid", "trades", "NOPE", "--url", fake.url,
                     "--seconds", str(20 * T)])
    assert code == 1 and time.monotonic() - started < 10 * T
    captured = capsys.readouterr()
    assert "no live subscription left" in captured.err
    assert " error: " in captured.out  # the refusal itself, with a real time of day
    clock = captured.out.split()[0]
    assert clock != "00:00:00.000"


def test_vega_stream_refused_for_good_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown (well-formed) market: its only stream ends fatally, the command exits 1."""
    with FakeVegaNode() as node:
        code = main(["tail", "vega", "depth-updates", "--market-id", "f" * 64,
                     "--url", node.url, "--seconds", str(20 * T)])
    assert code == 1
    assert "no live subscription left" in capsys.readouterr().err


@pytest.mark.parametrize("venue", VENUES)
def test_demo_json_stdout_is_pure_json(venue: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`demo --json`, every venue: the banner goes to stderr, every stdout line is one JSON
    event."""
    assert main(["demo", "--venue", venue, "--json", "--seconds", str(0.8 * T)]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines and all("kind" in json.loads(line) for line in lines)
    assert "fake " in captured.err


def test_backfilled_trades_are_marked(capsys: pytest.CaptureFixture[str]) -> None:
    """The trades Hyperliquid re-sends after a subscribe are history: marked (backfill) in
    lines and is_snapshot in JSON; new prints are not."""
    with FakeHyperliquid(stream=True, rate=40, trades_backfill=5) as fake:
        fake.start()
        time.sleep(0.3 * T)  # some history for the backfill
        assert main(["tail", "hyperliquid", "trades", "BTC", "--url", fake.url,
                     "--json", "--seconds", str(0.8 * T)]) == 0
    trades = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    trades = [t for t in trades if t["kind"] == "trade"]
    assert trades[0]["is_snapshot"] is True
    assert any(t["is_snapshot"] is False for t in trades)
    from wsclients.cli._output import format_event

    old = Trade(venue="v", symbol="BTC", price=Decimal(1), size=Decimal(1), side=None,
                trade_id="1", timestamp_ns=1, received_ns=1, is_snapshot=True)
    assert format_event(old).endswith("(backfill)")


def test_a_new_print_after_the_ack_is_not_a_backfill() -> None:
    """Nothing traded before the subscription, so no history came: the first trade after
    the ack is a new print (is_snapshot False), though it is the first trades frame."""
    with FakeHyperliquid() as fake, HyperliquidClient(url=fake.url) as client:
        client.subscribe_trades("BTC")
        fake.wait_for_subscriptions(1)
        assert wait_until_live(client)
        fake.publish_trade("BTC", Decimal("97000"), "0.5", side="B")
        trade = next_of(client, Trade)
        assert trade.is_snapshot is False


def wait_until_live(client: HyperliquidClient) -> bool:
    """Whether the trades subscription was acked within a few seconds."""
    deadline = time.monotonic() + 3 * T
    while time.monotonic() < deadline:
        if client.is_live({"type": "trades", "coin": "BTC"}):
            return True
        time.sleep(0.01)
    return False


# -- wsclients fake ---------------------------------------------------------------------------


def _serve(argv: list[str]) -> tuple[threading.Thread, list[int]]:
    codes: list[int] = []
    thread = threading.Thread(target=lambda: codes.append(main(argv)), name="test-fake-cli")
    thread.start()
    return thread, codes


def wait_for_kind(client: Any, kind: str) -> bool:
    """Whether an event of ``kind`` comes within a second or so."""
    deadline = time.monotonic() + 1.0 * T
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            if client.get(timeout=remaining).kind == kind:
                return True
        except queue.Empty:
            return False
    return False


def _wait_listening(port: int) -> None:
    deadline = time.monotonic() + 5 * T
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)
    raise AssertionError("the fake never listened")


@pytest.mark.parametrize("venue, url, kind", [
    ("hyperliquid", "ws://127.0.0.1:{port}/ws", "trade"),
    ("vega", "http://127.0.0.1:{port}", "trade"),
    ("tradevest", "ws://127.0.0.1:{port}/websocket/prices", "book"),
])
def test_fake_serves_a_venue_from_the_command_line(
    capsys: pytest.CaptureFixture[str], venue: str, url: str, kind: str
) -> None:
    """`wsclients fake <venue> --port N`: a client in the same process streams from it."""
    port = _closed_port()
    thread, codes = _serve(["fake", venue, "--port", str(port), "--rate", "20",
                            "--seconds", str(1.2 * T)])
    try:
        _wait_listening(port)
        address = url.format(port=port)
        client: Any
        if venue == "hyperliquid":
            client = HyperliquidClient(url=address)
            client.subscribe_trades("BTC")
        elif venue == "vega":
            client = VegaClient(url=address)
            client.subscribe_trades()
        else:
            client = TradevestClient(["EUR/BTC"], url=address)
        with client:
            assert wait_for_kind(client, kind)
    finally:
        thread.join(10 * T)
    assert codes == [0]
    out = capsys.readouterr().out
    assert f"127.0.0.1:{port}" in out.splitlines()[0]
    if venue == "vega":  # the ids a user needs, as the help says them: 64 hex characters
        ids = [line.split()[1] for line in out.splitlines() if line.startswith("market ")]
        assert ids and all(check_market_id("x", market_id) for market_id in ids)


def test_fake_on_a_busy_port_is_one_line_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    """The port is taken: exit 1 with the reason, no traceback."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["fake", "tradevest", "--port", str(port), "--seconds", "1"]) == 1
    assert f"cannot listen on 127.0.0.1:{port}" in _one_line(capsys.readouterr().err)


@pytest.mark.parametrize("argv", [["--rate", "0"], ["--port", "70000"], ["--seconds", "-2"]])
def test_fake_options_are_checked(argv: list[str]) -> None:
    """A rate, port or duration that cannot work is a usage error."""
    with pytest.raises(SystemExit) as info:
        main(["fake", "hyperliquid", *argv])
    assert info.value.code == 2


# -- wsclients book -----------------------------------------------------------------------------


def _book(bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> Book:
    return Book(
        venue="v", symbol="BTC",
        bids=tuple(BookLevel(Decimal(p), Decimal(s), 1) for p, s in bids),
        asks=tuple(BookLevel(Decimal(p), Decimal(s), 12) for p, s in asks),
        timestamp_ns=1, received_ns=1,
    )


def test_ladder_has_n_levels_a_side_in_aligned_columns() -> None:
    """Asks above bids (highest ask on top), depth levels each, every row the same width."""
    book = _book([("99.5", "1"), ("99", "250.25"), ("98", "3")],
                 [("100", "2"), ("100.5", "0.001"), ("101", "7")])
    lines = render_ladder(book, 2)
    rows = [line for line in lines if line.startswith(("ask ", "bid "))]
    assert [row.split()[:2] for row in rows] == [
        ["ask", "100.5"], ["ask", "100"], ["bid", "99.5"], ["bid", "99"]]
    assert len({len(row) for row in rows}) == 1  # aligned
    assert "spread 0.5" in lines[0]
    assert any(line.startswith("ask") and "(none)" in line
               for line in render_ladder(_book([("1", "1")], []), 3))


def test_ladder_redraws_in_place_on_a_terminal_and_not_when_piped() -> None:
    """A terminal gets cursor-up-and-clear before each new ladder; a pipe plain blocks."""
    book = _book([("99", "1")], [("100", "1")])
    screen = io.StringIO()
    printer = LadderPrinter(screen, depth=1, tty=True)
    printer.show(book)
    printer.show(book)
    height = len(render_ladder(book, 1))
    assert screen.getvalue().count(f"\x1b[{height}F\x1b[J") == 1
    pipe = io.StringIO()
    piped = LadderPrinter(pipe, depth=1, tty=False)
    piped.show(book)
    piped.show(book)
    assert "\x1b" not in pipe.getvalue() and pipe.getvalue().count("spread") == 2


@pytest.fixture
def fake() -> Iterator[FakeHyperliquid]:
    with FakeHyperliquid(stream=True, rate=50) as server:
        yield server


def test_book_hyperliquid_prints_ladders(
    fake: FakeHyperliquid, capsys: pytest.CaptureFixture[str]
) -> None:
    """`wsclients book hyperliquid BTC --depth 4`: ladder blocks of 4 levels a side."""
    assert main(["book", "hyperliquid", "BTC", "--depth", "4", "--url", fake.url,
                 "--seconds", str(0.8 * T)]) == 0
    blocks = [b.splitlines() for b in capsys.readouterr().out.split("\n\n") if b.strip()]
    assert blocks and all(sum(line.startswith("bid ") for line in b) == 4 for b in blocks)


def test_book_tradevest_prints_ladders(capsys: pytest.CaptureFixture[str]) -> None:
    """`wsclients book tradevest EUR/BTC` against the fake."""
    from wsclients.testing.tradevest import FakeTradevest

    with FakeTradevest(price_interval=0.1) as server:
        assert main(["book", "tradevest", "EUR/BTC", "--depth", "3", "--url", server.url,
                     "--seconds", str(0.8 * T)]) == 0
    out = capsys.readouterr().out
    assert "BTC-EUR" in out and out.count("\nask ") >= 3
