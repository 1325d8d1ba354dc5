"""Training-pass augmentation: reproducible, resumable to the identical run, never touching evaluation."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from eegclf.training.augment import Augmenter
from eegclf.config import RunConfig
from eegclf.data import load_dataset
from eegclf.errors import ConfigError
from eegclf.storage.rundir import RunDir
from eegclf.training.loop import fit

CONFIG = RunConfig(model="eegnet", dataset="synthetic", epochs=3, batch_size=32, seed=3, threads=1,
                   augment="shift,scale,chdrop", dataset_options={"n_train": 64, "n_test": 32})


@pytest.fixture(scope="module")
def data():
    return load_dataset("synthetic", n_train=64, n_test=32)


def test_same_seed_same_augmented_history_and_augmentation_changes_training(data, tmp_path):
    fit(CONFIG, data, tmp_path / "a", progress=False)
    fit(CONFIG, data, tmp_path / "b", progress=False)
    fit(replace(CONFIG, augment=None), data, tmp_path / "plain", progress=False)
    a, b, plain = (RunDir(tmp_path / n).history_path.read_text() for n in ("a", "b", "plain"))
    assert a == b
    assert a != plain


def test_resumed_augmented_run_equals_the_uninterrupted_one(data, tmp_path):
    fit(CONFIG, data, tmp_path / "full", progress=False)
    fit(replace(CONFIG, epochs=2), data, tmp_path / "cut", progress=False)  # same first two epochs
    fit(CONFIG, data, tmp_path / "cut", progress=False, resume=True)
    assert RunDir(tmp_path / "full").history_path.read_text() == RunDir(tmp_path / "cut").history_path.read_text()


def test_each_augmentation_keeps_shape_and_does_what_it_says():
    x = torch.randn(8, 1, 4, 64)
    shifted = Augmenter("shift", 0)
    shifted.start_epoch(1)
    y = shifted(x)
    assert y.shape == x.shape
    for i in range(8):  # each trial is the same signal moved in time, zeros filling the gap
        moved = [s for s in range(-4, 5) if torch.equal(y[i, ..., max(s, 0): 64 + min(s, 0)],
                                                         x[i, ..., max(-s, 0): 64 - max(s, 0)])]
        assert moved, i
    scaled = Augmenter("scale", 0)
    scaled.start_epoch(1)
    ratio = (scaled(x) / x).reshape(8, -1)
    assert torch.allclose(ratio, ratio[:, :1].expand_as(ratio), atol=1e-5)
    assert ((ratio[:, 0] >= 0.9) & (ratio[:, 0] <= 1.1)).all()
    dropped = Augmenter("chdrop", 0)
    dropped.start_epoch(1)
    z = dropped(torch.ones(200, 1, 4, 8))
    per_channel = z[..., 0].reshape(-1)
    assert set(per_channel.tolist()) <= {0.0, 1.0} and 0.03 < 1 - per_channel.mean().item() < 0.2


def test_unknown_augmentation_is_refused_with_the_valid_names():
    with pytest.raises(ConfigError, match="valid: shift, scale, chdrop"):
        RunConfig(augment="shift,flip")


def test_none_switches_augmentation_off():
    """eegclf pretrain augments by default (its chosen recipe); --augment none turns it off."""
    from eegclf.training.augment import parse_augment

    assert parse_augment("none") == parse_augment("") == parse_augment(None) == ()
    assert parse_augment("shift,scale,chdrop") == ("shift", "scale", "chdrop")


@pytest.mark.parametrize("names", ["shift", "scale", "chdrop", "shift,scale,chdrop", "shift,chdrop", "scale,chdrop"])
def test_reading_the_batch_in_place_equals_augmenting_the_gathered_batch(names):
    """The training loop hands the augmenter the whole training tensor and the batch's rows: it must write
    exactly what augmenting the gathered batch writes (same draws, same values, zero gaps)."""
    X = torch.randn(50, 1, 6, 64)
    index = torch.randperm(50, generator=torch.Generator().manual_seed(0))[:16]
    a, b = Augmenter(names, 5), Augmenter(names, 5)
    for epoch in (1, 2):
        a.start_epoch(epoch)
        b.start_epoch(epoch)
        for _ in range(3):
            assert torch.equal(a(X, index), b(X[index]))
