"""The units of the commands, as functions a worker imports: each rebuilds what it needs
from JSON-ready arguments (a catalog entry from its library and name), never from this
process's objects."""

from __future__ import annotations

_CATALOGS: dict = {}


def _entry(library: str, name: str, backend: str):
    from verify import catalog

    key = (library, backend)
    if key not in _CATALOGS:
        _CATALOGS[key] = catalog.load([library], backends=[backend] if backend else None)
    return _CATALOGS[key].find(name, backend or None)


def conformance_unit(*, library: str, name: str, backend: str, dtype: str, seed: int,
                     examples: int, timeout: float, fingerprint: bool) -> dict:
    """One catalog entry in one dtype: its row (:func:`verify.matrix.conformance_row`)."""
    from verify.matrix import conformance_row

    entry = _entry(library, name, backend)
    return conformance_row(entry, seed=seed, examples=examples, timeout=timeout,
                           fingerprint=fingerprint, dtype=dtype)
