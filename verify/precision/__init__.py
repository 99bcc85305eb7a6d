"""Dtypes: the laws of rounded values, and the dtypes a check can ask an initializer for.

An initializer asked for ``float16`` or ``bfloat16`` draws, in effect, a value of its law
and rounds it to the nearest value the dtype holds (or it does something else, which is
what the check is for). Tested against the float64 ideal, the rounding itself would be
reported: a ``bfloat16`` normal takes about 256 values per octave, and at a million draws
the Kolmogorov-Smirnov statistic of that staircase against the smooth CDF is at the size
of the test's critical value. So a check in low precision compares the samples with
:class:`RoundedLaw`, the exact law of the rounded values: every value the dtype holds,
with the mass of the interval of reals that round to it (round to nearest).

``float32`` and ``float64`` are tested against the continuous law: the rounding moves a
CDF by at most about ``2^-24`` of the density's scale, far below what a million draws
resolve.

Complex dtypes (``complex64``, ``complex128``) are checked through their real and
imaginary parts: :mod:`verify.precision.complex`.
"""

from __future__ import annotations

from verify.laws import Exact, Orthogonal
from verify.precision.rounding import LOW_PRECISION, RoundedLaw, grid, rounded

FLOAT_DTYPES = ("float32", "float64", "float16", "bfloat16")
COMPLEX_DTYPES = ("complex64", "complex128")
DTYPES = (*FLOAT_DTYPES, *COMPLEX_DTYPES)
DEFAULT_DTYPE = "float32"

__all__ = ["COMPLEX_DTYPES", "DEFAULT_DTYPE", "DTYPES", "FLOAT_DTYPES", "LOW_PRECISION",
           "RoundedLaw", "claim_dtypes", "grid", "is_complex", "rounded"]


def is_complex(dtype: str) -> bool:
    return dtype in COMPLEX_DTYPES


def claim_dtypes(claim, supported: tuple[str, ...] = DTYPES) -> tuple[str, ...]:
    """The dtypes, of the framework's ``supported`` ones, that an initializer documented
    with ``claim`` is checked in, float32 first: every dtype for a law centred at 0 (complex
    included: a variance law states ``E|w|^2``, :mod:`verify.precision.complex`); the real
    dtypes for exact values and for a law centred elsewhere (a documented ``U(0, 1)`` says
    nothing of a complex value's law); float32 and float64 for orthogonality, whose
    tolerance is float32's round-off."""
    if isinstance(claim, Orthogonal):
        wanted: tuple[str, ...] = ("float32", "float64")
    elif isinstance(claim, Exact) or float(claim.law((4, 4)).mean()) != 0.0:
        wanted = FLOAT_DTYPES
    else:
        wanted = DTYPES
    return tuple(dtype for dtype in wanted if dtype in supported)
