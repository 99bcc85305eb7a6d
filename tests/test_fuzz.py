"""Hypothesis throws bad input at the command line and the Python API.

The contract: bad usage or a broken initializer ends with exit status 2 and exactly
one ``error:`` line on stderr (no traceback), prints nothing on stdout, and leaves
nothing on disk; the API raises ``ValueError`` (or ``TypeError`` for a value of the
wrong type, or ``TargetError`` for a broken initializer) with a one-line message.

The command line runs in-process (``verify.cli.main``), so hundreds of cases take
seconds; ``tests/test_cli.py`` runs the same paths as a subprocess.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from verify.cli import main
from verify.conformance import TargetError, check
from verify.schemes import InitSpec

MODULE = "fuzz_user_inits"
SOURCE = '''
import math, time
import numpy as np

def he(tensor, generator=None):
    fan_in = tensor.shape[1] * math.prod(tensor.shape[2:])
    return tensor.normal_(0, math.sqrt(2 / fan_in), generator=generator)

def he_numpy(shape, rng):
    fan_in = shape[1] * math.prod(shape[2:])
    return rng.standard_normal(shape).astype(np.float32) * math.sqrt(2 / fan_in)

def raises(shape, rng):
    raise RuntimeError("boom")

def wrong_shape(shape, rng):
    return np.zeros(shape[:-1], dtype=np.float32)

def transposed(shape, rng):
    return np.zeros(shape[::-1], dtype=np.float32) + rng.standard_normal()

def integers(shape, rng):
    return np.ones(shape, dtype=np.int64)

def nans(shape, rng):
    return np.full(shape, np.nan, dtype=np.float32)

def infinities_sometimes(shape, rng):
    values = rng.standard_normal(shape).astype(np.float32)
    values.flat[0] = np.inf
    return values

def returns_none(shape, rng):
    return None

def returns_text(shape, rng):
    return "weights"

def hangs(shape, rng):
    while True:
        time.sleep(0.01)

def hangs_on_large_tensors(shape, rng):
    if math.prod(shape) > 64:
        while True:
            time.sleep(0.01)
    return rng.standard_normal(shape).astype(np.float32)

def torch_raises(tensor, generator=None):
    raise ValueError("no")

def torch_hangs(tensor, generator=None):
    while True:
        time.sleep(0.01)

def torch_new_tensor(tensor, generator=None):
    import torch
    return torch.randn(tensor.shape)

not_callable = 3
'''


@pytest.fixture(scope="module", autouse=True)
def user_module(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz_module")
    (folder / f"{MODULE}.py").write_text(textwrap.dedent(SOURCE))
    sys.path.insert(0, str(folder))
    yield
    sys.path.remove(str(folder))
    sys.modules.pop(MODULE, None)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz_cwd")


def run_main(argv: list[str], cwd: Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    previous = os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = main(argv)
    finally:
        os.chdir(previous)
    return status, out.getvalue(), err.getvalue()


def assert_clean_usage_error(argv: list[str], cwd: Path) -> str:
    before = sorted(cwd.rglob("*"))
    status, out, err = run_main(argv, cwd)
    errors = [line for line in err.splitlines() if line.startswith("error")]
    assert status == 2, (argv, status, out[-300:], err[-500:])
    assert len(errors) == 1 and errors[0].strip() != "error:", (argv, err)
    assert "Traceback" not in err, (argv, err)
    assert out == "", (argv, out[:300])
    assert sorted(cwd.rglob("*")) == before, (argv, "wrote to disk")
    return errors[0]


# ``check`` explores shapes with hypothesis itself: running it in-process nests @given.
FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow, HealthCheck.nested_given])

junk = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
               max_size=12)
not_positive_ints = st.integers(max_value=0).map(str)
not_ints = junk.filter(lambda t: not t.strip().lstrip("+-").isdigit())
bad_seeds = st.one_of(st.integers(max_value=-1).map(str), not_ints)
bad_counts = st.one_of(not_positive_ints, not_ints)
bad_floats = st.one_of(
    st.floats(max_value=0).map(repr),
    st.sampled_from(["nan", "inf", "-inf", "-0.0", "1e400"]),
    junk.filter(lambda t: not _is_positive_finite(t)),
)


def _is_positive_finite(text: str) -> bool:
    try:
        value = float(text)
    except ValueError:
        return False
    return math.isfinite(value) and value > 0


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


bad_dims = st.one_of(
    st.lists(st.integers(-5, 0), min_size=2, max_size=5),  # zero or negative
    st.lists(st.integers(1, 9), min_size=6, max_size=8),  # too many dimensions
    st.lists(st.integers(1, 9), min_size=0, max_size=1),  # too few
    st.lists(st.integers(2**13 + 1, 2**40), min_size=2, max_size=3),  # above the entry cap
).map(lambda dims: ",".join(map(str, dims)))
bad_shapes = st.one_of(bad_dims, junk.filter(lambda t: not all(
    _is_int(p) and int(p) >= 1 for p in t.replace("x", ",").split(","))))
malformed_json = junk.filter(lambda t: t != "" and not _is_json_object(t))  # "": no kwargs
json_not_object = st.sampled_from(["[]", "[1, 2]", "3", '"a"', "null", "true", "1e9"])
unknown_kwargs = st.dictionaries(st.from_regex(r"[a-z]{3,8}", fullmatch=True).filter(
    lambda k: k not in {"generator"}), st.integers(0, 5), min_size=1, max_size=2).map(
    lambda d: __import__("json").dumps(d))


def _is_json_object(text: str) -> bool:
    import json

    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


def _unknown(choices: set[str]):
    return junk.filter(lambda t: t not in choices and not t.startswith("-") and t != "")


CHECK = ["check", f"{MODULE}:he_numpy", "--api", "numpy", "--scheme", "he", "--dist", "normal",
         "--shape", "8,4", "--examples", "1", "--timeout", "5"]


def _replace(argv: list[str], option: str, value: str) -> list[str]:
    """``argv`` with ``option`` set to ``value``, written ``--option=value`` so that a value
    starting with a dash is still read as the option's value."""
    argv = list(argv)
    if option in argv:
        index = argv.index(option)
        del argv[index:index + 2]
    return [*argv, f"{option}={value}"]


@st.composite
def bad_check_arguments(draw) -> list[str]:
    """One valid ``check`` command with exactly one thing wrong."""
    kind = draw(st.sampled_from([
        "seed", "examples", "gain", "shape", "kwargs", "json-type", "kwargs-unknown", "layout",
        "api", "timeout", "mode", "scheme", "dist", "target", "option", "lonely-scheme"]))
    option_values = {
        "seed": ("--seed", bad_seeds), "examples": ("--examples", bad_counts),
        "gain": ("--gain", bad_floats), "shape": ("--shape", bad_shapes),
        "kwargs": ("--kwargs", malformed_json), "json-type": ("--kwargs", json_not_object),
        "kwargs-unknown": ("--kwargs", unknown_kwargs),
        "layout": ("--layout", _unknown({"oihw", "hwio", "ohwi", "paddle"})),
        "api": ("--api", _unknown({"torch", "numpy", "jax", "keras", "mlx", "paddle",
                                   "tf_keras", "tinygrad"})),
        "timeout": ("--timeout", bad_floats),
        "mode": ("--mode", _unknown({"fan_in", "fan_out", "fan_avg"})),
        "scheme": ("--scheme", _unknown({"he", "lecun", "glorot"})),
        "dist": ("--dist", _unknown({"normal", "uniform", "truncated_normal"})),
    }
    if kind in option_values:
        option, values = option_values[kind]
        return _replace(CHECK, option, draw(values, label=kind))
    if kind == "target":
        target = draw(st.one_of(
            st.from_regex(r"no_such_[a-z]{1,8}(\.[a-z]{1,6})?:[a-z_]{1,8}", fullmatch=True),
            st.sampled_from([f"{MODULE}:missing", f"{MODULE}:not_callable", f"{MODULE}:",
                             f":{MODULE}", "noseparator", "torch:no_such_init_", ""]),
        ), label="target")
        return [CHECK[0], target, *CHECK[2:]]
    if kind == "option":
        known = ("--seed", "--examples", "--gain", "--shape", "--kwargs", "--layout", "--api",
                 "--timeout", "--mode", "--scheme", "--dist", "--json", "--help")
        option = draw(st.from_regex(r"--[a-z]{3,10}", fullmatch=True).filter(
            lambda o: not any(k.startswith(o) for k in known)), label="option")  # argparse
        return [*CHECK, option]  # takes unambiguous prefixes: those are good input
    return [a for a in CHECK if a not in ("--dist", "normal")]  # --scheme without --dist


@FUZZ
@given(argv=bad_check_arguments())
def test_check_with_bad_input_is_one_error_line_and_exit_2(argv, workdir):
    assert_clean_usage_error(argv, workdir)


BROKEN = st.one_of(
    st.tuples(st.sampled_from(["raises", "wrong_shape", "transposed", "integers", "nans",
                               "infinities_sometimes", "returns_none", "returns_text",
                               "hangs", "hangs_on_large_tensors"]), st.just("numpy")),
    st.tuples(st.sampled_from(["torch_raises", "torch_hangs", "torch_new_tensor"]),
              st.just("torch")),
)


@FUZZ
@given(broken=BROKEN, shape=st.sampled_from(["3,5", "16,8", "4,3,3,3", "1,1"]),
       command=st.sampled_from(["check", "fingerprint"]))
def test_broken_initializers_are_one_error_line_and_exit_2(broken, shape, command, workdir):
    name, api = broken
    if name == "transposed" and shape in ("1,1",):
        shape = "3,5"  # a 1x1 tensor transposed is the right shape
    if name == "hangs_on_large_tensors" and command == "check" and shape in ("3,5", "1,1"):
        shape = "16,8"
    argv = [command, f"{MODULE}:{name}", "--api", api, "--timeout", "0.3"]
    if command == "check":
        argv += ["--scheme", "he", "--dist", "normal", "--shape", shape]
    line = assert_clean_usage_error(argv, workdir)
    if "hangs" in name:
        assert "took longer than 0.3 s" in line and "--timeout" in line


@FUZZ
@given(argv=st.one_of(
    st.tuples(st.just("claims"), st.just("--only"),
              st.from_regex(r"[a-z]{2,8}\.[a-z-]{2,10}", fullmatch=True)).map(list),
    st.tuples(st.just("claims"), st.just("--examples"), bad_counts).map(list),
    st.tuples(st.just("claims"), st.just("--seed"), bad_seeds).map(list),
    st.tuples(st.just("conformance"), st.just("--library"),
              _unknown({"torch", "jax", "keras", "mlx", "sklearn", "paddle", "tf_keras",
                        "equinox", "haiku",
                        "all"})).map(list),
    st.tuples(st.just("fingerprint"), st.just("torch:kaiming_normal_"), st.just("--kwargs"),
              malformed_json).map(list),
    st.tuples(st.just("fingerprint"), st.just("torch:kaiming_normal_"), st.just("--layout"),
              _unknown({"oihw", "hwio", "ohwi", "paddle"})).map(list),
    st.tuples(st.just("compare"), st.just("torch:nn.Linear"), st.just("torch:nn.Linear"),
              st.just("--layer"), bad_shapes).map(list),
    st.tuples(st.just("compare"), st.just("--models"), st.just("torch:nn.Linear"),
              st.just("torch:nn.Linear"), st.sampled_from(["--kwargs-a", "--kwargs-b",
                                                           "--config-a", "--config-b"]),
              malformed_json | json_not_object).map(list),
    st.tuples(st.just("compare"), st.just("--models"), st.just("torch:nn.Linear"),
              st.just("torch:nn.Linear"), st.just("--api-b"),
              _unknown({"torch", "keras", "nnx", "linen", "mlx", "paddle", "arrays",
                        "tf_keras", "equinox", "haiku"})).map(list),
    st.tuples(st.just("measure"), st.just("--runs"), bad_counts).map(list),
    st.tuples(st.just("measure"), st.just("--trials"), bad_counts).map(list),
    st.tuples(st.just("measure"), st.just("--out"),
              st.sampled_from([".", "/", "/proc/x.json", "/proc/version/x.json"])).map(list),
    st.lists(_unknown({"claims", "check", "conformance", "fingerprint", "compare", "measure"}),
             min_size=1, max_size=2),
))
def test_other_commands_with_bad_input_are_one_error_line_and_exit_2(argv, workdir):
    if argv[0] == "claims" and argv[1] == "--only" and argv[2] in __import__(
            "verify.claims", fromlist=["CLAIMS"]).CLAIMS:
        return  # a real claim ID is good input
    if len(argv) > 2 and argv[-2].startswith("--"):
        argv = [*argv[:-2], f"{argv[-2]}={argv[-1]}"]
    assert_clean_usage_error(argv, workdir)


# --- the Python API --------------------------------------------------------------------------

texts = st.one_of(st.sampled_from(["he", "lecun", "glorot", "normal", "uniform",
                                   "truncated_normal", "oihw", "hwio", "ohwi", "fan_in",
                                   "fan_avg"]), junk)


@FUZZ
@given(scheme=texts, dist=texts, layout=texts, mode=st.none() | texts,
       gain=st.none() | st.floats() | st.integers(-3, 3),
       groups=st.integers(-2, 4), shape=st.lists(st.integers(-3, 2**40), max_size=7))
def test_init_spec_accepts_or_explains(scheme, dist, layout, mode, gain, groups, shape):
    try:
        spec = InitSpec(scheme, dist, layout, mode, gain, groups)
        law = spec.law(tuple(shape))
    except (ValueError, TypeError) as error:
        message = str(error)
        assert message and "\n" not in message
        return
    assert math.isfinite(float(law.var())) and law.var() > 0


@FUZZ
@given(shape=st.lists(st.integers(-3, 2**30), min_size=0, max_size=7))
def test_check_refuses_bad_shapes_before_calling_the_initializer(shape):
    calls = []

    def sampler(shape, seed):
        calls.append(shape)
        return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)

    valid = 2 <= len(shape) <= 5 and min(shape) >= 1 and math.prod(shape) <= 2**26
    if valid:
        return
    with pytest.raises((TargetError, ValueError)) as raised:
        check(sampler, InitSpec("he", "normal"), shapes=st.just(tuple(shape)), max_examples=1)
    assert calls == [] and "\n" not in str(raised.value)
