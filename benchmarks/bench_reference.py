"""The reference implementations against what a user would otherwise call.

Each scheme x distribution x shape is timed for the NumPy and the PyTorch
reference (``verify.reference``), for ``torch.nn.init``'s function of the same
scheme and distribution, and for the raw random fill of the same size (the
generator's primitive, float32, nothing else). ``ReferenceRatio`` measures the
targets as ratios in one process: PyTorch references within 1.1x of
``torch.nn.init``, NumPy references within 1.1x of the raw ``Generator`` fill.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from verify.reference import numpy_init, torch_init
from verify.schemes import InitSpec

from .common import DISTRIBUTIONS, SCHEMES, SHAPES, ratio


def nn_init(scheme: str, distribution: str, shape: tuple[int, ...],
            generator: torch.Generator):
    """``torch.nn.init``'s function for the same scheme and distribution, as a thunk."""
    init = torch.nn.init
    if distribution == "truncated_normal":
        spec = InitSpec(scheme, distribution)
        std = math.sqrt(spec.variance(shape))  # the truncated law's std, as the scheme's
        scale = spec.family.scale(std)

        def call():
            return init.trunc_normal_(torch.empty(shape), std=scale, a=-2 * scale, b=2 * scale,
                                      generator=generator)
        return call
    kind = {"normal": "normal_", "uniform": "uniform_"}[distribution]
    if scheme == "glorot":
        function = getattr(init, "xavier_" + kind)
        return lambda: function(torch.empty(shape), generator=generator)
    function = getattr(init, "kaiming_" + kind)
    nonlinearity = "relu" if scheme == "he" else "linear"
    return lambda: function(torch.empty(shape), nonlinearity=nonlinearity, generator=generator)


def raw_numpy(distribution: str, shape: tuple[int, ...], rng: np.random.Generator):
    """The Generator's float32 primitive the NumPy reference starts from."""
    if distribution == "uniform":
        return lambda: rng.random(shape, dtype=np.float32)
    return lambda: rng.standard_normal(shape, dtype=np.float32)


def raw_torch(distribution: str, shape: tuple[int, ...], generator: torch.Generator):
    if distribution == "uniform":
        return lambda: torch.empty(shape).uniform_(generator=generator)
    return lambda: torch.empty(shape).normal_(generator=generator)


class NumpyReference:
    """``verify.reference.numpy_init``: float32 from ``numpy.random.Generator``."""

    params = [SCHEMES, DISTRIBUTIONS, list(SHAPES)]
    param_names = ["scheme", "distribution", "shape"]

    def setup(self, scheme, distribution, shape):
        self.spec, self.shape = InitSpec(scheme, distribution), SHAPES[shape]
        self.rng = np.random.default_rng(0)
        numpy_init(self.spec, self.shape, self.rng)

    def time_numpy_init(self, scheme, distribution, shape):
        numpy_init(self.spec, self.shape, self.rng)

    def peakmem_numpy_init(self, scheme, distribution, shape):
        numpy_init(self.spec, self.shape, self.rng)


class TorchReference:
    """``verify.reference.torch_init``: float32 from a ``torch.Generator``."""

    params = [SCHEMES, DISTRIBUTIONS, list(SHAPES)]
    param_names = ["scheme", "distribution", "shape"]

    def setup(self, scheme, distribution, shape):
        self.spec, self.shape = InitSpec(scheme, distribution), SHAPES[shape]
        self.generator = torch.Generator().manual_seed(0)
        torch_init(self.spec, self.shape, self.generator)

    def time_torch_init(self, scheme, distribution, shape):
        torch_init(self.spec, self.shape, self.generator)

    def peakmem_torch_init(self, scheme, distribution, shape):
        torch_init(self.spec, self.shape, self.generator)


class TorchNnInit:
    """``torch.nn.init``: kaiming (LeCun as ``nonlinearity='linear'``, He as ``'relu'``),
    xavier, and ``trunc_normal_`` cut at two standard deviations."""

    params = [SCHEMES, DISTRIBUTIONS, list(SHAPES)]
    param_names = ["scheme", "distribution", "shape"]

    def setup(self, scheme, distribution, shape):
        self.call = nn_init(scheme, distribution, SHAPES[shape],
                            torch.Generator().manual_seed(0))
        self.call()

    def time_nn_init(self, scheme, distribution, shape):
        self.call()

    def peakmem_nn_init(self, scheme, distribution, shape):
        self.call()


class RawFill:
    """The raw float32 random fill of the same size (normal for both normal families)."""

    params = [["numpy", "torch"], DISTRIBUTIONS, list(SHAPES)]
    param_names = ["backend", "distribution", "shape"]

    def setup(self, backend, distribution, shape):
        if backend == "numpy":
            self.call = raw_numpy(distribution, SHAPES[shape], np.random.default_rng(0))
        else:
            self.call = raw_torch(distribution, SHAPES[shape], torch.Generator().manual_seed(0))
        self.call()

    def time_fill(self, backend, distribution, shape):
        self.call()

    def peakmem_fill(self, backend, distribution, shape):
        self.call()


class ReferenceRatio:
    """The speed targets, as ratios measured in one process: NumPy reference / raw
    ``Generator`` fill, PyTorch reference / ``torch.nn.init`` (He scheme; the scheme
    only changes a scalar). Target: at most 1.1."""

    params = [["numpy", "torch"], DISTRIBUTIONS, list(SHAPES)]
    param_names = ["backend", "distribution", "shape"]
    unit = "ratio"
    number, repeat, rounds = 1, 1, 1
    timeout = 300

    def setup(self, backend, distribution, shape):
        shape = SHAPES[shape]
        spec = InitSpec("he", distribution)
        if backend == "numpy":
            rng = np.random.default_rng(0)
            self.ours = lambda: numpy_init(spec, shape, rng)
            self.theirs = raw_numpy(distribution, shape, rng)
        else:
            generator = torch.Generator().manual_seed(0)
            self.ours = lambda: torch_init(spec, shape, generator)
            self.theirs = nn_init("he", distribution, shape, generator)

    def track_ratio(self, backend, distribution, shape):
        return ratio(self.ours, self.theirs)
