"""The audit on Equinox and Haiku models (tests/audit_models_equinox.py,
tests/audit_models_haiku.py): a correct model passes, each broken one shows its finding,
and the command line takes ``--api equinox`` and ``--api haiku`` and their layers."""

from __future__ import annotations

import importlib.util
import json

import pytest

from verify.audit import audit_model
from verify.cli import main

SEED = 20261201
EQUINOX = importlib.util.find_spec("equinox") is not None
HAIKU = importlib.util.find_spec("haiku") is not None
needs_equinox = pytest.mark.skipif(not EQUINOX, reason="equinox is not installed")
needs_haiku = pytest.mark.skipif(not HAIKU, reason="dm-haiku is not installed")


def blocking(result) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for finding in result.findings:
        if finding.blocking:
            found.setdefault(finding.kind, set()).update(finding.tensors)
    return found


@needs_equinox
def test_equinox_models():
    from . import audit_models_equinox as models

    result = audit_model(models.correct_mlp, api="equinox", seed=SEED)
    assert result.verdict == "pass", result.table()
    assert {t.status for t in result.tensors} == {"default"}
    assert blocking(audit_model(models.broken_same_key, api="equinox", seed=SEED)) == {
        "identical": {"a.weight", "b.weight", "a.bias", "b.bias"}}
    assert set(blocking(audit_model(models.broken_fixed_key, api="equinox",
                                    seed=SEED))) == {"seeding"}
    left = audit_model(models.broken_head_left_on_default, api="equinox", seed=SEED)
    assert blocking(left) == {"left-on-default": {"head.weight"}}, left.table()


@needs_haiku
def test_haiku_models():
    from . import audit_models_haiku as models

    result = audit_model(models.correct_mlp, api="haiku", seed=SEED)
    assert result.verdict == "pass", result.table()
    assert set(blocking(audit_model(models.broken_fixed_key, api="haiku",
                                    seed=SEED))) == {"seeding"}
    left = audit_model(models.broken_head_left_on_default, api="haiku", seed=SEED)
    assert blocking(left) == {"left-on-default": {"linear_3/w"}}, left.table()


@needs_equinox
def test_equinox_on_the_command_line(capsys):
    status = main(["audit", "tests.audit_models_equinox:broken_same_key", "--api", "equinox",
                   "--seed", str(SEED)])
    out, _ = capsys.readouterr()
    assert status == 1 and "identical" in out
    assert "replay: python -m verify audit tests.audit_models_equinox:broken_same_key " \
           "--api equinox" in out
    status = main(["audit", "equinox:nn.Linear", "--kwargs",
                   '{"in_features": 48, "out_features": 16}', "--seed", str(SEED), "--json"])
    document = json.loads(capsys.readouterr()[0])
    assert status == 0 and document["verdict"] == "pass"
    assert [t["name"] for t in document["tensors"]] == ["weight", "bias"]
    assert {"jax", "equinox"} <= set(document["versions"])


@needs_haiku
def test_haiku_on_the_command_line(capsys):
    status = main(["audit", "haiku:Conv2DTranspose", "--seed", str(SEED), "--json"])
    document = json.loads(capsys.readouterr()[0])
    assert status == 1
    [finding] = document["findings"]
    assert finding["kind"] == "fan-mismatch" and finding["tensors"] == ["conv2_d_transpose/w"]
    assert {"jax", "dm-haiku"} <= set(document["versions"])
    assert main(["audit", "haiku:Linear", "--kwargs", '{"output_size": 3, "width": 2}']) == 2
    assert "does not take" in capsys.readouterr()[1]
