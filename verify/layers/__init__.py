"""The registry of layer types: each parameter's role, semantic fans and documented default.

One registry serves ``conformance`` and ``audit``. For every layer type of a framework
it says, for each of the layer's tensors:

* its **role** (``linear.weight``, ``conv.weight``, ``attention.in_proj.weight``,
  ``embedding.weight``, ``norm.scale``, ``recurrent.weight_ih``, ...);
* its **semantic fans**: the fan-in is the number of inputs of one output unit of the
  map the tensor implements, the fan-out the number of outputs fed by one input
  (a packed ``(3E, E)`` attention projection is three ``E -> E`` maps: fans ``E, E``;
  a grouped convolution's fan-in counts only its group's channels; a transposed
  convolution's fans are those of the map it implements, not of its stored shape);
* the fans the framework's own default computes from the stored shape, where it
  computes any (a difference from the semantic fans is a ``fan-mismatch`` finding);
* the framework's documented default law, with its citation.

:func:`walk` lists the tensors of a built model of any api as :class:`Param` records.

Conventions the semantic fans follow (the exact rules are in :mod:`verify.layers.common`):

* strides count: a stride-``s`` convolution's fan-out and a stride-``s`` transposed
  convolution's fan-in are ``prod(k) / prod(s)`` per channel on average (rounded half up
  where not whole, the role's ``note`` then gives the exact average), unlike
  :mod:`verify.fans`, which follows the libraries in ignoring strides;
* an embedding table is a row lookup: fans ``(1, dim)``;
* a bilinear form's output sums ``in1 * in2`` products: fans ``(in1 * in2, out)``;
* stacked gates (``blocks``) and packed projections have the fans of one block;
* an einsum kernel axis shared by input and output (per-head weights) is in neither fan.

Module per api: :mod:`~verify.layers.torch_layers`, :mod:`~verify.layers.keras_layers`,
:mod:`~verify.layers.tf_keras_layers` (TensorFlow's Keras 2, with Keras 3's handlers),
:mod:`~verify.layers.nnx_layers` and :mod:`~verify.layers.linen_layers` (handlers in
:mod:`~verify.layers.flax_common`), :mod:`~verify.layers.mlx_layers`,
:mod:`~verify.layers.paddle_layers`, :mod:`~verify.layers.tinygrad_layers`,
:mod:`~verify.layers.tf_keras_layers`, :mod:`~verify.layers.equinox_layers`,
:mod:`~verify.layers.haiku_layers`, :mod:`~verify.layers.arrays`. Importing this package
imports none of the frameworks.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import ModuleType

from verify.layers import (
    arrays,
    equinox_layers,
    haiku_layers,
    keras_layers,
    linen_layers,
    mlx_layers,
    nnx_layers,
    paddle_layers,
    tf_keras_layers,
    tinygrad_layers,
    torch_layers,
)
from verify.layers.common import Handler, Site
from verify.layers.records import Param, Role, same_law

__all__ = ["APIS", "LAYERS", "Param", "Role", "Site", "build_layer", "lookup", "registered",
           "same_law", "walk"]

APIS = ("torch", "keras", "nnx", "linen", "mlx", "paddle", "tinygrad", "arrays", "tf_keras",
        "equinox", "haiku")

_MODULES: dict[str, ModuleType] = {"torch": torch_layers, "keras": keras_layers,
                                   "nnx": nnx_layers, "linen": linen_layers,
                                   "mlx": mlx_layers, "paddle": paddle_layers,
                                   "tinygrad": tinygrad_layers, "arrays": arrays,
                                   "tf_keras": tf_keras_layers, "equinox": equinox_layers,
                                   "haiku": haiku_layers}
_FRAMEWORKS = {"torch": "torch", "keras": "keras", "nnx": "flax", "linen": "flax",
               "mlx": "mlx", "paddle": "paddle", "tinygrad": "tinygrad", "arrays": "numpy",
               "tf_keras": "tf_keras", "equinox": "equinox", "haiku": "haiku"}

LAYERS: dict[str, Mapping[str, Handler]] = {api: module.HANDLERS
                                            for api, module in _MODULES.items()}
"""Per api, the registered layer types (public qualified class names, e.g.
``torch.nn.Linear``, ``keras.layers.Dense``, ``flax.nnx.Linear``) and their handlers. A
subclass of a registered type uses its nearest registered base's handler."""


def _module(api: str) -> ModuleType:
    if api not in _MODULES:
        raise ValueError(f"unknown api {api!r}: use one of {', '.join(APIS)}")
    if api == "keras":
        from verify.adapters.keras import choose_backend

        choose_backend()  # before Keras loads: JAX unless KERAS_BACKEND says otherwise
    from verify.adapters import LibraryMissing

    if api == "paddle":
        from verify.adapters.paddle import import_paddle

        try:
            import_paddle()  # refuses where importing Paddle would crash (after TensorFlow)
        except LibraryMissing as error:
            raise ValueError(f"api 'paddle': {error}") from None
    try:
        if api == "tf_keras":
            from verify.adapters.tf_keras import _tf_keras

            _tf_keras()  # the one place TensorFlow is imported
        else:
            importlib.import_module(_FRAMEWORKS[api])
    except (ImportError, LibraryMissing):
        package = {"haiku": "dm-haiku"}.get(api, _FRAMEWORKS[api])
        raise ValueError(f"api {api!r} needs {_FRAMEWORKS[api]}, which is not installed: "
                         f"pip install {package}") from None
    return _MODULES[api]


def registered(api: str) -> list[str]:
    """The layer types the registry knows for ``api``, sorted."""
    if api not in _MODULES:
        raise ValueError(f"unknown api {api!r}: use one of {', '.join(APIS)}")
    return sorted(LAYERS[api])


def lookup(api: str, layer: object, local: str, shape: tuple[int, ...], *,
           parents: tuple[object, ...] = (), attribute: str = "") -> Role:
    """The role of the tensor ``local`` (``weight``, ``kernel``, ``in_proj_weight``) of a
    layer instance of ``api``, with ``shape`` its stored shape.

    ``parents`` are the layers above it, root first, and ``attribute`` the name its parent
    holds it under: a few defaults depend on them (PyTorch's ``MultiheadAttention`` zeroes
    its ``out_proj.bias``; ``nn.Transformer`` redraws its matrices; a Flax recurrent cell
    draws its hidden-to-hidden kernels orthogonal). :func:`walk` passes them.

    A layer type not in the registry gives the role ``unknown.<local>``, fans guessed from
    the shape in the api's usual layout (2-D and larger tensors) and no default.
    """
    site = Site(layer, local, tuple(int(d) for d in shape), tuple(parents), attribute)
    return _module(api).role_of(site)


def walk(api: str, model: object) -> list[Param]:
    """Every tensor of a built model of ``api``, once (a tied tensor with all its names, in
    walk order), with its layer, local name and :class:`Role`.

    * ``torch``: a ``torch.nn.Module``; parameters and buffers;
    * ``keras``: a built ``keras.Model`` or ``keras.layers.Layer``; names are variable paths;
    * ``nnx``: a ``flax.nnx.Module``; names are dotted paths; variables other than
      ``nnx.Param`` (batch statistics) are buffers, random-number state is left out;
    * ``linen``: ``(module, variables)`` or ``(module, variables, *example_inputs)``, the
      variables as ``module.init`` returns them; names ``Dense_0.kernel`` for the ``params``
      collection and ``batch_stats.BatchNorm_0.mean`` for others. With example inputs the
      layer types come from one traced call, without them from the module's ``setup``
      attributes and its children's automatic names (``Dense_0``);
    * ``mlx``: an ``mlx.nn.Module``; running statistics are buffers;
    * ``tinygrad``: any object holding tinygrad layers or tensors (attributes, lists,
      dicts), as ``tinygrad.nn.state.get_state_dict`` lists them; tensors marked
      ``is_param_(False)`` (running statistics) are buffers;
    * ``paddle``: a ``paddle.nn.Layer``; parameters and buffers, a tensor with all its names
      (the recurrent layers list their cells' tensors twice); parameters that are not
      trainable (running statistics) are buffers;
    * ``arrays``: a mapping of names to arrays; roles from the names alone;
    * ``tf_keras``: a built ``tf_keras.Model`` or ``tf_keras.layers.Layer``; names are the
      layers' names from the root (a ``Model``'s own name left out), string variables
      (vocabularies) are left out;
    * ``equinox``: an ``equinox.Module``, or ``(module, state)`` from
      ``eqx.nn.make_with_state``; names are dotted field paths; the values of a
      ``StateIndex`` are buffers;
    * ``haiku``: ``(forward_fn, params, state, *example_inputs)`` (the layer types from one
      traced call) or a bare ``params`` mapping (from the automatic module names); names are
      ``module_name/param``; state entries are buffers.
    """
    return _module(api).walk(model)


def build_layer(api: str, name: str, kwargs: dict) -> object:
    """A layer of the catalog name ``name`` (``nn.MultiheadAttention``,
    ``layers.Dense``, ``Linear``, ``Dense``, ``nn.Linear``) built with ``kwargs``, in the
    form the audit's builder takes for ``api``:

    * ``torch``: the module (a lazy one, ``nn.LazyLinear``, called once on zeros of
      ``kwargs["input_shape"]`` so that it has its parameters); ``mlx``, ``paddle``: the
      module;
    * ``equinox``: a function ``fn(key)`` that builds the module;
    * ``haiku``: ``(forward_fn, *example_inputs)``, the module built and called inside
      ``forward_fn`` (:func:`verify.layers.haiku_layers.build`);
    * ``keras``: the layer, built: ``kwargs["input_shape"]`` (a shape, or a list of shapes
      for ``MultiHeadAttention``: query, value[, key]) with a batch axis, or a default
      per layer type (:data:`verify.layers.keras_layers.DEFAULT_INPUT_SHAPES`);
    * ``tinygrad``: the layer, built on the CPU device (``nn.Conv1d`` and
      ``nn.ConvTranspose1d``, functions, return a ``Conv2d`` / ``ConvTranspose2d``);
    * ``nnx``: a function ``fn(rngs)`` that builds the module;
    * ``linen``: ``(module, *example_inputs)``, the inputs from ``kwargs["input_shape"]``
      or a default per layer type;
    * ``tf_keras``: as ``keras``, with
      :data:`verify.layers.tf_keras_layers.DEFAULT_INPUT_SHAPES`.

    A layer argument (a recurrent layer's cell, the layer ``Bidirectional`` wraps, the
    encoder layer of ``nn.TransformerEncoder``) is written ``{"layer": NAME, "kwargs":
    {...}}`` and built first, so that ``kwargs`` stay JSON (an audit's replay line).
    :data:`verify.layers.examples.EXAMPLES` has arguments for every registered type.

    A name not in the registry or ``kwargs`` the layer refuses raise ``ValueError``.
    """
    if api == "arrays":
        raise ValueError("api 'arrays' has no layers to build: pass a mapping of arrays")
    return _module(api).build(name, dict(kwargs))
