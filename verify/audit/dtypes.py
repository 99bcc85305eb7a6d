"""``--dtype``: build a model with another default float dtype, asked of the framework
(never a cast afterwards).

torch: ``torch.set_default_dtype``; keras: ``keras.config.set_floatx``; paddle:
``paddle.set_default_dtype``; tf_keras: ``tf_keras.backend.set_floatx``. In float16 and
bfloat16 each tensor is tested against the law of its values rounded to the dtype
(:func:`verify.audit.tensors.battery`, :class:`verify.precision.RoundedLaw`), not the
float64 ideal, which would report the rounding as a finding. A framework that refuses a
dtype as its default is bad usage, with the framework's reason.
"""

from __future__ import annotations

import contextlib

from verify.audit.builders import BuildError

DTYPES = ("float32", "float64", "float16", "bfloat16")


@contextlib.contextmanager
def default_dtype(api: str, dtype: str | None):
    if dtype is None:
        yield
        return
    if dtype not in DTYPES:
        raise BuildError(f"--dtype {dtype}: use one of {', '.join(DTYPES)}")
    get, put = _accessors(api, dtype)
    previous = get()
    try:
        put(dtype)
    except Exception as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise BuildError(f"{api} refuses {dtype} as its default dtype: "
                         f"{type(error).__name__}: {first}") from None
    try:
        yield
    finally:
        put(previous)


def _accessors(api: str, dtype: str):
    """The framework's getter and setter of its default float dtype."""
    if api == "torch":
        import torch

        return (torch.get_default_dtype,
                lambda d: torch.set_default_dtype(getattr(torch, d) if isinstance(d, str)
                                                  else d))
    if api == "keras":
        import keras

        return keras.config.floatx, keras.config.set_floatx
    if api == "paddle":
        import paddle

        return paddle.get_default_dtype, paddle.set_default_dtype
    if api == "tf_keras":
        from verify.adapters.tf_keras import _tf_keras

        backend = _tf_keras().backend
        return backend.floatx, backend.set_floatx
    raise BuildError(f"--dtype is supported for the torch, keras, paddle and tf_keras apis, "
                     f"not {api}")
