"""Bug reports from an audit: one per finding, with a script that rebuilds the model with
the library alone and measures the tensors the finding names.

The script is written for ``transformers:<Model>`` targets (the config as JSON, built by
the config class) and for ``package.module:attribute`` builders of every api but
``arrays`` (:data:`SCRIPTED_APIS`). Its ``build(seed)`` seeds and builds as
:func:`verify.audit.builders.seeded` does; its ``tensors(model)`` names the tensors as the
audit does: torch's by their parameter and buffer names, the other apis' by their
positions in the script's ``listed(model)`` (:data:`LISTED`), found once here, in one
build (:func:`positions`), since some names change between builds (Keras numbers its
layers per process). It builds with seeds ``0, 1, ...`` until it holds as many values as
the audit pooled, then judges what the finding's kind lets it judge with NumPy alone: the
variance and the mean against the expected ones (z at the policy's 1e-9, the variance's
standard error from the sample's own fourth moment), identical tensors, non-finite or
constant values, seeding. For the other kinds it prints the tensors' statistics, and
says so. The registry's layers (built by this project's code), the ``arrays`` api and
findings on slices get the command that reproduces the finding, and the report says that
no standalone script is written.
"""

from __future__ import annotations

import math
import pprint

import numpy as np
from scipy import stats

from verify.upstream.findings import library_versions
from verify.upstream.report import BugReport

JUDGED = {"variance", "depth-law", "left-on-default", "fan-mismatch", "mean", "identical",
          "non-finite", "constant", "seeding"}

SCRIPT = r'''

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


TORCH_TENSORS = """
def tensors(model):
    named = dict(model.named_parameters(remove_duplicate=False))
    named.update(dict(model.named_buffers(remove_duplicate=False)))
    return {name: named[name].detach().double().numpy() for name in TENSORS}
"""

SEED32 = """
def seed32(seed):
    # the seed folded to 32 bits, as the audit folds it for this library
    return int(np.random.SeedSequence(seed).generate_state(1)[0])
"""

BY_POSITION = """
def tensors(model):
    # the audit's names for the tensors at these positions of listed(model)
    found = listed(model)
    if len(found) != LISTED:
        raise RuntimeError(f"the model lists {len(found)} tensors, the audit's {LISTED}")
    return {name: np.asarray(found[index][1]).astype(np.float64)
            for name, index in POSITIONS.items()}
"""

LISTED = {
    "keras": """
def listed(model):
    import keras

    seen = {}
    for variable in model.variables:
        seen.setdefault(id(variable), variable)
    return [(v.path, keras.ops.convert_to_numpy(v.value)) for v in seen.values()]
""",
    "tf_keras": """
def listed(model):
    seen = {}
    for variable in model.weights:
        seen.setdefault(id(variable), variable)
    return [(v.name.split(":")[0], v.numpy()) for v in seen.values()]
""",
    "nnx": """
def listed(model):
    import jax
    from flax import nnx

    found = []
    for path, node in nnx.iter_graph(model):
        if isinstance(node, nnx.Variable):
            value = node.get_value() if hasattr(node, "get_value") else node.value
        else:
            value = node
        if isinstance(value, jax.Array) and not jax.dtypes.issubdtype(
                value.dtype, jax.dtypes.prng_key):
            found.append((".".join(str(part) for part in path), value))
    return found
""",
    "linen": """
def listed(model):
    from flax.core import unfreeze
    from flax.traverse_util import flatten_dict

    found = []
    for collection, tree in unfreeze(model[1]).items():
        for path, value in flatten_dict(tree).items():
            parts = path if collection == "params" else (collection, *path)
            found.append((".".join(parts), value))
    return found
""",
    "mlx": """
def listed(model):
    from mlx.utils import tree_flatten

    return list(tree_flatten(model.parameters()))
""",
    "paddle": """
def listed(model):
    found = []
    for listing in (model.named_parameters(remove_duplicate=False),
                    model.named_buffers(remove_duplicate=False)):
        for name, tensor in listing:
            if tensor is not None and tensor._is_initialized():
                found.append((name, tensor.numpy()))
    return found
""",
    "equinox": """
def listed(model):
    import jax

    def part(key):
        for field in ("name", "idx", "key"):
            if hasattr(key, field):
                return str(getattr(key, field))
        return str(key)

    leaves = jax.tree_util.tree_flatten_with_path(model)[0]
    return [(".".join(part(k) for k in path), value) for path, value in leaves
            if isinstance(value, jax.Array) and not jax.dtypes.issubdtype(
                value.dtype, jax.dtypes.prng_key)]
""",
    "haiku": """
def listed(model):
    found = []
    for collection in (model[1], model[2]):
        for module, values in collection.items():
            for name, value in values.items():
                found.append((f"{module}/{name}", value))
    return found
""",
    "tinygrad": """
def listed(model):
    from tinygrad.nn.state import get_state_dict

    return [(name, tensor.numpy()) for name, tensor in get_state_dict(model).items()]
""",
}
"""``listed(model)``: the script's list of ``(name, array)`` of a built model, per api; the
audit's tensors are found in it by name, or by value in one build (see :func:`positions`)."""

BUILDS = {
    "keras": ("import os\n\nos.environ[\"KERAS_BACKEND\"] = {backend!r}  # as the audit ran\n"
              "import keras\n",
              "    keras.utils.set_random_seed(seed32(seed))\n"
              "    return _builder(**KWARGS)\n"),
    "tf_keras": ("import tf_keras\n",
                 "    tf_keras.utils.set_random_seed(seed32(seed))\n"
                 "    return _builder(**KWARGS)\n"),
    "nnx": ("import jax\nfrom flax import nnx\n",
            "    return _builder(nnx.Rngs(seed32(seed)), **KWARGS)\n"),
    "linen": ("import jax\n",
              "    module, *inputs = _builder(**KWARGS)\n"
              "    return module, module.init(jax.random.key(seed32(seed)), *inputs), *inputs\n"),
    "mlx": ("import mlx.core as mx\n",
            "    mx.random.seed(seed32(seed))\n    model = _builder(**KWARGS)\n"
            "    mx.eval(model.parameters())\n    return model\n"),
    "paddle": ("import paddle\n",
               "    paddle.seed(seed % 2**63)\n    return _builder(**KWARGS)\n"),
    "equinox": ("import jax\n",
                "    return _builder(jax.random.key(seed32(seed)), **KWARGS)\n"),
    "haiku": ("import haiku as hk\nimport jax\n",
              "    forward, *inputs = _builder(**KWARGS)\n"
              "    params, state = hk.transform_with_state(forward).init(\n"
              "        jax.random.key(seed32(seed)), *inputs)\n"
              "    return forward, params, state, *inputs\n"),
    "tinygrad": ("from tinygrad import Tensor\nfrom tinygrad.helpers import Context\n"
                 "from tinygrad.nn.state import get_state_dict\n",
                 "    with Context(DEV=\"CPU\"):  # the audit builds on the CPU device\n"
                 "        Tensor.manual_seed(seed32(seed))\n"
                 "        model = _builder(**KWARGS)\n"
                 "        tensors = list({id(t): t for t in get_state_dict(model).values()}"
                 ".values())\n"
                 "        Tensor.realize(*tensors)\n    return model\n"),
}
"""Per api: the imports, and the body of ``build(seed)``, seeding as
:func:`verify.audit.builders.seeded` does."""

SCRIPTED_APIS = ("torch", *BUILDS)
LIBRARIES = {"torch": "torch", "keras": "keras", "tf_keras": "tf_keras", "nnx": "flax",
             "linen": "flax", "mlx": "mlx", "paddle": "paddle", "equinox": "equinox",
             "haiku": "haiku", "tinygrad": "tinygrad"}
"""The library (a catalog name of :mod:`verify.history`) each api's report names."""


def _module_root(module: str) -> str | None:
    """The directory to put on ``sys.path`` for ``module`` when it is the user's own code
    (not installed in site-packages), or ``None``."""
    import sys
    from pathlib import Path

    loaded = sys.modules.get(module)
    file = getattr(loaded, "__file__", None)
    if not file:
        return None
    path = Path(file).resolve()
    depth = module.count(".") + (1 if path.name == "__init__.py" else 0)
    root = path.parents[depth]
    import sysconfig

    installed = {Path(sysconfig.get_paths()[key]).resolve()
                 for key in ("stdlib", "platstdlib", "purelib", "platlib")}
    if any(part in ("site-packages", "dist-packages") for part in root.parts) or \
            root in installed or any(place in root.parents for place in installed):
        return None
    return str(root)


def _builder_import(target: str) -> tuple[str, str] | None:
    """``from MODULE import NAME as _builder`` (with the user's directory on ``sys.path``),
    and the call's attribute chain; ``None`` for a target that is not ``module:attribute``."""
    if ":" not in target:
        return None
    module, _, attribute = target.partition(":")
    from verify.audit.builders import LAYER_PREFIXES

    if module in LAYER_PREFIXES or not module or not attribute:
        return None  # the registry's layers are built by this project's code
    root = _module_root(module)
    path = (f"sys.path.insert(0, {root!r})  # the builder's own code; elsewhere, put its "
            "directory here\n" if root else "")
    return (path + f"from {module} import {attribute.split('.')[0]} as _builder\n",
            "".join("." + p for p in attribute.split(".")[1:]))


def _build_source(builder, overrides: dict | None) -> tuple[str, str, str] | None:
    """The imports, ``def build(seed)`` and ``def tensors(model)`` of ``builder``, or
    ``None`` where the api, or the target, has no script yet."""
    if builder.api == "torch" and builder.model_class:
        from verify.audit.hf import make_config, model_class

        cls = model_class(builder.model_class)
        config = make_config(builder.model_class, overrides or {}).to_json_string()
        return ("import torch\nimport transformers\n",
                f"CONFIG = json.loads({config!r})\n\n\n"
                "def build(seed):\n    torch.manual_seed(seed)\n"
                f"    config = transformers.{cls.config_class.__name__}.from_dict(CONFIG)\n"
                f"    return transformers.{cls.__name__}(config)\n", TORCH_TENSORS)
    if builder.api != "torch" and builder.api not in BUILDS:
        return None
    found = _builder_import(builder.target)
    if found is None:
        return None
    imported, chain = found
    if builder.api == "torch":
        return ("import torch\n" + imported,
                f"KWARGS = {pprint.pformat(builder.kwargs)}\n\n\n"
                "def build(seed):\n    torch.manual_seed(seed)\n"
                f"    return _builder{chain}(**KWARGS)\n", TORCH_TENSORS)
    imports, body = BUILDS[builder.api]
    if builder.api == "keras":
        import keras

        imports = imports.format(backend=keras.backend.backend())
    body = body.replace("_builder(", f"_builder{chain}(")
    return (imports + imported,
            f"KWARGS = {pprint.pformat(builder.kwargs)}\n{SEED32}\n\n"
            f"def build(seed):\n{body}\n{LISTED[builder.api]}", BY_POSITION)


def positions(builder, result, names, cache: dict | None = None
              ) -> tuple[dict[str, int], int] | None:
    """Where the audit's tensors ``names`` are in the script's ``listed(model)``, found in
    one build made here: each name at its position in the audit's walk, then in ``listed``
    by a name the walker gives it, else by its values (the one entry equal to it); with the
    length of ``listed``. ``None`` if a tensor is not found, or not found once. ``cache``
    keeps the build for the next finding of the same audit."""
    from verify.layers import walk

    cache = {} if cache is None else cache
    if "model" not in cache:
        cache["model"] = builder.build(0)
        cache["params"] = walk(builder.api, cache["model"])
    model, params = cache["model"], cache["params"]
    at = {name: index for index, report in enumerate(result.tensors)
          for name in report.names}
    if len(params) != len(result.tensors):
        return None
    namespace: dict = {"np": np}
    if "listed" not in cache:
        exec(compile(LISTED[builder.api], "<listed>", "exec"), namespace)
        cache["listed"] = namespace["listed"](model)
    listed = cache["listed"]
    arrays: dict[int, np.ndarray] = {}

    def array(index: int) -> np.ndarray:
        if index not in arrays:
            arrays[index] = np.asarray(listed[index][1]).astype(np.float64)
        return arrays[index]

    found: dict[str, int] = {}
    for name in names:
        if name not in at:
            return None
        param = params[at[name]]
        named = [i for i, (key, _) in enumerate(listed) if key in param.names]
        if len(named) != 1:
            value = np.asarray(param.array).astype(np.float64)
            named = [i for i in range(len(listed))
                     if array(i).shape == value.shape
                     and np.array_equal(array(i), value, equal_nan=True)]
        if len(named) != 1:
            return None
        found[name] = named[0]
    return found, len(listed)


def script(*, title: str, builder, finding, overrides: dict | None = None,
           alpha: float = 1e-9, result=None, cache: dict | None = None) -> str | None:
    """The standalone script of one finding, or ``None`` for an api or target without one
    (or, for an api other than torch, without the audit's ``result`` to place its tensors)."""
    source = _build_source(builder, overrides)
    if source is None:
        return None
    imports, build, tensors = source
    where = ""
    if tensors is BY_POSITION:
        if result is None:
            return None
        placed = positions(builder, result, list(finding.tensors), cache)
        if placed is None:
            return None
        where = (f"POSITIONS = {pprint.pformat(placed[0])}\nLISTED = {placed[1]}\n")
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
             tensors, where, f"TITLE = {title!r}", f"KIND = {finding.kind!r}",
             f"TENSORS = {pprint.pformat(list(finding.tensors))}",
             f"EXPECTED = {finding.expected or ''!r}",
             f"EXPECTED_VARIANCE = {variance!r}", f"EXPECTED_MEAN = {mean!r}",
             f"NEEDED = {needed}", "MAX_BUILDS = 200",
             f"Z = {float(stats.norm.isf(alpha / 2))!r}",
             f"JUDGED = {finding.kind in JUDGED}", SCRIPT]
    return "\n".join(line for line in lines if line) + "\n"


def reports(result, *, api: str | None = None, kwargs: dict | None = None,
            config: dict | None = None, dtype: str | None = None) -> list[BugReport]:
    """One report per blocking finding of an audit ``result`` (built with ``api``,
    ``kwargs``, ``config`` and the default ``dtype``, as the command was given them)."""
    from verify.audit.builders import resolve

    builder = resolve(result.target, api=api, kwargs=kwargs, config=config)
    library = "transformers" if builder.model_class else LIBRARIES.get(builder.api, "")
    backend = ""
    if builder.api == "keras":
        import keras

        backend = keras.backend.backend()
    versions = library_versions(library, backend) if library else {}
    if library in ("flax", "equinox", "haiku"):
        versions.update(library_versions("jax"))
    if not library:
        library = builder.target.split(":", 1)[0].split(".")[0]
    found = []
    cache: dict = {}  # one build, made here, places the tensors of every finding
    for finding in result.findings:
        if not finding.blocking:
            continue
        names = ", ".join(finding.tensors[:3]) + (" ..." if len(finding.tensors) > 3 else "")
        title = f"{builder.target}: {finding.kind} in {names}"
        replay = (finding.replay or result.replay or "").replace("{seed}", str(result.seed))
        code = None
        if all("{" not in name and "[" not in name for name in finding.tensors):
            code = script(title=title, builder=builder, finding=finding,
                          overrides=finding.config or config, result=result,
                          cache=cache)
        note = "" if code else (
            "No standalone script for this finding: scripts are written for models built "
            f"by a builder function of the apis {', '.join(SCRIPTED_APIS)} (and "
            "transformers models), whose finding names whole tensors that a build made "
            "again can place; not for the registry's layers (`keras:layers.Dense`), the "
            "arrays api, or a finding on slices. The command under 'Found by' reproduces "
            "it.")
        if code and dtype and dtype != "float32":
            note = (f"The audit built the model in {dtype} (--dtype {dtype}); this script "
                    "builds it in the library's default dtype.")
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
            instead=finding.measured or "", program=code, program_note=note,
            dtype=dtype or "float32"))
    return found


def _n(value) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return f"{value:.6g}" if isinstance(value, float) else str(value)
