"""EEGNet as the original study builds it (its EEGNet variant): the default ``"eegnet"`` of eegclf."""

from __future__ import annotations

import torch
from torch import nn

from eegclf.models.base import DeepModel, out_len
from eegclf.models.fast_paths import spatial_first, spatial_first_cheaper

DEPTHWISE_MAX_NORM = 1.0  # the published EEGNet's bounds (EEGNet-8,2 always; the study's EEGNet with max_norm=True)
DENSE_MAX_NORM = 0.25


class EEGNetFamily(DeepModel):
    """What the EEGNets share: the depthwise spatial block, the head with its max-norm bounds, and forward.

    Fast path ``spatial-first``: the temporal conv, its BatchNorm and the depthwise spatial
    conv are linear, so the channels are first projected onto the F1 * D spatial filters and each projection is
    then filtered in time, where that costs less (from about 16 channels in training); see :func:`eegclf.models.fast_paths.spatial_first`.
    """

    fast_path_name = "spatial-first"

    def fast_path_cheaper(self, training: bool) -> bool:
        c = self.config
        return spatial_first_cheaper(c["n_chans"], c["F1"], c["D"], c["kernel_length"], training)

    def _depthwise_block(self, F1: int, D: int, bn) -> nn.Sequential:
        """Conv2d(F1, F1*D, (n_chans, 1), groups=F1); BatchNorm; activation; AvgPool (1, 4); Dropout."""
        return nn.Sequential(
            nn.Conv2d(F1, F1 * D, (self.config["n_chans"], 1), groups=F1, bias=False),
            bn(F1 * D),
            self.make_activation(),
            nn.AvgPool2d((1, 4)),
            nn.Dropout(self.config["dropout"]),
        )

    def _head(self, n_flat: int) -> None:
        """Flatten, the linear classifier, and the published max-norm bounds when ``max_norm`` is on."""
        self.flatten = nn.Flatten()
        self.classify = nn.Sequential(nn.Linear(n_flat, self.config["n_outputs"]))
        if self.config["max_norm"]:
            self.add_max_norm("depthwiseConv.0.weight", DEPTHWISE_MAX_NORM)
            self.add_max_norm("classify.0.weight", DENSE_MAX_NORM)

    @torch.jit.unused  # not compiled by torch.jit.script, which takes the reference path (torch.jit.trace records it)
    def _first_blocks_fast(self, x, standardize=None):  # (batch, 1, C, T) tensor -> tensor
        """``depthwiseConv(firstconv(x))`` computed spatial-first (of ``(x - mean) / std`` with
        ``standardize = (mean, std)``)."""
        *pads, temporal, bn = self.firstconv
        x = spatial_first(x, pads, temporal, bn, self.depthwiseConv[0], standardize)
        for layer in list(self.depthwiseConv)[1:]:
            x = layer(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, 1, n_chans, n_times)`` -> logits ``(batch, n_outputs)``."""
        if not torch.jit.is_scripting() and self.uses_fast_path():
            x = self._first_blocks_fast(x)
        else:
            x = self.depthwiseConv(self.firstconv(x))
        return self._rest(x)

    @torch.jit.unused
    def forward_standardized(self, x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
        """``self((x - mean) / std)``: on the fast path the standardisation is folded into the spatial projection
        (:func:`eegclf.models.fast_paths.spatial_first`), so the input is read once instead of three times."""
        if not self.uses_fast_path():
            return self((x - mean) / std)
        return self._rest(self._first_blocks_fast(x, (mean, std)))

    def _rest(self, x: torch.Tensor) -> torch.Tensor:
        """The separable block and the classifier, from the depthwise block's output."""
        x = self.separableConv(x)
        return self.classify(self.flatten(x))


class EEGNet(EEGNetFamily):
    """EEGNet, study variant (17,874 parameters at n_chans=2, n_times=750, n_outputs=2).

    Input ``(batch, 1, n_chans, n_times)`` float32; output logits ``(batch, n_outputs)`` (no softmax).

    Blocks (names as in the study's code, printed in this order):

    - ``firstconv``: Conv2d(1, F1, (1, kernel_length), padding (0, kernel_length // 2), bias=False); BatchNorm2d(F1)
    - ``depthwiseConv``: Conv2d(F1, F1*D, (n_chans, 1), groups=F1, bias=False); BatchNorm2d(F1*D); activation;
      AvgPool2d((1, 4)); Dropout(dropout)
    - ``separableConv``: Conv2d(F1*D, F2, (1, separable_kernel_length), padding (0, separable_kernel_length // 2),
      bias=False); BatchNorm2d(F2); activation; AvgPool2d((1, 8)); Dropout(dropout)
    - ``flatten`` then ``classify``: Linear(F2 * floor(floor(n_times / 4) / 8), n_outputs)

    The flatten size follows from (n_chans, n_times); n_times must be >= 32. BatchNorm uses PyTorch's defaults
    (eps 1e-5, momentum 0.1). The state-dict keys (``firstconv.0.weight`` ... ``classify.0.weight``) are the
    study's. The original study's table lists no max-norm for this network, so it is off by default;
    ``max_norm=True`` adds the published EEGNet's bounds (1 on the depthwise kernel, 0.25 on the dense layer).

    Args:
        n_chans: EEG channels (rows of the input).
        n_times: samples per trial (columns of the input).
        n_outputs: number of classes (logits).
        activation: a name (relu, leaky_relu, elu, gelu, silu; case-insensitive) or an nn.Module class.
        activation_kwargs: options of the activation, e.g. ``{"negative_slope": 0.01}`` or ``{"alpha": 1.0}``.
        dropout: dropout probability (the study's spec: 0.25; its best run used 0.5). None gives 0.25.
        max_norm: add the published EEGNet's max-norm constraints (off by default, as in the original study).
        F1, D, F2: temporal filters, depth multiplier, separable-conv filters (16, 2, 32 in the study).
        kernel_length: first temporal kernel (51 samples in the study).
        separable_kernel_length: kernel of the separable conv (15 in the study).

    Reference: V. J. Lawhern et al., "EEGNet: a compact convolutional neural network for EEG-based
    brain-computer interfaces", J. Neural Eng. 15 (2018) 056013; with the study's changes listed above.
    """

    model_name = "eegnet"
    default_dropout = 0.25

    def __init__(self, n_chans: int, n_times: int, n_outputs: int = 2, *, activation="elu",
                 activation_kwargs: dict | None = None, dropout: float | None = 0.25, max_norm: bool = False,
                 F1: int = 16, D: int = 2, F2: int = 32, kernel_length: int = 51,
                 separable_kernel_length: int = 15):
        super().__init__(n_chans, n_times, n_outputs, activation=activation, activation_kwargs=activation_kwargs,
                         dropout=dropout, max_norm=max_norm, F1=F1, D=D, F2=F2, kernel_length=kernel_length,
                         separable_kernel_length=separable_kernel_length)
        c = self.config
        F1, D, F2, k1, k2, p = (c[k] for k in ("F1", "D", "F2", "kernel_length", "separable_kernel_length", "dropout"))

        def final_len(t: int) -> int:
            t = out_len(t, k1, padding=k1 // 2)
            t = out_len(t, 4, stride=4)
            t = out_len(t, k2, padding=k2 // 2)
            return out_len(t, 8, stride=8)

        n_flat = F2 * self.flat_length(final_len)

        self.firstconv = nn.Sequential(
            nn.Conv2d(1, F1, (1, k1), padding=(0, k1 // 2), bias=False),
            nn.BatchNorm2d(F1),
        )
        self.depthwiseConv = self._depthwise_block(F1, D, nn.BatchNorm2d)
        self.separableConv = nn.Sequential(
            nn.Conv2d(F1 * D, F2, (1, k2), padding=(0, k2 // 2), bias=False),
            nn.BatchNorm2d(F2),
            self.make_activation(),
            nn.AvgPool2d((1, 8)),
            nn.Dropout(p),
        )
        self._head(n_flat)
