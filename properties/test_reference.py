"""Every reference implementation conforms to its scheme at every shape hypothesis draws.

The expected variance is computed here from the textbook, independently of
``verify.fans`` and ``verify.schemes``: ``Var = gain^2 / fan(mode)`` with
``fan_in = in * prod(kernel)``, ``fan_out = out * prod(kernel)``.
"""

from __future__ import annotations

import math

from hypothesis import assume, given
from hypothesis import strategies as st

from verify import strategies as vst
from verify.conformance import check_shape
from verify.reference import ReferenceSampler
from verify.schemes import InitSpec

from .helpers import assert_holds, assert_rejected, seed_for, statistical

DEFAULT_MODE = {"lecun": "fan_in", "glorot": "fan_avg", "he": "fan_in"}
DEFAULT_GAIN = {"lecun": 1.0, "glorot": 1.0, "he": math.sqrt(2.0)}


def textbook_fans(shape: tuple[int, ...], layout: str) -> tuple[int, int]:
    if layout == "paddle" and len(shape) == 2:  # Paddle's Linear weight: (in, out)
        (in_channels, out_channels), kernel = shape, ()
    elif layout in ("oihw", "paddle"):  # Paddle's conv weights: (out, in, *kernel)
        out_channels, in_channels, kernel = shape[0], shape[1], shape[2:]
    elif layout == "hwio":
        kernel, in_channels, out_channels = shape[:-2], shape[-2], shape[-1]
    else:  # ohwi
        out_channels, kernel, in_channels = shape[0], shape[1:-1], shape[-1]
    receptive_field = math.prod(kernel)
    return in_channels * receptive_field, out_channels * receptive_field


def textbook_variance(spec: InitSpec, shape: tuple[int, ...], *, swap: bool = False) -> float:
    fan_in, fan_out = textbook_fans(shape, spec.layout)
    if swap:
        fan_in, fan_out = fan_out, fan_in
    fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}
    gain = DEFAULT_GAIN[spec.scheme] if spec.gain is None else spec.gain
    return gain**2 / fan[spec.mode or DEFAULT_MODE[spec.scheme]]


@st.composite
def specs_and_shapes(draw):
    spec = draw(vst.init_specs(), label="spec")
    shape = draw(vst.weight_shapes(layout=spec.layout, max_numel=2**20), label="shape")
    return spec, shape


@statistical(divisor=2)
@given(case=specs_and_shapes(), backend=st.sampled_from(["numpy", "torch"]),
       dtype=st.sampled_from(["float32", "float64"]))
def test_reference_conforms_at_every_shape(case, backend, dtype):
    spec, shape = case
    sampler = ReferenceSampler(spec, backend, dtype)
    result = check_shape(sampler, spec, shape, seed=seed_for("reference", case, backend, dtype),
                         variance=textbook_variance(spec, shape))
    assert_holds(*result.results)


@statistical()
@given(case=specs_and_shapes(), backend=st.sampled_from(["numpy", "torch"]))
def test_swapped_fans_are_rejected(case, backend):
    """The same battery rejects the law with fan_in and fan_out exchanged."""
    spec, shape = case
    fan_in, fan_out = textbook_fans(shape, spec.layout)
    mode = spec.mode or DEFAULT_MODE[spec.scheme]
    assume(mode != "fan_avg" and max(fan_in, fan_out) >= 1.1 * min(fan_in, fan_out))
    sampler = ReferenceSampler(spec, backend)
    result = check_shape(sampler, spec, shape, seed=seed_for("reference wrong", case, backend),
                         variance=textbook_variance(spec, shape, swap=True))
    assert_rejected(*result.results)
