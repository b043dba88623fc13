"""``.. wsclients-help:: tail vega``: the command's own ``--help`` text, as a literal block.

The CLI page shows what ``wsclients <words> --help`` prints at build time, so the page and
the command cannot drift apart.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from docutils import nodes
from sphinx.util.docutils import SphinxDirective

from wsclients.cli import build_parser

_WIDTH = "88"


def _subcommand(parser: argparse.ArgumentParser, words: list[str]) -> argparse.ArgumentParser:
    """The parser of ``wsclients <words>``, following the subcommand choices."""
    for word in words:
        actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not actions or word not in actions[0].choices:
            raise ValueError(f"wsclients has no command {' '.join(words)!r}")
        parser = actions[0].choices[word]
    return parser


def help_text(words: list[str]) -> str:
    """What ``wsclients <words> --help`` prints, wrapped at a fixed width."""
    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = _WIDTH  # argparse wraps to the terminal; make it reproducible
    try:
        return _subcommand(build_parser(), words).format_help()
    finally:
        if previous is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = previous


class WsclientsHelp(SphinxDirective):
    """Render the help of the command named by the directive's argument."""

    optional_arguments = 1
    final_argument_whitespace = True

    def run(self) -> list[nodes.Node]:
        words = self.arguments[0].split() if self.arguments else []
        try:
            text = help_text(words)
        except ValueError as exc:
            raise self.error(str(exc)) from exc
        return [nodes.literal_block(text, text, language="text")]


def setup(app: Any) -> dict[str, Any]:
    app.add_directive("wsclients-help", WsclientsHelp)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
