"""Per-channel standardisation inside the model, so exported models take raw trials."""

from __future__ import annotations

import torch
from torch import nn


class Standardized(nn.Module):
    """``net((x - mean) / std)`` with per-channel statistics taken from the training data only.

    Input: (batch, 1, n_chans, n_times) raw trials. ``mean``/``std``: shape (n_chans,).
    The statistics are buffers, so they travel in checkpoints and exports with the weights.
    """

    def __init__(self, net: nn.Module, mean, std):
        super().__init__()
        self.net = net
        mean = torch.as_tensor(mean, dtype=torch.float32).reshape(1, 1, -1, 1)
        std = torch.as_tensor(std, dtype=torch.float32).reshape(1, 1, -1, 1)
        self.register_buffer("mean", mean.clone())
        self.register_buffer("std", std.clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.mean) / self.std)

    def apply_constraints(self) -> None:
        self.net.apply_constraints()


def channel_stats(X) -> tuple:
    """Per-channel mean and std over trials and time of X (n, 1, C, T); std 0 becomes 1."""
    import numpy as np

    X = np.asarray(X, dtype=np.float64)
    mean = X.mean(axis=(0, 1, 3))
    std = X.std(axis=(0, 1, 3))
    std[~(std > 0)] = 1.0
    return mean.astype(np.float32), std.astype(np.float32)
