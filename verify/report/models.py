"""The report's models section: audits of whole models and of every registered layer type.

It audits (:func:`verify.audit.audit_model`, one task per target, each with the run's seed):

* every transformers architecture with a built-in spec, at its starting config, with
  :data:`EXAMPLES` configs explored around it (the command line's default), when
  transformers is installed;
* every registered layer type of the installed frameworks, at the constructor arguments
  of :data:`verify.layers.examples.EXAMPLES`: PyTorch always, the others as the report's
  libraries select them (``jax`` and ``flax`` select Flax's ``nnx`` and ``linen``).

A ``--quick`` run audits :data:`QUICK_LAYER` and GPT-2 (without exploring configs). The
section's data keep, per target, its verdict, findings and time, and the per-tensor
standard deviations against the layer index that the depth figure draws.
"""

from __future__ import annotations

import importlib.util
import math
import re
import time
from collections import Counter
from pathlib import Path

from verify.report import plots
from verify.report.progress import Progress
from verify.report.sections import Section, Settings, _save, on_executor, slug

EXAMPLES = 5
"""Configs hypothesis draws around each architecture's starting config (the command
line's default, ``python -m verify audit --examples``)."""
QUICK_LAYER = "torch:nn.ConvTranspose2d"
"""A layer whose default law changes with the fans: PyTorch reads a transposed
convolution's fan-in off the wrong axis of its stored shape."""
QUICK_ARCHITECTURE = "transformers:GPT2Model"
LIBRARY_APIS = {"torch": ("torch",), "jax": ("nnx", "linen"), "flax": ("nnx", "linen"),
                "keras": ("keras",), "mlx": ("mlx",), "equinox": ("equinox",),
                "haiku": ("haiku",), "paddle": ("paddle",), "tf_keras": ("tf_keras",),
                "tinygrad": ("tinygrad",)}
"""The layer apis a report library selects."""
API_PACKAGES = {"torch": "torch", "keras": "keras", "nnx": "flax", "linen": "flax",
                "mlx": "mlx", "equinox": "equinox", "haiku": "haiku", "paddle": "paddle",
                "tf_keras": "tf_keras", "tinygrad": "tinygrad"}
FIGURE = "models-depth"
DEPTH_CHANGE = 0.1
"""A relative change of a pattern's std between layer indices that puts an architecture
in the depth figure."""
FINDING_FIELDS = ("kind", "tensors", "detail", "expected", "measured", "citation",
                  "blocking", "waived", "config", "replay")


def layer_apis(libraries: tuple[str, ...] | None) -> tuple[list[str], dict[str, str]]:
    """The layer apis to audit (PyTorch always), and the selected ones not installed, with
    why."""
    selected = ["torch"]
    for library in libraries if libraries is not None else tuple(LIBRARY_APIS):
        selected += [api for api in LIBRARY_APIS.get(library, ()) if api not in selected]
    apis, missing = [], {}
    for api in selected:
        package = API_PACKAGES[api]
        if importlib.util.find_spec(package) is None:
            missing[api] = f"{package} is not installed"
        else:
            apis.append(api)
    return apis, missing


def targets(settings: Settings) -> tuple[list[tuple[str, dict, int]], dict[str, str]]:
    """``(target, kwargs, examples)`` for each audit, the architectures first (they take
    longest), and what is not audited because it is not installed."""
    from verify.layers.examples import EXAMPLES as LAYER_EXAMPLES
    from verify.layers.examples import layer_targets

    transformers = importlib.util.find_spec("transformers") is not None
    missing = {} if transformers else {"transformers": "transformers is not installed"}
    if settings.quick:
        api, name = QUICK_LAYER.split(":", 1)
        found = [(QUICK_LAYER, dict(LAYER_EXAMPLES[api][name]), 0)]
        if transformers:
            found.insert(0, (QUICK_ARCHITECTURE, {}, 0))
        return found, missing
    found = []
    if transformers:
        from verify.audit.specs import BUILTIN_SPECS

        found += [(f"transformers:{name}", {}, EXAMPLES) for name in BUILTIN_SPECS]
    apis, not_installed = layer_apis(settings.libraries)
    for api in apis:
        found += [(target, kwargs, 0) for target, kwargs in layer_targets(api)]
    return found, {**missing, **not_installed}


def pattern(name: str) -> str:
    """A tensor's name with its layer indices written ``*`` (``h.*.attn.c_proj.weight``)."""
    return re.sub(r"(?<=\.)\d+(?=\.)", "*", name)


def _profile(result) -> list[dict]:
    """The random tensors that have a layer index: measured std (95% interval) and the
    expected std, where there is one."""
    from verify.audit.engine import depends_on_depth

    points = []
    for tensor in result.tensors:
        measured = tensor.measured
        if tensor.depth is None or tensor.buffer or measured.constant or not measured.finite:
            continue
        expected = tensor.expected if tensor.expected is not None and tensor.expected.random \
            else None
        points.append({"name": tensor.name, "pattern": pattern(tensor.name),
                       "layer_index": tensor.depth, "std": measured.std,
                       "std_interval": list(measured.std_interval),
                       "expected_std": math.sqrt(expected.variance) if expected else None,
                       "expected_rule": expected.rule if expected else None,
                       "depth_law": depends_on_depth(expected), "verdict": tensor.verdict})
    return points


def audit_target(target: str, kwargs: dict, seed: int, examples: int,
                 timeout: float) -> dict:
    """One target's row (in a worker process): its verdict, findings and depth profile.
    A target whose audit raises is a row with verdict ``error``: the report goes on."""
    from verify.audit import audit_model

    start = time.perf_counter()
    row = {"target": target, "api": target.split(":", 1)[0],
           "kind": "architecture" if target.startswith("transformers:") else "layer",
           "anchor": f"models-{slug(target)}", "kwargs": kwargs, "examples": examples}
    try:
        result = audit_model(target, kwargs=kwargs or None, seed=seed, examples=examples,
                             timeout=timeout)
    except Exception as error:  # a report of many targets records one that breaks
        first = (str(error).strip().splitlines() or [""])[0]
        return {**row, "verdict": "error", "error": f"{type(error).__name__}: {first}",
                "builds": 0, "seconds": round(time.perf_counter() - start, 2),
                "replay": None, "findings": [], "profile": [], "tensors": 0}
    replay = result.replay.replace("{seed}", str(result.seed)) if result.replay else None
    findings = []
    for finding in result.findings:
        data = {**finding.to_dict(), "blocking": finding.blocking}
        kept = {key: data.get(key) for key in FINDING_FIELDS}
        if finding.kind == "fan-mismatch":  # does the default law change with the fans?
            numbers = finding.numbers
            kept["law_unchanged"] = math.isclose(numbers["default_std"],
                                                 numbers["semantic_std"], rel_tol=1e-9)
        findings.append(kept)
    return {**row, "api": result.api, "verdict": result.verdict, "error": result.error,
            "builds": result.builds, "seconds": round(time.perf_counter() - start, 2),
            "replay": replay, "spec": result.spec, "findings": findings,
            "tensors": len(result.tensors), "profile": _profile(result)}


def depth_panels(rows: list[dict]) -> list[dict]:
    """The architectures the depth figure shows: those whose expected law depends on the
    depth, or where one tensor pattern's std changes with the layer index by more than
    :data:`DEPTH_CHANGE` (and beyond the 95% intervals: chance differences of tensors of
    one law are far smaller)."""
    panels = []
    for row in rows:
        if row["kind"] != "architecture" or not row["profile"]:
            continue
        by_pattern: dict[str, list[dict]] = {}
        for point in row["profile"]:
            by_pattern.setdefault(point["pattern"], []).append(point)
        varies = any(len({p["layer_index"] for p in points}) > 1
                     and max(p["std"] for p in points)
                     > (1 + DEPTH_CHANGE) * min(p["std"] for p in points)
                     and max(p["std_interval"][0] for p in points)
                     > min(p["std_interval"][1] for p in points)
                     for points in by_pattern.values())
        if varies or any(p["depth_law"] for p in row["profile"]):
            panels.append(row)
    return panels


def summary_counts(rows: list[dict]) -> Counter:
    """Findings by kind over every target (waived and informational ones included)."""
    return Counter(f["kind"] for row in rows for f in row["findings"])


def run_models(settings: Settings, progress: Progress, figures: Path) -> Section:
    found, missing = targets(settings)
    progress.start("models", len(found))
    tasks = [(target, audit_target, {"target": target, "kwargs": kwargs,
                                     "seed": settings.seed, "examples": examples,
                                     "timeout": settings.timeout})
             for target, kwargs, examples in found]
    rows = on_executor(tasks, settings, progress,
                        lambda row: f"{row['verdict']}, {len(row['findings'])} findings")
    written = {}
    panels = depth_panels(rows)
    for row in rows:
        row["in_figure"] = any(row is panel for panel in panels)
    if panels:
        written[FIGURE] = _save(
            plots.model_depth_profiles(panels), figures, FIGURE,
            "Models: std against layer index",
            "Each architecture whose expected law depends on the depth, or whose tensors' "
            "std changes with the layer index: the measured std of every random tensor "
            "(95% interval) by tensor pattern (the layer index written *), against the "
            "expected std of its spec (lines; none where the tensor has no expected law). "
            "Points off their line are findings.")
    architectures = sum(r["kind"] == "architecture" for r in rows)
    kinds = summary_counts(rows)
    summary = (f"{architectures} architectures, {len(rows) - architectures} layers: "
               + ", ".join(f"{n} {v}" for v, n in Counter(r["verdict"] for r in rows).items())
               + "; findings: " + (", ".join(f"{n} {k}" for k, n in kinds.most_common())
                                   or "none"))
    if missing:
        summary += f"; not installed: {', '.join(missing)}"
    return Section("models", len(rows), summary,
                   {"rows": rows, "not_installed": missing, "examples": EXAMPLES
                    if not settings.quick else 0, "figure": FIGURE if panels else None},
                   written)
