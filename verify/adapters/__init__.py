"""Adapters: each turns one library's calling convention into the sampler protocol.

A :class:`Target` is what every check consumes: ``target.sample(shape, seed)``
returns a NumPy array of ``shape`` (in the target's own ``layout``), drawn with a
seed the adapter passes to the library's own random generator. The adapter, not
the check, knows how to call the library: fill a ``torch.Tensor`` in place, call a
JAX initializer with a key, build a layer and read its kernel, ...

An adapter that finds a broken contract (an in-place function that does not fill
its tensor, a wrong shape or dtype) raises :class:`ContractError`; the check
records it as a failed check, with the adapter's message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from verify.fans import Layout

Sampler = Callable[[tuple[int, ...], int], np.ndarray]
StackedSampler = Callable[[tuple[int, ...], int, int], np.ndarray]


class LibraryMissing(Exception):
    """The library an adapter needs is not installed: ``str(error)`` says which."""


class ContractError(Exception):
    """The initializer broke its calling contract; ``check`` names which check failed."""

    def __init__(self, check: str, message: str) -> None:
        super().__init__(message)
        self.check = check


@dataclass(frozen=True)
class Target:
    """An initializer, wrapped as a sampler.

    ``reproduce`` is a Python snippet, with ``{shape}`` and ``{seed}`` placeholders,
    that makes one tensor the way ``sample`` does, with the library alone: it may call
    ``seed32`` and use ``np`` (:data:`verify.upstream.snippets.PRELUDE`) and leaves ``w``,
    a NumPy array of exactly the values ``sample`` returns
    (``tests/test_reproduce_snippets.py`` checks it, bit for bit, for every entry). Bug
    reports quote it (:mod:`verify.upstream`).

    ``stacked``, where set, is a batched draw: ``stacked(shape, count, seed)`` returns
    ``(count, *shape)`` from one call of the library, the initializer applied to a
    ``(count, *shape)`` tensor. It is set only where the ``count`` slices are independent
    draws of the law of one ``sample(shape, seed)`` call: flat fills whose law does not
    depend on the shape (``torch.nn.init.normal_``, ``jax.nn.initializers.uniform``, ...),
    never a fan-dependent law (a stacked tensor has other fans), a layer or a user's
    function. The checks that are about separate calls (calls with different seeds must
    differ) still call ``sample``.
    """

    name: str
    library: str
    sample: Sampler
    layout: Layout = "oihw"
    reproduce: str = ""
    stacked: StackedSampler | None = None
    dtype: str = "float32"
    """The dtype the initializer is asked for (:mod:`verify.precision`). ``sample`` returns
    its values exactly: ``bfloat16`` widened to ``float32``, the others as they are."""

    def __call__(self, shape: tuple[int, ...], seed: int) -> np.ndarray:
        return self.sample(shape, seed)


def require(module: str, library: str | None = None):
    """Import ``module`` or raise :class:`LibraryMissing` with an install hint."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as error:
        extra = library or module.split(".")[0]
        raise LibraryMissing(
            f"{module} is not installed ({error}); install it with "
            f"pip install -c constraints.txt -e \".[{extra}]\""
        ) from None


NATIVE_NOISE = ("I0000 ", "WARNING: All log messages before absl::InitializeLog()",
                "To enable the following instructions:", "E0000 ")
"""Lines TensorFlow's C++ logging writes to file descriptor 2 at import and when its first
device starts, before Python's logging exists (oneDNN notes, "Could not find cuda
drivers", the failed ``cuInit`` of a machine without a GPU): not about the results."""


def import_quietly(module: str, then: Callable | None = None):
    """Import ``module`` (and call ``then(module)``, its start-up) with its native chatter
    (:data:`NATIVE_NOISE`) held back; any other line it writes to stderr is passed on.
    :class:`LibraryMissing` if absent."""
    import os
    import sys
    import tempfile

    if module in sys.modules:
        return sys.modules[module]
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as log:
        os.dup2(log.fileno(), 2)
        try:
            imported = require(module)
            if then is not None:
                then(imported)
            return imported
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            log.seek(0)
            for line in log.read().decode(errors="replace").splitlines():
                if line.strip() and not line.startswith(NATIVE_NOISE):
                    print(line, file=sys.stderr)


def seed32(seed: int) -> int:
    """A seed folded to 32 bits, for libraries whose seeds are 32-bit."""
    return int(np.random.SeedSequence(seed).generate_state(1)[0])


def refuse_dtype(dtype: str, supported: tuple[str, ...], what: str) -> None:
    """Raise :class:`DtypeUnsupported` unless ``dtype`` is one of ``supported``."""
    if dtype not in supported:
        raise DtypeUnsupported(f"{what} is not checked in {dtype}: it takes "
                               f"{', '.join(supported)}")


class DtypeUnsupported(Exception):
    """The initializer (or this adapter) does not take the dtype asked for: a result of
    "not supported", not a failure."""


def refused(dtype: str, what: str, error: Exception) -> Exception:
    """What an initializer's exception at a dtype other than float32 becomes: it works in
    float32, so at ``dtype`` the exception is the library refusing the dtype
    (:class:`DtypeUnsupported`); in float32 it stays what it is."""
    if dtype == "float32":
        return error
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return DtypeUnsupported(f"{what} refuses {dtype}: {type(error).__name__}: "
                            f"{lines[0] if lines else ''}")


def widened(array: np.ndarray) -> np.ndarray:
    """``array`` with a ``bfloat16`` dtype (ml_dtypes) widened to float32, exactly; any
    other dtype as it is."""
    return array.astype(np.float32) if array.dtype.name == "bfloat16" else array


def as_asked(array: np.ndarray, dtype: str, what: str) -> np.ndarray:
    """``array``, which the library returned when asked for ``dtype``, widened
    (:func:`widened`); :class:`ContractError` when the library returned another dtype."""
    if array.dtype.name != dtype:
        raise ContractError("dtype", f"{what}, asked for {dtype}, returned {array.dtype}")
    return widened(array)


def widen_snippet(dtype: str) -> str:
    """What a ``reproduce`` snippet (:mod:`verify.upstream.snippets`) appends so that its
    ``w`` holds what ``sample`` returns: a ``bfloat16`` array (ml_dtypes) widened to
    float32; nothing for the other dtypes."""
    return "\nw = np.asarray(w).astype(np.float32)\n" if dtype == "bfloat16" else ""


def x64_snippet(dtype: str) -> str:
    """What the ``reproduce`` snippet of a JAX-based target starts with for ``float64`` and
    ``complex128``: JAX hands back 32 bits for them unless ``jax_enable_x64`` is on (the
    catalog draws those targets in a child process with it); nothing for the others."""
    if dtype not in ("float64", "complex128"):
        return ""
    return "import jax\njax.config.update('jax_enable_x64', True)\n"
