"""Model builders: resolve an audit ``TARGET`` and build it, seeded, under a time limit.

======== ============================================== ==================================
api      builder                                        seeding before each build
======== ============================================== ==================================
torch    ``fn(**kwargs) -> torch.nn.Module``            the default CPU generator
keras    ``fn(**kwargs) -> keras.Model or Layer``,      ``keras.utils.set_random_seed``
         already built
nnx      ``fn(rngs, **kwargs) -> flax.nnx.Module``      the ``nnx.Rngs(seed)`` it is given
linen    ``fn(**kwargs) -> (module, *example_inputs)``  ``module.init(PRNGKey(seed), ...)``
mlx      ``fn(**kwargs) -> mlx.nn.Module``              ``mx.random.seed``
paddle   ``fn(**kwargs) -> paddle.nn.Layer``            ``paddle.seed`` (Paddle's global
                                                        generators; 6 us a call)
tinygrad ``fn(**kwargs) -> object`` holding tinygrad    ``Tensor.manual_seed``, tensors
         tensors: a layer, or attributes, lists and     made on the CPU device
         dicts of layers and tensors                    (``DEV=CPU``), then realized
arrays   ``fn(seed, **kwargs) -> Mapping[str, array]``  the seed it is given
tf_keras ``fn(**kwargs) -> tf_keras.Model or Layer``,   ``tf_keras.utils.set_random_seed``
         already built
equinox  ``fn(key, **kwargs) -> equinox.Module``        the ``jax.random.key(seed)`` it is
         (or ``(module, state)``)                       given
haiku    ``fn(**kwargs) -> (forward_fn,                 ``hk.transform_with_state(forward_fn)
         *example_inputs)``                             .init(jax.random.key(seed), ...)``
======== ============================================== ==================================

The JAX keys of equinox and haiku are ``jax.random.key(seed32(seed))``. A Haiku builder
returns the function to transform, not the transformed pair: the build is ``(forward_fn,
params, state, *example_inputs)``, and the walker traces one ``apply`` to name each
module's layer type. ``transform_with_state`` draws the same parameters as ``hk.transform``
for the same key, and also takes the state of ``BatchNorm`` and the other stateful modules.

Catalog names: ``transformers:<ModelClass>`` (:mod:`verify.audit.hf`) and the layers of
the registry, ``torch:nn.MultiheadAttention``, ``keras:layers.Dense``, ``nnx:Linear``,
``linen:Dense``, ``mlx:nn.Linear``, ``paddle:nn.Linear``, ``tinygrad:nn.Linear``,
``tf_keras:layers.Dense``, ``equinox:nn.Linear``, ``haiku:Linear``, with ``--kwargs`` as
the constructor's arguments.
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from verify.adapters import require, seed32

BUILDER_APIS = ("torch", "keras", "nnx", "linen", "mlx", "paddle", "tinygrad", "arrays",
                "tf_keras", "equinox", "haiku")
LAYER_PREFIXES = {"torch": "torch", "keras": "keras", "nnx": "nnx", "linen": "linen",
                  "mlx": "mlx", "paddle": "paddle", "tinygrad": "tinygrad",
                  "tf_keras": "tf_keras", "equinox": "equinox", "haiku": "haiku"}
MAX_PARAMETERS = 50_000_000
"""The cap on the entries of one build (all tensors): larger models take minutes per
build and gigabytes per pooled sample. Audit them at a smaller config."""


class BuildError(ValueError):
    """A builder that cannot be resolved, raises, hangs or returns something that is not
    a model of its api: one line, exit status 2 (or verdict ``error`` among many)."""


@dataclass(kw_only=True)
class Builder:
    """A resolved target: ``build(seed)`` returns a model of ``api``."""

    target: str
    api: str
    make: Callable[[int], Any] = field(repr=False)
    config: dict = field(default_factory=dict)
    """The fields a spec's expressions read (a transformers config, or ``--kwargs``)."""
    kwargs: dict = field(default_factory=dict)
    model_class: str | None = None
    """For ``transformers:`` targets: the model class (its built-in spec's key)."""
    timeout: float = 60.0
    replay: str = ""
    """The command line that rebuilds and audits this target, ``{seed}`` left open."""

    def build(self, seed: int) -> Any:
        """Build the model with ``seed``, in at most ``timeout`` seconds."""
        try:
            with _time_limit(self.timeout, self.target):
                return self.make(int(seed))
        except BuildError:
            raise
        except Exception as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else ""
            raise BuildError(f"the builder {self.target} raised {type(error).__name__}"
                             + (f": {first}" if first else "")) from None


@contextlib.contextmanager
def _time_limit(seconds: float, target: str):
    """Raise :class:`BuildError` if the block runs longer than ``seconds`` (SIGALRM; the
    main thread only: elsewhere the executor bounds the unit)."""
    if not seconds or seconds <= 0 or not math.isfinite(seconds):
        yield
        return
    if threading.current_thread() is not threading.main_thread():
        from verify.execute.watchdog import bounded

        with bounded(seconds, f"the builder {target}"):
            yield
        return

    def expired(signum, frame):
        raise BuildError(f"the builder {target} did not return within {seconds:g} s "
                         "(raise --timeout if it is just slow)")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# --- seeding per api -------------------------------------------------------------------


def seeded(api: str, function: Callable, kwargs: Mapping[str, Any]) -> Callable[[int], Any]:
    """``make(seed)``: seed the framework as the api's row of the table says, then call."""
    kwargs = dict(kwargs)
    if api == "torch":
        torch = require("torch")

        def make(seed: int):
            # the CPU generator directly: torch.manual_seed also records a stack trace for
            # lazy CUDA seeding (0.3 to 1.2 ms a call on this build)
            torch.default_generator.manual_seed(seed % 2**63)
            return function(**kwargs)
    elif api == "keras":
        from verify.adapters.keras import choose_backend

        choose_backend()  # before Keras loads: JAX unless KERAS_BACKEND says otherwise
        keras = require("keras")

        def make(seed: int):
            keras.utils.set_random_seed(seed32(seed))
            return function(**kwargs)
    elif api == "nnx":
        nnx = require("flax.nnx", "flax")

        def make(seed: int):
            return function(nnx.Rngs(seed32(seed)), **kwargs)
    elif api == "linen":
        jax = require("jax")

        def make(seed: int):
            built = function(**kwargs)
            if not isinstance(built, tuple) or len(built) < 1:
                raise BuildError("a linen builder must return (module, *example_inputs)")
            module, *inputs = built
            if not hasattr(module, "init"):
                raise BuildError(f"a linen builder must return (module, *example_inputs); "
                                 f"got a {type(module).__name__} first")
            # the inputs go on to the walker: one traced call names every layer type
            return module, module.init(jax.random.key(seed32(seed)), *inputs), *inputs
    elif api == "mlx":
        mx = require("mlx.core", "mlx")

        def make(seed: int):
            mx.random.seed(seed32(seed))
            model = function(**kwargs)
            mx.eval(model.parameters()) if hasattr(model, "parameters") else None
            return model
    elif api == "paddle":
        from verify.adapters.paddle import import_paddle

        paddle = import_paddle()

        def make(seed: int):
            paddle.seed(seed % 2**63)
            return function(**kwargs)
    elif api == "tinygrad":
        from verify.adapters.tinygrad import on_cpu, realize, require_tinygrad

        tinygrad = require_tinygrad()

        def make(seed: int):
            with on_cpu():
                tinygrad.Tensor.manual_seed(seed32(seed))
                return realize(function(**kwargs))
    elif api == "equinox":
        jax = require("jax")
        require("equinox")

        def make(seed: int):
            return function(jax.random.key(seed32(seed)), **kwargs)
    elif api == "haiku":
        jax = require("jax")
        hk = require("haiku")

        def make(seed: int):
            built = function(**kwargs)
            if not isinstance(built, tuple) or not built or not callable(built[0]):
                raise BuildError("a haiku builder must return (forward_fn, *example_inputs), "
                                 f"got a {type(built).__name__}")
            forward, *inputs = built
            params, state = hk.transform_with_state(forward).init(
                jax.random.key(seed32(seed)), *inputs)
            # the inputs go on to the walker: one traced call names every module's type
            return forward, params, state, *inputs
    elif api == "arrays":
        def make(seed: int):
            return function(seed, **kwargs)
    elif api == "tf_keras":
        from verify.adapters.tf_keras import _tf_keras

        tf_keras = _tf_keras()

        def make(seed: int):
            tf_keras.utils.set_random_seed(seed32(seed))
            return function(**kwargs)
    else:
        raise BuildError(f"unknown api {api!r}: use one of {', '.join(BUILDER_APIS)}")
    return make


def signature_config(function: Callable, kwargs: Mapping[str, Any]) -> dict:
    """What a spec's expressions read for a builder: its keyword defaults, then ``kwargs``."""
    import inspect

    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        parameters = ()
    defaults = {p.name: p.default for p in parameters
                if p.default is not inspect.Parameter.empty
                and isinstance(p.default, int | float | str | bool)}
    return {**defaults, **kwargs}


def check_model(api: str, model: Any, target: str) -> None:
    """Is ``model`` a model of ``api``? :class:`BuildError` (one line) if not."""
    expected = {"torch": ("torch.nn", "Module"), "keras": ("keras", "Layer"),
                "nnx": ("flax.nnx", "Module"), "mlx": ("mlx.nn", "Module"),
                "paddle": ("paddle.nn", "Layer"),
                "tf_keras": ("tf_keras.layers", "Layer")}
    if api == "equinox":
        equinox = require("equinox")
        if isinstance(model, tuple) and len(model) == 2 \
                and isinstance(model[1], equinox.nn.State):
            model = model[0]
        if not isinstance(model, equinox.Module):
            raise BuildError(f"the builder {target} returned a {type(model).__name__}, not an "
                             "equinox.Module (--api equinox)")
    elif api == "haiku" and not (isinstance(model, tuple) and len(model) >= 3
                                 and isinstance(model[1], Mapping)
                                 and isinstance(model[2], Mapping)):
        raise BuildError(f"the builder {target} did not give (forward_fn, params, state, "
                         "*example_inputs) (--api haiku)")
    if api in expected:
        module_name, class_name = expected[api]
        if api == "tf_keras":
            from verify.adapters.tf_keras import _tf_keras

            base = _tf_keras().layers.Layer
        else:
            base = getattr(require(module_name, module_name.split(".")[0]), class_name)
        if not isinstance(model, base):
            raise BuildError(f"the builder {target} returned a {type(model).__name__}, not a "
                             f"{module_name}.{class_name} (--api {api})")
        if api in ("keras", "tf_keras") and not model.built:
            raise BuildError(f"the builder {target} returned a Keras {type(model).__name__} "
                             "that is not built: build it (call it on an input, or "
                             "model.build(shape)) before returning it")
    elif api == "tinygrad":
        from tinygrad import Tensor
        from tinygrad.nn.state import get_state_dict

        if isinstance(model, Tensor) or not get_state_dict(model):
            raise BuildError(f"the builder {target} returned a {type(model).__name__} that "
                             "holds no tinygrad Tensor (--api tinygrad): return the layer "
                             "or the object whose attributes hold the model's tensors")
    elif api == "arrays":
        if not isinstance(model, Mapping):
            raise BuildError(f"the builder {target} returned a {type(model).__name__}, not a "
                             "mapping of names to arrays (--api arrays)")
        for name, value in model.items():
            if not isinstance(name, str):
                raise BuildError(f"the builder {target} returned a non-string name {name!r}")
            try:
                np.asarray(value)
            except Exception:
                raise BuildError(f"the builder {target} returned {name!r} that is not an "
                                 "array") from None


# --- targets ---------------------------------------------------------------------------


def resolve(target: str, *, api: str | None = None, kwargs: Mapping[str, Any] | None = None,
            config: Mapping[str, Any] | None = None, timeout: float = 60.0) -> Builder:
    """The builder for ``target``: ``transformers:<ModelClass>``, a registry layer such as
    ``torch:nn.Linear``, or ``package.module:attribute`` called through ``api``."""
    kwargs = dict(kwargs or {})
    prefix, _, rest = target.partition(":")
    if prefix == "transformers":
        from verify.audit import hf

        return hf.builder(rest, config=config or {}, kwargs=kwargs, timeout=timeout)
    if config:
        raise BuildError("--config applies to transformers: targets; pass a builder's "
                         "arguments with --kwargs")
    if prefix in LAYER_PREFIXES and rest and "." not in prefix:
        return _layer(prefix, rest, kwargs, timeout, api)
    from verify.targets import TargetNotFound, import_attribute

    api = api or "torch"
    if api not in BUILDER_APIS:
        raise BuildError(f"unknown api {api!r}: use one of {', '.join(BUILDER_APIS)}")
    from verify.adapters.keras import choose_backend

    choose_backend()  # the user's module may import Keras: JAX unless KERAS_BACKEND is set
    try:
        function = import_attribute(target)
    except TargetNotFound as error:
        raise BuildError(str(error)) from None
    return Builder(target=target, api=api, make=seeded(api, function, kwargs),
                   config=signature_config(function, kwargs), kwargs=kwargs, timeout=timeout,
                   replay=_replay(target, api, kwargs, None))


def builder_of(function: Callable | str, *, api: str | None = None,
               kwargs: Mapping[str, Any] | None = None, config: Mapping[str, Any] | None = None,
               timeout: float = 60.0) -> Builder:
    """A :class:`Builder` for a target string (:func:`resolve`) or a builder function of
    ``api`` (default ``torch``) called with ``kwargs``."""
    if isinstance(function, str):
        return resolve(function, api=api, kwargs=kwargs, config=config, timeout=timeout)
    api = api or "torch"
    if api not in BUILDER_APIS:
        raise BuildError(f"unknown api {api!r}: use one of {', '.join(BUILDER_APIS)}")
    name = getattr(function, "__qualname__", getattr(function, "__name__", repr(function)))
    return Builder(target=f"{getattr(function, '__module__', '?')}:{name}", api=api,
                   make=seeded(api, function, kwargs or {}),
                   config=signature_config(function, kwargs or {}),
                   kwargs=dict(kwargs or {}), timeout=timeout)


def _layer(framework: str, name: str, kwargs: dict, timeout: float,
           api: str | None) -> Builder:
    from verify import layers

    if api is not None and api != framework:
        raise BuildError(f"{framework}:{name} is a {framework} layer; drop --api {api}")
    target = f"{framework}:{name}"
    if not kwargs:  # the registry's example arguments (verify/layers/examples.py)
        from verify.layers.examples import EXAMPLES

        kwargs = dict(EXAMPLES.get(framework, {}).get(name, {}))

    def function(**arguments):
        return layers.build_layer(framework, name, arguments)

    if framework == "nnx":  # the registry gives fn(rngs); nnx builders take rngs first
        def function(rngs, **arguments):
            return layers.build_layer(framework, name, arguments)(rngs)
    elif framework == "equinox":  # the registry gives fn(key); equinox builders take key
        def function(key, **arguments):
            return layers.build_layer(framework, name, arguments)(key)

    try:  # a wrong name or wrong arguments are bad usage, found before any audit
        seeded(framework, function, kwargs)(0)
    except (ValueError, TypeError) as error:
        raise BuildError(f"{target}: {str(error).strip().splitlines()[0]}") from None
    return Builder(target=target, api=framework, make=seeded(framework, function, kwargs),
                   config=dict(kwargs), kwargs=kwargs, timeout=timeout,
                   replay=_replay(target, None, kwargs, None))


def _replay(target: str, api: str | None, kwargs: Mapping, config: Mapping | None) -> str:
    import json
    import shlex

    parts = ["python -m verify audit", shlex.quote(target)]
    if api:
        parts.append(f"--api {api}")
    if kwargs:
        parts.append("--kwargs " + shlex.quote(json.dumps(kwargs, sort_keys=True)))
    if config:
        parts.append("--config " + shlex.quote(json.dumps(config, sort_keys=True)))
    parts.append("--seed {seed}")
    return " ".join(parts)
