"""examples/tradevest_prices.py runs end to end against its in-process fake."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = pytest.mark.timeout(30)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tradevest_prices.py"


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("tradevest_prices_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_prices_example_switches_markets(capsys: pytest.CaptureFixture[str]) -> None:
    """--fake --switch: books for the first markets, a reconnect saying why, then the new one."""
    load().main(["EUR/BTC", "--fake", "--switch", "EUR/SOL", "--books", "6"])
    out = capsys.readouterr().out
    lines = out.splitlines()
    switch = next(i for i, line in enumerate(lines) if "markets changed to SOL-EUR" in line)
    assert any(" BTC-EUR " in line for line in lines[:switch])
    assert any(" SOL-EUR " in line for line in lines[switch:])
    assert lines[-1].startswith("stats: ") and "reconnects=1" in lines[-1]
