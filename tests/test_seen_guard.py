"""The seen-people guard (eegclf.data.seen): no command scores or calibrates a network on people it was trained on,
whether they come back under their id or as the very recordings under another name (the ``files`` route, MOABB),
unless --allow-seen / allow_seen=True says so, and then the number is marked "seen in training"."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from eegclf.storage.checkpoint import read_checkpoint
from eegclf.cli import main
from eegclf.data import load_dataset
from eegclf.errors import CheckpointError

SMALL = ["--task", "imagery_lr", "--channels", "C3,Cz,C4", "--resample", "80", "--tmax", "2"]
LR = "T1=left_fist,T2=right_fist"  # the files route's events for EEGMMIDB's imagined left/right fist


def _edf(root, subject: int, run: int) -> str:
    return str(root / "eegmmidb" / f"S{subject:03d}" / f"S{subject:03d}R{run:02d}.edf")


def _files(root, subject: int, small: bool = True) -> list[str]:
    """``--dataset files`` flags for one person's three imagery runs (4 and 8 train, 12 tests), with the small
    network's input options (eval takes the data set's defaults where a data set is named)."""
    return ["--dataset", "files", "--train-files", f"{_edf(root, subject, 4)},{_edf(root, subject, 8)}",
            "--test-files", _edf(root, subject, 12), "--events", LR, *(SMALL[2:] if small else [])]


@pytest.fixture(scope="module")
def pre(eegmmidb_root, tmp_path_factory):
    """A network pre-trained (1 epoch) on S001 alone, three channels at 80 Hz."""
    out = tmp_path_factory.mktemp("seen") / "PRE"
    assert main(["pretrain", "--data-dir", str(eegmmidb_root), "--subjects", "1", *SMALL, "--epochs", "1",
                 "--quiet", "--out", str(out)]) == 0
    return out / "pretrained.safetensors"


def _refused(capsys, rc: int, *names: str) -> str:
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "Traceback" not in err and len(err.splitlines()) == 1, err
    assert all(n in err for n in names) and "--allow-seen" in err, err
    return err


# ------------------------------------------------------------------------------------------- fingerprints

def test_a_run_has_one_fingerprint_whatever_loads_it_and_however_it_is_preprocessed(eegmmidb_root):
    import mne

    from eegclf.data.fingerprint import fingerprint, raw_fingerprint
    from eegclf.streaming.sources import FileReplaySource

    a = load_dataset("eegmmidb", data_dir=eegmmidb_root, subjects=[1], channels="C3,Cz,C4")
    b = load_dataset("files", train_files=f"{_edf(eegmmidb_root, 1, 4)},{_edf(eegmmidb_root, 1, 8)}",
                     test_files=_edf(eegmmidb_root, 1, 12), events=LR, channels="C4,FC3", l_freq=8.0, h_freq=30.0,
                     reference="average", resample=100.0, tmin=0.5, tmax=2.5)
    prints = [a.recordings[f"S001//{r}"] for r in (4, 8, 12)]
    assert len(set(prints)) == 3 and all(prints)
    assert [b.recordings[f"S001R{r:02d}//-1"] for r in (4, 8, 12)] == prints
    assert a.fingerprints(a.test) == {"S001": [prints[2]]}
    assert FileReplaySource(_edf(eegmmidb_root, 1, 4)).fingerprint == prints[0]  # stream's replay
    raw = mne.io.read_raw_edf(_edf(eegmmidb_root, 1, 4), verbose="error")
    data = raw.get_data()
    # microvolts in float32, with EEGMMIDB's dotted names, give the same
    assert fingerprint((data * 1e6).astype(np.float32), raw.ch_names, 160.0) == prints[0]
    # MOABB's PhysionetMI renames the channels (no dots, upper case) and adds a stim channel
    raw.load_data().rename_channels(lambda c: c.strip(".").upper())
    raw.add_channels([mne.io.RawArray(np.zeros((1, raw.n_times)), mne.create_info(["STI"], 160.0, "stim"),
                                      verbose="error")], force_update_info=True)
    assert raw_fingerprint(raw) == prints[0]
    other = load_dataset("eegmmidb", data_dir=eegmmidb_root, subjects=[2], channels="C3")
    assert not set(other.recordings.values()) & set(prints)


def test_checkpoints_record_the_recordings_and_fine_tuning_carries_them_on(pre, eegmmidb_root, tmp_path):
    _, meta = read_checkpoint(pre)
    d = load_dataset("eegmmidb", data_dir=eegmmidb_root, subjects=[1], channels="C3")
    assert meta["subjects_seen"] == ["eegmmidb:S001"] and meta["subjects_calibrated"] == []
    assert sorted(meta["recordings_seen"]["eegmmidb:S001"]) == sorted(d.recordings.values())
    assert len(meta["trials_seen"]["eegmmidb:S001"]) == 16 * 45  # one 64-bit sketch per trial
    assert main(["train", "--init", str(pre), "--data-dir", str(eegmmidb_root), "--subjects", "2", "--epochs", "1",
                 "--quiet", "--out", str(tmp_path / "cal")]) == 0
    _, tuned = read_checkpoint(tmp_path / "cal" / "last.safetensors")
    assert set(tuned["recordings_seen"]) == {"eegmmidb:S001", "eegmmidb:S002"}  # S002: its runs 4 and 8
    assert tuned["recordings_seen"]["eegmmidb:S001"] == meta["recordings_seen"]["eegmmidb:S001"]
    assert len(tuned["recordings_seen"]["eegmmidb:S002"]) == 2 and tuned["subjects_calibrated"] == ["eegmmidb:S002"]


# ------------------------------------------------------------------------------------------------- eval

def test_eval_refuses_a_person_it_saw_by_id_and_by_recordings_unless_allowed(pre, eegmmidb_root, capsys):
    ckpt = ["eval", "--checkpoint", str(pre), "--data-dir", str(eegmmidb_root)]
    _refused(capsys, main([*ckpt, "--subjects", "1"]), "S001")
    err = _refused(capsys, main([*ckpt, *_files(eegmmidb_root, 1)]), "S001R12", "eegmmidb:S001")
    assert "recordings" in err
    assert main([*ckpt, *_files(eegmmidb_root, 1), "--allow-seen"]) == 0
    line = [x for x in capsys.readouterr().out.splitlines() if "Test Accuracy" in x][0]
    assert "seen in training: S001R12" in line
    assert main([*ckpt, *_files(eegmmidb_root, 2)]) == 0  # a person it did not see
    assert "seen in training" not in capsys.readouterr().out


def test_eval_still_scores_a_within_subject_model_on_its_held_out_run_but_not_on_its_training_runs(
        eegmmidb_root, tmp_path, capsys):
    run = tmp_path / "within"
    assert main(["train", "--dataset", "eegmmidb", "--data-dir", str(eegmmidb_root), "--subjects", "2", *SMALL,
                 "--epochs", "1",
                 "--quiet", "--out", str(run)]) == 0
    ckpt = ["eval", "--checkpoint", str(run / "last.safetensors"), "--data-dir", str(eegmmidb_root)]
    assert main(ckpt) == 0 and "seen in training" not in capsys.readouterr().out  # run 12: not trained on
    _refused(capsys, main([*ckpt, "--test-run", "4"]), "S002", "recordings")  # run 4 was


# ------------------------------------------------------------------------------- train --init, benchmark

def test_train_init_refuses_the_same_recordings_through_the_files_route(pre, eegmmidb_root, tmp_path, capsys):
    out = tmp_path / "cal"
    rc = main(["train", "--init", str(pre), *_files(eegmmidb_root, 1), "--epochs", "1", "--quiet", "--out", str(out)])
    _refused(capsys, rc, "S001R12", "eegmmidb:S001")
    assert not (out / "summary.json").exists() and not (out / "last.safetensors").exists()
    assert main(["train", "--init", str(pre), *_files(eegmmidb_root, 1), "--epochs", "1", "--quiet", "--out",
                 str(tmp_path / "allowed"), "--allow-seen"]) == 0
    assert "seen in training" in capsys.readouterr().out


def test_benchmark_init_refuses_the_same_recordings_through_the_files_route(pre, eegmmidb_root, tmp_path, capsys):
    rc = main(["benchmark", "--init", str(pre), *_files(eegmmidb_root, 1), "--subject-from", r"(S\d+)R",
               "--protocol", "run-split", "--models", "finetune", "--out", str(tmp_path / "bench")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "Traceback" not in err and len(err.splitlines()) == 1, err
    assert "S001" in err and "eegmmidb:S001" in err


# --------------------------------------------------------------------------------------------- stream

def test_stream_refuses_to_replay_a_recording_it_was_trained_on(pre, eegmmidb_root, capsys):
    args = ["stream", "--checkpoint", str(pre), "--speed", "0", "--step-ms", "2000", "--quiet", "--runtime", "torch"]
    _refused(capsys, main([*args, "--source", _edf(eegmmidb_root, 1, 4)]), "S001R04.edf", "eegmmidb:S001")
    assert main([*args, "--source", _edf(eegmmidb_root, 1, 4), "--allow-seen"]) == 0
    line = [x for x in capsys.readouterr().out.splitlines() if x.startswith("accuracy:")][0]
    assert "seen in training: eegmmidb:S001" in line
    assert main([*args, "--source", _edf(eegmmidb_root, 2, 4)]) == 0
    assert "seen in training" not in capsys.readouterr().out


# ------------------------------------------------------------------------------------------ EEGClassifier

def test_the_sklearn_estimator_refuses_to_fit_or_score_on_people_it_saw(pre, eegmmidb_root):
    from eegclf.estimator import EEGClassifier
    from eegclf.transfer import Init

    options = Init.from_checkpoint(pre).input_options("eegmmidb")
    seen = load_dataset("eegmmidb", data_dir=eegmmidb_root, **{**options, "subjects": [1]})
    new = load_dataset("eegmmidb", data_dir=eegmmidb_root, **{**options, "subjects": [2]})
    X, y = seen.train.X[:, 0], seen.train.y
    with pytest.raises(CheckpointError, match="eegmmidb:S001.*allow_seen=True"):
        EEGClassifier(init=str(pre), epochs=1).fit(X, y)
    with pytest.warns(UserWarning, match="seen in training"):
        clf = EEGClassifier(init=str(pre), epochs=1, allow_seen=True).fit(X, y)
    assert clf.seen_in_training_ == ["eegmmidb:S001"]
    clf = EEGClassifier(init=str(pre), epochs=1).fit(new.train.X[:, 0], new.train.y)  # a new person
    assert clf.seen_in_training_ == []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert 0 <= clf.score(new.test.X[:, 0], new.test.y) <= 1
    with pytest.raises(CheckpointError, match="eegmmidb:S001"):
        clf.score(seen.test.X[:, 0], seen.test.y)


# ------------------------------------------------------------------------------ the shipped network itself

def test_the_shipped_network_refuses_the_56_people_it_saw_by_any_route(eegmmidb_root, tmp_path, capsys):
    _, meta = read_checkpoint("eegmmidb-lr")
    assert len(meta["recordings_seen"]) == 56 and all(len(v) == 3 for v in meta["recordings_seen"].values())
    assert sum(len(v) for v in meta["trials_seen"].values()) == 16 * meta["n_trials_seen"]
    assert meta["subjects_calibrated"] == []
    _refused(capsys, main(["eval", "--checkpoint", "eegmmidb-lr", "--data-dir", str(eegmmidb_root),
                           "--subjects", "1"]), "S001")
    rc = main(["train", "--init", "eegmmidb-lr", *_files(eegmmidb_root, 1, small=False), "--quiet",
               "--out", str(tmp_path / "r")])
    _refused(capsys, rc, "S001R12", "eegmmidb:S001")
    from eegclf.estimator import EEGClassifier
    from eegclf.transfer import Init

    options = Init.from_checkpoint("eegmmidb-lr").input_options("eegmmidb")
    d = load_dataset("eegmmidb", data_dir=eegmmidb_root, **{**options, "subjects": [1]})
    with pytest.raises(CheckpointError, match="eegmmidb:S001"):
        EEGClassifier(init="eegmmidb-lr").fit(d.train.X[:, 0], d.train.y)
