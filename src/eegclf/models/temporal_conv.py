"""The spatial-first path's per-filter temporal convolution, with its weight gradient as blocked matrix products.

Why: in a training step of a 64-channel EEGNet on the spatial-first path, oneDNN spends most of the grouped
temporal convolution's time on its weight gradient, at a fraction of the dense rate (38 ms of 45 ms for a batch
of 32 projections at 32 x 563 samples, kernel 51, one thread). That gradient is a cross-correlation of each
filter's output gradient with its input, dW[g, k] = sum_{b,t} dy[b, g, t] u[b, g, t + k], and it is computed
here as the lag products of :func:`eegclf.models.lag_moments.lag_moments` are: time cut into blocks of K rows,
one batched matrix product per filter of every block of dy against the 2K input samples it meets, then the K
diagonals summed. That is about twice the multiply-adds of the direct sum, at the dense rate: about 10x less
time. The forward pass and the input gradient stay oneDNN's (both run near the dense rate). This is the float32
(and float64) path; under bf16 autocast :mod:`eegclf.models.banded_conv` computes all three in bf16.

Exact up to float rounding (the sums run in another order); tests/test_fast_paths.py checks the gradients in
float64 to 1e-9. Used only where a gradient is wanted, outside tracing and scripting, so exported and scripted
graphs hold the plain convolution.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _weight_grad(u: torch.Tensor, dy: torch.Tensor, K: int) -> torch.Tensor:
    """dW[g, k] = sum_{b,t} dy[b, g, t] * u[b, g, t + k]; ``u`` (B, G, Tp), ``dy`` (B, G, T), Tp = T + K - 1."""
    B, G, T = dy.shape
    nb = -(-T // K) + 1  # blocks of K samples per trial: enough for dy, and u's K - 1 more, with zero tails
    # each trial's blocks follow the previous trial's, as rows of one (G, B * nb, K) matrix per filter, so that
    # "the next block of u" is a view one row on (plus one zero row at the very end); dy's last block of each
    # trial is zero, so what it meets of the next trial adds nothing
    dz = dy.new_zeros(G, B, nb * K)
    dz[..., :T] = dy.transpose(0, 1)
    uz = u.new_zeros(G, B * nb * K + K)
    uz[:, : B * nb * K].view(G, B, nb * K)[..., : u.shape[-1]] = u.transpose(0, 1)
    A = dz.view(G, B * nb, K).transpose(1, 2)  # (G, K, rows)
    here = uz[:, : B * nb * K].view(G, B * nb, K)
    after = uz[:, K:].view(G, B * nb, K)
    # P[g, r, c]: sum over blocks of dy[iK + r] u[iK + c], c < 2K, as two products of K columns each
    P = torch.cat([torch.bmm(A, here), torch.bmm(A, after)], 2)  # (G, K, 2K)
    offsets = torch.arange(K, device=dy.device)
    diagonals = (offsets[:, None] + offsets[None, :]).expand(G, K, K)  # column r + k for lag k
    return P.gather(2, diagonals).sum(1)  # (G, K)


class _GroupedTemporalConv(torch.autograd.Function):
    @staticmethod
    def forward(ctx, u, kernel, bias):
        ctx.save_for_backward(u, kernel)
        ctx.has_bias = bias is not None
        return F.conv2d(u, kernel, bias, groups=kernel.shape[0])

    @staticmethod
    def backward(ctx, grad):
        u, kernel = ctx.saved_tensors
        G, K = kernel.shape[0], kernel.shape[-1]
        grad_u = grad_kernel = grad_bias = None
        if ctx.needs_input_grad[0]:
            grad_u = torch.nn.grad.conv2d_input(u.shape, kernel, grad, groups=G)
        if ctx.needs_input_grad[1]:
            grad_kernel = _weight_grad(u[:, :, 0], grad[:, :, 0], K).reshape(kernel.shape)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_bias = grad.sum((0, 2, 3))
        return grad_u, grad_kernel, grad_bias


def grouped_temporal_conv(u: torch.Tensor, kernel: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``F.conv2d(u, kernel, bias, groups=G)`` for ``u`` (B, G, 1, Tp) and ``kernel`` (G, 1, 1, K), unpadded:
    one temporal filter per channel of ``u``. Returns (B, G, 1, Tp - K + 1)."""
    wants_grad = torch.is_grad_enabled() and (u.requires_grad or kernel.requires_grad)
    if not wants_grad or torch.jit.is_tracing() or torch.jit.is_scripting():
        return F.conv2d(u, kernel, bias, groups=kernel.shape[0])
    return _GroupedTemporalConv.apply(u, kernel, bias)


__all__ = ["grouped_temporal_conv"]
