"""The fit loop: reproducible histories, honest selection, checkpoints that rebuild the model."""

import csv
import json

import numpy as np
import pytest

from eegclf.storage.checkpoint import load_checkpoint
from eegclf.config import RunConfig
from eegclf.data import load_dataset
from eegclf.evaluation import loss_and_accuracy
from eegclf.training.loop import fit

SMALL = {"n_train": 96, "n_test": 64}


def _config(**kw) -> RunConfig:
    base = dict(model="eegnet", activation="elu", dataset="synthetic", dataset_options=SMALL,
                epochs=3, batch_size=32, seed=0)
    base.update(kw)
    return RunConfig(**base)


@pytest.fixture(scope="module")
def small_data():
    return load_dataset("synthetic", **SMALL)


def test_same_seed_gives_byte_identical_history(tmp_path, small_data):
    fit(_config(), small_data, tmp_path / "a", progress=False)
    fit(_config(), small_data, tmp_path / "b", progress=False)
    fit(_config(seed=1), small_data, tmp_path / "c", progress=False)
    a = (tmp_path / "a" / "history.csv").read_bytes()
    assert a == (tmp_path / "b" / "history.csv").read_bytes()
    assert a != (tmp_path / "c" / "history.csv").read_bytes()
    wa = (tmp_path / "a" / "last.safetensors").read_bytes()
    assert wa == (tmp_path / "b" / "last.safetensors").read_bytes()


def test_history_and_summary_are_consistent(tmp_path, small_data):
    s = fit(_config(epochs=4), small_data, tmp_path, progress=False)
    rows = list(csv.DictReader(open(tmp_path / "history.csv")))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4]
    assert set(rows[0]) == {"epoch", "train_loss", "train_acc", "val_loss", "val_acc", "test_loss", "test_acc"}
    val = [float(r["val_acc"]) for r in rows]
    vloss = [float(r["val_loss"]) for r in rows]
    test = [float(r["test_acc"]) for r in rows]
    # selection on validation only: the best val acc, ties to the lower val loss
    best = max(range(4), key=lambda i: (val[i], -vloss[i]))
    assert s["selected_epoch"] == best + 1
    assert s["test_acc_val_selected"] == pytest.approx(test[best], abs=1e-6)
    assert s["test_acc_last"] == pytest.approx(test[-1], abs=1e-6)
    assert s["test_acc_lab_best_epoch"] == pytest.approx(max(test), abs=1e-6)
    assert "optimistic" in s["metric_notes"]["test_acc_lab_best_epoch"]
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    assert on_disk["selected_epoch"] == s["selected_epoch"]


def test_best_checkpoint_rebuilds_and_reproduces_selected_test_accuracy(tmp_path, small_data):
    s = fit(_config(epochs=3), small_data, tmp_path, progress=False)
    model, meta = load_checkpoint(tmp_path / "best.safetensors")
    assert meta["epoch"] == s["selected_epoch"]
    assert meta["model"] == "eegnet" and meta["activation"] == "elu"
    assert meta["n_chans"] == 2 and meta["n_times"] == small_data.n_times
    assert meta["class_names"] == small_data.class_names
    for key in ("normalization", "seed", "versions", "dataset_options", "metrics", "sfreq"):
        assert key in meta
    loss, acc = loss_and_accuracy(model, small_data.test.X, small_data.test.y)
    assert acc == pytest.approx(s["test_acc_val_selected"], abs=1e-9)


def test_validation_never_overlaps_test_or_train(small_data):
    from eegclf.training.loop import split_train_val

    train, val = split_train_val(_config(), small_data)
    assert len(train) + len(val) == len(small_data.train)
    rows = {r.tobytes() for r in train.X}
    assert not any(v.tobytes() in rows for v in val.X)
    # stratified: both classes in validation
    assert set(np.unique(val.y)) == {0, 1}


@pytest.mark.parametrize("model", ["csp_lda", "ts_lr"])
def test_classical_models_train_through_the_same_loop(tmp_path, small_data, model):
    s = fit(_config(model=model), small_data, tmp_path, progress=False)
    assert s["epochs"] == 1
    clf, meta = load_checkpoint(tmp_path / "best.safetensors")
    _, acc = loss_and_accuracy(clf, small_data.test.X, small_data.test.y)
    assert acc == pytest.approx(s["test_acc_val_selected"], abs=1e-9)


def test_diverging_run_stops_with_a_clear_error(tmp_path, small_data):
    from eegclf.errors import TrainingError

    with pytest.raises(TrainingError, match="diverged in epoch 1.*lower learning rate"):
        fit(_config(optimizer="sgd", lr=1e30, max_norm=False), small_data, tmp_path / "r", progress=False)
    assert not (tmp_path / "r" / "history.csv").exists()
