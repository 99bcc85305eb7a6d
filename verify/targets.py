"""Turn a ``TARGET`` string into a :class:`~verify.adapters.Target`.

``TARGET`` is a catalog name (``torch:kaiming_normal_``, ``jax:he_normal``, ...) or
``package.module:attribute``, a user's own initializer called through one of the
APIs below (``--api``):

========  ======================================================  ===============
api       calling convention                                      layout
========  ======================================================  ===============
torch     ``fn(tensor, **kwargs)`` fills a ``torch.Tensor``        oihw
numpy     ``fn(shape, rng, **kwargs)`` returns an array            oihw
jax       ``fn(key, shape, dtype, **kwargs)`` (``fn(**kwargs)``    hwio
          first if ``fn`` is a factory such as ``he_normal``)
keras     an initializer class or object: ``obj(shape, dtype)``    hwio
mlx       ``fn(**kwargs)`` returns ``init(array)``                 ohwi
paddle    ``fn(**kwargs)`` returns a ``paddle.nn.initializer``     paddle: 2-D
          (a class such as ``KaimingNormal``, or a factory; an    (in, out), else
          initializer object is used as it is), applied to a      (out, in,
          fresh ``paddle.nn.Parameter(shape, dtype)`` after       *kernel)
          ``paddle.seed``
tf_keras  a ``tf_keras`` initializer class (built with             hwio
          ``seed=seed32(seed), **kwargs`` per call) or object:
          ``obj(shape, dtype)``
tinygrad  ``fn(*shape, **kwargs)`` returns a ``tinygrad.Tensor``   oihw
          (as ``Tensor.kaiming_uniform`` does), seeded with
          ``Tensor.manual_seed``, drawn on the CPU device;
          ``dtype=`` added for a dtype other than float32
equinox   ``fn(weight, key, **kwargs)`` returns the new weight     oihw
          (Equinox's documented pattern, then ``eqx.tree_at``)
haiku     an initializer class or object: ``obj(shape, dtype)``,   hwio
          called inside ``hk.transform`` (``hk.next_rng_key()``)
========  ======================================================  ===============

An unseeded tf_keras initializer object returns the same tensor on every call
(its stateless ops keep the seed of its first call), so ``check`` reports its calls
as dependent: pass the class.

Equinox's pattern is the one its docs give for custom initialisation
(https://docs.kidger.site/equinox/tricks/#custom-parameter-initialisation:
``init_fn(weight, key)``, the weight ``(out, in)`` as Equinox stores it); the wrapper
passes ``jnp.zeros(shape, dtype)`` and ``jax.random.key(seed32(seed))``. A Haiku
initializer is drawn in ``hk.transform(lambda: init(shape, dtype)).apply({},
jax.random.key(seed32(seed)))``; a class is constructed with ``**kwargs`` first.
"""

from __future__ import annotations

import importlib
import inspect
import json

import numpy as np

from verify.adapters import (
    ContractError,
    DtypeUnsupported,
    Target,
    as_asked,
    refused,
    require,
    seed32,
    widened,
)
from verify.fans import Layout

APIS: dict[str, Layout] = {"torch": "oihw", "numpy": "oihw", "jax": "hwio", "keras": "hwio",
                           "mlx": "ohwi", "paddle": "paddle", "tf_keras": "hwio",
                           "tinygrad": "oihw", "equinox": "oihw", "haiku": "hwio"}
SLOW_CALLS: dict[str, int] = {"tinygrad": 400}
"""Calls per shape for the apis whose every call is slow (tinygrad schedules and runs its
kernels in about 20 ms a call): 400 calls take 8 s, and a shape smaller than 3,500 entries
is then checked with a larger, reported, minimum detectable effect."""


def max_calls(api: str) -> int:
    """The most calls per shape a check of a user's initializer through ``api`` makes."""
    from verify.conformance import DEFAULT_MAX_CALLS

    return SLOW_CALLS.get(api, DEFAULT_MAX_CALLS)


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


def user_target(target: str, api: str, kwargs: dict, dtype: str = "float32") -> Target:
    """Wrap ``package.module:attribute`` called through ``api``, asked for ``dtype``
    (through its dtype argument, or the tensor it fills: never a cast afterwards)."""
    if api not in APIS:
        raise ValueError(f"unknown api {api!r}: use one of {', '.join(APIS)}")
    function = import_attribute(target)
    if dtype != "float32" and api == "numpy":
        raise DtypeUnsupported(f"the numpy api's fn(shape, rng) takes no dtype: check "
                               f"{target} in float32, or wrap it for another api")
    extra = "" if dtype == "float32" else f" --dtype {dtype}"
    return Target(target, "user", _WRAPPERS[api](function, kwargs, dtype), APIS[api],
                  f"python -m verify check {target} --api {api}{extra} --shape {{shape}} "
                  f"--seed {{seed}}", dtype=dtype)


def _torch(function, kwargs: dict, dtype: str):
    from verify.adapters.torch import in_place

    return in_place(function, getattr(function, "__name__", "fn"), dtype, **kwargs).sample


def _numpy(function, kwargs: dict, dtype: str):
    def sample(shape: tuple[int, ...], seed: int) -> np.ndarray:
        return np.asarray(function(shape, np.random.default_rng(seed), **kwargs))

    return sample


def _jax(function, kwargs: dict, dtype: str):
    jax = require("jax")
    parameters = inspect.signature(function).parameters
    initializer = function if "key" in parameters or "shape" in parameters \
        else function(**kwargs)
    extra = kwargs if initializer is function else {}
    # the same key as jax.random.key(seed32(seed)): eagerly, key() costs 55 us a call (its
    # seed is converted and traced op by op), jitted 13 us
    key = jax.jit(jax.random.key)

    def sample(shape: tuple[int, ...], seed: int) -> np.ndarray:
        try:
            value = initializer(key(np.uint32(seed32(seed))), shape, kind, **extra)
        except Exception as error:
            raise refused(dtype, getattr(function, "__name__", "fn"), error) from None
        return widened(np.asarray(value))

    from verify.adapters.jax import jax_dtype

    kind = jax_dtype(dtype)
    return sample


def _keras(function, kwargs: dict, dtype: str):
    keras = require("keras")

    def sample(shape: tuple[int, ...], seed: int) -> np.ndarray:
        initializer = function(seed=seed32(seed), **kwargs) if inspect.isclass(function) \
            else function
        try:
            value = initializer(shape, dtype=dtype)
        except Exception as error:
            raise refused(dtype, getattr(function, "__name__", "fn"), error) from None
        return widened(keras.ops.convert_to_numpy(value))

    return sample


def _mlx(function, kwargs: dict, dtype: str):
    mx = require("mlx.core", "mlx")
    initializer = function(**kwargs)
    if not callable(initializer):
        raise ContractError("api", "an mlx initializer factory must return a function")
    kind = getattr(mx, dtype)

    def sample(shape: tuple[int, ...], seed: int) -> np.ndarray:
        mx.random.seed(seed32(seed))
        try:
            value = initializer(mx.zeros(shape, dtype=kind))
        except Exception as error:
            raise refused(dtype, getattr(function, "__name__", "fn"), error) from None
        return _mlx_numpy(mx, value)

    return sample


def _mlx_numpy(mx, value) -> np.ndarray:
    """An MLX array's values: bfloat16 (which NumPy lacks) widened to float32, exactly."""
    if value.dtype == mx.bfloat16:
        value = value.astype(mx.float32)
    return np.array(value)


def _paddle(function, kwargs: dict, dtype: str):
    from verify.adapters.paddle import apply_initializer, import_paddle

    paddle = import_paddle()
    base = paddle.nn.initializer.Initializer
    if isinstance(function, base):
        if kwargs:
            raise ContractError("api", "a paddle initializer object takes no --kwargs: pass "
                                "its class or a factory instead")
        initializer = function
    else:
        initializer = function(**kwargs)
    if not callable(initializer):
        raise ContractError("api", "a paddle initializer factory must return an initializer, "
                            f"got a {type(initializer).__name__}")

    def sample(shape: tuple[int, ...], seed: int) -> np.ndarray:
        paddle.seed(seed32(seed))
        try:
            return apply_initializer(initializer, shape, dtype)
        except ContractError:
            raise
        except Exception as error:
            raise refused(dtype, getattr(function, "__name__", "fn"), error) from None

    return sample


def _tf_keras(function, kwargs: dict, dtype: str):
    from verify.adapters.tf_keras import _tf_keras as load

    load()
    name = getattr(function, "__name__", "fn")

    def sample(shape: tuple[int, ...], seed: int) -> np.ndarray:
        initializer = function(seed=seed32(seed), **kwargs) if inspect.isclass(function) \
            else function
        try:
            value = np.asarray(initializer(tuple(shape), dtype=dtype))
        except Exception as error:
            raise refused(dtype, name, error) from None
        return as_asked(value, dtype, name)

    return sample


def _tinygrad(function, kwargs: dict, dtype: str):
    from verify.adapters.tinygrad import _asked, on_cpu, require_tinygrad

    if dtype in ("complex64", "complex128"):
        raise DtypeUnsupported(f"tinygrad has no {dtype}")
    Tensor = require_tinygrad().Tensor
    asked = {} if dtype == "float32" else {"dtype": dtype}
    name = getattr(function, "__name__", "fn")

    def sample(shape: tuple[int, ...], seed: int) -> np.ndarray:
        shape = tuple(int(d) for d in shape)
        with on_cpu():
            Tensor.manual_seed(seed32(seed))
            try:
                result = function(*shape, **kwargs, **asked)
                values = result.numpy() if isinstance(result, Tensor) else None
            except Exception as error:
                raise refused(dtype, name, error) from None
        if values is None:
            raise ContractError("api", "a tinygrad initializer must return a "
                                f"tinygrad Tensor, got {type(result).__name__}")
        return _asked(result, values, shape, dtype, name)

    return sample


def _equinox(function, kwargs: dict, dtype: str):
    jax = require("jax")
    from verify.adapters.jax import jax_dtype

    kind = jax_dtype(dtype)
    key = jax.jit(jax.random.key)  # as _jax: the same key, without the eager cost

    def sample(shape: tuple[int, ...], seed: int) -> np.ndarray:
        weight = jax.numpy.zeros(tuple(shape), kind)
        try:
            value = function(weight, key(np.uint32(seed32(seed))), **kwargs)
        except Exception as error:
            raise refused(dtype, getattr(function, "__name__", "fn"), error) from None
        return widened(np.asarray(value))

    return sample


def _haiku(function, kwargs: dict, dtype: str):
    jax = require("jax")
    hk = require("haiku", "haiku")
    from verify.adapters.jax import jax_dtype

    initializer = function(**kwargs) if inspect.isclass(function) else function
    if kwargs and initializer is function:
        raise ContractError("api", "--kwargs construct a haiku initializer class; "
                                   f"{getattr(function, '__name__', function)} is not a class")
    kind = jax_dtype(dtype)
    key = jax.jit(jax.random.key)

    def sample(shape: tuple[int, ...], seed: int) -> np.ndarray:
        shape = tuple(int(d) for d in shape)
        draw = hk.transform(lambda: initializer(shape, kind))
        try:
            value = draw.apply({}, key(np.uint32(seed32(seed))))
        except Exception as error:
            raise refused(dtype, getattr(function, "__name__", "fn"), error) from None
        return widened(np.asarray(value))

    return sample


_WRAPPERS = {"torch": _torch, "numpy": _numpy, "jax": _jax, "keras": _keras, "mlx": _mlx,
             "paddle": _paddle, "tf_keras": _tf_keras, "tinygrad": _tinygrad,
             "equinox": _equinox, "haiku": _haiku}
