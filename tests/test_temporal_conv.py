"""The spatial-first path's per-filter temporal convolutions: the blocked weight gradient (float32 and float64) and the
banded matrix products (bf16 autocast) equal the grouped convolution's forward and gradients."""

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


# (B, G, T, K, left, right): EEGNet's shape (kernel 51, its own padding), trials shorter than a block, one more
# sample than whole blocks, even kernels with uneven padding, a kernel of one
BANDED = [(3, 4, 100, 7, 3, 3), (2, 32, 641, 51, 25, 25), (2, 3, 40, 51, 25, 25), (2, 5, 65, 9, 4, 4),
          (2, 2, 30, 8, 3, 4), (1, 2, 200, 1, 0, 0)]


@pytest.mark.parametrize("B,G,T,K,left,right", BANDED)
def test_banded_products_equal_the_grouped_convolution_in_float64(B, G, T, K, left, right):
    """The banded form in float64 is the same arithmetic as in bf16: forward and all three gradients must
    equal the zero-padded grouped convolution's to 1e-12."""
    from eegclf.models.banded_conv import banded_temporal_conv

    gen = torch.Generator().manual_seed(T * 10 + K)
    u = torch.randn(B, G, T, dtype=torch.float64, generator=gen, requires_grad=True)
    kernel = torch.randn(G, K, dtype=torch.float64, generator=gen, requires_grad=True)
    bias = torch.randn(G, dtype=torch.float64, generator=gen, requires_grad=True)
    ref = F.conv2d(F.pad(u, (left, right)).unsqueeze(2), kernel.view(G, 1, 1, K), bias, groups=G)
    ours = banded_temporal_conv(u, kernel, bias, left, right, torch.float64)
    assert ours.shape == ref.shape and ours.is_contiguous()
    dy = torch.randn(ref.shape, dtype=torch.float64, generator=gen)
    for got, want in zip((ours, *torch.autograd.grad(ours, (u, kernel, bias), dy)),
                         (ref, *torch.autograd.grad(ref, (u, kernel, bias), dy))):
        assert got.shape == want.shape
        assert (got - want).abs().max().item() <= 1e-12 * max(1.0, want.abs().max().item())


def test_banded_products_in_bf16_within_bf16_tolerance():
    """In bf16 (inputs rounded to 8 bits of mantissa, float32 accumulation) the output and the gradients stay
    within bf16's precision of the float64 convolution's; the input's gradient comes back in its own dtype."""
    from eegclf.models.banded_conv import banded_temporal_conv

    gen = torch.Generator().manual_seed(0)
    u = torch.randn(4, 32, 641, generator=gen, requires_grad=True)
    kernel = (torch.randn(32, 51, generator=gen) / 7).requires_grad_()
    bias = torch.randn(32, generator=gen, requires_grad=True)
    ours = banded_temporal_conv(u, kernel, bias, 25, 25, torch.bfloat16)
    assert ours.dtype == torch.bfloat16
    dy = torch.randn(ours.shape, generator=gen)
    grads = torch.autograd.grad(ours, (u, kernel, bias), dy.bfloat16())
    assert grads[0].dtype == torch.float32
    u64, k64, b64 = (t.detach().double().requires_grad_() for t in (u, kernel, bias))
    ref = F.conv2d(F.pad(u64, (25, 25)).unsqueeze(2), k64.view(32, 1, 1, 51), b64, groups=32)
    want = torch.autograd.grad(ref, (u64, k64, b64), dy.bfloat16().double())
    for got, exact in zip((ours, *grads), (ref, *want)):
        err = (got.double() - exact).abs().max().item() / exact.abs().max().item()
        assert err <= 2e-2, err
