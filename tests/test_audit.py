"""The audit on broken torch models: each finding kind shows on its broken model, and its
correct twin passes (tests/audit_models.py)."""

from __future__ import annotations

import json
import textwrap

import pytest

from verify.audit import KINDS, BuildError, assert_audit_passes, audit_model, load_waivers
from verify.audit.findings import WaiverError

from . import audit_models as models

SEED = 20261201


def kinds(result) -> set[str]:
    return {f.kind for f in result.findings}


def findings_of(result, kind: str):
    return [f for f in result.findings if f.kind == kind]


@pytest.mark.parametrize("builder", [models.correct_scheme, models.correct_defaults,
                                     models.correct_two_layers, models.attention_per_projection,
                                     models.tied_embedding, models.correct_layer_scale,
                                     models.correct_deterministic_tables])
def test_correct_models_pass(builder):
    result = audit_model(builder, api="torch", seed=SEED)
    assert result.verdict == "pass", result.table()


def test_left_on_default():
    result = audit_model(models.broken_head_left_on_default, api="torch", seed=SEED)
    found = findings_of(result, "left-on-default")
    assert {name for f in found for name in f.tensors} == {"head.weight", "head.bias"}
    assert kinds(result) == {"left-on-default"}


def test_constant_weight_matrix():
    result = audit_model(models.broken_zero_weight, api="torch", seed=SEED)
    assert [f.tensors for f in findings_of(result, "constant")] == [("2.weight",)]


def test_non_finite():
    result = audit_model(models.broken_nonfinite, api="torch", seed=SEED)
    assert [f.tensors for f in findings_of(result, "non-finite")] == [("0.weight",)]


def test_uninitialized():
    result = audit_model(models.broken_uninitialized, api="torch", seed=SEED)
    assert [f.tensors for f in findings_of(result, "uninitialized")] == [("scale",)]
    assert "fc.weight" not in {n for f in result.findings for n in f.tensors}


def test_identical_and_correlated_layers():
    identical = audit_model(models.broken_identical, api="torch", seed=SEED)
    assert [set(f.tensors) for f in findings_of(identical, "identical")] == [
        {"0.weight", "1.weight"}]
    correlated = audit_model(models.broken_correlated, api="torch", seed=SEED)
    assert [set(f.tensors) for f in findings_of(correlated, "correlated")] == [
        {"0.weight", "1.weight"}]
    assert "identical" not in kinds(correlated)


def test_identical_slices_of_a_packed_tensor():
    result = audit_model(models.broken_packed_identical_slices, api="torch", seed=SEED)
    found = findings_of(result, "identical")
    assert len(found) == 1 and found[0].tensors == ("in_proj_weight",)
    assert "block 0" in found[0].detail and "block 1" in found[0].detail


def test_fan_mismatch_of_packed_attention():
    """PyTorch's xavier_uniform_ on the packed (3E, E) tensor reads fans (E, 3E); each
    projection is an E -> E map: Var 2/(4E) instead of 2/(2E), both numbers reported."""
    embed = 64
    result = audit_model(models.attention_default, api="torch", seed=SEED)
    found = findings_of(result, "fan-mismatch")
    assert [f.tensors for f in found] == [("in_proj_weight",)]
    numbers = found[0].numbers
    assert numbers["semantic_fans"] == [embed, embed]
    assert sorted(numbers["framework_fans"]) == [embed, 3 * embed]
    assert numbers["default_std"] == pytest.approx((2 / (4 * embed)) ** 0.5)
    assert numbers["semantic_std"] == pytest.approx((2 / (2 * embed)) ** 0.5)


def test_seeding():
    fixed = audit_model(models.broken_fixed_seed, api="torch", seed=SEED)
    assert "seeding" in kinds(fixed)
    assert "identical" in " ".join(f.detail for f in findings_of(fixed, "seeding"))
    unseeded = audit_model(models.broken_unseeded, api="torch", seed=SEED)
    assert [f.tensors for f in findings_of(unseeded, "seeding")] == [("0.weight",)]


def test_constant_defaults_are_neither_seeding_nor_twin_findings():
    """An LSTM-style bias of constant blocks (zeros, ones, zeros, zeros) is the same for
    every seed and repeats its blocks: by its role, not random; its 24 entries are too
    few for the independence test to call them structured (a ConvLSTM cell with 6
    filters). Whatever its role, two distinct values in 24 entries are a table, not a
    draw. Random values repeated the same way are flagged where the role is random."""
    import numpy as np

    from verify.audit.anomalies import seeding, twins
    from verify.layers import Param, Role
    from verify.stats import DEFAULT_POLICY

    table = np.concatenate([np.zeros(6), np.ones(6), np.zeros(12)]).astype(np.float32)
    np.random.default_rng(0).shuffle(table)  # no run of neighbours to give it away
    drawn = np.tile(np.random.default_rng(1).normal(size=6), 4).astype(np.float32)
    constant = Role(role="recurrent.bias", random=False, blocks=4)
    unknown = Role(role="unknown.bias", blocks=4)
    for values, role, flagged in ((table, constant, False), (table, unknown, False),
                                  (drawn, constant, False), (drawn, unknown, True)):
        param = Param(names=("bias",), array=values, dtype="float32", layer="x",
                      local="bias", role=role)
        found = seeding([param], {"bias": values}, {"bias": [values, values.copy()]},
                        DEFAULT_POLICY) + twins([param], {}, DEFAULT_POLICY)
        assert bool(found) == flagged, (role, found)
        if flagged:
            assert {f.kind for f in found} == {"seeding", "identical"}


def test_tied_weights_are_one_tensor():
    result = audit_model(models.tied_embedding, api="torch", seed=SEED)
    tied = [t for t in result.tensors if len(t.names) > 1]
    assert [set(t.names) for t in tied] == [{"embed.weight", "out.weight"}]
    assert "identical" not in kinds(result)


def test_same_seed_same_result_and_json():
    first = audit_model(models.broken_head_left_on_default, api="torch", seed=5)
    second = audit_model(models.broken_head_left_on_default, api="torch", seed=5)
    strip = lambda r: {k: v for k, v in r.to_dict().items() if k != "elapsed"}  # noqa: E731
    assert json.dumps(strip(first), default=str) == json.dumps(strip(second), default=str)
    document = first.to_dict()
    assert {"target", "verdict", "seed", "tensors", "findings"} <= set(document)
    tensor = document["tensors"][0]
    assert {"name", "names", "shape", "role", "expected", "measured", "verdict"} <= set(tensor)
    assert {"std", "std_interval", "mean", "family", "constant"} <= set(tensor["measured"])
    for finding in document["findings"]:
        assert finding["kind"] in KINDS


def test_assert_audit_passes():
    assert_audit_passes(models.correct_scheme, api="torch", seed=SEED)
    with pytest.raises(AssertionError, match="left-on-default") as raised:
        assert_audit_passes(models.broken_head_left_on_default, api="torch", seed=SEED)
    assert "replay" in str(raised.value) or "head.weight" in str(raised.value)


def test_waivers(tmp_path):
    waive = tmp_path / "waive.toml"
    waive.write_text(textwrap.dedent("""
        [[waive]]
        kind = "left-on-default"
        tensors = "head.*"
        reason = "the head is re-initialized by the training script"
        link = "https://example.org/issue/1"
    """))
    result = audit_model(models.broken_head_left_on_default, api="torch", seed=SEED,
                         waivers=waive)
    assert result.verdict == "pass"
    assert all(f.waived for f in result.findings) and result.findings


@pytest.mark.parametrize("text, message", [
    ("[[waive]]\nkind = \"variance\"\n", "missing"),
    ("[[waive]]\nkind = \"nope\"\ntensors='*'\nreason='r'\nlink='l'\n", "unknown kind"),
    ("[[waive]\n", ":1:"),
])
def test_bad_waiver_files(tmp_path, text, message):
    path = tmp_path / "waive.toml"
    path.write_text(text)
    with pytest.raises(WaiverError, match=message):
        load_waivers(path)


@pytest.mark.parametrize("builder, message", [
    (models.raises, "raised RuntimeError: the config is missing a field"),
    (models.not_a_model, "not a torch.nn.Module"),
    (models.no_parameters, "no parameters"),
])
def test_bad_builders(builder, message):
    with pytest.raises(BuildError, match=message):
        audit_model(builder, api="torch", seed=SEED)


def test_hanging_builder():
    with pytest.raises(BuildError, match=r"did not return within 0\.5 s"):
        audit_model(models.hangs, api="torch", seed=SEED, timeout=0.5)


def test_arrays_api():
    result = audit_model(models.arrays_model, api="arrays", seed=SEED)
    assert [t.name for t in result.tensors] == ["w1", "w2"]
    assert result.verdict == "pass", result.table()


SPECS = __import__("pathlib").Path(__file__).parent / "specs"


@pytest.mark.parametrize("builder, spec, kind", [
    (models.broken_variance, "linear.toml", "variance"),
    (models.broken_distribution, "linear.toml", "distribution"),
    (models.broken_mean, "linear.toml", "mean"),
    (models.broken_support, "truncated.toml", "support"),
    (models.broken_depth_not_scaled, "stack.toml", "depth-law"),
    (models.broken_norm_scale, "stack.toml", "constant"),
])
def test_departures_from_a_spec(builder, spec, kind):
    result = audit_model(builder, api="torch", spec=SPECS / spec, seed=SEED)
    blocking = {f.kind for f in result.findings if f.blocking}
    assert blocking == {kind}, result.table()


@pytest.mark.parametrize("builder, spec", [
    (models.correct_normal, "linear.toml"),
    (models.correct_truncated, "truncated.toml"),
    (models.correct_scheme, "stack.toml"),
])
def test_twins_follow_their_spec(builder, spec):
    result = audit_model(builder, api="torch", spec=SPECS / spec, seed=SEED)
    assert result.verdict == "pass", result.table()


def test_depth_law_follows_the_config():
    """The spec's law reads the builder's ``layers``: 4 layers want std 0.02 / sqrt(8)."""
    result = audit_model(models.correct_scheme, api="torch", spec=SPECS / "stack.toml",
                         kwargs={"layers": 4}, seed=SEED)
    assert result.verdict == "pass", result.table()
    proj = next(t for t in result.tensors if t.name == "blocks.3.proj.weight")
    assert proj.expected.std == pytest.approx(0.02 / 8**0.5)


def test_doc_mismatch_is_shown_and_does_not_fail():
    result = audit_model(models.correct_scheme, api="torch", spec=SPECS / "stack.toml",
                         seed=SEED)
    assert [f.kind for f in result.findings] == ["doc-mismatch"]
    assert not result.findings[0].blocking and result.verdict == "pass"


def test_reinitialized_on_load():
    pytest.importorskip("transformers")
    broken = audit_model(models.broken_reinitialized_on_load, api="torch", seed=SEED)
    assert [f.tensors for f in findings_of(broken, "reinitialized-on-load")] == [
        ("extra.weight",)]
    correct = audit_model(models.correct_pretrained, api="torch", seed=SEED)
    assert "reinitialized-on-load" not in kinds(correct), correct.table()


def test_padding_row():
    correct = audit_model(models.correct_padding_row, api="torch", seed=SEED)
    assert correct.verdict == "pass", correct.table()
    assert correct.tensors[0].status == "default"  # N(0, 1) on the other rows
    broken = audit_model(models.broken_padding_row, api="torch", seed=SEED)
    [finding] = [f for f in broken.findings if f.blocking]
    assert finding.kind == "constant" and "padding row 0" in finding.detail


def test_known_buffers():
    """``inv_freq`` must hold 1 / theta^(2i / d), theta the config's rope_theta (here the
    builder's keyword default)."""
    correct = audit_model(models.correct_rotary, api="torch", seed=SEED)
    assert correct.verdict == "pass", correct.table()
    broken = audit_model(models.broken_rotary, api="torch", seed=SEED)
    [finding] = broken.findings
    assert finding.kind == "constant" and finding.tensors == ("inv_freq",)
    assert "7 of 8 entries differ" in finding.detail


def test_known_buffers_in_their_other_documented_forms():
    """Positions consecutive from an offset (MRA's start after the padding index), rotary
    frequencies of an odd rotary dimension (a partial rotary factor) or of a sub-config's
    theta are what the models document; a shuffled position or another theta is not."""
    import numpy as np

    from verify.audit import buffers

    config = {"rope_theta": 500000.0, "protein_config": {"rope_theta": 10000.0}}
    positions = np.arange(2, 130)[None, :]
    assert buffers.check("embeddings.position_ids", positions, config) is None
    assert buffers.check("embeddings.position_ids", positions[:, ::-1].copy(), config)
    assert buffers.check("grid.position_ids", np.zeros((64, 2), dtype=np.int64), config) is None
    odd = (1.0 / 10000.0 ** (np.arange(0, 7, 2) / 7)).astype(np.float32)  # 8 x 0.9 = 7
    assert buffers.check("rotary_emb.inv_freq", odd, config)  # d - 1: test_known_buffers
    partial = {**config, "rope_parameters": {"rope_theta": 10000.0, "rope_type": "default",
                                             "partial_rotary_factor": 0.9}}
    assert buffers.check("rotary_emb.inv_freq", odd, partial) is None
    other = 1.0 / 50.0 ** (np.arange(0, 8, 2) / 8)
    assert "differ from 1 / 500000^(2i / 8)" in buffers.check(
        "rotary_emb.inv_freq", other.astype(np.float32), config)
