"""verify.layers.examples: an example for every registered layer type, and each builds.

Building only (no audits): the report's models section audits these examples.
"""

from __future__ import annotations

import importlib.util
import json
import sys

import pytest

from verify import layers
from verify.layers.examples import EXAMPLES, layer_targets, registered_name

FRAMEWORKS = {"torch": "torch", "keras": "keras", "nnx": "flax", "linen": "flax",
              "mlx": "mlx", "paddle": "paddle",
              "tf_keras": "tf_keras", "tinygrad": "tinygrad", "equinox": "equinox",
              "haiku": "haiku"}


def _usable(api: str, package: str) -> bool:
    """Installed, and for tinygrad with the compiler its CPU device needs."""
    if importlib.util.find_spec(package) is None:
        return False
    if api == "tinygrad":
        from verify.adapters.tinygrad import cpu_compiler_missing

        return cpu_compiler_missing() is None
    return True


INSTALLED = [api for api, package in FRAMEWORKS.items() if _usable(api, package)]
CASES = [(api, name) for api in INSTALLED for name in sorted(EXAMPLES[api])]


def test_every_api_with_layers_has_examples():
    assert set(EXAMPLES) == set(FRAMEWORKS) == set(layers.APIS) - {"arrays"}


@pytest.mark.parametrize("api", INSTALLED)
def test_every_registered_layer_has_an_example(api):
    named = {registered_name(api, name): name for name in EXAMPLES[api]}
    registered = set(layers.registered(api))
    assert not registered - set(named), f"registered {api} layers without an example"
    assert not set(named) - registered, (
        f"{api} examples of layers that are not registered: "
        f"{sorted(named[n] for n in set(named) - registered)}")


@pytest.mark.parametrize("api", INSTALLED)
def test_targets_are_audit_targets_with_json_arguments(api):
    targets = layer_targets(api)
    assert targets and all(target.startswith(f"{api}:") for target, _ in targets)
    for target, kwargs in targets:
        assert json.loads(json.dumps(kwargs)) == kwargs, f"{target}: arguments are not JSON"
    targets[0][1]["mutated"] = True  # the caller's copy, not the table
    assert "mutated" not in layer_targets(api)[0][1]


def _built(api: str, name: str) -> list[layers.Param]:
    built = layers.build_layer(api, name, EXAMPLES[api][name])
    if api == "nnx":
        from flax import nnx

        built = built(nnx.Rngs(0))
    elif api == "linen":
        import jax

        module, *inputs = built
        built = (module, module.init(jax.random.key(0), *inputs), *inputs)
    elif api == "equinox":
        import jax

        built = built(jax.random.key(0))
    elif api == "haiku":
        import haiku as hk
        import jax

        forward, *inputs = built
        params, state = hk.transform_with_state(forward).init(jax.random.key(0), *inputs)
        built = (forward, params, state, *inputs)
    return layers.walk(api, built)


@pytest.mark.parametrize(("api", "name"), CASES, ids=[f"{a}:{n}" for a, n in CASES])
def test_example_builds_with_known_roles(api, name):
    package = {("torch", "transformers.pytorch_utils.Conv1D"): "transformers"}.get((api, name))
    if package and importlib.util.find_spec(package) is None:
        pytest.skip(f"{name} needs {package}, which is not installed")
    if api == "paddle" and "tensorflow" in sys.modules and "paddle" not in sys.modules:
        pytest.skip("paddle cannot be imported after tensorflow in one process (it crashes)")
    params = _built(api, name)
    assert params, f"{api}:{name} built a layer without tensors"
    unknown = [p.name for p in params if p.role.role.startswith("unknown.")]
    assert not unknown, f"{api}:{name}: tensors of no registered role: {unknown}"


def test_a_layer_argument_is_built_first():
    pytest.importorskip("torch")
    encoder = layers.build_layer("torch", "nn.TransformerEncoder",
                                 EXAMPLES["torch"]["nn.TransformerEncoder"])
    assert type(encoder.layers[0]).__name__ == "TransformerEncoderLayer"
    assert len(encoder.layers) == 2


def test_a_lazy_torch_module_needs_its_input_shape():
    pytest.importorskip("torch")
    with pytest.raises(ValueError, match="input_shape"):
        layers.build_layer("torch", "nn.LazyLinear", {"out_features": 3})
    module = layers.build_layer("torch", "nn.LazyBatchNorm1d", {"input_shape": [2, 8]})
    assert tuple(module.weight.shape) == (8,)
    assert float(module.running_var.min()) == 1.0  # built in eval mode: statistics untouched
    assert module.training


def test_registered_name():
    assert registered_name("torch", "nn.Linear") == "torch.nn.Linear"
    assert registered_name("torch", "transformers.pytorch_utils.Conv1D") == \
        "transformers.pytorch_utils.Conv1D"
    assert registered_name("linen", "recurrent.DenseParams") == \
        "flax.linen.recurrent.DenseParams"
    assert registered_name("nnx", "Linear") == "flax.nnx.Linear"
    with pytest.raises(ValueError, match="arrays"):
        registered_name("arrays", "x")


def test_a_linen_target_walks_with_its_example_inputs():
    """The audit's linen builds keep the example inputs, so that the walker traces one call
    and names each layer type (a cell's compact children are not auto-named)."""
    pytest.importorskip("flax")
    from verify.audit.builders import resolve

    builder = resolve("linen:LSTMCell", kwargs=EXAMPLES["linen"]["LSTMCell"])
    module, variables, *inputs = builder.build(0)
    assert len(inputs) == 2  # the carry and the input
    roles = {p.name: p.role.role for p in layers.walk("linen", (module, variables, *inputs))}
    assert roles["ii.kernel"] == "recurrent.kernel"


def test_a_keras_target_chooses_the_backend():
    """Without KERAS_BACKEND, a keras: target runs on JAX (Keras would ask for TensorFlow)."""
    import os
    import subprocess
    import sys

    if importlib.util.find_spec("keras") is None or importlib.util.find_spec("jax") is None:
        pytest.skip("Keras on JAX is not installed")
    environment = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    code = ("from verify.audit.builders import resolve; "
            "resolve('keras:layers.Dense', kwargs={'units': 2}); "
            "import keras; print(keras.backend.backend())")
    done = subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("jax")
