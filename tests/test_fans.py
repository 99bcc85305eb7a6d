"""Fans and layouts: PyTorch's own fan helper is the oracle for the plain oihw case;
grouped and transposed convolutions are checked against worked examples."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings

from verify import strategies as vst
from verify.fans import LAYOUTS, arrange, compute_fans


@settings(max_examples=200)
@given(shape=vst.weight_shapes(layout="oihw", max_numel=2**16))
def test_oihw_fans_match_torch(shape):
    expected = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    fans = compute_fans(shape, "oihw")
    assert (fans.fan_in, fans.fan_out) == expected


@settings(max_examples=200)
@given(shape=vst.weight_shapes(layout="oihw", max_numel=2**16))
def test_every_layout_gives_the_same_fans_for_the_same_layer(shape):
    out_channels, in_channels, *kernel = shape
    oihw = compute_fans(shape, "oihw")
    hwio = compute_fans((*kernel, in_channels, out_channels), "hwio")
    ohwi = compute_fans((out_channels, *kernel, in_channels), "ohwi")
    assert oihw == hwio == ohwi


def test_dense_layouts():
    # nn.Linear(in_features=3, out_features=5).weight is (5, 3); a Flax Dense kernel (3, 5)
    assert compute_fans((5, 3), "oihw").fan_in == 3
    assert compute_fans((3, 5), "hwio").fan_in == 3
    assert compute_fans((5, 3), "ohwi").fan_out == 5
    # paddle.nn.Linear(3, 5).weight is (3, 5)
    assert compute_fans((3, 5), "paddle").fan_in == 3


def test_paddle_layout_reads_convolutions_as_oihw():
    # paddle.nn.Conv2D(8, 12, 3, groups=4).weight is (12, 2, 3, 3), as PyTorch's
    fans = compute_fans((12, 2, 3, 3), "paddle", groups=4)
    assert (fans.fan_in, fans.fan_out) == (2 * 9, 3 * 9)
    # paddle.nn.Conv1DTranspose(8, 6, 5).weight is (8, 6, 5)
    fans = compute_fans((8, 6, 5), "paddle", transposed=True)
    assert (fans.fan_in, fans.fan_out) == (8 * 5, 6 * 5)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("kernel", [(), (3,), (2, 5), (1, 2, 3)])
def test_arrange_puts_each_axis_where_the_layout_reads_it(layout, kernel):
    shape = arrange(7, 4, kernel, layout)
    fans = compute_fans(shape, layout)
    receptive = 1
    for side in kernel:
        receptive *= side
    assert (fans.in_channels, fans.out_channels) == (4, 7)
    assert (fans.fan_in, fans.fan_out) == (4 * receptive, 7 * receptive)


def test_grouped_convolution_counts_channels_per_group():
    # nn.Conv2d(8, 12, kernel_size=3, groups=4).weight has shape (12, 2, 3, 3):
    # each output sees 2 input channels, each input feeds 12 / 4 = 3 output channels.
    fans = compute_fans((12, 2, 3, 3), "oihw", groups=4)
    assert (fans.fan_in, fans.fan_out) == (2 * 9, 3 * 9)
    assert (fans.in_channels, fans.out_channels) == (8, 12)


def test_transposed_convolution_swaps_the_channel_axes():
    # nn.ConvTranspose2d(8, 12, kernel_size=3, groups=4).weight has shape (8, 3, 3, 3)
    fans = compute_fans((8, 3, 3, 3), "oihw", groups=4, transposed=True)
    assert (fans.fan_in, fans.fan_out) == (2 * 9, 3 * 9)
    assert (fans.in_channels, fans.out_channels) == (8, 12)


@pytest.mark.parametrize(
    ("shape", "kwargs", "message"),
    [
        ((5,), {}, "2 to 5 dimensions"),
        ((2, 2, 2, 2, 2, 2), {}, "2 to 5 dimensions"),
        ((0, 3), {}, "at least 1"),
        ((6, 3), {"groups": 4}, "do not split"),
        ((6, 3), {"layout": "nchw"}, "unknown layout"),
    ],
)
def test_bad_shapes_are_refused_clearly(shape, kwargs, message):
    with pytest.raises(ValueError, match=message):
        compute_fans(shape, **kwargs)


def test_fan_modes():
    fans = compute_fans((4, 6), "oihw")
    assert fans.fan("fan_in") == 6
    assert fans.fan("fan_out") == 4
    assert fans.fan("fan_avg") == 5
    with pytest.raises(ValueError, match="unknown mode"):
        fans.fan("fan_sum")
