"""Citations of the project's docs in code and text point at pages and labels that exist.

Code comments cite the docs as ``docs/<page>.rst`` or ``docs/<page>.rst#<label>`` (for
example ``docs/venues/vega.rst#vega-depth-resync``), where ``<label>`` is a section label
(``.. _vega-depth-resync:``) defined in that page. A renamed page or label breaks them
silently; this test does not let it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

# Where citations live: the package, the tests, benchmarks, examples and the top-level text.
_SEARCHED = ("wsclients", "tests", "benchmarks", "examples")
_TOP_LEVEL = ("README.rst", "CHANGELOG.rst")
_CITATION = re.compile(r"\bdocs/((?:[\w-]+/)*[\w-]+\.rst)(?:#([a-z0-9][a-z0-9-]*))?")
_LABEL = re.compile(r"^\.\. _([a-z0-9][a-z0-9-]*):\s*$", re.MULTILINE)


def citations(text: str) -> list[tuple[str, str | None]]:
    """The ``(page, label or None)`` pairs cited in ``text``."""
    return [(match.group(1), match.group(2)) for match in _CITATION.finditer(text)]


def labels(page: Path) -> set[str]:
    """The section labels a docs page defines."""
    return set(_LABEL.findall(page.read_text()))


def _cited_in() -> Iterator[Path]:
    for folder in _SEARCHED:
        for path in sorted((ROOT / folder).rglob("*")):
            if path.is_file() and path.suffix in {".py", ".rst", ".md", ""} \
                    and "__pycache__" not in path.parts:
                yield path
    for name in _TOP_LEVEL:
        yield ROOT / name


def test_citation_parser_reads_page_and_label() -> None:
    """The citation forms the code uses are read as page and label."""
    text = "# docs/venues/vega.rst#vega-depth-resync: chain on sequence; see docs/options.rst."
    assert citations(text) == [("venues/vega.rst", "vega-depth-resync"), ("options.rst", None)]


def test_venue_pages_define_their_labels() -> None:
    """Each venue page defines the page label and section labels prefixed with its name."""
    for page in sorted((DOCS / "venues").glob("*.rst")):
        if page.stem == "index":
            continue
        found = labels(page)
        assert page.stem in found, page
        assert all(label == page.stem or label.startswith(page.stem + "-") for label in found), (
            page, sorted(found))


def test_every_docs_citation_resolves() -> None:
    """Every ``docs/<page>.rst[#label]`` cited in the project names an existing page and label."""
    broken = []
    for path in _cited_in():
        for page, label in citations(path.read_text(errors="replace")):
            target = DOCS / page
            where = f"{path.relative_to(ROOT)}: docs/{page}" + (f"#{label}" if label else "")
            if not target.is_file():
                broken.append(f"{where} (no such page)")
            elif label is not None and label not in labels(target):
                broken.append(f"{where} (no such label)")
    assert not broken, "broken docs citations:\n" + "\n".join(broken)


def test_labels_are_unique_across_the_docs() -> None:
    """No two pages define the same label (Sphinx would resolve only one of them)."""
    seen: dict[str, Path] = {}
    for page in sorted(DOCS.rglob("*.rst")):
        for label in labels(page):
            assert label not in seen, f"{label} in {page} and {seen[label]}"
            seen[label] = page
