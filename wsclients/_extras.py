"""Optional dependencies, imported only when a feature that needs them is used.

``import wsclients`` must stay light for bots and scripts that never touch pandas or
matplotlib, so the modules that use them import through ``require`` inside the function
that needs them, and a missing package names the extra that installs it.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["require"]


def require(module: str, *, extra: str) -> ModuleType:
    """Import ``module``, or raise an ImportError that says which extra to install.

    Raises:
        ImportError: ``module`` is not installed; the message names ``wsclients[extra]``.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        package = module.partition(".")[0]
        raise ImportError(
            f"{package} is needed for this; install it with: pip install 'wsclients[{extra}]'"
        ) from exc
