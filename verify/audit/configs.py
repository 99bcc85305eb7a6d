"""Hypothesis strategies over model configs: public, so a model library can run the audit's
property in its own tests.

:func:`config_overrides` draws the fields a small transformer's config has, around its
starting config: 1 to 6 layers, 1 to 4 heads of 8 or 16 dimensions (the width is
heads x head size), key-value heads dividing the heads, feed-forward widths, a small
vocabulary, and ``initializer_range`` (or ``init_std``) log-uniform in [1e-3, 1],
``initializer_factor`` in [0.1, 4]. Sub-configs (``text_config``, ``vision_config``)
get the same sizes. Hypothesis shrinks towards one layer, one head, the smallest sizes
and a round ``initializer_range``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hypothesis import strategies as st

LAYERS = ("n_layer", "num_hidden_layers", "num_layers", "encoder_layers", "decoder_layers",
          "num_decoder_layers", "n_layers")
HEADS = ("n_head", "num_attention_heads", "num_heads", "encoder_attention_heads",
         "decoder_attention_heads", "n_heads")
WIDTH = ("n_embd", "hidden_size", "d_model")
HEAD_SIZE = ("head_dim", "d_kv")
KV_HEADS = ("num_key_value_heads",)
FEED_FORWARD = ("intermediate_size", "n_inner", "d_ff", "ffn_dim", "encoder_ffn_dim",
                "decoder_ffn_dim")
VOCABULARY = ("vocab_size",)
INIT_RANGE = ("initializer_range", "init_std")
INIT_FACTOR = ("initializer_factor",)


@st.composite
def sizes(draw) -> dict[str, Any]:
    """Canonical sizes: layers, heads, head size, key-value heads, feed-forward, vocabulary,
    initializer range and factor."""
    heads = draw(st.sampled_from((1, 2, 4)))
    head_size = draw(st.sampled_from((8, 16)))
    return {
        "layers": draw(st.integers(1, 6)),
        "heads": heads,
        "head_size": head_size,
        "kv_heads": draw(st.sampled_from([d for d in (1, 2, 4) if heads % d == 0])),
        "feed_forward": draw(st.sampled_from((32, 64, 128))),
        "vocabulary": draw(st.sampled_from((64, 256, 1000))),
        "init_range": draw(st.sampled_from((0.02, 0.001, 0.2, 1.0))
                           | st.floats(-3, 0).map(lambda e: round(10**e, 6))),
        "init_factor": draw(st.sampled_from((1.0, 0.1, 4.0)) | st.floats(0.1, 4.0)),
    }


def apply_sizes(fields: Mapping[str, Any], drawn: Mapping[str, Any]) -> dict[str, Any]:
    """The overrides that set ``drawn``'s sizes on the fields ``fields`` (a config's
    ``to_dict``) has, recursively in sub-configs."""
    overrides: dict[str, Any] = {}

    def put(names, value):
        for name in names:
            if isinstance(fields.get(name), int | float) and not isinstance(fields.get(name),
                                                                              bool):
                overrides[name] = value

    put(LAYERS, drawn["layers"])
    put(HEADS, drawn["heads"])
    put(WIDTH, drawn["heads"] * drawn["head_size"])
    put(HEAD_SIZE, drawn["head_size"])
    put(KV_HEADS, drawn["kv_heads"])
    put(FEED_FORWARD, drawn["feed_forward"])
    put(VOCABULARY, drawn["vocabulary"])
    put(INIT_RANGE, drawn["init_range"])
    put(INIT_FACTOR, drawn["init_factor"])
    vocabulary = overrides.get("vocab_size")
    if vocabulary is not None:
        for name, value in fields.items():
            if name.endswith("token_id") and isinstance(value, int) and value >= vocabulary:
                overrides[name] = vocabulary - 1
    for name, value in fields.items():
        if name.endswith("_config") and isinstance(value, dict):
            inner = apply_sizes(value, drawn)
            if inner:
                overrides[name] = inner
    return overrides


def config_overrides(fields: Mapping[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Overrides of a config whose fields are ``fields`` (its ``to_dict()``)."""
    return sizes().map(lambda drawn: apply_sizes(fields, drawn))


def transformers_configs(model_class: str) -> st.SearchStrategy[dict[str, Any]]:
    """Config overrides for ``transformers.<model_class>``, around its starting config."""
    from verify.audit import hf

    return config_overrides(hf.make_config(model_class).to_dict())
