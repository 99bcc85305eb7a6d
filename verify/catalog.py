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
from dataclasses import dataclass, field, replace

from hypothesis import strategies as st

from verify.adapters import DtypeUnsupported, LibraryMissing, Target
from verify.conformance import DEFAULT_MAX_CALLS
from verify.laws import Claim

LIBRARIES: dict[str, str] = {
    "torch": "verify.adapters.torch",
    "jax": "verify.adapters.jax",
    "flax": "verify.adapters.flax",
    "keras": "verify.adapters.keras",
    "mlx": "verify.adapters.mlx",
    "sklearn": "verify.adapters.sklearn",
    "paddle": "verify.adapters.paddle",
    "tf_keras": "verify.adapters.tf_keras",
    "tinygrad": "verify.adapters.tinygrad",
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
    backend: str = ""
    """For Keras 3: the backend the entry runs on (``jax``, ``torch``, ``tensorflow``,
    ``numpy``); empty for the other libraries."""
    dtypes: tuple[str, ...] = ("float32",)
    """The dtypes the initializer is asked for (:mod:`verify.precision`), float32 first;
    :meth:`target` builds each."""
    build_dtype: Callable[[str], Target] | None = field(default=None, repr=False)

    def target(self, dtype: str = "float32") -> Target:
        """The target asked for ``dtype``: ``build()`` for float32, else ``build_dtype``;
        :class:`~verify.adapters.DtypeUnsupported` for a dtype the entry does not take."""
        if dtype == "float32" and self.build_dtype is None:
            return self.build()
        if dtype not in self.dtypes or self.build_dtype is None:
            raise DtypeUnsupported(f"{self.name} is not checked in {dtype}: it is checked "
                                   f"in {', '.join(self.dtypes)}")
        return self.build_dtype(dtype)

    @property
    def label(self) -> str:
        """The name, with the backend where there is one: ``keras:GlorotUniform [torch]``."""
        return f"{self.name} [{self.backend}]" if self.backend else self.name


KERAS_BACKENDS = ("jax", "torch", "tensorflow", "numpy")
"""The backends Keras 3 runs its catalog on, one child process each but for the one this
process has (:mod:`verify.adapters.remote`)."""


@dataclass
class Catalog:
    entries: list[Entry]
    skipped: dict[str, str]  # library (``keras[torch]`` for a backend) -> why it was skipped

    def find(self, name: str, backend: str | None = None) -> Entry:
        for entry in self.entries:
            if entry.name == name and (backend is None or entry.backend == backend):
                return entry
        raise KeyError(name)


def dtypes_of(entry: Entry, requested: list[str] | None) -> list[str]:
    """The dtypes an entry runs in: those of ``requested`` (``all``, or None: every one)
    that it takes, float32 first; a named dtype it does not take is still run (its row says
    ``not supported``, with the reason), so that a request is never silently dropped."""
    if not requested or "all" in requested:
        return list(entry.dtypes)
    return list(dict.fromkeys(requested))


def keras_backends(requested: list[str] | None) -> list[str]:
    """The Keras backends a run covers: ``requested`` (``all`` for every one), else
    ``KERAS_BACKEND``, else the adapter's default (JAX where it is installed)."""
    import os

    if requested:
        chosen = list(KERAS_BACKENDS) if "all" in requested else list(dict.fromkeys(requested))
        unknown = [b for b in chosen if b not in KERAS_BACKENDS]
        if unknown:
            raise ValueError(f"unknown Keras backend {unknown[0]!r}: use one of "
                             f"{', '.join(KERAS_BACKENDS)} or all")
        return chosen
    from verify.adapters.keras import choose_backend

    choose_backend()
    return [os.environ.get("KERAS_BACKEND") or "jax"]


def load(libraries: list[str] | None = None, *,
         backends: list[str] | None = None) -> Catalog:
    """The entries of ``libraries`` (all by default) whose library is installed.

    Keras's entries run on each of ``backends`` (see :func:`keras_backends`): the backend
    this process's Keras has in-process, every other one in a child process. A backend
    that cannot start there (not installed) is skipped as ``keras[<backend>]``."""
    names = libraries or list(LIBRARIES)
    unknown = [n for n in names if n not in LIBRARIES]
    if unknown:
        raise ValueError(f"unknown library {unknown[0]!r}: use one of {', '.join(LIBRARIES)}")
    found: list[Entry] = []
    skipped: dict[str, str] = {}
    if "keras" in names:  # before another library's import brings Keras in on its default
        from verify.adapters.keras import choose_backend  # (TensorFlow's does, on tensorflow)

        choose_backend()
    for name in names:
        try:
            module = importlib.import_module(LIBRARIES[name])
            entries = module.entries()
        except LibraryMissing as error:
            skipped[name] = str(error)
            continue
        if name == "keras":
            entries = _on_backends(entries, keras_backends(backends), skipped)
        elif name in ISOLATED:
            entries = [_isolated(e, ISOLATED[name]) for e in entries]
        if name in JAX_LIBRARIES:
            entries = [_x64(e) for e in entries]
        found.extend(entries)
    return Catalog(found, skipped)


def _paddle_would_crash() -> bool:
    import sys

    return "tensorflow" in sys.modules and "paddle" not in sys.modules


ISOLATED: dict[str, Callable[[], bool]] = {"paddle": _paddle_would_crash}
"""Libraries that cannot share this process in some state, and the test for it, asked when
an entry is built (another library may have loaded since the catalog did): their entries
are drawn in a child process then. Importing ``paddle`` after ``tensorflow`` crashes the
process (paddlepaddle 3.3.1, tensorflow 2.21.0)."""


JAX_LIBRARIES = ("jax", "flax", "haiku", "equinox")
X64_DTYPES = ("float64", "complex128")
"""JAX hands back 32 bits for these unless ``jax_enable_x64`` is on, which is fixed for a
process once JAX has computed anything: an entry of a JAX library (or of Keras on its JAX
backend) asked for them in a process without it is drawn in a child process with
``JAX_ENABLE_X64=1``."""


def _x64_here() -> bool:
    import sys

    if "jax" not in sys.modules:
        import os

        return os.environ.get("JAX_ENABLE_X64", "").lower() in ("1", "true")
    return bool(sys.modules["jax"].config.read("jax_enable_x64"))


def _x64(entry: Entry, environment: dict[str, str] | None = None, *,
         in_process: bool = True) -> Entry:
    """``entry``, its :data:`X64_DTYPES` drawn in a child with ``JAX_ENABLE_X64=1`` added to
    ``environment`` (a Keras backend's), unless this process draws the entry itself
    (``in_process``) and has x64 on."""
    if entry.build_dtype is None or not set(X64_DTYPES) & set(entry.dtypes):
        return entry
    child_entry = _in_child(entry, {**(environment or {}), "JAX_ENABLE_X64": "1"})
    here = entry.build_dtype

    def build_dtype(dtype: str) -> Target:
        if dtype in X64_DTYPES and not (in_process and _x64_here()):
            return child_entry.build_dtype(dtype)
        return here(dtype)

    return replace(entry, build_dtype=build_dtype)


def _isolated(entry: Entry, crashes: Callable[[], bool]) -> Entry:
    child_entry = _in_child(entry, {"VERIFY_CHILD": entry.library})

    def build() -> Target:
        return (child_entry if crashes() else entry).build()

    def build_dtype(dtype: str) -> Target:
        return (child_entry if crashes() else entry).target(dtype)

    return replace(entry, build=build,
                   build_dtype=build_dtype if entry.build_dtype else None)


def _in_child(entry: Entry, environment: dict[str, str], **changes) -> Entry:
    from functools import partial

    from verify.adapters.remote import remote_target

    build = partial(remote_target, entry.library, entry.name, environment)
    return replace(entry, build=build,
                   build_dtype=(lambda dtype: build(dtype=dtype)) if entry.build_dtype else None,
                   **changes)


def _on_backends(entries: list[Entry], backends: list[str],
                 skipped: dict[str, str]) -> list[Entry]:
    import os

    here = os.environ.get("KERAS_BACKEND", "")
    result: list[Entry] = []
    for backend in backends:
        if backend == here:
            result.extend(_x64(replace(e, backend=backend), {"KERAS_BACKEND": backend})
                          if backend == "jax" else replace(e, backend=backend)
                          for e in entries)
            continue
        environment = {"KERAS_BACKEND": backend}
        try:
            from verify.adapters.remote import child

            child(environment).load("keras")
        except LibraryMissing as error:
            skipped[f"keras[{backend}]"] = f"Keras's {backend} backend cannot start: {error}"
            continue
        remote = [_in_child(e, environment, backend=backend,
                            documented=e.documented.replace(f"backend {here})",
                                                            f"backend {backend})"))
                  for e in entries]
        # Keras on JAX: float64 and complex128 in a child of its own with x64 on
        result.extend([_x64(e, environment, in_process=False) for e in remote]
                      if backend == "jax" else remote)
    return result


def library_of(name: str) -> str:
    """``"torch"`` for ``"torch:kaiming_normal_"``."""
    return name.split(":", 1)[0]
