"""bci3b: the lab's transform and every bad input, on fake files with the exact layout (NaNs included)."""

import warnings
import zipfile

import numpy as np
import pytest

from eegclf.data import load_dataset
from eegclf.data import bci3b
from eegclf.data.info import format_info
from eegclf.errors import DataError

N = 540


def _fake(seed):
    """signal (540, 750, 2) float64 with NaN runs, label (540,) in {1, 2}; channel means differ."""
    rng = np.random.default_rng(seed)
    signal = rng.standard_normal((N, 750, 2)) * [1.0, 2.0] + [3.0 + seed, -5.0 - seed]
    for k in range(5):
        signal[rng.integers(N), rng.integers(0, 700) + np.arange(7), k % 2] = np.nan
    label = rng.permutation(np.arange(N) % 2 + 1).astype(np.float64)
    return signal, label


@pytest.fixture(scope="module")
def arrays():
    return {(s, p): _fake(i) for i, (s, p) in enumerate(
        [("S4", "train"), ("X11", "train"), ("S4", "test"), ("X11", "test")])}


@pytest.fixture()
def root(tmp_path, arrays):
    folder = tmp_path / "bci3b"
    folder.mkdir()
    for (s, p), (signal, label) in arrays.items():
        np.savez(folder / f"{s}b_{p}.npz", signal=signal, label=label)
    return tmp_path


def _load(root, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_dataset("bci3b", data_dir=root, **kw)


def test_transform_shapes_labels_subjects(root, arrays):
    ds = _load(root)
    for part in ("train", "test"):
        split = getattr(ds, part)
        assert split.X.shape == (1080, 1, 2, 750) and split.X.dtype == np.float32
        assert split.y.dtype == np.int64 and set(split.y.tolist()) == {0, 1}
        assert not np.isnan(split.X).any()
        assert split.subjects.tolist() == ["S4"] * N + ["X11"] * N
        expected_y = np.concatenate([arrays[("S4", part)][1], arrays[("X11", part)][1]]) - 1
        np.testing.assert_array_equal(split.y, expected_y)
        raw = np.concatenate([arrays[("S4", part)][0], arrays[("X11", part)][0]]).transpose(0, 2, 1)
        finite = ~np.isnan(raw)
        np.testing.assert_allclose(split.X[:, 0][finite], raw[finite].astype(np.float32))
    assert ds.sfreq == 125 and ds.ch_names == ["C3", "C4"] and ds.n_classes == 2


def test_nans_filled_with_training_channel_mean(root, arrays):
    ds = _load(root)
    train_raw = np.concatenate([arrays[("S4", "train")][0], arrays[("X11", "train")][0]])
    test_raw = np.concatenate([arrays[("S4", "test")][0], arrays[("X11", "test")][0]])
    train_mean = np.nanmean(train_raw, axis=(0, 1))
    assert abs(train_mean[0] - np.nanmean(test_raw[..., 0])) > 0.5  # test mean would be detectably wrong
    for split, raw in ((ds.train, train_raw), (ds.test, test_raw)):
        where = np.isnan(raw.transpose(0, 2, 1))
        trials, chans, times = np.nonzero(where)
        assert len(trials) > 0
        np.testing.assert_allclose(split.X[trials, 0, chans, times], train_mean[chans].astype(np.float32),
                                   rtol=1e-6)
    assert ds.info["n_nans"] == int(np.isnan(train_raw).sum() + np.isnan(test_raw).sum())
    assert ds.info["n_nans_per_split"]["train"] == int(np.isnan(train_raw).sum())


def test_verification_warns_naming_each_differing_file(root):
    with pytest.warns(UserWarning) as record:
        ds = load_dataset("bci3b", data_dir=root)
    text = " ".join(str(w.message) for w in record)
    for name in bci3b.BLOB_IDS:
        assert name in text
    ver = ds.info["verification"]
    assert ver["checked"] and not ver["all_ok"]
    assert all(not f["ok"] for f in ver["files"].values())
    assert "MISMATCH" in format_info(ds) and "S4b_train.npz" in format_info(ds)


def test_verification_passes_when_blob_ids_match(root, monkeypatch):
    folder = root / "bci3b"
    ids = {n: bci3b.git_blob_id(folder / n) for n in bci3b.BLOB_IDS}
    monkeypatch.setattr(bci3b, "BLOB_IDS", ids)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = load_dataset("bci3b", data_dir=root)
    assert ds.info["verification"]["all_ok"]
    assert "all files match" in format_info(ds)


def test_verify_false_skips_check(root):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = load_dataset("bci3b", data_dir=root, verify=False)
    assert ds.info["verification"] == {"checked": False}
    assert ds.options["verify"] is False


def test_git_blob_id_matches_git_hash_object(tmp_path):
    p = tmp_path / "hello.txt"
    p.write_bytes(b"hello\n")
    assert bci3b.git_blob_id(p) == "ce013625030ba8dba906f756967f9e9ca394464a"


def test_options_reload_same_data(root):
    ds = _load(root)
    assert ds.options == {"verify": True, "data_dir": str(root)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = load_dataset("bci3b", **ds.options)
    np.testing.assert_array_equal(ds.train.X, again.train.X)
    np.testing.assert_array_equal(ds.test.y, again.test.y)


def test_missing_folder(tmp_path):
    with pytest.raises(DataError, match=r"bci3b folder missing: .*bci3b.*BCI Competition III"):
        load_dataset("bci3b", data_dir=tmp_path)


def test_missing_file(root):
    (root / "bci3b" / "X11b_test.npz").unlink()
    with pytest.raises(DataError, match=r"missing.*X11b_test\.npz.*BCI IIIb npz"):
        load_dataset("bci3b", data_dir=root)


def _rewrite(root, name, **arrays):
    np.savez(root / "bci3b" / name, **arrays)


def test_wrong_key(root, arrays):
    signal, label = arrays[("S4", "train")]
    _rewrite(root, "S4b_train.npz", data=signal, label=label)
    with pytest.raises(DataError, match=r"S4b_train\.npz.*expected keys \['label', 'signal'\], found \['data', 'label'\]"):
        _load(root)


def test_wrong_shape(root, arrays):
    signal, label = arrays[("X11", "test")]
    _rewrite(root, "X11b_test.npz", signal=signal.transpose(0, 2, 1), label=label)
    with pytest.raises(DataError, match=r"X11b_test\.npz.*expected 'signal' of shape \(n_trials, 750, 2\).*found \(540, 2, 750\)"):
        _load(root)


def test_label_shape_mismatch(root, arrays):
    signal, label = arrays[("S4", "test")]
    _rewrite(root, "S4b_test.npz", signal=signal, label=label[:-1])
    with pytest.raises(DataError, match=r"S4b_test\.npz.*expected 'label' of shape \(540,\).*found \(539,\)"):
        _load(root)


def test_label_three(root, arrays):
    signal, label = arrays[("X11", "train")]
    label = label.copy()
    label[10] = 3
    _rewrite(root, "X11b_train.npz", signal=signal, label=label)
    with pytest.raises(DataError, match=r"X11b_train\.npz.*expected 'label' values 1 \(left\) and 2 \(right\), found \[1\.0, 2\.0, 3\.0\]"):
        _load(root)


def test_wrong_dtype(root, arrays):
    signal, label = arrays[("S4", "train")]
    _rewrite(root, "S4b_train.npz", signal=np.nan_to_num(signal).astype(np.int32), label=label)
    with pytest.raises(DataError, match=r"S4b_train\.npz.*expected 'signal' dtype float64, found int32"):
        _load(root)


def test_empty_file(root):
    (root / "bci3b" / "S4b_test.npz").write_bytes(b"")
    with pytest.raises(DataError, match=r"S4b_test\.npz is empty"):
        _load(root)


def test_not_npz(root):
    (root / "bci3b" / "X11b_train.npz").write_text("signal,label\n1,2\n")
    with pytest.raises(DataError, match=r"X11b_train\.npz is not an npz"):
        _load(root)


def test_npy_saved_under_npz_name(root, arrays):
    np.save(root / "bci3b" / "S4b_train.npy", arrays[("S4", "train")][0])
    (root / "bci3b" / "S4b_train.npy").replace(root / "bci3b" / "S4b_train.npz")
    with pytest.raises(DataError, match=r"S4b_train\.npz is not an npz"):
        _load(root)


def test_corrupt_zip(root):
    path = root / "bci3b" / "S4b_train.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("signal.npy", b"not an array")
        z.writestr("label.npy", b"nor this")
    with pytest.raises(DataError, match=r"S4b_train\.npz.*(could not be read|expected 'signal' to be a NumPy array)"):
        _load(root)


def test_unknown_option(root):
    with pytest.raises(DataError, match=r"seed.*bci3b.*valid: verify"):
        _load(root, seed=3)
