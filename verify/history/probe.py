"""``python -m verify.history.probe DISTRIBUTION MODULE``: import ``MODULE`` and print, as
one JSON object, the version of ``DISTRIBUTION`` this process sees and the file the module
came from. Run in the child process of a release (its directory first on ``PYTHONPATH``),
it tells whether the release imports at all and whether it is the release that was
imported, not a copy in the base environment. A failed import exits non-zero with the
exception as the last line of stderr."""

from __future__ import annotations

import importlib
import json
import sys
from importlib import metadata


def where(module) -> str:
    """The file (or, for a namespace package, the first directory) ``module`` came from."""
    location = getattr(module, "__file__", None)
    if location:
        return location
    return next(iter(getattr(module, "__path__", [])), "")


def main(argv: list[str]) -> int:
    distribution, module_name = argv
    if distribution == "keras" or module_name.startswith("keras"):
        from verify.adapters.keras import choose_backend

        choose_backend()  # Keras fixes its backend at import: the one the adapter uses
    try:
        module = importlib.import_module(module_name)
    except BaseException as error:  # any failure of the import is the answer
        print(f"{type(error).__name__}: {error}".splitlines()[0], file=sys.stderr)
        return 1
    try:
        version = metadata.version(distribution)
    except metadata.PackageNotFoundError:
        version = ""
    print(json.dumps({"version": version, "location": where(module)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
