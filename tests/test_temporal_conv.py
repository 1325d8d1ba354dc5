"""The spatial-first path's grouped temporal convolution: its blocked weight gradient equals the convolution's."""

import pytest
import torch
import torch.nn.functional as F

from eegclf.models.temporal_conv import grouped_temporal_conv


@pytest.mark.parametrize("B,G,T,K", [(3, 4, 40, 7), (2, 32, 513, 51), (5, 2, 9, 9), (1, 3, 10, 4)])
def test_gradients_equal_the_grouped_convolutions_in_float64(B, G, T, K):
    gen = torch.Generator().manual_seed(B * 1000 + T)
    u = torch.randn(B, G, 1, T + K - 1, dtype=torch.float64, generator=gen, requires_grad=True)
    kernel = torch.randn(G, 1, 1, K, dtype=torch.float64, generator=gen, requires_grad=True)
    bias = torch.randn(G, dtype=torch.float64, generator=gen, requires_grad=True)
    dy = torch.randn(B, G, 1, T, dtype=torch.float64, generator=gen)
    ours = grouped_temporal_conv(u, kernel, bias)
    grads = torch.autograd.grad(ours, (u, kernel, bias), dy)
    ref = F.conv2d(u, kernel, bias, groups=G)
    ref_grads = torch.autograd.grad(ref, (u, kernel, bias), dy)
    assert torch.equal(ours, ref)  # the forward pass is the convolution itself
    for got, want in zip(grads, ref_grads):
        assert (got - want).abs().max().item() <= 1e-9 * max(1.0, want.abs().max().item())


def test_a_channels_last_input_gives_the_same_gradient():
    gen = torch.Generator().manual_seed(0)
    u = torch.randn(4, 8, 1, 60, generator=gen).contiguous(memory_format=torch.channels_last).requires_grad_()
    kernel = torch.randn(8, 1, 1, 11, generator=gen, requires_grad=True)
    dy = torch.randn(4, 8, 1, 50, generator=gen)
    got = torch.autograd.grad(grouped_temporal_conv(u, kernel, None), kernel, dy)[0]
    want = torch.autograd.grad(F.conv2d(u.detach().contiguous(), kernel, None, groups=8), kernel, dy)[0]
    assert torch.allclose(got, want, rtol=1e-5, atol=1e-5)


def test_without_a_gradient_or_under_tracing_it_is_the_plain_convolution():
    u, kernel = torch.randn(2, 3, 1, 20), torch.randn(3, 1, 1, 5, requires_grad=True)
    with torch.no_grad():
        assert grouped_temporal_conv(u, kernel, None).grad_fn is None
    traced = torch.jit.trace(lambda a, k: grouped_temporal_conv(a, k, None), (u, kernel.detach()))
    assert "PythonOp" not in str(traced.graph) and torch.equal(traced(u, kernel.detach()), F.conv2d(u, kernel.detach(), groups=3))
