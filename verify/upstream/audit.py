"""Bug reports from an audit: one per finding, with a script that rebuilds the model with
the library alone and measures the tensors the finding names.

The script is written for models of the torch api: ``transformers:<Model>`` targets (the
config as JSON, built by the config class) and ``package.module:attribute`` builders. It
builds with seeds ``0, 1, ...`` until it holds as many values as the audit pooled, then
judges what the finding's kind lets it judge with NumPy alone: the variance and the mean
against the expected ones (z at the policy's 1e-9, the variance's standard error from the
sample's own fourth moment), identical tensors, non-finite or constant values. For the
other kinds it prints the tensors' statistics, and says so. Other apis get the command
that reproduces the finding, and the report says that no standalone script is written.
"""

from __future__ import annotations

import math
import pprint

from scipy import stats

from verify.upstream.findings import library_versions
from verify.upstream.report import BugReport

JUDGED = {"variance", "depth-law", "left-on-default", "fan-mismatch", "mean", "identical",
          "non-finite", "constant", "seeding"}

SCRIPT = r'''

def tensors(model):
    named = dict(model.named_parameters(remove_duplicate=False))
    named.update(dict(model.named_buffers(remove_duplicate=False)))
    return {name: named[name].detach().double().numpy() for name in TENSORS}


def main():
    first = tensors(build(0))
    per_build = sum(v.size for v in first.values())
    builds = max(2, min(MAX_BUILDS, math.ceil(NEEDED / max(per_build, 1))))
    drawn = [first] + [tensors(build(seed)) for seed in range(1, builds)]
    pooled = np.concatenate([d[name].ravel() for d in drawn for name in TENSORS])
    n = pooled.size
    print(f"{TITLE}\n{n} values of {len(TENSORS)} tensor(s), {builds} builds "
          f"(seeds 0..{builds - 1})")
    for name in TENSORS:
        v = first[name]
        print(f"  {name}: shape {v.shape}, mean {v.mean():.4g}, std {v.std():.4g}, "
              f"min {v.min():.4g}, max {v.max():.4g}")
    deviates = []
    finite = np.isfinite(pooled)
    if KIND == "non-finite" or not finite.all():
        deviates.append(f"{int((~finite).sum())} non-finite values")
        pooled = pooled[finite]
    mean = pooled.mean()
    s2 = float(np.mean((pooled - mean) ** 2))
    m4 = float(np.mean((pooled - mean) ** 4))
    if EXPECTED_VARIANCE is not None:
        half = Z * math.sqrt(max(m4 - s2 * s2, 0.0) / n) / EXPECTED_VARIANCE
        ratio = s2 / EXPECTED_VARIANCE
        print(f"variance: expected {EXPECTED_VARIANCE:.6g} ({EXPECTED}); measured {s2:.6g}, "
              f"ratio {ratio:.4f} [{ratio - half:.4f}, {ratio + half:.4f}]")
        if abs(ratio - 1) > half:
            deviates.append(f"variance ratio {ratio:.4f}")
    if EXPECTED_MEAN is not None:
        half = Z * math.sqrt(s2 / n)
        print(f"mean: expected {EXPECTED_MEAN:.6g}; measured {mean:.6g} (+- {half:.3g})")
        if abs(mean - EXPECTED_MEAN) > half:
            deviates.append(f"mean {mean:.6g}")
    if KIND == "constant" and s2 == 0:
        deviates.append("constant values where a random law is expected")
    if KIND == "identical" and len(TENSORS) >= 2:
        a, b = first[TENSORS[0]], first[TENSORS[1]]
        same = a.shape == b.shape and np.array_equal(a, b)
        print(f"{TENSORS[0]} and {TENSORS[1]}: {'identical' if same else 'different'}")
        if same:
            deviates.append("identical tensors")
    if KIND == "seeding":
        again = tensors(build(0))
        same = all(np.array_equal(again[k], first[k]) for k in TENSORS)
        other = all(np.array_equal(drawn[1][k], first[k]) for k in TENSORS)
        print(f"same seed twice: {'same' if same else 'DIFFERENT'}; seeds 0 and 1: "
              f"{'SAME' if other else 'different'}")
        if not same or other:
            deviates.append("seeding")
    if not JUDGED:
        print(f"(this script measures; the audit's test for {KIND!r} is not in it)")
    for line in deviates:
        print(f"DEVIATES  {line}")
    return 1 if deviates else 0


if __name__ == "__main__":
    try:
        status = main()
    except Exception:
        import traceback

        traceback.print_exc()
        status = 2
    sys.exit(status)
'''


def _build_source(builder, overrides: dict | None) -> tuple[str, str] | None:
    """The imports and ``def build(seed)`` of a torch-api builder, or ``None``."""
    if builder.api != "torch":
        return None
    if builder.model_class:
        from verify.audit.hf import make_config, model_class

        cls = model_class(builder.model_class)
        config = make_config(builder.model_class, overrides or {}).to_json_string()
        return ("import torch\nimport transformers\n",
                f"CONFIG = json.loads({config!r})\n\n\n"
                "def build(seed):\n    torch.manual_seed(seed)\n"
                f"    config = transformers.{cls.config_class.__name__}.from_dict(CONFIG)\n"
                f"    return transformers.{cls.__name__}(config)\n")
    target = builder.target
    if ":" not in target or target.split(":", 1)[0] in ("torch",):
        return None
    module, _, attribute = target.partition(":")
    return (f"import torch\nfrom {module} import {attribute.split('.')[0]} as _builder\n",
            f"KWARGS = {pprint.pformat(builder.kwargs)}\n\n\n"
            "def build(seed):\n    torch.manual_seed(seed)\n"
            f"    return _builder{''.join('.' + p for p in attribute.split('.')[1:])}"
            "(**KWARGS)\n")


def script(*, title: str, builder, finding, overrides: dict | None = None,
           alpha: float = 1e-9) -> str | None:
    """The standalone script of one finding, or ``None`` for an api without one."""
    source = _build_source(builder, overrides)
    if source is None:
        return None
    imports, build = source
    numbers = finding.numbers or {}
    variance = numbers.get("variance", {}).get("expected")
    mean = numbers.get("mean", {}).get("expected")
    needed = max([int(v.get("n") or 0) for v in numbers.values() if isinstance(v, dict)]
                 + [1])
    if finding.kind not in ("variance", "depth-law", "left-on-default", "fan-mismatch"):
        variance = None
    if finding.kind != "mean":
        mean = None
    lines = [f'"""Reproduction: {title}.\n\nExit status 1 while the deviation is there."""',
             "import json\nimport math\nimport sys\n\nimport numpy as np", imports, build,
             f"TITLE = {title!r}", f"KIND = {finding.kind!r}",
             f"TENSORS = {pprint.pformat(list(finding.tensors))}",
             f"EXPECTED = {finding.expected or ''!r}",
             f"EXPECTED_VARIANCE = {variance!r}", f"EXPECTED_MEAN = {mean!r}",
             f"NEEDED = {needed}", "MAX_BUILDS = 200",
             f"Z = {float(stats.norm.isf(alpha / 2))!r}",
             f"JUDGED = {finding.kind in JUDGED}", SCRIPT]
    return "\n".join(lines) + "\n"


def reports(result, *, api: str | None = None, kwargs: dict | None = None,
            config: dict | None = None) -> list[BugReport]:
    """One report per blocking finding of an audit ``result`` (built with ``api``,
    ``kwargs`` and ``config``, as the command was given them)."""
    from verify.audit.builders import resolve

    builder = resolve(result.target, api=api, kwargs=kwargs, config=config)
    library = "transformers" if builder.model_class else builder.target.split(":", 1)[0] \
        .split(".")[0]
    versions = library_versions("transformers") if builder.model_class else \
        library_versions("torch")
    found = []
    for finding in result.findings:
        if not finding.blocking:
            continue
        names = ", ".join(finding.tensors[:3]) + (" ..." if len(finding.tensors) > 3 else "")
        title = f"{builder.target}: {finding.kind} in {names}"
        replay = (finding.replay or result.replay or "").replace("{seed}", str(result.seed))
        code = None
        if all("{" not in name and "[" not in name for name in finding.tensors):
            code = script(title=title, builder=builder, finding=finding,
                          overrides=finding.config or config)
        note = "" if code else (
            "No standalone script for this finding: it is written for torch-api models "
            "(transformers or a torch builder) whose finding names whole tensors. The "
            "command under 'Found by' reproduces it.")
        measured = [{"check": name, "documented": _n(v.get("expected")),
                     "measured": _n(v.get("estimate")), "interval": "", "p": _n(v.get("pvalue")),
                     "n": v.get("n", ""), "verdict": ""}
                    for name, v in (finding.numbers or {}).items() if isinstance(v, dict)]
        documented = (f"Expected: {finding.expected or 'see the detail'}.\n\n"
                      + (f"Citation: {finding.citation}\n\n" if finding.citation else "")
                      + f"What the audit saw: {finding.detail}")
        found.append(BugReport(
            library=library, target=builder.target, title=title, versions=versions,
            documented=documented, claim=finding.expected or finding.kind,
            found_by=replay or f"python -m verify audit {builder.target}",
            measured=measured, config=finding.config or config or None,
            instead=finding.measured or "", program=code, program_note=note))
    return found


def _n(value) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return f"{value:.6g}" if isinstance(value, float) else str(value)
