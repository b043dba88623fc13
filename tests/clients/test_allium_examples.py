"""examples/allium_requests.py and examples/allium_stream.py run end to end on their fake."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = pytest.mark.timeout(30)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"{name}_example", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_requests_example_answers_every_thread(capsys: pytest.CaptureFixture[str]) -> None:
    """--fake: 16 threads, 16 answers, none with more assets than its thread asked for."""
    load("allium_requests").main(["--fake"])
    lines = capsys.readouterr().out.splitlines()
    answers = [line for line in lines if line.startswith("thread")]
    assert len(answers) == 16
    for n, line in enumerate(answers):
        match = re.match(rf"thread +{n} \(limit +{n + 1}\): (\d+) assets", line)
        assert match and 1 <= int(match.group(1)) <= n + 1, line
    assert lines[-1].startswith("16 requests from 16 threads") and "(1 open)" in lines[-1]


def test_stream_example_filters_pauses_and_resumes(capsys: pytest.CaptureFixture[str]) -> None:
    """--fake: only blocks over the threshold, a pause and a resume, on one socket."""
    load("allium_stream").main(["--fake", "--blocks", "6", "--pause", "0.3",
                                "--min-transactions", "150"])
    lines = capsys.readouterr().out.splitlines()
    blocks = [int(m.group(1)) for line in lines
              if (m := re.match(r"block \d+ with (\d+) transactions", line))]
    assert len(blocks) >= 6 and all(count > 150 for count in blocks)
    paused = next(i for i, line in enumerate(lines) if line.startswith("paused"))
    resumed = lines.index("resumed")
    assert paused < resumed and any(line.startswith("block") for line in lines[resumed:])
    assert lines[-1].startswith("stats: ") and "reconnects=0" in lines[-1]
