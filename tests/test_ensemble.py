"""An ensemble of networks is one checkpoint (issue 31, item 3): pretrain --ensemble, pretrained combine, and every
command runs it (eval, export, stream, train --init, benchmark --init, EEGClassifier)."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest
import torch

from eegclf.cli import main
from eegclf.data import load_dataset
from eegclf.errors import CheckpointError
from eegclf.models.ensemble import Ensemble
from eegclf.storage.checkpoint import load_checkpoint, read_checkpoint
from eegclf.transfer import Init

# three motor channels at 80 Hz, 2 s windows: the real-data runs take seconds
SMALL = ["--task", "imagery_lr", "--channels", "C3,Cz,C4", "--resample", "80", "--tmax", "2"]


def _pretrain(root, out, *extra):
    return main(["pretrain", "--data-dir", str(root), "--subjects", "1-2", *SMALL, "--epochs", "1", "--quiet",
                 "--out", str(out), *extra])


@pytest.fixture(scope="module")
def ens(eegmmidb_root, tmp_path_factory):
    """An ensemble of two EEGNets (seeds 0 and 1, one epoch) pre-trained on S001-S002."""
    out = tmp_path_factory.mktemp("ens") / "ENS"
    assert _pretrain(eegmmidb_root, out, "--ensemble", "2") == 0
    return out


def _trials(n=5, chans=3, times=161, seed=0):
    return torch.as_tensor(np.random.default_rng(seed).normal(0, 1e-5, (n, 1, chans, times)), dtype=torch.float32)


def test_pretrain_ensemble_writes_one_reproducible_checkpoint_of_k_seeds(ens, eegmmidb_root, tmp_path):
    path = ens / "pretrained.safetensors"
    tensors, meta = read_checkpoint(path)
    assert meta["ensemble"]["k"] == 2 and meta["ensemble"]["seeds"] == [0, 1]
    assert [m["seed"] for m in meta["ensemble"]["members"]] == [0, 1]
    assert meta["subjects_seen"] == ["eegmmidb:S001", "eegmmidb:S002"] and meta["kind"] == "pretrained"
    # each member's weights are those of its own run folder, as they were trained
    for i, seed in enumerate((0, 1)):
        own, _ = read_checkpoint(ens / "members" / f"seed{seed}" / "pretrained.safetensors")
        for k, v in own.items():
            assert torch.equal(tensors[f"model.members.{i}.{k[len('model.'):]}"], v)
    assert any(not torch.equal(v, tensors[k.replace("members.0.", "members.1.")])  # two seeds, two networks
               for k, v in tensors.items() if k.startswith("model.members.0.net."))
    # the same command again: the same bytes
    before = path.read_bytes()
    assert _pretrain(eegmmidb_root, ens, "--ensemble", "2", "--overwrite") == 0
    assert path.read_bytes() == before


def test_an_ensembles_output_is_the_mean_of_its_members_probabilities(ens):
    model, _ = load_checkpoint(ens / "pretrained.safetensors")
    assert isinstance(model, Ensemble) and len(model) == 2
    x = _trials()
    with torch.no_grad():
        mean = torch.stack([torch.softmax(m(x), 1) for m in model.members]).mean(0)
        assert torch.allclose(torch.softmax(model(x), 1), mean, atol=1e-6)


def test_an_ensemble_of_one_predicts_exactly_as_its_member(ens, tmp_path):
    member = ens / "members" / "seed0" / "pretrained.safetensors"
    assert main(["pretrained", "combine", str(member), "--out", str(tmp_path / "one.safetensors")]) == 0
    one, meta = load_checkpoint(tmp_path / "one.safetensors")
    single, _ = load_checkpoint(member)
    assert meta["ensemble"]["k"] == 1
    x = _trials(8)
    with torch.no_grad():
        assert torch.equal(one(x), single(x))


def test_an_ensemble_round_trips_through_eval_export_and_stream(ens, eegmmidb_root, tmp_path, capsys):
    from eegclf.evaluation import loss_and_accuracy
    from eegclf.export import run_exported

    path = ens / "pretrained.safetensors"
    model, meta = load_checkpoint(path)
    capsys.readouterr()
    assert main(["eval", "--checkpoint", str(path), "--data-dir", str(eegmmidb_root), "--subjects", "3"]) == 0
    out = capsys.readouterr().out
    options = Init.from_checkpoint(path).input_options("eegmmidb")
    data = load_dataset("eegmmidb", data_dir=eegmmidb_root, **{**options, "subjects": [3]})
    _, acc = loss_and_accuracy(model, data.test.X, data.test.y)
    assert "an ensemble of 2 networks (seeds 0, 1)" in out and f"Test Accuracy: {acc:.4f}" in out
    x = _trials(4).numpy()
    with torch.no_grad():
        want = torch.stack([torch.softmax(m(torch.from_numpy(x)), 1) for m in model.members]).mean(0).numpy()
    for fmt in ("onnx", "torchscript"):
        out_file = tmp_path / f"ens.{fmt}"
        assert main(["export", "--checkpoint", str(path), "--format", fmt, "--out", str(out_file)]) == 0
        info = json.loads((tmp_path / f"ens.{fmt}.json").read_text())
        assert info["ensemble"] == {"k": 2, "seeds": [0, 1]}
        assert np.allclose(run_exported(out_file, fmt, x), want, rtol=0, atol=1e-5)  # one graph, averaged
    import onnx

    graph = onnx.load(str(tmp_path / "ens.onnx")).graph
    assert [i.name for i in graph.input] == ["eeg"] and [o.name for o in graph.output] == ["probabilities"]
    capsys.readouterr()
    edf = eegmmidb_root / "eegmmidb" / "S003" / "S003R12.edf"
    for runtime in ("torch", "onnx"):
        assert main(["stream", "--checkpoint", str(path), "--source", str(edf), "--speed", "0", "--step-ms", "500",
                     "--quiet", "--runtime", runtime]) == 0
        out = capsys.readouterr().out
        assert "through an ensemble of 2 eegnet networks" in out
        assert re.search(r"accuracy: \d\.\d{4} \(\d+/\d+ windows", out)


def test_train_and_benchmark_init_finetune_each_member(ens, eegmmidb_root, tmp_path, capsys):
    path = ens / "pretrained.safetensors"
    run = tmp_path / "run"
    assert main(["train", "--init", str(path), "--data-dir", str(eegmmidb_root), "--subjects", "3", "--epochs", "1",
                 "--quiet", "--out", str(run)]) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["ensemble"]["k"] == 2 and summary["ensemble"]["seeds"] == [0, 1]
    tuned, meta = load_checkpoint(run / "last.safetensors")
    assert isinstance(tuned, Ensemble) and len(tuned) == 2
    assert meta["subjects_seen"] == ["eegmmidb:S001", "eegmmidb:S002", "eegmmidb:S003"]
    assert [m["seed"] for m in meta["ensemble"]["members"]] == [0, 1]
    capsys.readouterr()
    assert main(["eval", "--checkpoint", str(run / "last.safetensors"), "--data-dir", str(eegmmidb_root)]) == 0
    assert f"Test Accuracy: {summary['test_acc_last']:.4f}" in capsys.readouterr().out
    # interrupted after the first member: --resume keeps it, trains the second, and ends with the same file
    before = (run / "last.safetensors").read_bytes()
    shutil.rmtree(run / "members" / "member-2")
    (run / "summary.json").unlink()
    assert main(["train", "--resume", str(run), "--quiet"]) == 0
    assert (run / "last.safetensors").read_bytes() == before
    bench = tmp_path / "bench"
    assert main(["benchmark", "--data-dir", str(eegmmidb_root), "--subjects", "3", *SMALL, "--protocol", "run-split",
                 "--models", "zero-shot,pretrained-renorm,finetune", "--init", str(path), "--finetune-epochs", "1",
                 "--jobs", "1", "--quiet", "--out", str(bench)]) == 0
    rows = (bench / "results.csv").read_text().splitlines()[1:]
    assert sorted(r.split(",")[0] for r in rows) == ["finetune", "pretrained-renorm", "zero-shot"]
    # the benchmark's finetune is train --init's: the same ensemble, the same test accuracy on run 12
    finetune = [r for r in rows if r.startswith("finetune,")][0].split(",")
    assert float(finetune[8]) == pytest.approx(summary["test_acc_last"], abs=5e-5)


def test_the_sklearn_estimator_calibrates_an_ensemble(ens, eegmmidb_root):
    from eegclf.estimator import EEGClassifier

    path = str(ens / "pretrained.safetensors")
    options = Init.from_checkpoint(path).input_options("eegmmidb")
    new = load_dataset("eegmmidb", data_dir=eegmmidb_root, **{**options, "subjects": [3]})
    clf = EEGClassifier(init=path, epochs=1, threads=1).fit(new.train.X[:, 0], new.train.y)
    assert isinstance(clf.model_, Ensemble) and len(clf.model_) == 2
    proba = clf.predict_proba(new.test.X[:, 0])
    assert proba.shape == (len(new.test), 2) and np.allclose(proba.sum(1), 1, atol=1e-5)
    seen = load_dataset("eegmmidb", data_dir=eegmmidb_root, **{**options, "subjects": [1]})
    with pytest.raises(CheckpointError, match="eegmmidb:S001"):
        EEGClassifier(init=path, epochs=1).fit(seen.train.X[:, 0], seen.train.y)


def test_the_guard_refuses_the_people_any_member_saw(ens, eegmmidb_root, tmp_path, capsys):
    other = tmp_path / "S3"
    assert main(["pretrain", "--data-dir", str(eegmmidb_root), "--subjects", "3", *SMALL, "--epochs", "1",
                 "--quiet", "--out", str(other)]) == 0
    both = tmp_path / "both.safetensors"
    assert main(["pretrained", "combine", str(ens / "members" / "seed0" / "pretrained.safetensors"),
                 str(other / "pretrained.safetensors"), "--out", str(both)]) == 0
    assert Init.from_checkpoint(both).subjects_seen == ("eegmmidb:S001", "eegmmidb:S002", "eegmmidb:S003")
    capsys.readouterr()
    rc = main(["train", "--init", str(both), "--data-dir", str(eegmmidb_root), "--subjects", "3", "--quiet",
               "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "subject S003, which is to be tested" in err and len(err.splitlines()) == 1


def test_members_that_do_not_fit_together_are_refused_in_one_line(ens, eegmmidb_root, tmp_path, capsys):
    four = tmp_path / "P4"
    assert main(["pretrain", "--data-dir", str(eegmmidb_root), "--subjects", "1", "--task", "imagery_lr",
                 "--channels", "C3,Cz,C4,Pz", "--resample", "80", "--tmax", "2", "--epochs", "1", "--quiet",
                 "--out", str(four)]) == 0
    capsys.readouterr()
    out = tmp_path / "bad.safetensors"
    rc = main(["pretrained", "combine", str(ens / "members" / "seed0" / "pretrained.safetensors"),
               str(four / "pretrained.safetensors"), "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "differs in channels (C3,Cz,C4,Pz against C3,Cz,C4)" in err
    assert not out.exists() and not list(tmp_path.glob("*.tmp*"))
    rc = main(["pretrained", "combine", str(ens / "pretrained.safetensors"), "--out", str(out)])
    assert rc == 2 and "already an ensemble" in capsys.readouterr().err and not out.exists()
    assert _pretrain(eegmmidb_root, tmp_path / "zero", "--ensemble", "0") == 2
    err = capsys.readouterr().err.strip()
    assert "--ensemble 0 is invalid" in err and not (tmp_path / "zero").exists()


def test_pretrained_list_shows_an_ensembles_members(ens, monkeypatch, capsys):
    import eegclf.pretrained as shipped

    path = ens / "pretrained.safetensors"
    entry = {"file": path.name, "sha256": "-", "data": "two seeds", "command": "eegclf pretrain ... --ensemble 2"}
    monkeypatch.setattr(shipped, "catalogue", lambda: {"ens2": entry})
    monkeypatch.setattr(shipped, "path_of", lambda name: path)
    assert main(["pretrained", "list"]) == 0
    out = capsys.readouterr().out
    assert "members   2 networks (eegnet), seeds 0, 1: their softmax probabilities averaged" in out
    assert main(["pretrained", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["members"] == {"k": 2, "seeds": [0, 1],
                                                                 "models": ["eegnet", "eegnet"]}
