"""The audit of one model: every tensor against its expected law, and the anomalies.

Procedure, for a builder and a run seed:

1. **Build** at the first derived seed, walk every tensor (:func:`verify.layers.walk`),
   and build twice more: with the same seed (a model must be reproducible) and with the
   next seed (independent builds must give independent tensors).
2. **Expect.** A spec (a file, or the built-in spec of a transformers class) gives a
   tensor its law. A tensor without one is compared with its layer's documented default
   (the registry): it follows the default, or the model's own scheme, which is reported
   with its measurements and is not a finding.
3. **Test** each tensor, and each pool of tensors with one role and one law, with the
   battery of :mod:`verify.audit.tensors`, over independent builds. The number of builds
   is what the pools need for the power target (a 1% error in the variance at power
   0.99), up to a time budget; it grows in sequential looks (x4 builds each), each at its
   share of alpha (:func:`verify.stats.look_levels`), and a unit stops at its first
   failing look. A suspicious last look is resampled on fresh builds at alpha.
4. **Anomalies** that need no spec: non-finite values, uninitialized memory, constant
   weight matrices, identical or correlated tensors and packed slices, tensors left on the
   default while the rest of their role is not, framework fans that differ from the
   semantic fans, seeding, reloading.

Size: each statistical test has size ``alpha`` (1e-9) for a fail; a model with ``T``
tensors runs at most ``5 (T + pools) + 3`` such families, so the family-wise false-fail
rate of an audit is below ``(5 T + 8) alpha``: under 1e-5 for 1000 tensors.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from scipy import special

from verify import stats
from verify.audit import buffers
from verify.audit import tensors as battery_module
from verify.audit.anomalies import (
    doc_mismatches,
    keras_reloaded,
    nonfinite,
    reloaded,
    seeding,
    twins,
)
from verify.audit.builders import MAX_PARAMETERS, Builder, BuildError, check_model
from verify.audit.findings import Finding, Waiver, apply_waivers
from verify.audit.tensors import TEST_KINDS, Measured, as_sample, battery, measure
from verify.laws import TensorLaw
from verify.seeding import derive_rng, derive_seed
from verify.stats import DEFAULT_POLICY, CheckResult, Policy, Verdict

MAX_BUILDS = 256
"""At most this many builds per audit, whatever the pools' power needs."""
BUILD_BUDGET = 8.0
"""Seconds of building per audit: past it, fewer builds, and a larger minimum detectable
effect (reported per tensor)."""
ENTRY_BUDGET = 2**25
"""At most this many entries kept over all builds (256 MiB of float64)."""

PRIORITY = ("non-finite", "uninitialized", "left-on-default", "constant", "depth-law",
            "variance", "support", "mean", "distribution")


def layer_index(name: str) -> int | None:
    """The layer a tensor belongs to: the first integer component of its dotted name
    (``h.3.attn.c_proj.weight`` -> 3), or None."""
    for part in re.split(r"[./]", name):
        if part.isdigit():
            return int(part)
    return None


def depends_on_depth(law: TensorLaw | None) -> bool:
    return law is not None and re.search(r"layer", law.rule or "") is not None


@dataclass(kw_only=True)
class TensorReport:
    """One tensor of the audited model: what it is, what it should be, what it holds."""

    names: tuple[str, ...]
    shape: tuple[int, ...]
    role: str
    layer: str
    dtype: str
    buffer: bool
    expected: TensorLaw | None
    status: str
    """``spec`` (tested against a spec's law), ``default`` (follows its layer's default),
    ``own scheme`` (departs from the default, no spec), ``buffer``."""
    verdict: str
    """``pass``, ``fail``, ``suspicious``, ``own scheme`` or ``measured``."""
    measured: Measured
    checks: list[CheckResult] = field(default_factory=list)
    fans: dict | None = None
    depth: int | None = None

    @property
    def name(self) -> str:
        return self.names[0]

    def to_dict(self) -> dict:
        return {
            "name": self.name, "names": list(self.names), "shape": list(self.shape),
            "role": self.role, "layer": self.layer, "dtype": self.dtype,
            "buffer": self.buffer, "layer_index": self.depth, "fans": self.fans,
            "expected": self.expected.to_dict() if self.expected else None,
            "status": self.status, "verdict": self.verdict,
            "measured": self.measured.to_dict(),
            "checks": {c.name: {"verdict": c.verdict.value, "estimate": _num(c.estimate),
                                "expected": _num(c.expected), "pvalue": _num(c.pvalue),
                                "n": c.n, "mde": _num(c.min_detectable_effect),
                                "interval": [_num(v) for v in c.interval]}
                       for c in self.checks},
        }


def _num(value: float):
    value = float(value)
    return value if math.isfinite(value) else None


@dataclass(kw_only=True)
class AuditResult:
    """The audit of one target: its tensors and its findings."""

    target: str
    api: str
    seed: int
    config: dict = field(default_factory=dict)
    spec: str | None = None
    tensors: list[TensorReport] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    builds: int = 0
    elapsed: float = 0.0
    error: str | None = None
    replay: str = ""
    explored: dict | None = None

    @property
    def verdict(self) -> str:
        if self.error:
            return "error"
        return "fail" if any(f.blocking for f in self.findings) else "pass"

    def to_dict(self) -> dict:
        return {"target": self.target, "api": self.api, "verdict": self.verdict,
                "seed": self.seed, "error": self.error, "spec": self.spec,
                "config": self.config, "builds": self.builds,
                "elapsed": round(self.elapsed, 3), "warnings": self.warnings,
                "replay": self.replay.replace("{seed}", str(self.seed)) if self.replay else None,
                "explored": self.explored,
                "tensors": [t.to_dict() for t in self.tensors],
                "findings": [f.to_dict() for f in self.findings]}

    def table(self) -> str:
        from verify.audit.render import render

        return render(self)


# --- building --------------------------------------------------------------------------


class _Builds:
    """Builds of one target, walked, kept by tensor name (the first of its names)."""

    def __init__(self, builder: Builder, seed: int, progress: Callable | None) -> None:
        self.builder, self.seed, self.progress = builder, seed, progress
        self.samples: dict[str, list[np.ndarray]] = {}
        self.names: list[str] = []
        self.shapes: list[tuple[int, ...]] = []
        self.count = 0
        self.seconds = 0.0

    def seed_of(self, index: int, label: str = "build") -> int:
        return derive_seed(self.seed, self.builder.target, label, index)

    def walk(self, seed: int):
        from verify.layers import walk

        start = time.perf_counter()
        model = self.builder.build(seed)
        check_model(self.builder.api, model, self.builder.target)
        params = walk(self.builder.api, model)
        self.seconds += time.perf_counter() - start
        return model, params

    def arrays(self, seed: int) -> dict[str, np.ndarray]:
        """One build's tensors, by the names of the first build: matched by position,
        since names may change between builds (Keras numbers its layers globally)."""
        _, params = self.walk(seed)
        if [p.shape for p in params] != self.shapes:
            raise BuildError(f"two builds of {self.builder.target} differ in their tensors "
                             f"({len(self.shapes)} then {len(params)}, or other shapes): "
                             "a builder must build the same architecture at every seed")
        return {name: param.array for name, param in zip(self.names, params, strict=True)}

    def grow(self, count: int, label: str = "build") -> None:
        """Build until ``count`` independent builds are kept."""
        while self.count < count:
            for name, array in self.arrays(self.seed_of(self.count, label)).items():
                self.samples[name].append(array)
            self.count += 1
            if self.progress:
                self.progress("building", self.count, count)

    def fresh(self, count: int, label: str) -> dict[str, list[np.ndarray]]:
        kept: dict[str, list[np.ndarray]] = {name: [] for name in self.names}
        for index in range(count):
            for name, array in self.arrays(self.seed_of(index, label)).items():
                kept[name].append(array)
        return kept


# --- units of test ---------------------------------------------------------------------


@dataclass(kw_only=True)
class _Unit:
    """Tensors tested together against one law (one tensor, or a pool)."""

    names: tuple[str, ...]
    law: TensorLaw
    dtype: str = "float32"
    pooled: bool = False
    members: tuple[_Unit, ...] = ()
    """A pool's units (each with its own view of its tensor)."""
    drop_rows: tuple[int, ...] = ()
    """Rows (axis 0) left out: an embedding's padding rows, checked by a unit of their own."""
    rows: tuple[int, ...] = ()
    """Only these rows (axis 0): the padding rows' own unit."""
    block: tuple[int, int, int] | None = None
    """``(index, blocks, axis)``: one block of a packed tensor with a law per block."""
    part: str = ""
    """What part of the tensor the unit tests, for findings: ``padding row 0``, ``block 1``."""
    results: list[CheckResult] = field(default_factory=list)
    decided: bool = False

    def view(self, array: np.ndarray) -> np.ndarray:
        if self.drop_rows:
            array = np.delete(array, self.drop_rows, axis=0)
        if self.rows:
            array = array[list(self.rows)]
        if self.block is not None:
            index, blocks, axis = self.block
            array = np.split(array, blocks, axis=axis)[index]
        return array

    def sample(self, samples: dict[str, list[np.ndarray]], builds: int) -> np.ndarray:
        if self.members:
            return as_sample([m.view(a) for m in self.members
                              for a in samples[m.names[0]][:builds]])
        return as_sample([self.view(a) for name in self.names for a in samples[name][:builds]])


def _needed_builds(units: Sequence[_Unit], sizes: dict[str, int], policy: Policy) -> int:
    """Builds for each pool (or lone tensor) to reach the power target at the last look."""
    final = replace(policy, alpha=policy.final_alpha)
    needed = 1
    for unit in units:
        if not unit.law.random or (not unit.pooled and len(unit.names) == 1
                                   and any(u.pooled and unit.names[0] in u.names
                                           for u in units)):
            continue
        per_build = sum(sizes[name] for name in unit.names)
        if per_build == 0:
            continue
        kurtosis = float(unit.law.distribution().stats(moments="k")) + 3.0
        n = stats.variance_sample_size(policy=final, kurtosis=kurtosis,
                                       gaussian=unit.law.gaussian)
        needed = max(needed, math.ceil(n / per_build))
    return needed


def _look_builds(final: int) -> list[int]:
    looks, count = [final], final
    while count // 4 >= 2:
        count //= 4
        looks.append(count)
    return sorted(set(looks))


def _run_units(units: list[_Unit], builds: _Builds, final: int, policy: Policy,
               progress: Callable | None) -> None:
    """Sequential looks over builds: each unit stops at its first failing look."""
    looks = _look_builds(final)
    levels = stats.look_levels(len(looks), policy=policy)
    for index, (count, level) in enumerate(zip(looks, levels, strict=True)):
        builds.grow(count)
        at_look = replace(policy, alpha=level)
        last = index == len(looks) - 1
        for unit in units:
            if unit.decided:
                continue
            results = battery(unit.sample(builds.samples, count), unit.law, policy=at_look,
                              dtype=unit.dtype)
            unit.results = results
            if last or battery_module.failed(results):
                unit.decided = True
        if progress:
            progress("testing", index + 1, len(looks))
        if all(unit.decided for unit in units):
            break


def _resample(units: list[_Unit], builds: _Builds, count: int, policy: Policy) -> None:
    """A suspicious unit is tested again on fresh builds, at ``alpha``."""
    waiting = [u for u in units if battery_module.suspicious(u.results)]
    for attempt in range(1, policy.max_resamples + 1):
        if not waiting:
            return
        fresh = builds.fresh(count * policy.growth ** attempt // 4 or 1, f"resample {attempt}")
        for unit in waiting:
            sample = as_sample([a for name in unit.names for a in fresh[name]])
            unit.results = [replace(r, attempts=attempt + 1)
                            for r in battery(sample, unit.law, policy=policy,
                                             dtype=unit.dtype)]
        waiting = [u for u in waiting if battery_module.suspicious(u.results)]


# --- the audit -------------------------------------------------------------------------


@dataclass(frozen=True)
class Budget:
    """How many builds an audit may make: at most ``builds``, ``seconds`` of building
    (None: no bound in time, so the count of builds depends on nothing but the model), and
    ``entries`` kept over all builds."""

    builds: int = MAX_BUILDS
    seconds: float | None = BUILD_BUDGET
    entries: int = ENTRY_BUDGET


DEFAULT_BUDGET = Budget()


def run(builder: Builder, *, spec: Any = None, waivers: Sequence[Waiver] = (), seed: int,
        policy: Policy = DEFAULT_POLICY, progress: Callable | None = None,
        reload: bool | None = None, max_builds: int | None = None,
        families: bool = True, budget: Budget = DEFAULT_BUDGET) -> AuditResult:
    """Audit the model ``builder`` builds (see the module's docstring). ``families=False``
    leaves the measured families out (config exploration does not report them);
    ``max_builds`` lowers ``budget.builds``."""
    start = time.perf_counter()
    result = AuditResult(target=builder.target, api=builder.api, seed=seed,
                         config=_jsonable(builder.config) if builder.model_class else
                         _jsonable(builder.kwargs),
                         spec=getattr(spec, "origin", None), replay=builder.replay)
    builds = _Builds(builder, seed, progress)
    model, params = builds.walk(builds.seed_of(0))
    if not params:
        raise BuildError(f"the builder {builder.target} returned a model with no parameters")
    total = sum(p.array.size for p in params)
    if total > MAX_PARAMETERS:
        raise BuildError(f"{builder.target} has {total:,} entries per build, more than the "
                         f"cap of {MAX_PARAMETERS:,}: audit a smaller config")
    builds.names = [p.name for p in params]
    builds.shapes = [p.shape for p in params]
    for param in params:
        builds.samples[param.name] = [param.array]
    builds.count = 1
    by_name = {p.name: p for p in params}
    names = [n for p in params for n in p.names]
    if spec is not None:
        rules = getattr(spec, "rules", None)
        if rules and len(spec.unmatched(names)) == len(rules):
            raise BuildError(f"the spec {spec.origin} names no tensor of {builder.target}: "
                             f"none of its globs matches a name such as {names[0]!r}")
        for glob in spec.unmatched(names):
            result.warnings.append(f"the spec's rule {glob!r} matches no tensor of "
                                   f"{builder.target}")

    # expectations
    laws: dict[str, TensorLaw | None] = {}
    for param in params:
        law = spec.law_for(param.names, builder.config) if spec is not None else None
        laws[param.name] = law
    findings: list[Finding] = []

    # reproducibility and independence (builds 0 again, and 1)
    again = builds.arrays(builds.seed_of(0))
    builds.grow(2)
    findings += seeding(params, again, builds.samples, policy)
    broken = {name for f in findings for name in f.tensors}
    findings += nonfinite(params, builds.samples)
    broken |= {name for f in findings if f.kind == "non-finite" for name in f.tensors}

    # units: spec laws, and framework defaults for the rest
    spec_units: list[_Unit] = []
    default_units: list[_Unit] = []
    parts: dict[str, list[_Unit]] = {}  # padding rows and per-block laws, by tensor
    for param in params:
        if param.name in broken or param.array.size == 0:
            continue
        law = laws[param.name]
        rows = _padding_rows(param, spec, builder.config) if law is not None \
            else tuple(r for r in param.role.zero_rows if 0 <= r < param.shape[0])
        zero = TensorLaw(family="constant", value=0.0, source=law.source if law else
                         "default", citation=(law or param.role.default or _NO_LAW).citation)
        extra = [_Unit(names=(param.name,), law=zero, dtype=param.dtype, rows=rows,
                       part=f"padding row{'s' if len(rows) > 1 else ''} "
                            f"{', '.join(map(str, rows))}")] if rows else []
        if law is not None:
            spec_units.append(_Unit(names=(param.name,), law=law, dtype=param.dtype,
                                    drop_rows=rows))
        elif param.role.default is not None:
            default_units.append(_Unit(names=(param.name,), law=param.role.default,
                                       dtype=param.dtype, drop_rows=rows))
        elif param.role.block_defaults and len(param.shape) > param.role.block_axis \
                and param.shape[param.role.block_axis] % len(param.role.block_defaults) == 0:
            blocks = len(param.role.block_defaults)
            extra += [_Unit(names=(param.name,), law=block_law, dtype=param.dtype,
                            block=(index, blocks, param.role.block_axis),
                            part=f"block {index}")
                      for index, block_law in enumerate(param.role.block_defaults)]
        if extra:
            parts[param.name] = extra
    pools = _pools(spec_units, by_name) + _pools(default_units, by_name)
    units = spec_units + default_units + [u for e in parts.values() for u in e] + pools
    sizes = {p.name: p.array.size for p in params}
    needed = _needed_builds(units, sizes, policy)
    per_build = max(builds.seconds / 3, 1e-4)
    in_time = math.floor(budget.seconds / per_build) if budget.seconds else needed
    final = max(2, min(needed, budget.builds if max_builds is None else max_builds, in_time,
                       max(2, budget.entries // max(total, 1))))
    _run_units(units, builds, final, policy, progress)
    _resample(units, builds, final, policy)
    result.builds = builds.count

    # per-tensor reports
    rng = derive_rng(seed, builder.target, "families")
    outcome = {u.names[0]: u for u in spec_units + default_units}
    reports: dict[str, TensorReport] = {}
    for param in params:
        unit = outcome.get(param.name)
        extra = parts.get(param.name, [])
        if unit is None and extra and all(u.block is not None for u in extra):
            # a law per block (a Keras LSTM bias): the tensor follows its default or not
            results = [r for u in extra for r in u.results]
            unit = _Unit(names=(param.name,), law=extra[0].law, results=results)
        measured = measure(builds.samples[param.name], rng=rng, policy=policy,
                           family=families)
        if param.name in broken:
            status, verdict, expected = ("spec" if laws[param.name] else "default"), "fail", \
                laws[param.name]
        elif unit is None:
            status, verdict, expected = ("buffer" if param.buffer else "own scheme"), \
                "measured", None
        elif laws[param.name] is not None:
            status, expected = "spec", unit.law
            verdict = _verdict(unit.results)
        else:
            follows = _verdict(unit.results) != "fail"
            status = "default" if follows else "own scheme"
            verdict = "pass" if follows else "own scheme"
            expected = unit.law if follows else None
            if param.buffer and not follows:
                status, verdict = "buffer", "fail"
        role = param.role
        fans = None
        if role.fan_in is not None:
            fans = {"semantic": [role.fan_in, role.fan_out],
                    "framework": list(role.framework_fans) if role.framework_fans else None}
        reports[param.name] = TensorReport(
            names=param.names, shape=param.shape, role=role.role, layer=param.layer,
            dtype=param.dtype, buffer=param.buffer, expected=expected, status=status,
            verdict=verdict, measured=measured, checks=unit.results if unit else [],
            fans=fans, depth=layer_index(param.name))
        if unit is not None and extra and extra[0].block is not None:
            reports[param.name].expected = None if status == "own scheme" else \
                TensorLaw(family="constant", value=0.0, rule="per block: " + ", ".join(
                    u.law.describe() for u in extra), source="default",
                    citation=extra[0].law.citation)
        for part in extra:
            if part.rows and battery_module.failed(part.results):
                reports[param.name].verdict = "fail"
                findings.append(Finding(
                    kind="constant", tensors=param.names,
                    detail=f"the {part.part} of {param.name} should be zeros; "
                           + _describe_failures(part.results),
                    expected="zeros", citation=part.law.citation))

    for param in params:  # known buffers: position ids, rotary frequencies, masks
        if param.buffer and param.name not in broken:
            wrong = buffers.check(param.name, param.array, builder.config)
            if wrong is not None:
                reports[param.name].verdict = "fail"
                findings.append(Finding(kind="constant", tensors=param.names,
                                        detail=f"the buffer {param.name}: {wrong}",
                                        citation=buffers.source(param.name, param.array,
                                                                builder.config)))
    findings += _spec_findings(spec_units, pools, reports, by_name, builds, policy)
    findings += _default_findings(params, reports, builds.samples, policy)
    findings += twins(params, reports, policy)
    if reload is None:  # the library's own loading path, where the model has one
        reload = (builder.api == "torch" and hasattr(model, "save_pretrained")
                  and hasattr(type(model), "from_pretrained")) or \
            (builder.api == "keras" and _is_keras_model(model))
    if reload and builder.api == "keras":
        found, warning = keras_reloaded(model, params)
        findings += found
        result.warnings += [warning] if warning else []
    elif reload:
        findings += reloaded(model, params)
    if spec is not None:
        findings += doc_mismatches(spec)
    findings = _merge(findings)
    result.findings = apply_waivers(findings, waivers, builder.target)
    result.tensors = [reports[p.name] for p in params]
    result.elapsed = time.perf_counter() - start
    return result


_NO_LAW = TensorLaw(family="constant", value=0.0)


def _is_keras_model(model) -> bool:
    import keras

    return isinstance(model, keras.Model)


def _padding_rows(param, spec, config) -> tuple[int, ...]:
    """The padding row a spec's rule names for ``param``, if any and inside the tensor."""
    rule_for = getattr(spec, "rule_for", None)  # a spec-like object may have no rules
    rule = rule_for(param.names) if rule_for is not None else None
    index = rule.padding_index(config) if rule is not None else None
    if index is None or not param.shape or not 0 <= index < param.shape[0]:
        return ()
    return (int(index),)


def _jsonable(value):
    import json

    try:
        json.dumps(value)
        return value
    except TypeError:
        return json.loads(json.dumps(value, default=str))


def _verdict(results: list[CheckResult]) -> str:
    if battery_module.failed(results):
        return "fail"
    if any(r.verdict is Verdict.SUSPICIOUS for r in results):
        return "suspicious"
    return "pass"


def _pools(units: list[_Unit], by_name: dict) -> list[_Unit]:
    """Pools of two or more tensors with the same role and the same law."""
    groups: dict[tuple, list[str]] = {}
    for unit in units:
        if not unit.law.random:
            continue
        law = unit.law
        key = (by_name[unit.names[0]].role.role, law.family, law.std, law.mean, law.low,
               law.high)
        groups.setdefault(key, []).append(unit.names[0])
    by_first = {u.names[0]: u for u in units}
    return [_Unit(names=tuple(names), law=by_first[names[0]].law, pooled=True,
                  members=tuple(by_first[n] for n in names))
            for names in groups.values() if len(names) > 1]


# --- findings --------------------------------------------------------------------------


def _describe_failures(results: list[CheckResult]) -> str:
    parts = []
    for r in battery_module.failed(results):
        if r.name == "variance":
            parts.append(f"std {math.sqrt(max(r.estimate, 0)):.4g} against "
                         f"{math.sqrt(r.expected):.4g} ({r.relative_error:+.1%} in variance, "
                         f"p={r.pvalue:.2g})")
        elif r.name == "constant":
            parts.append(r.detail)
        else:
            parts.append(f"{r.name}: {r.detail or 'p=' + format(r.pvalue, '.2g')}")
    return "; ".join(parts)


def _kind(results: list[CheckResult], law: TensorLaw, measured: Measured) -> str:
    names = {r.name for r in battery_module.failed(results)}
    if law.random and measured.constant:
        return "constant"
    if "constant" in names:
        return "constant"
    if "variance" in names and depends_on_depth(law):
        return "depth-law"
    # the most specific diagnosis first: values past a bounded law's bounds, a shifted
    # mean, then the distribution (a uniform where a normal is expected also fails the
    # normal's extremes: that is the shape's finding, not the support's)
    support = next((r for r in results if r.name == "support"), None)
    past_bounds = support is not None and support.verdict is Verdict.FAIL and (
        law.family != "normal" or "outside" in support.detail)
    if "variance" in names:
        return "variance"
    if past_bounds:
        return "support"
    for test in ("mean", "shape", "support"):
        if test in names:
            return TEST_KINDS[test]
    return "variance"


def _spec_findings(spec_units: list[_Unit], pools: list[_Unit],
                   reports: dict[str, TensorReport], by_name: dict, builds: _Builds,
                   policy: Policy) -> list[Finding]:
    findings = []
    failing = {u.names[0] for u in spec_units if battery_module.failed(u.results)}
    for unit in spec_units:
        name = unit.names[0]
        if name not in failing:
            continue
        report = reports[name]
        param = by_name[name]
        default = param.role.default
        kind = _kind(unit.results, unit.law, report.measured)
        if default is not None and default != unit.law:
            sample = as_sample(builds.samples[name][:builds.count])
            if not battery_module.failed(battery(sample, default, policy=policy,
                                                 dtype=param.dtype)):
                kind = "left-on-default"
        detail = _describe_failures(unit.results)
        if kind == "left-on-default":
            detail = (f"follows the framework default {default.describe()} "
                      f"({default.citation}) instead of the spec's law; {detail}")
        findings.append(Finding(
            kind=kind, tensors=param.names, detail=detail, expected=unit.law.describe(),
            measured=_measured_text(report.measured), citation=unit.law.citation,
            numbers=_numbers(unit.results)))
    for pool in pools:
        if not pool.law.source or pool.names[0] not in reports \
                or reports[pool.names[0]].status != "spec":
            continue
        if battery_module.failed(pool.results) and not failing & set(pool.names):
            findings.append(Finding(
                kind=_kind(pool.results, pool.law, reports[pool.names[0]].measured),
                tensors=tuple(n for name in pool.names for n in by_name[name].names),
                detail=f"pooled over {len(pool.names)} tensors: "
                       + _describe_failures(pool.results),
                expected=pool.law.describe(), citation=pool.law.citation,
                numbers=_numbers(pool.results)))
    return findings


def _numbers(results: list[CheckResult]) -> dict:
    return {r.name: {"estimate": _num(r.estimate), "expected": _num(r.expected),
                     "pvalue": _num(r.pvalue), "n": r.n} for r in results}


def _measured_text(measured: Measured) -> str:
    if not measured.finite:
        return "non-finite values"
    if measured.constant:
        return f"constant {measured.mean:g}"
    low, high = measured.std_interval
    text = f"std {measured.std:.4g} [{low:.4g}, {high:.4g}], mean {measured.mean:.3g}"
    return text + (f", {measured.family}" if measured.family else "")


def _log_variance(sample: np.ndarray) -> tuple[float, float]:
    """``log s^2`` and its standard error (kurtosis-corrected)."""
    n = sample.size
    sample = sample.astype(np.float64)
    centered = sample - sample.mean()
    m2 = float(np.mean(centered**2))
    m4 = float(np.mean(centered**4))
    kurtosis = m4 / (m2 * m2) if m2 > 0 else 3.0
    return (math.log(m2) if m2 > 0 else -math.inf), math.sqrt(max(kurtosis - 1, 1e-12) / n)


def _differs(first: np.ndarray, second: np.ndarray, alpha: float) -> bool:
    """Do two samples have different variances (a two-sided z-test on log variances)?"""
    a, sa = _log_variance(first)
    b, sb = _log_variance(second)
    if not (math.isfinite(a) and math.isfinite(b)):
        return a != b
    z = (a - b) / math.hypot(sa, sb)
    return float(2 * special.ndtr(-abs(z))) < alpha


def _default_findings(params, reports: dict[str, TensorReport],
                      samples: dict[str, list[np.ndarray]], policy: Policy) -> list[Finding]:
    """Findings of tensors compared with their framework default (no spec law)."""
    findings = []
    by_role: dict[str, list] = {}
    for param in params:
        report = reports[param.name]
        if report.status in ("default", "own scheme") and param.role.default is not None \
                and not param.buffer:
            by_role.setdefault(param.role.role, []).append(param)
        # fan-mismatch: the default is followed, and the fans it reads from the stored shape
        # give another law than the semantic fans would (a fan-out read wrongly by a
        # fan-in scheme changes nothing: no finding)
        role = param.role
        if report.status == "default" and role.law_mismatch:
            framework = role.framework_fans
            findings.append(Finding(
                kind="fan-mismatch", tensors=param.names,
                detail=f"{param.layer} draws {role.default.describe()} with fans "
                       f"(in={framework[0]}, out={framework[1]}) read from "
                       + (f"the stored shape {list(param.shape)}" if role.fan_in is not None
                          else "its weight's shape")
                       + (f"; the map's semantic fans are (in={role.fan_in}, "
                          f"out={role.fan_out})" if role.fan_in is not None else
                          "; with the weight's semantic fans")
                       + f", the same scheme gives {role.semantic_default.describe()}",
                expected=role.semantic_default.describe(),
                measured=_measured_text(report.measured), citation=role.default.citation,
                numbers={"framework_fans": list(framework) if framework else None,
                         "semantic_fans": [role.fan_in, role.fan_out],
                         "default_std": math.sqrt(role.default.variance),
                         "semantic_std": math.sqrt(role.semantic_default.variance)}))
        # a weight matrix that is constant where its layer documents a random init
        if report.status != "spec" and report.measured.constant and len(param.shape) >= 2 \
                and role.default is not None and role.default.random and not param.buffer:
            findings.append(Finding(
                kind="constant", tensors=param.names,
                detail=f"every entry is {report.measured.mean:g} in each build, where "
                       f"{param.layer} documents a random init ({role.default.describe()})",
                expected=role.default.describe(), measured=_measured_text(report.measured),
                citation=role.default.citation))
    alpha = policy.alpha
    for role, members in by_role.items():
        # a zero-initialized weight matrix is a deliberate exception, not the model's
        # scheme (Fixup, zero-init residual branches); zeroed biases are the scheme
        own = [p for p in members if reports[p.name].status == "own scheme"
               and (len(p.shape) < 2 or not reports[p.name].measured.constant)]
        on_default = [p for p in members if reports[p.name].status == "default"
                      and p.role.default.random and not _same_across_seeds(samples[p.name])]
        # the minority of a role left on the default: with as many tensors on the default
        # as off it, the default may just be the model's scheme (GPT-2's N(0, 0.02) is
        # HF Conv1D's default; only its residual projections are scaled)
        if not own or not on_default or len(on_default) >= len(own):
            continue
        own_sample = as_sample([a for p in own for a in samples[p.name]])
        for param in on_default:
            mine = as_sample(samples[param.name])
            if mine.size < 2 or not _differs(mine, own_sample, alpha / len(on_default)):
                continue
            findings.append(Finding(
                kind="left-on-default", tensors=param.names,
                detail=f"follows {param.layer}'s default {param.role.default.describe()} while "
                       f"{len(own)} other {role} tensor(s) follow the model's own scheme "
                       f"(pooled std {own_sample.std():.4g}; e.g. {own[0].name})",
                expected=f"the model's own scheme, like {own[0].name}",
                measured=_measured_text(reports[param.name].measured),
                citation=param.role.default.citation))
    return findings


def _same_across_seeds(arrays: list[np.ndarray]) -> bool:
    """The first two builds (two seeds) equal: a deterministic table (deformable
    attention's grid of sampling offsets), which follows no random law."""
    return len(arrays) > 1 and np.array_equal(arrays[0], arrays[1])


def _merge(findings: list[Finding]) -> list[Finding]:
    """One finding per kind and expectation: the tensors of the same deviation together,
    in the order of :data:`PRIORITY`, then the rest."""
    merged: dict[tuple, Finding] = {}
    for finding in findings:
        key = (finding.kind, finding.expected, finding.detail if finding.kind in
               ("identical", "correlated", "seeding", "uninitialized", "doc-mismatch",
                "reinitialized-on-load", "fan-mismatch") else None)
        if finding.kind in ("fan-mismatch",):
            key = (finding.kind, finding.detail)
        if key in merged and finding.kind not in ("identical", "correlated"):
            first = merged[key]
            merged[key] = replace(first, tensors=tuple(dict.fromkeys(
                (*first.tensors, *finding.tensors))))
        else:
            merged[key if key not in merged else (*key, id(finding))] = finding
    order = {kind: i for i, kind in enumerate(PRIORITY)}
    return sorted(merged.values(), key=lambda f: order.get(f.kind, len(order)))
