"""What the wheel and the sdist carry, checked from the source tree without building anything.

``setup.cfg`` finds packages with ``find:``, which silently skips a folder without
``__init__.py``: an installed wheel then lacks those modules while every test run from the
checkout still passes. These checks catch that kind of gap before a release.
"""

from __future__ import annotations

import configparser
import fnmatch
import re
from pathlib import Path

import pytest

import wsclients
from wsclients.cli import main

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "wsclients"

# Folders that may sit at the top of a checkout without being shipped: tool output.
_NOT_SHIPPED = {"build", "dist", "venv", "__pycache__"}


def _setup_cfg() -> configparser.ConfigParser:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    return config


def _cfg_list(value: str) -> list[str]:
    return [item.strip() for item in re.split(r"[,\n]", value) if item.strip()]


def _manifest_lines() -> list[list[str]]:
    lines = (ROOT / "MANIFEST.in").read_text().splitlines()
    return [line.split() for line in lines if line.strip() and not line.startswith("#")]


def _package_folders() -> list[Path]:
    """Every folder under wsclients/ (itself included) that holds a Python module."""
    folders = {path.parent for path in PACKAGE.rglob("*.py") if "__pycache__" not in path.parts}
    return sorted(folders)


def _dotted(folder: Path) -> str:
    return ".".join(folder.relative_to(ROOT).parts)


def test_every_folder_with_modules_is_a_package() -> None:
    """Each folder under wsclients/ with .py files has an __init__.py, so find: ships it."""
    missing = [_dotted(f) for f in _package_folders() if not (f / "__init__.py").is_file()]
    assert not missing, f"folders that the wheel would leave out: {missing}"


def test_find_packages_patterns_match_every_package() -> None:
    """setup.cfg's packages.find include patterns match every package folder."""
    config = _setup_cfg()
    assert config["options"]["packages"].strip() == "find:"
    patterns = _cfg_list(config["options.packages.find"]["include"])
    unmatched = [
        _dotted(folder) for folder in _package_folders()
        if not any(fnmatch.fnmatchcase(_dotted(folder), pattern) for pattern in patterns)
    ]
    assert not unmatched, f"packages no include pattern matches: {unmatched}"


def test_package_data_ships_the_typing_marker() -> None:
    """py.typed exists and is declared as package data, so the wheel is typed."""
    assert (PACKAGE / "py.typed").is_file()
    assert "py.typed" in _cfg_list(_setup_cfg()["options.package_data"]["wsclients"])


def test_manifest_ships_every_top_level_folder() -> None:
    """Each top-level folder of the checkout is the package or grafted into the sdist."""
    grafted = {words[1] for words in _manifest_lines() if words[0] == "graft"}
    folders = {
        path.name for path in ROOT.iterdir()
        if path.is_dir() and not path.name.startswith(".")
        and path.name not in _NOT_SHIPPED and not path.name.endswith(".egg-info")
    }
    missing = folders - grafted - {"wsclients"}
    assert not missing, f"folders the sdist would leave out: {sorted(missing)}"
    assert {"tests", "examples", "benchmarks", "docs"} <= grafted


def test_manifest_ships_the_top_level_files() -> None:
    """LICENSE, the changelog and the README are named in MANIFEST.in and exist."""
    included = {
        name for words in _manifest_lines() if words[0] == "include" for name in words[1:]
    }
    for name in ("LICENSE", "CHANGELOG.rst", "README.rst"):
        assert name in included, name
        assert (ROOT / name).is_file(), name


def test_license_is_mit_as_the_metadata_says() -> None:
    """LICENSE holds the MIT text and setup.cfg declares MIT and ships the file."""
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License")
    assert "Copyright (c) 2026 the wsclients developers" in text
    metadata = _setup_cfg()["metadata"]
    assert metadata["license"].strip() == "MIT"
    assert "License :: OSI Approved :: MIT License" in metadata["classifiers"]
    assert _cfg_list(metadata["license_files"]) == ["LICENSE"]


def test_version_has_one_source() -> None:
    """setup.cfg reads the version from wsclients/_version.py, the only file that sets it."""
    metadata = _setup_cfg()["metadata"]
    assert metadata["version"].strip() == "attr: wsclients._version.__version__"
    setters = [
        str(path.relative_to(ROOT)) for path in PACKAGE.rglob("*.py")
        if re.search(r"^\s*__version__\s*=", path.read_text(), re.MULTILINE)
    ]
    assert setters == ["wsclients/_version.py"]
    assert re.fullmatch(r"\d+\.\d+\.\d+(\.dev\d+|(a|b|rc)\d+)?", wsclients.__version__)


def test_cli_version_is_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    """``wsclients --version`` prints the single-sourced version."""
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"wsclients {wsclients.__version__}"


def test_changelog_has_a_section_for_the_version() -> None:
    """CHANGELOG.rst has a heading for the package's current version."""
    headings = [line for line in (ROOT / "CHANGELOG.rst").read_text().splitlines()
                if line.startswith(f"{wsclients.__version__} (")]
    assert len(headings) == 1
