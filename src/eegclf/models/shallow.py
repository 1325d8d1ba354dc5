"""ShallowConvNet (Schirrmeister et al. 2017): registry name ``"shallowconvnet"``."""

from __future__ import annotations

import torch
from torch import nn

from eegclf.models.activations import SafeLog, Square
from eegclf.models.base import DeepModel, out_len
from eegclf.models.fast_paths import merged_conv

CONV_MAX_NORM = 2.0
DENSE_MAX_NORM = 0.5


class ShallowConvNet(DeepModel):
    """ShallowConvNet (the "shallow FBCSP net"): temporal conv, spatial conv, square, mean pool, log.

    Input ``(batch, 1, n_chans, n_times)`` float32; output logits ``(batch, n_outputs)`` (no softmax).

    Layers (printed in this order):

    - ``conv_time``: Conv2d(1, n_filters, (1, kernel_length)), with bias
    - ``conv_spat``: Conv2d(n_filters, n_filters, (n_chans, 1), bias=False)
    - ``bn``: BatchNorm2d(n_filters) (eps 1e-5, momentum 0.1)
    - ``nonlin``: the activation; by default ``Square`` (x * x), the paper's
    - ``pool``: AvgPool2d((1, pool_length), stride (1, pool_stride))
    - ``pool_nonlin``: SafeLog, log(max(x, 1e-6))
    - ``drop``: Dropout(dropout)
    - ``flatten`` then ``classify``: Linear(n_filters * T', n_outputs), T' from the lengths (44 at n_times=750)

    The activation: the paper's nonlinearity is square before pooling and log after it, so the default is
    ``activation="square"`` (not ``"elu"`` as in the other models). Any other activation name or class
    *replaces the square*, as braindecode's ``conv_nonlin`` option does; the log after pooling always stays.
    With an activation that can go negative (ELU, leaky ReLU ...) pooled values <= 1e-6 are clamped by the
    safe log, so outputs stay finite. The chosen activation is recorded in ``config``.

    Max-norm (on by default, ``max_norm=False`` turns it off): 2 on both conv kernels, 0.5 on the dense layer,
    the defaults of braindecode's ``MaxNormDefaultConstraint`` for this network.

    Args:
        n_chans: EEG channels. n_times: samples per trial (>= 99 with the defaults). n_outputs: classes.
        activation: "square" (default), or a name (relu, leaky_relu, elu, gelu, silu) or nn.Module class.
        activation_kwargs: options of the activation, e.g. ``{"negative_slope": 0.01}``.
        dropout: dropout probability (0.5 in the paper; None gives 0.5).
        max_norm: apply the max-norm constraints.
        n_filters: temporal and spatial filters (40). kernel_length: temporal kernel (25).
        pool_length, pool_stride: mean-pool size and stride (75 and 15).

    Reference: R. T. Schirrmeister et al., "Deep learning with convolutional neural networks for EEG decoding
    and visualization", Human Brain Mapping 38 (2017) 5391-5420.
    """

    model_name = "shallowconvnet"
    default_dropout = 0.5
    extra_activations = {"square": Square}  # the paper's nonlinearity, a name only this model takes
    fast_path_name = "merged"  # conv_time and conv_spat as one (n_chans x k) convolution: fast_paths.merged_conv

    def __init__(self, n_chans: int, n_times: int, n_outputs: int = 2, *, activation="square",
                 activation_kwargs: dict | None = None, dropout: float | None = 0.5, max_norm: bool = True,
                 n_filters: int = 40, kernel_length: int = 25, pool_length: int = 75, pool_stride: int = 15):
        super().__init__(n_chans, n_times, n_outputs, activation=activation, activation_kwargs=activation_kwargs,
                         dropout=dropout, max_norm=max_norm, n_filters=n_filters, kernel_length=kernel_length,
                         pool_length=pool_length, pool_stride=pool_stride)
        c = self.config
        F, k, m, s = (c[key] for key in ("n_filters", "kernel_length", "pool_length", "pool_stride"))

        def final_len(t: int) -> int:
            return out_len(out_len(t, k), m, stride=s)

        n_flat = F * self.flat_length(final_len)

        self.conv_time = nn.Conv2d(1, F, (1, k))
        self.conv_spat = nn.Conv2d(F, F, (c["n_chans"], 1), bias=False)
        self.bn = nn.BatchNorm2d(F)
        self.nonlin = self.make_activation()
        self.pool = nn.AvgPool2d((1, m), stride=(1, s))
        self.pool_nonlin = SafeLog()
        self.drop = nn.Dropout(c["dropout"])
        self.flatten = nn.Flatten()
        self.classify = nn.Sequential(nn.Linear(n_flat, c["n_outputs"]))
        if c["max_norm"]:
            self.add_max_norm("conv_time.weight", CONV_MAX_NORM)
            self.add_max_norm("conv_spat.weight", CONV_MAX_NORM)
            self.add_max_norm("classify.0.weight", DENSE_MAX_NORM)

    def fast_path_cheaper(self, training: bool) -> bool:
        return True  # conv_spat has as many filters as conv_time: merged is cheaper at every shape (fast_paths)

    @torch.jit.unused  # not compiled by torch.jit.script, which takes the reference path (torch.jit.trace records it)
    def _convs_fast(self, x):  # (batch, 1, C, T) tensor -> tensor
        """``conv_spat(conv_time(x))`` as one convolution."""
        return merged_conv(x, self.conv_time, self.conv_spat)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, 1, n_chans, n_times)`` -> logits ``(batch, n_outputs)``."""
        fast = not torch.jit.is_scripting() and self.uses_fast_path()
        x = self.bn(self._convs_fast(x) if fast else self.conv_spat(self.conv_time(x)))
        x = self.pool_nonlin(self.pool(self.nonlin(x)))
        return self.classify(self.flatten(self.drop(x)))
