"""Known buffers and the values they must hold, whatever the spec.

* ``position_ids`` of shape ``(n,)`` or ``(1, n)``: ``0, 1, ..., n - 1``, or consecutive
  from an offset (Hugging Face models register it as a buffer of ``torch.arange``; MRA's
  start after the padding index; other shapes, such as EdgeTAM's ``(n, 2)`` grid
  coordinates, are not known);
* ``inv_freq`` and ``original_inv_freq`` of rotary embeddings with the default rope type:
  ``1 / theta^(2i / d)`` for ``i < d / 2``, ``theta`` the config's ``rope_theta`` (in
  ``rope_parameters`` since transformers 5), or a sub-config's, and ``d`` twice the
  buffer's length, or one less where the config declares a ``partial_rotary_factor``
  below 1 (an odd rotary dimension) (Su et al. 2021, RoFormer, eq. 15,
  https://arxiv.org/abs/2104.09864);
* ``causal masks`` (``attn.bias`` of GPT-style models, square, ones on and below the
  diagonal): the lower triangle.

Norm statistics (running mean 0, running variance 1) are the layer registry's defaults.
Other buffers must be finite and the same from the same seed (the anomaly checks).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

ROPE = "https://arxiv.org/abs/2104.09864 (RoFormer, eq. 15)"


def _rope_theta(config: Mapping[str, Any]) -> float | None:
    parameters = config.get("rope_parameters")
    if isinstance(parameters, Mapping):
        if parameters.get("rope_type", "default") != "default":
            return None  # scaled variants (linear, dynamic, yarn, ...) have laws of their own
        theta = parameters.get("rope_theta")
    else:
        if config.get("rope_scaling"):
            return None
        theta = config.get("rope_theta")
    return float(theta) if isinstance(theta, int | float) else None


def _rope_thetas(config: Mapping[str, Any]) -> list[float | None]:
    """The rope thetas of a config and of its sub-configs (a composite model's towers
    have their own: Evolla's protein encoder 10000, its language model 500000)."""
    found = [_rope_theta(config)]
    for value in config.values():
        if isinstance(value, Mapping) and ("rope_theta" in value or "rope_parameters" in value
                                           or any(isinstance(v, Mapping) for v in value.values())):
            found += [theta for theta in _rope_thetas(value) if theta is not None]
    return found


def expected(name: str, array: np.ndarray, config: Mapping[str, Any],
             theta: float | None = None) -> tuple[np.ndarray, str, str] | None:
    """The values the buffer ``name`` must hold, what they are, and the source; or None.
    ``theta``: a rotary embedding's, else the config's own."""
    last = name.rsplit(".", 1)[-1]
    parent = name.rsplit(".", 2)[-2] if name.count(".") >= 1 else ""
    if last == "position_ids" and array.ndim >= 1 and all(n == 1 for n in array.shape[:-1]):
        return (np.broadcast_to(np.arange(array.shape[-1]), array.shape),
                "0, 1, ..., n - 1", "torch.arange, as the model registers it")
    if last in ("inv_freq", "original_inv_freq") and array.ndim == 1:
        theta = _rope_theta(config) if theta is None else theta
        if theta is None:
            return None
        dim = 2 * array.shape[0]
        return _frequencies(theta, dim), f"1 / {theta:g}^(2i / {dim})", ROPE
    if last == "bias" and parent == "attn" and array.ndim >= 2 \
            and array.shape[-1] == array.shape[-2] and array.shape[-1] > 1:
        mask = np.tril(np.ones(array.shape[-2:]))
        return np.broadcast_to(mask, array.shape), "a causal mask (lower triangle of ones)", \
            "the causal attention of GPT-style models"
    return None


def check(name: str, array: np.ndarray, config: Mapping[str, Any]) -> str | None:
    """None if the buffer holds its known values (or has none); else what differs. A
    rotary embedding's frequencies may follow the theta of any of the model's configs."""
    found = expected(name, array, config)
    if found is None:
        return None
    last = name.rsplit(".", 1)[-1]
    if last in ("inv_freq", "original_inv_freq"):
        dims = (2 * array.shape[0],) + ((2 * array.shape[0] - 1,) if _partial(config) else ())
        for theta in _rope_thetas(config):
            for dim in dims:
                if theta is not None and _differences(array, _frequencies(theta, dim)) is None:
                    return None
    if last == "position_ids" and np.issubdtype(array.dtype, np.integer) \
            and _differences(array - array[..., :1], found[0]) is None:
        return None  # consecutive from an offset (MRA's and RoBERTa's start after padding)
    return _differences(array, found[0], found[1])


def _partial(config: Mapping[str, Any]) -> bool:
    """Does the config, or a sub-config, rotate part of each head
    (``partial_rotary_factor`` below 1: the rotary dimension may be odd, as Moonshine's
    int(8 x 0.9) = 7)?"""
    factor = config.get("partial_rotary_factor")
    if isinstance(factor, int | float) and not isinstance(factor, bool) and factor < 1:
        return True
    return any(_partial(value) for value in config.values() if isinstance(value, Mapping))


def _frequencies(theta: float, dim: int) -> np.ndarray:
    """RoPE's ``1 / theta^(2i / dim)``, ``i < dim / 2``."""
    return 1.0 / theta ** (np.arange(0, dim, 2, dtype=np.float64) / dim)


def _differences(array: np.ndarray, values: np.ndarray, what: str = "") -> str | None:
    tolerance = 0.0 if np.issubdtype(array.dtype, np.integer) else \
        4 * float(np.finfo(array.dtype).eps if np.issubdtype(array.dtype, np.floating)
                  else 0.0)
    differ = np.abs(array.astype(np.float64) - values) > tolerance * np.abs(values)
    if not differ.any():
        return None
    return (f"{int(differ.sum())} of {array.size} entries differ from {what} "
            f"(first at index {tuple(int(i) for i in np.argwhere(differ)[0])})")


def source(name: str, array: np.ndarray, config: Mapping[str, Any]) -> str:
    found = expected(name, array, config)
    return found[2] if found else ""
