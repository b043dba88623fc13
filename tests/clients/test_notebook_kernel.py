"""examples/notebook.ipynb runs headless in a real Jupyter kernel and shows its charts."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

nbclient = pytest.importorskip("nbclient")
nbformat = pytest.importorskip("nbformat")
pytest.importorskip("ipykernel")
pytest.importorskip("pandas")
pytest.importorskip("matplotlib")

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

pytestmark = pytest.mark.timeout(60)


def tagged(notebook: Any, tag: str) -> Any:
    (cell,) = [c for c in notebook.cells if tag in c.metadata.get("tags", [])]
    return cell


def pngs(cell: Any) -> list[bytes]:
    return [
        base64.b64decode(output["data"]["image/png"])
        for output in cell.outputs
        if "image/png" in output.get("data", {})
    ]


def test_notebook_runs_in_a_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every cell runs in an ipykernel; the charts are PNGs, the live one redrawn in place."""
    monkeypatch.setenv("WSCLIENTS_NOTEBOOK_SECONDS", "4")
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's inline backend, not Agg
    notebook = nbformat.read(EXAMPLES / "notebook.ipynb", as_version=4)
    nbclient.NotebookClient(
        notebook, timeout=45, kernel_name="python3",
        resources={"metadata": {"path": str(EXAMPLES)}},
    ).execute()

    for tag in ("depth-chart", "trades-chart"):
        (image,) = pngs(tagged(notebook, tag))
        assert image.startswith(PNG_MAGIC) and len(image) > 5000, tag
    live = tagged(notebook, "live-chart")
    (image,) = pngs(live)  # one output, updated in place, not one image per refresh
    assert image.startswith(PNG_MAGIC) and len(image) > 5000
    assert "display_id" in live.outputs[0].get("transient", {}) or len(live.outputs) == 1

    frame = tagged(notebook, "trades-frame").outputs[0]["data"]["text/html"]
    assert "<table" in frame and "trade_id" in frame
    ladder = tagged(notebook, "book-ladder").outputs
    assert any("ETH bid" in output.get("text", "") for output in ladder)
    assert any("ask size" in output.get("data", {}).get("text/html", "") for output in ladder)
