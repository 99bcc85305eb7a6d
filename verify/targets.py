"""Turn a ``TARGET`` string into a :class:`~verify.adapters.Target`.

``TARGET`` is a catalog name (``torch:kaiming_normal_``, ``jax:he_normal``, ...) or
``package.module:attribute``, a user's own initializer called through one of the
APIs below (``--api``):

=======  ======================================================  =======
api      calling convention                                      layout
=======  ======================================================  =======
torch    ``fn(tensor, **kwargs)`` fills a ``torch.Tensor``        oihw
numpy    ``fn(shape, rng, **kwargs)`` returns an array            oihw
jax      ``fn(key, shape, dtype, **kwargs)`` (``fn(**kwargs)``    hwio
         first if ``fn`` is a factory such as ``he_normal``)
keras    an initializer class or object: ``obj(shape, dtype)``    hwio
mlx      ``fn(**kwargs)`` returns ``init(array)``                 ohwi
equinox  ``fn(weight, key, **kwargs)`` returns the new weight     oihw
         (Equinox's documented pattern, then ``eqx.tree_at``)
haiku    an initializer class or object: ``obj(shape, dtype)``,   hwio
         called inside ``hk.transform`` (``hk.next_rng_key()``)
=======  ======================================================  =======

Equinox's pattern is the one its docs give for custom initialisation
(https://docs.kidger.site/equinox/tricks/#custom-parameter-initialisation:
``init_fn(weight, key)``, the weight ``(out, in)`` as Equinox stores it); the wrapper
passes ``jnp.zeros(shape, float32)`` and ``jax.random.key(seed32(seed))``. A Haiku
initializer is drawn in ``hk.transform(lambda: init(shape, float32)).apply({},
jax.random.key(seed32(seed)))``; a class is constructed with ``**kwargs`` first.
"""

from __future__ import annotations

import importlib
import inspect
import json

import numpy as np

from verify.adapters import ContractError, Target, require, seed32
from verify.fans import Layout

APIS: dict[str, Layout] = {"torch": "oihw", "numpy": "oihw", "jax": "hwio", "keras": "hwio",
                           "mlx": "ohwi", "equinox": "oihw", "haiku": "hwio"}


class TargetNotFound(ValueError):
    """The target cannot be imported or is not callable."""


def parse_kwargs(text: str | None, flag: str = "--kwargs") -> dict:
    """The JSON object ``text`` that the option ``flag`` gave ({} for none)."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{flag} is not valid JSON ({error.msg} at character "
                         f"{error.pos}): give an object such as '{{\"a\": 0.1}}'") from None
    if not isinstance(value, dict):
        raise ValueError(f"{flag} must be a JSON object such as '{{\"a\": 0.1}}', got "
                         f"{type(value).__name__}")
    return value


def import_attribute(target: str):
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise TargetNotFound(f"target {target!r} is neither a catalog name nor "
                             "'package.module:attribute'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise TargetNotFound(f"cannot import module {module_name!r} for target {target!r}: "
                             f"{error}") from None
    value = module
    for part in attribute.split("."):
        try:
            value = getattr(value, part)
        except AttributeError:
            raise TargetNotFound(f"module {module_name!r} has no attribute {attribute!r}") \
                from None
    if not callable(value):
        raise TargetNotFound(f"{target} is a {type(value).__name__}, not a callable "
                             "initializer")
    return value


def user_target(target: str, api: str, kwargs: dict) -> Target:
    """Wrap ``package.module:attribute`` called through ``api``."""
    if api not in APIS:
        raise ValueError(f"unknown api {api!r}: use one of {', '.join(APIS)}")
    function = import_attribute(target)
    return Target(target, "user", _WRAPPERS[api](function, kwargs), APIS[api],
                  f"python -m verify check {target} --api {api} --shape {{shape}} "
                  f"--seed {{seed}}")


def _torch(function, kwargs: dict):
    from verify.adapters.torch import in_place

    return in_place(function, getattr(function, "__name__", "fn"), **kwargs).sample


def _numpy(function, kwargs: dict):
    def sample(shape: tuple[int, ...], seed: int) -> np.ndarray:
        return np.asarray(function(shape, np.random.default_rng(seed), **kwargs))

    return sample


def _jax(function, kwargs: dict):
    jax = require("jax")
    parameters = inspect.signature(function).parameters
    initializer = function if "key" in parameters or "shape" in parameters \
        else function(**kwargs)
    extra = kwargs if initializer is function else {}
    # the same key as jax.random.key(seed32(seed)): eagerly, key() costs 55 us a call (its
    # seed is converted and traced op by op), jitted 13 us
    key = jax.jit(jax.random.key)

    def sample(shape: tuple[int, ...], seed: int) -> np.ndarray:
        return np.asarray(initializer(key(np.uint32(seed32(seed))), shape, jax.numpy.float32,
                                      **extra))

    return sample


def _keras(function, kwargs: dict):
    keras = require("keras")

    def sample(shape: tuple[int, ...], seed: int) -> np.ndarray:
        initializer = function(seed=seed32(seed), **kwargs) if inspect.isclass(function) \
            else function
        return keras.ops.convert_to_numpy(initializer(shape, dtype="float32"))

    return sample


def _mlx(function, kwargs: dict):
    mx = require("mlx.core", "mlx")
    initializer = function(**kwargs)
    if not callable(initializer):
        raise ContractError("api", "an mlx initializer factory must return a function")

    def sample(shape: tuple[int, ...], seed: int) -> np.ndarray:
        mx.random.seed(seed32(seed))
        return np.array(initializer(mx.zeros(shape)))

    return sample


def _equinox(function, kwargs: dict):
    jax = require("jax")
    jnp = require("jax.numpy", "jax")
    key = jax.jit(jax.random.key)  # as _jax: the same key, without the eager cost

    def sample(shape: tuple[int, ...], seed: int) -> np.ndarray:
        weight = jnp.zeros(tuple(shape), jnp.float32)
        return np.asarray(function(weight, key(np.uint32(seed32(seed))), **kwargs))

    return sample


def _haiku(function, kwargs: dict):
    jax = require("jax")
    hk = require("haiku", "haiku")
    initializer = function(**kwargs) if inspect.isclass(function) else function
    if kwargs and initializer is function:
        raise ContractError("api", "--kwargs construct a haiku initializer class; "
                                   f"{getattr(function, '__name__', function)} is not a class")
    key = jax.jit(jax.random.key)

    def sample(shape: tuple[int, ...], seed: int) -> np.ndarray:
        shape = tuple(int(d) for d in shape)
        draw = hk.transform(lambda: initializer(shape, jax.numpy.float32))
        return np.asarray(draw.apply({}, key(np.uint32(seed32(seed)))))

    return sample


_WRAPPERS = {"torch": _torch, "numpy": _numpy, "jax": _jax, "keras": _keras, "mlx": _mlx,
             "equinox": _equinox, "haiku": _haiku}
