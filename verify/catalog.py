"""The catalog: every public initializer of the supported libraries, and the default
initialization of their dense and convolution layers, each with the law its
documentation names.

An :class:`Entry` states what the documentation claims (``claim``, in the
textbook's terms: fans as ``CLAIMS.md`` defines them) and cites it
(``documented``). Whether the library does it is *measured* by ``check``; nothing
here records a result. Where a library documents a deliberate convention that
departs from the textbook (PyTorch's fans of transposed convolutions, say),
``convention`` cites it, and the report shows it next to the measured result.

Entries live in the adapter modules (``verify.adapters.<library>``), each of which
imports its library lazily; :func:`entries` loads them and reports the libraries
that are not installed.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field

from hypothesis import strategies as st

from verify.adapters import LibraryMissing, Target
from verify.conformance import DEFAULT_MAX_CALLS
from verify.laws import Claim

LIBRARIES: dict[str, str] = {
    "torch": "verify.adapters.torch",
    "jax": "verify.adapters.jax",
    "flax": "verify.adapters.flax",
    "keras": "verify.adapters.keras",
    "mlx": "verify.adapters.mlx",
    "sklearn": "verify.adapters.sklearn",
    "equinox": "verify.adapters.equinox",
    "haiku": "verify.adapters.haiku",
}


@dataclass(frozen=True, eq=False)
class Entry:
    """One catalog entry: how to build the target, and what its documentation claims.

    ``shapes`` builds the hypothesis strategy of weight shapes this initializer
    accepts (default: 2-D to 5-D shapes in the target's layout). ``kind`` says what
    the entry is: ``function`` (a public initializer) or ``layer`` (a layer's
    default initialization). ``max_calls`` caps the calls per shape for initializers
    that are slow to call (building a layer): tiny shapes then get a larger, reported,
    minimum detectable effect.
    """

    name: str
    library: str
    build: Callable[[], Target] = field(repr=False)
    claim: Claim
    documented: str
    kind: str = "function"
    shapes: Callable[[], st.SearchStrategy[tuple[int, ...]]] | None = field(
        default=None, repr=False)
    convention: str = ""
    max_calls: int = DEFAULT_MAX_CALLS


@dataclass
class Catalog:
    entries: list[Entry]
    skipped: dict[str, str]  # library -> why it was skipped

    def find(self, name: str) -> Entry:
        for entry in self.entries:
            if entry.name == name:
                return entry
        raise KeyError(name)


def load(libraries: list[str] | None = None) -> Catalog:
    """The entries of ``libraries`` (all by default) whose library is installed."""
    names = libraries or list(LIBRARIES)
    unknown = [n for n in names if n not in LIBRARIES]
    if unknown:
        raise ValueError(f"unknown library {unknown[0]!r}: use one of {', '.join(LIBRARIES)}")
    found: list[Entry] = []
    skipped: dict[str, str] = {}
    for name in names:
        try:
            module = importlib.import_module(LIBRARIES[name])
            found.extend(module.entries())
        except LibraryMissing as error:
            skipped[name] = str(error)
    return Catalog(found, skipped)


def library_of(name: str) -> str:
    """``"torch"`` for ``"torch:kaiming_normal_"``."""
    return name.split(":", 1)[0]
