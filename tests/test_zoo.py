"""``python -m verify audit --zoo transformers``: every architecture from a small config,
one unit each on the executor. A small zoo on a real Dask scheduler and two workers gives
the embedded cluster's JSON; an architecture that does not build is listed with its reason;
a pattern that selects nothing is bad usage."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytest.importorskip("transformers")
pytest.importorskip("distributed")

from tests.dask_cluster import ENVIRONMENT, ROOT
from verify.audit import zoo
from verify.cli import main

SEED = 20261201
NOT_BUILDABLE = "HunYuanDenseV1Model"
"""Its attention reads head_dim, which HunYuanDenseV1Config leaves None, at any config
(transformers 5.24.0, the version constraints.txt pins)."""
SMALL_ZOO = ["audit", "--zoo", "transformers", "--only", "BloomModel", "GPT2Model",
             "SqueezeBertModel", NOT_BUILDABLE, "--examples", "1", "--seed", str(SEED),
             "--json"]
"""A generic-init model, a built-in spec, one on its layers' defaults, one that does not
build."""


def verify(*arguments: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "verify", *arguments], capture_output=True,
                          text=True, env=ENVIRONMENT, timeout=timeout, cwd=ROOT)


def without_timings(value):
    if isinstance(value, dict):
        return {k: without_timings(v) for k, v in value.items() if k not in zoo.TIMINGS}
    if isinstance(value, list):
        return [without_timings(v) for v in value]
    return value


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    """The small zoo on the embedded LocalCluster (2 workers)."""
    out = tmp_path_factory.mktemp("zoo-embedded")
    done = verify(*SMALL_ZOO, "--workers", "2", "--out", str(out))
    assert done.returncode in (0, 1), done.stderr
    assert "(embedded LocalCluster)" in done.stderr
    return json.loads(done.stdout)


def test_the_small_zoo_audits_each_architecture_with_its_expectation(embedded):
    rows = {row["architecture"]: row for row in embedded["architectures"]}
    assert list(rows) == ["BloomModel", "GPT2Model", NOT_BUILDABLE, "SqueezeBertModel"]
    assert rows["GPT2Model"]["expected"] == "built-in spec"
    assert rows["BloomModel"]["expected"] == "generic init"
    assert rows["SqueezeBertModel"]["expected"] == "layer defaults"
    assert all(rows[name]["builds"] >= 2 for name in ("BloomModel", "GPT2Model"))
    summary = embedded["zoo"]
    assert summary["selected"] == 4 and summary["audited"] == 3
    assert summary["architectures"] == len(zoo.architectures()) > 300
    assert summary["wall_seconds"] > 0
    kinds = {kind for row in rows.values() for kind in map(zoo.kind_label, row["findings"])}
    assert set(summary["findings_by_kind"]) == kinds


def test_an_existing_cluster_gives_the_embedded_clusters_zoo(cluster, embedded, tmp_path):
    done = verify(*SMALL_ZOO, "--scheduler", cluster["address"], "--out", str(tmp_path))
    assert done.returncode in (0, 1), done.stderr
    assert f"on 2 Dask workers at {cluster['address']}" in done.stderr
    remote = json.loads(done.stdout)
    assert without_timings(remote["architectures"]) == without_timings(embedded["architectures"])
    assert without_timings(remote["zoo"]) == without_timings(embedded["zoo"])


def test_an_architecture_that_does_not_build_is_listed_with_its_reason(capsys, tmp_path):
    status = main(["audit", "--zoo", "transformers", "--only", NOT_BUILDABLE,
                   "--out", str(tmp_path), "--seed", str(SEED)])
    out, err = capsys.readouterr()
    assert status == 0, err
    [line] = [line for line in out.splitlines() if line.startswith(f"{NOT_BUILDABLE}:")]
    assert line == (f"{NOT_BUILDABLE}: not buildable: transformers:{NOT_BUILDABLE} does not "
                    "build from a small config: TypeError: unsupported operand type(s) for ** "
                    "or pow(): 'NoneType' and 'float'; its default config fails the same way")
    assert "0 of 1 architectures audited" in out and "1 not buildable" in out
    stored = [json.loads(p.read_text()) for p in (tmp_path / "units").glob("*.json")]
    assert [unit["result"]["verdict"] for unit in stored] == ["not buildable"]
    document = json.loads((tmp_path / "zoo.json").read_text())
    assert document["zoo"]["not_buildable"] == [
        {"architecture": NOT_BUILDABLE, "reason": line.split("not buildable: ", 1)[1]}]


def test_the_report_shows_a_stored_zoo_run(capsys, tmp_path):
    from verify.report import render
    from verify.report.zoo import load, zoo_blocks

    status = main(["audit", "--zoo", "transformers", "--only", "BloomModel", NOT_BUILDABLE,
                   "--examples", "0", "--out", str(tmp_path), "--seed", str(SEED)])
    capsys.readouterr()
    assert status == 0
    text = render.markdown("zoo", zoo_blocks({"zoo": load(tmp_path)}))
    assert "## Model zoo" in text and "1 of 2 architectures audited" in text
    assert "| `BloomModel` | **pass** | generic init |" in text
    assert "| doc-mismatch (informational) | 1 | 1 |" in text
    assert f"| `{NOT_BUILDABLE}` | **not buildable** | transformers:{NOT_BUILDABLE} does not " \
           "build" in text


def test_report_zoo_without_a_stored_run_is_bad_usage(capsys, tmp_path):
    assert main(["report", "--out", str(tmp_path / "report"), "--zoo",
                 str(tmp_path / "nothing")]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "no zoo.json there" in err
    assert not (tmp_path / "report").exists()


@pytest.mark.parametrize("argv, message", [
    (["--only", "NoSuchArchitecture*"], "--only 'NoSuchArchitecture*' matches no architecture"),
    (["transformers:GPT2Model"], "drop the TARGETs"),
    (["--config", '{"n_layer": 2}'], "--config does not apply to --zoo"),
    (["--zoo", "keras"], "invalid choice"),
])
def test_bad_zoo_usage_is_one_line_and_exit_2(capsys, tmp_path, argv, message):
    status = main(["audit", "--zoo", "transformers", *argv, "--out", str(tmp_path)])
    out, err = capsys.readouterr()
    assert status == 2 and out == ""
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], err
    assert not (tmp_path / "units").exists() or not any((tmp_path / "units").iterdir())


def test_only_and_no_target_without_zoo_are_bad_usage(capsys):
    assert main(["audit"]) == 2
    assert "or --zoo transformers" in capsys.readouterr().err
    assert main(["audit", "transformers:GPT2Model", "--only", "GPT2*"]) == 2
    assert "--only selects architectures of --zoo" in capsys.readouterr().err


def test_patterns_match_class_names_and_model_types():
    found = dict(zoo.architectures())
    assert {"gpt2", "gpt-sw3"} <= set(found["GPT2Model"])
    assert len(found) == len(zoo.architectures())  # each class once
    assert [name for name, _ in zoo.select(zoo.architectures(), ["gpt2"])] == ["GPT2Model"]
    assert "GPT2Model" in dict(zoo.select(zoo.architectures(), ["GPT2*"]))
    with pytest.raises(ValueError, match="matches no architecture"):
        zoo.select(zoo.architectures(), ["gpt2", "nothing-like-this"])


def test_a_small_config_shrinks_sizes_and_keeps_what_depends_on_them():
    from verify.audit import hf

    defaults = {"num_hidden_layers": 12, "hidden_size": 768, "num_attention_heads": 12,
                "num_key_value_heads": 12, "intermediate_size": 3072, "vocab_size": 32000,
                "layer_types": ["full"] * 12, "per_layer": {"3": 1, "11": 2},
                "eos_token_id": [1, 31999], "out_hidden_size": 768, "head_dim": 8,
                "vision_config": {"model_type": "v", "depths": [2, 2, 6, 2],
                                  "num_layers": 4, "hidden_sizes": [96, 192, 384, 768]},
                "image_token_id": 32000}
    small = hf._shrink(defaults)
    hf._echo_widths(defaults, small, hf._widths(defaults, small, {}))
    assert small["num_hidden_layers"] == 2 and small["layer_types"] == ["full", "full"]
    assert small["per_layer"] == {}  # settings of layers 3 and 11: gone with them
    assert small["hidden_size"] == 64 and small["num_attention_heads"] == 4
    assert small["num_key_value_heads"] == 4  # multi-head attention stays multi-head
    assert small["head_dim"] == 8  # a bound: smaller defaults stay
    assert small["eos_token_id"] == [1, 999] and small["image_token_id"] == 999
    assert small["out_hidden_size"] == 64  # it repeats the width
    vision = small["vision_config"]
    assert vision["depths"] == [1, 1, 1, 1] and vision["num_layers"] == 4  # stages stay
    assert vision["hidden_sizes"] == [48, 96, 192, 384]


def test_the_generic_init_is_expected_where_a_model_keeps_it():
    from verify.audit.specs.generic import ORIGIN, generic_spec

    assert generic_spec("BertModel") is None  # BertPreTrainedModel has an init of its own
    spec = generic_spec("LlavaModel")  # the language model keeps it, CLIP's tower does not
    assert spec.origin == ORIGIN
    rules = {rule.glob: rule.law for rule in spec.rules}
    assert rules["language_model.layers.*.self_attn.q_proj.weight"] == \
        "normal(mean=0, std=text_config.initializer_range)"
    assert rules["language_model.norm.weight"] == "ones()"
    assert rules["multi_modal_projector.linear_1.bias"] == "zeros()"
    assert not any(glob.startswith("vision_tower.") for glob in rules)
