"""The audit on Paddle models: builders of ``--api paddle`` and ``paddle:nn.<Name>`` targets
seeded with ``paddle.seed``, a correct model that passes, the grouped convolution's
fan-mismatch, bad builders in one line, ``--dtype``, and a JSON document on stdout even for
a layer that prints while it is built.

Importing TensorFlow and then Paddle in one process crashes it: where TensorFlow is
already loaded (and Paddle is not), this module is skipped with that reason."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

if "tensorflow" in sys.modules and "paddle" not in sys.modules:
    pytest.skip("paddle cannot be imported after tensorflow in one process (it crashes)",
                allow_module_level=True)
paddle = pytest.importorskip("paddle", reason="paddlepaddle is not installed")

from verify.audit import BuildError, audit_model  # noqa: E402
from verify.audit.builders import resolve  # noqa: E402
from verify.audit.dtypes import default_dtype  # noqa: E402
from verify.cli import main  # noqa: E402

SEED = 20261201


def dense_pair():
    return paddle.nn.Sequential(paddle.nn.Linear(64, 128), paddle.nn.ReLU(),
                                paddle.nn.Linear(128, 32))


def grouped_conv():
    return paddle.nn.Sequential(paddle.nn.Conv2D(16, 32, 3, groups=4))


def not_a_layer():
    return {"weight": np.zeros((2, 2))}


def kinds(result) -> set[str]:
    return {finding.kind for finding in result.findings}


def test_a_registry_target_is_built_with_paddle_seed():
    builder = resolve("paddle:nn.Linear", kwargs={"in_features": 8, "out_features": 4})
    first = builder.build(3).weight.numpy()
    np.testing.assert_array_equal(first, builder.build(3).weight.numpy())
    assert not np.array_equal(first, builder.build(4).weight.numpy())
    assert builder.api == "paddle"


def test_a_correct_paddle_model_passes():
    result = audit_model(dense_pair, api="paddle", seed=SEED)
    assert result.verdict == "pass", result.table()


def test_a_grouped_conv_shows_its_fan_mismatch():
    """Conv2D(16, 32, 3, groups=4): Paddle's std sqrt(2 / (16 * 9)) against He's with the
    group's 4 * 9 inputs, sqrt(2 / 36)."""
    result = audit_model(grouped_conv, api="paddle", seed=SEED)
    assert kinds(result) == {"fan-mismatch"}, result.table()
    [finding] = result.findings
    assert finding.tensors == ("0.weight",)


def test_a_builder_that_returns_no_layer_is_refused():
    with pytest.raises(BuildError, match=r"not a paddle\.nn\.Layer"):
        audit_model(not_a_layer, api="paddle", seed=SEED)


def test_dtype_float64_is_asked_of_paddle():
    before = paddle.get_default_dtype()
    with default_dtype("paddle", "float64"):
        assert paddle.nn.Linear(2, 3).weight.dtype == paddle.float64
    assert paddle.get_default_dtype() == before


def test_json_on_stdout_for_a_layer_that_prints(capsys):
    status = main(["audit", "paddle:nn.HSigmoidLoss", "--kwargs",
                   '{"feature_size": 16, "num_classes": 10}', "--json", "--seed", str(SEED)])
    out, err = capsys.readouterr()
    document = json.loads(out)
    assert status == 0, out
    assert document["verdict"] == "pass" and "paddlepaddle" in document["versions"]
    assert "With sparse mode" in err
