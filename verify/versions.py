"""Versions of everything a result depends on, recorded with every result."""

from __future__ import annotations

import platform
from importlib import metadata

PACKAGES = ("numpy", "scipy", "torch", "hypothesis")


def versions(*extra: str) -> dict[str, str]:
    """The versions of Python, this project, its core dependencies and ``extra``
    distributions (the libraries a result was measured on)."""
    found = {"python": platform.python_version()}
    for name in ("initverify", *PACKAGES, *extra):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found
