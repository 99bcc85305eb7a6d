"""``transformers:<ModelClass>``: Hugging Face models built from their config class, offline.

Nothing is downloaded. The **starting config** is the config class's defaults with a
small model's sizes written over them wherever the class has the field (and in its
sub-configs, e.g. CLIP's ``text_config`` and ``vision_config``), each size an upper bound
(a smaller default stays):

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
experts (``num_experts``, ...), active experts       4, 2
==================================================  =======

What depends on these follows them: per-layer lists and per-layer settings keep their
first layers, per-stage block counts (``depths``) become one block a stage, per-stage
widths (``hidden_sizes``) are halved together, key-value heads stay equal to the heads
where they were, fields that repeat another config's width (``out_hidden_size``) take
the new width, and token ids past the small vocabulary (``bos_token_id`` ...) move
inside it. Where the config class or the model refuses that config, two larger ones are
tried (the widths and images left at their defaults; then only the layer counts small),
each built first on PyTorch's meta device under the cap of entries; a model none of them
builds is not buildable, with the reason (:func:`starting_config`). A built-in spec may
state its own starting config (:mod:`verify.audit.specs`). ``--config`` then overrides
fields; a field the config class does not have is bad usage.
"""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Mapping
from typing import Any

import numpy as np

from verify.adapters import require
from verify.audit.builders import Builder, BuildError, _replay, seeded

LAYERS = ("n_layer", "num_hidden_layers", "num_layers", "encoder_layers", "decoder_layers",
          "num_decoder_layers", "n_layers")
WIDTHS = ("n_embd", "hidden_size", "d_model", "dim", "embed_dim", "emb_dim", "d_latents")
SMALL: dict[str, dict[tuple[str, ...], int]] = {
    "layers": {LAYERS: 2},
    "tokens": {
        ("vocab_size", "entity_vocab_size"): 1000,
        ("n_positions", "max_position_embeddings", "max_source_positions",
         "max_target_positions"): 128,
    },
    "widths": {
        WIDTHS: 64,
        ("n_head", "num_attention_heads", "num_heads", "encoder_attention_heads",
         "decoder_attention_heads", "n_heads"): 4,
        ("num_key_value_heads",): 2,
        ("intermediate_size", "n_inner", "d_ff", "ffn_dim", "encoder_ffn_dim",
         "decoder_ffn_dim", "hidden_dim", "moe_intermediate_size",
         "shared_expert_intermediate_size", "ffn_hidden_size", "expert_intermediate_size"): 128,
        ("image_size",): 32,
        ("patch_size",): 8,
        ("head_dim", "d_kv"): 16,
        ("num_experts", "num_local_experts", "n_routed_experts", "moe_num_experts"): 4,
        ("num_experts_per_tok", "moe_top_k"): 2,
        ("n_group", "topk_group"): 1,
        ("kv_lora_rank", "q_lora_rank"): 32,
    },
}
"""The starting config's sizes, by what they size and by field name: each an upper bound
(a default below it stays)."""
REQUIRED = {"prediction_length": 8}
"""Fields a config class leaves unset that its model needs (the time-series models)."""
DEPTH_LISTS = ("depths", "depth", "num_block_repeats")
"""Per-stage block counts (hierarchical vision models): one block per stage."""
WIDTH_LISTS = ("hidden_sizes", "embed_dim", "embed_dims", "neck_hidden_sizes", "hidden_dims")
"""Per-stage widths: halved together while every width stays a multiple of 32 and the
widest above 64 (so that head counts and group norms still divide them)."""
SIZES = ("layers", "tokens", "widths")
STAGES = (SIZES, ("layers", "tokens"), ("layers",))
"""The starting configs tried in turn (:func:`starting_config`): everything small; the
widths and images left at their defaults; only the layer counts small."""


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
        has_config = isinstance(cls, type) and getattr(cls, "config_class", None) is not None
    except ImportError as error:  # a placeholder class whose backend is not installed
        raise BuildError(f"transformers:{name} cannot be built here: "
                         f"{_first_line(error)}") from None
    except (AttributeError, RuntimeError):
        cls, has_config = None, False
    if cls is None or not has_config:
        raise BuildError(f"transformers has no model class {name!r}: give one such as "
                         "transformers:GPT2Model")
    return cls


def _is_size(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _halved(widths: list[int]) -> list[int]:
    divisor = 1
    while all(w % (2 * divisor) == 0 and w // (2 * divisor) >= 32 for w in widths) \
            and max(widths) // (2 * divisor) >= 64:
        divisor *= 2
    return [w // divisor for w in widths]


def _shrink(fields: dict, sizes: tuple[str, ...] = SIZES) -> dict:
    """``fields`` (a config's ``to_dict``) with the bounds of :data:`SMALL` for ``sizes``
    written over, recursively into sub-configs. Per-layer lists follow the layer count; a
    backbone's stage names are left for the config to derive again."""
    small = dict(fields)
    stages = len(fields["depths"]) if isinstance(fields.get("depths"), list) else None
    for group in sizes:
        for names, bound in SMALL[group].items():
            for name in names:
                if names is LAYERS and fields.get(name) == stages:
                    continue  # a count of stages (Swin's num_layers): each gets one block
                if _is_size(small.get(name)) and small[name] > bound:
                    small[name] = bound
    heads, kv_heads = small.get("num_attention_heads"), "num_key_value_heads"
    if _is_size(heads) and fields.get(kv_heads) == fields.get("num_attention_heads"):
        small[kv_heads] = heads  # multi-head attention stays multi-head
    if "layers" in sizes:
        _shrink_depths(fields, small)
    if "widths" in sizes:
        for name in WIDTH_LISTS:
            value = small.get(name)
            if isinstance(value, list) and value and all(map(_is_size, value)) \
                    and min(value) > 0:
                small[name] = _halved(value)
    for name, value in fields.items():
        if _sub_config(name, value):
            small[name] = _shrink(value, sizes)
    vocab = small.get("vocab_size")
    if not _is_size(vocab):  # a composite model's special tokens: its text model's
        vocab = next((sub["vocab_size"] for name, sub in small.items()
                      if _sub_config(name, sub) and _is_size(sub.get("vocab_size"))), None)
    if _is_size(vocab):  # token ids past the small vocabulary move inside it
        for name, value in fields.items():
            if not name.endswith(("token_id", "token_index", "token_ids")):
                continue
            if _is_size(value) and value >= vocab:
                small[name] = vocab - 1
            elif isinstance(value, list) and value and all(map(_is_size, value)) \
                    and max(value) >= vocab:
                small[name] = [min(v, vocab - 1) for v in value]
    for name, value in REQUIRED.items():
        if name in fields and fields[name] is None:
            small[name] = value
    return small


def _sub_config(name: str, value) -> bool:
    """Is this field a sub-config (``text_config``, or T5Gemma's ``encoder``)?"""
    return isinstance(value, dict) and (name.endswith("_config") or "model_type" in value)


def _widths(fields: dict, small: dict, found: dict[int, int]) -> dict[int, int]:
    """Each width the shrinking changed, old to new, over a config and its sub-configs."""
    for name in WIDTHS:
        before, after = fields.get(name), small.get(name)
        if _is_size(before) and _is_size(after) and before != after:
            found.setdefault(before, after)
    for name, value in fields.items():
        if _sub_config(name, value) and isinstance(small.get(name), dict):
            _widths(value, small[name], found)
    return found


def _echo_widths(fields: dict, small: dict, widths: dict[int, int]) -> None:
    """Fields that repeat another config's width (``out_hidden_size``, ``text_hidden_size``,
    ``projection_dim``: one tower's output is the other's input) follow it."""
    for name, value in fields.items():
        if isinstance(value, dict) and isinstance(small.get(name), dict):
            _echo_widths(value, small[name], widths)
        elif _is_size(value) and small.get(name) == value and value in widths \
                and name.endswith(("hidden_size", "_dim", "_size")) \
                and not name.startswith(("vocab", "image", "patch", "max_")):
            small[name] = widths[value]


def _shrink_depths(fields: dict, small: dict) -> None:
    for name in DEPTH_LISTS:
        if isinstance(small.get(name), list) and all(map(_is_size, small[name])):
            small[name] = [min(1, v) for v in small[name]]
    for name in LAYERS:
        before, after = fields.get(name), small.get(name)
        if not (_is_size(before) and _is_size(after)) or before == after:
            continue
        for key, value in fields.items():  # per-layer lists: the first layers
            if isinstance(value, list) and len(value) == before and key not in BACKBONE:
                small[key] = small[key][:after]
            elif isinstance(value, dict) and value and all(
                    str(k).isdigit() for k in value):  # per-layer settings, by index
                small[key] = {k: v for k, v in value.items() if int(k) < after}
        if isinstance(fields.get("stage_names"), list) \
                and len(fields["stage_names"]) == before + 1:  # one stage per layer
            for key in BACKBONE:
                small.pop(key, None)


BACKBONE = ("stage_names", "out_features", "out_indices")


def _differs(defaults: dict, small: dict) -> dict:
    """The fields of ``small`` that differ from ``defaults`` (a sub-config whole, so
    that its class is chosen by its ``model_type``)."""
    return {key: value for key, value in small.items()
            if key not in defaults or defaults[key] != value}


_STARTS: dict[str, tuple[dict, str]] = {}


def starting_config(name: str, *, timeout: float = 60.0) -> dict:
    """The documented small config of :data:`SMALL` (or the built-in spec's own), as the
    fields that differ from the config class's defaults.

    The first of three configs that the config class accepts and that builds (on
    PyTorch's ``meta`` device: no memory, no time) under the cap of
    :data:`~verify.audit.builders.MAX_PARAMETERS` entries: everything small; the widths
    and images left at their defaults; only the layer counts small. :class:`BuildError`
    with the reason when none does."""
    from verify.audit.specs import STARTING_CONFIGS
    from verify.audit.specs import starting_config as spec_start

    if name in STARTING_CONFIGS:
        return spec_start(name)
    if name not in _STARTS:
        _STARTS[name] = _first_that_builds(name, timeout)
    fields, error = _STARTS[name]
    if error:
        raise BuildError(error)
    return copy.deepcopy(fields)


def _first_that_builds(name: str, timeout: float) -> tuple[dict, str]:
    from verify.audit.builders import MAX_PARAMETERS, _time_limit

    cls = model_class(name)
    try:
        defaults = cls.config_class().to_dict()
    except Exception as error:
        return {}, f"{cls.config_class.__name__}() raises {_first_line(error)}"
    reasons = []
    for sizes in STAGES:
        small = _shrink(defaults, sizes)
        _echo_widths(defaults, small, _widths(defaults, small, {}))
        fields = _differs(defaults, small)
        try:
            with _time_limit(timeout, f"transformers:{name}"):
                config = cls.config_class(**copy.deepcopy(fields))
                entries = _entries(cls, config)
        except BuildError as error:
            reasons.append(str(error))
            continue
        except Exception as error:
            reasons.append(_first_line(error))
            continue
        if entries > MAX_PARAMETERS:
            reasons.append(f"{entries:,} entries per build, above the cap of "
                           f"{MAX_PARAMETERS:,}")
            continue
        return fields, ""
    unique = list(dict.fromkeys(reasons))
    reason = (f"transformers:{name} does not build from a small config: {unique[0]}"
              + (f" (with larger widths: {'; '.join(unique[1:])})" if unique[1:] else ""))
    try:
        with _time_limit(timeout, f"transformers:{name}"):
            _entries(cls, cls.config_class(), meta_only=True)
    except Exception as error:
        default = _first_line(error)
        reason += ("; its default config fails the same way" if default == reasons[0]
                   else f"; its default config fails too: {default}")
    return {}, reason


def _entries(cls, config, *, meta_only: bool = False) -> int:
    """The entries of a model's parameters and buffers, built on the ``meta`` device; on
    the CPU when the error is the meta device's own (``Tensor.item()`` on a meta tensor,
    as in a drop-path schedule), unless ``meta_only``."""
    import torch

    try:
        with torch.device("meta"):
            model = cls(copy.deepcopy(config))
    except Exception as error:
        if meta_only or "meta" not in str(error):
            raise
        model = cls(copy.deepcopy(config))
    return sum(t.numel() for t in [*model.parameters(), *model.buffers()])


def _first_line(error: BaseException) -> str:
    """An exception as one line: its type and the first line that says something (a
    pydantic-style validation error puts the reason on its second line)."""
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    text = lines[0] if lines else ""
    if text.endswith(":") and len(lines) > 1:
        text = f"{text} {lines[1]}"
    return f"{type(error).__name__}" + (f": {text}" if text else "")


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
