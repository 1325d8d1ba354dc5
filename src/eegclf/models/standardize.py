"""Per-channel standardisation inside the model, so exported models take raw trials."""

from __future__ import annotations

import torch
from torch import nn


class Standardized(nn.Module):
    """``net((spatial @ x - mean) / std)`` with per-channel statistics taken from the training data only.

    Input: (batch, 1, n_chans, n_times) raw trials. ``mean``/``std``: shape (n_chans,). ``spatial``
    (optional, (n_chans, n_chans)): a fixed matrix applied to every trial first, the user's Euclidean-alignment
    whitener (:mod:`eegclf.data.alignment`), so an aligned model still takes raw trials. All are buffers, so
    they travel in checkpoints and exports with the weights; models without alignment have no ``spatial``.

    ``channel_map`` (optional, (n_chans, n_inputs)): a fixed matrix applied before anything else, from the
    user's channels (in the user's order) to the network's (:meth:`eegclf.data.channels.ChannelMatch.matrix`:
    reordering, extras dropped, missing channels interpolated by MNE's spherical spline). The model then takes
    the user's raw channels: input (batch, 1, n_inputs, n_times).
    """

    def __init__(self, net: nn.Module, mean, std, spatial=None, channel_map=None):
        super().__init__()
        self.net = net
        mean = torch.as_tensor(mean, dtype=torch.float32).reshape(1, 1, -1, 1)
        std = torch.as_tensor(std, dtype=torch.float32).reshape(1, 1, -1, 1)
        self.register_buffer("mean", mean.clone())
        self.register_buffer("std", std.clone())
        if spatial is not None:
            self.register_buffer("spatial", torch.as_tensor(spatial, dtype=torch.float32).clone())
        else:
            self.spatial = None
        # a None buffer is in no state dict (older checkpoints load as they are) but can be set later (export)
        self.register_buffer("channel_map", None if channel_map is None else
                             torch.as_tensor(channel_map, dtype=torch.float32).clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.channel_map is not None:
            x = torch.matmul(self.channel_map, x)  # (C, C_in) @ (batch, 1, C_in, T)
        if self.spatial is not None:
            x = torch.matmul(self.spatial, x)  # (C, C) @ (batch, 1, C, T)
        if not torch.jit.is_scripting() and not torch.jit.is_tracing():
            return self._folded_forward(x)
        return self.net((x - self.mean) / self.std)

    @torch.jit.unused
    def _folded_forward(self, x: torch.Tensor) -> torch.Tensor:
        """A network that can fold the standardisation into its first layer does (``forward_standardized``,
        EEGNet's fast path: two passes over the input saved); scripted, traced and exported graphs keep the
        plain order."""
        fold = getattr(self.net, "forward_standardized", None)
        return self.net((x - self.mean) / self.std) if fold is None else fold(x, self.mean, self.std)

    def apply_constraints(self) -> None:
        self.net.apply_constraints()


def channel_stats(X, index=None, chunk_bytes: int = 8 << 20) -> tuple:
    """Per-channel mean and std over trials and time of X (n, 1, C, T); std 0 becomes 1.

    ``index`` (optional, 1-D) picks the trials to use, as ``X[index]`` would, without copying them all.
    Returns float32 arrays of shape (C,). Both passes accumulate in float64 over blocks of trials of about
    ``chunk_bytes`` (as float64), so the extra memory stays fixed instead of a float64 copy of all of X.
    """
    import numpy as np

    X = np.asarray(X)
    rows = np.arange(len(X)) if index is None else np.asarray(index)
    n, n_chans = len(rows), X.shape[2]
    count = n * (X[:1].size // n_chans) if n_chans else 0
    step = max(1, chunk_bytes // max(1, 8 * X[:1].size))

    def blocks():
        for i in range(0, n, step):
            yield X[i : i + step] if index is None else X[rows[i : i + step]]

    axes = (0, 1, 3)
    total = np.zeros(n_chans)
    for block in blocks():
        total += block.sum(axis=axes, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
    squares = np.zeros(n_chans)
    for block in blocks():
        d = block.astype(np.float64) - mean[None, None, :, None]
        squares += np.einsum("abcd,abcd->c", d, d)
    with np.errstate(invalid="ignore", divide="ignore"):
        std = np.sqrt(squares / count)
    std[~(std > 0)] = 1.0
    return mean.astype(np.float32), std.astype(np.float32)
