"""Lag moments of a batch: the exact BatchNorm statistics of a temporal convolution's output, without it.

The spatial-first path (:func:`eegclf.models.fast_paths.spatial_first`) never computes EEGNet's first
temporal convolution, yet its BatchNorm normalises by that convolution's batch mean and variance. For a
kernel w of K taps, the output's mean is w @ m and its mean square w @ S @ w, with m and S the moments of the
K-sample windows the kernel sees (:func:`lag_moments`). Every step of a 64-channel training run needs them, so
they are computed in a fixed, small number of operations: one FFT of the batch, one Gram matrix of the few
samples near the rows' ends, and gathers from it whose indices depend only on the shapes (cached).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch


def _smooth(n: int) -> bool:
    """Whether n's only prime factors are 2, 3 and 5 (the lengths where FFTs are fastest)."""
    for p in (2, 3, 5):
        while n % p == 0:
            n //= p
    return n == 1


def fft_length(T: int, K: int) -> int:
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


@lru_cache(maxsize=64)
def _plan(T: int, left: int, right: int, K: int) -> dict:
    """Which samples of a row the small terms read, and where each term sits in their Gram matrix.

    The columns ``cols`` of the rows are read (as ``runs`` of consecutive samples), with an all-zero column at
    index ``z`` that stands for the zero padding; the Gram matrix G of those columns, flattened, holds every
    product the terms need, and each index array below picks them out (``z * (c + 1) + z`` picks a zero)."""
    L = fft_length(T, K)
    Tp = T + left + right
    wanted = list(range(min(K - 1, T)))
    wanted += list(range(max(0, (L - K + 1) if L <= T else T - (K - 1)), T))
    cols = list(dict.fromkeys(wanted))  # first occurrences, in order
    where = {c: i for i, c in enumerate(cols)}
    z = len(cols)
    width = z + 1

    def e(c: int) -> int:  # the column of x sample c in the gathered block (z: padding or absent)
        return where.get(c, z) if 0 <= c < T else z

    def pair(a: int, b: int) -> int:
        return e(a) * width + e(b)

    zero = z * width + z
    edge_rows = range(K - 1)
    head = [[pair(s - left, s + d - left) if s + d < K - 1 else zero for d in range(K)] for s in edge_rows]
    start = Tp - (K - 1)
    tail = [[pair(start + s - left, start + s + d - left) if s + d < K - 1 else zero for d in range(K)]
            for s in edge_rows]
    runs = []  # cols as runs of consecutive samples (the first few and the last few): read as slices
    for c in cols:
        if runs and runs[-1][1] == c:
            runs[-1][1] = c + 1
        else:
            runs.append([c, c + 1])
    plan = {
        "L": L, "runs": [tuple(r) for r in runs], "z": z,
        "head": np.array(head, dtype=np.int64).reshape(K - 1, K),
        "tail": np.array(tail, dtype=np.int64).reshape(K - 1, K),
        "head_sum": np.array([e(s - left) for s in edge_rows], dtype=np.int64),
        "tail_sum": np.array([e(start + s - left) for s in edge_rows], dtype=np.int64),
        "after_fft": np.array([e(c) for c in range(L, T)], dtype=np.int64),
        "lo": np.minimum(np.arange(K)[:, None], np.arange(K)[None, :]),
        "lag": np.abs(np.arange(K)[:, None] - np.arange(K)[None, :]),
    }
    if L <= T and K > 1:
        # the FFT's wrapped products at lag d: sample L + j - d (of the FFT's last d) times sample j < d
        plan["wrap"] = np.array([[pair(j, L + j - d) if j < d else zero for j in range(K - 1)]
                                 for d in range(K)], dtype=np.int64).reshape(K, K - 1)
    if L < T:  # the products x[s] x[s - d] with s among the samples after the FFT's L
        plan["later"] = np.array([[pair(s, s - d) for s in range(L, T)] for d in range(K)],
                                 dtype=np.int64).reshape(K, T - L)
    return plan


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
    autocorrelation: the products that wrap around (the last d of those L samples with the first d) are taken
    out and the products that reach the T - L samples after them added. Those, and the positions a window
    leaves out (within the first and the last K - 1 samples), are products of samples near the rows' ends:
    all of them come from one Gram matrix of those samples. Cost: one real FFT of the input (about 5 log2(T)
    flops a sample, against 2 K multiply-adds of direct lag products), read in its own layout, and a fixed
    number of small operations; no gradient is needed (the input's).

    Standardising a row scales its spectrum by 1 / std and, as the FFT spans L samples of the row and nothing
    else, moves only its zero-frequency term (by mean * L): the spectra of the raw input serve, weighted, and
    the input is never standardised as a whole (the gathered samples near the ends are, directly).
    """
    B, _, C, T = x.shape
    Tp = T + left + right
    T_out = Tp - K + 1
    n = B * C
    X = x.detach().reshape(n, T)
    plan = _plan(T, left, right, K)
    L = plan["L"]
    if standardize is not None and L > T:  # short rows: padded FFT, where standardising moves every frequency
        X = (X.view(B, C, T) - standardize[0].reshape(C, 1)).div_(standardize[1].reshape(C, 1)).view(n, T)
        standardize = None
    # (n, c): the samples near the rows' ends, copied as (at most two) slices (a gather of the columns took 4x longer)
    ends = torch.cat([X[:, a:b] for a, b in plan["runs"]], 1) if plan["runs"] else X[:, :0]
    if standardize is not None:
        mu = standardize[0].detach().to(X.dtype).reshape(1, C).expand(B, C).reshape(n, 1)
        inv = standardize[1].detach().to(X.dtype).reciprocal().reshape(1, C).expand(B, C).reshape(n, 1)
        ends = (ends - mu).mul_(inv)

    spectra = torch.view_as_real(torch.fft.rfft(X[:, :L] if L <= T else X, n=L)).reshape(n, -1)
    dc = spectra[:, 0].to(torch.float64, copy=True)  # the zero-frequency terms: each row's sum over the first L
    squares = spectra.square_()  # in place: no second buffer
    if standardize is None:
        power = squares.sum(0).reshape(-1, 2).sum(1).double()  # the rows' summed power spectra
    else:
        dc = (dc - mu[:, 0].double() * L) * inv[:, 0].double()
        power = (inv[:, 0].square() @ squares).reshape(-1, 2).sum(1).double()
        power[0] = dc.square().sum()
    full = torch.fft.irfft(power, n=L)[:K]  # full[d]: q_d summed over every position (of the first L)

    # the terms near the rows' ends: a few dozen operations on K x K numbers, in numpy (a torch call costs
    # several microseconds here, a numpy one about one)
    c = plan["z"]
    gram = np.zeros((c + 1, c + 1))  # row and column c: the zero padding
    gram[:c, :c] = (ends.t() @ ends).double().cpu().numpy()
    gram = gram.reshape(-1)
    sums = np.append(ends.sum(0, dtype=torch.float64).cpu().numpy(), 0.0)
    full = full.cpu().numpy()
    if "wrap" in plan:
        full = full - gram[plan["wrap"]].sum(1)
    if "later" in plan:
        full = full + gram[plan["later"]].sum(1)
    total = float(dc.sum()) + sums[plan["after_fft"]].sum()
    q_head, q_tail = gram[plan["head"]], gram[plan["tail"]]  # (K - 1, K): q_d[s] within each end block
    sum_head, sum_tail = sums[plan["head_sum"]], sums[plan["tail_sum"]]

    before, after = np.zeros((K, K)), np.zeros((K, K))
    before[1:] = q_head.cumsum(0)  # positions s < k
    after[: K - 1] = q_tail[::-1].cumsum(0)[::-1]  # positions s >= k + T_out
    R = (full[None, :] - before - after) / (n * T_out)  # R[k, d]: mean of xp[t + k] xp[t + k + d]
    m_before, m_after = np.zeros(K), np.zeros(K)
    m_before[1:] = sum_head.cumsum(0)
    m_after[: K - 1] = sum_tail[::-1].cumsum(0)[::-1]
    m = (total - m_before - m_after) / (n * T_out)
    return (torch.from_numpy(m).to(x.device), torch.from_numpy(R[plan["lo"], plan["lag"]]).to(x.device),
            n * T_out)


__all__ = ["lag_moments", "fft_length"]
