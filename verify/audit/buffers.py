"""Known buffers and the values they must hold, whatever the spec.

* ``position_ids``: ``0, 1, ..., n - 1`` along the last axis (Hugging Face models
  register it as a buffer of ``torch.arange``);
* ``inv_freq`` and ``original_inv_freq`` of rotary embeddings with the default rope type:
  ``1 / theta^(2i / d)`` for ``i < d / 2``, ``theta`` the config's ``rope_theta`` (in
  ``rope_parameters`` since transformers 5) and ``d`` twice the buffer's length (Su et al.
  2021, RoFormer, eq. 15, https://arxiv.org/abs/2104.09864);
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


def expected(name: str, array: np.ndarray,
             config: Mapping[str, Any]) -> tuple[np.ndarray, str, str] | None:
    """The values the buffer ``name`` must hold, what they are, and the source; or None."""
    last = name.rsplit(".", 1)[-1]
    parent = name.rsplit(".", 2)[-2] if name.count(".") >= 1 else ""
    if last == "position_ids" and array.ndim >= 1:
        return (np.broadcast_to(np.arange(array.shape[-1]), array.shape),
                "0, 1, ..., n - 1", "torch.arange, as the model registers it")
    if last in ("inv_freq", "original_inv_freq") and array.ndim == 1:
        theta = _rope_theta(config)
        if theta is None:
            return None
        dim = 2 * array.shape[0]
        values = 1.0 / theta ** (np.arange(0, dim, 2, dtype=np.float64) / dim)
        return values, f"1 / {theta:g}^(2i / {dim})", ROPE
    if last == "bias" and parent == "attn" and array.ndim >= 2 \
            and array.shape[-1] == array.shape[-2] and array.shape[-1] > 1:
        mask = np.tril(np.ones(array.shape[-2:]))
        return np.broadcast_to(mask, array.shape), "a causal mask (lower triangle of ones)", \
            "the causal attention of GPT-style models"
    return None


def check(name: str, array: np.ndarray, config: Mapping[str, Any]) -> str | None:
    """None if the buffer holds its known values (or has none); else what differs."""
    found = expected(name, array, config)
    if found is None:
        return None
    values, what, _ = found
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
