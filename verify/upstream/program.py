"""A reproduction that runs with the library alone: the target's snippet, the documented
law as numbers, and a small NumPy harness that compares the two.

:func:`facts` turns a claim at one shape (and dtype) into plain numbers: mean, variance,
support, tail cut points, the bins of a chi-square test of the distribution's shape and
their probabilities (of the values rounded to the dtype, for float16 and bfloat16), or the
exact tensor, or the orthogonality gain. :func:`program` writes a script that draws
``calls`` tensors with seeds ``seed, seed + 1, ...`` through the snippet and runs
:data:`HARNESS` on them. The harness's critical values come from ``alpha`` (1e-9 per check
by default, the project's policy), computed here with SciPy and written into the script as
numbers, so the script needs NumPy only; each check's false-alarm rate is ``alpha`` under
the documented law (the chi-square and variance tests asymptotically, at ``n`` in the
millions), which ``tests/test_upstream.py`` measures at ``alpha = 0.01``.
"""

from __future__ import annotations

import math
import pprint

import numpy as np
from scipy import stats

from verify.laws import Exact, Orthogonal, is_statistical
from verify.precision import is_complex
from verify.upstream.snippets import PRELUDE, draw_function

TAIL_EXPECTED = 21.0
"""Expected count of values beyond each tail cut point: none at all has probability
``exp(-21)``, below 1e-9."""

HARNESS = r'''

def checks():
    """(values drawn, rows of (check, documented, measured, deviates))."""
    w0 = draw(SEED)
    draws = [w0] + [draw(SEED + i) for i in range(1, CALLS)]
    w = np.concatenate([np.asarray(d).ravel() for d in draws])
    n = w.size
    law = DOCUMENTED
    rows = []  # (check, documented, measured, deviates)

    def moment_rows(x, mean, variance, prefix=""):
        x = x.astype(np.float64)
        m = x.mean()
        centered = x - m
        s2 = float(np.mean(centered**2))
        m4 = float(np.mean(centered**4))
        se_mean = math.sqrt(s2 / n) if s2 > 0 else 0.0
        se_var = math.sqrt(max(m4 - s2 * s2, 0.0) / n)
        z = CRITICAL["z"]
        rows.append((prefix + "mean", f"{mean:.6g}",
                     f"{m:.6g} (+- {z * se_mean:.3g})", abs(m - mean) > z * se_mean))
        ratio = s2 / variance
        half = z * se_var / variance
        rows.append((prefix + "variance", f"{variance:.6g}",
                     f"{s2:.6g}, ratio {ratio:.4f} [{ratio - half:.4f}, {ratio + half:.4f}]",
                     abs(ratio - 1.0) > half))

    if law["kind"] == "exact":
        expected = np.asarray(law["values"], dtype=np.float64).reshape(SHAPE)
        error = max(float(np.max(np.abs(np.asarray(d, np.float64) - expected)))
                    for d in draws[:2])
        rows.append(("values", "the tensor above", f"max |w - expected| = {error:.3g}",
                     error > 1e-6 * max(1.0, float(np.max(np.abs(expected))))))
    elif law["kind"] == "orthogonal":
        worst = 0.0
        for d in draws[:8]:
            d = np.asarray(d, np.float64)
            m = d.reshape(d.shape[0], -1) if law["rows"] == "first" else d.reshape(-1, d.shape[-1])
            g = m @ m.T if m.shape[0] <= m.shape[1] else m.T @ m
            worst = max(worst, float(np.max(np.abs(g - law["gain"] ** 2 * np.eye(len(g))))))
        rows.append(("W W^T = gain^2 I", f"gain {law['gain']:g}",
                     f"max |W W^T - gain^2 I| = {worst:.3g}", worst > 1e-3 * law["gain"] ** 2))
    elif law["kind"] == "complex":
        m = w.mean()
        s2 = float(np.mean(np.abs(w - m) ** 2))
        m4 = float(np.mean(np.abs(w - m) ** 4))
        half = CRITICAL["z"] * math.sqrt(max(m4 - s2 * s2, 0.0) / n) / law["variance"]
        ratio = s2 / law["variance"]
        rows.append(("E|w - mean|^2", f"{law['variance']:.6g}",
                     f"{s2:.6g}, ratio {ratio:.4f} [{ratio - half:.4f}, {ratio + half:.4f}]",
                     abs(ratio - 1.0) > half))
        moment_rows(w.real, law["mean"], law["variance"] / 2, "real part ")
        moment_rows(w.imag, 0.0, law["variance"] / 2, "imaginary part ")
    else:
        w = w.astype(np.float64)
        moment_rows(w, law["mean"], law["variance"])
        low, high = law["support"]  # None: unbounded
        low, high = (-math.inf if low is None else low), (math.inf if high is None else high)
        if math.isfinite(low) or math.isfinite(high):
            outside = int(np.sum((w < low - law["tolerance"]) | (w > high + law["tolerance"])))
            rows.append(("support", f"[{low:.6g}, {high:.6g}]",
                         f"min {w.min():.6g}, max {w.max():.6g}, {outside} outside",
                         outside > 0))
        if law["tails"] is not None:
            below = int(np.sum(w <= law["tails"][0]))
            above = int(np.sum(w >= law["tails"][1]))
            rows.append(("tails", f"about {law['tail_expected']:g} values <= "
                         f"{law['tails'][0]:.6g} and as many >= {law['tails'][1]:.6g}",
                         f"{below} and {above}", below == 0 or above == 0))
        counts = np.bincount(np.searchsorted(law["cuts"], w, side="left"),
                             minlength=len(law["bins"]))
        expected = n * np.asarray(law["bins"])
        chi2 = float(np.sum((counts - expected) ** 2 / expected))
        rows.append((f"shape: chi-square, {len(expected)} bins", f"<= {CRITICAL['chi2']:.4g}",
                     f"{chi2:.4g}", chi2 > CRITICAL["chi2"]))
    if np.asarray(w0).size > 1 and law["kind"] in ("statistical", "complex", "orthogonal"):
        same = bool(np.array_equal(np.asarray(w0), np.asarray(draws[1])))
        rows.append(("seeds", "two seeds draw different tensors",
                     "identical" if same else "different", same))
    return n, rows


def main():
    n, rows = checks()
    print(f"{TITLE}\n{n} values from {CALLS} tensors of shape {SHAPE}, seeds {SEED}.."
          f"{SEED + CALLS - 1}")
    width = max(len(r[0]) for r in rows)
    for check, documented, measured, deviates in rows:
        print(f"{'DEVIATES' if deviates else 'agrees':9} {check:{width}}  "
              f"documented {documented}; measured {measured}")
    return 1 if any(r[3] for r in rows) else 0


if __name__ == "__main__":
    try:
        status = main()
    except Exception:  # the call itself fails: status 2, not the 1 of a deviation
        import traceback

        traceback.print_exc()
        status = 2
    sys.exit(status)
'''


def critical(alpha: float, bins: int) -> dict:
    """The harness's critical values at ``alpha`` per check."""
    return {"z": float(stats.norm.isf(alpha / 2)),
            "chi2": float(stats.chi2.isf(alpha, max(bins - 1, 1)))}


def facts(claim, shape: tuple[int, ...], dtype: str, n: int) -> dict:
    """The documented law of a tensor of ``shape`` in ``dtype``, as numbers the harness
    reads (``n`` values will be drawn: it places the tail cut points)."""
    shape = tuple(int(d) for d in shape)
    if isinstance(claim, Exact):
        return {"kind": "exact", "law": claim.describe(),
                "values": np.asarray(claim.expected(shape), dtype=np.float64).ravel().tolist()}
    if isinstance(claim, Orthogonal):
        return {"kind": "orthogonal", "law": claim.describe(), "gain": float(claim.gain),
                "rows": claim.rows}
    if not is_statistical(claim):
        raise ValueError(f"no standalone reproduction for a claim of {type(claim).__name__}")
    law = claim.law(shape)
    if is_complex(dtype):
        return {"kind": "complex", "law": claim.describe(), "mean": float(law.mean()),
                "variance": float(law.var())}
    from verify.precision.rounding import rounded

    drawn = rounded(law, dtype)
    low, high = (float(b) for b in law.support())
    cuts = sorted({float(law.ppf(q)) for q in np.arange(1, 10) / 10.0})
    edges = np.concatenate([[0.0], [float(drawn.cdf(c)) for c in cuts], [1.0]])
    bins = np.diff(edges)
    tail = TAIL_EXPECTED / n
    tails = (float(drawn.ppf(tail)), float(drawn.ppf(1 - tail))) if tail < 0.1 else None
    eps = float(np.finfo(np.float32).eps) if dtype in ("float32", "bfloat16", "float16") \
        else float(np.finfo(np.float64).eps)
    if dtype in ("float16", "bfloat16"):
        eps = {"float16": 2.0**-10, "bfloat16": 2.0**-7}[dtype]
    scale = max(abs(low) if math.isfinite(low) else 0.0, abs(high) if math.isfinite(high)
                else 0.0)
    return {"kind": "statistical", "law": claim.describe(), "mean": float(drawn.mean()),
            "variance": float(drawn.var()),
            "support": tuple(b if math.isfinite(b) else None for b in (low, high)),
            "tolerance": eps * scale, "tails": tails, "tail_expected": TAIL_EXPECTED,
            "cuts": cuts, "bins": [float(b) for b in bins]}


def calls_for(claim, shape: tuple[int, ...], dtype: str, max_calls: int) -> int:
    """Tensors to draw: as many as the check's last look holds at ``shape``, at most
    ``max_calls``; a deterministic claim needs 2 (one, and one to compare)."""
    if not is_statistical(claim):
        return 2 if isinstance(claim, Exact) else 8
    from verify.conformance import sample_size

    law = claim.law(tuple(shape))
    needed = sample_size(claim, law)
    return int(max(2, min(max_calls, math.ceil(needed / max(math.prod(shape), 1)))))


def program(*, title: str, snippet: str, shape: tuple[int, ...], documented: dict,
            calls: int, seed: int = 0, alpha: float = 1e-9, header: str = "") -> str:
    """The whole reproduction: a script that exits 1 while the deviation is there."""
    bins = len(documented.get("bins", ())) or 1
    lines = [f'"""{header.strip()}"""' if header else "", "import math", "import sys", "",
             PRELUDE, "", draw_function(snippet, shape), "",
             f"TITLE = {title!r}", f"SHAPE = {tuple(int(d) for d in shape)!r}",
             f"SEED = {int(seed)}", f"CALLS = {int(calls)}",
             "DOCUMENTED = " + pprint.pformat(documented, width=88, compact=True),
             "CRITICAL = " + pprint.pformat(critical(alpha, bins), width=88),
             HARNESS]
    return "\n".join(line for line in lines if line is not None) + "\n"
