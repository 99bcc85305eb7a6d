"""What every ``--json`` document shares: one JSON object whose first keys are
``schema_version``, ``seed`` and ``versions``; each command's own fields follow.

``SCHEMA_VERSION`` counts changes that break a reader (a key removed, renamed or given
another meaning); a key added does not change it. README.md, "JSON output", documents
each command's fields.
"""

from __future__ import annotations

import json
import sys

from verify.versions import versions

SCHEMA_VERSION = 1


def document(fields: dict, *, seed: int, libraries: tuple[str, ...] = ()) -> dict:
    """``fields`` after ``schema_version``, ``seed`` (the run's) and ``versions`` (with
    those of ``libraries``, the distributions the result was measured on)."""
    return {"schema_version": SCHEMA_VERSION, "seed": seed, "versions": versions(*libraries),
            **fields}


def print_document(document: dict) -> None:
    """One JSON document on stdout."""
    json.dump(document, sys.stdout, indent=2, default=str)
    print()
