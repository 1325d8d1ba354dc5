"""eegmmidb on subject 1's real files (../shared/data): counts, rates, channels, splits, errors."""

import mne
import numpy as np
import pytest

from eegclf.data import load_dataset
from eegclf.data.info import format_info
from eegclf.data.splits import pooled, run_folds
from eegclf.errors import DataError


@pytest.fixture(scope="module")
def lr(eegmmidb_root):
    return load_dataset("eegmmidb", data_dir=eegmmidb_root, subjects=[1], task="imagery_lr")


def _all_y(ds):
    return np.concatenate([ds.train.y, ds.test.y])


def test_imagery_lr_defaults(lr):
    y = _all_y(lr)
    assert len(y) == 45 and np.sum(y == 0) == 23 and np.sum(y == 1) == 22
    assert lr.class_names == ["left_fist", "right_fist"]
    assert lr.sfreq == 160.0 and lr.ch_names == ["C3", "Cz", "C4"]
    assert lr.train.X.dtype == np.float32 and lr.train.y.dtype == np.int64
    assert lr.train.X.shape == (30, 1, 3, 641) and lr.test.X.shape == (15, 1, 3, 641)  # 0-4 s inclusive
    assert set(lr.train.runs.tolist()) == {4, 8} and set(lr.test.runs.tolist()) == {12}
    assert set(lr.train.subjects.tolist()) == {"S001"}
    # volts, no NaN, not all zero
    assert not np.isnan(lr.train.X).any() and 1e-7 < np.abs(lr.train.X).max() < 1e-2
    assert lr.info["n_nans"] == 0


def test_train_then_test_is_chronological(lr):
    runs = np.concatenate([lr.train.runs, lr.test.runs])
    assert runs.tolist() == [4] * 15 + [8] * 15 + [12] * 15
    assert pooled(lr).runs.tolist() == runs.tolist()


def test_imagery_hf_counts(eegmmidb_root):
    ds = load_dataset("eegmmidb", data_dir=eegmmidb_root, subjects="1", task="imagery_hf")
    y = _all_y(ds)
    assert len(y) == 45 and np.sum(y == 0) == 21 and np.sum(y == 1) == 24
    assert ds.class_names == ["both_fists", "both_feet"]
    assert set(ds.test.runs.tolist()) == {14}


def test_resample_channels_window_bandpass(eegmmidb_root):
    ds = load_dataset("eegmmidb", data_dir=eegmmidb_root, task="imagery_lr", channels="c4,FC3",
                      resample=128, tmin=-0.5, tmax=2.0, l_freq=8.0, h_freq=30.0, reference="average")
    assert ds.sfreq == 128.0 and ds.ch_names == ["C4", "FC3"]
    assert ds.train.X.shape == (30, 1, 2, 321)  # 2.5 s * 128 + 1
    # band-passed: no DC left in the trials
    assert np.abs(ds.train.X.mean(axis=-1)).max() < 0.2 * ds.train.X.std()


def test_all_channels(eegmmidb_root):
    ds = load_dataset("eegmmidb", data_dir=eegmmidb_root, channels="all", tmax=1.0)
    assert ds.n_chans == 64 and "Cz" in ds.ch_names and ds.options["channels"] == "all"


def test_options_reload_same_data(lr):
    again = load_dataset("eegmmidb", **lr.options)
    np.testing.assert_array_equal(lr.train.X, again.train.X)
    np.testing.assert_array_equal(lr.test.y, again.test.y)
    assert lr.options["test_run"] == 12 and lr.options["subjects"] == [1]


def test_test_run_and_run_folds(lr, eegmmidb_root):
    folds = run_folds(lr)
    assert [f.options["test_run"] for f in folds] == [4, 8, 12]
    for fold in folds:
        r = fold.options["test_run"]
        assert set(fold.test.runs.tolist()) == {r} and r not in set(fold.train.runs.tolist())
        assert len(fold.train) + len(fold.test) == 45
    held = load_dataset("eegmmidb", data_dir=eegmmidb_root, test_run=4)
    assert held.train.runs.tolist() == [8] * 15 + [12] * 15
    np.testing.assert_array_equal(held.test.X, folds[0].test.X)
    np.testing.assert_array_equal(held.train.X, folds[0].train.X)


def test_info_text(lr):
    text = format_info(lr)
    for fact in ("(30, 1, 3, 641)", "160 Hz", "C3, Cz, C4", "left_fist", "right_fist", "S001",
                 "NaN samples in the raw data: 0", "test 12"):
        assert fact in text
    both = [line for line in text.splitlines() if line.strip().startswith("both")][0]
    assert both.split()[2:] == ["23", "22", "45"]


def test_bad_options(eegmmidb_root):
    with pytest.raises(DataError, match=r"task 'imagery_xx' unknown; valid: imagery_lr, imagery_hf"):
        load_dataset("eegmmidb", data_dir=eegmmidb_root, task="imagery_xx")
    with pytest.raises(DataError, match=r"channel\(s\) \['C9'\] not found"):
        load_dataset("eegmmidb", data_dir=eegmmidb_root, channels="C3,C9")
    with pytest.raises(DataError, match=r"test_run 6 is not a run of task imagery_lr"):
        load_dataset("eegmmidb", data_dir=eegmmidb_root, test_run=6)
    with pytest.raises(DataError, match=r"subjects"):
        load_dataset("eegmmidb", data_dir=eegmmidb_root, subjects="0")
    with pytest.raises(DataError, match=r"difficulty.*'eegmmidb'.*valid: cap, channels"):
        load_dataset("eegmmidb", data_dir=eegmmidb_root, difficulty=0.3)


def test_missing_file_and_failed_download(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr(mne.datasets.eegbci, "load_data", offline)
    with pytest.raises(DataError, match=r"missing: .*eegmmidb/S002/S002R04\.edf.*load_data failed"):
        load_dataset("eegmmidb", data_dir=tmp_path, subjects=[2])


# ------------------------------------------------------------------ issue 24, point 9: S088 was recorded at 128 Hz

def test_pooling_s088_at_128_hz_with_160_hz_subjects_needs_resampling(eegmmidb_root):
    with pytest.raises(DataError, match=r"subject S088 was recorded at 128 Hz .*at 160 Hz \(S001\).*resample=160"):
        load_dataset("eegmmidb", data_dir=eegmmidb_root, subjects="1,88", tmax=1.0)
    ds = load_dataset("eegmmidb", data_dir=eegmmidb_root, subjects="1,88", tmax=1.0, resample=160)
    assert ds.sfreq == 160.0 and set(ds.test.subjects.tolist()) == {"S001", "S088"}


@pytest.mark.parametrize("name, rate", [("deep", 128.0), ("moabb", 160.0)])
def test_the_benchmark_presets_pool_every_shared_subject(eegmmidb_root, name, rate):
    from eegclf.benchmark.presets import preset
    from eegclf.data.eegmmidb import parse_subjects

    everyone = parse_subjects("1-12,24-41,43-67,88")  # the 56 people of ../shared/data
    assert len(everyone) == 56 and everyone[-1] == 88
    options, _ = preset(name, "eegmmidb")
    ds = load_dataset("eegmmidb", data_dir=eegmmidb_root, subjects="12,88", task="imagery_lr", **options)
    assert ds.sfreq == rate and ds.n_chans == 64
    assert len(ds.train) + len(ds.test) == 45 + 57  # S088's three runs hold 19 cues each


def test_a_failed_download_leaves_no_folder_behind(tmp_path, monkeypatch):
    """Issue 34, defect 3: MNE makes MNE-eegbci-data/files/... before it downloads; with no network the
    loader fails in one line and the empty data folder stays empty (a folder that was there stays)."""
    import socket

    def refuse(*args, **kwargs):
        raise OSError("network access is disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr("pooch.core.time.sleep", lambda seconds: None)  # pooch waits between its retries
    with pytest.raises(DataError, match=r"missing: .*eegmmidb/S001/S001R04\.edf.*load_data failed"):
        load_dataset("eegmmidb", data_dir=tmp_path, subjects=[1])
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "eegmmidb" / "notes").mkdir(parents=True)  # the user's own folders are not touched
    with pytest.raises(DataError, match="load_data failed"):
        load_dataset("eegmmidb", data_dir=tmp_path, subjects=[1])
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == ["eegmmidb", "eegmmidb/notes"]
