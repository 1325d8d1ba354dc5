"""Issue 30: channels matched by name wherever a network meets a recording, and MNE's interpolation of the
missing ones as a fixed matrix (data/channels.py). Synthetic data only (its channels carry 10-10 names)."""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import pytest
import torch

from eegclf.storage.checkpoint import load_checkpoint
from eegclf.cli import main
from eegclf.config import RunConfig
from eegclf.data import load_dataset
from eegclf.data.channels import (
    canonical_name,
    channel_key,
    interpolation_matrix,
    match_channels,
    parse_names,
    standard_channel_name,
)
from eegclf.errors import CheckpointError, DataError

NET = ["C3", "C4", "Cz", "FC3", "FC4", "CP3", "CP4", "C1"]  # the synthetic set's first 8 channels


def _reorder(ds, names):
    """``ds`` with its channels taken in the order (and subset) ``names``."""
    idx = [list(ds.ch_names).index(n) for n in names]
    parts = {p: replace(getattr(ds, p), X=np.ascontiguousarray(getattr(ds, p).X[:, :, idx])) for p in ("train", "test")}
    return replace(ds, ch_names=list(names), **parts)


@pytest.fixture(scope="module")
def synth():
    return load_dataset("synthetic", n_train=40, n_test=20, n_chans=8, n_times=250)


@pytest.fixture(scope="module")
def pretrained(synth, tmp_path_factory):
    from eegclf.transfer import pretrain

    assert list(synth.ch_names) == NET
    return pretrain(RunConfig(epochs=1, batch_size=16, seed=0), synth, tmp_path_factory.mktemp("pre") / "P",
                    progress=False)


@pytest.fixture(scope="module")
def calibrated(synth, pretrained, tmp_path_factory):
    """A network calibrated (train --init's finetune) on a user with 6 of its 8 channels, in another order."""
    from eegclf.transfer import Init, finetune, finetune_config

    init = Init.from_checkpoint(pretrained)
    user = _reorder(synth, ["CP4", "C4", "Cz", "FC3", "C3", "CP3"])  # lacks FC4 and C1
    run = tmp_path_factory.mktemp("cal") / "R"
    finetune(init, finetune_config(RunConfig(seed=0), init, epochs=1), user, run)
    return run / "last.safetensors", user


def test_names_match_case_aliases_and_dotted_spellings():
    assert standard_channel_name("Fc5.") == "FC5" and standard_channel_name("Cz..") == "Cz"
    assert [canonical_name(n) for n in ("fc5.", "CZ..", "t3", "T4", "t5.", "T6", "fp1", "AFZ")] == \
        ["FC5", "Cz", "T7", "T8", "P7", "P8", "Fp1", "AFz"]
    assert channel_key("T3") == channel_key("t7") and channel_key("Fcz.") == channel_key("FCz")
    m = match_channels(["t8", "c4..", "Fc3.", "c3", "CZ", "Oz"], ["C3", "Cz", "C4", "FC3", "T4"])
    assert m.rows == (3, 4, 1, 2, 0) and m.dropped == ("Oz",) and not m.missing
    assert "Oz" in m.note()
    assert parse_names(" C3, Cz ,C4,") == ["C3", "Cz", "C4"]


def test_names_file_one_per_line_or_commas(tmp_path):
    f = tmp_path / "cap.txt"
    f.write_text("# my cap\nFp1\nFp2, C3\n\nC4  # right\n")
    assert parse_names(str(f)) == ["Fp1", "Fp2", "C3", "C4"]


@pytest.mark.parametrize("recording, words", [
    (["C3", "Cz", "C4", "EEG 7"], ["EEG 7", "10-05"]),           # a name that matches nothing, no position
    (["C3", "Cz", "c3", "C4"], ["twice", "C3"]),                  # a duplicate (any case)
    (["T3", "C3", "T7", "Cz"], ["twice", "T3"]),                  # a duplicate through an alias
    (["C3", "Cz", "Oz", "O1"], ["2 of the network's", "at least 3"]),  # too small an overlap
])
def test_unknown_duplicate_and_too_few_channels_are_refused_naming_them(recording, words):
    with pytest.raises(DataError) as err:
        match_channels(recording, ["C3", "Cz", "C4", "FC3", "FC4"])
    msg = str(err.value)
    assert "\n" not in msg and all(w in msg for w in words), msg


def test_interpolation_matrix_equals_mne_interpolate_bads():
    import mne

    names = ["Fp1", "Fp2", "F7", "F3", "F4", "F8", "T7", "C3", "Cz", "C4", "T8", "P7", "P3", "P4", "P8", "O1", "O2"]
    bads = ["Cz", "F3", "P8"]
    good = [n for n in names if n not in bads]
    W = interpolation_matrix(names, bads)
    assert W.shape == (len(names), len(good))
    rng = np.random.default_rng(0)
    data = rng.standard_normal((len(names), 300)) * 1e-5
    raw = mne.io.RawArray(data.copy(), mne.create_info(names, 160.0, "eeg"), verbose="error")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MNE 1.13's note that standard_1005 is renamed colin27_1005
        raw.set_montage("standard_1005")
    raw.info["bads"] = list(bads)
    raw.interpolate_bads(reset_bads=True, verbose="error")
    ours = W @ data[[names.index(g) for g in good]]
    assert np.max(np.abs(ours - raw.get_data())) < 1e-10 * np.max(np.abs(data))
    # the full map of a match: present rows copied from wherever they sit, missing ones interpolated
    rec = good[::-1] + ["Oz"]  # an extra channel: dropped
    rows = np.vstack([data[names.index(r)] for r in good[::-1]] + [rng.standard_normal((1, 300))])
    M = match_channels(rec, names).matrix()
    assert np.max(np.abs(M @ rows - ours)) < 1e-10 * np.max(np.abs(data))


def test_reordered_channels_give_the_same_zero_shot_and_renorm_predictions(synth, pretrained):
    from eegclf.evaluation import predict_proba
    from eegclf.transfer import Init, pretrained_renorm, zero_shot

    init = Init.from_checkpoint(pretrained)
    rev = _reorder(synth, NET[::-1])
    own = predict_proba(zero_shot(init, None, synth), synth.test.X)
    assert np.allclose(predict_proba(zero_shot(init, None, rev), rev.test.X), own, atol=1e-6)
    own = predict_proba(pretrained_renorm(init, synth.train, synth), synth.test.X)
    assert np.allclose(predict_proba(pretrained_renorm(init, rev.train, rev), rev.test.X), own, atol=1e-5)


def test_calibrated_checkpoint_takes_the_users_own_channels(calibrated):
    path, user = calibrated
    model, meta = load_checkpoint(path)
    assert meta["ch_names"] == list(user.ch_names) and meta["n_chans"] == 6
    assert meta["network_ch_names"] == NET and tuple(model.channel_map.shape) == (8, 6)
    with torch.no_grad():
        assert model(torch.as_tensor(user.test.X)).shape == (len(user.test), 2)


def test_exported_fewer_channel_network_equals_pytorch(calibrated, tmp_path):
    pytest.importorskip("onnxruntime")
    from eegclf.export import ProbabilityModel, export_checkpoint, run_exported

    path, user = calibrated
    out, _ = export_checkpoint(path, tmp_path / "m.onnx", "onnx")
    model, _ = load_checkpoint(path)
    with torch.no_grad():
        want = ProbabilityModel(model).eval()(torch.as_tensor(user.test.X)).numpy()
    got = run_exported(out, "onnx", user.test.X)
    assert got.shape == (len(user.test), 2) and np.max(np.abs(got - want)) < 1e-5


def test_export_with_channels_takes_them_reordered_and_interpolated(pretrained, synth, tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    from eegclf.export import ProbabilityModel, run_exported

    model, _ = load_checkpoint(pretrained)
    with torch.no_grad():
        own = ProbabilityModel(model).eval()(torch.as_tensor(synth.test.X)).numpy()
    out = tmp_path / "rev.onnx"
    assert main(["export", "--checkpoint", str(pretrained), "--format", "onnx", "--channels",
                 ",".join(NET[::-1]), "--out", str(out)]) == 0
    assert np.max(np.abs(run_exported(out, "onnx", synth.test.X[:, :, ::-1]) - own)) < 1e-5
    # fewer channels: 6 of 8, the others interpolated inside the exported graph
    few = tmp_path / "few.onnx"
    assert main(["export", "--checkpoint", str(pretrained), "--format", "onnx", "--channels",
                 "C3,C4,Cz,FC3,CP3,CP4", "--out", str(few)]) == 0
    assert "2 of the network's 8 channels are interpolated" in capsys.readouterr().err
    assert run_exported(few, "onnx", synth.test.X[:, :, [0, 1, 2, 3, 5, 6]]).shape == (len(synth.test), 2)


@pytest.mark.parametrize("channels, words", [("C3,C4,Cz,C3", "twice"), ("C3,C4,Cz,Foo", "Foo"),
                                             ("C3,Oz", "at least 3")])
def test_cli_refuses_bad_channels_in_one_line_writing_nothing(pretrained, tmp_path, capsys, channels, words):
    out = tmp_path / "m.onnx"
    rc = main(["export", "--checkpoint", str(pretrained), "--format", "onnx", "--channels", channels,
               "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc != 0 and len(err) == 1 and words in err[0] and "Traceback" not in err[0]
    assert list(tmp_path.iterdir()) == []


def test_check_fits_refuses_unmatchable_data_naming_the_channels(synth, pretrained):
    from eegclf.transfer import Init

    bad = replace(synth, ch_names=["C3", "C4", "Cz", "FC3", "FC4", "CP3", "CP4", "XX9"])
    with pytest.raises(CheckpointError, match="XX9"):
        Init.from_checkpoint(pretrained).check_fits(bad)


def test_stream_with_reordered_channels_gives_the_same_decisions(pretrained, synth):
    from eegclf.streaming.runner import StreamRunner
    from eegclf.streaming.sources import Source

    class ArraySource(Source):
        def __init__(self, data, names):
            self.sfreq, self.ch_names, self._data = synth.sfreq, list(names), data

        def chunks(self):
            for i in range(0, self._data.shape[1], 25):
                yield self._data[:, i:i + 25]

    signal = np.concatenate(list(synth.test.X[:4, 0]), axis=1)  # 4 trials back to back, (8, 1000)
    model, meta = load_checkpoint(pretrained)

    def decisions(data, names):
        out = []
        StreamRunner(ArraySource(data, names), model, meta, step_ms=400, runtime="torch").run(out.append)
        return np.array([d.probabilities for d in out])

    own = decisions(signal, NET)
    assert len(own) > 3
    assert np.allclose(decisions(signal[::-1].copy(), NET[::-1]), own, atol=1e-6)
    assert decisions(signal[:6], NET[:6]).shape == own.shape  # two channels interpolated


def test_eegclassifier_matches_channels_by_name(synth, pretrained):
    import mne

    from eegclf.estimator import EEGClassifier

    info = mne.create_info(NET, synth.sfreq, "eeg")
    X, y = synth.train.X[:, 0], synth.train.y
    rev_info = mne.create_info(NET[::-1], synth.sfreq, "eeg")
    epochs = mne.EpochsArray(X.astype(np.float64), info, verbose="error")
    rev = mne.EpochsArray(X[:, ::-1].astype(np.float64), rev_info, verbose="error")
    # the same synthetic people the network was pre-trained on: the seen-people guard is told to allow them
    clf = EEGClassifier(init=str(pretrained), epochs=1, seed=0, allow_seen=True).fit(epochs, y)
    own = clf.predict_proba(epochs)
    assert np.allclose(clf.predict_proba(rev), own, atol=1e-5)  # predict: matched to fit's channels
    # arrays named by ch_names, fitted in reversed order: the same network input, so the same model up to the
    # float rounding of another summation order, which one epoch of training carries on
    clf_rev = EEGClassifier(init=str(pretrained), epochs=1, seed=0, ch_names=NET[::-1], allow_seen=True).fit(
        X[:, ::-1], y)
    got = clf_rev.predict_proba(X[:, ::-1])
    assert np.allclose(got, own, atol=3e-3) and (got.argmax(1) == own.argmax(1)).all()
