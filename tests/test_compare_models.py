"""``compare --models``: a PyTorch MLP against itself and against Flax NNX ports of it
(tests/compare_models.py), the name map, and the command's exit statuses and JSON."""

from __future__ import annotations

import json
import math

import pytest

from verify.audit.compare import compare_models, shape_relation
from verify.audit.mapping import parse_map
from verify.audit.spec import SpecError
from verify.cli import main

from . import compare_models as models

SEED = 20261207
TORCH_MLP = "tests.compare_models:mlp"


@pytest.fixture
def map_file(tmp_path):
    path = tmp_path / "port.toml"
    path.write_text(models.MAP)
    return path


def test_a_model_and_a_rebuild_with_the_same_law_are_equivalent():
    result = compare_models(models.mlp, models.mlp_explicit, seed=SEED)
    assert result.equivalent, result.render()
    assert [(p.a.name, p.b.name) for p in result.pairs] == [
        ("layers.0.weight", "layers.0.weight"), ("layers.0.bias", "layers.0.bias"),
        ("layers.1.weight", "layers.1.weight"), ("layers.1.bias", "layers.1.bias")]
    assert result.unmatched_a == result.unmatched_b == []
    # a 32-entry bias needs 2048 builds for 2^16 entries: the cap is 64
    assert result.builds == (64, 64)
    for pair in result.pairs:
        assert pair.a.kind == pair.b.kind == "random"
        assert pair.a.n >= min(2**16, 64 * math.prod(pair.a.shape))


def test_the_nnx_defaults_have_three_times_the_variance_of_torchs(map_file):
    pytest.importorskip("flax.nnx", reason="flax is not installed (pip install -e '.[jax]')")
    result = compare_models(models.mlp, models.nnx_mlp, api_b="nnx", name_map=map_file,
                            seed=SEED)
    assert not result.equivalent
    pairs = {pair.a.name: pair for pair in result.pairs}
    assert {name: pair.b.name for name, pair in pairs.items()} == {
        "layers.0.weight": "dense_0.kernel", "layers.0.bias": "dense_0.bias",
        "layers.1.weight": "dense_1.kernel", "layers.1.bias": "dense_1.bias"}
    for name in ("layers.0.weight", "layers.1.weight"):
        kernel = pairs[name]
        # torch: U(+-1/sqrt(in)), variance 1/(3 in); nnx: LeCun normal, variance 1/in
        low, high = kernel.interval
        assert low < 3.0 < high and high / low < 1.05, kernel.interval
        assert not kernel.same_variance and not kernel.same_family
        assert kernel.a.family == "uniform"
        assert kernel.b.family.startswith("truncated_normal")
        assert kernel.shape_relation == "transposed"
    for name in ("layers.0.bias", "layers.1.bias"):  # nnx's biases are zeros
        bias = pairs[name]
        assert (bias.a.kind, bias.b.kind, bias.b.family) == ("random", "constant", "constant 0")
        assert bias.ratio == 0.0 and not bias.same


def test_a_port_that_draws_as_torch_does_is_equivalent(map_file):
    pytest.importorskip("flax.nnx", reason="flax is not installed (pip install -e '.[jax]')")
    result = compare_models(models.mlp, models.nnx_mlp_like_torch, api_b="nnx",
                            name_map=map_file, seed=SEED)
    assert result.equivalent, result.render()
    assert len(result.pairs) == 4 and result.notes == []


def test_without_a_map_unmatched_tensors_are_listed_not_errors():
    pytest.importorskip("flax.nnx", reason="flax is not installed (pip install -e '.[jax]')")
    result = compare_models(models.mlp, models.nnx_mlp, api_b="nnx", seed=SEED)
    assert result.pairs == [] and not result.equivalent
    assert [u.name for u in result.unmatched_a] == [
        "layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias"]
    assert {u.name for u in result.unmatched_b} == {
        "dense_0.kernel", "dense_0.bias", "dense_1.kernel", "dense_1.bias"}
    assert result.builds == (1, 1)
    assert "only in A: layers.0.weight (128x64)" in result.render()


def test_a_changed_law_differs_in_variance_and_family_but_not_in_mean():
    result = compare_models(models.mlp, models.mlp_normal, seed=SEED)
    weights = [pair for pair in result.pairs if pair.a.name.endswith("weight")]
    assert all(not p.same_variance and not p.same_family and p.same_mean for p in weights)
    assert all(p.same for p in result.pairs if p.a.name.endswith("bias"))


def test_tables_and_constants_compare_exactly_whatever_the_layout_and_dtype():
    same = compare_models(models.tables, models.tables_port, api_a="arrays", api_b="arrays",
                          seed=SEED)
    assert same.equivalent, same.render()
    kinds = {pair.a.name: (pair.a.kind, pair.b.kind, pair.exact) for pair in same.pairs}
    assert kinds == {"norm.scale": ("constant", "constant", True),
                     "positions": ("deterministic", "deterministic", True),
                     "weight": ("random", "random", False)}
    assert {p.a.name: p.shape_relation for p in same.pairs}["positions"] == "transposed"
    zeros = compare_models(models.tables, models.tables_port, api_a="arrays", api_b="arrays",
                           kwargs_b={"scale": 0.0}, seed=SEED)
    [scale] = [pair for pair in zeros.pairs if not pair.same]
    assert scale.a.name == "norm.scale" and scale.b.family == "constant 0"
    assert scale.same_variance and not scale.same_mean and not scale.same_family


# --- the map --------------------------------------------------------------------------


def test_map_globs_exact_names_and_precedence():
    name_map = parse_map(
        '[names]\n'
        '"blocks.*.fc.weight" = { name = "blocks_*.fc.kernel", transpose = true }\n'
        '"blocks.0.fc.weight" = "first.kernel"\n'
        '"**.bias" = "**.b"\n'
        '"blocks.*.bias" = "never.*"\n'
        '"conv.weight" = { name = "conv.kernel", axes = [2, 3, 1, 0] }\n', "m.toml")
    assert name_map.lookup("blocks.0.fc.weight")[0] == "first.kernel"  # exact wins
    assert name_map.lookup("blocks.12.fc.weight")[0] == "blocks_12.fc.kernel"
    assert name_map.lookup("blocks.3.bias")[0] == "blocks.3.b"  # the first glob wins
    assert name_map.lookup("head.weight") == ("head.weight", None)  # no entry: same name
    assert [e.source for e in name_map.unused(["blocks.1.bias"])] == [
        "blocks.*.fc.weight", "blocks.0.fc.weight", "blocks.*.bias", "conv.weight"]
    transposed = name_map.lookup("blocks.1.fc.weight")[1]
    conv = name_map.lookup("conv.weight")[1]
    assert shape_relation((128, 64), (64, 128), transposed) == "transposed"
    assert shape_relation((64, 64), (64, 64), transposed) == "equal"
    assert shape_relation((128, 64), (128, 64), transposed) == "different"
    assert shape_relation((8, 4, 3, 3), (3, 3, 4, 8), conv) == "transposed"
    assert shape_relation((8, 4, 3, 3), (3, 3, 8, 4), conv) == "different"
    assert shape_relation((8, 4, 3, 3), (3, 3, 8, 4)) == "permuted"
    assert shape_relation((64, 64), (64, 4, 16)) == "reshaped"
    assert shape_relation((64, 64), (64, 32)) == "different"


@pytest.mark.parametrize("text, where, message", [
    ('[names]\n"layers.*.bias" = "dense_**.bias"\n', "2:20", "same order"),
    ('[names]\n"a" = { name = "b", axes = [0, 0] }\n', "2:21", "axes must list"),
    ('[names]\n"a" = { name = "b", flip = true }\n', "2:21", "unknown key 'flip'"),
    ('"a" = "b"\n[names]\n', "1:1", "a map has one table, [names]"),
    ('[names]\n"a" = "b\n', "2:9", "invalid TOML"),
    ('[names]\n"a" = 3\n', "2:1", "must be B's name"),
])
def test_map_errors_say_file_line_and_column(text, where, message):
    with pytest.raises(SpecError) as error:
        parse_map(text, "m.toml")
    assert str(error.value).startswith(f"m.toml:{where}: ") and message in str(error.value)


# --- the command ----------------------------------------------------------------------


def test_cli_exit_statuses_and_json(capsys):
    assert main(["compare", "--models", TORCH_MLP, "tests.compare_models:mlp_normal",
                 "--seed", "3"]) == 1
    assert "they differ: 2 of the 4 matched tensors" in capsys.readouterr().out
    assert main(["compare", "--models", TORCH_MLP, "tests.compare_models:mlp_explicit",
                 "--seed", "3", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert list(document)[:3] == ["schema_version", "seed", "versions"]
    assert {"models", "pairs", "unmatched_a", "unmatched_b", "equivalent"} <= document.keys()
    assert document["equivalent"] is True and document["seed"] == 3
    assert document["models"] == [
        {"target": TORCH_MLP, "api": "torch", "kwargs": {}, "config": {}},
        {"target": "tests.compare_models:mlp_explicit", "api": "torch", "kwargs": {},
         "config": {}}]
    pair = document["pairs"][0]
    assert {"a", "b", "tensor_a", "tensor_b", "shape_relation", "ratio_b_over_a",
            "ratio_interval", "same_variance", "same_mean", "same_family", "same",
            "checks"} <= pair.keys()
    assert [check["name"] for check in pair["checks"]] == [
        "variance_ratio", "mean_difference", "same_shape"]
    assert document["unmatched_a"] == document["unmatched_b"] == []


@pytest.mark.parametrize("args, message", [
    (["--models", TORCH_MLP, "no_such_module:mlp"], "cannot import module 'no_such_module'"),
    (["--models", TORCH_MLP, TORCH_MLP, "--layer", "4,3"], "--layer applies to initializers"),
    (["torch:nn.Linear", "torch:nn.Linear", "--map", "m.toml"], "--map applies with --models"),
    (["--models", TORCH_MLP, TORCH_MLP, "--kwargs-b", "[1]"], "--kwargs-b must be a JSON"),
    (["--models", TORCH_MLP, TORCH_MLP, "--api-a", "onnx"], "invalid choice"),
    (["--models", TORCH_MLP, TORCH_MLP, "--config-a", '{"n_layer": 2}'],
     "--config applies to transformers: targets"),
])
def test_cli_bad_usage_is_one_line_and_exit_2(capsys, args, message):
    assert main(["compare", *args]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1, captured.err


def test_cli_bad_map_is_file_line_column_and_exit_2(capsys, tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[names]\n"layers.*.weight" = { name = "dense_*.kernel", axes = 1 }\n')
    assert main(["compare", "--models", TORCH_MLP, TORCH_MLP, "--map", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.err.strip() == (  # as the audit's bad spec: "error: FILE:LINE:COL: ..."
        f"error: {path}:2:48: axes must list each of A's axes 0 .. rank-1 once, in B's order, such "
        "as [1, 0] or [2, 3, 1, 0]; got 1")
