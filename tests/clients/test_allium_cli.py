"""The Allium commands: allium get/post, tail allium and the demo, against an in-process fake."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.conftest import T
from wsclients.cli import main
from wsclients.testing.allium import FakeAllium

pytestmark = pytest.mark.timeout(30)

KEY = "cli-secret-key-42"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAllium]:
    monkeypatch.setenv("ALLIUM_API_KEY", KEY)
    with FakeAllium(api_key=KEY, rate=20.0) as fake:
        fake.route("POST", "/echo", lambda request: request.body)
        yield fake


def test_get_prints_the_replys_data_as_json(
    fake: FakeAllium, capsys: pytest.CaptureFixture[str]
) -> None:
    """`wsclients allium get PATH -p limit=2`: the params go in the body; JSON on stdout."""
    code = main(["allium", "get", "/api/v1/developer/assets", "-p", "limit=2",
                 "--url", fake.api_url])
    assert code == 0
    assert len(json.loads(capsys.readouterr().out)["items"]) == 2
    assert fake.api_requests[0].body == {"limit": "2"}


def test_post_sends_the_body(fake: FakeAllium, capsys: pytest.CaptureFixture[str]) -> None:
    """`wsclients allium post PATH --body JSON --compact`: one line, the body echoed."""
    body = [{"token_address": "0x01", "chain": "ethereum"}]
    code = main(["allium", "post", "/echo", "--body", json.dumps(body), "--compact",
                 "--url", fake.api_url, "--api-key", KEY])
    out = capsys.readouterr().out
    assert code == 0 and out.count("\n") == 1 and json.loads(out) == body


def test_an_error_reply_exits_1_with_the_servers_message(
    fake: FakeAllium, capsys: pytest.CaptureFixture[str]
) -> None:
    """The error names the request and the venue's text; nothing on stdout."""
    code = main(["allium", "get", "/nowhere", "--url", fake.api_url])
    captured = capsys.readouterr()
    assert code == 1 and captured.out == ""
    assert "GET /nowhere" in captured.err and "not found" in captured.err


def test_a_missing_key_is_a_usage_error(
    fake: FakeAllium, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No --api-key and no $ALLIUM_API_KEY: exit 2 saying how to give one; no connection."""
    monkeypatch.delenv("ALLIUM_API_KEY")
    assert main(["allium", "get", "/x", "--url", fake.api_url]) == 2
    assert "ALLIUM_API_KEY" in capsys.readouterr().err and fake.connections == []


def test_a_wrong_key_exits_1_without_showing_it(
    fake: FakeAllium, capsys: pytest.CaptureFixture[str]
) -> None:
    """401 on the upgrade: a clear one-line error that does not echo the key."""
    code = main(["allium", "get", "/x", "--url", fake.api_url, "--api-key", "wrong-wrong"])
    err = capsys.readouterr().err
    assert code == 1 and "401" in err and "wrong-wrong" not in err


def test_tail_prints_filtered_records(
    fake: FakeAllium, capsys: pytest.CaptureFixture[str]
) -> None:
    """`wsclients tail allium TOPIC --filter JSON --json`: only matching records, one per line."""
    big = {"field": "value", "operator": ">", "value": "1000000000000000000"}
    code = main(["tail", "allium", "ethereum.transactions", "--filter", json.dumps(big),
                 "--url", fake.stream_url("x"), "--json", "--seconds", str(1.0 * T)])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0 and lines
    assert all(line["channel"] == "ethereum.transactions" for line in lines)
    assert all(int(line["data"]["value"]) > 10**18 for line in lines)
    assert fake.actions[0].action == "setFilter" and fake.actions[1].action == "start"


def test_the_demo_runs(capsys: pytest.CaptureFixture[str]) -> None:
    """`wsclients demo --venue allium`: an API answer, then blocks and big transactions."""
    assert main(["demo", "--venue", "allium", "--seconds", str(1.5 * T)]) == 0
    out = capsys.readouterr().out
    assert "supported chains:" in out and " ethereum.blocks " in out
