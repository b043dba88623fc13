"""Record and replay of the Centrifugo-based venues and of Allium: what the committed fixtures
hold (offsets, recovery, rebuilt books), that no token reaches a file, the Allium API client's
refusal, and ``wsclients record`` for each of them."""

from __future__ import annotations

import gzip
import threading
from pathlib import Path
from typing import Any

import pytest

import wsclients
from tests.recording_scenarios import FAST, Capture, count
from wsclients.cli import main
from wsclients.errors import NotRecordable
from wsclients.models import Book, ErrorEvent, Event, Message
from wsclients.recording import read_header, read_records
from wsclients.testing.allium import FakeAllium
from wsclients.testing.cadenza import FakeCadenza
from wsclients.testing.centrifugo import FakeCentrifugo
from wsclients.venues.allium import AlliumApiClient
from wsclients.venues.centrifugo import Publication, RecoveryFailed
from wsclients.venues.centrifugo.client import CentrifugoClient

pytestmark = pytest.mark.timeout(30)

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "recordings"
BTC, ETH = "BINANCE:BTC/USDT", "BINANCE:ETH/USDT"


def replayed(path: Path, **options: Any) -> list[Event]:
    with wsclients.replay(path, **options) as client:
        return list(client.events())


def test_centrifugo_fixture_keeps_offsets_and_recovery() -> None:
    """Publications come with their offsets, rising and never twice in each channel's
    stream (epoch); the one
    published while the client was away is recovered; the lost stream gives RecoveryFailed."""
    events = replayed(FIXTURES / "centrifugo.jsonl.gz")
    publications = [e for e in events if isinstance(e, Publication)]
    streams: dict[tuple[str, str], list[int]] = {}
    for publication in publications:
        assert publication.offset is not None and publication.epoch
        streams.setdefault((publication.channel, publication.epoch), []).append(
            publication.offset)
    assert {channel for channel, _ in streams} == {"chat", "$vip", "news"}
    assert len(streams) == 4  # news in its old epoch, then in the new one
    assert all(offsets == sorted(set(offsets)) for offsets in streams.values())
    assert {"n": "while away"} in [p.data for p in publications if p.channel == "chat"]
    failed = [e for e in events if isinstance(e, RecoveryFailed)]
    assert [e.channel for e in failed] == ["news"]
    assert not [e for e in events if isinstance(e, ErrorEvent)]


def test_cadenza_fixture_rebuilds_books_and_the_resync() -> None:
    """Books come from SNAPSHOT and DIFFs as live; the ETH book whose recovery failed is
    dropped (BookOutOfSync, a resync counted) and rebuilt from a fresh snapshot."""
    client = wsclients.replay(FIXTURES / "cadenza.jsonl.gz")
    with client:
        events = list(client.events())
    books = [e for e in events if isinstance(e, Book)]
    assert [b for b in books if b.symbol == ETH][0].is_snapshot
    assert any(b.symbol == BTC and not b.is_snapshot for b in books)
    assert all(len(b.bids) <= 5 and len(b.asks) <= 5 for b in books)  # book_depth=5
    errors = [e for e in events if isinstance(e, ErrorEvent)]
    assert [e.code for e in errors] == ["book_out_of_sync"] and ETH in errors[0].message
    after = events[events.index(errors[0]):]
    assert [b for b in after if isinstance(b, Book) and b.symbol == ETH][0].is_snapshot
    assert client.stats.resyncs == 1
    assert any(e.kind == "trade" for e in events)
    assert any(isinstance(e, Message) and e.symbol == "acc-1" for e in events)


def test_allium_fixture_replays_records_per_topic() -> None:
    """Each topic's records come back as Messages on its channel."""
    events = replayed(FIXTURES / "allium.jsonl.gz")
    channels = {e.channel for e in events if isinstance(e, Message)}
    assert channels == {"ethereum.blocks", "ethereum.transactions"}
    assert not [e for e in events if isinstance(e, ErrorEvent)]


@pytest.mark.parametrize("venue", ["centrifugo", "cadenza", "allium"])
def test_fixtures_hold_no_token(venue: str) -> None:
    """The committed recordings hold no JWT (their tokens came from get_token or token=)
    and no API key."""
    with gzip.open(FIXTURES / f"{venue}.jsonl.gz", "rt", encoding="utf-8") as source:
        text = source.read()
    assert "eyJ" not in text and "allium-test-key" not in text


def test_tokens_never_reach_the_file(tmp_path: Path) -> None:
    """A fixed connection token, a fixed subscription token, a subscription token source
    and a token source that fails with a secret in its message: the file holds none of
    them, yet the replay gives the live publications."""
    path = tmp_path / "secret.jsonl"
    secrets: list[str] = []
    with FakeCentrifugo(seed=3) as fake:
        token = fake.make_token("alice")
        vip = fake.make_token("alice", channel="$vip")
        secrets += [token, vip]
        calls: list[str] = []

        def flaky(channel: str) -> str:
            calls.append(channel)
            if len(calls) == 1:
                raise RuntimeError("password=hunter2 refused")
            fresh = fake.make_token("alice", channel=channel)
            secrets.append(fresh)
            return fresh

        client = CentrifugoClient(url=fake.url, token=token, record=path, **FAST)
        capture = Capture(client)
        client.subscribe("$vip", token=vip)
        client.subscribe("$gold", get_token=flaky)
        with client:
            fake.wait_for_subscribers("$vip")
            fake.wait_for_subscribers("$gold", timeout=5.0)
            fake.publish("$vip", {"n": 1})
            fake.publish("$gold", {"n": 2})
            capture.until(lambda e: count("message")(e) >= 2)
    text = path.read_text()
    assert "<redacted>" in text
    for secret in [*secrets, "hunter2"]:
        assert secret not in text
    live = [(e.channel, e.data, e.offset) for e in capture.rest() if isinstance(e, Publication)]
    again = [(e.channel, e.data, e.offset) for e in replayed(path)
             if isinstance(e, Publication)]
    assert again == live and len(live) == 2
    jobs = [r for r in read_records(path) if isinstance(r, dict) and r["type"] == "job"]
    failed = [r for r in jobs if "error" in r]
    assert failed and failed[0]["error"] == {"type": "RuntimeError", "message": ""}


def test_the_allium_api_client_refuses_to_record(tmp_path: Path) -> None:
    """record() and record= on the API client raise NotRecordable naming why; no file is
    made."""
    path = tmp_path / "api.jsonl"
    with pytest.raises(NotRecordable, match="cannot be recorded: its replies answer"):
        AlliumApiClient(api_key="k", url="ws://127.0.0.1:9/x", record=path)
    client = AlliumApiClient(api_key="k", url="ws://127.0.0.1:9/x")
    with pytest.raises(NotRecordable, match="AlliumApiClient"):
        client.record(path)
    client.stop()
    assert not path.exists()


def _record_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> list[Event]:
    assert main(argv) == 0
    assert "recorded" in capsys.readouterr().err
    return replayed(Path(argv[argv.index("-o") + 1]))


def test_cli_records_centrifugo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`wsclients record centrifugo URL CHANNEL --token T -o FILE` records publications;
    the token is not in the file."""
    path = tmp_path / "cf.jsonl.gz"
    with FakeCentrifugo() as fake:
        token = fake.make_token("cli")
        stop = threading.Event()

        def publish() -> None:
            n = 0
            while not stop.wait(0.02):
                fake.publish("chat", {"n": n})
                n += 1

        publisher = threading.Thread(target=publish, name="test-publisher", daemon=True)
        publisher.start()
        try:
            events = _record_cli(["record", "centrifugo", fake.url, "chat", "--token", token,
                                  "-o", str(path), "--seconds", "0.5"], capsys)
        finally:
            stop.set()
            publisher.join(2.0)
    assert read_header(path)["venue"] == "centrifugo"
    assert any(isinstance(e, Publication) for e in events)
    with gzip.open(path, "rt", encoding="utf-8") as source:
        assert token not in source.read()


def test_cli_records_cadenza(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`wsclients record cadenza book INSTRUMENT --url … --token … -o FILE` records a book
    that replays to Book events."""
    path = tmp_path / "cz.jsonl.gz"
    with FakeCadenza(instruments=(BTC,), rate=50.0, seed=2) as fake:
        events = _record_cli(["record", "cadenza", "book", BTC, "--url", fake.url,
                              "--token", fake.make_token("cli"), "-o", str(path),
                              "--seconds", "0.5"], capsys)
    assert read_header(path)["venue"] == "cadenza"
    assert any(isinstance(e, Book) and e.symbol == BTC for e in events)


def test_cli_records_allium(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`wsclients record allium TOPIC --url … --api-key … -o FILE` records the records."""
    path = tmp_path / "al.jsonl.gz"
    with FakeAllium(api_key="cli-key", rate=50.0, seed=4) as fake:
        events = _record_cli(["record", "allium", "ethereum.blocks", "--url",
                              fake.stream_url("x"), "--api-key", "cli-key", "-o", str(path),
                              "--seconds", "0.5"], capsys)
    assert read_header(path)["venue"] == "allium"
    assert any(isinstance(e, Message) and e.channel == "ethereum.blocks" for e in events)
