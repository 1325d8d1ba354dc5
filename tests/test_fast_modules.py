"""eegclf.models.fast_modules: the drop-in Dropout, half-precision pooling and grouped-conv modules the trainer swaps in compute what the
modules they replace compute (outputs and gradients), keep their state dicts, and still compile under
torch.jit.script and torch.export."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from eegclf.models import create_model
from eegclf.models.fast_modules import FastDropout, Fp32GroupedConv2d, HalfAvgPool2d, use_fast_modules


def _conv_pair():
    torch.manual_seed(0)
    ref = nn.Conv2d(4, 8, (1, 5), groups=4, padding=(0, 2))
    fast = Fp32GroupedConv2d(4, 8, (1, 5), groups=4, padding=(0, 2))
    fast.load_state_dict(ref.state_dict())
    return ref, fast


def _grads(module, x):
    x = x.clone().requires_grad_(True)
    module.zero_grad(set_to_none=True)
    out = module(x)
    out.backward(torch.linspace(-1, 1, out.numel()).reshape(out.shape))
    return out.detach(), x.grad, [p.grad for p in module.parameters()]


def test_fast_dropout_is_dropout():
    torch.manual_seed(1)
    x = torch.randn(64, 8, 3, 50)  # no exact zeros: a zero output means a dropped element
    for p in (0.0, 0.1, 0.25, 0.5):
        ref, fast = nn.Dropout(p).eval(), FastDropout(p).eval()
        for a, b in zip(_grads(ref, x)[:2], _grads(fast, x)[:2]):  # eval: the identity, as nn.Dropout
            assert torch.equal(a, b)
        fast.train()
        out, grad, _ = _grads(fast, x)
        # nn.Dropout's kernel with this keep-mask: noise = mask / (1 - p), output x * noise, gradient upstream * noise
        noise = (out != 0).float().div_(1 - p)
        assert torch.equal(out, x * noise)
        assert torch.equal(grad, torch.linspace(-1, 1, out.numel()).reshape(out.shape) * noise)
        keep = out != 0
        assert abs(keep.float().mean().item() - (1 - p)) < 0.01  # 76,800 draws: the keep rate is 1 - p
    ref, fast = nn.Dropout(0.0).train(), FastDropout(0.0).train()
    assert torch.equal(ref(x), fast(x))


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_fast_dropout_of_half_precision_activations(dtype):
    """bf16/fp16 activations draw their masks from random bytes where 256 p is whole (0.25, 0.5), floats elsewhere
    (0.1): either way dropout's function and keep rate, and the bytes are uniform."""
    torch.manual_seed(3)
    x = torch.randn(64, 8, 3, 50).to(dtype)
    x[x == 0] = 1.0
    for p in (0.1, 0.25, 0.5):
        fast = FastDropout(p).train()
        out, grad, _ = _grads(fast, x)
        noise = (out != 0).to(dtype).mul_(1.0 / (1.0 - p))
        assert torch.equal(out, x * noise)
        assert torch.equal(grad, torch.linspace(-1, 1, out.numel()).reshape(out.shape).to(dtype) * noise)
        assert abs((out != 0).float().mean().item() - (1 - p)) < 0.01
    from eegclf.models.fast_modules import _random_bytes

    counts = torch.bincount(_random_bytes(torch.empty(256, 1000)).reshape(-1).long(), minlength=256).double()
    chi2 = float(((counts - 1000) ** 2 / 1000).sum())
    assert chi2 < 400  # 255 degrees of freedom: a biased byte (e.g. a top bit always 0) gives tens of thousands


def test_fp32_grouped_conv_is_the_conv():
    ref, fast = _conv_pair()
    x = torch.randn(3, 4, 2, 40)
    for a, b in zip(_grads(ref, x), _grads(fast, x)):
        if isinstance(a, list):
            assert all(torch.equal(u, v) for u, v in zip(a, b))
        else:
            assert torch.equal(a, b)
    with torch.autocast("cpu", dtype=torch.bfloat16):  # stays fp32 under bf16 autocast: the fp32 reference's
        out = fast(x.bfloat16())
    assert out.dtype == torch.float32
    assert torch.equal(out, ref(x.bfloat16().float()))


def test_use_fast_modules_keeps_the_model():
    torch.manual_seed(2)
    ref = create_model("eegnet_8_2", n_chans=8, n_times=128, n_outputs=2, dropout=0.0)
    fast = create_model("eegnet_8_2", n_chans=8, n_times=128, n_outputs=2, dropout=0.0)
    fast.load_state_dict(ref.state_dict())
    use_fast_modules(fast)
    kinds = {type(m) for m in fast.modules()}
    assert FastDropout in kinds and Fp32GroupedConv2d in kinds and HalfAvgPool2d in kinds
    assert nn.Dropout not in kinds and nn.AvgPool2d not in kinds
    assert fast.state_dict().keys() == ref.state_dict().keys()
    x = torch.randn(6, 1, 8, 128)
    for mode in ("train", "eval"):  # train: BatchNorm on batch statistics, dropout 0
        getattr(ref, mode)(), getattr(fast, mode)()
        a, b = _grads(ref, x), _grads(fast, x)
        assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
        assert all(torch.equal(u, v) for u, v in zip(a[2], b[2]))
    assert all(torch.equal(u, v) for u, v in zip(ref.state_dict().values(), fast.state_dict().values()))


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float32, torch.float64])
@pytest.mark.parametrize("T,k", [(641, 4), (160, 8), (17, 4), (20, 4)])
def test_half_avg_pool_is_the_pool(T, k, dtype):
    """In bf16/fp16, means over groups of k samples in time as a matrix product: bit-identical output and
    gradient to the pooling, also past a remainder the pooling drops (641 = 160 x 4 + 1); float32, float64 and
    channels_last input run as nn.AvgPool2d."""
    gen = torch.Generator().manual_seed(T)
    x = torch.randn(3, 5, 1, T, generator=gen).to(dtype)
    ref, fast = nn.AvgPool2d((1, k)), HalfAvgPool2d((1, k))
    a, b = _grads(ref, x), _grads(fast, x)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    cl = x.contiguous(memory_format=torch.channels_last)
    assert torch.equal(fast(cl), ref(cl))


@pytest.mark.parametrize("make", [lambda: FastDropout(0.5), lambda: _conv_pair()[1], lambda: HalfAvgPool2d((1, 4))],
                         ids=["dropout", "conv", "pool"])
def test_fast_modules_compile(make):
    module = make().eval()
    x = torch.randn(2, 4, 1, 32)
    expected = module(x)
    scripted = torch.jit.script(module)
    assert torch.equal(scripted(x), expected)
    exported = torch.export.export(module, (x,)).module()
    assert torch.equal(exported(x), expected)
    scripted.train()
    assert scripted(x).shape == expected.shape  # the training forward compiles too
