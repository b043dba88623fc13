"""The public names: everything in ``wsclients.__all__`` exists, and submodules agree."""

from __future__ import annotations

import importlib

import wsclients

SUBMODULES = ("wsclients.models", "wsclients.errors")


def test_all_names_exist() -> None:
    """Each name in __all__ is importable from the top level."""
    for name in wsclients.__all__:
        assert hasattr(wsclients, name), name


def test_submodule_names_are_reexported() -> None:
    """The public names of models and errors are all at the top level."""
    for module_name in SUBMODULES:
        module = importlib.import_module(module_name)
        missing = set(module.__all__) - set(wsclients.__all__) - {"shorten", "bounded_repr"}
        assert not missing, f"{module_name}: {sorted(missing)}"


def test_design_contract_names() -> None:
    """The clients docs/options.rst promises are importable from the top level."""
    for name in ("HyperliquidClient", "VegaClient", "TradevestClient", "CentrifugoClient",
                 "CadenzaClient", "AlliumApiClient", "AlliumStreamClient", "F"):
        assert name in wsclients.__all__ and callable(getattr(wsclients, name))


def test_core_never_imports_a_venue() -> None:
    """core/ is venue-neutral: no module in it imports wsclients.venues or testing."""
    import ast
    from pathlib import Path

    core = Path(wsclients.__file__).parent / "core"
    for path in core.glob("*.py"):
        tree = ast.parse(path.read_text())
        imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                    for alias in node.names}
        imported |= {node.module or "" for node in ast.walk(tree)
                     if isinstance(node, ast.ImportFrom)}
        bad = {m for m in imported if m.startswith(("wsclients.venues", "wsclients.testing"))}
        assert not bad, f"{path.name} imports {bad}"


def test_import_leaves_pandas_and_matplotlib_alone() -> None:
    """`import wsclients` (with to_dataframe and plot in it) imports no pandas, matplotlib
    or IPython: they load only when a function that needs them runs."""
    import subprocess
    import sys

    code = (
        "import sys, wsclients\n"
        "assert callable(wsclients.to_dataframe) and callable(wsclients.plot.depth)\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('pandas', 'matplotlib', 'IPython', 'numpy'))\n"
        "print(heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )
    assert result.stdout.strip() == "[]"
