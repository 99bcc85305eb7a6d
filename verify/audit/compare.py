"""Compare the initializations of two models tensor by tensor: a model and its port.

When a model ported between frameworks trains differently, the first suspect is the
initialization: each framework's layers have their own defaults (PyTorch's ``nn.Linear``
draws ``U(+-1/sqrt(fan_in))``, Flax's ``nnx.Linear`` a truncated normal of variance
``1/fan_in``: three times as much). Procedure, for models A and B and a run seed:

1. **Build** each model at the seeds ``derive_seed(seed, "compare", "a", i)`` (``"b"``
   for B), ``i = 0, 1, ...``, and list its tensors (:func:`verify.layers.walk`). The
   tensors of every build are matched to the first build's by position.
2. **Match** the tensors of A to those of B by name (a tied tensor by any of its names),
   through a name map (:mod:`verify.audit.mapping`) when one is given. Tensors left
   without a partner on either side are listed, not errors.
3. **Builds**: as many as give each matched tensor at least :data:`TARGET_ENTRIES`
   entries per side, at most :data:`MAX_BUILDS`, and at least two, to tell a random draw
   from a deterministic table. Entries of one build and of independent builds are
   taken as independent draws (true of every elementwise initializer; not quite of an
   orthogonal one).
4. **Per pair**, when both tensors are random draws: the variance ratio ``B/A`` with its
   95% interval (the log-variance difference with kurtosis-corrected standard errors,
   :func:`verify.stats.variance_ratio_test`), the difference of the means (Welch), and
   the family: the two-sample Kolmogorov-Smirnov test of the standardized values, on at
   most 2^16 entries per side (:func:`verify.stats.same_shape_test`), with each side's
   family named by :func:`verify.fingerprint.identify_family`. Tensors that are not
   random (constants, deterministic tables such as sinusoidal position tables) are
   compared exactly, as multisets of values to the coarser dtype's rounding. A random
   tensor and a deterministic one differ.
5. **Verdict**: *equivalent* when at least one pair matched and every matched pair has
   shapes with the same number of entries, the same variance, the same mean and the
   same family.

Size: each test decides "differ" at ``policy.alpha`` (1e-9); with ``P`` random pairs the
chance that equivalent models are called different is below ``3 P alpha``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from verify import stats
from verify.audit.builders import MAX_PARAMETERS, Builder, BuildError, builder_of, check_model
from verify.audit.mapping import MapEntry, NameMap, load_map
from verify.audit.tensors import as_sample
from verify.seeding import derive_rng, derive_seed, run_seed
from verify.stats import DEFAULT_POLICY, CheckResult, Policy, Verdict

TARGET_ENTRIES = 2**16
"""Entries per side that each matched tensor gets over its builds (when the cap allows)."""
MAX_BUILDS = 64
"""At most this many builds of each model."""
FAMILY_SAMPLE = 2**16
"""Entries per side whose standardized values name the family."""
PLAIN_FIT_LEVEL = 0.01
"""A normal or uniform that fits at this level names the family rather than a truncated
normal (:func:`verify.fingerprint.identify_family`). Names only: the verdict on the
family is the two-sample test's."""

SHAPE_RELATIONS = ("equal", "transposed", "permuted", "reshaped", "different")
"""How B's shape relates to A's: ``transposed`` is reversed axes or the map's declared
order; ``permuted`` another order of A's axes; ``reshaped`` A's number of entries in
other axes; ``different`` another number of entries, or not the order the map
declares."""


# --- results ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class TensorSide:
    """One tensor of a matched pair, as built: what it holds over the builds."""

    names: tuple[str, ...]
    shape: tuple[int, ...]
    dtype: str
    role: str
    kind: str
    """``random`` (differs between builds), ``constant`` (one value everywhere, every
    build), ``deterministic`` (the same values at every build), ``non-finite``, ``empty``."""
    n: int
    """Entries compared: over the builds kept for a random tensor, of one build else."""
    builds: int
    mean: float
    std: float
    family: str | None = None
    """``normal``, ``uniform``, ``truncated_normal(+-2 sd)``, ``other (kurtosis 4.2)``,
    ``constant 0``, ``deterministic``; None for fewer than 100 entries."""

    @property
    def name(self) -> str:
        return self.names[0]

    def to_dict(self) -> dict:
        return {"name": self.name, "names": list(self.names), "shape": list(self.shape),
                "dtype": self.dtype, "role": self.role, "kind": self.kind, "n": self.n,
                "builds": self.builds, "mean": _number(self.mean), "std": _number(self.std),
                "family": self.family}


@dataclass(frozen=True, kw_only=True)
class TensorPair:
    """Tensor A and its counterpart B: are they drawn from the same law?"""

    a: TensorSide
    b: TensorSide
    shape_relation: str
    """One of :data:`SHAPE_RELATIONS`."""
    ratio: float
    """``Var_B / Var_A`` (NaN when both are zero)."""
    interval: tuple[float, float]
    """95% interval of ``ratio`` (the ratio itself when exact)."""
    same_variance: bool
    same_mean: bool
    same_family: bool
    checks: tuple[CheckResult, ...] = ()
    """The tests, when both tensors are random: ``variance_ratio``, ``mean_difference``,
    ``same_shape``; empty when compared exactly."""
    mapped_by: MapEntry | None = None
    note: str = ""

    @property
    def same_shape(self) -> bool:
        return self.shape_relation != "different"

    @property
    def exact(self) -> bool:
        return not self.checks

    @property
    def same(self) -> bool:
        return self.same_shape and self.same_variance and self.same_mean and self.same_family

    def to_dict(self) -> dict:
        return {"a": self.a.name, "b": self.b.name, "tensor_a": self.a.to_dict(),
                "tensor_b": self.b.to_dict(), "shape_relation": self.shape_relation,
                "ratio_b_over_a": _number(self.ratio),
                "ratio_interval": [_number(v) for v in self.interval],
                "exact": self.exact, "same_shape": self.same_shape,
                "same_variance": self.same_variance, "same_mean": self.same_mean,
                "same_family": self.same_family, "same": self.same,
                "checks": [c.to_dict() for c in self.checks],
                "mapped_by": self.mapped_by.to_dict() if self.mapped_by else None,
                "note": self.note}


@dataclass(frozen=True, kw_only=True)
class Unmatched:
    """A tensor of one model without a counterpart in the other."""

    name: str
    shape: tuple[int, ...]
    looked_for: str | None = None
    """For a tensor of A: the name it was looked for under in B."""
    mapped_by: MapEntry | None = None

    def to_dict(self) -> dict:
        data: dict[str, Any] = {"name": self.name, "shape": list(self.shape)}
        if self.looked_for is not None:
            data["looked_for"] = self.looked_for
            data["mapped_by"] = self.mapped_by.to_dict() if self.mapped_by else None
        return data


@dataclass(kw_only=True)
class ModelComparison:
    """The comparison of models A and B: matched pairs, the tensors left over, a verdict."""

    models: tuple[dict, dict]
    """Per model: ``target``, ``api``, ``kwargs``, ``config`` (the overrides given)."""
    seed: int
    builds: tuple[int, int] = (0, 0)
    name_map: str | None = None
    pairs: list[TensorPair] = field(default_factory=list)
    unmatched_a: list[Unmatched] = field(default_factory=list)
    unmatched_b: list[Unmatched] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    policy: Policy = DEFAULT_POLICY
    elapsed: float = 0.0

    @property
    def equivalent(self) -> bool:
        return bool(self.pairs) and all(pair.same for pair in self.pairs)

    def to_dict(self) -> dict:
        return {"models": [dict(m) for m in self.models], "map": self.name_map,
                "builds": list(self.builds), "alpha": self.policy.alpha,
                "equivalent": self.equivalent, "pairs": [p.to_dict() for p in self.pairs],
                "unmatched_a": [u.to_dict() for u in self.unmatched_a],
                "unmatched_b": [u.to_dict() for u in self.unmatched_b],
                "notes": list(self.notes), "seconds": round(self.elapsed, 3)}

    def render(self) -> str:
        from verify.audit.render import render_comparison

        return render_comparison(self)


def _number(value: float | None):
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


# --- building --------------------------------------------------------------------------


class _Builds:
    """The builds of one model: the first build's tensors, and per tensor the builds kept."""

    def __init__(self, builder: Builder, seed: int, label: str,
                 progress: Callable | None) -> None:
        self.builder, self.seed, self.label, self.progress = builder, seed, label, progress
        self.params = self._walk(0)
        if not self.params:
            raise BuildError(f"the builder {builder.target} returned a model with no tensors")
        total = sum(p.array.size for p in self.params)
        if total > MAX_PARAMETERS:
            raise BuildError(f"{builder.target} has {total:,} entries per build, more than the "
                             f"cap of {MAX_PARAMETERS:,}: compare smaller configs")
        self.shapes = [p.shape for p in self.params]
        self.kept = {p.name: [p.array] for p in self.params}
        self.varies = dict.fromkeys(self.kept, False)
        self.count = 1

    def _walk(self, index: int) -> list:
        from verify.layers import walk

        model = self.builder.build(derive_seed(self.seed, "compare", self.label, index))
        check_model(self.builder.api, model, self.builder.target)
        return walk(self.builder.api, model)

    def grow(self, count: int, needed: Mapping[str, int]) -> None:
        """Build until ``count`` builds; keep up to ``needed[name]`` builds of each tensor,
        and note which tensors differ from the first build."""
        while self.count < count:
            params = self._walk(self.count)
            if [p.shape for p in params] != self.shapes:
                raise BuildError(f"two builds of {self.builder.target} differ in their tensors "
                                 f"({len(self.shapes)} then {len(params)}, or other shapes): "
                                 "a builder must build the same architecture at every seed")
            for first, param in zip(self.params, params, strict=True):
                kept = self.kept[first.name]
                if not self.varies[first.name] and not np.array_equal(
                        kept[0], param.array, equal_nan=True):
                    self.varies[first.name] = True
                if len(kept) < needed.get(first.name, 1):
                    kept.append(param.array)
            self.count += 1
            if self.progress:
                self.progress(f"building {self.label.upper()}", self.count, count)


# --- matching --------------------------------------------------------------------------


def _match(params_a: list, params_b: list, name_map: NameMap | None
           ) -> tuple[list[tuple[Any, Any, MapEntry | None]], list[Unmatched], list[Unmatched],
                      list[str]]:
    by_name = {name: param for param in params_b for name in param.names}
    pairs, unmatched_a, notes = [], [], []
    taken: dict[int, str] = {}
    for param in params_a:
        looked = [name_map.lookup(name) if name_map else (name, None) for name in param.names]
        found = next(((by_name[target], entry) for target, entry in looked
                      if target in by_name), None)
        if found is None:
            target, entry = looked[0]
            unmatched_a.append(Unmatched(name=param.name, shape=param.shape, looked_for=target,
                                         mapped_by=entry))
            continue
        partner, entry = found
        if id(partner) in taken:
            notes.append(f"{param.name} maps to {partner.name}, already matched with "
                         f"{taken[id(partner)]}: listed as unmatched")
            unmatched_a.append(Unmatched(name=param.name, shape=param.shape,
                                         looked_for=partner.name, mapped_by=entry))
            continue
        taken[id(partner)] = param.name
        pairs.append((param, partner, entry))
    unmatched_b = [Unmatched(name=p.name, shape=p.shape) for p in params_b
                   if id(p) not in taken]
    if name_map is not None:
        notes += [f"the map's entry {entry.describe()} matches no tensor of A"
                  for entry in name_map.unused(n for p in params_a for n in p.names)]
    return pairs, unmatched_a, unmatched_b, notes


def shape_relation(first: tuple[int, ...], second: tuple[int, ...],
                   entry: MapEntry | None = None) -> str:
    """How ``second`` (B's shape) relates to ``first`` (A's), one of
    :data:`SHAPE_RELATIONS`; with a map entry that declares the axes, only that order
    (or equal shapes) is accepted."""
    declared = entry.expected_shape(first) if entry is not None else None
    if declared is not None:
        if second != declared:
            return "different"
        return "equal" if second == first else "transposed"
    if second == first:
        return "equal"
    if sorted(second) == sorted(first):
        return "transposed" if second == tuple(reversed(first)) else "permuted"
    if math.prod(second) == math.prod(first):
        return "reshaped"
    return "different"


# --- one pair --------------------------------------------------------------------------


def _tolerance(*dtypes: str) -> float:
    """Tolerance of an exact comparison, relative to the largest magnitude: the coarser
    dtype's rounding, with room for two frameworks computing one table by other formulas
    (a float32 sinusoid at position 2000 is off by 1e-4: its argument is rounded)."""
    def one(dtype: str) -> float:
        if "16" in dtype or "half" in dtype:
            return 2.0**-8
        if "64" in dtype or "double" in dtype:
            return 1e-9
        return 2.0**-10

    return max(one(dtype) for dtype in dtypes)


def _side(param, kept: list[np.ndarray], varies: bool, rng: np.random.Generator,
          sample: np.ndarray) -> TensorSide:
    if sample.size == 0:
        kind = "empty"
    elif not np.isfinite(sample).all():
        kind = "non-finite"
    elif varies:
        kind = "random"
    elif np.all(sample == sample[0]):
        kind = "constant"
    else:
        kind = "deterministic"
    n = int(sample.size)
    finite = kind not in ("empty", "non-finite")
    mean = float(np.mean(sample, dtype=np.float64)) if finite else math.nan
    std = float(np.std(sample, dtype=np.float64, ddof=1)) if finite and n > 1 else \
        (0.0 if finite else math.nan)
    family = None
    if kind == "constant":
        family = f"constant {float(sample[0]):g}"
    elif kind == "deterministic":
        family = "deterministic"
    elif kind == "random" and n >= 100 and std > 0:
        from verify.fingerprint import identify_family

        subsample = sample if n <= FAMILY_SAMPLE else \
            sample[rng.choice(n, size=FAMILY_SAMPLE, replace=False)]
        found = identify_family((subsample.astype(np.float64) - mean) / std, rng,
                                plain_level=PLAIN_FIT_LEVEL)
        family = found.name
        if found.name == "truncated_normal":
            family = f"truncated_normal(+-{found.truncation:.3g} sd)"
        elif found.name == "other":
            family = f"other (kurtosis {found.kurtosis:.3g})"
    return TensorSide(names=param.names, shape=param.shape, dtype=param.dtype,
                      role=param.role.role, kind=kind, n=n,
                      builds=len(kept) if kind == "random" else 1, mean=mean, std=std,
                      family=family)


def _compare_pair(param_a, param_b, entry: MapEntry | None, builds_a: _Builds,
                  builds_b: _Builds, rng: np.random.Generator, policy: Policy) -> TensorPair:
    samples = []
    sides = []
    for param, builds in ((param_a, builds_a), (param_b, builds_b)):
        varies = builds.varies[param.name]
        kept = builds.kept[param.name] if varies else builds.kept[param.name][:1]
        sample = as_sample(kept)
        samples.append(sample)
        sides.append(_side(param, kept, varies, rng, sample))
    a, b = sides
    relation = shape_relation(a.shape, b.shape, entry)
    common = {"a": a, "b": b, "shape_relation": relation, "mapped_by": entry}
    kinds = {a.kind, b.kind}
    if kinds & {"non-finite", "empty"}:
        both_empty = kinds == {"empty"}
        return TensorPair(**common, ratio=math.nan, interval=(math.nan, math.nan),
                          same_variance=both_empty, same_mean=both_empty,
                          same_family=both_empty,
                          note="" if both_empty else "non-finite or empty: not compared")
    if "random" in kinds:
        minimum = min(samples[0].size, samples[1].size)
        if minimum < 3:
            return TensorPair(**common, ratio=math.nan, interval=(math.nan, math.nan),
                              same_variance=False, same_mean=False, same_family=False,
                              note=f"{minimum} entries: too few to compare")
        checks = (stats.variance_ratio_test(samples[0], samples[1], policy=policy),
                  stats.mean_difference_test(samples[0], samples[1], policy=policy),
                  stats.same_shape_test(samples[0], samples[1], rng=rng, policy=policy))
        ratio, means, shapes = checks
        both = kinds == {"random"}
        fixed = b if a.kind == "random" else a
        note = "" if both else (f"{'B' if fixed is b else 'A'} is the same at every build "
                                f"({fixed.kind})")
        return TensorPair(**common, ratio=ratio.estimate, interval=ratio.interval,
                          same_variance=ratio.verdict is not Verdict.FAIL,
                          same_mean=means.verdict is not Verdict.FAIL,
                          same_family=both and shapes.verdict is not Verdict.FAIL,
                          checks=checks, note=note)
    # neither is random: the values, exactly (as multisets: the layout may differ)
    tolerance = _tolerance(a.dtype, b.dtype)
    first, second = (np.sort(s.astype(np.float64)) for s in samples)
    scale = max(float(np.max(np.abs(first))), float(np.max(np.abs(second))))
    same_values = first.shape == second.shape and bool(
        np.allclose(first, second, rtol=tolerance, atol=tolerance * scale))
    var_a, var_b = a.std**2, b.std**2
    ratio = var_b / var_a if var_a > 0 else (math.nan if var_b == 0 else math.inf)
    return TensorPair(
        **common, ratio=ratio, interval=(ratio, ratio),
        same_variance=math.isclose(var_a, var_b, rel_tol=2 * tolerance,
                                   abs_tol=(tolerance * scale) ** 2),
        same_mean=math.isclose(a.mean, b.mean, rel_tol=tolerance, abs_tol=tolerance * scale),
        same_family=same_values,
        note="" if same_values else "different values")


# --- the comparison --------------------------------------------------------------------


def compare_models(
    first: Callable | str,
    second: Callable | str,
    *,
    api_a: str | None = None,
    api_b: str | None = None,
    kwargs_a: Mapping[str, Any] | None = None,
    kwargs_b: Mapping[str, Any] | None = None,
    config_a: Mapping[str, Any] | None = None,
    config_b: Mapping[str, Any] | None = None,
    name_map: NameMap | str | Path | None = None,
    seed: int | None = None,
    policy: Policy = DEFAULT_POLICY,
    timeout: float = 60.0,
    progress: Callable[[str, int, int], None] | None = None,
) -> ModelComparison:
    """Compare models A (``first``) and B (``second``) tensor by tensor (see the module's
    docstring).

    Each model is a target string (``transformers:GPT2Model``, ``torch:nn.Linear``,
    ``package.module:attribute``) or a builder function of its api (``api_a``,
    ``api_b``: ``torch``, the default, ``keras``, ``nnx``, ``linen``, ``mlx``,
    ``arrays``; see :mod:`verify.audit.builders`), called with ``kwargs_a`` /
    ``kwargs_b``; ``config_a`` / ``config_b`` override fields of a ``transformers:``
    target's config (a small config builds faster). ``name_map`` is a
    :class:`~verify.audit.mapping.NameMap` or a map file's path. Raises
    :class:`~verify.audit.builders.BuildError` for a target that cannot be built and
    :class:`~verify.audit.spec.SpecError` for a bad map.
    """
    start = time.perf_counter()
    seed = run_seed() if seed is None else int(seed)
    if isinstance(name_map, str | Path):
        name_map = load_map(name_map)
    builders = (builder_of(first, api=api_a, kwargs=kwargs_a, config=config_a,
                           timeout=timeout),
                builder_of(second, api=api_b, kwargs=kwargs_b, config=config_b,
                           timeout=timeout))
    result = ModelComparison(
        models=tuple({"target": b.target, "api": b.api, "kwargs": dict(b.kwargs),
                      "config": dict(config or {})}
                     for b, config in zip(builders, (config_a, config_b), strict=True)),
        seed=seed, name_map=name_map.origin if name_map else None, policy=policy)
    builds_a, builds_b = (_Builds(builder, seed, label, progress)
                          for builder, label in zip(builders, "ab", strict=True))
    matched, result.unmatched_a, result.unmatched_b, result.notes = _match(
        builds_a.params, builds_b.params, name_map)
    if not matched:
        result.notes.append("no tensor of A matched one of B: give --map (see the "
                            "unmatched names)")

    def needed(param) -> int:
        return min(MAX_BUILDS, math.ceil(TARGET_ENTRIES / max(param.array.size, 1)))

    needs_a = {a.name: needed(a) for a, _, _ in matched}
    needs_b = {b.name: needed(b) for _, b, _ in matched}
    count = max([2, *needs_a.values(), *needs_b.values()])
    builds_a.grow(count if matched else 1, needs_a)
    builds_b.grow(count if matched else 1, needs_b)
    result.builds = (builds_a.count, builds_b.count)
    rng = derive_rng(seed, "compare", "tests")
    result.pairs = [_compare_pair(a, b, entry, builds_a, builds_b, rng, policy)
                    for a, b, entry in matched]
    result.elapsed = time.perf_counter() - start
    return result
