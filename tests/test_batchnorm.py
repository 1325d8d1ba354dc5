"""recalibrate_batchnorm: BatchNorm running statistics re-estimated on training trials."""

import numpy as np
import pytest
import torch
from torch import nn

from eegclf.training.batchnorm import recalibrate_batchnorm
from eegclf.models import create_model
from eegclf.models.standardize import Standardized


def small_net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Dropout(0.5), nn.Conv2d(1, 4, (3, 5)), nn.BatchNorm2d(4, momentum=0.01),
                         nn.ELU(), nn.Flatten(), nn.LazyLinear(2))


def trials(n=20, seed=0):
    rng = np.random.default_rng(seed)
    return (3.0 + 2.0 * rng.standard_normal((n, 1, 3, 40))).astype(np.float32)


def test_one_batch_gives_the_statistics_of_the_trials():
    net, X = small_net(), trials()
    net(torch.from_numpy(X))  # materialise the lazy layer
    net.train()
    assert recalibrate_batchnorm(net, X) == 1
    with torch.no_grad():
        h = net[1](torch.from_numpy(X))  # conv output: what the BN layer sees (dropout off)
    bn = net[2]
    torch.testing.assert_close(bn.running_mean, h.mean(dim=(0, 2, 3)), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(bn.running_var, h.var(dim=(0, 2, 3), unbiased=True), rtol=1e-4, atol=1e-5)


def test_batches_are_weighted_by_size_and_restore_state():
    net, X = small_net(), trials(23)
    net(torch.from_numpy(X))
    net.train()
    weights = [p.detach().clone() for p in net.parameters()]
    recalibrate_batchnorm(net, torch.from_numpy(X), batch_size=5)  # 5+5+5+5+3
    with torch.no_grad():
        h = net[1](torch.from_numpy(X))
    # a size-weighted average of batch means is the overall mean
    torch.testing.assert_close(net[2].running_mean, h.mean(dim=(0, 2, 3)), rtol=1e-5, atol=1e-5)
    assert net[2].momentum == 0.01
    assert all(m.training for m in net.modules())
    assert all(torch.equal(a, b) for a, b in zip(weights, net.parameters()))
    # deterministic: dropout is off while measuring
    first = net[2].running_var.clone()
    net.eval()
    recalibrate_batchnorm(net, X, batch_size=5)
    torch.testing.assert_close(net[2].running_var, first)
    assert not any(m.training for m in net.modules())


def test_model_without_batchnorm_is_untouched():
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten())
    before = [p.detach().clone() for p in net.parameters()]
    assert recalibrate_batchnorm(net, trials()) == 0
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters()))


def test_empty_trials_rejected():
    with pytest.raises(ValueError):
        recalibrate_batchnorm(small_net(), np.zeros((0, 1, 3, 40), np.float32))


@pytest.mark.parametrize("name", ["eegnet", "eegnet_8_2", "deepconvnet", "shallowconvnet"])
def test_registered_models_in_eval_mode_match_batch_statistics(name):
    """After recalibration, eval-mode outputs on the trials use their own statistics: close to the
    train-mode (batch-statistics) outputs with dropout off, unlike stale running statistics."""
    torch.manual_seed(0)
    X = trials(24, seed=1).repeat(2, axis=2)[:, :, :6]  # (24, 1, 6, 40) raw, offset and scaled
    X = np.concatenate([X] * 4, axis=3)  # 160 samples: long enough for every model
    net = create_model(name, 6, X.shape[3], 2, dropout=0.0)
    mean = X.mean(axis=(0, 1, 3))
    std = X.std(axis=(0, 1, 3))
    model = Standardized(net, mean, std)
    xt = torch.from_numpy(X)
    model.train()
    with torch.no_grad():
        batch_out = model(xt)
    model.eval()
    with torch.no_grad():
        stale = model(xt)
    assert recalibrate_batchnorm(model, X) >= 1
    assert not model.training
    with torch.no_grad():
        fresh = model(xt)
    err_fresh = (fresh - batch_out).abs().max().item()
    err_stale = (stale - batch_out).abs().max().item()
    assert err_fresh < 0.05 * max(1.0, batch_out.abs().max().item())
    assert err_fresh < err_stale


def test_trainer_option_equals_recalibrating_the_last_model(tmp_path):
    """--bn-recalibrate leaves training untouched (same train losses) and its last model equals the plain
    run's last model re-estimated on the training part: the benchmark's post-hoc number is reproducible."""
    from eegclf.storage.checkpoint import load_checkpoint
    from eegclf.config import RunConfig
    from eegclf.data import load_dataset
    from eegclf.storage.rundir import RunDir
    from eegclf.training.loop import fit, split_train_val

    data = load_dataset("synthetic", n_train=96, n_test=64)
    cfg = RunConfig(model="eegnet_8_2", dataset="synthetic", epochs=3, batch_size=32, seed=0)
    fit(cfg, data, tmp_path / "plain", progress=False)
    recal_cfg = RunConfig(**{**cfg.to_dict(), "bn_recalibrate": True})
    fit(recal_cfg, data, tmp_path / "recal", progress=False)
    plain_h, recal_h = RunDir(tmp_path / "plain").read_history(), RunDir(tmp_path / "recal").read_history()
    assert [r["train_loss"] for r in plain_h] == [r["train_loss"] for r in recal_h]
    assert [r["test_loss"] for r in plain_h] != [r["test_loss"] for r in recal_h]

    plain, _ = load_checkpoint(tmp_path / "plain" / "last.safetensors")
    recal, _ = load_checkpoint(tmp_path / "recal" / "last.safetensors")
    recalibrate_batchnorm(plain, split_train_val(cfg, data)[0].X)
    for (name, a), (_, b) in zip(plain.state_dict().items(), recal.state_dict().items()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5, msg=name)  # memory layouts differ
