"""Exact fast paths: the first blocks of the deep models computed in the order that costs least.

The models' first layers are linear up to their first nonlinearity, so the same function can be computed in
another order with far less arithmetic at 64 channels. Every kernel here is built from the models' own
parameters at every call, so autograd trains the parameters the models define (and max-norm acts on them);
state dicts, checkpoints and module listings are unchanged. Nothing is approximated: the two paths agree to
float rounding (tests/test_fast_paths.py), not to the byte.

- :func:`spatial_first` (EEGNet, EEGNet-8,2): temporal conv -> BatchNorm -> depthwise spatial conv becomes
  spatial projection -> per-filter temporal conv. In training mode the first BatchNorm's batch statistics are
  computed exactly from lag moments of the input (:func:`lag_moments`), which cost about K x the input size
  instead of F1 x K x the input size.
- :func:`merged_conv` (DeepConvNet, ShallowConvNet): temporal conv then spatial conv with nothing between them
  is one convolution over (channels x time) with the product kernel. It is always the cheaper order, so there is
  nothing to decide: per output sample it costs G C K multiply-adds against F K C + G F C, and both models have as
  many spatial filters as temporal ones (G = F), where G C K < F K C + F F C at every channel count and kernel.

Under bf16 autocast, :func:`spatial_first` computes its batch statistics and projection in float32 and its
per-filter temporal convolution in bf16 like the convolution it replaces (as banded matrix products: oneDNN's
grouped convolution is slow in bf16), and :func:`merged_conv` runs in bf16 like the convolutions it replaces;
the rest of the network as always. Both agree with the reference modules within bf16 tolerance.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from eegclf.config import FAST_PATH_AUTO, FAST_PATH_MODES, FAST_PATH_OFF
from eegclf.models.temporal_conv import grouped_temporal_conv
from eegclf.models.banded_conv import banded_temporal_conv
from eegclf.models.lag_moments import lag_moments

REFERENCE = "reference"


def full_precision(x: torch.Tensor) -> torch.Tensor:
    """``x`` in float32 when it is in a half-precision type (under autocast), else as it is (float64 stays)."""
    return x.float() if x.dtype in (torch.bfloat16, torch.float16) else x


def time_padding(*modules: nn.Module) -> tuple[int, int]:
    """Zeros added (left, right) along time by ZeroPad2d modules and the convs' own padding."""
    left = right = 0
    for m in modules:
        if isinstance(m, nn.ZeroPad2d):
            left, right = left + m.padding[0], right + m.padding[1]
        elif isinstance(m, nn.Conv2d):
            if isinstance(m.padding, str) or m.padding[0] != 0:
                raise ValueError("the fast path handles zero padding along time only")
            left, right = left + m.padding[1], right + m.padding[1]
    return left, right


def batchnorm_affine(bn: nn.BatchNorm2d, mean: torch.Tensor | None, var: torch.Tensor | None, count: int):
    """``bn`` as ``y * scale + shift`` per channel, and its running statistics updated as nn.BatchNorm2d would.

    ``mean``/``var`` (biased) are the batch statistics of ``bn``'s input, used (and folded into the running
    statistics, the variance unbiased by count / (count - 1)) when ``bn`` normalises by batch statistics;
    in eval mode the running statistics are used and these may be None.
    """
    use_batch = bn.training or bn.running_mean is None
    if not use_batch:
        mean, var = bn.running_mean.double(), bn.running_var.double()
    elif bn.training and bn.track_running_stats:
        with torch.no_grad():
            bn.num_batches_tracked.add_(1)
            factor = 1.0 / float(bn.num_batches_tracked) if bn.momentum is None else bn.momentum
            unbiased = var.detach() * (count / max(count - 1, 1))
            bn.running_mean.mul_(1 - factor).add_(mean.detach().to(bn.running_mean.dtype), alpha=factor)
            bn.running_var.mul_(1 - factor).add_(unbiased.to(bn.running_var.dtype), alpha=factor)
    inv = torch.rsqrt(var + bn.eps)
    scale = inv if bn.weight is None else bn.weight.double() * inv
    shift = -mean * scale if bn.bias is None else bn.bias.double() - mean * scale
    return scale, shift


def spatial_first(x: torch.Tensor, pads, temporal: nn.Conv2d, bn: nn.BatchNorm2d, depthwise: nn.Conv2d,
                  standardize: tuple[torch.Tensor, torch.Tensor] | None = None):
    """EEGNet's temporal conv (F1 filters, no bias) -> ``bn`` -> depthwise spatial conv (D per filter, no bias),
    computed spatial-first. ``x``: (B, 1, C, T); ``pads``: the modules before ``temporal`` that pad time.
    ``standardize = (mean, std)`` (per channel, C values each, e.g. of shape (1, 1, C, 1)): the blocks' input
    is (x - mean) / std, folded into the spatial projection (filters divided by std, less their response to
    mean) and the batch statistics, which saves two passes over the input (the input's standardisation took
    about a tenth of a 64-channel training step). Returns what ``depthwise`` would output, (B, F1 * D, 1, T_out).
    Under autocast (bf16) the per-filter temporal convolution runs in the autocast dtype, as the reference's
    convolutions do, as banded matrix products (:mod:`eegclf.models.banded_conv`), and the output is in that
    dtype, and so does the spatial projection where the input's means allow it; the batch statistics stay in
    float32 and float64."""
    device = x.device.type
    hand_off = torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else None
    with torch.autocast(device, enabled=False):
        x = full_precision(x)
        left, right = time_padding(*pads, temporal)
        w = temporal.weight  # (F1, 1, 1, K)
        F1, K = w.shape[0], w.shape[-1]
        s = depthwise.weight  # (F1 * D, 1, C, 1)
        D = s.shape[0] // F1
        w64 = w.reshape(F1, K).double()
        if bn.training or bn.running_mean is None:
            m, S, count = lag_moments(x, left, right, K, standardize)
            mean = w64 @ m
            var = (torch.einsum("fk,kl,fl->f", w64, S, w64) - mean * mean).clamp_min(0.0)
        else:
            mean = var = None
            count = 0
        scale, shift = batchnorm_affine(bn, mean, var, count)
        # (B, F1 * D, 1, Tp): each spatial filter's projection of the channels, as one batched matrix product
        # (its weight gradient about 2x cheaper than the (C, 1) convolution's in oneDNN; matmul and einsum copied
        # the input into another layout)
        B, _, C, T = x.shape
        filters = s.reshape(F1 * D, C)
        # under autocast the projection too runs in its dtype, as the reference's first convolution does: on
        # the standardised input there, on the raw input here, which is as precise where each channel's mean
        # lies within its spread (band-passed EEG); elsewhere it stays in float32
        low = hand_off is not None and (standardize is None or bool((standardize[0].abs() <= standardize[1]).all()))
        dtype = hand_off if low else x.dtype
        offset = None
        if standardize is not None:
            filters = filters / standardize[1].reshape(1, C).to(x.dtype)
            offset = filters @ standardize[0].reshape(C, 1).to(x.dtype)  # (F1 * D, 1)
        kernel = (w64 * scale[:, None]).to(x.dtype).repeat_interleave(D, 0)  # (F1 * D, K)
        bias = shift.to(x.dtype).repeat_interleave(D) * s.sum((1, 2, 3))
        if hand_off is not None:
            # filter-major: the trials copied once as (C, B * T) in the product's dtype, so that one matrix
            # product projects them all and its output (F1 * D, B, T) is the layout the banded convolution
            # reads (per-trial products of 64 x 641 were about 1 ms of a step under bf16, this one a fraction)
            trials = torch.empty((C, B, T), dtype=dtype, device=x.device)
            trials.copy_(x.reshape(B, C, T).transpose(0, 1))
            f = filters.to(dtype)
            u = (torch.mm(f, trials.view(C, B * T)) if offset is None
                 else torch.addmm(offset.to(dtype), f, trials.view(C, B * T), beta=-1))
            # the temporal convolution in the autocast dtype, as the reference computes it, on the matrix units
            return banded_temporal_conv(u.view(-1, B, T).transpose(0, 1), kernel, bias, left, right, hand_off)
        trials = x.reshape(B, C, T)
        if offset is None:
            u = torch.bmm(filters.expand(B, -1, -1), trials)
        else:
            u = torch.baddbmm(offset.unsqueeze(0), filters.expand(B, -1, -1), trials, beta=-1)
        return grouped_temporal_conv(F.pad(u, (left, right)).unsqueeze(2), kernel.reshape(F1 * D, 1, 1, K), bias)


# oneDNN's depthwise (grouped) temporal convolution runs about 6x slower per multiply-add than the dense
# convolutions in a training step (its weight gradient; about 2x in a forward pass alone), measured on this
# project's 2-core AVX2 CPU with torch 2.13: the cost model below weighs its arithmetic by that.
GROUPED_COST_TRAIN = 6.0
GROUPED_COST_EVAL = 2.0


def spatial_first_cheaper(n_chans: int, F1: int, D: int, K: int, training: bool) -> bool:
    """Whether spatial-first costs less than the reference, per output sample and trial.

    Reference: temporal conv F1 K C, depthwise F1 D C. Spatial-first: projection F1 D C, grouped temporal conv
    F1 D K (weighted by its kernel's cost), and in training the lag moments, about 2 K C. In multiply-adds
    alone it is cheaper exactly when C > D; with the weights, from about 16 channels in training (EEGNet,
    EEGNet-8,2) and 5 in inference, so the study's 2 channels keep the reference order.
    """
    C = n_chans
    reference = F1 * K * C + F1 * D * C
    grouped = GROUPED_COST_TRAIN if training else GROUPED_COST_EVAL
    fast = F1 * D * C + grouped * F1 * D * K + (2 * K * C if training else 0)
    return fast < reference


def merged_conv(x: torch.Tensor, temporal: nn.Conv2d, spatial: nn.Conv2d) -> torch.Tensor:
    """``spatial(temporal(x))`` as one convolution: temporal (F, 1, 1, K) with optional bias, spatial
    (G, F, C, 1) with optional bias, both unpadded and unstrided. ``x``: (B, 1, C, T) -> (B, G, 1, T - K + 1).

    The product kernel is formed in the parameters' precision; the convolution itself runs as the two
    reference convolutions would, in bf16 under bf16 autocast (at the study's 2 channels a float32 merged
    convolution was slower than the two bf16 ones)."""
    wt, ws = temporal.weight, spatial.weight
    with torch.autocast(x.device.type, enabled=False):
        kernel = torch.einsum("gfc,fk->gck", ws[..., 0], wt[:, 0, 0, :]).unsqueeze(1)  # (G, 1, C, K)
        bias = spatial.bias
        if temporal.bias is not None:
            folded = torch.einsum("gfc,f->g", ws[..., 0], temporal.bias)
            bias = folded if bias is None else bias + folded
    out = F.conv2d(x, kernel, bias)
    if ws.is_contiguous(memory_format=torch.channels_last) and not ws.is_contiguous():
        # a channels_last model (as the trainer makes it): hand the next layers the layout they run fastest in
        # (a one-input-channel kernel is ambiguous, so oneDNN returns the plain layout)
        out = out.contiguous(memory_format=torch.channels_last)
    return out


__all__ = ["FAST_PATH_AUTO", "FAST_PATH_MODES", "FAST_PATH_OFF", "REFERENCE", "lag_moments", "batchnorm_affine",
           "spatial_first", "merged_conv", "spatial_first_cheaper", "time_padding"]
