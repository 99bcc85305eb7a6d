"""``--upstream``: the standalone reproductions' statistics (size and power, measured), and
the bug reports that ``conformance`` writes, run alone."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from scipy import stats

from verify.laws import Orthogonal, constant
from verify.schemes import InitSpec
from verify.upstream.program import facts, program
from verify.upstream.report import RUN_ALONE


def run_cli(*args: str) -> tuple[int, str, str]:
    done = subprocess.run([sys.executable, "-m", "verify", *args], capture_output=True,
                          text=True, timeout=600)
    return done.returncode, done.stdout, done.stderr


GLOROT = InitSpec("glorot", "uniform", layout="oihw")
SHAPE = (8, 4)  # fan_in 4, fan_out 8: Var = 2 / 12, bound A = sqrt(6 / 12)
A = math.sqrt(0.5)
CALLS = 200


def _checks(snippet: str, claim=GLOROT, *, alpha: float = 0.01, seed: int = 0,
            shape=SHAPE, calls=CALLS):
    namespace: dict = {"__name__": "reproduction"}
    documented = facts(claim, shape, "float32", calls * math.prod(shape))
    source = program(title="t", snippet=snippet, shape=shape, documented=documented,
                     calls=calls, seed=seed, alpha=alpha)
    exec(compile(source, "<reproduction>", "exec"), namespace)
    return namespace["checks"]()[1]


RIGHT = f"rng = np.random.default_rng(seed); w = rng.uniform(-{A!r}, {A!r}, {{shape}})"


def test_null_false_alarm_rate_is_alpha_per_check():
    """400 reproductions of a correct initializer at alpha = 0.01: each check's alarms
    stay within the binomial bound (p < 1e-3 above the expected 4)."""
    runs = 400
    alarms: dict[str, int] = {}
    for run in range(runs):
        for check, _, _, deviates in _checks(RIGHT, seed=run * CALLS):
            alarms[check] = alarms.get(check, 0) + int(deviates)
    bound = stats.binom.isf(1e-3, runs, 0.01)
    print(json.dumps(alarms))
    assert set(alarms) >= {"mean", "variance", "support", "tails", "seeds"}
    for check, count in alarms.items():
        assert count <= bound, f"{check}: {count}/{runs} alarms at alpha 0.01"


@pytest.mark.parametrize("snippet, caught", [
    # the fan_in-only bound sqrt(3 / 4): variance x 1.5, values past A
    ("rng = np.random.default_rng(seed); w = rng.uniform(-0.75 ** 0.5, 0.75 ** 0.5, {shape})",
     {"variance", "support"}),
    # a normal of the right variance instead of the uniform
    (f"rng = np.random.default_rng(seed); w = rng.normal(0, {A / math.sqrt(3)!r}, {{shape}})",
     {"support"}),
    # a uniform narrowed by 3%: inside the support, never reaching its ends
    (f"rng = np.random.default_rng(seed); w = rng.uniform(-{0.97 * A!r}, {0.97 * A!r}, "
     "{shape})", {"tails"}),
    # the seed ignored
    (RIGHT.replace("default_rng(seed)", "default_rng(0)"), {"seeds"}),
    # a mean shift of 0.06 (0.15 standard deviations)
    (f"rng = np.random.default_rng(seed); w = 0.06 + rng.uniform(-{A!r}, {A!r}, {{shape}})",
     {"mean"}),
])
def test_deviations_are_caught_at_the_policy_level(snippet, caught):
    rows = _checks(snippet, alpha=1e-9)
    flagged = {check for check, _, _, deviates in rows if deviates}
    assert caught <= flagged, rows


def test_exact_and_orthogonal_claims():
    assert not any(r[3] for r in _checks("w = np.zeros({shape})", constant(0.0)))
    assert any(r[3] for r in _checks("w = np.full({shape}, 1e-3)", constant(0.0)))
    right = "q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(4, 4))); w = q[:2]"
    assert not any(r[3] for r in _checks(right, Orthogonal(), shape=(2, 4), calls=8))
    assert any(r[3] for r in _checks(right.replace("q[:2]", "2 * q[:2]"), Orthogonal(),
                                     shape=(2, 4), calls=8))


def test_a_reproduction_runs_alone(tmp_path):
    """The script runs with python -I and this project unimportable, and exits 1."""
    documented = facts(GLOROT, SHAPE, "float32", 2000 * 32)
    source = program(title="wrong fan", shape=SHAPE, documented=documented, calls=2000,
                     snippet="import verify\nw = np.zeros({shape})")
    script = tmp_path / "reproduce.py"
    script.write_text(source)
    done = subprocess.run([sys.executable, "-I", "-c", RUN_ALONE, str(script)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "ModuleNotFoundError" in done.stderr, done.stderr


@pytest.mark.slow
def test_conformance_writes_a_report_per_finding(tmp_path):
    pytest.importorskip("torch")
    out = tmp_path / "reports"
    code, _stdout, stderr = run_cli("conformance", "--library", "torch", "--only",
                                   "torch:nn.ConvTranspose2d", "torch:nn.Linear",
                                   "--dtype", "float32", "--examples", "2",
                                   "--upstream", str(out))
    assert code == 1, stderr
    written = sorted(p.name for p in out.iterdir())
    assert written == ["torch-nn.ConvTranspose2d.md", "torch-nn.ConvTranspose2d.py"], written
    report = (out / "torch-nn.ConvTranspose2d.md").read_text()
    assert "Run here (exit status 1): it shows the deviation." in report
    assert "https://pytorch.org/docs/stable/generated/torch.nn.ConvTranspose2d" in report
    for heading in ("## What the documentation says", "## What it does",
                    "## Reproduction", "## Found by"):
        assert heading in report
    # and once more, by hand, alone
    done = subprocess.run([sys.executable, "-I", "-c", RUN_ALONE,
                           str(out / "torch-nn.ConvTranspose2d.py")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "DEVIATES  variance" in done.stdout


def test_upstream_into_a_file_is_bad_usage(tmp_path):
    path = tmp_path / "a-file"
    path.write_text("")
    code, _, stderr = run_cli("conformance", "--library", "torch", "--upstream", str(path))
    assert code == 2 and "not a directory" in stderr and "Traceback" not in stderr


def test_history_reports_the_first_bad_and_last_good_release(tmp_path):
    """fakeinit 1.0.0 conforms, 1.1.0 does not import, 1.2.0 draws LeCun's law for He's:
    the report names 1.2.0 and 1.0.0, and its reproduction, run against 1.2.0's install,
    shows the deviation (tests/fake_releases.py)."""
    from tests.fake_releases import history_arguments, wheelhouse

    house, out = wheelhouse(tmp_path / "wheels"), tmp_path / "reports"
    code, _, stderr = run_cli("history", *history_arguments(house, tmp_path / "cache"),
                              "--upstream", str(out))
    assert code == 0, stderr
    [report] = sorted(out.glob("*.md"))
    text = report.read_text()
    assert "- first bad release: **1.2.0**" in text
    assert "- last good release: **1.0.0**" in text
    assert "| 1.1.0 | ModuleNotFoundError" in text
    assert "Run here with fakeinit 1.2.0 (exit status 1): it shows the deviation." in text
    assert "DEVIATES  variance" in text
    # the same script against 1.0.0's install conforms
    script = report.with_suffix(".py")
    done = subprocess.run([sys.executable, "-I", "-c", RUN_ALONE, str(script),
                           str(tmp_path / "cache" / "fakeinit-1.0.0")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.slow
def test_audit_writes_a_report_whose_script_rebuilds_the_model(tmp_path):
    """OPT's output projections: N(0, 0.02^2) where the paper scales them by 1/sqrt(2L)
    (the strict xfail of tests/test_specs_transformers.py)."""
    pytest.importorskip("transformers")
    out = tmp_path / "reports"
    code, _, stderr = run_cli("audit", "transformers:OPTModel", "--examples", "0",
                              "--upstream", str(out))
    assert code == 1, stderr
    [report] = sorted(out.glob("*.md"))
    text = report.read_text()
    assert "depth-law" in text and "arxiv.org/abs/2205.01068" in text
    assert "(exit status 1): it shows the deviation." in text
    assert "import verify" not in report.with_suffix(".py").read_text()


SAME_BUILD = """
import runpy, sys
import numpy as np
from verify.audit.builders import resolve
script, target, api = sys.argv[1:]
ns = runpy.run_path(script, run_name="reproduction")
builder = resolve(target, api=api)
for seed in (3, 7):
    mine, theirs = ns["tensors"](ns["build"](seed)), ns["tensors"](builder.build(seed))
    assert set(mine) == set(ns["TENSORS"]) == set(theirs)
    for name in mine:
        assert np.array_equal(mine[name], theirs[name], equal_nan=True), (seed, name)
print("same")
"""
"""The script's ``build(seed)`` and ``tensors`` against the audit's builder, seed for seed."""

AUDIT_APIS = [
    # api, the module of its models, the broken builder, its correct twin, the finding's line
    ("torch", "torch", "tests.audit_models", "broken_identical", "correct_two_layers",
     "identical tensors"),
    ("keras", "keras", "tests.audit_models_keras", "broken_identical", "correct_dense",
     "identical tensors"),
    ("nnx", "flax", "tests.audit_models_nnx", "broken_identical", "correct_pair",
     "identical tensors"),
    ("linen", "flax", "tests.audit_models_apis", "broken_identical_linen",
     "correct_pair_linen", "identical tensors"),
    ("mlx", "mlx", "tests.audit_models_apis", "broken_identical_mlx", "correct_pair_mlx",
     "identical tensors"),
    ("paddle", "paddle", "tests.audit_models_apis", "broken_identical_paddle",
     "correct_pair_paddle", "identical tensors"),
    ("tf_keras", "tf_keras", "tests.audit_models_apis", "broken_identical_tf_keras",
     "correct_pair_tf_keras", "identical tensors"),
    ("equinox", "equinox", "tests.audit_models_equinox", "broken_same_key", "correct_mlp",
     "identical tensors"),
    ("haiku", "haiku", "tests.audit_models_haiku", "broken_fixed_key", "correct_mlp",
     "seeding"),
    ("tinygrad", "tinygrad", "tests.audit_models_apis", "broken_identical_tinygrad",
     "correct_pair_tinygrad", "identical tensors"),
]


@pytest.mark.slow
@pytest.mark.parametrize("api, library, module, broken, correct, line", AUDIT_APIS,
                         ids=[row[0] for row in AUDIT_APIS])
def test_audit_of_each_api_writes_a_script_that_rebuilds_the_model(
        tmp_path, api, library, module, broken, correct, line):
    """A broken model of each api: the report's script rebuilds it with the library alone
    (python -I, this project unimportable), seeded as the audit seeds, names its tensors as
    the audit does, and exits 1 with the finding's line; the correct twin gets no report."""
    import importlib.util

    if importlib.util.find_spec(library) is None:  # never imported here: see the brief on
        pytest.skip(f"{library} is not installed")  # TensorFlow then Paddle
    if api == "tinygrad":
        from verify.adapters.tinygrad import cpu_compiler_missing

        if cpu_compiler_missing():
            pytest.skip(cpu_compiler_missing())
    out = tmp_path / "reports"
    code, _, stderr = run_cli("audit", f"{module}:{broken}", "--api", api,
                              "--upstream", str(out))
    assert code == 1, stderr
    reports = sorted(out.glob("*.md"))
    assert reports, stderr
    for report in reports:
        text = report.read_text()
        assert "No standalone script" not in text
        assert "(exit status 1): it shows the deviation." in text, text
        script = report.with_suffix(".py")
        assert "import verify" not in script.read_text()
        done = subprocess.run([sys.executable, "-I", "-c", RUN_ALONE, str(script)],
                              capture_output=True, text=True, timeout=300, cwd=tmp_path)
        assert done.returncode == 1, done.stdout + done.stderr
        assert f"DEVIATES  {line}" in done.stdout, done.stdout
        # the script's build(seed) is the audit's: the same tensors for the same seed
        same = subprocess.run([sys.executable, "-c", SAME_BUILD, str(script),
                               f"{module}:{broken}", api], capture_output=True, text=True,
                              timeout=300)
        assert same.returncode == 0 and "same" in same.stdout, same.stdout + same.stderr
    twin = tmp_path / "twin"
    code, _, stderr = run_cli("audit", f"{module}:{correct}", "--api", api,
                              "--upstream", str(twin))
    assert code == 0, stderr
    assert not list(twin.glob("*.md")) if twin.exists() else True


def test_a_registry_layer_gets_an_honest_note():
    """The registry's layers are built by this project's code: no script, and the report
    says so and names the apis that get one."""
    from types import SimpleNamespace

    pytest.importorskip("torch")
    from verify.upstream.audit import SCRIPTED_APIS, reports

    finding = SimpleNamespace(kind="identical", tensors=("weight",), numbers={},
                              expected="", blocking=True, replay="", config=None,
                              citation="", detail="two tensors are equal", measured="")
    result = SimpleNamespace(target="torch:nn.Linear", findings=[finding], seed=0,
                             replay="", tensors=[])
    [report] = reports(result)
    assert report.program is None
    assert "No standalone script" in report.program_note
    assert "registry's layers" in report.program_note
    assert all(api in report.program_note for api in SCRIPTED_APIS)
    assert {"keras", "nnx", "linen", "mlx", "paddle", "tf_keras", "equinox", "haiku",
            "tinygrad"} <= set(SCRIPTED_APIS)


@pytest.mark.slow
def test_an_nnx_variance_finding_is_measured_by_its_script(tmp_path):
    """With a spec: N(0, 0.021^2) where the spec says N(0, 0.02^2); the script pools the
    audit's tensors over its own builds and finds the variance ratio, alone; the correct
    twin gets no report."""
    import importlib.util

    if importlib.util.find_spec("flax") is None:
        pytest.skip("flax is not installed")
    spec = str(Path(__file__).parent / "specs" / "linear_nnx.toml")
    out = tmp_path / "reports"
    code, _, stderr = run_cli("audit", "tests.audit_models_nnx:broken_variance", "--api",
                              "nnx", "--spec", spec, "--upstream", str(out))
    assert code == 1, stderr
    [report] = sorted(out.glob("*.md"))
    done = subprocess.run([sys.executable, "-I", "-c", RUN_ALONE,
                           str(report.with_suffix(".py"))],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "DEVIATES  variance ratio" in done.stdout
    twin = tmp_path / "twin"
    code, _, stderr = run_cli("audit", "tests.audit_models_nnx:correct_normal", "--api",
                              "nnx", "--spec", spec, "--upstream", str(twin))
    assert code == 0, stderr
    assert not list(twin.glob("*.md")) if twin.exists() else True
