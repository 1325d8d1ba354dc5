"""An ensemble of EEGNets computed as one wider network, for inference (export, streaming).

An :class:`~eegclf.models.ensemble.Ensemble` runs its k members one after another: k times every operator, and
at one trial an operator's fixed cost is most of its time (ONNX Runtime: a 3-network ensemble took about 3x one
network). In eval mode each EEGNet is, up to its first nonlinearity, one linear map of the raw input, and every
later layer acts on its own member's channels. So the k members are one network with k times the channels:

- input normalisation, channel map, alignment, temporal conv, BatchNorm and depthwise spatial conv fold into a
  projection ``P x + q`` (k F1 D rows) and a depthwise temporal convolution with bias (spatial-first order, the
  zero padding applied after the projection, where the reference pads the standardised input);
- the separable block's convolutions become grouped convolutions (one group per member), BatchNorm folded in;
- each member's linear classifier is a convolution over the whole remaining time, one group per member;
- the output is ``log(mean_i softmax(logits_i))``, as :class:`Ensemble` returns.

Exact up to float rounding against the members run one by one (the export check compares them to 1e-5, and
tests/test_fused_ensemble.py). Inference only: the weights are copied, not shared, so nothing here trains.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from eegclf.models.fast_paths import batchnorm_affine, time_padding


def _bn_affine(bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """Eval-mode BatchNorm as ``scale * x + shift`` per channel (float32, from its running statistics)."""
    scale, shift = batchnorm_affine(bn, None, None, 0)
    return scale.float(), shift.float()


def _input_map(member) -> tuple[torch.Tensor, torch.Tensor]:
    """``(A, c)`` with the network's standardised input ``= A @ x + c`` for the member's raw input x:
    channel map, alignment and normalisation of :class:`~eegclf.models.standardize.Standardized` composed."""
    n = member.mean.shape[2]
    A = torch.eye(n)
    if member.spatial is not None:
        A = member.spatial @ A
    if member.channel_map is not None:
        A = A @ member.channel_map
    inv = 1.0 / member.std.reshape(-1)
    return inv[:, None] * A, -member.mean.reshape(-1) * inv


def fusable(model) -> bool:
    """Whether ``model`` is an ensemble of two or more EEGNet-family networks with one configuration and one
    input (what :class:`FusedEEGNets` computes)."""
    from eegclf.models.eegnet import EEGNetFamily
    from eegclf.models.ensemble import Ensemble

    if not isinstance(model, Ensemble) or len(model.members) < 2:
        return False
    nets = [m.net for m in model.members]
    first = nets[0]
    inputs = {m.mean.shape[2] if m.channel_map is None else m.channel_map.shape[1] for m in model.members}
    return (all(isinstance(n, EEGNetFamily) and type(n) is type(first) and n.config == first.config for n in nets)
            and len(inputs) == 1 and sum(isinstance(m, nn.Conv2d) for m in first.separableConv) in (1, 2))


class FusedEEGNets(nn.Module):
    """The members of an EEGNet :class:`Ensemble` as one network (see the module's docstring).

    Input (batch, 1, n_inputs, n_times) raw trials, as the ensemble takes; output (batch, n_classes),
    ``log(mean_i softmax(member_i(x)))``. Built from the ensemble's current weights, in eval mode."""

    def __init__(self, ensemble):
        super().__init__()
        if not fusable(ensemble):
            raise ValueError("only an ensemble of two or more EEGNets of one configuration can be fused")
        members = list(ensemble.members)
        if any(m.training for m in ensemble.modules()):  # BatchNorm folds its running statistics: eval mode only
            raise ValueError("an ensemble is fused in eval mode only: call .eval() first")
        nets = [m.net for m in members]
        first = nets[0]
        cfg = first.config
        self.k, F1, D = len(members), cfg["F1"], cfg["D"]
        self.n_outputs = cfg["n_outputs"]
        with torch.no_grad():
            P, q, kernels, bias = [], [], [], []
            for member, net in zip(members, nets):
                *pads, temporal, bn1 = net.firstconv
                spatial_conv, bn2 = net.depthwiseConv[0], net.depthwiseConv[1]
                A, c = _input_map(member)
                W2 = spatial_conv.weight[:, 0, :, 0]  # (F1 D, C): row j = f D + d reads filter f
                s1, b1 = _bn_affine(bn1)
                s2, b2 = _bn_affine(bn2)
                f_of = torch.arange(F1 * D) // D
                P.append(W2 @ A)
                q.append(W2 @ c)
                w1 = temporal.weight[:, 0, 0, :]  # (F1, K)
                kernels.append((s2 * s1[f_of])[:, None] * w1[f_of])
                bias.append(s2 * b1[f_of] * W2.sum(1) + b2)
            self.register_buffer("P", torch.cat(P).contiguous())  # (k F1 D, n_inputs)
            self.register_buffer("q", torch.cat(q)[:, None].contiguous())  # (k F1 D, 1)
            self.register_buffer("w_time", torch.cat(kernels)[:, None, None, :].contiguous())  # (kFD, 1, 1, K)
            self.register_buffer("b_time", torch.cat(bias).contiguous())
            self.pad_time = time_padding(*pads, temporal)
            self.act1, self.pool1 = first.depthwiseConv[2], first.depthwiseConv[3]

            convs = [[m for m in net.separableConv if isinstance(m, nn.Conv2d)] for net in nets]
            # the separable block's zero padding: before its (first) time convolution; a pointwise one adds none
            self.pad_sep = time_padding(*(m for m in first.separableConv if isinstance(m, (nn.ZeroPad2d, nn.Conv2d))))
            bns = [next(m for m in net.separableConv if isinstance(m, nn.BatchNorm2d)) for net in nets]
            affine = [_bn_affine(bn) for bn in bns]
            if len(convs[0]) == 2:  # EEGNet-8,2: depthwise (1, k2), then pointwise 1x1
                self.register_buffer("w_depth", torch.cat([c[0].weight for c in convs]).contiguous())
                last = [c[1].weight for c in convs]
            else:  # the study's EEGNet: one full (1, k2) convolution
                self.w_depth = None
                last = [c[0].weight for c in convs]
            self.register_buffer("w_sep", torch.cat([s[:, None, None, None] * w for (s, _), w in zip(affine, last)])
                                 .contiguous())
            self.register_buffer("b_sep", torch.cat([b for _, b in affine]).contiguous())
            after_bn = [type(m) for m in first.separableConv].index(nn.BatchNorm2d) + 1
            self.act2 = first.separableConv[after_bn]
            self.pool2 = next(m for m in first.separableConv if isinstance(m, nn.AvgPool2d))
            linears = [net.classify[0] for net in nets]
            n_feat = cfg["F2"]
            t_final = linears[0].in_features // n_feat
            self.register_buffer("w_out", torch.cat([lin.weight.reshape(-1, n_feat, 1, t_final) for lin in linears])
                                 .contiguous())  # (k n_outputs, F2, 1, T'')
            self.register_buffer("b_out", torch.cat([lin.bias for lin in linears]).contiguous())

    def _activate(self, act: nn.Module, y: torch.Tensor) -> torch.Tensor:
        # ONNX Runtime computes Elu one element at a time (at one trial, about a fifth of the whole graph), but
        # Exp, Min and Relu with vector code: elu(y) = relu(y) + alpha (exp(min(y, 0)) - 1), equal to rounding
        if isinstance(act, nn.ELU) and torch.onnx.is_in_onnx_export():
            return torch.relu(y) + act.alpha * (torch.exp(torch.clamp(y, max=0.0)) - 1.0)
        return act(y)

    @staticmethod
    def _conv(y, weight, bias, pad, groups):
        # ONNX: symmetric zero padding as the convolution's own (one operator fewer than a separate Pad); not
        # in eager PyTorch, where a padded depthwise convolution takes a path about 10x slower than pad + conv
        if pad[0] == pad[1] and torch.onnx.is_in_onnx_export():
            return F.conv2d(y, weight, bias, padding=(0, pad[0]), groups=groups)
        return F.conv2d(F.pad(y, pad), weight, bias, groups=groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T = x.shape[0], x.shape[-1]
        y = torch.matmul(self.P, x) + self.q  # (B, 1, kFD, T): every member's spatial projections
        y = self._conv(y.reshape(B, -1, 1, T), self.w_time, self.b_time, self.pad_time, self.w_time.shape[0])
        y = self.pool1(self._activate(self.act1, y))
        if self.w_depth is not None:
            y = self._conv(y, self.w_depth, None, self.pad_sep, self.w_depth.shape[0])
            y = F.conv2d(y, self.w_sep, self.b_sep, groups=self.k)
        else:
            y = self._conv(y, self.w_sep, self.b_sep, self.pad_sep, self.k)
        y = self.pool2(self._activate(self.act2, y))
        logits = F.conv2d(y, self.w_out, self.b_out, groups=self.k).reshape(B, self.k, self.n_outputs)
        return torch.logsumexp(torch.log_softmax(logits, dim=2), dim=1) - math.log(self.k)


def fused_or_same(model):
    """``model`` for inference: an ensemble of EEGNets put in eval mode and fused into one :class:`FusedEEGNets`,
    anything else unchanged."""
    return FusedEEGNets(model.eval()).eval() if fusable(model) else model


__all__ = ["FusedEEGNets", "fusable", "fused_or_same"]
