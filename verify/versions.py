"""Versions of everything a result depends on, recorded with every result."""

from __future__ import annotations

import platform
from importlib import metadata

PACKAGES = ("numpy", "scipy", "torch", "hypothesis")


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in ("initverify", *PACKAGES):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found
