"""The 'files' data set: any recording MNE reads, named by globs, with events mapped to classes."""

import json
import os

import mne
import numpy as np
import pytest

from eegclf.cli import main
from eegclf.data import load_dataset
from eegclf.data.files import DEFAULTS, OPTION_HELP, expand_globs, parse_events
from eegclf.errors import DataError

SFREQ = 100.0
CHANNELS = ["C3", "Cz", "C4"]


def write_fif(path, labels, *, sfreq=SFREQ, channels=CHANNELS, seconds=60.0, seed=0, stim=True,
              first_onset=2.0, spacing=3.0):
    """A recording with known trials: noise plus a class-dependent sine, events as stim codes 1/2 or
    annotations 'left'/'right'. Returns (data in volts, onsets in samples)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sfreq)
    data = rng.normal(0, 1e-5, (len(channels), n))
    onsets = (np.round((first_onset + spacing * np.arange(len(labels))) * sfreq)).astype(int)
    t = np.arange(int(sfreq)) / sfreq
    for onset, label in zip(onsets, labels):
        data[0 if label == 0 else -1, onset:onset + len(t)] += 3e-5 * np.sin(2 * np.pi * 10 * t)
    raw = mne.io.RawArray(data, mne.create_info(list(channels), sfreq, "eeg"), verbose="error")
    if stim:
        codes = np.zeros((1, n))
        codes[0, onsets] = np.asarray(labels) + 1
        raw.add_channels([mne.io.RawArray(codes, mne.create_info(["STI"], sfreq, "stim"), verbose="error")])
    else:
        raw.set_annotations(mne.Annotations(onsets / sfreq, 1.0, [("left", "right")[k] for k in labels]))
    raw.save(path, fmt="double", overwrite=True, verbose="error")
    return data, onsets


LABELS_A = [0, 1, 1, 0, 1, 0, 0, 1]
LABELS_B = [1, 0, 0, 1, 0, 1]


@pytest.fixture
def two_fifs(tmp_path):
    a = write_fif(tmp_path / "sub-01_run-1_raw.fif", LABELS_A, seed=1)
    b = write_fif(tmp_path / "sub-02_run-3_raw.fif", LABELS_B, seed=2)
    return tmp_path, a, b


def test_defaults_and_help_cover_the_same_options():
    assert set(OPTION_HELP) == set(DEFAULTS)
    assert all(isinstance(h, str) and h and "\n" not in h for h in OPTION_HELP.values())


def test_fif_stim_codes_round_trip(two_fifs):
    root, (data_a, onsets_a), (data_b, onsets_b) = two_fifs
    d = load_dataset("files", train_files=str(root / "sub-01*.fif"), test_files=str(root / "sub-02*.fif"),
                     events="1=left,2=right", tmin=0.0, tmax=1.0,
                     subject_from=r"sub-(?P<subject>\d+)_run-(?P<run>\d+)")
    assert d.class_names == ["left", "right"] and d.ch_names == CHANNELS and d.sfreq == SFREQ
    for split, data, onsets, labels, subject, run in ((d.train, data_a, onsets_a, LABELS_A, "01", 1),
                                                      (d.test, data_b, onsets_b, LABELS_B, "02", 3)):
        expected = np.stack([data[:, o:o + int(SFREQ) + 1] for o in onsets]).astype(np.float32)
        np.testing.assert_array_equal(split.X[:, 0], expected)  # window [0, 1] s inclusive: 101 samples
        assert split.y.tolist() == labels
        assert set(split.subjects) == {subject} and set(split.runs.tolist()) == {run}
    # the options reload exactly this data set, and name the files by absolute path
    again = load_dataset("files", **{k: v for k, v in d.options.items() if k != "data_dir"})
    assert again.test.fingerprint() == d.test.fingerprint() and again.train.fingerprint() == d.train.fingerprint()
    assert d.options["train_files"] == [str(root / "sub-01_run-1_raw.fif")]


def test_brainvision_annotations_round_trip(tmp_path):
    pytest.importorskip("pybv")  # MNE writes BrainVision through pybv
    rng = np.random.default_rng(3)
    data = rng.normal(0, 1e-5, (3, 4000))
    raw = mne.io.RawArray(data, mne.create_info(CHANNELS, 200.0, "eeg"), verbose="error")
    onsets = np.array([1.0, 4.5, 8.0, 11.5, 15.0])
    labels = [1, 0, 1, 1, 0]
    raw.set_annotations(mne.Annotations(onsets, 2.0, [("rest", "move")[k] for k in labels]))
    for name in ("train", "test"):
        mne.export.export_raw(tmp_path / f"{name}.vhdr", raw, fmt="brainvision", overwrite=True, verbose="error")
    d = load_dataset("files", train_files=str(tmp_path / "train.vhdr"), test_files=str(tmp_path / "test.vhdr"),
                     events="Comment/move=move,Comment/rest=rest", tmin=-0.5, tmax=1.5)
    assert d.class_names == ["move", "rest"]
    assert d.test.y.tolist() == [0 if k == 1 else 1 for k in labels]
    starts = np.round((onsets - 0.5) * 200).astype(int)
    expected = np.stack([data[:, s:s + 401] for s in starts])
    np.testing.assert_allclose(d.test.X[:, 0], expected, rtol=1e-5, atol=1e-12)
    assert set(d.train.subjects) == {"train"} and set(d.test.subjects) == {"test"}  # one subject per file


def test_mixed_channels_and_rates_are_aligned(tmp_path):
    write_fif(tmp_path / "a_raw.fif", LABELS_A, channels=["C3", "Cz", "C4", "Pz"], seed=1)
    write_fif(tmp_path / "b_raw.fif", LABELS_B, channels=["Pz", "C4", "C3", "Fz", "Cz"], sfreq=200.0, seed=2)
    d = load_dataset("files", train_files=str(tmp_path / "a_raw.fif"), test_files=str(tmp_path / "b_raw.fif"),
                     events="1=left,2=right", tmin=0.0, tmax=1.0)
    assert d.ch_names == ["C3", "Cz", "C4", "Pz"]  # the common channels, in the first file's order
    assert d.sfreq == 100.0 and d.n_times == 101  # resampled to the lower rate
    assert d.info["channels_left_out"] == {str(tmp_path / "b_raw.fif"): ["Fz"]}
    # naming a channel one file lacks, or asking for a rate only one file has, is refused
    with pytest.raises(DataError, match=r"a_raw\.fif has no channel\(s\) \['Fz'\]; it has: C3, Cz, C4, Pz"):
        load_dataset("files", train_files=str(tmp_path / "a_raw.fif"), test_files=str(tmp_path / "b_raw.fif"),
                     events="1=left,2=right", channels="Fz,Cz")
    with pytest.raises(DataError, match=r"different sampling rates .*--resample 100"):
        load_dataset("files", train_files=str(tmp_path / "a_raw.fif"), test_files=str(tmp_path / "b_raw.fif"),
                     events="1=left,2=right", resample=200)
    # ... unless a low-pass makes both hold the same band
    d = load_dataset("files", train_files=str(tmp_path / "a_raw.fif"), test_files=str(tmp_path / "b_raw.fif"),
                     events="1=left,2=right", resample=200, h_freq=40, channels="cz,c3")
    assert d.sfreq == 200.0 and d.ch_names == ["Cz", "C3"]


def test_parse_events_and_globs(tmp_path):
    assert parse_events("T1=left, T2=right") == [("T1", "left"), ("T2", "right")]
    assert parse_events("769=left,770=right,771=left") == [("769", "left"), ("770", "right"), ("771", "left")]
    assert parse_events({"a": "x", "b": "y"}) == [("a", "x"), ("b", "y")]
    for bad, msg in (("T1", "not EVENT=CLASS"), ("T1=left,T1=right", "more than once"),
                     ("T1=left,T2=left", "at least two class names"), ("=left,T2=right", "need an event")):
        with pytest.raises(DataError, match=msg):
            parse_events(bad)
    (tmp_path / "x1.edf").write_bytes(b"")
    (tmp_path / "x2.edf").write_bytes(b"")
    assert expand_globs("train_files", "x*.edf", cwd=tmp_path) == [str(tmp_path / "x1.edf"), str(tmp_path / "x2.edf")]
    with pytest.raises(DataError, match=r"--test-files 'y\*\.edf' matches no file"):
        expand_globs("test_files", "y*.edf", cwd=tmp_path)


def _error_line(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_bad_input_gives_one_line(two_fifs, tmp_path, capsys):
    root = two_fifs[0]
    a, b = str(root / "sub-01_run-1_raw.fif"), str(root / "sub-02_run-3_raw.fif")
    info = ["data", "info", "files"]
    assert "matches no file" in _error_line(capsys, [*info, "--train-files", str(root / "none*.fif"),
                                                     "--test-files", b, "--events", "1=l,2=r"])
    (root / "broken.edf").write_bytes(b"not an EDF file at all")
    err = _error_line(capsys, [*info, "--train-files", str(root / "broken.edf"), "--test-files", b,
                               "--events", "1=l,2=r"])
    assert "broken.edf" in err and "could not be read" in err
    err = _error_line(capsys, [*info, "--train-files", a, "--test-files", b, "--events", "1=l,7=r"])
    assert "has no event '7'" in err and "stim channel codes are: 1, 2" in err
    err = _error_line(capsys, [*info, "--train-files", a, "--test-files", b, "--events", "1=l,2=r",
                               "--tmin", "100", "--tmax", "104"])
    assert "no trial fits the window" in err and "60.0 s long" in err
    assert "needs --events" in _error_line(capsys, [*info, "--train-files", a, "--test-files", b])
    assert "in both" in _error_line(capsys, [*info, "--train-files", a, "--test-files", a, "--events", "1=l,2=r"])
    assert "does not match" in _error_line(capsys, [*info, "--train-files", a, "--test-files", b, "--events",
                                                    "1=l,2=r", "--subject-from", r"S(\d+)R"])
    # a file with one class only: its events list names what is there
    write_fif(root / "both_raw.fif", LABELS_A, seed=4, stim=False)
    write_fif(root / "only_left_raw.fif", [0, 0, 0], seed=5, stim=False)
    err = _error_line(capsys, [*info, "--train-files", str(root / "both_raw.fif"),
                               "--test-files", str(root / "only_left_raw.fif"),
                               "--events", "left=left,right=right"])
    assert "has no event 'right'" in err and "annotation descriptions are: 'left'" in err


def test_files_loader_gives_the_eegmmidb_arrays(eegmmidb_root):
    s001 = eegmmidb_root / "eegmmidb" / "S001"
    for opts in ({}, {"channels": "all", "reference": "average", "l_freq": 7.0, "h_freq": 30.0, "resample": 128.0,
                     "tmin": -0.5, "tmax": 3.0}):
        ref = load_dataset("eegmmidb", data_dir=eegmmidb_root, subjects=[1], task="imagery_lr", **opts)
        got = load_dataset("files", train_files=str(s001 / "S001R0[48].edf"), test_files=str(s001 / "S001R12.edf"),
                           events="T1=left_fist,T2=right_fist", subject_from=r"(?P<subject>S\d+)R(?P<run>\d+)",
                           **{"channels": "C3,Cz,C4", **opts})
        for part in ("train", "test"):
            a, b = getattr(ref, part), getattr(got, part)
            np.testing.assert_array_equal(b.X, a.X)
            for name in ("y", "subjects", "runs"):
                np.testing.assert_array_equal(getattr(b, name), getattr(a, name))
        assert (got.ch_names, got.sfreq, got.class_names) == (ref.ch_names, ref.sfreq, ref.class_names)


def test_train_eval_and_stream_a_files_checkpoint(eegmmidb_root, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(eegmmidb_root / "eegmmidb")  # relative globs resolve against the current folder
    out = tmp_path / "R"
    assert main(["train", "--dataset", "files", "--train-files", "S001/S001R0[48].edf",
                 "--test-files", "S001/S001R12.edf", "--events", "T1=left,T2=right", "--model", "eegnet",
                 "--epochs", "2", "--batch-size", "16", "--out", str(out), "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    config = json.loads((out / "config.json").read_text())
    # recorded resolved (the current folder is, whatever link led to it): compare with the resolved root
    assert config["dataset_options"]["train_files"].startswith(str((eegmmidb_root / "eegmmidb").resolve()) + os.sep)
    monkeypatch.chdir(tmp_path)  # eval elsewhere: the checkpoint names the files by absolute path
    capsys.readouterr()
    assert main(["eval", "--checkpoint", str(out / "best.safetensors")]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == (
        f"Test Loss: {summary['test_loss_val_selected']:.4f}, Test Accuracy: {summary['test_acc_val_selected']:.4f}")
    assert main(["stream", "--checkpoint", str(out / "best.safetensors"), "--speed", "0", "--quiet",
                 "--step-ms", "2000", "--source", str(eegmmidb_root / "eegmmidb" / "S001" / "S001R12.edf")]) == 0
    accuracy = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("accuracy:")]
    assert accuracy and "windows inside a cued trial" in accuracy[0]  # T1/T2 cues scored as left/right
