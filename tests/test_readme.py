"""The README's two commands stay true: CI runs the same test command the README shows."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _commands(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.startswith("    python3 -m venv")]


def test_ci_runs_the_readme_test_command() -> None:
    """.ci/run contains the README's test command verbatim."""
    readme = (ROOT / "README.rst").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    commands = _commands(readme)
    assert len(commands) >= 2
    demo, tests = commands[0], commands[1]
    assert "wsclients demo" in demo and "pytest" in tests
    assert tests in ci.splitlines()
