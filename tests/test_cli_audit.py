"""``python -m verify audit`` on the command line: exit statuses, bad input in one line,
the JSON contract, several targets."""

from __future__ import annotations

import json

import pytest

from verify.audit import KINDS
from verify.cli import main

SEED = 20261201
MODELS = "tests.audit_models"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    status = main(["audit", *argv, "--seed", str(SEED)])
    out, err = capsys.readouterr()
    return status, out, err


def test_a_correct_model_exits_0(capsys):
    status, out, _ = run(capsys, f"{MODELS}:correct_scheme")
    assert status == 0
    assert "PASS" in out.splitlines()[0] and "no findings" in out


def test_findings_exit_1_with_a_replay_line(capsys):
    status, out, _ = run(capsys, f"{MODELS}:broken_head_left_on_default")
    assert status == 1
    assert "left-on-default: head.weight" in out
    assert f"replay: python -m verify audit {MODELS}:broken_head_left_on_default --api torch " \
           f"--seed {SEED}" in out


def test_json_document(capsys):
    status, out, _ = run(capsys, "torch:nn.MultiheadAttention", "--kwargs",
                         '{"embed_dim": 32, "num_heads": 4}', "--json")
    assert status == 1
    document = json.loads(out)
    assert list(document)[:3] == ["schema_version", "seed", "versions"]
    assert document["verdict"] == "fail"
    [finding] = document["findings"]
    assert finding["kind"] == "fan-mismatch" and finding["kind"] in KINDS
    assert finding["tensors"] == ["in_proj_weight"]
    names = [t["name"] for t in document["tensors"]]
    assert names == ["in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"]
    bias = document["tensors"][3]
    assert bias["expected"]["family"] == "constant" and bias["expected"]["source"] == "default"


@pytest.mark.parametrize("argv, message", [
    ([f"{MODELS}:raises"], "raised RuntimeError: the config is missing a field"),
    ([f"{MODELS}:not_a_model"], "not a torch.nn.Module"),
    ([f"{MODELS}:no_parameters"], "no parameters"),
    ([f"{MODELS}:hangs", "--timeout", "0.5"], "did not return within 0.5 s"),
    ([f"{MODELS}:nothing_here"], "has no attribute"),
    (["torch:nn.Nope"], "not in the registry"),
    (["torch:nn.Linear", "--kwargs", '{"in_feature": 3}'], "torch:nn.Linear"),
    (["transformers:GPT2Model", "--config", '{"n_lyer": 2}'], "no field 'n_lyer'"),
    (["transformers:NoSuchModel"], "no model class 'NoSuchModel'"),
    ([f"{MODELS}:correct_scheme", "--kwargs", "{bad"], "--kwargs is not valid JSON"),
    ([f"{MODELS}:correct_scheme", "--spec", "no/such/file.toml"], "cannot read the spec"),
    ([f"{MODELS}:correct_scheme", "--waive", "no/such/file.toml"], "cannot read"),
    ([f"{MODELS}:correct_scheme", "--api", "jax"], "invalid choice"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, argv, message):
    if argv[0].startswith("transformers:"):
        pytest.importorskip("transformers")
    status, out, err = run(capsys, *argv)
    assert status == 2
    assert out == ""
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and message in lines[0], err
    assert "Traceback" not in err


def test_a_malformed_spec_names_its_line_and_column(capsys, tmp_path):
    spec = tmp_path / "bad.toml"
    spec.write_text('"*.weight" = "normal(std=0.02"\n')
    status, _, err = run(capsys, f"{MODELS}:correct_scheme", "--spec", str(spec))
    assert status == 2
    assert f"{spec}:1:" in err


def test_a_spec_glob_that_matches_nothing_is_a_warning(capsys, tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text('"*.weight" = "own()"\n"*.bias" = "own()"\n"nowhere.weight" = "own()"\n')
    status, out, _ = run(capsys, f"{MODELS}:correct_defaults", "--spec", str(spec))
    assert status == 0
    assert "warning: the spec's rule 'nowhere.weight' matches no tensor" in out


def test_several_targets_go_on_past_a_broken_one(capsys):
    status, out, _ = run(capsys, f"{MODELS}:raises", f"{MODELS}:correct_defaults", "--json")
    assert status == 2
    document = json.loads(out)
    assert [a["verdict"] for a in document["audits"]] == ["error", "pass"]
    assert document["verdict"] == "error"
    assert "RuntimeError" in document["audits"][0]["error"]


def test_dtype_float64(capsys):
    status, out, _ = run(capsys, "torch:nn.Linear", "--kwargs",
                         '{"in_features": 16, "out_features": 8}', "--dtype", "float64",
                         "--json")
    assert status == 0
    assert {t["dtype"] for t in json.loads(out)["tensors"]} == {"torch.float64"}


def test_a_transformers_architecture_with_its_builtin_spec(capsys):
    pytest.importorskip("transformers")
    status, out, _ = run(capsys, "transformers:GPT2Model", "--examples", "2", "--json")
    document = json.loads(out)
    assert status == 0, [f for f in document["findings"] if f["blocking"]]
    assert document["spec"] == "verify/audit/specs/GPT2Model.toml (built in)"
    proj = next(t for t in document["tensors"] if t["name"] == "h.1.attn.c_proj.weight")
    assert proj["expected"]["std"] == pytest.approx(0.02 / 2)  # 2 layers: 0.02 / sqrt(4)
    assert proj["expected"]["source"] == "paper"
    assert {f["kind"] for f in document["findings"]} == {"doc-mismatch"}


def test_conformance_takes_the_same_waiver_file(capsys, monkeypatch, tmp_path):
    """An entry whose claim it fails (xavier_uniform_ claimed as He normal) is waived by
    kind and target; the run passes, and the row says why."""
    import dataclasses

    from verify import catalog
    from verify.schemes import InitSpec

    entry = catalog.load(["torch"]).find("torch:xavier_uniform_")
    wrong = dataclasses.replace(entry, claim=InitSpec("he", "normal", "oihw"))
    monkeypatch.setattr(catalog, "load",
                        lambda libraries=None, **_: catalog.Catalog([wrong], {}))
    argv = ["conformance", "--examples", "1", "--no-fingerprint", "--seed", str(SEED),
            "--dtype", "float32"]
    assert main([*argv, "--json"]) == 1
    capsys.readouterr()
    waive = tmp_path / "waive.toml"
    waive.write_text('[[waive]]\nkind = "variance"\ntensors = "*"\n'
                     'target = "torch:xavier_*"\nreason = "known"\nlink = "https://x.org/1"\n')
    assert main([*argv, "--waive", str(waive), "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)["entries"]
    assert row["verdict"] == "fail" and row["waived"]["reason"] == "known"


def test_a_spec_that_names_no_tensor_is_bad_input(capsys, tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text('"encoder.*.weight" = "normal(std=0.02)"\n')
    status, out, err = run(capsys, f"{MODELS}:correct_defaults", "--spec", str(spec))
    assert status == 2 and out == ""
    assert "names no tensor" in err and "'0.weight'" in err


def test_a_keras_builder_in_a_fresh_process():
    """The user's module imports Keras: the audit chooses the JAX backend before it does
    (Keras fixes its backend at import, and its default, TensorFlow, is not installed)."""
    import importlib.util
    import os
    import subprocess
    import sys

    if importlib.util.find_spec("keras") is None or importlib.util.find_spec("jax") is None:
        pytest.skip("keras or jax is not installed (pip install -e '.[keras]')")
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    done = subprocess.run([sys.executable, "-m", "verify", "audit",
                           "tests.audit_models_keras:correct_dense", "--api", "keras",
                           "--seed", str(SEED)], capture_output=True, text=True, env=env,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "PASS" in done.stdout.splitlines()[0]
