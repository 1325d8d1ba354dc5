"""The exact fast paths (eegclf.models.fast_paths) against the reference modules they replace.

Every registered deep model, activation, train/eval mode, shape and kernel parity: the output, the gradient of
every parameter, and the BatchNorm running statistics after one optimiser step agree within 1e-4 relative in
float32. The fast path is forced on even where ``auto`` would not take it, so the algebra is checked at every
shape; ``auto`` itself is checked by which path it picks.

Each case runs twice. In float64 every quantity must agree within 1e-9 relative: that checks the algebra
itself. In float32, within 1e-4 relative to the largest entry of the same tensor (see ``_compare`` for the two
cases where float32 rounding alone exceeds that). A parameter whose gradient is zero in exact arithmetic (a
bias in front of a batch-statistics BatchNorm: BN1's shift in EEGNet, conv_time's bias in DeepConvNet; found by
the float64 run, below 1e-7 of the model's largest gradient) gets float noise on both paths, so there the
difference is measured on the scale of the model's largest gradient entry instead.
"""

import copy
import itertools
import math

import numpy as np
import pytest
import torch

from eegclf.models import DEEP_MODELS, create_model, get_model
from eegclf.models.fast_paths import REFERENCE, lag_moments

SHAPES = [(2, 750), (3, 1000), (22, 500), (64, 513), (64, 480)]
KERNELS = {  # (odd, even) temporal kernel lengths per model
    "eegnet": ("kernel_length", (51, 64)),
    "eegnet_8_2": ("kernel_length", (63, 64)),
    "deepconvnet": ("kernel_length", (5, 4)),
    "shallowconvnet": ("kernel_length", (25, 24)),
}
RTOL = 1e-4
# ShallowConvNet with ELU in place of its square: the mean pool averages values of both signs and the safe log
# divides by that average, so float32 rounding of the first layers (in any order) is amplified; the reference's
# own float32 gradients lie up to 5e-4 from the exact ones there. Its float32 check is 1e-2; float64 checks 1e-9.
ILL_CONDITIONED = {("shallowconvnet", "elu"): 100.0}
LARGEST: dict = {}  # the largest relative difference seen, fast vs reference in float32, per kind (printed)


def _activations(name):
    default = get_model(name).default_activation
    return list(dict.fromkeys(["relu", "elu", default]))


CASES = [(name, act, C, T, parity) for name in sorted(DEEP_MODELS) for act in _activations(name)
         for (C, T) in SHAPES for parity in (0, 1)]


def _pair(name, act, C, T, parity, seed=0):
    key, lengths = KERNELS[name]
    torch.manual_seed(seed)
    act = act or get_model(name).default_activation
    net = create_model(name, n_chans=C, n_times=T, n_outputs=3, activation=act, **{key: lengths[parity]})
    with torch.no_grad():  # non-trivial BatchNorm affine parameters and running statistics
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
    ref = copy.deepcopy(net).set_fast_path("off")
    fast = copy.deepcopy(net)
    fast.fast_path_cheaper = lambda training: True  # force it at every shape
    for m in (ref, fast):
        for mod in m.modules():
            if isinstance(mod, torch.nn.Dropout):
                mod.p = 0.0  # dropout draws would differ in order; everything else must agree
    return ref, fast


def _step(net, x, y, mode) -> dict:
    """One forward, backward and SGD step (constraints applied): {(kind, name): tensor} of what came out."""
    net.train(mode == "train")
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    out = net(x)
    torch.nn.functional.cross_entropy(out, y).backward()
    got = {("output", ""): out.detach()}
    got.update({("grad", k): p.grad.clone() for k, p in net.named_parameters()})
    opt.step()
    net.apply_constraints()
    got.update({("param", k): p.detach().clone() for k, p in net.named_parameters()})
    got.update({("buffer", k): b.clone() for k, b in net.named_buffers()})
    return got


def _rel(a, b, scale=None):
    a, b = a.double(), b.double()
    scale = float(a.abs().max()) if scale is None else scale
    return float((a - b).abs().max()) / max(scale, 1e-300)


def _compare(ref, fast, x, mode, rtol, exact=None, act=None, seen=None):
    """Both paths take one step; every output, gradient, parameter and BatchNorm buffer must agree.

    ``exact`` (the float64 reference's results): a gradient that is zero there is compared on the scale of the
    largest gradient. Where the two float32 results differ by more than ``rtol`` (their rounding errors add up;
    at 64 x 513 the reference's float32 EEGNet-8,2 gradients lie up to 2e-3 from the exact ones, the fast
    path's 3e-7), the fast path's own float32 result must lie within ``rtol`` of the exact one (x the factor of
    ``ILL_CONDITIONED``). ``seen``: where the largest float32 difference per kind is recorded (default
    :data:`LARGEST`).
    """
    seen = LARGEST if seen is None else seen
    assert fast.uses_fast_path() and not ref.uses_fast_path()
    assert ref.training == fast.training
    y = torch.randint(0, 3, (len(x),), generator=torch.Generator().manual_seed(1))
    got_r, got_f = _step(ref, x, y, mode), _step(fast, x, y, mode)
    largest = max(float(v.abs().max()) for (kind, _), v in got_r.items() if kind == "grad")
    for key, a in got_r.items():
        b = got_f[key]
        if not a.is_floating_point():
            assert torch.equal(a, b), key
            continue
        scale = None
        if key[0] == "grad":
            truth_scale = float((exact or got_r)[key].abs().max())
            scale = largest if exact is not None and truth_scale < 1e-7 * largest else max(truth_scale, 0.01 * largest)
        err = _rel(a, b, scale)
        if exact is not None:
            where = f"{key[0]} (ShallowConvNet+ELU)" if (type(ref).model_name, act) in ILL_CONDITIONED else key[0]
            seen[where] = max(seen.get(where, (0.0,)), (err, type(ref).model_name, *x.shape[2:], mode, key[1]))
            if err > rtol:
                ref_err, fast_err = _rel(exact[key], a, scale), _rel(exact[key], b, scale)
                assert fast_err <= rtol * ILL_CONDITIONED.get((type(ref).model_name, act), 1.0), (
                    f"{key} differs by {err:.2e} relative (from the exact result: fast {fast_err:.2e}, "
                    f"reference {ref_err:.2e})")
                continue
        assert err <= rtol, f"{key} differs by {err:.2e} relative"
    return got_r


@pytest.mark.parametrize("name,act,C,T,parity", CASES)
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_fast_path_equals_reference(name, act, C, T, parity, mode):
    ref, fast = _pair(name, act, C, T, parity)
    gen = torch.Generator().manual_seed(C * 1000 + T)
    x = 0.3 + 1.5 * torch.randn(4, 1, C, T, generator=gen)
    # float64: the algebra itself, to 1e-9
    exact = _compare(copy.deepcopy(ref).double(), copy.deepcopy(fast).double(), x.double(), mode, rtol=1e-9)
    _compare(ref, fast, x, mode, rtol=RTOL, exact=exact, act=act)


def test_largest_difference_seen():
    """The largest relative differences, fast vs reference in float32, over one case per model and mode that
    this test runs itself (so it stands alone; ``pytest -s`` prints them, and the sweep's above)."""
    seen: dict = {}
    for name in sorted(DEEP_MODELS):
        for mode in ("train", "eval"):
            ref, fast = _pair(name, None, 3, 480, 0)
            x = 0.3 + 1.5 * torch.randn(4, 1, 3, 480, generator=torch.Generator().manual_seed(7))
            exact = _compare(copy.deepcopy(ref).double(), copy.deepcopy(fast).double(), x.double(), mode, rtol=1e-9)
            _compare(ref, fast, x, mode, rtol=RTOL, exact=exact, seen=seen)
    print(f"\nlargest relative difference, fast vs reference in float32: {seen}; in the sweep: {LARGEST}")
    assert set(seen) == {"output", "grad", "param", "buffer"}  # every kind was compared
    assert {v[1] for v in seen.values()} <= set(DEEP_MODELS)
    # _compare held each to RTOL, or the fast path to RTOL of the exact result where float32 rounding of the
    # reference alone exceeds it (up to 2e-3 in the sweep): the largest stays finite and below 1e-2
    assert all(math.isfinite(v[0]) and v[0] < 1e-2 for v in seen.values()), seen


@pytest.mark.parametrize("name", sorted(DEEP_MODELS))
def test_channels_last_training_layout_agrees(name):
    """The trainer moves models to channels_last: the fast path must agree there too (and keep the layout)."""
    ref, fast = _pair(name, None, 64, 513, 0)
    ref, fast = (m.to(memory_format=torch.channels_last) for m in (ref, fast))
    x = torch.randn(4, 1, 64, 513).contiguous(memory_format=torch.channels_last)
    exact = _compare(copy.deepcopy(ref).double(), copy.deepcopy(fast).double(), x.double(), "train", rtol=1e-9)
    _compare(ref, fast, x, "train", rtol=RTOL, exact=exact)
    out = fast.train()(x)
    assert out.isfinite().all()


@pytest.mark.parametrize("name", sorted(DEEP_MODELS))
def test_bf16_autocast_within_bf16_tolerance(name):
    """Under bf16 autocast the fast blocks run in float32 (autocast off inside) and the rest in bf16, as the
    reference does: the two agree within bf16's precision (8 bits of mantissa)."""
    ref, fast = _pair(name, None, 64, 513, 0)
    x = torch.randn(4, 1, 64, 513)
    for m in (ref, fast):
        m.train()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out_r, out_f = ref(x).float().detach(), fast(x).float().detach()
    assert _rel(out_r, out_f) <= 5e-2


def test_auto_picks_the_cheaper_order():
    """auto: the reference order at the study's 2 channels (nothing to gain), the fast path at 64."""
    for name in sorted(DEEP_MODELS):
        wide = create_model(name, n_chans=64, n_times=513, n_outputs=2)
        assert wide.compute_path != REFERENCE, name
        assert wide.set_fast_path("off").compute_path == REFERENCE
    assert create_model("eegnet", n_chans=2, n_times=750, n_outputs=2).compute_path == REFERENCE
    assert create_model("eegnet_8_2", n_chans=2, n_times=750, n_outputs=2).compute_path == REFERENCE


def test_bad_fast_path_value_names_the_parameter():
    from eegclf.config import RunConfig
    from eegclf.errors import ConfigError

    with pytest.raises(ConfigError, match="fast_path='on'"):
        RunConfig(fast_path="on")
    with pytest.raises(ConfigError, match="fast_path"):
        create_model("eegnet", n_chans=64, n_times=513, n_outputs=2).set_fast_path("yes")


# trial lengths: a fast FFT length (40: nothing left after it), a prime (41: one sample after the FFT's 40), 47
# (two after 45), and lengths under twice the kernel (13, 20: the padded FFT)
@pytest.mark.parametrize("T", [40, 41, 47, 13, 20])
@pytest.mark.parametrize("standardized", [False, True])
def test_lag_moments_match_a_direct_computation(T, standardized):
    rng = np.random.default_rng(T)
    x = torch.from_numpy(rng.normal(size=(3, 1, 5, T)) * 2 + 7)
    mean, std = torch.from_numpy(rng.normal(size=5) + 7), torch.from_numpy(rng.uniform(0.5, 3.0, size=5))
    seen = ((x - mean.reshape(1, 1, 5, 1)) / std.reshape(1, 1, 5, 1)) if standardized else x
    for left, right, K in ((3, 3, 7), (3, 4, 8), (0, 0, 5), (1, 0, 2), (0, 0, 1)):
        m, S, n = lag_moments(x, left, right, K, (mean, std) if standardized else None)
        xp = np.pad(seen.numpy()[:, 0], ((0, 0), (0, 0), (left, right)))
        T_out = xp.shape[-1] - K + 1
        win = np.stack([xp[..., k : k + T_out] for k in range(K)])  # (K, B, C, T_out)
        assert n == 3 * 5 * T_out
        np.testing.assert_allclose(m.numpy(), win.mean(axis=(1, 2, 3)), rtol=1e-10, atol=1e-12)
        direct = np.einsum("kbct,lbct->kl", win, win) / n
        np.testing.assert_allclose(S.numpy(), direct, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["eegnet", "eegnet_8_2"])
def test_standardisation_folded_into_the_fast_path_equals_the_plain_order(name):
    """In training, Standardized hands EEGNet its per-channel mean and std, and the fast path folds them into
    the spatial projection and the batch statistics: one step must equal standardising first and taking the
    reference path (float64, 1e-9), with means far from zero, and so must an inference pass; traced passes
    keep the plain order."""
    from eegclf.models.standardize import Standardized

    ref, fast = _pair(name, None, 64, 513, 0)
    rng = np.random.default_rng(3)
    mean, std = rng.normal(size=64) * 5, rng.uniform(0.3, 3.0, size=64)
    wrapped = [Standardized(m, mean, std).double() for m in (ref, fast)]
    x = torch.from_numpy(rng.normal(size=(4, 1, 64, 513)) * 2 + mean[None, None, :, None])
    y = torch.randint(0, 3, (4,), generator=torch.Generator().manual_seed(1))
    got = [_step(m, x, y, "train") for m in wrapped]
    largest = max(float(v.abs().max()) for (kind, _), v in got[0].items() if kind == "grad")
    for key, a in got[0].items():
        scale = largest if key[0] == "grad" else None
        assert _rel(a, got[1][key], scale) <= 1e-9, key
    with torch.no_grad():
        plain, folded = (m.eval()(x) for m in wrapped)
    assert _rel(plain, folded) <= 1e-9
    calls = []
    fast.forward_standardized = lambda *a: calls.append(a) or (_ for _ in ()).throw(AssertionError("folded"))
    torch.jit.trace(wrapped[1], (x,), check_trace=False)  # traced: the plain order
    assert not calls


def _data(C=64, T=256, n=48, seed=0):
    from eegclf.data.base import EEGDataset, Split

    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    X = rng.normal(size=(n, 1, C, T)).astype(np.float32)
    X[y == 1, 0, : C // 2] *= 1.6  # a learnable difference in power over half the channels
    split = Split(X, y, np.full(n, "S1"))
    te = rng.normal(size=(24, 1, C, T)).astype(np.float32)
    yte = np.arange(24) % 2
    te[yte == 1, 0, : C // 2] *= 1.6
    return EEGDataset("array", split, Split(te, yte, np.full(24, "S1")), 128.0,
                      [f"ch{i}" for i in range(C)], ["a", "b"])


@pytest.mark.parametrize("name", ["eegnet", "deepconvnet"])
@pytest.mark.parametrize("trained_on", ["auto", "off"])
def test_checkpoint_evaluates_the_same_on_either_path(tmp_path, name, trained_on):
    from eegclf.storage.checkpoint import load_checkpoint
    from eegclf.config import RunConfig
    from eegclf.evaluation import loss_and_accuracy
    from eegclf.training.loop import fit

    data = _data()
    config = RunConfig(model=name, dataset="array", epochs=3, batch_size=16, val_fraction=0.25, seed=1,
                       fast_path=trained_on, threads=1)
    summary = fit(config, data, tmp_path / "run", progress=False)
    assert summary["compute_path"] == (REFERENCE if trained_on == "off" else get_model(name).factory.fast_path_name)
    results = {}
    for path in ("auto", "off"):
        model, meta = load_checkpoint(tmp_path / "run" / "best.safetensors", fast_path=path)
        assert meta["compute_path"] == summary["compute_path"]
        assert model.net.path_for(False) == (REFERENCE if path == "off" else model.net.fast_path_name)
        with torch.no_grad():
            results[path] = model(torch.from_numpy(data.test.X))
        assert loss_and_accuracy(model, data.test.X, data.test.y)[1] == pytest.approx(summary["test_acc_val_selected"])
    assert _rel(results["off"], results["auto"]) <= RTOL
    assert torch.equal(results["off"].argmax(1), results["auto"].argmax(1))


def test_same_seed_same_history_on_the_fast_path(tmp_path):
    from eegclf.config import RunConfig
    from eegclf.training.loop import fit

    data = _data()
    config = RunConfig(model="eegnet", dataset="array", epochs=3, batch_size=16, seed=2, threads=1)
    for run in ("a", "b"):
        summary = fit(config, data, tmp_path / run, progress=False)
        assert summary["compute_path"] == "spatial-first"
    assert (tmp_path / "a" / "history.csv").read_bytes() == (tmp_path / "b" / "history.csv").read_bytes()


def test_bn_recalibration_agrees_on_both_paths():
    from eegclf.training.batchnorm import recalibrate_batchnorm

    ref, fast = _pair("eegnet", None, 64, 513, 0)
    X = torch.randn(20, 1, 64, 513)
    recalibrate_batchnorm(ref, X, batch_size=8)
    recalibrate_batchnorm(fast, X, batch_size=8)
    for (k, a), (_, b) in zip(ref.named_buffers(), fast.named_buffers()):
        if a.is_floating_point():
            assert _rel(a, b) <= RTOL, k


@pytest.mark.parametrize("name", ["eegnet", "shallowconvnet"])
@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_export_of_the_fast_graph_matches_pytorch(tmp_path, name, fmt):
    if fmt == "onnx":
        pytest.importorskip("onnxruntime")
    from eegclf.config import RunConfig
    from eegclf.export import export_checkpoint, run_exported
    from eegclf.storage.checkpoint import load_checkpoint
    from eegclf.training.loop import fit

    data = _data(T=300)
    fit(RunConfig(model=name, dataset="array", epochs=2, batch_size=16, val_fraction=0, seed=0, threads=1),
        data, tmp_path / "run", progress=False)
    ckpt = tmp_path / "run" / "last.safetensors"
    model, _ = load_checkpoint(ckpt, fast_path="off")
    with torch.no_grad():
        reference = torch.softmax(model(torch.from_numpy(data.test.X)), 1).numpy()
    import json

    for path in ("auto", "off"):
        out, meta_file = export_checkpoint(ckpt, tmp_path / f"{path}.{fmt}", fmt, fast_path=path)
        info = json.loads(meta_file.read_text())
        assert info["compute_path"] == (REFERENCE if path == "off" else model.net.fast_path_name)
        np.testing.assert_allclose(run_exported(out, fmt, data.test.X), reference, atol=1e-5)


@pytest.mark.parametrize("offset", [0.0, 50.0])
def test_folded_standardisation_under_bf16_autocast_within_bf16_tolerance(offset):
    """Under bf16 autocast the folded path projects the raw input: in bf16 where every channel's mean lies
    within its spread, in float32 where it does not (here means of 50 spreads, where bf16 would keep about a
    fifth of a spread of resolution): both agree with standardising first on the reference path within bf16's
    precision."""
    from eegclf.models.standardize import Standardized

    ref, fast = _pair("eegnet", None, 64, 513, 0)
    rng = np.random.default_rng(5)
    std = rng.uniform(0.5, 2.0, size=64)
    mean = offset * std * rng.choice([-1.0, 1.0], size=64)
    wrapped = [Standardized(m, mean, std).train() for m in (ref, fast)]
    x = torch.from_numpy(rng.normal(size=(8, 1, 64, 513)) * std[None, None, :, None]
                         + mean[None, None, :, None]).float()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out_r, out_f = (m(x).float().detach() for m in wrapped)
    assert _rel(out_r, out_f) <= 5e-2
