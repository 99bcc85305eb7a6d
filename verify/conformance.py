"""Does a sampler draw weights from the law its scheme claims, at a given shape?

A *sampler* is any callable ``sampler(shape, seed) -> array`` (the protocol every
adapter provides). :func:`check_shape` draws as many tensors as the power target
needs (small tensors are drawn repeatedly, up to ``max_calls`` calls), then runs
the battery of :mod:`verify.stats` against the claimed law: mean, variance,
support, distribution shape and independence between entries, rows and calls.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from hypothesis import strategies as st

from verify import stats
from verify.explore import Exploration, Observer, explore
from verify.laws import (
    Claim,
    Exact,
    Orthogonal,
    StatisticalClaim,
    claim_cdf,
    claim_is_gaussian,
    claim_layout,
)
from verify.precision import LOW_PRECISION, is_complex, rounded
from verify.schemes import InitSpec
from verify.stats import DEFAULT_POLICY, CheckResult, Policy, Verdict, overall_verdict

Sampler = Callable[[tuple[int, ...], int], np.ndarray]

DEFAULT_MAX_CALLS = 20_000
"""At most this many calls per shape: tiny tensors get a larger, reported, MDE."""


def draw_tensors(
    sampler: Sampler, shape: tuple[int, ...], samples: int, rng: np.random.Generator
) -> np.ndarray:
    """``(calls, *shape)``: enough calls with fresh seeds to hold ``samples`` entries."""
    calls = max(1, math.ceil(samples / math.prod(shape)))
    return Draws(sampler, shape, calls, rng).first(calls)


class Draws:
    """Up to ``calls`` tensors of ``shape`` from ``sampler``, drawn as they are asked for.

    ``first(k)`` returns the first ``k`` calls, ``(k, *shape)``, drawing only those not
    drawn yet: the looks of a sequential check share their entries. Each call gets a
    fresh seed from ``rng``. A sampler with a ``stacked(shape, count, seed)`` method
    (a flat fill whose slices are independent draws of one law) draws the new calls in
    blocks of one size (the first request's), one call of the library and one seed per
    block: libraries that compile per array shape (JAX, Keras on JAX) compile once. Every
    other sampler is called once per tensor, in a plain loop.
    """

    def __init__(self, sampler: Sampler, shape: tuple[int, ...], calls: int,
                 rng: np.random.Generator) -> None:
        self.sampler, self.shape, self.calls, self.rng = sampler, tuple(shape), calls, rng
        self.stacked = getattr(sampler, "stacked", None)
        self.block = 0
        self.buffer: np.ndarray | None = None
        self.drawn = 0

    def first(self, calls: int) -> np.ndarray:
        if not 0 < calls <= self.calls:
            raise ValueError(f"asked for {calls} calls of at most {self.calls}")
        if calls > self.drawn:
            self._draw(calls)
        return self.buffer[:calls]

    def _draw(self, calls: int) -> None:
        if self.stacked is not None:
            self.block = self.block or calls
            while self.drawn < calls:
                seed = int(self.rng.integers(2**63 - 1))
                block = np.asarray(self.stacked(self.shape, self.block, seed))
                if self.buffer is None:
                    self._allocate(block.dtype, -(-self.calls // self.block) * self.block)
                self.buffer[self.drawn:self.drawn + self.block] = block
                self.drawn += self.block
            return
        sampler, shape, start = self.sampler, self.shape, self.drawn
        for index, seed in enumerate(self.rng.integers(0, 2**63 - 1, size=calls - start)):
            value = np.asarray(sampler(shape, int(seed)))
            if self.buffer is None:
                self._allocate(value.dtype, self.calls)
            self.buffer[start + index] = value
        self.drawn = calls

    def _allocate(self, dtype: np.dtype, calls: int) -> None:
        self.buffer = np.empty((calls, *self.shape), dtype=dtype)


@dataclass(frozen=True)
class ShapeCheck:
    """The battery's results for one shape."""

    claim: StatisticalClaim
    shape: tuple[int, ...]
    results: tuple[CheckResult, ...]
    first: tuple[CheckResult, ...] = ()
    """Each test's result at the look the sequential stage stopped at, before any
    resampling."""
    looks: tuple[int, ...] = ()
    """The planned looks' sample sizes (entries)."""
    stopped_at: int = 0
    """Entries at the look where the sequential stage stopped."""

    @property
    def verdict(self) -> Verdict:
        return overall_verdict(self.results)

    @property
    def stopped_early(self) -> bool:
        return bool(self.looks) and self.stopped_at < self.looks[-1]

    @property
    def variance_ratio(self) -> float:
        """Measured over claimed variance."""
        variance = next(r for r in self.results if r.name == "variance")
        return variance.estimate / variance.expected

    def failures(self) -> list[CheckResult]:
        return [r for r in self.results if r.verdict is not Verdict.PASS]

    def summary(self) -> str:
        lines = [f"{self.claim.describe()} shape={self.shape}: {self.verdict}"]
        lines += [f"  {r.summary()}" for r in self.results]
        return "\n".join(lines)


def sample_size(claim: StatisticalClaim, law, policy: Policy = DEFAULT_POLICY) -> int:
    """Entries the battery's last look holds: enough for the variance test, at the last
    look's size (:attr:`~verify.stats.Policy.final_alpha`), to detect ``policy.effect``
    with ``policy.power`` under ``law`` (the claim at one shape)."""
    kurtosis = float(law.stats(moments="k")) + 3.0
    return stats.variance_sample_size(policy=replace(policy, alpha=policy.final_alpha),
                                      kurtosis=kurtosis, gaussian=claim_is_gaussian(claim))


def check_shape(
    sampler: Sampler,
    claim: StatisticalClaim,
    shape: tuple[int, ...],
    *,
    seed: int,
    policy: Policy = DEFAULT_POLICY,
    max_calls: int = DEFAULT_MAX_CALLS,
    variance: float | None = None,
    samples: int | None = None,
    dtype: str = "float32",
) -> ShapeCheck:
    """Run the whole battery on tensors of ``shape`` drawn from ``sampler``.

    The claimed law is ``claim.law(shape)``; for a scheme (``InitSpec``) a test may
    pass its own, independently computed ``variance`` instead of the scheme's.

    Sequential stage (:func:`verify.stats.sequential`): the battery looks at the
    sample at geometrically growing sizes (:func:`verify.stats.look_sizes`), up to
    ``samples`` entries (default: the power target of ``policy``, from
    :func:`sample_size`; at most ``max_calls`` calls), with ``alpha`` spent over the
    looks, and stops at the first look where a test fails: a gross deviation fails
    after a few thousand entries. Then every test still suspicious at the last look
    resamples on fresh data (:func:`verify.stats.resolve`).

    ``dtype`` is the dtype the sampler was asked for: in ``float16`` and ``bfloat16`` the
    claimed law is the law of its values rounded to that dtype
    (:class:`verify.precision.RoundedLaw`), not the float64 ideal.
    """
    shape = tuple(int(d) for d in shape)
    if variance is not None and isinstance(claim, InitSpec):
        family = claim.family
        law = family.law(math.sqrt(variance))
        cdf = family.cdf(math.sqrt(variance))
    else:
        law = claim.law(shape)
        cdf = claim_cdf(claim, shape)
    gaussian = claim_is_gaussian(claim)
    cdf_before = None
    if dtype in LOW_PRECISION:
        law = rounded(law, dtype)
        cdf, cdf_before, gaussian = law.cdf, law.cdf_before, False
    mean, variance = float(law.mean()), float(law.var())
    numel = math.prod(shape)
    target = samples or sample_size(claim, law, policy)
    final = min(target, max_calls * numel)
    rng = np.random.default_rng(seed)
    looks = stats.look_sizes(final, policy=policy, unit=numel)

    def sample(tensors: np.ndarray) -> stats.Sample:
        found = stats.Sample(tensors)
        if not found.finite:
            raise TargetError(f"the initializer returned NaN or Inf at shape {shape}")
        return found

    def draw(samples: int, generator: np.random.Generator) -> stats.Sample:
        return sample(draw_tensors(sampler, shape, samples, generator))

    tests: list[Callable[[stats.Sample, Policy], CheckResult]] = [
        lambda x, p: stats.mean_test(x, mean, policy=p),
        lambda x, p: stats.variance_test(x, variance, gaussian=gaussian, policy=p),
        lambda x, p: stats.support_test(x, law, policy=p),
        lambda x, p: stats.shape_test(x, cdf, policy=p, cdf_before=cdf_before),
        lambda x, p: stats.independence_test(x, policy=p),
    ]
    draws = Draws(sampler, shape, looks[-1] // numel, rng)
    # one pass over the entries of each look, shared by every test
    seen = stats.sequential(tests, lambda n: sample(draws.first(n // numel)), looks,
                            policy=policy)
    first = seen.results
    if any(r.verdict is Verdict.FAIL for r in first):
        results = first  # decided: the tests still suspicious need no second sample
    else:
        results = tuple(
            stats.resolve(lambda x, test=test: test(x, policy), draw, seen.n, rng,
                          policy=policy, first=result)
            for test, result in zip(tests, first, strict=True)
        )
    return ShapeCheck(claim, shape, results, first, looks, seen.n)


def variance_check(
    sampler: Sampler, spec: InitSpec, shape: tuple[int, ...], expected: float, *, seed: int,
    policy: Policy = DEFAULT_POLICY, name: str = "Var[w]", max_calls: int = DEFAULT_MAX_CALLS,
) -> CheckResult:
    """Only the variance of a sampler's weights at ``shape``, against ``expected``
    (``spec`` says which distribution, hence which null law, to use)."""
    gaussian = spec.dist == "normal"
    size = stats.variance_sample_size(policy=policy, kurtosis=spec.family.kurtosis,
                                      gaussian=gaussian)
    size = min(size, max_calls * math.prod(shape))
    rng = np.random.default_rng(seed)

    def draw(count: int, generator: np.random.Generator) -> np.ndarray:
        return draw_tensors(sampler, shape, count, generator)

    def test(samples: np.ndarray) -> CheckResult:
        return stats.variance_test(samples, expected, gaussian=gaussian, policy=policy, name=name)

    return stats.resolve(test, draw, size, rng, policy=policy)


# --- check: a target against a claim, over the shapes hypothesis draws ------------------

MAX_NUMEL = 2**26
"""Largest tensor ``check`` asks for (64 Mi entries, 256 MiB in float32)."""


class TargetError(Exception):
    """The target broke its contract (raised, hung, wrong shape or dtype, NaN/Inf, did not
    fill in place): not a statistical verdict, and reported as one line."""


def _contract_result(name: str, ok: bool, detail: str) -> CheckResult:
    return CheckResult(name, float(ok), 1.0, (float(ok), float(ok)), 0.0, 1.0 if ok else 0.0,
                       0, math.nan, "exact", Verdict.PASS if ok else Verdict.FAIL, detail=detail)


def call_target(sampler: Sampler, shape: tuple[int, ...], seed: int, *,
                finite: bool = True) -> np.ndarray:
    """One call, with the contract checked: any failure raises :class:`TargetError`.

    ``finite=False`` leaves the NaN/Inf check to the caller (:func:`check_shape`
    finds them in its one pass over the whole sample)."""
    from verify.adapters import ContractError, DtypeUnsupported

    try:
        value = sampler(shape, seed)
    except ContractError as error:
        raise TargetError(f"{error.check}: {error}") from None
    except (TargetError, DtypeUnsupported):
        raise
    except Exception as error:  # the initializer itself raised: report it, do not crash
        raise TargetError(f"the initializer raised {type(error).__name__}: {error} "
                          f"(shape {shape})") from None
    return validate_output(value, shape, finite=finite,
                           complex_=is_complex(getattr(sampler, "dtype", "float32")))


def validate_output(value, shape: tuple[int, ...], *, finite: bool = True,
                    complex_: bool = False) -> np.ndarray:
    """``value`` as an array, if it is what an initializer must return for ``shape``: that
    shape, a float dtype (complex where ``complex_``: asked for a complex dtype), and
    (with ``finite``) no NaN or Inf; else :class:`TargetError`."""
    try:
        array = np.asarray(value)
    except Exception as error:  # an object NumPy cannot convert
        raise TargetError(f"the initializer returned {type(value).__name__}, not an array "
                          f"({error})") from None
    if array.shape != tuple(shape):
        raise TargetError(f"asked for shape {tuple(shape)}, the initializer returned "
                          f"{array.shape}" + ("" if array.ndim else
                                              f" (a {type(value).__name__})"))
    if complex_ and array.dtype.kind != "c":
        raise TargetError(f"asked for a complex dtype, the initializer returned dtype "
                          f"{array.dtype} (shape {shape})")
    if not complex_ and array.dtype.kind != "f":
        raise TargetError(f"the initializer returned dtype {array.dtype}, not a float dtype "
                          f"(shape {shape})")
    if finite and not np.all(np.isfinite(array)):
        raise TargetError(f"the initializer returned NaN or Inf at shape {shape}")
    return array


def call_checks(sampler: Sampler, shape: tuple[int, ...], seed: int, *,
                coincidence: float = 0.0, policy: Policy = DEFAULT_POLICY) -> list[CheckResult]:
    """Calls with different seeds must differ (a sampler that ignores its seed, or
    returns a cached tensor, repeats itself).

    ``coincidence`` is the chance that two independent entries are equal: 0 for a
    continuous law in float32 or wider (about ``2^-24`` per entry), but a low-precision
    dtype has few values (:meth:`verify.precision.RoundedLaw.coincidence`: 0.3% for a
    bfloat16 ``N(1, 0.5^2)``), and two 1-element tensors then agree by chance. The check
    compares as many calls of each seed as make a chance repeat of all of them less
    likely than ``policy.alpha``."""
    calls = 1
    if coincidence >= 1.0:
        return []  # every draw is the same value: a repeat says nothing
    if coincidence > 0.0:
        entries = math.ceil(math.log(policy.alpha) / math.log(coincidence))
        calls = min(MAX_REPEAT_CALLS, max(1, math.ceil(entries / max(1, math.prod(shape)))))
    # seeds seed, seed + 2, ... against seed + 1, seed + 3, ...: one call is seed, seed + 1
    repeated = all(np.array_equal(call_target(sampler, shape, seed + 2 * call),
                                  call_target(sampler, shape, seed + 2 * call + 1))
                   for call in range(calls))
    return [_contract_result("fresh draws", not repeated,
                             "two seeds gave identical tensors" if repeated
                             else "different seeds give different tensors")]


MAX_REPEAT_CALLS = 1000
"""The most calls per seed ``call_checks`` compares (a law the dtype holds in a few values)."""


def orthogonality_check(sampler: Sampler, claim: Orthogonal, shape: tuple[int, ...],
                        seed: int) -> list[CheckResult]:
    matrix = claim.matrix(call_target(sampler, shape, seed).astype(np.float64))
    rows, columns = matrix.shape
    gram = matrix @ matrix.T if rows <= columns else matrix.T @ matrix
    target = claim.gain**2 * np.eye(gram.shape[0])
    error = float(np.max(np.abs(gram - target))) / claim.gain**2
    tolerance = 1e-4 * math.sqrt(max(rows, columns))  # float32 round-off
    return [_contract_result("orthogonality", error <= tolerance,
                             f"max |W W^T - gain^2 I| / gain^2 = {error:.2e} "
                             f"(tolerance {tolerance:.1e}) for the {rows}x{columns} matrix")]


def exact_check(sampler: Sampler, claim: Exact, shape: tuple[int, ...],
                seed: int) -> list[CheckResult]:
    array = call_target(sampler, shape, seed).astype(np.float64)
    expected = claim.expected(shape)
    error = float(np.max(np.abs(array - expected))) if array.size else 0.0
    return [_contract_result("value", error <= 1e-6 * max(1.0, float(np.max(np.abs(expected)))),
                             f"max |W - expected| = {error:.2e}")]


def shape_results(sampler: Sampler, claim: Claim, shape: tuple[int, ...], *, seed: int,
                  policy: Policy = DEFAULT_POLICY,
                  max_calls: int = DEFAULT_MAX_CALLS,
                  dtype: str = "float32") -> list[CheckResult]:
    """Every check of ``claim`` at one shape."""
    if any(d < 1 for d in shape):
        raise ValueError(f"every dimension must be at least 1, got shape {tuple(shape)}")
    if hasattr(claim, "law"):
        claim.law(shape)  # a shape the claim has no law for: refused before any call
    if math.prod(shape) > MAX_NUMEL:
        raise TargetError(f"shape {shape} has {math.prod(shape)} entries, above the cap of "
                          f"{MAX_NUMEL}; check smaller shapes")
    if isinstance(claim, Exact):
        return exact_check(sampler, claim, shape, seed)
    if isinstance(claim, Orthogonal):
        # A 1x1 orthogonal matrix is +-gain: two seeds agree half the time, so only
        # larger matrices (a continuous law) must differ between seeds.
        fresh = call_checks(sampler, shape, seed) if math.prod(shape) > 1 else []
        return fresh + orthogonality_check(sampler, claim, shape, seed)
    coincidence = (rounded(claim.law(shape), dtype).coincidence() if dtype in LOW_PRECISION
                   else 0.0)
    results = call_checks(sampler, shape, seed, coincidence=coincidence, policy=policy)
    if is_complex(dtype):
        from verify.precision.complex import complex_results

        return results + complex_results(_contracted(sampler), claim, shape,
                                         seed=seed, policy=policy, max_calls=max_calls)
    checked = check_shape(_contracted(sampler), claim, shape, seed=seed, policy=policy,
                          max_calls=max_calls, dtype=dtype)
    return results + list(checked.results)


class _Contracted:
    """A sampler whose every call has its contract checked (:func:`call_target`); a
    stacked fill is checked the same way, for its ``(count, *shape)`` result."""

    def __init__(self, sampler: Sampler) -> None:
        self.sampler = sampler
        self.dtype = getattr(sampler, "dtype", "float32")
        if getattr(sampler, "stacked", None) is not None:
            self.stacked = self._stacked

    def __call__(self, shape: tuple[int, ...], seed: int) -> np.ndarray:
        return call_target(self.sampler, shape, seed, finite=False)

    def _stacked(self, shape: tuple[int, ...], count: int, seed: int) -> np.ndarray:
        stacked = self.sampler.stacked
        draw = _Dtyped(lambda _, s: stacked(shape, count, s), self.dtype)
        return call_target(draw, (count, *shape), seed, finite=False)


class _Dtyped:
    def __init__(self, function: Callable, dtype: str) -> None:
        self.function, self.dtype = function, dtype

    def __call__(self, shape: tuple[int, ...], seed: int) -> np.ndarray:
        return self.function(shape, seed)


def _contracted(sampler: Sampler) -> Sampler:
    return _Contracted(sampler)


@dataclass
class Report:
    """The outcome of :func:`check`: verdict, the evidence per shape, the counterexample."""

    target: str
    claim: str
    exploration: Exploration
    seed: int
    seconds: float
    generation_seconds: float
    reproduce: str = ""

    @property
    def verdict(self) -> Verdict:
        if self.exploration.counterexample is not None:
            return Verdict.FAIL
        return overall_verdict([r for e in self.exploration.examples for r in e.results])

    @staticmethod
    def variance_ratio(results: tuple[CheckResult, ...]) -> float | None:
        """Measured over claimed variance, if one of ``results`` is the variance test."""
        variance = next((r for r in results if r.name == "variance"), None)
        return None if variance is None else variance.estimate / variance.expected

    @property
    def counterexample(self) -> dict | None:
        example = self.exploration.counterexample
        if example is None:
            return None
        failing = [r for r in example.results if r.verdict is Verdict.FAIL]
        return {
            "shape": list(example.case),
            "failed": [r.name for r in failing],
            "variance_ratio": self.variance_ratio(example.results),
            "checks": [r.to_dict() for r in example.results],
            # replace, not format: a snippet may hold other braces (a {seed}, a dict)
            "reproduce": self.reproduce.replace("{shape}", ",".join(map(str, example.case))),
        }

    @property
    def shapes_tested(self) -> list[tuple[int, ...]]:
        """Distinct shapes, in order (hypothesis replays a failing shape at the end)."""
        return list(dict.fromkeys(tuple(e.case) for e in self.exploration.examples))

    @property
    def shown(self):
        """The example whose checks the report shows: the counterexample, else the worst."""
        return self.exploration.worst

    def to_dict(self) -> dict:
        from verify.versions import versions

        shown = self.shown
        return {
            "target": self.target,
            "claim": self.claim,
            "verdict": self.verdict.value,
            "shape": None if shown is None else list(shown.case),
            "checks": [] if shown is None else [r.to_dict() for r in shown.results],
            "shapes_tested": [list(shape) for shape in self.shapes_tested],
            "counterexample": self.counterexample,
            "seed": self.seed,
            "seconds": round(self.seconds, 3),
            "generation_seconds": round(self.generation_seconds, 3),
            "versions": versions(),
        }

    def table(self) -> str:
        lines = [f"{self.target}: {self.verdict} against {self.claim} "
                 f"({len(self.shapes_tested)} shapes, {self.seconds:.1f} s, of which "
                 f"{self.generation_seconds:.1f} s generating)"]
        shown = self.shown
        if shown is not None:
            lines.append(f"  at shape {tuple(shown.case)}:")
            lines += [f"    {r.summary()}" for r in shown.results]
        counterexample = self.counterexample
        if counterexample is not None:
            ratio = counterexample["variance_ratio"]
            lines.append(f"  minimal failing shape {tuple(counterexample['shape'])}"
                         + (f", measured/claimed variance {ratio:.4g}" if ratio else "")
                         + f"; reproduce: {counterexample['reproduce']}")
        return "\n".join(lines)


class _Timed:
    """Wraps a sampler and adds up the time spent inside it."""

    def __init__(self, sampler: Sampler) -> None:
        self.sampler, self.seconds = sampler, 0.0
        self.dtype = getattr(sampler, "dtype", "float32")
        if getattr(sampler, "stacked", None) is not None:
            self.stacked = self._stacked

    def _stacked(self, shape: tuple[int, ...], count: int, seed: int) -> np.ndarray:
        start = time.perf_counter()
        try:
            return self.sampler.stacked(shape, count, seed)
        finally:
            self.seconds += time.perf_counter() - start

    def __call__(self, shape: tuple[int, ...], seed: int) -> np.ndarray:
        start = time.perf_counter()
        try:
            return self.sampler(shape, seed)
        finally:
            self.seconds += time.perf_counter() - start


def check(
    sampler: Sampler,
    claim: Claim,
    *,
    shapes: st.SearchStrategy[tuple[int, ...]] | None = None,
    seed: int = 0,
    policy: Policy = DEFAULT_POLICY,
    max_examples: int = 8,
    name: str = "target",
    reproduce: str = "",
    max_calls: int = DEFAULT_MAX_CALLS,
    progress: Observer | None = None,
    dtype: str | None = None,
) -> Report:
    """Does ``sampler`` draw from ``claim`` at every shape hypothesis draws?

    Hypothesis draws shapes from ``shapes`` (default: 2-D to 5-D weight shapes in the
    claim's layout); every shape runs the full battery; the first failing shape is
    shrunk to a minimal one. ``reproduce`` is a command with a ``{shape}`` placeholder.
    ``progress`` is told when each shape starts and ends (see :class:`verify.explore.Observer`;
    the command line's is :class:`verify.check_progress.CheckProgress`).
    A broken contract raises :class:`TargetError`. ``dtype`` is the dtype the sampler draws
    (default: its ``dtype``, else float32), which decides the law tested
    (:func:`check_shape`).
    """
    from verify.strategies import weight_shapes

    dtype = dtype or getattr(sampler, "dtype", "float32")
    layout = claim_layout(claim) or "oihw"
    strategy = shapes if shapes is not None else weight_shapes(layout=layout, max_numel=2**20)
    timed = _Timed(sampler)
    start = time.perf_counter()
    errors: list[TargetError] = []

    # A case's seed derives from the run seed and the case, so a shape hypothesis asks
    # for again (shrinking revisits shapes, and replays the minimal one) has the same
    # results: computed once.
    done: dict[tuple[tuple[int, ...], int], list[CheckResult]] = {}

    def run(shape: tuple[int, ...], case_seed: int) -> list[CheckResult]:
        key = (tuple(shape), case_seed)
        if key not in done:
            try:
                done[key] = shape_results(timed, claim, tuple(shape), seed=case_seed,
                                          policy=policy, max_calls=max_calls, dtype=dtype)
            except TargetError as error:
                errors.append(error)
                raise
        return done[key]

    try:
        exploration = explore(name, strategy, run, seed=seed, max_examples=max_examples,
                              observer=progress)
    except TargetError:
        raise errors[-1] from None
    return Report(name, claim.describe(), exploration, seed, time.perf_counter() - start,
                  timed.seconds, reproduce)
