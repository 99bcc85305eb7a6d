"""``transformers:<ModelClass>``: Hugging Face models built from their config class, offline.

Nothing is downloaded. The **starting config** is the config class's defaults with a
small model's sizes written over them wherever the class has the field (and in its
sub-configs, e.g. CLIP's ``text_config`` and ``vision_config``):

==================================================  =======
fields                                              value
==================================================  =======
layers (``n_layer``, ``num_hidden_layers``, ...)     2
width (``n_embd``, ``hidden_size``, ``d_model``)     64
heads (``n_head``, ``num_attention_heads``, ...)     4
key-value heads (``num_key_value_heads``)            2
feed-forward (``intermediate_size``, ``d_ff``, ...)  128
vocabulary (``vocab_size``)                          1000
positions (``n_positions``, ...)                    128
images (``image_size``, ``patch_size``)              32, 8
==================================================  =======

Token ids past the small vocabulary (``bos_token_id`` ...) are moved inside it. A
built-in spec may state its own starting config (:mod:`verify.audit.specs`).
``--config`` then overrides fields; a field the config class does not have is bad
usage.
"""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Mapping
from typing import Any

import numpy as np

from verify.adapters import require
from verify.audit.builders import Builder, BuildError, _replay, seeded

SMALL: dict[tuple[str, ...], int] = {
    ("n_layer", "num_hidden_layers", "num_layers", "encoder_layers", "decoder_layers",
     "num_decoder_layers", "n_layers"): 2,
    ("n_embd", "hidden_size", "d_model", "dim", "embed_dim"): 64,
    ("n_head", "num_attention_heads", "num_heads", "encoder_attention_heads",
     "decoder_attention_heads", "n_heads"): 4,
    ("num_key_value_heads",): 2,
    ("intermediate_size", "n_inner", "d_ff", "ffn_dim", "encoder_ffn_dim", "decoder_ffn_dim",
     "hidden_dim"): 128,
    ("vocab_size",): 1000,
    ("n_positions", "max_position_embeddings", "max_source_positions",
     "max_target_positions"): 128,
    ("image_size",): 32,
    ("patch_size",): 8,
    ("head_dim", "d_kv"): 16,
}
"""The starting config's sizes, by field name."""


def quiet():
    """transformers, its warnings and progress bars off: they would interleave with the
    audit's own output."""
    transformers = require("transformers")
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    return transformers


def model_class(name: str):
    """The transformers model class called ``name`` (BuildError if there is none)."""
    transformers = quiet()
    try:
        cls = getattr(transformers, name)
    except (AttributeError, ImportError, RuntimeError):
        cls = None
    if cls is None or not isinstance(cls, type) or not hasattr(cls, "config_class") \
            or cls.config_class is None:
        raise BuildError(f"transformers has no model class {name!r}: give one such as "
                         "transformers:GPT2Model")
    return cls


def _shrink(fields: dict) -> dict:
    """``fields`` (a config's ``to_dict``) with :data:`SMALL` written over, recursively."""
    small = dict(fields)
    for names, value in SMALL.items():
        for name in names:
            if isinstance(small.get(name), int) and not isinstance(small.get(name), bool):
                small[name] = value
    vocab = small.get("vocab_size")
    if isinstance(vocab, int):
        for name, value in fields.items():
            if name.endswith("token_id") and isinstance(value, int) and value >= vocab:
                small[name] = vocab - 1
    for name, value in fields.items():
        if name.endswith("_config") and isinstance(value, dict):
            small[name] = _shrink(value)
    return small


def starting_config(name: str) -> dict:
    """The documented small config of :data:`SMALL` (or the built-in spec's own), as the
    fields that differ from the config class's defaults."""
    from verify.audit.specs import STARTING_CONFIGS
    from verify.audit.specs import starting_config as spec_start

    if name in STARTING_CONFIGS:
        return spec_start(name)
    cls = model_class(name)
    defaults = cls.config_class().to_dict()
    small = _shrink(defaults)
    return {key: value for key, value in small.items() if defaults.get(key) != value}


def _merge(base: dict, overrides: Mapping, where: str = "") -> dict:
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        if key not in merged:
            raise BuildError(f"the config has no field {where}{key!r}: see the config "
                             "class's documentation for its fields")
        if isinstance(merged[key], dict) and isinstance(value, Mapping):
            merged[key] = _merge(merged[key], value, f"{where}{key}.")
        else:
            merged[key] = value
    return merged


def make_config(name: str, overrides: Mapping[str, Any] | None = None):
    """The config object: the class's defaults, the starting config, then ``overrides``
    (fields the config class lacks are bad usage), built by the config class itself so
    that fields derived from others (per-layer type lists) follow the small sizes."""
    cls = model_class(name)
    defaults = cls.config_class().to_dict()
    attribute_map = getattr(cls.config_class, "attribute_map", {}) or {}
    known = {**defaults, **{alias: defaults.get(target) for alias, target
                            in attribute_map.items()}}
    _merge(known, overrides or {})  # raises for a field the class does not have
    fields = _merge_free(starting_config(name), overrides or {})
    try:
        return cls.config_class(**fields)
    except Exception as error:
        raise BuildError(f"{cls.config_class.__name__} rejects the config: "
                         f"{str(error).strip().splitlines()[0]}") from None


def _merge_free(base: Mapping, overrides: Mapping) -> dict:
    """``base`` with ``overrides`` over it, nested dicts key by key."""
    merged = copy.deepcopy(dict(base))
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge_free(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def builder(name: str, *, config: Mapping[str, Any], kwargs: Mapping[str, Any],
            timeout: float) -> Builder:
    if kwargs:
        raise BuildError("transformers: targets take their config with --config, not --kwargs")
    cls = model_class(name)
    config_object = make_config(name, config)

    def build():
        return cls(copy.deepcopy(config_object))

    from verify.audit.specs import config_fields

    return Builder(target=f"transformers:{name}", api="torch",
                   make=seeded("torch", build, {}), config=config_fields(config_object),
                   kwargs={}, model_class=name, timeout=timeout,
                   replay=_replay(f"transformers:{name}", None, {}, dict(config)))


def reload(model) -> dict[str, np.ndarray]:
    """Every tensor of ``model`` after ``save_pretrained`` and ``from_pretrained`` on a
    temporary directory: the library's own loading path, offline."""
    quiet()
    with tempfile.TemporaryDirectory(prefix="verify-audit-") as directory:
        model.save_pretrained(directory)
        loaded = type(model).from_pretrained(directory)
    return {name: value.detach().cpu().float().numpy() if value.is_floating_point()
            else value.detach().cpu().numpy()
            for name, value in [*loaded.named_parameters(remove_duplicate=False),
                                *loaded.named_buffers(remove_duplicate=False)]}
