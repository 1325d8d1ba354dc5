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


def _smooth(n: int) -> bool:
    """Whether n's only prime factors are 2, 3 and 5 (the lengths where FFTs are fastest)."""
    for p in (2, 3, 5):
        while n % p == 0:
            n //= p
    return n == 1


def _fft_length(T: int, K: int) -> int:
    """The FFT length for lag products up to K - 1 of rows of T samples: the largest fast length <= T (read
    from the rows in place, no padded copy; the lags that wrap around are taken out after) where that leaves
    at least 2K samples, else the smallest fast length >= T + K - 1 (nothing wraps around)."""
    n = T
    while n >= 2 * K and not _smooth(n):
        n -= 1
    if n >= 2 * K:
        return n
    n = T + K - 1
    while not _smooth(n):
        n += 1
    return n


def _diagonal_sums(gram: torch.Tensor, K: int) -> torch.Tensor:
    """(K - 1, K): row i holds gram[i, i + d] for d = 0 .. K - 1 (0 past the last column), ``gram`` (K - 1, K - 1)."""
    offsets = torch.arange(K)
    col = torch.arange(K - 1)[:, None] + offsets[None, :]
    return torch.where(col < K - 1, gram.gather(1, col.clamp(max=max(K - 2, 0))), 0.0)


def lag_moments(x: torch.Tensor, left: int, right: int, K: int,
                standardize: tuple[torch.Tensor, torch.Tensor] | None = None) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Moments of the windows a (1, K) convolution sees, for BatchNorm statistics of its output.

    ``x``: (B, 1, C, T), standardised first when ``standardize = (mean, std)`` is given (per channel, C values
    each: the moments are those of (x - mean) / std); it is zero-padded by (left, right) along time, giving Tp
    samples and T_out = Tp - K + 1 output positions. Returns float64 ``m`` (K,) and ``S`` (K, K) and the count
    N = B * C * T_out, with ``m[k]`` the mean of xp[b, c, t + k] and ``S[k, l]`` the mean of
    xp[b, c, t + k] * xp[b, c, t + l] over b, c and t < T_out. For a kernel w, the conv output's mean is w @ m
    and its mean square w @ S @ w.

    How: with d = l - k >= 0, ``S[k, l]`` sums the lag products q_d[s] = sum_{b,c} xp[s] xp[s + d] over the
    positions k <= s < k + T_out. Over all positions they are the rows' autocorrelation at lag d, summed over
    rows: the inverse FFT of the rows' summed power spectra (the zero padding adds nothing). The FFT reads the
    first L <= T samples of each row in place (L a fast length; no padded copy), so it gives their circular
    autocorrelation: the products that wrap around (the last d of those L samples with the first d) come out
    of one small Gram matrix, and the products that reach the T - L samples after them are added directly.
    The positions a window leaves out lie within the first and the last K - 1 samples, so they come from two
    more small Gram matrices. Cost: one real FFT of the input (about 5 log2(T) flops a sample, against 2 K
    multiply-adds of direct lag products), read in its own layout; no gradient is needed (the input's).

    Standardising a row scales its spectrum by 1 / std and, as the FFT spans L samples of the row and nothing
    else, moves only its zero-frequency term (by mean * L): the spectra of the raw input serve, weighted, and
    the input is never standardised as a whole (the small edge blocks are, directly).
    """
    B, _, C, T = x.shape
    Tp = T + left + right
    T_out = Tp - K + 1
    n = B * C
    X = x.detach().reshape(n, T)
    L = _fft_length(T, K)
    if standardize is not None and L > T:  # short rows: padded FFT, where standardising shifts every frequency
        X = (X.view(B, C, T) - standardize[0].reshape(C, 1)).div_(standardize[1].reshape(C, 1)).view(n, T)
        standardize = None
    if standardize is None:
        def rows(a: int, b: int | None = None) -> torch.Tensor:
            return X[:, a:b]
    else:
        mu = standardize[0].detach().to(X.dtype).reshape(1, C).expand(B, C).reshape(n, 1)
        inv = standardize[1].detach().to(X.dtype).reciprocal().reshape(1, C).expand(B, C).reshape(n, 1)

        def rows(a: int, b: int | None = None) -> torch.Tensor:
            return (X[:, a:b] - mu) * inv

    spectra = torch.view_as_real(torch.fft.rfft(X[:, :L] if L <= T else X, n=L)).reshape(n, -1)
    dc = spectra[:, 0].double()  # the zero-frequency terms: each row's sum over the first L samples
    if standardize is not None:
        dc = (dc - mu[:, 0].double() * L) * inv[:, 0].double()
    total = dc.sum()
    if L < T:
        total = total + rows(L).double().sum()
    squares = spectra.square_()  # in place: no second buffer
    if standardize is None:
        power = squares.sum(0)
    else:
        power = inv[:, 0].square() @ squares
        power[0] = 0.0
    power = power.reshape(-1, 2).sum(1).double()  # the rows' summed power spectra
    if standardize is not None:
        power[0] = dc.square().sum()
    full = torch.fft.irfft(power, n=L)[:K]  # full[d]: q_d summed over every position
    zero = torch.zeros(1, K, dtype=torch.float64)
    if L <= T and K > 1:
        # the wrapped products: sample L - K + 1 + i (of the last K - 1 of the first L) times sample j (of the
        # first K - 1) is lag d = K - 1 - (i - j), so lag d sums the (i - j = K - 1 - d)-th diagonal of their Gram
        gram = (rows(0, K - 1).t() @ rows(L - K + 1, L)).double()  # [j, i]
        full = full - _diagonal_sums(gram, K).sum(0).flip(0)
    if L < T:  # the products x[s] x[s - d] with s among the samples after the first L
        later = rows(L - K + 1).double()  # (n, T - L + K - 1)
        windows = later.unfold(1, K, 1)[:, : T - L]  # (n, T - L, K): x[s - K + 1 .. s] for s = L .. T - 1
        full = full + torch.einsum("nj,njk->k", later[:, K - 1 :], windows).flip(0)
    # the first and last K - 1 samples of the padded rows (zeros where the padding is)
    start = Tp - (K - 1) - left  # where the last K - 1 samples begin, in x's own time
    head = F.pad(rows(0, max(0, K - 1 - left)), (left, right))[:, : K - 1]
    tail = F.pad(rows(max(0, start)), (left, right))[:, 1 - K:] if K > 1 else X[:, :0]
    offsets = torch.arange(K)

    def edge(block: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """q_d[s] (K - 1, K) and the column sums (K - 1,) of ``block`` (n, K - 1)."""
        gram = (block.t() @ block).double()
        q = _diagonal_sums(gram, K) if K > 1 else gram
        return q.reshape(K - 1, K), block.sum(0, dtype=torch.float64)

    q_head, sum_head = edge(head)
    q_tail, sum_tail = edge(tail)
    before = torch.cat([zero, q_head.cumsum(0)])[:K]  # positions s < k
    after = torch.cat([q_tail.flip(0).cumsum(0).flip(0), zero])[:K]  # positions s >= k + T_out
    R = (full[None, :] - before - after) / (n * T_out)  # R[k, d]: mean of xp[t + k] xp[t + k + d]
    m_before = torch.cat([zero[0, :1], sum_head.cumsum(0)])[:K]
    m_after = torch.cat([sum_tail.flip(0).cumsum(0).flip(0), zero[0, :1]])[:K]
    m = (total - m_before - m_after) / (n * T_out)
    lo = torch.minimum(offsets[:, None], offsets[None, :])
    lag = (offsets[:, None] - offsets[None, :]).abs()
    return m, R[lo, lag], n * T_out


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
    dtype; the batch statistics and the projection stay in float32."""
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
        if standardize is None:
            u = torch.bmm(filters.expand(B, -1, -1), x.reshape(B, C, T))
        else:
            filters = filters / standardize[1].reshape(1, C).to(x.dtype)
            offset = (filters @ standardize[0].reshape(C, 1).to(x.dtype)).unsqueeze(0)  # (1, F1 * D, 1)
            u = torch.baddbmm(offset, filters.expand(B, -1, -1), x.reshape(B, C, T), beta=-1)
        kernel = (w64 * scale[:, None]).to(x.dtype).repeat_interleave(D, 0)  # (F1 * D, K)
        bias = shift.to(x.dtype).repeat_interleave(D) * s.sum((1, 2, 3))
        if hand_off is not None:  # in the autocast dtype, as the reference computes it, on the matrix units
            return banded_temporal_conv(u, kernel, bias, left, right, hand_off)
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
