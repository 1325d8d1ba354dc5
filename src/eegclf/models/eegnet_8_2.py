"""EEGNet-8,2 as published by Lawhern et al. (2018): registry name ``"eegnet_8_2"``."""

from __future__ import annotations

from torch import nn

from eegclf.models.base import out_len
from eegclf.models.eegnet import EEGNetFamily


def same_pad(kernel: int) -> nn.ZeroPad2d:
    """Zero padding along time that keeps the length through a stride-1 conv (Keras "same": extra zero right)."""
    left = (kernel - 1) // 2
    return nn.ZeroPad2d((left, kernel - 1 - left, 0, 0))


class EEGNet82(EEGNetFamily):
    """EEGNet-8,2, the original (Lawhern et al. 2018; the Keras reference code of arl-eegmodels).

    Input ``(batch, 1, n_chans, n_times)`` float32; output logits ``(batch, n_outputs)`` (no softmax).

    Blocks:

    - ``firstconv``: ZeroPad2d ("same"); Conv2d(1, F1, (1, kernel_length), bias=False); BatchNorm2d(F1)
    - ``depthwiseConv``: Conv2d(F1, F1*D, (n_chans, 1), groups=F1, bias=False) [max-norm 1];
      BatchNorm2d(F1*D); activation; AvgPool2d((1, 4)); Dropout(dropout)
    - ``separableConv``: ZeroPad2d ("same"); depthwise Conv2d(F1*D, F1*D, (1, separable_kernel_length),
      groups=F1*D, bias=False) + pointwise Conv2d(F1*D, F2, 1, bias=False); BatchNorm2d(F2); activation;
      AvgPool2d((1, 8)); Dropout(dropout)
    - ``flatten`` then ``classify``: Linear(F2 * floor(floor(n_times / 4) / 8), n_outputs) [max-norm 0.25]

    "Same" padding (explicit ZeroPad2d layers) puts the extra zero of an even kernel on the right, as Keras
    does. BatchNorm uses Keras' defaults (eps 1e-3, momentum 0.01 in PyTorch's convention), as braindecode's
    EEGNetv4 does. n_times must be >= 32. Max-norm constraints (on by default) are applied by
    ``apply_constraints()``; ``max_norm=False`` turns them off.

    Args:
        n_chans: EEG channels. n_times: samples per trial. n_outputs: number of classes.
        activation: a name (relu, leaky_relu, elu, gelu, silu; case-insensitive) or an nn.Module class
            (the paper uses ELU).
        activation_kwargs: options of the activation, e.g. ``{"negative_slope": 0.01}`` or ``{"alpha": 1.0}``.
        dropout: dropout probability (default 0.25, the paper's cross-subject value). None gives 0.25.
        max_norm: apply the paper's max-norm constraints (depthwise kernel 1, dense layer 0.25).
        F1, D, F2: temporal filters, depth multiplier, pointwise filters (8, 2, 16).
        kernel_length: first temporal kernel (64 = half a second at 128 Hz).
        separable_kernel_length: kernel of the separable conv's depthwise part (16).

    Reference: V. J. Lawhern, A. J. Solon, N. R. Waytowich, S. M. Gordon, C. P. Hung, B. J. Lance,
    "EEGNet: a compact convolutional neural network for EEG-based brain-computer interfaces",
    J. Neural Eng. 15 (2018) 056013.
    """

    model_name = "eegnet_8_2"
    default_dropout = 0.25

    def __init__(self, n_chans: int, n_times: int, n_outputs: int = 2, *, activation="elu",
                 activation_kwargs: dict | None = None, dropout: float | None = 0.25, max_norm: bool = True,
                 F1: int = 8, D: int = 2, F2: int = 16, kernel_length: int = 64,
                 separable_kernel_length: int = 16):
        super().__init__(n_chans, n_times, n_outputs, activation=activation, activation_kwargs=activation_kwargs,
                         dropout=dropout, max_norm=max_norm, F1=F1, D=D, F2=F2, kernel_length=kernel_length,
                         separable_kernel_length=separable_kernel_length)
        c = self.config
        F1, D, F2, k1, k2, p = (c[k] for k in ("F1", "D", "F2", "kernel_length", "separable_kernel_length", "dropout"))

        def final_len(t: int) -> int:  # "same" convs keep the length; only the pools shrink it
            return out_len(out_len(t, 4, stride=4), 8, stride=8)

        n_flat = F2 * self.flat_length(final_len)

        def bn(n: int) -> nn.BatchNorm2d:
            return nn.BatchNorm2d(n, eps=1e-3, momentum=0.01)

        self.firstconv = nn.Sequential(
            same_pad(k1),
            nn.Conv2d(1, F1, (1, k1), bias=False),
            bn(F1),
        )
        self.depthwiseConv = self._depthwise_block(F1, D, bn)
        self.separableConv = nn.Sequential(
            same_pad(k2),
            nn.Conv2d(F1 * D, F1 * D, (1, k2), groups=F1 * D, bias=False),
            nn.Conv2d(F1 * D, F2, 1, bias=False),
            bn(F2),
            self.make_activation(),
            nn.AvgPool2d((1, 8)),
            nn.Dropout(p),
        )
        self._head(n_flat)
