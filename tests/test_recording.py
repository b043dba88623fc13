"""Recordings as files: the committed fixtures replay, damage is reported and skipped,
pacing, URL redaction, the venue registry and the ``record``/``replay`` commands."""

from __future__ import annotations

import gzip
import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

import wsclients
from wsclients.cli import main
from wsclients.errors import CorruptRecording, UnknownVenue
from wsclients.models import Book, ErrorEvent, Event, Message, Trade
from wsclients.recording import read_header, read_records, register_venue
from wsclients.recording.registry import venue_recording
from wsclients.testing import FakeHyperliquid

pytestmark = pytest.mark.timeout(30)

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "recordings"
VENUES = ("allium", "cadenza", "centrifugo", "hyperliquid", "tradevest", "vega")


def replayed(path: Path, **options: Any) -> list[Event]:
    with wsclients.replay(path, **options) as client:
        return list(client.events())


def lines_of(path: Path) -> list[str]:
    with gzip.open(path, "rt", encoding="utf-8") as source:
        return source.read().splitlines(keepends=True)


@pytest.mark.parametrize("venue", VENUES)
def test_each_fixture_replays_cleanly(venue: str) -> None:
    """Every fake venue's recording replays to trades, books or messages and no error but
    the resync the Cadenza session had live; the client ends CLOSED with its counters
    filled."""
    client = wsclients.replay(FIXTURES / f"{venue}.jsonl.gz")
    assert client.venue == venue and f"{venue}" in repr(client)
    with client:
        events = list(client.events())
    assert any(isinstance(e, (Trade, Book, Message)) for e in events)
    errors = [e for e in events if isinstance(e, ErrorEvent)]
    assert [e.code for e in errors] == (["book_out_of_sync"] if venue == "cadenza" else [])
    stats = client.stats
    assert stats.state is wsclients.ConnectionState.CLOSED
    assert stats.messages > 0 and stats.reconnects >= 1 and stats.events == len(events)


def test_vega_fixture_rebuilds_the_book_from_recorded_snapshots() -> None:
    """The Vega book is rebuilt from the snapshots in the file: a snapshot Book first and
    again after the drop, a resync counted, updates chained in between."""
    client = wsclients.replay(FIXTURES / "vega.jsonl.gz")
    with client:
        books = [e for e in client.events() if isinstance(e, Book)]
    assert [b.is_snapshot for b in books].count(True) == 2 and books[0].is_snapshot
    assert client.stats.resyncs == 1
    sequences = [b.sequence for b in books if not b.is_snapshot]
    assert sequences == sorted(sequences)


def test_a_corrupt_line_is_reported_and_skipped(tmp_path: Path) -> None:
    """A garbage line in the middle costs one ErrorEvent naming its line; every event
    around it still comes."""
    source = FIXTURES / "hyperliquid.jsonl.gz"
    lines = lines_of(source)
    damaged = tmp_path / "damaged.jsonl"
    middle = len(lines) // 2
    damaged.write_text("".join(lines[:middle] + ["{not json\n"] + lines[middle:]))
    clean = [e for e in replayed(source) if e.kind != "error"]
    events = replayed(damaged)
    errors = [e for e in events if isinstance(e, ErrorEvent)]
    assert len(errors) == 1 and isinstance(errors[0].exception, CorruptRecording)
    assert f"line {middle + 1}" in errors[0].message and not errors[0].fatal
    assert [e for e in events if e.kind != "error"] == clean


def test_a_line_cut_short_is_reported(tmp_path: Path) -> None:
    """A file whose last line was cut mid-write (a crash) replays up to it and says so."""
    lines = lines_of(FIXTURES / "tradevest.jsonl.gz")
    cut = tmp_path / "cut.jsonl"
    cut.write_text("".join(lines[:-3]) + lines[-3][: len(lines[-3]) // 2])
    events = replayed(cut)
    errors = [e for e in events if isinstance(e, ErrorEvent)]
    assert len(errors) == 1 and "cut short" in errors[0].message
    assert any(isinstance(e, Book) for e in events)


def test_a_truncated_gzip_is_reported_and_ends_the_replay(tmp_path: Path) -> None:
    """A .gz cut in half replays what can be read, then one ErrorEvent, then the end."""
    data = (FIXTURES / "vega.jsonl.gz").read_bytes()
    truncated = tmp_path / "truncated.jsonl.gz"
    truncated.write_bytes(data[: len(data) * 2 // 3])
    client = wsclients.replay(truncated)
    with client:
        events = list(client.events())
    errors = [e for e in events if isinstance(e, ErrorEvent)]
    assert len(errors) == 1 and isinstance(errors[0].exception, CorruptRecording)
    assert "cut short or damaged" in errors[0].message
    assert events[-1] is errors[0]  # nothing can be read after the damage
    assert any(isinstance(e, (Trade, Book)) for e in events)  # everything before it was
    assert client.stats.state is wsclients.ConnectionState.CLOSED


def test_an_unknown_venue_is_refused_at_once(tmp_path: Path) -> None:
    """A recording of a venue without replay support raises UnknownVenue from replay(),
    and a venue name that is not an identifier never reaches the importer."""
    lines = lines_of(FIXTURES / "tradevest.jsonl.gz")
    for venue, needle in (("nosuchvenue", "no module"), ("os.path", "not a venue name")):
        header = json.loads(lines[0])
        header["venue"] = venue
        path = tmp_path / "other.jsonl"
        path.write_text(json.dumps(header) + "\n" + "".join(lines[1:]))
        with pytest.raises(UnknownVenue, match=needle):
            wsclients.replay(path)


@pytest.mark.parametrize("content", [b"", b"hello\n", b'{"type":"header"}\n', b"\x1f\x8b\x08"])
def test_a_file_that_is_not_a_recording_is_refused(tmp_path: Path, content: bytes) -> None:
    """Anything without a wsclients header raises CorruptRecording from replay()."""
    path = tmp_path / "x.jsonl"
    path.write_bytes(content)
    with pytest.raises(CorruptRecording, match="line 1"):
        wsclients.replay(path)
    gz = tmp_path / "x.jsonl.gz"
    gz.write_bytes(content)
    with pytest.raises(CorruptRecording):
        wsclients.replay(gz)


def test_paced_replay_keeps_the_recorded_spacing() -> None:
    """speed=N spreads the records over their recorded span / N; speed=None does not wait."""
    path = FIXTURES / "hyperliquid.jsonl.gz"
    times = [r["ns"] for r in read_records(path) if isinstance(r, dict) and "ns" in r]
    span = (max(times) - min(times)) / 1e9
    speed = span / 0.4  # about 0.4 s of pacing
    started = time.monotonic()
    paced = replayed(path, speed=speed)
    elapsed = time.monotonic() - started
    assert 0.3 <= elapsed < 3.0
    assert paced == replayed(path)
    with pytest.raises(ValueError):
        wsclients.replay(path, speed=0)


def test_replay_kinds_and_callbacks() -> None:
    """kinds= filters what is published; callbacks see what the queue would have."""
    path = FIXTURES / "hyperliquid.jsonl.gz"
    trades: list[Trade] = []
    client = wsclients.replay(path, on_trade=trades.append, kinds={"trade", "book"})
    client.run_forever()
    rest = []
    while True:
        try:
            rest.append(client.get(timeout=0))
        except Exception:
            break
    assert trades and all(isinstance(t, Trade) for t in trades)
    assert rest and all(isinstance(e, Book) for e in rest)
    assert client.finished.is_set()


def test_recording_never_holds_a_secret_from_the_url(tmp_path: Path) -> None:
    """A token in the socket URL does not reach the file."""
    path = tmp_path / "secret.jsonl"
    with FakeHyperliquid(coins=("BTC",), spot_coins=()) as fake:
        client = wsclients.HyperliquidClient(url=fake.url + "?token=hunter2", record=path)
        client.subscribe_trades("BTC")
        with client:
            pass
    text = path.read_text()
    assert "hunter2" not in text and "token=***" in text
    assert "hunter2" not in json.dumps(read_header(path))


def test_registry_lookup_and_registration() -> None:
    """Venues are found by name under wsclients.venues; others register their module;
    a module without recording() is refused clearly."""
    assert venue_recording("hyperliquid").venue == "hyperliquid"
    register_venue("notavenue", "wsclients.models")
    with pytest.raises(UnknownVenue, match="no recording"):
        venue_recording("notavenue")
    with pytest.raises(ValueError):
        register_venue("Bad Name", "x")


def test_cli_replay_prints_like_tail(capsys: pytest.CaptureFixture[str]) -> None:
    """`wsclients replay FILE --json` prints one JSON line per event; plain text otherwise;
    a missing file is one line on stderr and exit 1."""
    path = str(FIXTURES / "tradevest.jsonl.gz")
    assert main(["replay", path, "--json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines and all(json.loads(line)["kind"] == "book" for line in lines)
    assert main(["replay", path, "--status", "--speed", "1000"]) == 0
    out = capsys.readouterr().out
    assert " BOOK " in out and "status connected" in out
    assert main(["replay", "/nonexistent.jsonl"]) == 1
    assert "No such file" in capsys.readouterr().err


def test_cli_record_writes_a_replayable_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`wsclients record hyperliquid trades BTC --url … -o FILE --seconds N` records the
    stream; the file replays to trades."""
    path = tmp_path / "btc.jsonl.gz"
    with FakeHyperliquid(coins=("BTC",), spot_coins=(), stream=True, rate=50) as fake:
        code = main(["record", "hyperliquid", "trades", "BTC", "--url", fake.url,
                     "-o", str(path), "--seconds", "0.5"])
    assert code == 0
    assert "recorded" in capsys.readouterr().err
    assert read_header(path)["venue"] == "hyperliquid"
    assert any(isinstance(e, Trade) for e in replayed(path))


def test_cli_record_needs_an_output(capsys: pytest.CaptureFixture[str]) -> None:
    """record without -o is a usage error."""
    with pytest.raises(SystemExit) as info:
        main(["record", "hyperliquid", "trades", "BTC"])
    assert info.value.code == 2


def test_fixture_copy_replays_without_gzip(tmp_path: Path) -> None:
    """The same recording uncompressed (a name without .gz) replays the same."""
    plain = tmp_path / "hl.jsonl"
    with gzip.open(FIXTURES / "hyperliquid.jsonl.gz", "rb") as source, plain.open("wb") as out:
        shutil.copyfileobj(source, out)
    assert replayed(plain) == replayed(FIXTURES / "hyperliquid.jsonl.gz")


@pytest.mark.parametrize("options", [{"speed": 0.01}, {"queue_size": 1}])
def test_stop_mid_replay_is_prompt(options: dict[str, Any]) -> None:
    """stop() during a paced pause, or while a full queue nobody reads holds the replay
    back, returns at once and leaves no thread."""
    client = wsclients.replay(FIXTURES / "hyperliquid.jsonl.gz", **options)
    client.start()
    time.sleep(0.2)
    assert not client.finished.is_set()
    started = time.monotonic()
    client.stop()
    assert time.monotonic() - started < 1.0
    assert client.finished.is_set() and client.state is wsclients.ConnectionState.CLOSED


def test_collect_and_to_dataframe_on_a_replay() -> None:
    """The notebook path works on a file: collect() gathers the whole recording, and the
    trades make one DataFrame row each."""
    with wsclients.replay(FIXTURES / "hyperliquid.jsonl.gz") as client:
        trades = client.collect(kinds={"trade"})
    assert trades and all(isinstance(t, Trade) for t in trades)
    assert len(trades) == len([e for e in replayed(FIXTURES / "hyperliquid.jsonl.gz")
                               if isinstance(e, Trade)])
    pytest.importorskip("pandas")
    frame = wsclients.to_dataframe(trades)
    assert len(frame) == len(trades)
