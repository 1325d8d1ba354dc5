"""The spatial-first path's per-filter temporal convolution under bf16 autocast, as banded matrix products.

Why: under bf16 autocast the reference EEGNet computes its temporal convolution in bf16, but oneDNN's grouped
(one filter per channel) convolution is slow in bf16 and its weight gradient slow in any precision, so the
spatial-first path kept it in float32 (:mod:`eegclf.models.temporal_conv`): forward, input gradient and weight
gradient together about 4 ms of a 64-channel training step (batch 32, 32 projections of 691 samples, kernel 51,
2 threads). Cut into blocks of M output samples, each filter's convolution is a matrix product: the M + K - 1
input samples a block sees times a banded (M + K - 1, M) matrix holding the kernel on its diagonals. The
forward pass, the input gradient (the transposed band) and the weight gradient (the band's diagonals of
gradient x input) are then three batched bf16 matrix products, which the CPU's matrix units (AMX) run at
several times oneDNN's rate: about 1.5 ms in all. About (M + K - 1) / K times the multiply-adds of the direct
sums (2.2x at M = 64), at a far higher rate.

Precision: the products take bf16 inputs and accumulate in float32, as the reference's bf16 convolution does,
and round their outputs to bf16 (the weight gradient's block sums, then summed in float32). Any other dtype
(float32, float64) runs the same arithmetic in that dtype: tests/test_temporal_conv.py checks it against
``F.conv2d`` in float64 to 1e-12, and the bf16 results within bf16 tolerance.
"""

from __future__ import annotations

import torch

BLOCK = 64  # output samples per block: larger blocks waste more of the band on zeros, smaller ones run slower


def _band(kernel: torch.Tensor, rows: int, M: int) -> torch.Tensor:
    """(G, rows, M): ``band[g, p, q] = kernel[g, p - q]`` where 0 <= p - q < K, else 0 (rows >= M + K - 1).

    Written diagonal by diagonal through one strided view: in the flat (rows * M) matrix, entry (q + k, q)
    lies at k * M + q * (M + 1), so the view (K, M) with strides (M, M + 1) holds diagonal k in its row k.
    (Reading a sliding window of the padded kernel backwards, the earlier way, needed a flip of the whole band:
    two of those were about 0.4 ms of every training step, whatever the batch.)"""
    G, K = kernel.shape
    band = kernel.new_zeros((G, rows, M))
    band.as_strided((G, K, M), (rows * M, M, M + 1)).copy_(kernel[:, :, None].expand(G, K, M))
    return band


def _windows(x: torch.Tensor, start: int, n_blocks: int, M: int, W: int) -> torch.Tensor:
    """(G, B * n_blocks, W): for ``x`` (G, B, L), the W samples from ``start + j * M`` of every trial's block j."""
    G, B, L = x.shape
    view = x.as_strided((G, B, n_blocks, W), (B * L, L, M, 1), x.storage_offset() + start)
    return view.reshape(G, B * n_blocks, W)


class _BandedTemporalConv(torch.autograd.Function):
    @staticmethod
    def forward(ctx, u, kernel, bias, left: int, right: int, dtype: torch.dtype):
        B, G, T = u.shape
        K = kernel.shape[-1]
        T_out = T + left + right - K + 1
        M, W = BLOCK, BLOCK + K - 1
        nb = -(-T_out // M)
        # each trial zero-padded (its own padding, then zeros to whole blocks), filter-major (a straight copy
        # where u is a (B, G, T) view of filter-major data)
        padded = u.new_zeros((G, B, nb * M + K - 1), dtype=dtype)
        padded[..., left : left + T] = u.transpose(0, 1)
        windows = _windows(padded, 0, nb, M, W)  # (G, B * nb, W), a copy: the windows overlap by K - 1
        k = kernel.to(dtype)
        y = torch.bmm(windows, _band(k, W, M))  # (G, B * nb, M): y[t] = sum_k k[k] u[t + k]
        y = y.view(G, B, nb * M)[..., :T_out].transpose(0, 1)
        out = torch.empty((B, G, T_out), dtype=dtype, device=u.device)  # the plain layout, for the next layers
        if bias is None:
            out.copy_(y)
        else:
            torch.add(y, bias.to(dtype)[None, :, None], out=out)
        ctx.save_for_backward(windows, k)
        ctx.shape = (B, G, T, T_out, left, nb, u.dtype, kernel.dtype, bias is not None)
        return out.unsqueeze(2)

    @staticmethod
    def backward(ctx, grad):
        windows, k = ctx.saved_tensors
        B, G, T, T_out, left, nb, u_dtype, k_dtype, has_bias = ctx.shape
        K = k.shape[-1]
        M, W = BLOCK, BLOCK + K - 1
        dy = grad[:, :, 0].to(k.dtype)
        grad_u = grad_kernel = grad_bias = None
        if ctx.needs_input_grad[0]:
            # du[s] = sum_t dy[t] k[s - t]: the transposed band over dy padded by K - 1 zeros in front
            nb_in = -(-(left + T) // M)
            dz = dy.new_zeros((G, B, K - 1 + nb_in * M + K - 1))
            dz[..., K - 1 : K - 1 + T_out] = dy.transpose(0, 1)
            du = torch.bmm(_windows(dz, 0, nb_in, M, W), _band(k.flip(1), W, M))  # band[p, q] = k[q - p + K - 1]
            # as a (B, G, T) view of the filter-major result: a u that is itself a view of filter-major
            # projections (the spatial-first path's) takes it back without a copy
            grad_u = du.view(G, B, nb_in * M)[..., left : left + T].transpose(0, 1).to(u_dtype)
        if ctx.needs_input_grad[1]:
            # dk[k] = sum_{b,t} dy[t] u[t + k]: each block of dy against its window, then the band's diagonals
            blocks = dy.new_zeros((G, B, nb * M))
            blocks[..., :T_out] = dy.transpose(0, 1)
            P = torch.bmm(blocks.view(G, B * nb, M).transpose(1, 2), windows)  # (G, M, W)
            # the diagonals P[g, q, q + k], read in place (entry (q, q + k) lies at q * (W + 1) + k) and summed
            # over q in float32 at least
            diagonals = P.as_strided((G, M, K), (M * W, W + 1, 1), P.storage_offset())
            grad_kernel = diagonals.sum(1, dtype=torch.promote_types(P.dtype, torch.float32)).to(k_dtype)
        if has_bias and ctx.needs_input_grad[2]:
            grad_bias = grad.sum((0, 2, 3), dtype=torch.promote_types(grad.dtype, torch.float32)).to(k_dtype)
        return grad_u, grad_kernel, grad_bias, None, None, None


def banded_temporal_conv(u: torch.Tensor, kernel: torch.Tensor, bias: torch.Tensor | None, left: int, right: int,
                         dtype: torch.dtype) -> torch.Tensor:
    """One temporal filter per channel: ``u`` (B, G, T) zero-padded by (left, right) along time, convolved
    (cross-correlated, as Conv2d does) with ``kernel`` (G, K), plus ``bias`` (G,) if given; computed in
    ``dtype``. Returns (B, G, 1, T + left + right - K + 1) in ``dtype``; gradients reach ``u`` (in its dtype),
    ``kernel`` and ``bias``."""
    return _BandedTemporalConv.apply(u, kernel, bias, left, right, dtype)


__all__ = ["banded_temporal_conv", "BLOCK"]
