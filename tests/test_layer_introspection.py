"""Every public layer class of each installed framework is catalogued (issue 17, item 3).

The public layer namespace of each api (``torch.nn``, ``keras.layers``, ``flax.nnx``,
``flax.linen``, ``mlx.nn``, ``equinox.nn``, ``haiku`` and ``haiku.nets``) is walked by
introspection: every public class that subclasses the framework's module or layer base. Each must be

* **covered** by the registry (:data:`verify.layers.LAYERS`): it, or its nearest base in
  the MRO, has a handler; or
* listed in its registry module's ``WITHOUT_WEIGHTS`` with the reason it has no weights;
  the test builds each one it can (no arguments, or small positional arguments read from
  the constructor's signature; a Keras layer is also built on a small input shape, a Linen
  module initialized on one, a Haiku module built and called inside a transform on one)
  and fails when it has a tensor; or
* listed in ``NOT_COVERED`` with the reason a class with weights has no handler.

A class it cannot build is reported as unverified (a warning naming it), not failed.
``python -m tests.test_layer_introspection`` prints the counts per api.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import inspect
import sys
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from verify import layers
from verify.layers.common import find_handler

FRAMEWORKS = {"torch": "torch", "keras": "keras", "nnx": "flax", "linen": "flax",
              "mlx": "mlx", "equinox": "equinox", "haiku": "haiku"}
INSTALLED = [api for api, package in FRAMEWORKS.items()
             if importlib.util.find_spec(package) is not None]


def _registry(api: str):
    from verify.layers import _module

    return _module(api)


@dataclass
class Census:
    """One api's public layer classes, sorted into the registry's categories."""

    classes: dict[str, type]
    registered: list[str] = field(default_factory=list)
    """Named in ``HANDLERS`` themselves."""
    through_base: list[str] = field(default_factory=list)
    """Covered by a registered base class in their MRO."""
    without_weights: list[str] = field(default_factory=list)
    not_covered: list[str] = field(default_factory=list)
    uncatalogued: list[str] = field(default_factory=list)


@functools.cache
def census(api: str) -> Census:
    module = _registry(api)
    found = Census(classes=module.public_layer_classes())
    for name, cls in sorted(found.classes.items()):
        if name in module.HANDLERS:
            found.registered.append(name)
        elif find_handler(cls, module.HANDLERS, module.layer_name) is not None:
            found.through_base.append(name)
        elif name in module.WITHOUT_WEIGHTS:
            found.without_weights.append(name)
        elif name in module.NOT_COVERED:
            found.not_covered.append(name)
        else:
            found.uncatalogued.append(name)
    return found


@pytest.mark.parametrize("api", INSTALLED)
def test_every_public_layer_class_is_catalogued(api):
    found = census(api)
    assert len(found.classes) > 20, f"{api}: the walk found only {sorted(found.classes)}"
    assert not found.uncatalogued, (
        f"{api}: public layer classes neither registered (verify/layers) nor listed in "
        f"WITHOUT_WEIGHTS or NOT_COVERED with a reason: {found.uncatalogued}")


@pytest.mark.parametrize("api", INSTALLED)
def test_the_tables_name_public_unregistered_classes_with_reasons(api):
    """No stale entry: each listed name is a public class the registry does not cover,
    listed once, with a reason."""
    module = _registry(api)
    found = census(api)
    listed = {**module.WITHOUT_WEIGHTS, **module.NOT_COVERED}
    assert not set(module.WITHOUT_WEIGHTS) & set(module.NOT_COVERED)
    assert not set(listed) - set(found.classes), (
        f"{api}: listed but not public layer classes: {sorted(set(listed) - set(found.classes))}")
    covered = set(found.registered) | set(found.through_base)
    assert not set(listed) & covered, (
        f"{api}: listed although the registry covers them: {sorted(set(listed) & covered)}")
    assert all(isinstance(reason, str) and len(reason) > 10 for reason in listed.values())


# --- building a class with as little as its signature asks for -------------------------

UNFILLABLE_NAMES = ("module", "layer", "cell", "function")
UNFILLABLE_TYPES = ("module", "layer", "callable", "str")
"""Words in the names, or annotations, of arguments no small number stands for: a class
that requires one stays unverified (rather than built around a nonsense argument)."""


def _fillable(parameter: inspect.Parameter) -> bool:
    name, annotation = parameter.name.lower(), str(parameter.annotation).lower()
    return not (any(word in name for word in UNFILLABLE_NAMES)
                or any(word in annotation for word in UNFILLABLE_TYPES))


def _filler(parameter: inspect.Parameter, number: int) -> object:
    """A small value for a required argument, from its annotation (ints by default)."""
    annotation = str(parameter.annotation).lower()
    if "bool" in annotation:
        return True
    if "float" in annotation and "int" not in annotation:
        return 0.5
    if any(word in annotation for word in ("tuple", "sequence", "list", "_size")):
        return (number, number)
    return number


def argument_lists(cls: type, skip: tuple[str, ...] = ()) -> Iterator[list]:
    """Candidate positional arguments for ``cls``: none if nothing is required, else the
    required ones filled from their annotations with 2, then all 1, then all 2."""
    try:
        parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
    except (TypeError, ValueError):
        parameters = []
    required = [p for p in parameters
                if p.default is inspect.Parameter.empty and p.name not in skip
                and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if not required:
        yield []
        return
    if not all(_fillable(p) for p in required):
        return
    yield [_filler(p, 2) for p in required]
    yield [1] * len(required)
    yield [2] * len(required)


def _first_built(cls: type, make: Callable[[list], object]) -> object:
    errors = ["a required argument is not a number"]
    for arguments in argument_lists(cls, skip=("rngs",)):
        try:
            return make(arguments)
        except Exception as error:  # a class that refuses every guess stays unverified
            errors.append(f"{type(error).__name__}: {str(error).splitlines()[0][:100]}"
                          if str(error) else type(error).__name__)
    raise LookupError("; ".join(dict.fromkeys(errors[1:] or errors)))


@contextlib.contextmanager
def _without_tensorflow() -> Iterator[None]:
    """Keras's preprocessing layers import TensorFlow lazily; importing it here would
    break a later ``import paddle`` in the same process (TensorFlow, then Paddle, crashes
    at import). A layer that needs it stays unverified."""
    if "tensorflow" in sys.modules:
        yield
        return
    from keras.src.utils import module_utils

    sys.modules["tensorflow"] = None  # an import of it raises ImportError
    try:
        yield
    finally:
        del sys.modules["tensorflow"]
        module_utils.tensorflow.module = None
        module_utils.tensorflow._available = None


KERAS_INPUT_SHAPES = ((2, 8), (2, 4, 8), (2, 4, 4, 8), (2, 4, 4, 4, 8), [(2, 8), (2, 8)],
                      [(2, 4, 8), (2, 4, 8)])


def _keras(cls: type, arguments: list) -> list:
    layer = cls(*arguments)
    if not layer.built:
        for shape in KERAS_INPUT_SHAPES:
            try:
                layer.build(shape)
                break
            except Exception:  # the next shape
                continue
    if not layer.built:
        raise LookupError("not built on any of the small input shapes")
    return layers.walk("keras", layer)


LINEN_INPUT_SHAPES = ((2, 8), (2, 4, 8), (2, 4, 4, 8))


def _linen(cls: type, arguments: list) -> list:
    import jax
    import jax.numpy as jnp

    module = cls(*arguments)
    errors = []
    for shape in LINEN_INPUT_SHAPES:
        for keywords in ({}, {"deterministic": True}):
            try:
                variables = module.init({"params": jax.random.key(0),
                                         "dropout": jax.random.key(1)},
                                        jnp.ones(shape), **keywords)
            except Exception as error:  # the next input
                errors.append(type(error).__name__)
                continue
            return layers.walk("linen", (module, variables))
    raise LookupError(f"no small input initializes it ({', '.join(dict.fromkeys(errors))})")


def _equinox(cls: type, arguments: list) -> list:
    import jax

    keywords = {"key": jax.random.key(0)} if "key" in inspect.signature(
        cls.__init__).parameters else {}
    return layers.walk("equinox", cls(*arguments, **keywords))


HAIKU_INPUT_SHAPES = ((2, 8), (2, 4, 8), (2, 4, 4, 8))


def _haiku(cls: type, arguments: list) -> list:
    """The module built and called inside a transform (as Haiku requires) on a small input;
    a recurrent core on ``(inputs, initial_state)``."""
    import haiku as hk
    import jax
    import jax.numpy as jnp

    def forward(x):
        module = cls(*arguments)
        if isinstance(module, hk.RNNCore):
            return module(x, module.initial_state(x.shape[0]))
        return module(x)

    errors = []
    for shape in HAIKU_INPUT_SHAPES:
        inputs = jnp.ones(shape)
        try:
            params, state = hk.transform_with_state(forward).init(jax.random.key(0), inputs)
        except Exception as error:  # the next input
            errors.append(type(error).__name__)
            continue
        return layers.walk("haiku", (forward, params, state, inputs))
    raise LookupError(f"no small input initializes it ({', '.join(dict.fromkeys(errors))})")


def tensors_of(api: str, cls: type) -> list:
    """The tensors the registry's walker finds in a small instance of ``cls``;
    :class:`LookupError` when it cannot be built."""
    if api == "torch":
        return _first_built(cls, lambda arguments: layers.walk("torch", cls(*arguments)))
    if api == "keras":
        with _without_tensorflow():
            return _first_built(cls, lambda arguments: _keras(cls, arguments))
    if api == "nnx":
        from flax import nnx

        def make(arguments: list) -> list:
            takes_rngs = "rngs" in inspect.signature(cls.__init__).parameters
            built = cls(*arguments, rngs=nnx.Rngs(0)) if takes_rngs else cls(*arguments)
            return layers.walk("nnx", built)

        return _first_built(cls, make)
    if api == "linen":
        return _first_built(cls, lambda arguments: _linen(cls, arguments))
    if api == "mlx":
        return _first_built(cls, lambda arguments: layers.walk("mlx", cls(*arguments)))
    if api == "equinox":
        return _first_built(cls, lambda arguments: _equinox(cls, arguments))
    if api == "haiku":
        return _first_built(cls, lambda arguments: _haiku(cls, arguments))
    raise ValueError(f"no builder for api {api!r}")


@functools.cache
def verification(api: str) -> tuple[dict[str, list[str]], dict[str, str]]:
    """For the classes listed without weights: those built with tensors (name -> tensor
    names), and those that could not be built (name -> why)."""
    found = census(api)
    with_tensors, unbuilt = {}, {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in found.without_weights:
            try:
                params = tensors_of(api, found.classes[name])
            except LookupError as error:
                unbuilt[name] = str(error)
                continue
            if params:
                with_tensors[name] = [p.name for p in params]
    return with_tensors, unbuilt


@pytest.mark.parametrize("api", INSTALLED)
def test_classes_listed_without_weights_have_none(api):
    with_tensors, unbuilt = verification(api)
    found = census(api)
    if unbuilt:
        warnings.warn(f"{api}: {len(unbuilt)} of {len(found.without_weights)} classes listed "
                      f"without weights could not be built, unverified: {sorted(unbuilt)}",
                      stacklevel=1)
    assert not with_tensors, (
        f"{api}: listed in WITHOUT_WEIGHTS, but built with tensors: {with_tensors}")
    assert not found.without_weights or len(unbuilt) < len(found.without_weights), (
        f"{api}: none of WITHOUT_WEIGHTS could be built: {unbuilt}")


def summary(api: str) -> str:
    """One line of counts (the closing note's table)."""
    found = census(api)
    with_tensors, unbuilt = verification(api)
    verified = len(found.without_weights) - len(unbuilt) - len(with_tensors)
    return (f"{api}: {len(found.classes)} public classes, {len(found.registered)} registered, "
            f"{len(found.through_base)} through a registered base, "
            f"{len(found.without_weights)} without weights ({verified} verified, "
            f"{len(unbuilt)} unverified), {len(found.not_covered)} with weights not "
            f"registered, {len(found.uncatalogued)} uncatalogued")


if __name__ == "__main__":  # python -m tests.test_layer_introspection: the counts
    for each in INSTALLED:
        print(summary(each))
