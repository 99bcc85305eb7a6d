"""``--dtype``: build a model with another default float dtype, asked of the framework
(never a cast afterwards).

torch: ``torch.set_default_dtype``; keras: ``keras.config.set_floatx``; paddle:
``paddle.set_default_dtype``; tf_keras: ``tf_keras.backend.set_floatx``. float32 and
float64 only: the laws of rounded low-precision values are the subject of the dtype
work of the conformance catalog, and a float64 law tested on float16 values would report
the rounding as a finding.
"""

from __future__ import annotations

import contextlib

from verify.audit.builders import BuildError

DTYPES = ("float32", "float64")


@contextlib.contextmanager
def default_dtype(api: str, dtype: str | None):
    if dtype is None:
        yield
        return
    if dtype not in DTYPES:
        raise BuildError(f"--dtype {dtype}: use one of {', '.join(DTYPES)}")
    if api == "torch":
        import torch

        previous = torch.get_default_dtype()
        torch.set_default_dtype(getattr(torch, dtype))
        try:
            yield
        finally:
            torch.set_default_dtype(previous)
    elif api == "keras":
        import keras

        previous = keras.config.floatx()
        keras.config.set_floatx(dtype)
        try:
            yield
        finally:
            keras.config.set_floatx(previous)
    elif api == "paddle":
        import paddle

        previous = paddle.get_default_dtype()
        paddle.set_default_dtype(dtype)
        try:
            yield
        finally:
            paddle.set_default_dtype(previous)
    elif api == "tf_keras":
        from verify.adapters.tf_keras import _tf_keras

        backend = _tf_keras().backend
        previous = backend.floatx()
        backend.set_floatx(dtype)
        try:
            yield
        finally:
            backend.set_floatx(previous)
    else:
        raise BuildError(f"--dtype is supported for the torch, keras, paddle and tf_keras apis, "
                         f"not {api}")
