"""Property-based over configs: hypothesis draws configs around the starting one, audits
each with a few builds, and shrinks a new finding to the minimal config that shows it.

A finding is *new* when it concerns a tensor (its name with layer indices written ``*``)
that had no finding at the starting config: so a bug that only shows when a
config field leaves its default (a module type that ignores ``initializer_range``, a
depth scaling that is applied only for one layer count) is found because it is drawn.
Each drawn config is audited with at most :data:`BUILDS_PER_EXAMPLE` builds, each test
at ``alpha``: the same size as the full audit, less power, which large deviations do
not need. The variance of each tensor role across the drawn configs is fitted against
its fans (``law_across_shapes``).
"""

from __future__ import annotations

import json
import math
import re
import shlex
from dataclasses import replace

import numpy as np
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed

from verify.audit import configs, engine, hf
from verify.audit.builders import BuildError
from verify.seeding import derive_seed

BUILDS_PER_EXAMPLE = 4
MAX_CALLS = 40
"""Audits per exploration at most, shrinking included (about 0.1 to 0.5 s each)."""


def pattern(name: str) -> str:
    """A tensor's name with its layer index (its first integer component) written ``*``:
    the same tensor at any depth."""
    return re.sub(r"(^|\.)\d+(?=\.|$)", r"\1*", name, count=1)


def explore_configs(result: engine.AuditResult, builder, *, spec, waivers, examples: int,
                    seed: int, policy, config: dict,
                    budget: engine.Budget = engine.DEFAULT_BUDGET) -> None:
    """Draw ``examples`` configs around ``builder``'s; add what is new to ``result``."""
    # a finding is new if it concerns a tensor that had none at the starting config: the
    # same deviation may be grouped, or diagnosed, otherwise at another config
    known = {pattern(name) for f in result.findings if f.blocking for name in f.tensors}
    base = hf.make_config(builder.model_class, config).to_dict()
    calls = {"n": 0}
    seen: list[tuple[dict, object]] = []
    profile: list[dict] = []

    def audit(overrides: dict):
        merged = _deep_merge(config, overrides)
        calls["n"] += 1
        try:
            resolved = hf.builder(builder.model_class, config=merged, kwargs={},
                                  timeout=builder.timeout)
            outcome = engine.run(resolved, spec=spec, waivers=waivers,
                                 seed=derive_seed(seed, "explore",
                                                  json.dumps(merged, sort_keys=True)),
                                 policy=policy, reload=False, max_builds=BUILDS_PER_EXAMPLE,
                                 families=False, budget=budget)
        except BuildError:
            # a config the class or the model rejects (SqueezeBERT's embedding_size must
            # equal the drawn hidden_size) is not a finding
            return None, merged
        for tensor in outcome.tensors:
            if tensor.fans and tensor.measured.std > 0 and not tensor.buffer:
                profile.append({"role": pattern(tensor.name),
                                "fan_in": tensor.fans["semantic"][0],
                                "fan_out": tensor.fans["semantic"][1],
                                "std": tensor.measured.std,
                                "scale": _scale(merged_fields(outcome)),
                                "layers": _layers(merged_fields(outcome))})
        return outcome, merged

    failures: list[tuple[dict, list]] = []

    @settings(max_examples=examples, deadline=None, database=None,
              phases=(Phase.explicit, Phase.generate, Phase.shrink),
              suppress_health_check=list(HealthCheck), report_multiple_bugs=False)
    @hypothesis_seed(derive_seed(seed, builder.target, "configs") % 2**32)
    @given(configs.config_overrides(base))
    def no_new_findings(overrides):
        if calls["n"] >= MAX_CALLS:
            return
        outcome, merged = audit(overrides)
        if outcome is None:
            return
        new = [f for f in outcome.findings if f.blocking
               and any(pattern(name) not in known for name in f.tensors)]
        if new:
            failures.append((merged, new))
            raise AssertionError(f"{len(new)} new finding(s)")
        seen.append((merged, outcome))

    try:
        no_new_findings()
    except AssertionError:
        pass
    laws = _fit_laws(profile)
    result.explored = {"examples": examples, "audits": calls["n"], "law_across_shapes": laws}
    for tensor in result.tensors:
        tensor.measured.law_across_shapes = laws.get(pattern(tensor.name))
    if failures:
        minimal, new = failures[-1]  # the last failure is the shrunk one
        command = ("python -m verify audit " + shlex.quote(builder.target) + " --config "
                   + shlex.quote(json.dumps(minimal, sort_keys=True)) + f" --seed {seed}")
        for finding in new:
            result.findings.append(replace(
                finding, config=minimal, replay=command,
                detail=finding.detail + " (found by exploring configs; not at the starting "
                "config)"))


def merged_fields(outcome) -> dict:
    return outcome.config or {}


def _scale(fields: dict) -> float | None:
    for name in (*configs.INIT_RANGE, *configs.INIT_FACTOR):
        if isinstance(fields.get(name), int | float):
            return float(fields[name])
    return None


def _layers(fields: dict) -> float | None:
    for name in configs.LAYERS:
        if isinstance(fields.get(name), int):
            return float(fields[name])
    return None


def _deep_merge(base: dict, overrides: dict) -> dict:
    merged = json.loads(json.dumps(base))
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _fit_laws(profile: list[dict]) -> dict:
    """Per tensor pattern (``h.*.attn.c_proj.weight``): least squares of
    ``log Var = c + a log fan_in + b log fan_out + s log scale + d log layers`` across the
    drawn configs, with the terms that varied (``scale``: the initializer range or factor;
    ``layers``: the depth)."""
    fitted = {}
    roles = sorted({p["role"] for p in profile})
    for role in roles:
        points = [p for p in profile if p["role"] == role]
        fans_in = np.array([p["fan_in"] for p in points], dtype=float)
        fans_out = np.array([p["fan_out"] for p in points], dtype=float)
        if len(points) < 5:
            continue
        y = np.log(np.array([p["std"] for p in points]) ** 2)
        columns = [np.ones_like(y)]
        names = ["log c"]
        scales = np.array([p["scale"] or 1.0 for p in points], dtype=float)
        depths = np.array([p["layers"] or 1.0 for p in points], dtype=float)
        for label, fans in (("fan_in", fans_in), ("fan_out", fans_out), ("scale", scales),
                            ("layers", depths)):
            if np.ptp(fans) > 0:
                columns.append(np.log(fans))
                names.append(f"exponent of {label}")
        design = np.column_stack(columns)
        coefficients, *_ = np.linalg.lstsq(design, y, rcond=None)
        fitted[role] = {"points": len(points),
                        **{name: round(float(c), 3) for name, c in zip(names, coefficients,
                                                                      strict=True)}}
        if not all(math.isfinite(v) for v in coefficients):
            del fitted[role]
    return fitted
