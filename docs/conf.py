"""Sphinx configuration for the wsclients documentation (built in CI with ``-W``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent / "_ext"))

from wsclients._version import __version__  # noqa: E402  (after the path is set)

project = "wsclients"
author = "the wsclients developers"
copyright = "2026, the wsclients developers"
version = release = __version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "wsclients_help",
]

# Google-style docstrings (Args:/Returns:/Raises:), as the package writes them.
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"
autodoc_default_options = {
    "members": True,
    "show-inheritance": True,
}

exclude_patterns = ["_build"]
root_doc = "index"
html_theme = "alabaster"
html_title = f"wsclients {release}"
html_static_path: list[str] = []


# Docstrings write plurals of inline literals as ``ErrorEvent``s, which reStructuredText
# does not allow (an inline literal must not end right before a letter). Escape that
# boundary so the plural renders as written instead of failing the -W build.
def _escape_after_closing_literals(text: str) -> str:
    """Insert an escaped space between a closing double backquote and a letter after it."""
    parts = text.split("``")
    out = parts[0]
    for index in range(1, len(parts)):
        closing = index % 2 == 0  # parts alternate: outside, inside, outside, ...
        part = parts[index]
        out += ("``\\ " if closing and part[:1].isalpha() else "``") + part
    return out


def _escape_literal_plurals(
    app: Any, what: str, name: str, obj: Any, options: Any, lines: list[str]
) -> None:
    # The whole docstring at once: a literal may open on one line and close on the next.
    lines[:] = _escape_after_closing_literals("\n".join(lines)).split("\n")


def _public_bases(app: Any, name: str, obj: Any, options: Any, bases: list[Any]) -> None:
    """Leave private bases out of "Bases:" (``Trade``'s ``_Weakrefable`` is a layout detail)."""
    bases[:] = [base for base in bases if not base.__name__.startswith("_")] or [object]


def setup(app: Any) -> None:
    app.connect("autodoc-process-docstring", _escape_literal_plurals)
    app.connect("autodoc-process-bases", _public_bases)
