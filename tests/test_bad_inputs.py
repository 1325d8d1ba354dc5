"""Every bad input gives one clear line on stderr, a non-zero exit, no traceback and no partial result.

Fed through the command line (in-process ``main`` for speed, a few real subprocesses to prove that no
traceback or warning reaches the user) and through the loaders and ``training.fit``:
broken npz (bci3b) and EDF (eegmmidb) files, wrong shapes, NaN/inf, labels out of range, one class,
zero trials, unknown names, bad numbers on the command line and in config files, output folders that
cannot be written, and a disk that fills up (simulated in-process, and for real with RLIMIT_FSIZE).
"""

from __future__ import annotations

import errno
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eegclf.storage import fileio
from eegclf.storage.checkpoint import load_checkpoint
from eegclf.cli import main
from eegclf.config import RunConfig
from eegclf.data import bci3b, load_dataset
from eegclf.data.base import EEGDataset, Split
from eegclf.errors import ConfigError, DataError
from eegclf.storage.rundir import RunDir
from eegclf.training.loop import fit

SMALL = ["--dataset", "synthetic", "--n-train", "48", "--n-test", "32", "--epochs", "1", "--batch-size", "16",
         "--quiet"]
RESULT_NAMES = ("summary.json", "history.csv", "best.safetensors", "last.safetensors", "state.safetensors")
FAST = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --------------------------------------------------------------------------------------------- helpers

def cli(capsys, *args) -> tuple[int, str, list[str]]:
    """Run ``eegclf ARGS`` in-process: (exit code, stdout, stderr lines + any warning, as a user sees them)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            rc = main([str(a) for a in args])
        except SystemExit as exc:  # argparse's own errors
            rc = exc.code
    out, err = capsys.readouterr()
    lines = [ln for ln in err.splitlines() if ln.strip()]
    return rc, out, lines + [f"{w.category.__name__}: {w.message}" for w in caught]


def run_cli(*args, **kwargs) -> tuple[int, list[str]]:
    """Run ``python -m eegclf ARGS`` in a fresh process: (exit code, stderr lines). Warnings are shown."""
    env = dict(os.environ, PYTHONWARNINGS="default")
    env.pop("EEGCLF_DEBUG", None)
    proc = subprocess.run([sys.executable, "-m", "eegclf", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=300, **kwargs)
    return proc.returncode, proc.stderr.splitlines()


def assert_one_line(rc, lines, *words) -> str:
    assert rc not in (0, None), lines
    assert len(lines) == 1, lines
    assert "Traceback" not in lines[0]
    assert lines[0].startswith("eegclf"), lines[0]
    assert "internal error" not in lines[0], lines[0]
    for w in words:
        assert w.lower() in lines[0].lower(), (w, lines[0])
    return lines[0]


def assert_no_results(*folders: Path) -> None:
    """No result file and no temporary file anywhere below the folders."""
    for folder in folders:
        if folder.is_dir():
            left = sorted(p.name for p in folder.rglob("*") if p.is_file())
            assert not left, left


def assert_no_tmp(folder: Path) -> None:
    assert not [p for p in folder.rglob("*") if p.name.endswith(".tmp")]


# ----------------------------------------------------------------------------- bci3b: broken npz files

def _bci3b_arrays(n=20, seed=0):
    rng = np.random.default_rng(seed)
    out = {}
    for i, (s, p) in enumerate((s, p) for s in bci3b.SUBJECTS for p in bci3b.PARTS):
        signal = rng.standard_normal((n, 750, 2)) * 5 + i
        signal[1, 100:110, 0] = np.nan  # a short gap, like the real files
        out[(s, p)] = [signal, (np.arange(n) % 2 + 1).astype(np.float64)]
    return out


def _write_bci3b(root: Path, arrays) -> Path:
    folder = root / "bci3b"
    folder.mkdir(parents=True, exist_ok=True)
    for (s, p), (signal, label) in arrays.items():
        np.savez(folder / bci3b.file_name(s, p), signal=signal, label=label)
    return root


@pytest.fixture()
def bci3b_root(tmp_path):
    return _write_bci3b(tmp_path, _bci3b_arrays())


def _train_bci3b(capsys, root, out):
    return cli(capsys, "train", "--dataset", "bci3b", "--data-dir", root, "--no-verify", "--epochs", "1",
               "--quiet", "--out", out)


def _nan_everywhere(a):
    for k in a:
        a[k][0][:] = np.nan


def _nan_channel_in_train(a):
    for s in bci3b.SUBJECTS:
        a[(s, "train")][0][..., 1] = np.nan


def _inf_in_test(a):
    a[("X11", "test")][0][3, 7, 1] = np.inf


def _minus_inf_in_train(a):
    a[("S4", "train")][0][0, 0, 0] = -np.inf


def _beyond_float32(a):
    a[("S4", "test")][0][2, 5, 0] = 1e300


def _zero_trials(a):
    a[("X11", "train")] = [np.zeros((0, 750, 2)), np.zeros(0)]


def _time_and_channels_swapped(a):
    a[("S4", "train")][0] = a[("S4", "train")][0].transpose(0, 2, 1)


def _one_trial_short(a):
    a[("X11", "test")][0] = a[("X11", "test")][0][:, :749]


def _channels_3(a):
    a[("S4", "test")][0] = np.concatenate([a[("S4", "test")][0], a[("S4", "test")][0][..., :1]], axis=2)


def _labels_zero_based(a):
    for k in a:
        a[k][1] = a[k][1] - 1


def _label_nan(a):
    a[("S4", "train")][1][4] = np.nan


def _label_fraction(a):
    a[("X11", "train")][1][0] = 1.5


def _label_negative(a):
    a[("S4", "test")][1][0] = -1


def _labels_2d(a):
    a[("S4", "train")][1] = a[("S4", "train")][1][:, None]


def _labels_text(a):
    a[("S4", "train")][1] = np.array(["left", "right"] * 10)


BCI3B_BAD = {  # case: (change, words the one-line error must hold)
    "nan everywhere": (_nan_everywhere, ["C3", "NaN"]),
    "one channel all nan": (_nan_channel_in_train, ["C4", "NaN"]),
    "inf in a test file": (_inf_in_test, ["X11b_test.npz", "infinite"]),
    "-inf in a train file": (_minus_inf_in_train, ["S4b_train.npz", "infinite"]),
    "beyond float32": (_beyond_float32, ["S4b_test.npz", "float32"]),
    "zero trials": (_zero_trials, ["X11b_train.npz", "(0, 750, 2)"]),
    "time and channels swapped": (_time_and_channels_swapped, ["S4b_train.npz", "(20, 2, 750)"]),
    "749 samples": (_one_trial_short, ["X11b_test.npz", "(20, 749, 2)"]),
    "3 channels": (_channels_3, ["S4b_test.npz", "(20, 750, 3)"]),
    "labels 0 and 1": (_labels_zero_based, ["label", "found [0.0, 1.0]"]),
    "a NaN label": (_label_nan, ["S4b_train.npz", "nan"]),
    "label 1.5": (_label_fraction, ["X11b_train.npz", "1.5"]),
    "label -1": (_label_negative, ["S4b_test.npz", "-1"]),
    "labels 2-D": (_labels_2d, ["S4b_train.npz", "(20, 1)"]),
    "labels as text": (_labels_text, ["S4b_train.npz", "numeric"]),
}


@pytest.mark.parametrize("case", list(BCI3B_BAD))
def test_bci3b_bad_content_is_one_line_and_leaves_nothing(case, tmp_path, capsys):
    change, words = BCI3B_BAD[case]
    arrays = _bci3b_arrays()
    change(arrays)
    root = _write_bci3b(tmp_path, arrays)
    with pytest.raises(DataError):
        load_dataset("bci3b", data_dir=root, verify=False)
    rc, _, lines = _train_bci3b(capsys, root, tmp_path / "run")
    assert_one_line(rc, lines, *words)
    assert not (tmp_path / "run").exists()
    rc, out, lines = cli(capsys, "data", "info", "bci3b", "--data-dir", root, "--no-verify")
    assert_one_line(rc, lines, *words)
    assert out == ""


def test_bci3b_one_class_loads_but_training_refuses(tmp_path, capsys):
    arrays = _bci3b_arrays()
    for k in arrays:
        arrays[k][1][:] = 2
    root = _write_bci3b(tmp_path, arrays)
    assert set(load_dataset("bci3b", data_dir=root, verify=False).train.y.tolist()) == {1}
    rc, _, lines = _train_bci3b(capsys, root, tmp_path / "run")
    assert_one_line(rc, lines, "only one class", "right_hand")
    assert_no_results(tmp_path / "run")


def _truncate(path: Path, keep: float) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


@pytest.mark.parametrize("how", ["missing", "empty", "half", "last byte cut", "directory", "text"])
def test_bci3b_broken_files_through_the_cli(how, bci3b_root, tmp_path, capsys):
    path = bci3b_root / "bci3b" / "X11b_test.npz"
    if how == "missing":
        path.unlink()
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "half":
        _truncate(path, 0.5)
    elif how == "last byte cut":
        path.write_bytes(path.read_bytes()[:-1])
    elif how == "directory":
        path.unlink()
        path.mkdir()
    else:
        path.write_text("signal,label\n1,2\n")
    rc, _, lines = _train_bci3b(capsys, bci3b_root, tmp_path / "run")
    assert_one_line(rc, lines, "X11b_test.npz")
    assert not (tmp_path / "run").exists()


class _Boom:
    marker = None

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_bci3b_pickled_object_array_is_refused_without_running_it(bci3b_root, tmp_path, capsys):
    _Boom.marker = tmp_path / "pwned"
    evil = np.empty(20, dtype=object)
    evil[:] = [_Boom() for _ in range(20)]
    np.savez(bci3b_root / "bci3b" / "S4b_train.npz", signal=evil, label=np.ones(20))
    rc, _, lines = _train_bci3b(capsys, bci3b_root, tmp_path / "run")
    assert_one_line(rc, lines, "S4b_train.npz")
    assert not _Boom.marker.exists()


@FAST
@given(data=st.binary(max_size=600), prefix=st.sampled_from([b"", b"PK\x03\x04", b"PK\x05\x06", b"\x93NUMPY"]))
def test_bci3b_random_bytes_are_always_a_data_error(data, prefix):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "S4b_train.npz"
        path.write_bytes(prefix + data)
        with pytest.raises(DataError, match="S4b_train.npz"):
            bci3b._read(path)


@FAST
@given(member=st.binary(max_size=400), name=st.sampled_from(["signal.npy", "label.npy", "x.npy"]))
def test_bci3b_zip_with_random_members_is_always_a_data_error(member, name):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "S4b_train.npz"
        with zipfile.ZipFile(path, "w") as z:
            z.writestr(name, member)
            z.writestr("label.npy" if name != "label.npy" else "signal.npy", member[::-1])
        with pytest.raises(DataError, match="S4b_train.npz"):
            bci3b._read(path)


_DTYPES = [np.float64, np.float32, np.float16, np.int32, np.uint8, np.bool_, np.complex64, "<U2"]


def _array(draw, dims, dtype):
    shape = tuple(draw(st.lists(st.sampled_from(dims), min_size=0, max_size=4)))
    n = int(np.prod(shape)) if shape else 1
    values = draw(st.sampled_from([0.0, 1.0, 2.0, -1.0, np.nan, np.inf, 1.5, 3.0]))
    arr = np.full(n, values) if np.dtype(dtype).kind in "fc" else np.full(n, 1)
    if n > 1:
        arr[::2] = 2
    return arr.astype(dtype).reshape(shape)


@st.composite
def _npz_arrays(draw):
    signal = _array(draw, [0, 1, 2, 3, 750], draw(st.sampled_from(_DTYPES)))
    label = _array(draw, [0, 1, 2, 3, 750], draw(st.sampled_from(_DTYPES)))
    if draw(st.booleans()):  # often a plausible signal, so the label checks are reached too
        signal = np.random.default_rng(0).standard_normal((3, 750, 2)).astype(draw(st.sampled_from(_DTYPES[:3])))
    return signal, label


@FAST
@given(arrays=_npz_arrays())
def test_bci3b_random_shapes_and_dtypes_load_cleanly_or_raise_a_data_error(arrays):
    signal, label = arrays
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "X11b_test.npz"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. casting complex test values to real
            np.savez(path, signal=signal, label=label)
        try:
            sig, lab = bci3b._read(path)
        except DataError as exc:
            assert "X11b_test.npz" in str(exc) and "\n" not in str(exc)
            return
    assert sig.dtype == np.float64 and sig.ndim == 3 and sig.shape[1:] == (750, 2) and len(sig) > 0
    assert lab.shape == (len(sig),) and set(lab.tolist()) <= {1, 2}
    assert not np.isinf(sig).any()


_SPECIAL = st.sampled_from(["plain", "all_nan", "some_nan", "channel_nan", "inf", "huge", "one_label"])


@FAST
@given(kinds=st.lists(_SPECIAL, min_size=4, max_size=4))
def test_bci3b_nan_and_inf_anywhere_give_finite_data_or_a_data_error(kinds):
    arrays = _bci3b_arrays(n=6)
    for (key, (signal, label)), kind in zip(arrays.items(), kinds):
        if kind == "all_nan":
            signal[:] = np.nan
        elif kind == "some_nan":
            signal[::2, ::3] = np.nan
        elif kind == "channel_nan":
            signal[..., 0] = np.nan
        elif kind == "inf":
            signal[-1, -1, -1] = np.inf
        elif kind == "huge":
            signal[0, 0, 0] = 1e39
        elif kind == "one_label":
            label[:] = 1
    with tempfile.TemporaryDirectory() as tmp:
        root = _write_bci3b(Path(tmp), arrays)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no RuntimeWarning may escape to the user either
            try:
                ds = load_dataset("bci3b", data_dir=root, verify=False)
            except DataError:
                return
    for split in (ds.train, ds.test):
        assert split.X.dtype == np.float32 and np.isfinite(split.X).all()


# ----------------------------------------------------------------------------- eegmmidb: broken EDF files

@pytest.fixture()
def edf_root(tmp_path, eegmmidb_root) -> Path:
    """A data root with copies of subject 1's imagery_lr runs (4, 8, 12), to break one by one."""
    folder = tmp_path / "data" / "eegmmidb" / "S001"
    folder.mkdir(parents=True)
    for run in (4, 8, 12):
        shutil.copy(eegmmidb_root / "eegmmidb" / "S001" / f"S001R{run:02d}.edf", folder)
    return tmp_path / "data"


def _header_field(data: bytes, start: int, stop: int, value: str) -> bytes:
    return data[:start] + value.encode().ljust(stop - start) + data[stop:]


EDF_BAD = {
    "empty": lambda d: b"",
    "garbage": lambda d: np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8).tobytes(),
    "text": lambda d: b"this is not an EDF file\n" * 50,
    "header only": lambda d: d[: int(d[184:192])],
    "cut in the header": lambda d: d[:100],
    "half": lambda d: d[: len(d) // 2],
    "last 1000 bytes cut": lambda d: d[:-1000],
    "header promises more records": lambda d: _header_field(d, 236, 244, "99999999"),
    "no signals": lambda d: _header_field(d, 252, 256, "0"),
    "other sampling rate": lambda d: _header_field(d, 244, 252, "2"),
}


@pytest.mark.parametrize("case", list(EDF_BAD))
def test_eegmmidb_broken_edf_is_one_line_and_leaves_nothing(case, edf_root, tmp_path, capsys):
    path = edf_root / "eegmmidb" / "S001" / "S001R08.edf"
    path.write_bytes(EDF_BAD[case](path.read_bytes()))
    with pytest.raises(DataError, match="S001R08.edf"):
        load_dataset("eegmmidb", data_dir=edf_root)
    rc, _, lines = cli(capsys, "train", "--dataset", "eegmmidb", "--data-dir", edf_root, "--epochs", "1",
                       "--quiet", "--out", tmp_path / "run")
    assert_one_line(rc, lines, "S001R08.edf")
    assert not (tmp_path / "run").exists()


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(keep=st.floats(0.0, 0.9999))
def test_eegmmidb_any_truncated_edf_is_a_data_error(keep, eegmmidb_root):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "eegmmidb" / "S001"
        folder.mkdir(parents=True)
        full = (eegmmidb_root / "eegmmidb" / "S001" / "S001R04.edf").read_bytes()
        (folder / "S001R04.edf").write_bytes(full[: int(len(full) * keep)])
        with pytest.raises(DataError, match="S001R04.edf"):
            load_dataset("eegmmidb", data_dir=tmp)


def test_eegmmidb_missing_edf_without_network_is_one_line(tmp_path, capsys, monkeypatch):
    import logging

    import mne
    import pooch

    def offline(*args, **kwargs):
        # pooch logs its download attempts and retries to stderr; they must not precede the one-line error
        assert pooch.get_logger().getEffectiveLevel() >= logging.ERROR
        raise OSError("Network is unreachable\nwith a second line")

    monkeypatch.setattr(mne.datasets.eegbci, "load_data", offline)
    rc, _, lines = cli(capsys, "train", "--dataset", "eegmmidb", "--data-dir", tmp_path, "--subjects", "3",
                       "--epochs", "1", "--quiet", "--out", tmp_path / "run")
    assert_one_line(rc, lines, "S003R04.edf", "missing")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("args, words", [
    (["--tmin", "-100", "--tmax", "200"], ["no trial fits", "S001R04.edf"]),  # window longer than the recording
    (["--resample", "1"], ["n_times"]),  # 5 samples per trial: too short for EEGNet
    (["--channels", "C3,C99"], ["C99"]),
    (["--subjects", "0"], ["subjects"]),
    (["--task", "sleep"], ["task", "imagery_lr"]),
])
def test_eegmmidb_wrong_shapes_and_options(args, words, eegmmidb_root, tmp_path, capsys):
    rc, _, lines = cli(capsys, "train", "--dataset", "eegmmidb", "--data-dir", eegmmidb_root, *args,
                       "--epochs", "1", "--quiet", "--out", tmp_path / "run")
    assert_one_line(rc, lines, *words)
    assert not (tmp_path / "run").exists()


# ---------------------------------------------------------------- hand-made data sets through training.fit

def _split(n=24, chans=2, times=64, y=None, seed=0, dtype=np.float32):
    X = np.random.default_rng(seed).standard_normal((n, 1, chans, times)).astype(dtype)
    return Split(X, np.arange(n) % 2 if y is None else np.asarray(y), np.full(n, "S1"))


def _ds(train, test=None, classes=("left", "right")):
    test = _split(seed=1) if test is None else test
    return EEGDataset("hand", train, test, 100.0, ["C3", "C4"], list(classes))


def _with(split, where, value):
    split.X[where] = value
    return split


FIT_BAD = {
    "zero training trials": (lambda: _ds(_split(0)), "zero trials"),
    "zero test trials": (lambda: _ds(_split(), _split(0)), "zero trials"),
    "a channel all NaN": (lambda: _ds(_with(_split(), (slice(None), 0, 1), np.nan)), "NaN or inf"),
    "NaN everywhere": (lambda: _ds(_with(_split(), (Ellipsis,), np.nan)), "NaN or inf"),
    "inf in the test part": (lambda: _ds(_split(), _with(_split(seed=1), (0, 0, 0, 0), np.inf)), "NaN or inf"),
    "beyond float32": (lambda: _ds(_ds_huge()), "NaN or inf"),
    "label 2 of two classes": (lambda: _ds(_split(y=np.arange(24) % 3)), "outside 0..1"),
    "label -1": (lambda: _ds(_split(y=np.arange(24) % 2 - 1)), "outside 0..1"),
    "test label out of range": (lambda: _ds(_split(), _split(y=np.full(24, 5))), "outside 0..1"),
    "one class": (lambda: _ds(_split(y=np.zeros(24, int))), "only one class"),
    "one class name": (lambda: _ds(_split(y=np.zeros(24, int)), _split(y=np.zeros(24, int)), classes=("left",)),
                       "only one class"),
    "two trials": (lambda: _ds(_split(2)), "validation"),
    "3-D trials": (lambda: _ds(Split(np.zeros((24, 2, 64), np.float32), np.arange(24) % 2, np.full(24, "S"))),
                   "shape (trials, 1, channels, time)"),
    "test with other channels": (lambda: _ds(_split(), _split(chans=3)), "test trials"),
    "test with other length": (lambda: _ds(_split(), _split(times=50)), "test trials"),
    "fractional labels": (lambda: _ds(_split(y=(np.arange(24) % 2) * 0.5)), "integer class labels"),
    "integer samples": (lambda: _ds(Split(np.zeros((24, 1, 2, 64), np.int16), np.arange(24) % 2,
                                          np.full(24, "S"))), "floating-point"),
}


def _ds_huge():
    X = np.random.default_rng(0).standard_normal((24, 1, 2, 64))
    X[3, 0, 1, 5] = 1e300
    return Split(X, np.arange(24) % 2, np.full(24, "S1"))


@pytest.mark.parametrize("model", ["eegnet", "csp_lda"])
@pytest.mark.parametrize("case", list(FIT_BAD))
def test_fit_refuses_bad_data_before_writing(case, model, tmp_path):
    make, words = FIT_BAD[case]
    with pytest.raises(DataError, match=r"(?i)" + re.escape(words)) as info:
        fit(RunConfig(model=model, epochs=1, batch_size=8), make(), run_dir=tmp_path / "run", progress=False)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("y", [np.arange(24) % 2, (np.arange(24) % 2).astype(np.int32),
                               (np.arange(24) % 2).astype(bool), (np.arange(24) % 2).astype(np.float64)])
def test_fit_accepts_any_integer_valued_labels(y, tmp_path):
    summary = fit(RunConfig(epochs=1, batch_size=8), _ds(_split(y=y)), run_dir=tmp_path / "run", progress=False)
    assert summary["epochs"] == 1 and (tmp_path / "run" / "summary.json").is_file()


# ----------------------------------------------------------------------- names and numbers on the CLI

@pytest.mark.parametrize("args, words", [
    (["--model", "resnet"], ["resnet", "eegnet"]),
    (["--act", "tanhh"], ["tanhh", "leaky_relu"]),
    (["--act", "no_such_module:Act"], ["could not be imported"]),
    (["--act", "os:getcwd"], ["not an nn.Module"]),
    (["--dataset", "mnist"], ["mnist", "synthetic"]),
    (["--optimizer", "rmsprop"], ["rmsprop", "adamw"]),
    (["--epochs", "0"], ["epochs"]),
    (["--epochs", "-1"], ["epochs"]),
    (["--epochs", "abc"], ["epochs", "abc"]),
    (["--epochs", "2.5"], ["epochs", "2.5"]),
    (["--lr", "0"], ["lr"]),
    (["--lr", "-0.001"], ["lr"]),
    (["--lr", "nan"], ["lr"]),
    (["--lr", "inf"], ["lr", "finite"]),
    (["--batch-size", "0"], ["batch_size"]),
    (["--batch-size", "-8"], ["batch_size"]),
    (["--weight-decay", "-1"], ["weight_decay"]),
    (["--weight-decay", "inf"], ["weight_decay"]),
    (["--val-fraction", "-0.1"], ["val_fraction"]),
    (["--val-fraction", "1"], ["val_fraction"]),
    (["--val-fraction", "nan"], ["val_fraction"]),
    (["--dropout", "1"], ["dropout"]),
    (["--seed", "-1"], ["seed"]),
    (["--threads", "0"], ["threads"]),
    (["--device", "tpu"], ["device"]),
    (["--n-train", "0"], ["n_train"]),
    (["--n-train", "-5"], ["n_train"]),
    (["--difficulty", "nan"], ["difficulty"]),
    (["--data-seed", "-1"], ["seed"]),
    (["--subjects", "x"], ["subjects"]),
])
def test_train_bad_flags(args, words, tmp_path, capsys):
    rc, out, lines = cli(capsys, "train", *SMALL, *args, "--out", tmp_path / "run")
    assert_one_line(rc, lines, *words)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("args, words", [
    (["compare", "--models", "resnet"], ["resnet"]),
    (["compare", "--acts", "tanhh"], ["tanhh"]),
    (["compare", "--seeds", "0"], ["empty"]),
    (["compare", "--jobs", "0"], ["jobs"]),
    (["compare", "--epochs", "-3"], ["epochs"]),
    (["data", "info", "mnist"], ["mnist", "bci3b"]),
    (["data", "info", "synthetic", "--n-test", "1"], ["n_test"]),
    (["trian"], ["trian", "train"]),
    ([], ["COMMAND"]),
])
def test_other_commands_bad_names_and_numbers(args, words, tmp_path, capsys):
    if args[:1] == ["compare"]:
        args = [*args[:1], "--out", tmp_path / "study", *SMALL, *args[1:]]
    rc, _, lines = cli(capsys, *args)
    assert_one_line(rc, lines, *words)
    assert_no_results(tmp_path / "study")


CONFIGS = {  # file name: (content, words)
    "epochs0.toml": ("epochs = 0\n", ["epochs"]),
    "epochs_negative.toml": ("epochs = -3\n", ["epochs"]),
    "epochs_text.toml": ('epochs = "ten"\n', ["epochs", "ten"]),
    "epochs_true.toml": ("epochs = true\n", ["epochs"]),
    "lr0.toml": ("lr = 0\n", ["lr"]),
    "lr_negative.toml": ("lr = -0.1\n", ["lr"]),
    "lr_inf.toml": ("lr = inf\n", ["lr"]),
    "lr_nan.toml": ("lr = nan\n", ["lr"]),
    "batch0.toml": ("batch_size = 0\n", ["batch_size"]),
    "batch_negative.toml": ("batch_size = -64\n", ["batch_size"]),
    "batch_fraction.toml": ("batch_size = 6.4\n", ["batch_size"]),
    "unknown_key.toml": ("epochs = 1\nlearning_rate = 0.1\n", ["learning_rate", "valid keys"]),
    "table.toml": ("[train]\nepochs = 1\n", ["train"]),
    "val_text.toml": ('val_fraction = "x"\n', ["val_fraction"]),
    "dropout_text.toml": ('dropout = "x"\n', ["dropout"]),
    "seed_text.toml": ('seed = "x"\n', ["seed"]),
    "threads_text.toml": ('threads = "x"\n', ["threads"]),
    "options_text.toml": ('dataset_options = "x"\n', ["dataset_options"]),
    "kwargs_text.toml": ('model_kwargs = "x"\n', ["model_kwargs"]),
    "kwargs_unknown.toml": ("[model_kwargs]\nbogus = 1\n", ["bogus"]),
    "bf16_text.toml": ('bf16 = "yes"\n', ["bf16"]),
    "model.toml": ('model = "resnet"\n', ["resnet"]),
    "activation.toml": ('activation = "tanhh"\n', ["tanhh"]),
    "dataset.yaml": ("dataset: mnist\n", ["mnist"]),
    "syntax.toml": ("epochs = = 1\n", ["could not be parsed"]),
    "syntax.yaml": ("epochs: [1\nlr: {\n", ["could not be parsed"]),
    "syntax.json": ('{"epochs": 1,,}', ["could not be parsed"]),
    "list.yaml": ("- 1\n- 2\n", ["table of keys"]),
    "config.ini": ("epochs=1\n", [".toml"]),
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_train_bad_config_files(name, tmp_path, capsys):
    text, words = CONFIGS[name]
    path = tmp_path / name
    path.write_text(text)
    # the file's value must win, so no CLI flag may set the key under test; dataset and size come from flags
    flags = ["--n-train", "48", "--n-test", "32", "--quiet"] + ([] if "dataset" in name else ["--dataset", "synthetic"])
    rc, _, lines = cli(capsys, "train", *flags, "--config", path, "--out", tmp_path / "run")
    assert_one_line(rc, lines, *words)
    assert not (tmp_path / "run").exists()


def test_train_config_file_undecodable_or_missing(tmp_path, capsys):
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00epochs\x80")
    rc, _, lines = cli(capsys, "train", *SMALL, "--config", binary, "--out", tmp_path / "run")
    assert_one_line(rc, lines, "binary.toml")
    rc, _, lines = cli(capsys, "train", *SMALL, "--config", tmp_path / "nope.toml", "--out", tmp_path / "run")
    assert_one_line(rc, lines, "nope.toml", "does not exist")
    assert not (tmp_path / "run").exists()


def test_run_config_refuses_non_numbers_directly():
    for bad in ({"lr": float("inf")}, {"epochs": True}, {"seed": -2}, {"val_fraction": "0.2"}, {"max_norm": "no"}):
        with pytest.raises(ConfigError):
            RunConfig.from_dict(bad).validate()
    with pytest.raises(ConfigError, match="table of keys"):
        RunConfig.from_dict([("epochs", 1)])


# ------------------------------------------------------------------- resume of a broken run folder

@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("fin") / "run"
    assert main(["train", *SMALL, "--epochs", "2", "--out", str(out)]) == 0
    return out


@pytest.mark.parametrize("break_it, words", [
    (lambda d: (d / "config.json").write_text("{not json"), ["config.json", "JSON"]),
    (lambda d: (d / "config.json").write_text("[1, 2]"), ["table of keys"]),
    (lambda d: (d / "config.json").write_text('{"epochs": 2, "colour": "red"}'), ["colour"]),
    (lambda d: (d / "config.json").unlink(), ["not a run folder"]),
    (lambda d: _truncate(d / "state.safetensors", 0.5), ["state.safetensors", "corrupt"]),
])
def test_resume_of_a_broken_run_folder(break_it, words, finished_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    (run / "summary.json").unlink()
    break_it(run)
    rc, _, lines = cli(capsys, "train", "--resume", run, "--quiet")
    assert_one_line(rc, lines, *words)
    assert not (run / "summary.json").exists()


@pytest.mark.parametrize("args, words", [
    (["--dataset", "mnist"], ["mnist", "synthetic"]),
    (["--model", "resnet"], ["resnet"]),
    (["--act", "tanhh"], ["tanhh"]),
    (["--n-test", "0"], ["n_test"]),
])
def test_eval_bad_names_and_numbers(args, words, finished_run, capsys):
    rc, out, lines = cli(capsys, "eval", "--checkpoint", finished_run / "best.safetensors", *args)
    assert_one_line(rc, lines, *words)
    assert "Test Accuracy" not in out


def test_eval_of_a_folder(finished_run, capsys):
    rc, _, lines = cli(capsys, "eval", "--checkpoint", finished_run)
    assert_one_line(rc, lines, "not a file")


# ------------------------------------------------------------------ output folders and a full disk

@pytest.mark.parametrize("model", ["eegnet", "csp_lda"])
def test_out_under_a_regular_file(model, tmp_path, capsys):
    blocker = tmp_path / "somefile"
    blocker.write_text("not a folder")
    rc, _, lines = cli(capsys, "train", *SMALL, "--model", model, "--out", blocker / "run")
    assert_one_line(rc, lines, "somefile", "not a directory")
    assert blocker.read_text() == "not a folder"
    rc, _, lines = cli(capsys, "train", *SMALL, "--model", model, "--out", blocker)
    assert_one_line(rc, lines, "somefile", "not a folder")
    rc, _, lines = cli(capsys, "compare", "--out", blocker / "study", *SMALL, "--models", model, "--acts", "elu",
                       "--seeds", "1")
    assert_one_line(rc, lines, "somefile")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["somefile"]


def test_out_in_proc_cannot_be_created(capsys):
    rc, _, lines = cli(capsys, "train", *SMALL, "--out", "/proc/eegclf-test/run")
    assert_one_line(rc, lines, "/proc/eegclf-test")


def test_out_already_holds_a_run(finished_run, capsys):
    before = {p.name: p.stat().st_mtime_ns for p in finished_run.iterdir()}
    rc, _, lines = cli(capsys, "train", *SMALL, "--out", finished_run)
    assert_one_line(rc, lines, "--resume", "--overwrite")
    assert {p.name: p.stat().st_mtime_ns for p in finished_run.iterdir()} == before


class _FullDisk:
    """Stands in for ``os`` inside eegclf.storage.fileio: after ``after`` good files, writes stop half-way with ENOSPC."""

    def __init__(self, after: int):
        self.after, self.opened = after, 0

    def fdopen(self, fd, mode):
        f = os.fdopen(fd, mode)
        self.opened += 1
        return f if self.opened <= self.after else _HalfWriter(f)

    def __getattr__(self, name):
        return getattr(os, name)


class _HalfWriter:
    def __init__(self, f):
        self.f = f

    def write(self, data):
        self.f.write(data[: len(data) // 2])
        self.f.flush()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __getattr__(self, name):
        return getattr(self.f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()


def test_full_disk_at_the_first_write_leaves_no_file(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(fileio, "os", _FullDisk(after=0))
    rc, _, lines = cli(capsys, "train", *SMALL, "--out", tmp_path / "run")
    assert_one_line(rc, lines, "config.json", "No space left on device")
    assert_no_results(tmp_path / "run")


def test_full_disk_mid_run_keeps_a_resumable_run_and_no_partial_file(tmp_path, capsys, monkeypatch):
    args = ["--dataset", "synthetic", "--n-train", "48", "--n-test", "32", "--epochs", "3", "--batch-size", "16",
            "--quiet"]
    ref = tmp_path / "ref"
    assert main(["train", *args, "--out", str(ref)]) == 0
    capsys.readouterr()

    run = tmp_path / "run"
    monkeypatch.setattr(fileio, "os", _FullDisk(after=6))  # config + 4 files of epoch 1 + 1 of epoch 2
    rc, _, lines = cli(capsys, "train", *args, "--out", run)
    line = assert_one_line(rc, lines, "No space left on device", "--resume")
    assert str(run) in line
    assert not (run / "summary.json").exists()
    assert_no_tmp(run)
    history = RunDir(run).read_history()
    assert [r["epoch"] for r in history] == [1]
    for name in ("best.safetensors", "last.safetensors"):  # whatever is left loads: nothing is truncated
        model, meta = load_checkpoint(run / name)
        assert meta["epoch"] in (1, 2)
    monkeypatch.undo()

    rc, _, lines = cli(capsys, "train", "--resume", run, "--quiet")
    assert rc == 0, lines
    assert (run / "history.csv").read_text() == (ref / "history.csv").read_text()
    summary, ref_summary = (json.loads((d / "summary.json").read_text()) for d in (run, ref))
    assert summary["test_acc_val_selected"] == ref_summary["test_acc_val_selected"]


# --------------------------------------------------- real processes: no traceback, no warning, one line

def test_subprocess_all_nan_bci3b_prints_one_line(tmp_path):
    arrays = _bci3b_arrays()
    _nan_everywhere(arrays)
    root = _write_bci3b(tmp_path, arrays)
    rc, lines = run_cli("train", "--dataset", "bci3b", "--data-dir", root, "--no-verify", "--epochs", "1",
                        "--out", tmp_path / "run")
    assert_one_line(rc, lines, "NaN")
    assert not (tmp_path / "run").exists()


def test_subprocess_truncated_edf_prints_one_line(edf_root, tmp_path):
    _truncate(edf_root / "eegmmidb" / "S001" / "S001R12.edf", 0.7)
    rc, lines = run_cli("data", "info", "eegmmidb", "--data-dir", edf_root)
    assert_one_line(rc, lines, "S001R12.edf", "truncated")


def test_subprocess_bad_flag_and_bad_yaml_print_one_line(tmp_path):
    rc, lines = run_cli("train", "--epochs", "ten")
    assert_one_line(rc, lines, "--epochs", "ten")
    bad = tmp_path / "bad.yaml"
    bad.write_text("epochs: [1\nlr: {\n")
    rc, lines = run_cli("train", *SMALL, "--config", bad, "--out", tmp_path / "run")
    assert_one_line(rc, lines, "bad.yaml")
    assert not (tmp_path / "run").exists()


def _small_file_limit():
    resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))  # config.json fits, a checkpoint does not


def test_subprocess_file_size_limit_stops_cleanly(tmp_path):
    """A real process hitting a real write limit half-way through a checkpoint (Python ignores SIGXFSZ)."""
    run = tmp_path / "run"
    rc, lines = run_cli("train", *SMALL, "--out", run, preexec_fn=_small_file_limit)
    assert_one_line(rc, lines, "File too large", "best.safetensors")
    assert_no_tmp(run)
    assert sorted(p.name for p in run.iterdir()) == ["config.json"]



# ------------------------------------------------------------------ the memory fix these runs rely on

@pytest.mark.parametrize("chunk_bytes", [1, 5000, 8 << 20])
def test_channel_stats_in_blocks_equals_a_float64_copy(chunk_bytes):
    """channel_stats accumulates in float64 block by block instead of copying X to float64 (memory)."""
    from eegclf.models.standardize import channel_stats

    rng = np.random.default_rng(0)
    X = (rng.standard_normal((37, 1, 3, 50)) * [[[[2.0], [1e-4], [0.0]]]] + 1e3).astype(np.float32)
    X64 = X.astype(np.float64)
    std = X64.std(axis=(0, 1, 3))
    std[std == 0] = 1.0
    mean, got_std = channel_stats(X, chunk_bytes=chunk_bytes)
    np.testing.assert_allclose(mean, X64.mean(axis=(0, 1, 3)), rtol=1e-7)
    np.testing.assert_allclose(got_std, std, rtol=1e-6)
    assert got_std[2] == 1.0  # a constant channel keeps unit scale
    idx = np.array([0, 3, 4, 10, 36])
    for a, b in zip(channel_stats(X, idx, chunk_bytes=chunk_bytes), channel_stats(X[idx])):
        np.testing.assert_array_equal(a, b)
