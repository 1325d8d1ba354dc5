"""Faster drop-in replacements for two module types, swapped into a deep model before training.

They compute the same function as the modules they replace and keep their parameters and state dicts, so
checkpoints are those of the model as defined; only the kernels differ (measured on CPU, see each class).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class FastDropout(nn.Dropout):
    """nn.Dropout whose keep-mask comes from one ``torch.rand`` draw: the same distribution (keep with
    probability 1 - p, scale by 1 / (1 - p)), about 4x cheaper than ``bernoulli_`` on CPU, where the masks
    were a quarter of DeepConvNet's training step.

    Half-precision activations (bf16/fp16, under autocast) draw their mask from random bytes instead, eight to
    each 64-bit draw, where ``p`` is a multiple of 1/256 (0.25 and 0.5, the models' defaults, are): a byte is
    below 256 p with probability p exactly, so the distribution is the same again, at about a sixth of the
    generator's time (the float draws were about 1 ms of a 64-channel EEGNet step under bf16). Only the draws
    differ, so float32 training (the tables, the shipped networks) is unchanged."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        if torch.jit.is_scripting():  # TorchScript compiles the float draws only
            keep = torch.rand_like(x, dtype=torch.float32).ge_(self.p)
        else:
            keep = self._keep_mask(x)
        return x * keep.to(x.dtype).mul_(1.0 / (1.0 - self.p))

    @torch.jit.unused
    def _keep_mask(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype in (torch.bfloat16, torch.float16) and (256 * self.p).is_integer():
            return _random_bytes(x).ge_(int(256 * self.p))
        return torch.rand_like(x, dtype=torch.float32).ge_(self.p)


def _random_bytes(x: torch.Tensor) -> torch.Tensor:
    """Independent uniform bytes (uint8) of ``x``'s shape, from full-range 64-bit draws of the default generator."""
    n = x.numel()
    words = torch.empty(-(-n // 8), dtype=torch.int64, device=x.device).random_(-(2**63), None)
    return words.view(torch.uint8)[:n].view(x.shape)


class HalfAvgPool2d(nn.AvgPool2d):
    """nn.AvgPool2d over time only (kernel (1, k), stride k, no padding) on bf16/fp16 input, as a matrix product of
    each group of k samples with a vector of 1/k: the same float32 sums rounded once, so bit-identical to the
    pooling (tested), and on CPU about twice as fast, forward and backward, as the pooling of EEGNet's
    (batch, 32, 1, 641) bf16 activations under autocast (3.4 against 1.5 ms alone; about 2 % of a 64-channel
    training step, within this host's drift). float32 and float64 input, other
    shapes, settings and layouts (channels_last) run as nn.AvgPool2d: there the product's summation order may
    differ from the pooling's in the last bit."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.jit.is_scripting():
            return self._pool(x)
        return self._forward_eager(x)

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        # nn.AvgPool2d.forward's own body: torch.jit.script compiles no super() call
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)

    @torch.jit.unused
    def _forward_eager(self, x: torch.Tensor) -> torch.Tensor:
        if torch.jit.is_tracing() or not self._half_over_time(x):
            return self._pool(x)
        k = _pair(self.kernel_size)[1]
        n = x.shape[-1] // k
        weights = torch.full((k, 1), 1.0 / k, dtype=x.dtype, device=x.device)
        return (x[..., : n * k].unflatten(-1, (n, k)) @ weights).squeeze(-1)

    @torch.jit.unused
    def _half_over_time(self, x: torch.Tensor) -> bool:
        size = _pair(self.kernel_size)
        stride = _pair(self.stride if self.stride is not None else self.kernel_size)
        return (x.dtype in (torch.bfloat16, torch.float16) and x.dim() == 4 and x.is_contiguous()
                and size[0] == 1 and stride == size and _pair(self.padding) == (0, 0) and not self.ceil_mode
                and self.divisor_override is None)


def _pair(v) -> tuple:
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


class Fp32GroupedConv2d(nn.Conv2d):
    """A grouped (e.g. depthwise) Conv2d that stays fp32 under bf16 autocast. oneDNN 3.12 never finishes
    compiling its bf16 channels_last depthwise kernel for some shapes (<= 16 channels with kernels >= 15
    wide, as in EEGNet-8,2); in fp32 these convolutions cost the same here."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.jit.is_scripting():  # TorchScript takes autocast's device only as a constant: nothing to leave
            return self._conv_forward(x.float(), self.weight, self.bias)
        return self._forward_fp32(x)

    @torch.jit.unused
    def _forward_fp32(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(x.device.type, enabled=False):
            # nn.Conv2d.forward's own body: torch.jit.script compiles no super() call
            return self._conv_forward(x.float(), self.weight, self.bias)


def use_fast_modules(net: nn.Module) -> None:
    """Switch plain Dropout, AvgPool2d and grouped Conv2d modules of ``net`` to the classes above, in place:
    the parameters, the state dict and the checkpoints stay exactly those of the model."""
    for module in net.modules():
        if type(module) is nn.Dropout:
            module.__class__ = FastDropout
        elif type(module) is nn.AvgPool2d:
            module.__class__ = HalfAvgPool2d
        elif type(module) is nn.Conv2d and module.groups > 1:
            module.__class__ = Fp32GroupedConv2d

