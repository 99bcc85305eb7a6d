"""Constructor arguments for every registered layer type: what the report audits.

:data:`EXAMPLES` maps an api and a layer's catalog name (as :func:`verify.layers.build_layer`
takes it, and as an audit target after ``api:``, e.g. ``torch:nn.Conv2d``) to the
keyword arguments it is built with. They are chosen so that the semantic fans differ from
the fans a framework reads off the stored shape wherever they can (fan-in different from
fan-out, groups, strides, ``kdim != embed_dim``, batch axes, einsum equations with
batched axes), and small: each layer's audit takes a few seconds at most.

Every argument is JSON (so an audit's replay line rebuilds the layer): a layer argument
is written ``{"layer": NAME, "kwargs": {...}}``, and a layer that needs an input to exist
(Keras and Linen layers, PyTorch's lazy modules) takes ``input_shape`` with its batch axis.
"""

from __future__ import annotations

import copy
import importlib.util

PREFIXES = {"torch": "torch.", "keras": "keras.", "nnx": "flax.nnx.", "linen": "flax.linen.",
            "mlx": "mlx.", "paddle": "paddle.", "tf_keras": "tf_keras.",
            "tinygrad": "tinygrad.", "equinox": "equinox.", "haiku": "haiku."}
"""What a registered name (``torch.nn.Linear``) has before its catalog name (``nn.Linear``)."""

NEEDS = {("torch", "transformers.pytorch_utils.Conv1D"): "transformers"}
"""Layer types of an api's registry that another package provides."""


def _torch() -> dict[str, dict]:
    conv = {"Conv1d": {"in_channels": 60, "out_channels": 120, "kernel_size": 5, "stride": 2,
                       "groups": 3},
            "Conv2d": {"in_channels": 32, "out_channels": 64, "kernel_size": 3, "stride": 2,
                       "groups": 4},
            "Conv3d": {"in_channels": 8, "out_channels": 16, "kernel_size": 3,
                       "stride": [1, 2, 2], "groups": 2},
            "ConvTranspose1d": {"in_channels": 40, "out_channels": 60, "kernel_size": 4,
                                "stride": 2, "groups": 2},
            "ConvTranspose2d": {"in_channels": 16, "out_channels": 48, "kernel_size": 3,
                                "stride": 3},
            "ConvTranspose3d": {"in_channels": 4, "out_channels": 8, "kernel_size": 2,
                                "stride": 2}}
    lazy_inputs = {"Conv1d": [1, 60, 9], "Conv2d": [1, 32, 5, 5], "Conv3d": [1, 8, 3, 3, 3],
                   "ConvTranspose1d": [1, 40, 3], "ConvTranspose2d": [1, 16, 2, 2],
                   "ConvTranspose3d": [1, 4, 2, 2, 2]}
    statistics = {"affine": True, "track_running_stats": True}
    encoder = {"d_model": 32, "nhead": 4, "dim_feedforward": 64}
    examples: dict[str, dict] = {
        "nn.Linear": {"in_features": 300, "out_features": 70},
        "nn.LazyLinear": {"out_features": 70, "input_shape": [2, 300]},
        "nn.Bilinear": {"in1_features": 20, "in2_features": 30, "out_features": 40},
        "transformers.pytorch_utils.Conv1D": {"nf": 70, "nx": 300},
        **{f"nn.{name}": kwargs for name, kwargs in conv.items()},
        **{f"nn.Lazy{name}": {**{k: v for k, v in kwargs.items() if k != "in_channels"},
                              "input_shape": lazy_inputs[name]}
           for name, kwargs in conv.items()},
        "nn.MultiheadAttention": {"embed_dim": 64, "num_heads": 4, "kdim": 32, "vdim": 48,
                                  "add_bias_kv": True},
        "nn.RNN": {"input_size": 20, "hidden_size": 50, "num_layers": 2},
        "nn.RNNBase": {"mode": "LSTM", "input_size": 20, "hidden_size": 50, "num_layers": 2},
        "nn.LSTM": {"input_size": 20, "hidden_size": 50, "proj_size": 10,
                    "bidirectional": True},
        "nn.GRU": {"input_size": 30, "hidden_size": 40, "num_layers": 2, "bidirectional": True},
        "nn.RNNCell": {"input_size": 20, "hidden_size": 50},
        "nn.LSTMCell": {"input_size": 20, "hidden_size": 50},
        "nn.GRUCell": {"input_size": 30, "hidden_size": 40},
        "nn.Embedding": {"num_embeddings": 1000, "embedding_dim": 32, "padding_idx": 3},
        "nn.EmbeddingBag": {"num_embeddings": 1000, "embedding_dim": 32},
        "nn.LayerNorm": {"normalized_shape": [64]},
        "nn.RMSNorm": {"normalized_shape": [64]},
        "nn.GroupNorm": {"num_groups": 4, "num_channels": 64},
        "nn.SyncBatchNorm": {"num_features": 8},
        "nn.PReLU": {"num_parameters": 5},
        "nn.TransformerEncoderLayer": dict(encoder),
        "nn.TransformerDecoderLayer": dict(encoder),
        "nn.TransformerEncoder": {"encoder_layer": {"layer": "nn.TransformerEncoderLayer",
                                                    "kwargs": dict(encoder)},
                                  "num_layers": 2, "enable_nested_tensor": False},
        "nn.TransformerDecoder": {"decoder_layer": {"layer": "nn.TransformerDecoderLayer",
                                                    "kwargs": dict(encoder)},
                                  "num_layers": 2},
        "nn.Transformer": {"d_model": 32, "nhead": 4, "num_encoder_layers": 1,
                           "num_decoder_layers": 1, "dim_feedforward": 64, "batch_first": True},
        # head (102, 64); the clusters' projections 64 -> 16 -> 300 and 64 -> 4 -> 600
        "nn.AdaptiveLogSoftmaxWithLoss": {"in_features": 64, "n_classes": 1000,
                                          "cutoffs": [100, 400], "div_value": 4.0,
                                          "head_bias": True},
        # linear (100 * 3, 64): a K-dimensional loss's logits
        "nn.LinearCrossEntropyLoss": {"in_features": 64, "num_classes": 100,
                                      "out_features": [3], "bias": True},
    }
    for rank in (1, 2, 3):
        examples[f"nn.BatchNorm{rank}d"] = {"num_features": 8}
        examples[f"nn.InstanceNorm{rank}d"] = {"num_features": 8, **statistics}
        examples[f"nn.LazyBatchNorm{rank}d"] = {"input_shape": [2, 8, *(3,) * rank]}
        examples[f"nn.LazyInstanceNorm{rank}d"] = {**statistics,
                                                   "input_shape": [2, 8, *(3,) * rank]}
    return examples


def _keras() -> dict[str, dict]:
    return {
        "layers.Dense": {"units": 70, "input_shape": [2, 300]},
        # kernel (16, 40, 24) = b, c, d: b is batched (in the input and the output)
        "layers.EinsumDense": {"equation": "abc,bcd->abd", "output_shape": [16, 24],
                               "input_shape": [2, 16, 40]},
        "layers.Conv1D": {"filters": 120, "kernel_size": 5, "strides": 2, "groups": 3,
                          "input_shape": [2, 32, 60]},
        "layers.Conv2D": {"filters": 64, "kernel_size": 3, "strides": 2, "groups": 4,
                          "input_shape": [2, 16, 16, 32]},
        "layers.Conv3D": {"filters": 16, "kernel_size": 3, "strides": [1, 2, 2], "groups": 2,
                          "input_shape": [2, 8, 8, 8, 8]},
        "layers.Conv1DTranspose": {"filters": 60, "kernel_size": 4, "strides": 2,
                                   "input_shape": [2, 16, 40]},
        "layers.Conv2DTranspose": {"filters": 48, "kernel_size": 3, "strides": 3,
                                   "input_shape": [2, 8, 8, 16]},
        "layers.Conv3DTranspose": {"filters": 8, "kernel_size": 2, "strides": 2,
                                   "input_shape": [2, 4, 4, 4, 4]},
        "layers.DepthwiseConv1D": {"kernel_size": 5, "depth_multiplier": 3,
                                   "input_shape": [2, 32, 40]},
        "layers.DepthwiseConv2D": {"kernel_size": 3, "depth_multiplier": 2, "strides": 3,
                                   "input_shape": [2, 16, 16, 32]},
        "layers.SeparableConv1D": {"filters": 24, "kernel_size": 3, "depth_multiplier": 2,
                                   "input_shape": [2, 32, 16]},
        "layers.SeparableConv2D": {"filters": 24, "kernel_size": 3,
                                   "input_shape": [2, 16, 16, 16]},
        "layers.Embedding": {"input_dim": 1000, "output_dim": 32, "input_shape": [2, 5]},
        "layers.LayerNormalization": {"input_shape": [2, 16]},
        "layers.BatchNormalization": {"input_shape": [2, 16]},
        "layers.GroupNormalization": {"groups": 4, "input_shape": [2, 16]},
        "layers.RMSNormalization": {"input_shape": [2, 16]},
        "layers.PReLU": {"input_shape": [2, 16]},
        # small recurrent layers: Keras draws the recurrent kernels orthogonal (a QR per
        # build), which dominates a build's time at larger sizes
        "layers.LSTMCell": {"units": 24, "input_shape": [2, 12]},
        "layers.GRUCell": {"units": 24, "input_shape": [2, 16]},
        "layers.SimpleRNNCell": {"units": 24, "input_shape": [2, 12]},
        "layers.LSTM": {"units": 24, "input_shape": [2, 5, 12]},
        "layers.GRU": {"units": 24, "input_shape": [2, 5, 16]},
        "layers.SimpleRNN": {"units": 24, "input_shape": [2, 5, 12]},
        "layers.RNN": {"cell": {"layer": "layers.LSTMCell", "kwargs": {"units": 24}},
                       "input_shape": [2, 5, 12]},
        "layers.Bidirectional": {"layer": {"layer": "layers.GRU", "kwargs": {"units": 24}},
                                 "input_shape": [2, 5, 16]},
        # query (2, 10, 64), value (2, 10, 32): kernels (64, 4, 16), (32, 4, 16), (4, 16, 64)
        "layers.MultiHeadAttention": {"num_heads": 4, "key_dim": 16,
                                      "input_shape": [[2, 10, 64], [2, 10, 32]]},
        # query kernel (16, 4, 8), key and value kernels (12, 2, 8): two key/value heads
        "layers.GroupQueryAttention": {"head_dim": 8, "num_query_heads": 4,
                                       "num_key_value_heads": 2,
                                       "input_shape": [[2, 5, 16], [2, 5, 12]]},
        # (batch, time, *space, channels); gates stacked on the kernels' last axis
        "layers.ConvLSTM1D": {"filters": 6, "kernel_size": 3, "input_shape": [2, 3, 16, 4]},
        "layers.ConvLSTM2D": {"filters": 6, "kernel_size": 3, "strides": 2,
                              "input_shape": [2, 3, 8, 8, 4]},
        "layers.ConvLSTM3D": {"filters": 4, "kernel_size": 2, "input_shape": [2, 2, 4, 4, 4, 3]},
        "layers.ReversibleEmbedding": {"input_dim": 1000, "output_dim": 32,
                                       "tie_weights": False, "input_shape": [2, 5]},
        "layers.Attention": {"use_scale": True, "score_mode": "concat",
                             "input_shape": [[2, 5, 16], [2, 5, 16]]},
        "layers.AdditiveAttention": {"input_shape": [[2, 5, 16], [2, 5, 16]]},
        "layers.Normalization": {"input_shape": [2, 16]},
        "layers.SpectralNormalization": {"layer": {"layer": "layers.Dense",
                                                   "kwargs": {"units": 70}},
                                         "input_shape": [2, 300]},
        "layers.TimeDistributed": {"layer": {"layer": "layers.Dense", "kwargs": {"units": 70}},
                                   "input_shape": [2, 5, 300]},
        "layers.StackedRNNCells": {"cells": [{"layer": "layers.LSTMCell",
                                              "kwargs": {"units": 24}},
                                             {"layer": "layers.GRUCell",
                                              "kwargs": {"units": 16}}],
                                   "input_shape": [2, 12]},
    }


KERAS_3_ONLY = ("layers.RMSNormalization", "layers.GroupQueryAttention",
                "layers.ReversibleEmbedding", "layers.SpectralNormalization")
"""Keras 3 layers that tf_keras does not have (or, SpectralNormalization, does not
register)."""


def _tf_keras() -> dict[str, dict]:
    """Keras 3's examples for the layers the two share, and tf_keras's own."""
    dense = {"layer": "layers.Dense", "kwargs": {"units": 24}}
    return {
        **{name: kwargs for name, kwargs in _keras().items() if name not in KERAS_3_ONLY},
        "layers.experimental.SyncBatchNormalization": {"input_shape": [2, 16]},
        # kernel (7, 36, 24): 7 output positions, each a (3 * 12 -> 24) map
        "layers.LocallyConnected1D": {"filters": 24, "kernel_size": 3, "strides": 2,
                                      "input_shape": [2, 16, 12]},
        # the masked dense kernel (6, 6, 4, 4, 4, 8)
        "layers.LocallyConnected2D": {"filters": 8, "kernel_size": 3, "implementation": 2,
                                      "input_shape": [2, 6, 6, 4]},
        # 16 filters at least: the audit takes a smaller forget bias (zeros, ones, zeros) for
        # a random draw (its independence test does not reject 32 entries)
        "layers.ConvLSTM1D": {"filters": 16, "kernel_size": 3, "input_shape": [2, 4, 16, 4]},
        "layers.ConvLSTM2D": {"filters": 16, "kernel_size": 3, "strides": 2,
                              "input_shape": [2, 3, 8, 8, 4]},
        "layers.ConvLSTM3D": {"filters": 16, "kernel_size": 2,
                              "input_shape": [2, 2, 4, 4, 4, 2]},
        "tf_keras.src.layers.rnn.base_conv_lstm.ConvLSTMCell": {
            "rank": 2, "filters": 16, "kernel_size": 3, "strides": 2,
            "input_shape": [2, 8, 8, 4]},
        "layers.AdditiveAttention": {"input_shape": [[2, 5, 16], [2, 7, 16]]},
        "layers.Attention": {"use_scale": True, "score_mode": "concat",
                             "input_shape": [[2, 5, 16], [2, 7, 16]]},
        "layers.TimeDistributed": {"layer": dict(dense), "input_shape": [2, 5, 16]},
        "layers.Wrapper": {"layer": dict(dense), "input_shape": [2, 16]},
        "layers.StackedRNNCells": {"cells": [{"layer": "layers.LSTMCell", "kwargs": {"units": 16}},
                                             {"layer": "layers.GRUCell", "kwargs": {"units": 8}}],
                                   "input_shape": [2, 12]},
        "layers.experimental.RandomFourierFeatures": {"output_dim": 64, "input_shape": [2, 32]},
        "layers.Normalization": {"input_shape": [2, 16]},
    }


def _nnx() -> dict[str, dict]:
    norms = {name: {"num_features": 16} for name in ("LayerNorm", "RMSNorm", "BatchNorm",
                                                     "InstanceNorm")}
    return {
        "Linear": {"in_features": 300, "out_features": 70},
        # kernel (6, 16, 4, 8): a batch axis of 6 separate (16 -> 32) maps
        "LinearGeneral": {"in_features": 16, "out_features": [4, 8], "batch_axis": {"0": 6}},
        # kernel (8, 32, 16) = h, a, b: h is batched, a summed, b an output axis
        "Einsum": {"einsum_str": "nta,hab->nthb", "kernel_shape": [8, 32, 16]},
        "Conv": {"in_features": 32, "out_features": 64, "kernel_size": [3, 3], "strides": 2,
                 "feature_group_count": 4},
        "ConvTranspose": {"in_features": 16, "out_features": 48, "kernel_size": [3, 3],
                          "strides": 3},
        "Embed": {"num_embeddings": 1000, "features": 32},
        **norms,
        "GroupNorm": {"num_features": 16, "num_groups": 4},
        "MultiHeadAttention": {"num_heads": 4, "in_features": 64, "qkv_features": 32,
                               "out_features": 48, "decode": False},
        "LSTMCell": {"in_features": 20, "hidden_features": 50},
        "OptimizedLSTMCell": {"in_features": 20, "hidden_features": 50},
        "GRUCell": {"in_features": 30, "hidden_features": 40},
        "SimpleCell": {"in_features": 20, "hidden_features": 50},
        "RNN": {"cell": {"layer": "LSTMCell", "kwargs": {"in_features": 20,
                                                         "hidden_features": 50}}},
        "Bidirectional": {"forward_rnn": {"layer": "RNN", "kwargs": {"cell": {
            "layer": "GRUCell", "kwargs": {"in_features": 30, "hidden_features": 40}}}},
                          "backward_rnn": {"layer": "RNN", "kwargs": {"cell": {
                              "layer": "GRUCell", "kwargs": {"in_features": 30,
                                                             "hidden_features": 40}}}}},
        "PReLU": {},
        # lora_a (300, 8): he_uniform with fan_in 300; lora_b (8, 70) zeros
        "LoRA": {"in_features": 300, "lora_rank": 8, "out_features": 70},
        "LoRALinear": {"in_features": 300, "out_features": 70, "lora_rank": 8},
        "SpectralNorm": {"layer_instance": {"layer": "Linear", "kwargs": {
            "in_features": 300, "out_features": 70}}},
        "WeightNorm": {"layer_instance": {"layer": "Linear", "kwargs": {
            "in_features": 300, "out_features": 70}}},
    }


def _linen() -> dict[str, dict]:
    norm_input = [2, 3, 16]
    attention = {"num_heads": 4, "qkv_features": 32, "out_features": 48,
                 "input_shape": [2, 5, 64]}
    return {
        "Dense": {"features": 70, "input_shape": [2, 300]},
        # kernel (6, 16, 4, 8): the input's axis 0 is a batch of 6 separate maps
        "DenseGeneral": {"features": [4, 8], "batch_dims": [0], "input_shape": [6, 16]},
        "Einsum": {"shape": [8, 32, 16], "einsum_str": "nta,hab->nthb",
                   "input_shape": [2, 5, 32]},
        "Conv": {"features": 64, "kernel_size": [3, 3], "strides": 2,
                 "feature_group_count": 4, "input_shape": [1, 8, 8, 32]},
        "ConvTranspose": {"features": 48, "kernel_size": [3, 3], "strides": [3, 3],
                          "input_shape": [1, 4, 4, 16]},
        "Embed": {"num_embeddings": 1000, "features": 32, "input_shape": [2, 5]},
        "LayerNorm": {"input_shape": norm_input},
        "RMSNorm": {"input_shape": norm_input},
        "BatchNorm": {"use_running_average": False, "input_shape": norm_input},
        "GroupNorm": {"num_groups": 4, "input_shape": norm_input},
        "InstanceNorm": {"input_shape": norm_input},
        "MultiHeadDotProductAttention": dict(attention),
        "MultiHeadAttention": dict(attention),
        "LSTMCell": {"features": 50, "input_shape": [2, 20]},
        "OptimizedLSTMCell": {"features": 50, "input_shape": [2, 20]},
        "GRUCell": {"features": 40, "input_shape": [2, 30]},
        "SimpleCell": {"features": 50, "input_shape": [2, 20]},
        "MGUCell": {"features": 50, "input_shape": [2, 20]},
        "recurrent.DenseParams": {"features": 70, "input_shape": [2, 300]},
        "RNN": {"cell": {"layer": "LSTMCell", "kwargs": {"features": 50}},
                "input_shape": [2, 5, 20]},
        "Bidirectional": {"forward_rnn": {"layer": "RNN", "kwargs": {
            "cell": {"layer": "GRUCell", "kwargs": {"features": 40}}}},
                          "backward_rnn": {"layer": "RNN", "kwargs": {
                              "cell": {"layer": "GRUCell", "kwargs": {"features": 40}}}},
                          "input_shape": [2, 5, 30]},
        "SelfAttention": dict(attention),
        # 4 x 4 output positions, each with its own (3 * 3 * 4, 6) kernel
        "ConvLocal": {"features": 6, "kernel_size": [3, 3], "strides": 2,
                      "input_shape": [1, 8, 8, 4]},
        "ConvLSTMCell": {"features": 6, "kernel_size": [3, 3], "input_shape": [2, 5, 5, 4]},
        "PReLU": {"input_shape": [2, 8]},
        "WeightNorm": {"layer_instance": {"layer": "Dense", "kwargs": {"features": 70}},
                       "input_shape": [2, 300]},
    }


def _mlx() -> dict[str, dict]:
    norm = {"dims": 16}
    transformer = {"dims": 32, "num_heads": 4, "mlp_dims": 64}
    return {
        "nn.Linear": {"input_dims": 300, "output_dims": 70},
        # shards of a 300 -> 70 map (a group of one member unless MLX runs distributed)
        "nn.AllToShardedLinear": {"input_dims": 300, "output_dims": 70},
        "nn.ShardedToAllLinear": {"input_dims": 300, "output_dims": 70},
        # float while training; 320 inputs: whole quantization groups for eval()
        "nn.QQLinear": {"input_dims": 320, "output_dims": 70},
        "nn.Bilinear": {"input1_dims": 20, "input2_dims": 30, "output_dims": 40},
        "nn.Conv1d": {"in_channels": 60, "out_channels": 120, "kernel_size": 5, "stride": 2,
                      "groups": 3},
        "nn.Conv2d": {"in_channels": 32, "out_channels": 64, "kernel_size": 3, "stride": 2,
                      "groups": 4},
        "nn.Conv3d": {"in_channels": 8, "out_channels": 16, "kernel_size": 3,
                      "stride": [1, 2, 2]},
        "nn.ConvTranspose1d": {"in_channels": 40, "out_channels": 60, "kernel_size": 4,
                               "stride": 2},
        "nn.ConvTranspose2d": {"in_channels": 16, "out_channels": 48, "kernel_size": 3,
                               "stride": 3},
        "nn.ConvTranspose3d": {"in_channels": 4, "out_channels": 8, "kernel_size": 2,
                               "stride": 2},
        "nn.Embedding": {"num_embeddings": 1000, "dims": 32},
        "nn.RNN": {"input_size": 20, "hidden_size": 50},
        "nn.GRU": {"input_size": 30, "hidden_size": 40},
        "nn.LSTM": {"input_size": 20, "hidden_size": 50},
        "nn.LayerNorm": dict(norm),
        "nn.RMSNorm": dict(norm),
        "nn.GroupNorm": {"num_groups": 4, "dims": 16},
        "nn.BatchNorm": {"num_features": 16},
        "nn.InstanceNorm": {"dims": 16, "affine": True},
        "nn.PReLU": {"num_parameters": 5},
        "nn.MultiHeadAttention": {"dims": 64, "num_heads": 4, "query_input_dims": 32,
                                  "value_dims": 48, "bias": True},
        "nn.TransformerEncoderLayer": dict(transformer),
        "nn.TransformerDecoderLayer": dict(transformer),
        "nn.TransformerEncoder": {"num_layers": 2, **transformer},
        "nn.TransformerDecoder": {"num_layers": 2, **transformer},
        "nn.Transformer": {**transformer, "num_encoder_layers": 1, "num_decoder_layers": 1},
    }


def _paddle() -> dict[str, dict]:
    encoder = {"d_model": 32, "nhead": 4, "dim_feedforward": 64}
    gru = {"input_size": 30, "hidden_size": 40}
    examples: dict[str, dict] = {
        "nn.Linear": {"in_features": 300, "out_features": 70},
        "nn.Bilinear": {"in1_features": 20, "in2_features": 30, "out_features": 40},
        "nn.Conv1D": {"in_channels": 60, "out_channels": 120, "kernel_size": 5, "stride": 2,
                      "groups": 3},
        "nn.Conv2D": {"in_channels": 32, "out_channels": 64, "kernel_size": 3, "stride": 2,
                      "groups": 4},
        "nn.Conv3D": {"in_channels": 8, "out_channels": 16, "kernel_size": 3,
                      "stride": [1, 2, 2], "groups": 2},
        "nn.Conv1DTranspose": {"in_channels": 40, "out_channels": 60, "kernel_size": 4,
                               "stride": 2, "groups": 2},
        "nn.Conv2DTranspose": {"in_channels": 16, "out_channels": 48, "kernel_size": 3,
                               "stride": 3},
        "nn.Conv3DTranspose": {"in_channels": 4, "out_channels": 8, "kernel_size": 2,
                               "stride": 2},
        "nn.Embedding": {"num_embeddings": 1000, "embedding_dim": 32, "padding_idx": 3},
        "nn.MultiHeadAttention": {"embed_dim": 64, "num_heads": 4, "kdim": 32, "vdim": 48},
        "nn.SimpleRNNCell": {"input_size": 20, "hidden_size": 50},
        "nn.GRUCell": dict(gru),
        "nn.LSTMCell": {"input_size": 20, "hidden_size": 50, "proj_size": 10},
        "nn.SimpleRNN": {"input_size": 20, "hidden_size": 50, "num_layers": 2},
        "nn.GRU": {**gru, "direction": "bidirect"},
        "nn.LSTM": {"input_size": 20, "hidden_size": 50, "proj_size": 10},
        "nn.RNN": {"cell": {"layer": "nn.GRUCell", "kwargs": dict(gru)}},
        "nn.BiRNN": {"cell_fw": {"layer": "nn.GRUCell", "kwargs": dict(gru)},
                     "cell_bw": {"layer": "nn.GRUCell", "kwargs": dict(gru)}},
        "nn.BatchNorm": {"num_channels": 8},
        "nn.SyncBatchNorm": {"num_features": 8},
        "nn.LayerNorm": {"normalized_shape": 64},
        "nn.GroupNorm": {"num_groups": 4, "num_channels": 64},
        "nn.PReLU": {"num_parameters": 5},
        "nn.SpectralNorm": {"weight_shape": [64, 32, 3]},
        # 10 classes: 9 inner nodes of 16 weights
        "nn.HSigmoidLoss": {"feature_size": 16, "num_classes": 10},
        "nn.AdaptiveLogSoftmaxWithLoss": {"in_features": 64, "n_classes": 200,
                                          "cutoffs": [20, 100], "head_bias": True},
        "nn.TransformerEncoderLayer": dict(encoder),
        "nn.TransformerDecoderLayer": dict(encoder),
        "nn.TransformerEncoder": {"encoder_layer": {"layer": "nn.TransformerEncoderLayer",
                                                    "kwargs": dict(encoder)},
                                  "num_layers": 2},
        "nn.TransformerDecoder": {"decoder_layer": {"layer": "nn.TransformerDecoderLayer",
                                                    "kwargs": dict(encoder)},
                                  "num_layers": 2},
        "nn.Transformer": {"d_model": 32, "nhead": 4, "num_encoder_layers": 1,
                           "num_decoder_layers": 1, "dim_feedforward": 64},
    }
    for rank in (1, 2, 3):
        examples[f"nn.BatchNorm{rank}D"] = {"num_features": 8}
        examples[f"nn.InstanceNorm{rank}D"] = {"num_features": 8}
    return examples


def _tinygrad() -> dict[str, dict]:
    return {
        "nn.Linear": {"in_features": 300, "out_features": 70},
        "nn.Conv1d": {"in_channels": 60, "out_channels": 120, "kernel_size": 5, "stride": 2,
                      "groups": 3},
        "nn.Conv2d": {"in_channels": 32, "out_channels": 64, "kernel_size": 3, "stride": 2,
                      "groups": 4},
        "nn.ConvTranspose1d": {"in_channels": 40, "out_channels": 60, "kernel_size": 4,
                               "stride": 2, "groups": 2},
        "nn.ConvTranspose2d": {"in_channels": 16, "out_channels": 48, "kernel_size": 3,
                               "stride": 3},
        "nn.Embedding": {"vocab_size": 1000, "embed_size": 32},
        "nn.LSTMCell": {"input_size": 20, "hidden_size": 50},
        "nn.BatchNorm": {"sz": 16},
        "nn.GroupNorm": {"num_groups": 4, "num_channels": 16},
        "nn.InstanceNorm": {"num_features": 16},
        "nn.LayerNorm": {"normalized_shape": 16},
        "nn.LayerNorm2d": {"normalized_shape": 16},
        "nn.RMSNorm": {"dim": 16},
    }


def _equinox() -> dict[str, dict]:
    linear = {"layer": "nn.Linear", "kwargs": {"in_features": 20, "out_features": 30}}
    conv = {"Conv1d": {"in_channels": 60, "out_channels": 120, "kernel_size": 5, "stride": 2,
                       "groups": 3},
            "Conv2d": {"in_channels": 32, "out_channels": 64, "kernel_size": 3, "stride": 2,
                       "groups": 4},
            "Conv3d": {"in_channels": 8, "out_channels": 16, "kernel_size": 3,
                       "stride": [1, 2, 2], "groups": 2},
            "ConvTranspose1d": {"in_channels": 40, "out_channels": 60, "kernel_size": 4,
                                "stride": 2, "groups": 2},
            "ConvTranspose2d": {"in_channels": 16, "out_channels": 48, "kernel_size": 3,
                                "stride": 3},
            "ConvTranspose3d": {"in_channels": 4, "out_channels": 8, "kernel_size": 2,
                                "stride": 2}}
    return {
        "nn.Linear": {"in_features": 300, "out_features": 70},
        **{f"nn.{name}": kwargs for name, kwargs in conv.items()},
        "nn.Conv": {"num_spatial_dims": 2, **conv["Conv2d"]},
        "nn.ConvTranspose": {"num_spatial_dims": 1, **conv["ConvTranspose1d"]},
        "nn.Embedding": {"num_embeddings": 1000, "embedding_size": 32},
        "nn.GRUCell": {"input_size": 30, "hidden_size": 40},
        "nn.LSTMCell": {"input_size": 20, "hidden_size": 50},
        "nn.LayerNorm": {"shape": 64},
        "nn.RMSNorm": {"shape": 64},
        "nn.GroupNorm": {"groups": 4, "channels": 64},
        "nn.BatchNorm": {"input_size": 16, "axis_name": "batch", "mode": "batch"},
        "nn.PReLU": {},
        "nn.SpectralNorm": {"layer": linear, "weight_name": "weight"},
        "nn.WeightNorm": {"layer": linear},
        # query 64 -> 4 heads of 16; key 32 and value 48 wide: fans differ per projection
        "nn.MultiheadAttention": {"num_heads": 4, "query_size": 64, "key_size": 32,
                                  "value_size": 48, "use_query_bias": True,
                                  "use_output_bias": True},
        "nn.MLP": {"in_size": 20, "out_size": 10, "width_size": 64, "depth": 2},
        "nn.Sequential": {"layers": [linear, {"layer": "nn.LayerNorm", "kwargs": {"shape": 30}},
                                     {"layer": "nn.PReLU", "kwargs": {}}]},
    }


def _haiku() -> dict[str, dict]:
    conv2d = {"output_channels": 64, "kernel_shape": 3, "stride": 2, "feature_group_count": 4,
              "input_shape": [1, 8, 8, 32]}
    transpose1d = {"output_channels": 60, "kernel_shape": 4, "stride": 2,
                   "input_shape": [1, 8, 40]}
    quantizer = {"embedding_dim": 16, "num_embeddings": 64, "commitment_cost": 0.25,
                 "input_shape": [4, 16]}
    return {
        "Linear": {"output_size": 70, "input_shape": [2, 300]},
        "Bias": {"input_shape": [2, 16]},
        "ConvND": {"num_spatial_dims": 2, **conv2d},
        "Conv1D": {"output_channels": 120, "kernel_shape": 5, "stride": 2,
                   "feature_group_count": 3, "input_shape": [1, 16, 60]},
        "Conv2D": dict(conv2d),
        "Conv3D": {"output_channels": 16, "kernel_shape": 3, "stride": [1, 2, 2],
                   "feature_group_count": 2, "input_shape": [1, 4, 4, 4, 8]},
        "ConvNDTranspose": {"num_spatial_dims": 1, **transpose1d},
        "Conv1DTranspose": dict(transpose1d),
        "Conv2DTranspose": {"output_channels": 48, "kernel_shape": 3, "stride": 3,
                            "input_shape": [1, 4, 4, 16]},
        "Conv3DTranspose": {"output_channels": 8, "kernel_shape": 2, "stride": 2,
                            "input_shape": [1, 2, 2, 2, 4]},
        "DepthwiseConv1D": {"channel_multiplier": 3, "kernel_shape": 5,
                            "input_shape": [1, 16, 8]},
        "DepthwiseConv2D": {"channel_multiplier": 2, "kernel_shape": 3, "stride": 3,
                            "input_shape": [1, 9, 9, 16]},
        "DepthwiseConv3D": {"channel_multiplier": 2, "kernel_shape": 2,
                            "input_shape": [1, 4, 4, 4, 4]},
        "SeparableDepthwiseConv2D": {"channel_multiplier": 2, "kernel_shape": 3,
                                     "input_shape": [1, 8, 8, 8]},
        "Embed": {"vocab_size": 1000, "embed_dim": 32},
        "LayerNorm": {"axis": -1, "create_scale": True, "create_offset": True,
                      "input_shape": [2, 16]},
        "InstanceNorm": {"create_scale": True, "create_offset": True,
                         "input_shape": [2, 4, 4, 16]},
        "RMSNorm": {"axis": -1, "input_shape": [2, 16]},
        "GroupNorm": {"groups": 4, "input_shape": [2, 4, 16]},
        "BatchNorm": {"create_scale": True, "create_offset": True, "decay_rate": 0.9,
                      "input_shape": [4, 16]},
        "ExponentialMovingAverage": {"decay": 0.9, "input_shape": [4, 16]},
        "EMAParamsTree": {"decay": 0.9, "input_shape": [8, 4]},
        "SpectralNorm": {"input_shape": [16, 8]},
        "SNParamsTree": {"input_shape": [16, 8]},
        # query 64, key and value 32 wide: the projections' fans differ; MultiHeadAttention
        # has no default w_init
        "MultiHeadAttention": {"num_heads": 4, "key_size": 8, "model_size": 48,
                               "w_init": {"initializer": "VarianceScaling",
                                          "kwargs": {"scale": 1.0}},
                               "input_shape": [[2, 5, 64], [2, 6, 32], [2, 6, 32]]},
        "LSTM": {"hidden_size": 50, "input_shape": [2, 20]},
        "GRU": {"hidden_size": 40, "input_shape": [2, 30]},
        "VanillaRNN": {"hidden_size": 50, "input_shape": [2, 20]},
        "Conv1DLSTM": {"input_shape": [8], "output_channels": 4, "kernel_shape": 3,
                       "input_channels": 6},
        "Conv2DLSTM": {"input_shape": [6, 6], "output_channels": 4, "kernel_shape": 3,
                       "input_channels": 6},
        "Conv3DLSTM": {"input_shape": [4, 4, 4], "output_channels": 4, "kernel_shape": 3,
                       "input_channels": 2},
        "DeepRNN": {"layers": [{"layer": "LSTM", "kwargs": {"hidden_size": 30}},
                               {"layer": "GRU", "kwargs": {"hidden_size": 20}}],
                    "input_shape": [2, 20]},
        "ResetCore": {"core": {"layer": "LSTM", "kwargs": {"hidden_size": 20}},
                      "input_shape": [2, 10]},
        "Sequential": {"layers": [{"layer": "Linear", "kwargs": {"output_size": 30}},
                                  {"layer": "Linear", "kwargs": {"output_size": 10}}],
                       "input_shape": [2, 20]},
        "nets.MLP": {"output_sizes": [64, 10], "input_shape": [2, 20]},
        "nets.VectorQuantizer": dict(quantizer),
        "nets.VectorQuantizerEMA": {**quantizer, "decay": 0.9},
    }


EXAMPLES: dict[str, dict[str, dict]] = {"torch": _torch(), "keras": _keras(),
                                        "nnx": _nnx(), "linen": _linen(), "mlx": _mlx(),
                                        "paddle": _paddle(), "tf_keras": _tf_keras(),
                                        "tinygrad": _tinygrad(), "equinox": _equinox(),
                                        "haiku": _haiku()}
"""api -> catalog name -> constructor arguments (JSON)."""


def registered_name(api: str, name: str) -> str:
    """The registry's name (``torch.nn.Linear``) of a catalog name (``nn.Linear``)."""
    from verify.layers import LAYERS

    if api not in PREFIXES:
        raise ValueError(f"api {api!r} has no layers: use one of {', '.join(PREFIXES)}")
    return name if name in LAYERS[api] else PREFIXES[api] + name


def layer_targets(api: str) -> list[tuple[str, dict]]:
    """``(target, kwargs)`` for every example of ``api`` (``("torch:nn.Linear",
    {"in_features": 300, ...})``), in catalog order, leaving out layer types whose
    package (beyond the framework) is not installed."""
    if api not in EXAMPLES:
        raise ValueError(f"api {api!r} has no layer examples: use one of "
                         f"{', '.join(EXAMPLES)}")
    targets = []
    for name, kwargs in sorted(EXAMPLES[api].items()):
        package = NEEDS.get((api, name))
        if package is not None and importlib.util.find_spec(package) is None:
            continue
        targets.append((f"{api}:{name}", copy.deepcopy(kwargs)))
    return targets
