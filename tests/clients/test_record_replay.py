"""Record a live session against each fake, replay the file: the same events come out.

Comparison rules (documented in ``wsclients/recording/replay.py``): trades, books, messages
and statuses are equal field for field, ``received_ns`` included (a replayed event carries
the received time of the frame, or of the REST answer, it came from) and ``raw`` included;
errors the connection itself reported (``ConnectionLost``) are not in the file. Order: each
socket's events come in the same order; across sockets a replay follows the order in which
the frames were received, while live each reader hands its events over in batches, so two
sockets' events may interleave differently — the comparison is per stream.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import wsclients
from tests.conftest import T
from tests.helpers import wait_until
from tests.recording_scenarios import FAST, SCENARIOS, Capture, count, ticks
from wsclients.errors import QueueOverflow, RecordingFailed
from wsclients.models import ErrorEvent, Event, Message, Status, Trade
from wsclients.recording import read_header, read_records
from wsclients.testing import FakeHyperliquid, FakeVegaNode
from wsclients.venues.hyperliquid import HyperliquidClient
from wsclients.venues.vega import VegaClient

pytestmark = pytest.mark.timeout(30)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def comparable(events: list[Event]) -> dict[str, list[Any]]:
    """What must match between live and replay, stream by stream (see the module
    docstring): statuses by socket URL, trades, books by symbol, messages by channel."""
    streams: dict[str, list[Any]] = {}
    for event in events:
        if event.kind == "error":
            continue
        if isinstance(event, Status):
            key = f"status {event.url}"
        elif isinstance(event, Message):
            key = f"message {event.channel}"
        else:
            key = f"{event.kind} {getattr(event, 'symbol', '')}"
        streams.setdefault(key, []).append((event, getattr(event, "raw", None)))
    return streams


def replayed(path: Path, **options: Any) -> list[Event]:
    with wsclients.replay(path, **options) as client:
        return list(client.events())


@pytest.mark.parametrize("venue", sorted(SCENARIOS))
def test_replay_gives_the_live_events(venue: str, tmp_path: Path) -> None:
    """Trades, books, messages and statuses of a live session (with a drop and a
    reconnect) come out of its recording identical, in the same order."""
    path = tmp_path / f"{venue}.jsonl.gz"
    live = SCENARIOS[venue](path)
    again = replayed(path)
    assert any(e.kind in ("trade", "book", "message") for e in live)
    assert comparable(again) == comparable(live)
    # Errors the protocol made (a Cadenza book out of sync) come again as they were; the
    # connection's own (ConnectionLost) are not in the file.
    live_errors = [(e.message, e.received_ns) for e in live if isinstance(e, ErrorEvent)]
    again_errors = [(e.message, e.received_ns) for e in again if isinstance(e, ErrorEvent)]
    assert all(error in live_errors for error in again_errors), again_errors


def test_hyperliquid_backfill_is_dropped_as_live(tmp_path: Path) -> None:
    """The trades the fake re-sends after the resubscribe are in the file, and dropped on
    replay as they were live: no trade id twice."""
    path = tmp_path / "hl.jsonl"
    live = SCENARIOS["hyperliquid"](path)
    frames = [r for r in read_records(path) if isinstance(r, dict) and r["type"] == "frame"]
    sent = sum(r["data"].count('"tid"') for r in frames)
    trades = [e for e in replayed(path) if isinstance(e, Trade)]
    assert sent > len(trades)  # duplicates were on the wire
    assert len({t.trade_id for t in trades}) == len(trades) == count("trade")(live)


def load_example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_example_callbacks_run_unchanged_on_a_recording(tmp_path: Path) -> None:
    """The callback bot of examples/hyperliquid_callbacks.py prints the same lines and
    sums the same notional on the live fake and on the recording of that session."""
    example = load_example("hyperliquid_callbacks")
    path = tmp_path / "bot.jsonl.gz"

    def callbacks(bot: Any) -> dict[str, Any]:
        return {"on_trade": bot.on_trade, "on_book": bot.on_book,
                "on_error": bot.on_error, "on_status": bot.on_status}

    live_bot, live_out = example.VolumeBot(), io.StringIO()
    with contextlib.redirect_stdout(live_out), FakeHyperliquid(
        coins=("BTC",), spot_coins=(), seed=3
    ) as fake:
        client = HyperliquidClient(url=fake.url, record=path, **callbacks(live_bot))
        client.subscribe_trades("BTC")
        client.subscribe_l2_book("BTC")
        client.start()
        assert wait_until(lambda: "BTC book" in live_out.getvalue())
        ticks(fake, 5)
        assert wait_until(lambda: live_out.getvalue().count("book:") >= 6
                          and len(live_bot.notional) == 1)
        client.stop()

    replay_bot, replay_out = example.VolumeBot(), io.StringIO()
    with contextlib.redirect_stdout(replay_out):
        wsclients.replay(path, **callbacks(replay_bot)).run_forever()
    assert replay_out.getvalue() == live_out.getvalue()
    assert replay_bot.notional == live_bot.notional


def test_record_on_a_running_client_returns_a_handle(tmp_path: Path) -> None:
    """record() on a connected client records the open socket as joined, its subscriptions
    and the frames from then on; stopping the handle ends the file, not the client."""
    path = tmp_path / "late.jsonl"
    with FakeHyperliquid(coins=("BTC",), spot_coins=(), seed=1) as fake:
        client = HyperliquidClient(url=fake.url, **FAST)
        capture = Capture(client)
        client.subscribe_trades("BTC")
        with client:
            capture.until(lambda e: count("status", state=client.state.CONNECTED)(e) >= 1)
            wait_until(lambda: client.is_live({"type": "trades", "coin": "BTC"}))
            recorder = client.record(path)
            with pytest.raises(ValueError, match="already recording"):
                client.record(tmp_path / "other.jsonl")
            ticks(fake, 3)
            capture.until(lambda e: count("trade")(e) >= 3)
            wait_until(lambda: recorder.records >= 4)
            recorder.stop()
            assert not recorder.running
            ticks(fake, 1)
            capture.until(lambda e: count("trade")(e) >= 4)
    records = [r for r in read_records(path) if isinstance(r, dict)]
    assert records[0]["type"] == "open" and records[0]["joined"] is True
    assert records[0]["subscriptions"] == [{"type": "trades", "coin": "BTC"}]
    assert records[-1]["type"] == "end"
    trades = [e for e in replayed(path) if isinstance(e, Trade)]
    assert trades == [e for e in capture.events if isinstance(e, Trade)][:3]


def test_a_write_error_is_an_error_event_and_the_client_goes_on(tmp_path: Path) -> None:
    """Recording to a full disk (/dev/full) reports RecordingFailed once; trades keep
    coming."""
    full = Path("/dev/full")
    if not full.exists():
        pytest.skip("needs /dev/full")
    with FakeHyperliquid(coins=("BTC",), spot_coins=(), seed=2) as fake:
        client = HyperliquidClient(url=fake.url, record=str(full), **FAST)
        capture = Capture(client)
        client.subscribe_trades("BTC")
        with client:
            capture.until(lambda e: any(isinstance(x, ErrorEvent) for x in e))
            ticks(fake, 2)
            capture.until(lambda e: count("trade")(e) >= 2)
    errors = [e for e in capture.events if isinstance(e, ErrorEvent)]
    assert len(errors) == 1 and isinstance(errors[0].exception, RecordingFailed)
    assert "No space left" in errors[0].message and not errors[0].fatal


def test_a_slow_disk_drops_records_and_says_so_once(tmp_path: Path) -> None:
    """A recorder whose queue is full drops records (counted) and reports one
    QueueOverflow per episode, without slowing the reader."""
    release = threading.Event()
    with FakeHyperliquid(coins=("BTC",), spot_coins=(), seed=4) as fake:
        client = HyperliquidClient(url=fake.url, **FAST)
        capture = Capture(client)
        client.subscribe_trades("BTC")
        with client:
            capture.until(lambda e: count("status")(e) >= 2)
            recorder = client.record(tmp_path / "slow.jsonl", queue_size=2)
            original = recorder._write_waiting
            recorder._write_waiting = lambda: release.wait(5 * T) and original()  # type: ignore
            ticks(fake, 6)
            capture.until(lambda e: count("trade")(e) >= 6)
            release.set()
            capture.until(lambda e: any(isinstance(x, ErrorEvent) for x in e))
            recorder.stop()
    assert recorder.dropped >= 1
    errors = [e for e in capture.events if isinstance(e, ErrorEvent)]
    assert len(errors) == 1 and isinstance(errors[0].exception, QueueOverflow)


def test_header_names_venue_and_config(tmp_path: Path) -> None:
    """The header names the venue and what the client knew up front."""
    path = tmp_path / "v.jsonl.gz"
    SCENARIOS["vega"](path)
    header = read_header(path)
    assert header["venue"] == "vega" and "decimals" in header["config"]
    records = [r for r in read_records(path) if isinstance(r, dict)]
    assert "snapshot" in {r["kind"] for r in records if r["type"] == "job"}
    learned = [r["learned"] for r in records if r["type"] == "learned"]
    assert learned and all(list(x["decimals"].values())[0] == [1, 3] for x in learned)


def test_a_failed_rest_answer_replays_as_it_failed(tmp_path: Path) -> None:
    """Vega decimals answered 404 (an unknown market): live and replay report the same
    dropped trades, at the same received times — the failure comes back as the
    RequestFailed with its HTTP status that the protocol decides on."""
    path = tmp_path / "unknown.jsonl"
    with FakeVegaNode(seed=3) as node:
        market = node.market_ids[0]
        node.fail_rest(f"market/{market}", times=1000, status=404)
        client = VegaClient(url=node.url, record=path, **FAST)
        capture = Capture(client)
        client.subscribe_trades(market)
        with client:
            node.wait_for_streams("trades")
            node.step(2)
            capture.until(lambda e: any(
                "cannot be had" in x.message and not x.message.startswith("0 ")
                for x in e if isinstance(x, ErrorEvent)))
    live = [(e.message, e.received_ns) for e in capture.rest()
            if isinstance(e, ErrorEvent) and "cannot be had" in e.message]
    again = [(e.message, e.received_ns) for e in replayed(path)
             if isinstance(e, ErrorEvent)]
    assert again == live and any(not m.startswith("0 ") for m, _ in live), live
