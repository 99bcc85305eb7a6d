"""verify.propagation: the hand-written backward pass against autograd, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from verify import propagation as prop
from verify.theory import NAMES


def _autograd_plain(net: prop.Plain, networks: int, batch: int, seed: int):
    """The same networks rebuilt from the same generator stream, differentiated by autograd."""
    generator = torch.Generator().manual_seed(seed)
    phi, _ = prop.torch_activation(net.activation)
    x = torch.randn((networks, batch, net.widths[0]), generator=generator, dtype=torch.float64)
    x.requires_grad_()
    hs = []
    for layer, variance in enumerate(net.variances()):
        shape = (networks, net.widths[layer + 1], net.widths[layer])
        w = prop._draw(generator, shape, variance, net.distribution, torch.float64)
        h = torch.matmul(x, w.transpose(-2, -1))
        if net.bias_variance:
            h = h + torch.randn((networks, 1, shape[1]), generator=generator,
                                dtype=torch.float64) * net.bias_variance**0.5
        h.retain_grad()
        hs.append(h)
        x = phi(h)
    v = torch.randn(hs[-1].shape, generator=generator, dtype=torch.float64)
    (hs[-1] * v).sum().backward()
    return np.stack([h.grad.square().mean(dim=(1, 2)).numpy() for h in hs], axis=1)


@pytest.mark.parametrize("activation", NAMES)
@pytest.mark.parametrize("distribution", ["normal", "uniform", "orthogonal"])
def test_plain_backward_matches_autograd(activation, distribution):
    net = prop.Plain((5, 7, 6, 6, 4), activation=activation, init="glorot", bias_variance=0.1,
                     distribution=distribution)
    trace = prop.run(net, 3, seed=11, batch=4, dtype=torch.float64)
    expected = _autograd_plain(net, 3, 4, 11)
    np.testing.assert_allclose(trace.backward, expected, rtol=1e-10)


@pytest.mark.parametrize("activation", ["relu", "tanh", "selu"])
def test_residual_backward_matches_autograd(activation):
    net = prop.Residual(6, 4, activation=activation, alpha=0.7)
    trace = prop.run(net, 2, seed=3, batch=3, dtype=torch.float64)
    generator = torch.Generator().manual_seed(3)
    phi, _ = prop.torch_activation(activation)
    z = torch.randn((2, 3, 6), generator=generator, dtype=torch.float64)
    zs = [z.requires_grad_()]
    for _ in range(4):
        w1 = prop._draw(generator, (2, 6, 6), net.sigma1 / 6, "normal", torch.float64)
        w2 = prop._draw(generator, (2, 6, 6), 1 / 6, "normal", torch.float64)
        z = z + 0.7 * phi(z @ w1.transpose(-2, -1)) @ w2.transpose(-2, -1)
        z.retain_grad()
        zs.append(z)
    v = torch.randn(z.shape, generator=generator, dtype=torch.float64)
    (z * v).sum().backward()
    expected = np.stack([t.grad.square().mean(dim=(1, 2)).numpy() for t in zs], axis=1)
    np.testing.assert_allclose(trace.backward, expected, rtol=1e-10)
    forward = np.stack([t.detach().square().mean(dim=(1, 2)).numpy() for t in zs], axis=1)
    np.testing.assert_allclose(trace.forward, forward, rtol=1e-10)


def test_orthogonal_weights_are_orthogonal():
    generator = torch.Generator().manual_seed(0)
    for shape in [(3, 5, 5), (2, 7, 4), (2, 4, 7)]:
        w = prop._draw(generator, shape, 1.0 / max(shape[1:]), "orthogonal", torch.float64)
        small = min(shape[1:])
        gram = w.transpose(-2, -1) @ w if shape[1] >= shape[2] else w @ w.transpose(-2, -1)
        np.testing.assert_allclose(gram.numpy(), np.broadcast_to(np.eye(small), gram.shape),
                                   atol=1e-12)


def test_same_seed_same_trace_and_networks_differ():
    net = prop.Plain.square(16, 5, activation="tanh", init="lecun")
    a = prop.run(net, 4, seed=9)
    b = prop.run(net, 4, seed=9)
    np.testing.assert_array_equal(a.forward, b.forward)
    assert len(set(a.forward[:, -1].tolist())) == 4


def test_weight_variance_by_scheme():
    assert prop.weight_variance("he", "leaky_relu:0.5", 10, 3) == pytest.approx(2 / 1.25 / 10)
    assert prop.weight_variance("glorot", "tanh", 10, 30) == pytest.approx(2 / 40)
    assert prop.weight_variance(1.5, "tanh", 10, 30) == pytest.approx(0.15)
    assert prop.weight_variance("fixed", "relu", 10, 30) == 1.0


@pytest.mark.parametrize(("make", "message"), [
    (lambda: prop.Plain((4,)), "at least one layer"),
    (lambda: prop.Plain((4, 0)), "widths"),
    (lambda: prop.Plain((4, 4), init="xavier"), "unknown init"),
    (lambda: prop.Plain((4, 4), distribution="cauchy"), "unknown distribution"),
    (lambda: prop.Residual(4, 0), "depth"),
    (lambda: prop.Plain((4, 4), init=-1.0), "positive"),
])
def test_bad_networks(make, message):
    with pytest.raises(ValueError, match=message):
        make()
