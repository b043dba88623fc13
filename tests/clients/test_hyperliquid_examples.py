"""The Hyperliquid examples run end to end against the local fake."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

pytestmark = pytest.mark.timeout(30)


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_callbacks_example(capsys: pytest.CaptureFixture[str]) -> None:
    """The callback bot prints trades, books and its notional, then stops."""
    load("hyperliquid_callbacks").main(["BTC", "--fake", "--seconds", "1"])
    out = capsys.readouterr().out
    assert "BTC book:" in out and "notional per coin" in out and "status: connected" in out


def test_queue_example(capsys: pytest.CaptureFixture[str]) -> None:
    """The blocking loop answers info() and reads events off the queue."""
    load("hyperliquid_queue").main(["ETH", "--fake", "--count", "6"])
    out = capsys.readouterr().out
    assert "ETH via info(): bid" in out and "trade " in out


def test_notebook_cells_run_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """The notebook's code cells run top to bottom in this process (no kernel: the live
    chart draws once at the end) against the fake, and end stopped."""
    pytest.importorskip("pandas")
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.setenv("WSCLIENTS_NOTEBOOK_SECONDS", "1")
    notebook = json.loads((EXAMPLES / "notebook.ipynb").read_text())
    namespace: dict[str, Any] = {}
    try:
        for cell in notebook["cells"]:
            if cell["cell_type"] == "code":
                source = "".join(cell["source"])
                exec(compile(source, "notebook", "exec"), namespace)  # noqa: S102
    finally:
        plt.close("all")
        if namespace.get("fake") is not None:
            namespace["hl"].stop()
            namespace["fake"].stop()
    assert str(namespace["hl"].state) == "closed"
    assert len(namespace["events"]) == 10
    assert len(namespace["trades_df"]) > 0 and namespace["fig"].axes
