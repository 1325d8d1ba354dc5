"""An ensemble of EEGNets runs as one wider network at inference (models/fused_ensemble.py): the same output as
its members run one by one, in eager PyTorch and through the ONNX export that `eegclf stream` runs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from eegclf.export import export_model, run_exported
from eegclf.models import create_model
from eegclf.models.ensemble import Ensemble
from eegclf.models.fused_ensemble import FusedEEGNets, fusable, fused_or_same
from eegclf.models.standardize import Standardized

C, T = 6, 256


def _member(name, seed, *, spatial=False, channel_map=None, **kwargs):
    """A Standardized network with random weights and BatchNorm statistics away from their defaults."""
    torch.manual_seed(seed)
    net = create_model(name, C, T, 2, **kwargs)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.normal_(0, 0.3)
            m.running_mean.normal_(0, 0.3)
            m.running_var.uniform_(0.5, 2.0)
    g = torch.Generator().manual_seed(seed + 100)
    mean = torch.randn(C, generator=g) * 1e-6
    std = (torch.rand(C, generator=g) + 0.5) * 1e-5
    white = torch.eye(C) + 0.1 * torch.randn(C, C, generator=g) if spatial else None
    return Standardized(net, mean, std, spatial=white, channel_map=channel_map).eval()


def _trials(n=5, chans=C, seed=0):
    return torch.as_tensor(np.random.default_rng(seed).normal(0, 2e-5, (n, 1, chans, T)), dtype=torch.float32)


@pytest.mark.parametrize("name", ["eegnet", "eegnet_8_2"])
@pytest.mark.parametrize("k", [2, 3])
def test_the_fused_network_equals_the_members_run_one_by_one(name, k):
    ens = Ensemble([_member(name, s, spatial=s % 2 == 1) for s in range(k)]).eval()
    fused = FusedEEGNets(ens).eval()
    x = _trials()
    with torch.inference_mode():
        want, got = ens(x), fused(x)
    assert got.shape == want.shape == (5, 2)
    assert torch.allclose(torch.softmax(got, 1), torch.softmax(want, 1), atol=1e-6, rtol=0)
    # a fusion that got one member's weights wrong would differ: changing a member changes the fused output
    ens.members[1].net.classify[0].bias.data[0] += 1.0  # one class: a shift of both would change nothing
    with torch.inference_mode():
        assert not torch.allclose(FusedEEGNets(ens)(x), got, atol=1e-3)


def test_a_channel_map_of_the_users_channels_is_fused_too():
    users = 4
    M = torch.randn(C, users, generator=torch.Generator().manual_seed(3))
    ens = Ensemble([_member("eegnet", s, channel_map=M) for s in range(2)]).eval()
    x = _trials(chans=users)
    with torch.inference_mode():
        assert torch.allclose(torch.softmax(FusedEEGNets(ens)(x), 1), torch.softmax(ens(x), 1), atol=1e-6)


def test_what_cannot_be_fused_is_run_as_it_is():
    deep = Ensemble([_member("deepconvnet", s) for s in range(2)])
    mixed = Ensemble([_member("eegnet", 0), _member("eegnet", 1, F1=8)])
    kinds = Ensemble([_member("eegnet", 0), _member("eegnet_8_2", 1)])
    single = Ensemble([_member("eegnet", 0)])
    for model in (deep, mixed, kinds, single, _member("eegnet", 0)):
        assert not fusable(model) and fused_or_same(model) is model
    with pytest.raises(ValueError, match="fused"):
        FusedEEGNets(deep)


@pytest.mark.parametrize("name", ["eegnet", "eegnet_8_2"])
def test_the_onnx_export_of_an_ensemble_is_one_fused_graph_equal_to_its_members(name, tmp_path):
    pytest.importorskip("onnxruntime")
    import onnx

    ens = Ensemble([_member(name, s) for s in range(3)]).eval()
    meta = {"model": name, "model_config": ens.members[0].net.config, "n_chans": C, "n_times": T, "sfreq": 128.0,
            "class_names": ["a", "b"], "ch_names": [f"E{i}" for i in range(C)],
            "ensemble": {"k": 3, "seeds": [0, 1, 2]}}
    path, meta_file = export_model(ens, meta, tmp_path / "m.onnx", "onnx")
    x = _trials(seed=4)
    with torch.inference_mode():
        want = torch.softmax(ens(x), 1).numpy()
    assert np.allclose(run_exported(path, "onnx", x.numpy()), want, atol=1e-5, rtol=0)
    ops = [node.op_type for node in onnx.load(str(path)).graph.node]
    assert "Elu" not in ops  # the vectorised form
    assert ops.count("Conv") == (4 if name == "eegnet_8_2" else 3)  # one graph, not three networks
    assert "3 networks fused" in json.loads(meta_file.read_text())["compute_path"]
