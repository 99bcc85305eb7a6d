"""Audit whole models: every tensor's law against its layer's default, its config and its
paper, and the anomalies that need no spec.

In Python, for a model library's own CI::

    from verify.audit import assert_audit_passes

    def test_init_follows_the_paper():
        assert_audit_passes(build_model, api="torch", spec="init.toml")

:func:`audit_model` returns the :class:`~verify.audit.engine.AuditResult`;
:func:`assert_audit_passes` raises ``AssertionError`` with the findings table and a
replay line. The config strategies are :mod:`verify.audit.configs`.
:func:`compare_models` compares two models (a model and its port to another framework)
tensor by tensor (:mod:`verify.audit.compare`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from verify.audit.builders import BuildError, builder_of
from verify.audit.compare import ModelComparison, compare_models
from verify.audit.engine import AuditResult, Budget, TensorReport
from verify.audit.findings import KINDS, Finding, Waiver, load_waivers
from verify.seeding import run_seed
from verify.stats import DEFAULT_POLICY, Policy

__all__ = ["KINDS", "AuditResult", "Budget", "BuildError", "Finding", "ModelComparison",
           "TensorReport", "Waiver", "assert_audit_passes", "audit_model", "compare_models",
           "load_waivers"]


def _spec(spec: Any, model_class: str | None, config: Mapping[str, Any] | None = None):
    """The spec to audit against: ``spec`` (a file, or a Spec), else a transformers
    class's built-in spec, else the generic init's config semantics where the model
    keeps it (:mod:`verify.audit.specs.generic`), else None."""
    if spec is None:
        if model_class is None:
            return None
        try:
            from verify.audit.specs import builtin_spec
        except ImportError:
            return None
        found = builtin_spec(model_class)
        if found is None:
            from verify.audit.specs.generic import generic_spec

            found = generic_spec(model_class, config)
        return found
    if isinstance(spec, str | Path):
        from verify.audit.spec import load_spec

        return load_spec(spec)
    return spec


def audit_model(
    builder: Callable | str,
    *,
    api: str | None = None,
    spec: Any = None,
    config: Mapping[str, Any] | None = None,
    kwargs: Mapping[str, Any] | None = None,
    waivers: Sequence[Waiver] | str | Path = (),
    seed: int | None = None,
    examples: int = 0,
    timeout: float = 60.0,
    policy: Policy = DEFAULT_POLICY,
    progress: Callable | None = None,
    budget: Budget | None = None,
) -> AuditResult:
    """Audit the model ``builder`` builds.

    ``builder`` is a callable of ``api`` (see :mod:`verify.audit.builders`: for torch,
    ``fn(**kwargs) -> nn.Module``) or a target string: ``transformers:GPT2Model``,
    ``torch:nn.MultiheadAttention`` or ``package.module:attribute``. ``spec`` is a
    :class:`~verify.audit.spec.Spec`, a TOML file's path, or None (the built-in spec of a
    ``transformers:`` target, else the framework defaults and anomalies only).
    ``config`` overrides a transformers config's fields; ``examples`` above 0 lets
    hypothesis draw configs around it (transformers targets). ``budget`` bounds the
    builds (:class:`~verify.audit.engine.Budget`; default: 256 builds, 8 s of building).
    """
    import time

    from verify.audit import engine

    start = time.perf_counter()
    seed = run_seed() if seed is None else int(seed)
    resolved = builder_of(builder, api=api, kwargs=kwargs, config=config, timeout=timeout)
    if isinstance(waivers, str | Path):
        waivers = load_waivers(waivers)
    resolved_spec = _spec(spec, resolved.model_class, config)
    budget = budget or engine.DEFAULT_BUDGET
    result = engine.run(resolved, spec=resolved_spec, waivers=waivers, seed=seed,
                        policy=policy, progress=progress, budget=budget)
    if examples > 0 and resolved.model_class is not None:
        from verify.audit.explore import explore_configs

        explore_configs(result, resolved, spec=resolved_spec, waivers=waivers,
                        examples=examples, seed=seed, policy=policy, config=config or {},
                        budget=budget)
    result.elapsed = time.perf_counter() - start  # resolving and exploring included
    return result


def assert_audit_passes(builder: Callable | str, **options: Any) -> AuditResult:
    """:func:`audit_model`, raising ``AssertionError`` with the findings table and the
    replay line when any finding is not waived. Returns the result when it passes."""
    result = audit_model(builder, **options)
    if result.verdict != "pass":
        raise AssertionError(f"the audit of {result.target} found "
                             f"{sum(f.blocking for f in result.findings)} finding(s):\n"
                             f"{result.table()}")
    return result
