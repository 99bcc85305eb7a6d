"""Small starting configs for the architectures of the built-in specs.

Each is a set of overrides on its config class's defaults (transformers v5): 2 layers
(per stack, for encoder-decoders), width 64, 4 heads, feed-forward width 128, a
vocabulary of 1000 and 128 positions; vision models see 32x32 images in 4x4 patches;
Whisper sees 16 mel bins and 64 frames. Token ids the defaults place beyond the small
vocabulary (GPT-2's 50256, Whisper's 50256/50257, CLIP's 49406/49407) are moved inside
it. Each model builds in a few tens of milliseconds (0.003 to 0.1 s measured), after the
one-time cost of importing transformers and its modeling code (about 2 s each).

Field names follow each config class (``n_layer``, ``num_hidden_layers``,
``num_layers``, ``encoder_layers``/``decoder_layers``, ``n_layers``, ...).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

_TEXT = {"num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 4,
         "intermediate_size": 128, "vocab_size": 1000, "max_position_embeddings": 128}
_DECODER_ONLY = {**_TEXT, "num_key_value_heads": 2}
_SEQ2SEQ = {"encoder_layers": 2, "decoder_layers": 2, "d_model": 64,
            "encoder_attention_heads": 4, "decoder_attention_heads": 4,
            "encoder_ffn_dim": 128, "decoder_ffn_dim": 128, "vocab_size": 1000}
_VISION = {"num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 4,
           "intermediate_size": 128, "image_size": 32, "patch_size": 4}

STARTING_CONFIGS: dict[str, tuple[str, dict[str, Any]]] = {
    "GPT2Model": ("GPT2Config", {
        "n_layer": 2, "n_embd": 64, "n_head": 4, "n_inner": 128, "vocab_size": 1000,
        "n_positions": 128, "bos_token_id": 999, "eos_token_id": 999}),
    "OpenAIGPTModel": ("OpenAIGPTConfig", {
        "n_layer": 2, "n_embd": 64, "n_head": 4, "vocab_size": 1000, "n_positions": 128}),
    "BertModel": ("BertConfig", dict(_TEXT)),
    # RoBERTa's positions start after the padding index (1): 128 + 2 rows, as 512 + 2
    "RobertaModel": ("RobertaConfig", {**_TEXT, "max_position_embeddings": 130}),
    "DistilBertModel": ("DistilBertConfig", {
        "n_layers": 2, "dim": 64, "n_heads": 4, "hidden_dim": 128, "vocab_size": 1000,
        "max_position_embeddings": 128}),
    "LlamaModel": ("LlamaConfig", {**_DECODER_ONLY, "head_dim": 16}),
    "MistralModel": ("MistralConfig", {**_DECODER_ONLY, "head_dim": 16}),
    "Qwen2Model": ("Qwen2Config", {**_DECODER_ONLY, "max_window_layers": 2}),
    "GPTNeoModel": ("GPTNeoConfig", {
        "num_layers": 2, "hidden_size": 64, "num_heads": 4, "intermediate_size": 128,
        "vocab_size": 1000, "max_position_embeddings": 128,
        "attention_types": [[["global", "local"], 1]], "window_size": 16,
        "bos_token_id": 999, "eos_token_id": 999}),
    "OPTModel": ("OPTConfig", {
        "num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 4, "ffn_dim": 128,
        "vocab_size": 1000, "max_position_embeddings": 128, "word_embed_proj_dim": 64}),
    "T5Model": ("T5Config", {
        "num_layers": 2, "num_decoder_layers": 2, "d_model": 64, "d_kv": 16, "num_heads": 4,
        "d_ff": 128, "vocab_size": 1000}),
    "BartModel": ("BartConfig", {**_SEQ2SEQ, "max_position_embeddings": 128}),
    "WhisperModel": ("WhisperConfig", {
        **_SEQ2SEQ, "num_mel_bins": 16, "max_source_positions": 64, "max_target_positions": 64,
        "pad_token_id": 999, "bos_token_id": 998, "eos_token_id": 998,
        "decoder_start_token_id": 997, "begin_suppress_tokens": None}),
    "ViTModel": ("ViTConfig", {**_VISION, "pooler_output_size": 64}),
    "CLIPModel": ("CLIPConfig", {
        "projection_dim": 64,
        "text_config": {**_TEXT, "max_position_embeddings": 77, "projection_dim": 64,
                        "bos_token_id": 998, "eos_token_id": 999},
        "vision_config": {**_VISION, "projection_dim": 64}}),
}


def _known(model_class: str) -> tuple[str, dict[str, Any]]:
    if model_class not in STARTING_CONFIGS:
        raise ValueError(f"no starting config for {model_class!r}: use one of "
                         f"{', '.join(sorted(STARTING_CONFIGS))}")
    return STARTING_CONFIGS[model_class]


def starting_config(model_class: str) -> dict[str, Any]:
    """The overrides, on the defaults of the model's config class, of its small config."""
    return copy.deepcopy(_known(model_class)[1])


def config_class_name(model_class: str) -> str:
    """The transformers config class of ``model_class``, e.g. ``GPT2Config``."""
    return _known(model_class)[0]


def _merged(base: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` updated by ``overrides``, nested configs (dicts) merged key by key."""
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merged(dict(merged[key]), value)
        else:
            merged[key] = value
    return merged


def build_starting_model(model_class: str, *, seed: int = 0,
                         overrides: Mapping[str, Any] | None = None) -> Any:
    """``model_class`` built from its starting config (with ``overrides`` merged in, nested
    configs key by key) after seeding ``torch.default_generator`` with ``seed``.

    Needs torch and transformers.
    """
    import torch
    import transformers

    config_class = getattr(transformers, config_class_name(model_class))
    config = config_class(**_merged(starting_config(model_class), overrides or {}))
    torch.default_generator.manual_seed(seed)
    return getattr(transformers, model_class)(config)


def config_fields(config: Any) -> dict[str, Any]:
    """A transformers config as the mapping that spec expressions read.

    ``config.to_dict()``, plus the aliases of the class's ``attribute_map``
    (``num_hidden_layers`` for GPT-2's ``n_layer``), with nested configs
    (``text_config``, ``vision_config``) as mappings of the same kind.
    """
    fields = config.to_dict()
    for alias, target in getattr(config, "attribute_map", {}).items():
        if target in fields:
            fields.setdefault(alias, fields[target])
    for key in list(fields):
        try:
            value = getattr(config, key, None)
        except Exception:  # a per-layer attribute read globally (Gemma 4's head_dim)
            value = None
        if hasattr(value, "to_dict") and hasattr(value, "attribute_map"):
            fields[key] = config_fields(value)
    return fields
