"""Broken models for the audit's tests, each next to a correct twin (torch).

Each ``broken_*`` builder shows one finding kind; its ``correct_*`` twin differs only in
the bug. Builders take keyword arguments as ``python -m verify audit --kwargs`` passes
them, and draw from torch's default generator (which the audit seeds), unless the bug is
that they do not.
"""

from __future__ import annotations

import math
import os

import numpy as np
import torch
from torch import nn

WIDTH = 64


class Stack(nn.Module):
    """``layers`` Linear(width, width) blocks with residual output projections, and a head."""

    def __init__(self, layers: int = 2, width: int = WIDTH, classes: int = 10) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            nn.ModuleDict({"fc": nn.Linear(width, width), "proj": nn.Linear(width, width)})
            for _ in range(layers))
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, classes)

    def own_scheme(self, std: float = 0.02, depth_scaled: bool = True,
                   skip_head: bool = False) -> Stack:
        """N(0, std^2) weights, zero biases; ``proj`` at std / sqrt(2 layers) (GPT-2's rule)."""
        layers = len(self.blocks)
        for block in self.blocks:
            nn.init.normal_(block["fc"].weight, std=std)
            scale = 1 / math.sqrt(2 * layers) if depth_scaled else 1.0
            nn.init.normal_(block["proj"].weight, std=std * scale)
            nn.init.zeros_(block["fc"].bias)
            nn.init.zeros_(block["proj"].bias)
        if not skip_head:
            nn.init.normal_(self.head.weight, std=std)
            nn.init.zeros_(self.head.bias)
        return self


# --- left-on-default ----------------------------------------------------------------------

def correct_scheme(layers: int = 2) -> nn.Module:
    return Stack(layers).own_scheme()


def broken_head_left_on_default(layers: int = 2) -> nn.Module:
    """The head is missed by the re-init loop: it keeps nn.Linear's default."""
    return Stack(layers).own_scheme(skip_head=True)


# --- depth-law (with tests/specs/stack.toml) ---------------------------------------------

def broken_depth_not_scaled(layers: int = 4) -> nn.Module:
    return Stack(layers).own_scheme(depth_scaled=False)


# --- variance, distribution, support, mean (with a spec) ---------------------------------

def _linear_model(fill) -> nn.Module:
    model = nn.Sequential(nn.Linear(WIDTH, WIDTH), nn.Linear(WIDTH, WIDTH))
    for layer in model:
        fill(layer.weight)
        nn.init.zeros_(layer.bias)
    return model


def correct_normal() -> nn.Module:
    return _linear_model(lambda w: nn.init.normal_(w, std=0.02))


def broken_variance() -> nn.Module:
    return _linear_model(lambda w: nn.init.normal_(w, std=0.021))  # +10% in variance


def broken_distribution() -> nn.Module:
    bound = 0.02 * math.sqrt(3)  # the same variance, uniform
    return _linear_model(lambda w: nn.init.uniform_(w, -bound, bound))


def broken_mean() -> nn.Module:
    return _linear_model(lambda w: nn.init.normal_(w, mean=0.002, std=0.02))


def correct_truncated() -> nn.Module:
    return _linear_model(lambda w: nn.init.trunc_normal_(w, std=0.02, a=-0.04, b=0.04))


def broken_support() -> nn.Module:
    """Documented as truncated at +-2 std, drawn untruncated (with the truncated law's std,
    so that only the tails differ)."""
    return _linear_model(lambda w: nn.init.normal_(w, std=0.02 * 0.8796256610342398))


# --- constant ------------------------------------------------------------------------------

def correct_defaults() -> nn.Module:
    return nn.Sequential(nn.Linear(WIDTH, 32), nn.ReLU(), nn.Linear(32, 16))


def broken_zero_weight() -> nn.Module:
    model = correct_defaults()
    nn.init.zeros_(model[2].weight)
    return model


# --- non-finite, uninitialized -----------------------------------------------------------

def broken_nonfinite() -> nn.Module:
    model = correct_defaults()
    with torch.no_grad():
        model[0].weight[3, 5] = float("nan")
    return model


class Leftover(nn.Module):
    """A parameter never initialized: its bytes are whatever memory held (simulated with
    random bytes, as freed memory holds: different at each build, NaNs and subnormals)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(WIDTH, WIDTH)
        garbage = np.frombuffer(os.urandom(4 * WIDTH * WIDTH), dtype=np.float32)
        self.scale = nn.Parameter(torch.from_numpy(garbage.copy()).reshape(WIDTH, WIDTH))


def broken_uninitialized() -> nn.Module:
    return Leftover()


# --- identical, correlated ---------------------------------------------------------------

def broken_identical() -> nn.Module:
    model = nn.Sequential(nn.Linear(WIDTH, WIDTH), nn.Linear(WIDTH, WIDTH))
    with torch.no_grad():
        model[1].weight.copy_(model[0].weight)  # a copied layer
    return model


def broken_correlated() -> nn.Module:
    model = nn.Sequential(nn.Linear(WIDTH, WIDTH), nn.Linear(WIDTH, WIDTH))
    with torch.no_grad():
        model[1].weight.mul_(0.8).add_(0.6 * model[0].weight)
    return model


class LayerScale(nn.Module):
    """Two linear layers, each with a layer-scale vector filled with 0.1 (BEiT's
    ``lambda_1``): the same constant in every build, whatever the seed."""

    def __init__(self, width: int = WIDTH) -> None:
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(width, width) for _ in range(2))
        self.scales = nn.ParameterList(nn.Parameter(0.1 * torch.ones(width))
                                       for _ in range(2))


def correct_layer_scale() -> nn.Module:
    return LayerScale()


class DeterministicTables(nn.Module):
    """Two deformable-attention offset layers whose biases are the same grid of sampling
    directions (Deformable DETR's init), and two RWKV-style time-mix ramps: deterministic
    tables, the same for every seed and in every layer, next to random weights."""

    def __init__(self, width: int = WIDTH, heads: int = 8, levels: int = 4,
                 points: int = 4) -> None:
        super().__init__()
        self.offsets = nn.ModuleList(nn.Linear(width, heads * levels * points * 2)
                                     for _ in range(2))
        angles = torch.arange(heads, dtype=torch.float32) * (2 * math.pi / heads)
        grid = torch.stack([angles.cos(), angles.sin()], -1)
        grid = grid / grid.abs().max(-1, keepdim=True)[0]
        grid = grid[:, None, None, :].repeat(1, levels, points, 1)
        grid = grid * torch.arange(1, points + 1)[None, None, :, None]
        for layer in self.offsets:
            nn.init.normal_(layer.weight, std=0.02)
            with torch.no_grad():
                layer.bias.copy_(grid.reshape(-1))
        ramp = 1.0 - (torch.arange(width, dtype=torch.float32) / width) ** 0.5
        self.time_mix = nn.ParameterList(nn.Parameter(ramp.clone()) for _ in range(2))


def correct_deterministic_tables() -> nn.Module:
    return DeterministicTables()


def correct_two_layers() -> nn.Module:
    return nn.Sequential(nn.Linear(WIDTH, WIDTH), nn.Linear(WIDTH, WIDTH))


def broken_packed_identical_slices(embed_dim: int = WIDTH, num_heads: int = 4) -> nn.Module:
    """Queries and keys from one draw: the packed tensor's first two blocks are equal."""
    attention = nn.MultiheadAttention(embed_dim, num_heads)
    with torch.no_grad():
        attention.in_proj_weight[embed_dim:2 * embed_dim].copy_(
            attention.in_proj_weight[:embed_dim])
    return attention


# --- fan-mismatch ----------------------------------------------------------------------------

def attention_default(embed_dim: int = WIDTH, num_heads: int = 4) -> nn.Module:
    """PyTorch's default: xavier_uniform_ on the packed (3E, E) in_proj_weight."""
    return nn.MultiheadAttention(embed_dim, num_heads)


def attention_per_projection(embed_dim: int = WIDTH, num_heads: int = 4) -> nn.Module:
    """The same layer, each E -> E projection re-initialized with its own fans."""
    attention = nn.MultiheadAttention(embed_dim, num_heads)
    with torch.no_grad():
        for block in attention.in_proj_weight.split(embed_dim):
            nn.init.xavier_uniform_(block)
    return attention


# --- seeding -----------------------------------------------------------------------------------

def broken_fixed_seed() -> nn.Module:
    """Builds with its own generator at a fixed seed: every build is the same model."""
    model = correct_defaults()
    generator = torch.Generator().manual_seed(1234)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(0, 0.02, generator=generator)
    return model


def broken_unseeded() -> nn.Module:
    """Draws from an unseeded NumPy generator: the same seed gives another model."""
    model = correct_defaults()
    rng = np.random.default_rng()
    with torch.no_grad():
        weight = model[0].weight
        weight.copy_(torch.from_numpy(rng.normal(0, 0.02, weight.shape).astype(np.float32)))
    return model


# --- tied weights ------------------------------------------------------------------------------

def tied_embedding(vocabulary: int = 100) -> nn.Module:
    class Tied(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(vocabulary, WIDTH)
            self.out = nn.Linear(WIDTH, vocabulary, bias=False)
            self.out.weight = self.embed.weight

    return Tied()


# --- bad builders ------------------------------------------------------------------------------

def raises() -> nn.Module:
    raise RuntimeError("the config is missing a field")


def hangs() -> nn.Module:
    import time

    time.sleep(60)
    return correct_defaults()


def not_a_model() -> dict:
    return {"weight": 1}


def no_parameters() -> nn.Module:
    return nn.ReLU()


def arrays_model(seed: int, width: int = WIDTH) -> dict:
    rng = np.random.default_rng(seed)
    return {"w1": rng.normal(0, 0.02, (width, width)), "w2": rng.normal(0, 0.02, (width, width))}


# --- reinitialized-on-load (transformers' own save and load path) -----------------------------

def _pretrained(ignore_on_save: bool):
    import transformers

    class TinyConfig(transformers.PretrainedConfig):
        model_type = "verify-tiny"

        def __init__(self, width: int = WIDTH, initializer_range: float = 0.02, **kwargs):
            super().__init__(**kwargs)
            self.width, self.initializer_range = width, initializer_range

    class TinyModel(transformers.PreTrainedModel):
        config_class = TinyConfig
        # the bug: a tensor left out of the checkpoint comes back as a fresh draw
        _keys_to_ignore_on_save = ["extra.weight"] if ignore_on_save else None

        def __init__(self, config: TinyConfig) -> None:
            super().__init__(config)
            self.fc = nn.Linear(config.width, config.width)
            self.extra = nn.Linear(config.width, config.width, bias=False)
            self.post_init()

    return TinyModel(TinyConfig())


def correct_pretrained():
    return _pretrained(ignore_on_save=False)


def broken_reinitialized_on_load():
    return _pretrained(ignore_on_save=True)


# --- a norm that does not hold its value (with tests/specs/stack.toml) ----------------------

def broken_norm_scale(layers: int = 2) -> nn.Module:
    model = Stack(layers).own_scheme()
    nn.init.constant_(model.norm.weight, 0.5)
    return model


# --- an embedding's padding row -------------------------------------------------------------

def correct_padding_row(vocabulary: int = 100) -> nn.Module:
    return nn.Embedding(vocabulary, WIDTH, padding_idx=0)


def broken_padding_row(vocabulary: int = 100) -> nn.Module:
    """A re-init that draws over the padding row, which torch documents as zeros."""
    embedding = nn.Embedding(vocabulary, WIDTH, padding_idx=0)
    nn.init.normal_(embedding.weight, std=0.02)
    return embedding


# --- known buffers ---------------------------------------------------------------------------

class Rotary(nn.Module):
    """A rotary embedding's frequencies, ``1 / theta^(2i / d)``; ``off_by_one`` computes
    them with ``d - 1`` in the exponent (a bug of the kind ports make)."""

    def __init__(self, dim: int = 16, theta: float = 10000.0, off_by_one: bool = False):
        super().__init__()
        exponent = torch.arange(0, dim, 2, dtype=torch.float32) / (dim - int(off_by_one))
        self.register_buffer("inv_freq", 1.0 / theta**exponent, persistent=False)
        self.proj = nn.Linear(dim, dim)


def correct_rotary(rope_theta: float = 10000.0) -> nn.Module:
    return Rotary(theta=rope_theta)


def broken_rotary(rope_theta: float = 10000.0) -> nn.Module:
    return Rotary(theta=rope_theta, off_by_one=True)
