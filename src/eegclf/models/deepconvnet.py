"""DeepConvNet as the original study builds it (with the max-norm its spec lists): registry name ``"deepconvnet"``."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sized

import torch
from torch import nn

from eegclf.errors import ConfigError
from eegclf.models.base import DeepModel, check_int, out_len
from eegclf.models.fast_paths import merged_conv

CONV_MAX_NORM = 2.0
DENSE_MAX_NORM = 0.5


class DeepConvNet(DeepModel):
    """DeepConvNet, study variant (150,977 parameters at n_chans=2, n_times=750, n_outputs=2).

    Input ``(batch, 1, n_chans, n_times)`` float32; output logits ``(batch, n_outputs)`` (softmax is left to
    the loss).

    Blocks, with ``F = n_filters = (25, 50, 100, 200)``, ``k = kernel_length = 5``, ``m = pool_length = 2``;
    every conv is "valid" with a bias:

    - ``block1``: ``conv_time`` Conv2d(1, F[0], (1, k)); ``conv_spat`` Conv2d(F[0], F[0], (n_chans, 1));
      ``bn`` BatchNorm2d; ``act``; ``pool`` MaxPool2d((1, m)); ``drop`` Dropout(dropout)
    - ``block2`` .. ``block4``: ``conv`` Conv2d(F[i-1], F[i], (1, k)); ``bn``; ``act``; ``pool``; ``drop``
    - ``flatten`` then ``classify``: Linear(F[3] * T', n_outputs), T' = 43 at n_times=750 (from the lengths)

    BatchNorm: eps 1e-5, momentum 0.1. Max-norm (on by default, ``max_norm=False`` turns it off): 2 on every
    conv kernel, 0.5 on the dense layer, applied by ``apply_constraints()`` after each optimiser step.

    Args:
        n_chans: EEG channels. n_times: samples per trial (>= 76 with the defaults). n_outputs: classes.
        activation: a name (relu, leaky_relu, elu, gelu, silu; case-insensitive) or an nn.Module class.
        activation_kwargs: options of the activation, e.g. ``{"negative_slope": 0.01}`` or ``{"alpha": 1.0}``.
        dropout: dropout probability (0.5 in the spec; None gives 0.5).
        max_norm: apply the spec's max-norm constraints.
        n_filters: filters of the four blocks (4 integers).
        kernel_length: temporal kernel of every conv block. pool_length: max-pool size and stride.

    Reference: R. T. Schirrmeister et al., "Deep learning with convolutional neural networks for EEG decoding
    and visualization", Human Brain Mapping 38 (2017) 5391-5420.
    """

    model_name = "deepconvnet"
    default_dropout = 0.5
    fast_path_name = "merged"  # conv_time and conv_spat as one (n_chans x k) convolution: fast_paths.merged_conv

    def __init__(self, n_chans: int, n_times: int, n_outputs: int = 2, *, activation="elu",
                 activation_kwargs: dict | None = None, dropout: float | None = 0.5, max_norm: bool = True,
                 n_filters=(25, 50, 100, 200), kernel_length: int = 5, pool_length: int = 2):
        super().__init__(n_chans, n_times, n_outputs, activation=activation, activation_kwargs=activation_kwargs,
                         dropout=dropout, max_norm=max_norm, kernel_length=kernel_length, pool_length=pool_length)
        label = type(self).__name__
        if isinstance(n_filters, (str, bytes)) or not isinstance(n_filters, Sized) or len(n_filters) != 4:
            raise ConfigError(f"{label}: n_filters={n_filters!r} is invalid: expected 4 integers")
        F = [check_int(label, "n_filters", f) for f in n_filters]
        self.config["n_filters"] = F
        c = self.config
        k, m, p = c["kernel_length"], c["pool_length"], c["dropout"]

        def final_len(t: int) -> int:
            for _ in range(4):
                t = out_len(out_len(t, k), m, stride=m)
            return t

        n_flat = F[3] * self.flat_length(final_len)

        def tail(n: int) -> list:
            return [("bn", nn.BatchNorm2d(n)), ("act", self.make_activation()),
                    ("pool", nn.MaxPool2d((1, m))), ("drop", nn.Dropout(p))]

        self.block1 = nn.Sequential(OrderedDict([
            ("conv_time", nn.Conv2d(1, F[0], (1, k))),
            ("conv_spat", nn.Conv2d(F[0], F[0], (c["n_chans"], 1))),
            *tail(F[0]),
        ]))
        self.block2 = nn.Sequential(OrderedDict([("conv", nn.Conv2d(F[0], F[1], (1, k))), *tail(F[1])]))
        self.block3 = nn.Sequential(OrderedDict([("conv", nn.Conv2d(F[1], F[2], (1, k))), *tail(F[2])]))
        self.block4 = nn.Sequential(OrderedDict([("conv", nn.Conv2d(F[2], F[3], (1, k))), *tail(F[3])]))
        self.flatten = nn.Flatten()
        self.classify = nn.Sequential(nn.Linear(n_flat, c["n_outputs"]))
        if c["max_norm"]:
            for name in ("block1.conv_time", "block1.conv_spat", "block2.conv", "block3.conv", "block4.conv"):
                self.add_max_norm(f"{name}.weight", CONV_MAX_NORM)
            self.add_max_norm("classify.0.weight", DENSE_MAX_NORM)

    def fast_path_cheaper(self, training: bool) -> bool:
        return True  # conv_spat has as many filters as conv_time: merged is cheaper at every shape (fast_paths)

    @torch.jit.unused  # not compiled by torch.jit.script, which takes the reference path (torch.jit.trace records it)
    def _block1_fast(self, x):  # (batch, 1, C, T) tensor -> tensor
        """``block1(x)`` with conv_time and conv_spat merged into one convolution."""
        b1 = self.block1
        x = merged_conv(x, b1.conv_time, b1.conv_spat)
        for layer in list(b1)[2:]:
            x = layer(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, 1, n_chans, n_times)`` -> logits ``(batch, n_outputs)``."""
        fast = not torch.jit.is_scripting() and self.uses_fast_path()
        x = self._block1_fast(x) if fast else self.block1(x)
        x = self.block2(x)
        x = self.block3(x)
        x = self.block4(x)
        return self.classify(self.flatten(x))
