"""Plain arrays by name (a checkpoint, a state dict): roles from the names alone.

No layer instance, so no default law. The last component of a name (after ``.`` or
``/``) decides:

* ``weight`` / ``w`` (2-D or more): PyTorch's ``(out, in, *kernel)`` guessed;
* ``kernel`` (2-D or more): JAX's and Keras's ``(*kernel, in, out)`` guessed;
* ``embedding`` / ``embeddings``: ``(num, dim)``, semantic fans ``(1, dim)``;
* ``bias``/``b``/``beta``, ``scale``/``gamma``, running statistics: no fans.

A name with ``norm`` or ``ln`` in its layer part makes ``weight`` a norm scale.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from verify.layers.common import Handler, Site, shape_fans, to_numpy
from verify.layers.records import Param, Role

HANDLERS: dict[str, Handler] = {}
"""No layer types: :func:`role_of` reads names."""

NORM_PART = re.compile(r"(^|[._/])(\w*norm\w*|ln\w*|bn\d*)([._/]|$)", re.IGNORECASE)
CONSTANT_NAMES = {"bias": "bias", "b": "bias", "beta": "norm.bias", "gamma": "norm.scale",
                  "scale": "norm.scale", "running_mean": "norm.running_mean",
                  "running_var": "norm.running_var", "moving_mean": "norm.running_mean",
                  "moving_variance": "norm.running_var", "mean": "norm.running_mean",
                  "var": "norm.running_var", "num_batches_tracked": "norm.num_batches_tracked"}


def split_name(name: str) -> tuple[str, str]:
    """``("encoder.layer.0", "weight")`` from ``encoder.layer.0.weight`` (``/`` too)."""
    parts = re.split(r"[./]", name)
    return ".".join(parts[:-1]), parts[-1]


def role_for_name(name: str, shape: tuple[int, ...]) -> Role:
    prefix, local = split_name(name)
    lowered = local.lower()
    if lowered in ("embedding", "embeddings") and len(shape) == 2:
        return Role(role="embedding.weight", fan_in=1, fan_out=int(shape[1]),
                    layout="(num, dim) (guessed from the name)")
    if lowered in ("weight", "w") and len(shape) == 1 and NORM_PART.search(prefix):
        return Role(role="norm.scale", random=False)
    if lowered in CONSTANT_NAMES and len(shape) <= 1:
        return Role(role=f"unknown.{CONSTANT_NAMES[lowered]}", random=False)
    if lowered in ("weight", "w", "kernel") and len(shape) >= 2:
        layout, words = (("hwio", "(*kernel, in, out)") if lowered == "kernel"
                         else ("oihw", "(out, in, *kernel)"))
        fan_in, fan_out = shape_fans(shape, layout)
        return Role(role=f"unknown.{lowered}", fan_in=fan_in, fan_out=fan_out,
                    layout=f"{words} (guessed from the name)")
    return Role(role=f"unknown.{local}", note="no layer: role from the name only")


def role_of(site: Site) -> Role:
    return role_for_name(site.local, site.shape)


def walk(model: object) -> list[Param]:
    if not isinstance(model, Mapping):
        raise ValueError(f"api 'arrays' walks a mapping of names to arrays, got "
                         f"{type(model).__name__}")
    found: dict[int, tuple[object, list[str]]] = {}
    for name, value in model.items():
        found.setdefault(id(value), (value, []))[1].append(str(name))
    params = []
    for value, names in found.values():
        array, dtype = to_numpy(value)
        _, local = split_name(names[0])
        params.append(Param(names=tuple(names), array=array, dtype=dtype, layer="unknown",
                            local=local, role=role_for_name(names[0], tuple(array.shape)),
                            trainable=True))
    return params


def build(name: str, kwargs: dict) -> object:
    raise ValueError("api 'arrays' has no layers to build: pass a mapping of arrays")
