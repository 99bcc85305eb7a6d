"""Anomalies that need no spec: non-finite values, uninitialized memory, seeding, twins
(identical or correlated tensors, and slices of packed ones), reloading, and the
documentation mismatches a spec records.

Correlations: for two tensors independent under the null, ``sqrt(n) r`` is asymptotically
standard normal; a family of pairs is tested at ``alpha`` by Bonferroni.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

import numpy as np
from scipy import special

from verify.audit.findings import Finding
from verify.stats import Policy

if TYPE_CHECKING:
    from verify.audit.engine import TensorReport


def nonfinite(params, samples: dict[str, list[np.ndarray]]) -> list[Finding]:
    """NaN or infinite entries; in a buffer, NaN only (an infinite bound is a bound:
    Gemma 4's audio clipping limits start at -inf and +inf)."""
    findings = []
    for param in params:
        arrays = samples[param.name]
        bad = sum(int(np.count_nonzero(np.isnan(a) if param.buffer else ~np.isfinite(a)))
                  for a in arrays if np.issubdtype(a.dtype, np.floating))
        if bad:
            findings.append(Finding(kind="non-finite", tensors=param.names,
                                    detail=f"{bad} NaN or infinite entries over {len(arrays)} "
                                    "builds", numbers={"non_finite": bad}))
    return findings


def _garbage(array: np.ndarray) -> bool:
    """Signs of uninitialized memory: non-finite, subnormal or absurd magnitudes."""
    if not np.issubdtype(array.dtype, np.floating) or array.size == 0:
        return False
    values = np.abs(array[np.isfinite(array)])
    tiny = np.finfo(array.dtype).tiny
    return (not np.isfinite(array).all() or bool(np.any((values > 0) & (values < tiny)))
            or bool(np.any(values > 1e10)))


def _correlation_pvalue(first: np.ndarray, second: np.ndarray) -> tuple[float, float]:
    """Pearson's r of two independent-under-the-null samples, and its p-value
    (``sqrt(n) r`` is asymptotically standard normal)."""
    # float32 stays float32 (BLAS's dot): its rounding, about 1e-7 sqrt(n) in r, is far
    # below r's null spread 1 / sqrt(n)
    dtype = np.float32 if first.dtype == second.dtype == np.float32 else np.float64
    a = first.reshape(-1).astype(dtype)
    b = second.reshape(-1).astype(dtype)
    a = a - a.mean()
    b = b - b.mean()
    denominator = math.sqrt(float(a @ a) * float(b @ b))
    if denominator == 0:
        return math.nan, 1.0
    r = float(a @ b) / denominator
    return r, float(2 * special.ndtr(-abs(r) * math.sqrt(a.size)))


def _random_looking(array: np.ndarray, policy: Policy) -> bool:
    """Finite, not constant, with distinct values, not monotone, and without structure
    between neighbouring entries (the independence test of the battery neither fails nor
    finds it suspicious, at ``policy.suspicious``): a random draw, not a deterministic
    table such as a sinusoidal position embedding, a causal mask, deformable attention's
    grid of sampling offsets (a few distinct values) or RWKV's time-mix ramps (monotone,
    smooth). A draw from a fixed seed is still caught, unless the loose level flags its
    structure (probability ``policy.suspicious``)."""
    # constant: every entry equal (a float32 std of 0.1 repeated is 7.5e-9, not 0)
    if not (array.size >= 16 and np.issubdtype(array.dtype, np.floating)
            and bool(np.isfinite(array).all()) and float(np.ptp(array)) > 0):
        return False
    flat = array.reshape(-1).astype(np.float64)
    levels = np.round(flat / np.abs(flat).max(), 4)  # cos(pi / 2) = -4.4e-8 counts as 0
    few = min(max(flat.size // 8, min(64, flat.size // 4)), 1024)
    if np.unique(levels).size < few:
        # a table of a few values (RT-DETR's offset grid: 17 in 128 entries); a draw from
        # a continuous law, even in bfloat16, and even repeated (an LSTM's four gates
        # drawn alike: a quarter of its entries distinct), has more
        return False
    steps = np.diff(flat)
    if bool(np.all(steps >= 0)) or bool(np.all(steps <= 0)):
        return False
    from verify.stats import Verdict, independence_test

    return independence_test(array, policy=policy).verdict is Verdict.PASS


def seeding(params, again: dict[str, np.ndarray], samples: dict[str, list[np.ndarray]],
             policy: Policy) -> list[Finding]:
    """The same seed must give the same model; different seeds, independent tensors."""
    findings = []
    candidates = [p for p in params if len(samples[p.name]) > 1 and not p.buffer
                  and p.role.random and _random_looking(samples[p.name][0], policy)]
    alpha = policy.alpha / max(len(candidates), 1)
    for param in params:
        first = samples[param.name][0]
        rebuilt = again.get(param.name)
        if rebuilt is None or rebuilt.shape != first.shape:
            continue
        if not np.array_equal(first, rebuilt, equal_nan=True):
            changed = int(np.count_nonzero(first != rebuilt))
            if _garbage(first) or _garbage(rebuilt):
                findings.append(Finding(
                    kind="uninitialized", tensors=param.names,
                    detail=f"two builds with the same seed differ in {changed} of "
                           f"{first.size} entries, and the values hold subnormal, absurd or "
                           "non-finite numbers: memory left uninitialized (torch.empty?)"))
            else:
                findings.append(Finding(
                    kind="seeding", tensors=param.names,
                    detail=f"two builds with the same seed differ in {changed} of "
                           f"{first.size} entries: drawn from a source the framework's seed "
                           "does not control"))
    for param in candidates:
        first, second = samples[param.name][0], samples[param.name][1]
        if first.shape != second.shape:
            continue
        if np.array_equal(first, second):
            findings.append(Finding(
                kind="seeding", tensors=param.names,
                detail="two builds with different seeds give identical values: a fixed "
                       "seed or key inside the model"))
            continue
        r, pvalue = _correlation_pvalue(first, second)
        if pvalue < alpha:
            findings.append(Finding(
                kind="seeding", tensors=param.names,
                detail=f"two builds with different seeds are correlated (r={r:.3f}, "
                       f"p={pvalue:.2g})", numbers={"r": r, "pvalue": pvalue}))
    return findings


def twins(params, reports: dict[str, TensorReport], policy: Policy) -> list[Finding]:
    """Identical or correlated tensors (pairs of equal shape), and slices of packed ones;
    only tensors the registry expects to be random draws (a constant default, such as an
    LSTM bias of zeros and ones, may repeat)."""
    candidates = [p for p in params if not p.buffer and p.role.random
                  and _random_looking(p.array, policy)]
    pairs: list[tuple[str, np.ndarray, tuple[str, ...], str, np.ndarray, tuple[str, ...]]] = []
    by_shape: dict[tuple, list] = {}
    for param in candidates:
        by_shape.setdefault(param.shape, []).append(param)
        role = param.role
        if role.blocks > 1 and param.shape[role.block_axis] % role.blocks == 0:
            parts = np.split(param.array, role.blocks, axis=role.block_axis)
            for i in range(len(parts)):
                for j in range(i + 1, len(parts)):
                    pairs.append((f"{param.name}[block {i}]", parts[i], param.names,
                                  f"{param.name}[block {j}]", parts[j], param.names))
    for members in by_shape.values():
        for i in range(len(members)):
            for j in range(i + 1, len(members)):
                a, b = members[i], members[j]
                pairs.append((a.name, a.array, a.names, b.name, b.array, b.names))
    findings = []
    alpha = policy.alpha / max(len(pairs), 1)
    for label_a, a, names_a, label_b, b, names_b in pairs:
        tensors = tuple(dict.fromkeys((*names_a, *names_b)))
        if np.array_equal(a, b):
            findings.append(Finding(kind="identical", tensors=tensors,
                                    detail=f"{label_a} and {label_b} hold the same values"))
            continue
        r, pvalue = _correlation_pvalue(a, b)
        if pvalue < alpha:
            findings.append(Finding(kind="correlated", tensors=tensors,
                                    detail=f"{label_a} and {label_b}: r={r:.3f} "
                                    f"(p={pvalue:.2g}, {a.size} pairs)",
                                    numbers={"r": r, "pvalue": pvalue}))
    return findings


def reloaded(model, params) -> list[Finding]:
    from verify.audit import hf

    loaded = hf.reload(model)
    findings = []
    for param in params:
        name = next((n for n in param.names if n in loaded), None)
        if name is None:
            continue
        back = loaded[name]
        if back.shape != param.array.shape or not np.array_equal(
                back.astype(param.array.dtype), param.array, equal_nan=True):
            changed = int(np.count_nonzero(back.reshape(param.array.shape) != param.array)) \
                if back.size == param.array.size else back.size
            findings.append(Finding(
                kind="reinitialized-on-load", tensors=param.names,
                detail=f"{changed} of {param.array.size} entries differ after save_pretrained "
                       "and from_pretrained"))
    return findings


def keras_reloaded(model, params) -> tuple[list[Finding], str | None]:
    """Every tensor of a Keras model after ``model.save`` and ``keras.saving.load_model``
    on a temporary ``.keras`` file (matched by position: Keras renames layers); a model
    that cannot be loaded back (an unregistered custom layer) is a warning."""
    import tempfile
    from pathlib import Path

    import keras

    from verify.layers import walk

    with tempfile.TemporaryDirectory(prefix="verify-audit-") as directory:
        path = Path(directory) / "model.keras"
        try:
            model.save(path)
            loaded = keras.saving.load_model(path)
        except Exception as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else ""
            return [], (f"the model could not be saved and loaded back through Keras "
                         f"({type(error).__name__}: {first[:200]}); loading not checked")
    back = walk("keras", loaded)
    if [p.shape for p in back] != [p.shape for p in params]:
        return [], "the model loaded back has other tensors; loading not checked"
    findings = []
    for param, returned in zip(params, back, strict=True):
        if not np.array_equal(param.array, returned.array, equal_nan=True):
            changed = int(np.count_nonzero(param.array != returned.array))
            findings.append(Finding(
                kind="reinitialized-on-load", tensors=param.names,
                detail=f"{changed} of {param.array.size} entries differ after model.save and "
                       "keras.saving.load_model"))
    return findings, None


def doc_mismatches(spec) -> list[Finding]:
    findings = []
    for record in getattr(spec, "doc_mismatches", ()):
        tensors = getattr(record, "tensors", "*")
        if isinstance(tensors, str):  # globs separated by ", " ({a,b} has no space)
            tensors = re.split(r",\s+", tensors)
        findings.append(Finding(
            kind="doc-mismatch", tensors=tuple(tensors), detail=getattr(record, "detail", ""),
            citation=" ; ".join(f"{label}: {c}" for label, c in
                                (("documentation", getattr(record, "doc", "")),
                                 ("code", getattr(record, "code", ""))) if c)))
    return findings
