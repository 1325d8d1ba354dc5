"""synthetic: the lab's shape, determinism, NaN filling, and a log-variance + LDA sanity check."""

import numpy as np
import pytest
from scipy.signal import butter, sosfiltfilt
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

from eegclf.data import list_datasets, load_dataset
from eegclf.data.info import format_info
from eegclf.data.synthetic import DEFAULTS, generate_part
from eegclf.errors import DataError


@pytest.fixture(scope="module")
def default():
    return load_dataset("synthetic")


def _logvar_lda(ds):
    """Band-pass 8-30 Hz, log-variance per channel, LDA fit on train, accuracy on test."""
    sos = butter(4, (8.0, 30.0), btype="bandpass", fs=ds.sfreq, output="sos")
    feats = lambda X: np.log(sosfiltfilt(sos, X[:, 0].astype(np.float64), axis=-1).var(axis=-1))
    lda = LinearDiscriminantAnalysis().fit(feats(ds.train.X), ds.train.y)
    return lda.score(feats(ds.test.X), ds.test.y)


def test_default_shape_like_the_lab(default):
    for split in (default.train, default.test):
        assert split.X.shape == (1080, 1, 2, 750) and split.X.dtype == np.float32
        assert split.y.dtype == np.int64 and np.bincount(split.y).tolist() == [540, 540]
        assert split.subjects.tolist() == ["S1"] * 540 + ["S2"] * 540
        for s in ("S1", "S2"):
            assert np.bincount(split.y[split.subjects == s]).tolist() == [270, 270]
        assert not np.isnan(split.X).any()
    assert default.sfreq == 125.0 and default.ch_names == ["C3", "C4"]
    assert default.class_names == ["left_hand", "right_hand"]
    assert default.options == {**DEFAULTS, "data_dir": None}


def test_nans_reported_and_filled_with_training_mean(default):
    o = default.options
    raw_tr, _, _ = generate_part(o["seed"], 0, o["n_train"], o["n_chans"], o["n_times"], o["sfreq"], o["difficulty"])
    raw_te, _, _ = generate_part(o["seed"], 1, o["n_test"], o["n_chans"], o["n_times"], o["sfreq"], o["difficulty"])
    assert default.info["n_nans"] == np.isnan(raw_tr).sum() + np.isnan(raw_te).sum() > 0
    mean = np.nanmean(raw_tr, axis=(0, 2))
    for split, raw in ((default.train, raw_tr), (default.test, raw_te)):
        t, c, s = np.nonzero(np.isnan(raw))
        assert len(t) > 0
        np.testing.assert_allclose(split.X[t, 0, c, s], mean[c].astype(np.float32), rtol=1e-6)
        ok = ~np.isnan(raw)
        np.testing.assert_allclose(split.X[:, 0][ok], raw[ok].astype(np.float32), rtol=1e-6)


def test_same_seed_same_data_other_seed_differs(default):
    again = load_dataset("synthetic", seed=0)
    np.testing.assert_array_equal(default.train.X, again.train.X)
    np.testing.assert_array_equal(default.test.y, again.test.y)
    other = load_dataset("synthetic", seed=1)
    assert not np.array_equal(default.train.X, other.train.X)
    assert not np.array_equal(default.test.X, other.test.X)


def test_train_part_independent_of_test_size():
    a = load_dataset("synthetic", n_train=40, n_test=20)
    b = load_dataset("synthetic", n_train=40, n_test=60)
    np.testing.assert_array_equal(a.train.X, b.train.X)


def test_logvar_lda_above_chance_below_perfect(default):
    acc = _logvar_lda(default)
    assert 0.6 < acc < 0.95, acc


def test_difficulty_knob_controls_separability():
    easy = _logvar_lda(load_dataset("synthetic", difficulty=0.0, n_train=400, n_test=400))
    hopeless = _logvar_lda(load_dataset("synthetic", difficulty=1.0, n_train=400, n_test=400))
    assert easy > hopeless + 0.1
    assert hopeless < 0.6


def test_options_none_means_default_and_reload(default):
    ds = load_dataset("synthetic", seed=None, difficulty=None, n_train=100, n_test=60, n_chans=4)
    assert ds.train.X.shape == (100, 1, 4, 750) and ds.test.X.shape == (60, 1, 4, 750)
    assert ds.ch_names[:2] == ["C3", "C4"] and len(set(ds.ch_names)) == 4
    assert ds.options["seed"] == 0 and ds.options["difficulty"] == DEFAULTS["difficulty"]
    again = load_dataset("synthetic", **ds.options)
    np.testing.assert_array_equal(ds.train.X, again.train.X)


def test_bad_options():
    with pytest.raises(DataError, match=r"task.*'synthetic'.*valid: difficulty, n_chans"):
        load_dataset("synthetic", task="imagery_lr")
    with pytest.raises(DataError, match=r"difficulty must be in \[0, 1\]; got 1.5"):
        load_dataset("synthetic", difficulty=1.5)
    with pytest.raises(DataError, match=r"n_train"):
        load_dataset("synthetic", n_train=1)
    with pytest.raises(DataError, match=r"bad option value.*synthetic"):
        load_dataset("synthetic", seed="abc")


def test_unknown_dataset_lists_valid_names():
    assert list_datasets() == ["bci3b", "eegmmidb", "files", "moabb", "synthetic"]
    with pytest.raises(DataError, match=r"unknown data set 'bci4'; valid: bci3b, eegmmidb, files, moabb, synthetic"):
        load_dataset("bci4")


def test_info_text(default):
    text = format_info(default)
    for fact in ("(1080, 1, 2, 750)", "125 Hz", "C3, C4", "left_hand", "right_hand",
                 f"NaN samples in the raw data: {default.info['n_nans']}"):
        assert fact in text
    rows = {tuple(line.split()[:2]): line.split()[2:] for line in text.splitlines() if line.startswith("  ")}
    assert rows[("train", "S1")] == ["270", "270", "540"]
    assert rows[("test", "S2")] == ["270", "270", "540"]
    assert rows[("both", "all")] == ["1080", "1080", "2160"]
    assert "verification" not in text
