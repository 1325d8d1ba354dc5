"""Cross-subject pre-training and calibration: eegclf pretrain, train --init, the benchmark's finetune pipeline,
and Euclidean alignment that never looks at a test trial."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from eegclf.storage.checkpoint import load_checkpoint, read_checkpoint
from eegclf.cli import main
from eegclf.config import RunConfig
from eegclf.data import load_dataset
from eegclf.data.alignment import align_subjects, apply_whitener, reference_whitener
from eegclf.data.base import Split
from eegclf.errors import CheckpointError, ConfigError
from eegclf.transfer import Init, finetune, finetune_config, pretrained_renorm, zero_shot

# three motor channels at 80 Hz keep the real-data runs to seconds
SMALL = ["--task", "imagery_lr", "--channels", "C3,Cz,C4", "--resample", "80", "--tmax", "2"]


@pytest.fixture(scope="module")
def pre(eegmmidb_root, tmp_path_factory):
    """A network pre-trained (2 epochs) on S001-S002, Euclidean-aligned."""
    out = tmp_path_factory.mktemp("pre") / "PRE"
    rc = main(["pretrain", "--data-dir", str(eegmmidb_root), "--subjects", "1-2", *SMALL, "--epochs", "2",
               "--alignment", "euclidean", "--quiet", "--out", str(out)])
    assert rc == 0
    return out / "pretrained.safetensors"


def test_pretrained_checkpoint_records_subjects_alignment_and_input(pre):
    _, meta = read_checkpoint(pre)
    assert meta["subjects_seen"] == ["eegmmidb:S001", "eegmmidb:S002"]
    assert meta["alignment"] == "euclidean" and meta["n_trials_seen"] == 90
    assert meta["ch_names"] == ["C3", "Cz", "C4"] and meta["sfreq"] == 80.0 and meta["model"] == "eegnet"


def _finetune_cli(eegmmidb_root, pre, out, *extra):
    return main(["train", "--init", str(pre), "--dataset", "eegmmidb", "--data-dir", str(eegmmidb_root),
                 "--subjects", "3", *SMALL, "--epochs", "3", "--quiet", "--out", str(out), *extra])


def test_finetuning_from_a_checkpoint_reproduces_itself_and_carries_the_alignment(eegmmidb_root, pre, tmp_path, capsys):
    assert _finetune_cli(eegmmidb_root, pre, tmp_path / "a") == 0
    assert _finetune_cli(eegmmidb_root, pre, tmp_path / "b") == 0
    a, b = (tmp_path / "a" / "history.csv").read_text(), (tmp_path / "b" / "history.csv").read_text()
    assert a == b and len(a.splitlines()) == 4
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["selected_epoch"] == 3  # no validation part: the last epoch
    model, meta = load_checkpoint(tmp_path / "a" / "last.safetensors")
    assert model.spatial is not None and model.spatial.shape == (3, 3)  # the user's alignment travels with it
    assert meta["subjects_seen"] == ["eegmmidb:S001", "eegmmidb:S002", "eegmmidb:S003"]  # pre-training's, the user
    for fmt in ("onnx", "torchscript"):  # the alignment is part of the exported graph (checked on export)
        assert main(["export", "--checkpoint", str(tmp_path / "a" / "last.safetensors"), "--format", fmt,
                     "--out", str(tmp_path / f"model.{fmt}")]) == 0
    capsys.readouterr()
    assert main(["eval", "--checkpoint", str(tmp_path / "a" / "last.safetensors"),
                 "--data-dir", str(eegmmidb_root)]) == 0
    assert f"Test Accuracy: {summary['test_acc_last']:.4f}" in capsys.readouterr().out


@pytest.mark.parametrize("flags, says", [
    # channels are matched by name (issue 30): refused here because too few of the network's are left
    (["--channels", "C3,C4"], "has 2 of the network's 3 channels (C3, C4); at least 3 are needed"),
    (["--resample", "100"], "sampling rate (80 Hz against the data's 100 Hz)"),
    (["--tmax", "3"], "window (161 samples against the data's 241)"),
    (["--task", "imagery_hf", "--subjects", "1"], "classes (left_fist, right_fist against the data's both_fists, both_feet)"),
    # issue 24, point 6: band, reference and window start are compared too (the window's length was already)
    (["--l-freq", "8"], "band (4-38 Hz against the data's 8-38 Hz)"),
    (["--dataset-options", '{"reference": null}'], "reference (average against the data's as recorded)"),
    (["--tmin", "0.5", "--tmax", "2.5"], "window start (0 s against the data's 0.5 s)"),
])
def test_train_init_refuses_a_checkpoint_that_does_not_fit_the_data(eegmmidb_root, pre, tmp_path, capsys, flags, says):
    rc = _finetune_cli(eegmmidb_root, pre, tmp_path / "run", *flags)
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1
    assert "does not fit the data" in err and says in err, err
    assert not (tmp_path / "run" / "last.safetensors").exists()


def test_train_init_and_benchmark_refuse_a_checkpoint_that_saw_a_tested_subject(eegmmidb_root, pre, tmp_path, capsys):
    rc = main(["train", "--init", str(pre), "--dataset", "eegmmidb", "--data-dir", str(eegmmidb_root),
               "--subjects", "2", *SMALL, "--quiet", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "pre-trained on subject S002, which is to be tested" in err and len(err.splitlines()) == 1
    rc = main(["benchmark", "--dataset", "eegmmidb", "--data-dir", str(eegmmidb_root), "--subjects", "2-3", *SMALL,
               "--protocol", "run-split", "--models", "finetune,csp_lda", "--init", str(pre), "--quiet",
               "--out", str(tmp_path / "bench")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "subject S002" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "bench" / "results.csv").exists()


def test_benchmark_finetune_and_pretrained_pipelines_run_on_unseen_subjects(eegmmidb_root, pre, tmp_path):
    out = tmp_path / "bench"
    rc = main(["benchmark", "--dataset", "eegmmidb", "--data-dir", str(eegmmidb_root), "--subjects", "3-4", *SMALL,
               "--protocol", "run-split", "--models", "finetune,pretrained,csp_lda", "--init", str(pre),
               "--finetune-epochs", "2", "--jobs", "1", "--quiet", "--out", str(out)])
    assert rc == 0
    rows = (out / "results.csv").read_text().splitlines()
    assert len(rows) == 1 + 3 * 2
    assert all(r.split(",")[7] == "15" for r in rows[1:])  # tested on run 12 alone
    assert str(pre.resolve()) in (out / "results.md").read_text()


def test_benchmark_transfer_pipelines_need_a_checkpoint_and_the_subjects_own_trials(eegmmidb_root, pre, tmp_path, capsys):
    base = ["benchmark", "--dataset", "eegmmidb", "--data-dir", str(eegmmidb_root), "--subjects", "3-4", *SMALL,
            "--quiet", "--out", str(tmp_path / "b")]
    assert main([*base, "--protocol", "run-split", "--models", "finetune"]) == 2
    assert "--init" in capsys.readouterr().err
    assert main([*base, "--protocol", "cross-subject", "--models", "finetune", "--init", str(pre)]) == 2
    assert "--protocol" in capsys.readouterr().err
    assert main([*base, "--protocol", "run-split", "--models", "csp_lda", "--init", str(pre)]) == 2
    assert "finetune" in capsys.readouterr().err


def _one_subject(eegmmidb_root):
    ds = load_dataset("eegmmidb", data_dir=eegmmidb_root, subjects="3", task="imagery_lr", channels="C3,Cz,C4",
                      resample=80.0, tmax=2.0, l_freq=4.0, h_freq=38.0, reference="average")  # as pre's (preset deep)
    return ds


def test_alignment_uses_no_test_trial(eegmmidb_root, pre):
    """Changing every test trial changes nothing before prediction: the whitener, the normalisation and the
    fine-tuned weights come from the calibration trials alone; only the test scores differ."""
    ds = _one_subject(eegmmidb_root)
    rng = np.random.default_rng(0)
    other = Split(rng.normal(size=ds.test.X.shape).astype(np.float32) * 50, 1 - ds.test.y, ds.test.subjects,
                  ds.test.runs)
    init = Init.from_checkpoint(pre)
    config = replace(finetune_config(RunConfig(), init, epochs=2), threads=1)
    (s1, m1), (s2, m2) = finetune(init, config, ds), finetune(init, config, ds.with_splits(ds.train, other))
    for (k, v1), v2 in zip(m1.state_dict().items(), m2.state_dict().values()):
        assert torch.equal(v1, v2), k
    assert torch.allclose(m1.spatial, torch.as_tensor(reference_whitener(ds.train.X)))
    assert s1["test_acc_last"] != s2["test_acc_last"] or s1["test_loss_last"] != s2["test_loss_last"]
    # per subject, the reference comes from the trials named as reference, never from the aligned ones
    both = Split.concat(ds.train, other)
    aligned = align_subjects(both, reference=ds.train)
    np.testing.assert_allclose(aligned.X[len(ds.train):], apply_whitener(other.X, reference_whitener(ds.train.X)),
                               rtol=1e-5, atol=1e-5)


def test_aligned_trials_have_identity_mean_covariance():
    rng = np.random.default_rng(1)
    mix = rng.normal(size=(4, 4))
    X = np.einsum("ij,nkjt->nkit", mix, rng.normal(size=(50, 1, 4, 200))).astype(np.float32)
    Xa = apply_whitener(X, reference_whitener(X, shrinkage=0.0))
    cov = np.einsum("nct,ndt->cd", Xa[:, 0], Xa[:, 0]) / (50 * 200)
    np.testing.assert_allclose(cov, np.eye(4), atol=1e-3)


def test_a_checkpoint_that_does_not_record_its_subjects_is_never_scored_as_unseen(pre, tmp_path):
    from safetensors.torch import save

    tensors, meta = read_checkpoint(pre)
    del meta["subjects_seen"]
    old = tmp_path / "old.safetensors"
    old.write_bytes(save(tensors, metadata={"eegclf": json.dumps(meta)}))
    init = Init.from_checkpoint(old)
    assert init.subjects_seen is None and init.saw("S099")
    with pytest.raises(CheckpointError, match="does not record the subjects"):
        init.check_unseen(["S099"])


def test_init_refuses_classical_and_already_calibrated_checkpoints(tmp_path, eegmmidb_root, pre):
    out = tmp_path / "clf"
    assert main(["train", "--model", "csp_lda", "--dataset", "synthetic", "--n-train", "40", "--n-test", "20",
                 "--quiet", "--out", str(out)]) == 0
    with pytest.raises(CheckpointError, match="classical"):
        Init.from_checkpoint(out / "last.safetensors")
    assert _finetune_cli(eegmmidb_root, pre, tmp_path / "cal") == 0
    with pytest.raises(CheckpointError, match="already calibrated"):
        Init.from_checkpoint(tmp_path / "cal" / "last.safetensors")


def test_an_aligned_pretrained_network_is_not_used_on_raw_trials(pre, eegmmidb_root, capsys):
    with pytest.raises(CheckpointError, match="calibrate it on the user's data first"):
        load_checkpoint(pre)
    assert main(["eval", "--checkpoint", str(pre), "--data-dir", str(eegmmidb_root)]) == 2
    assert "eegclf train --init" in capsys.readouterr().err


def test_pretrain_refuses_an_existing_folder_and_a_classical_model(pre, eegmmidb_root, tmp_path, capsys):
    rc = main(["pretrain", "--data-dir", str(eegmmidb_root), "--subjects", "1-2", *SMALL, "--out", str(pre.parent)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "--overwrite" in err and "--resume" not in err and len(err.splitlines()) == 1
    rc = main(["pretrain", "--data-dir", str(eegmmidb_root), "--subjects", "1-2", *SMALL, "--model", "csp_lda",
               "--out", str(tmp_path / "clf")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "--model" in err and "deep network" in err


# ------------------------------------------------------------------ issue 24, point 6: train --init as written

def test_train_init_takes_the_checkpoints_data_options_and_the_benchmarks_finetuning_recipe(
        eegmmidb_root, pre, tmp_path, monkeypatch):
    """``train --init CKPT --subjects N`` loads the new user's data as CKPT's were loaded (data set, task,
    channels, window, band, reference, rate) and fine-tunes with the recipe the benchmark's finetune pipeline
    uses; a flag the user types wins over both."""
    import eegclf.transfer as transfer

    out = tmp_path / "run"
    assert main(["train", "--init", str(pre), "--data-dir", str(eegmmidb_root), "--subjects", "3",
                 "--epochs", "1", "--batch-size", "8", "--quiet", "--out", str(out)]) == 0
    config = json.loads((out / "config.json").read_text())
    _, meta = read_checkpoint(pre)
    assert config["dataset"] == "eegmmidb"
    for key in ("task", "channels", "tmin", "tmax", "l_freq", "h_freq", "reference", "resample"):
        assert config["dataset_options"][key] == meta["dataset_options"][key], key
    assert config["dataset_options"]["subjects"] == "3" and config["epochs"] == 1 and config["batch_size"] == 8

    seen = []  # the configs the benchmark's finetune pipeline trains with
    real = transfer.finetune
    monkeypatch.setattr(transfer, "finetune", lambda init, cfg, *a, **k: seen.append(cfg) or real(init, cfg, *a, **k))
    assert main(["benchmark", "--data-dir", str(eegmmidb_root), "--subjects", "3", "--protocol", "run-split",
                 "--models", "finetune", "--init", str(pre), "--finetune-epochs", "1", "--jobs", "1", "--quiet",
                 "--out", str(tmp_path / "bench")]) == 0
    assert seen, "the finetune pipeline did not run in this process"
    recipe = ("lr", "optimizer", "weight_decay", "bn_recalibrate", "val_fraction", "model", "model_kwargs")
    assert {k: getattr(seen[0], k) for k in recipe} == {k: config[k] for k in recipe}
    assert seen[0].batch_size == transfer.FINETUNE_RECIPE["batch_size"] and seen[0].epochs == 1
    for key in ("task", "channels", "tmin", "tmax", "l_freq", "h_freq", "reference", "resample"):  # as trained
        assert json.loads((tmp_path / "bench" / "benchmark.json").read_text())["dataset_options"][key] == \
            meta["dataset_options"][key], key


# ------------------------------------------------------------------ issue 24, point 8: who a subject is

def _rewrite(pre, path, **changes):
    from safetensors.torch import save

    tensors, meta = read_checkpoint(pre)
    meta.update(changes)
    meta = {k: v for k, v in meta.items() if v is not _DROP}
    path.write_bytes(save(tensors, metadata={"eegclf": json.dumps(meta)}))
    return path


_DROP = object()


def test_subjects_seen_are_qualified_by_data_set_and_old_bare_ids_still_count(eegmmidb_root, pre, tmp_path, capsys):
    # MOABB's PhysionetMI subject 3 is eegmmidb's S003: a network that saw it (recorded by the moabb loader as
    # "3", before ids were qualified) is refused on S003
    _, meta = read_checkpoint(pre)
    moabb = _rewrite(pre, tmp_path / "moabb.safetensors", dataset="moabb", subjects_seen=["3", "4"],
                     dataset_options={"moabb_dataset": "PhysionetMI", "subjects": [3, 4]})
    assert _finetune_cli(eegmmidb_root, moabb, tmp_path / "a") == 2
    assert "pre-trained on subject S003, which is to be tested" in capsys.readouterr().err
    # an old eegmmidb checkpoint with bare ids: a bare id matches that id of any data set
    old = _rewrite(pre, tmp_path / "old.safetensors", subjects_seen=["S001", "S003"])
    assert _finetune_cli(eegmmidb_root, old, tmp_path / "b") == 2
    assert "pre-trained on subject S003" in capsys.readouterr().err
    init = Init.from_checkpoint(old)
    assert init.saw("eegmmidb:S003") and init.saw("moabb.BNCI2014_004:S003") and not init.saw("eegmmidb:S004")
    # qualified ids: subject 1 of one MOABB data set is not subject 1 of another, nor eegmmidb's S001
    new = Init.from_checkpoint(_rewrite(pre, tmp_path / "new.safetensors",
                                        subjects_seen=["moabb.BNCI2014_004:1", "eegmmidb:S002"]))
    assert new.saw("moabb.BNCI2014_004:1") and not new.saw("moabb.BNCI2014_001:1")
    assert not new.saw("eegmmidb:S001") and new.saw("eegmmidb:S002") and not new.saw("bci3b:S002")


def test_a_network_that_does_not_say_whom_it_saw_stays_unknown_after_finetuning(eegmmidb_root, pre, tmp_path):
    unknown = Init.from_checkpoint(_rewrite(pre, tmp_path / "unknown.safetensors", subjects_seen=_DROP))
    assert unknown.subjects_seen is None
    config = replace(finetune_config(RunConfig(), unknown, epochs=1), threads=1)
    finetune(unknown, config, _one_subject(eegmmidb_root), tmp_path / "run")
    _, meta = read_checkpoint(tmp_path / "run" / "last.safetensors")
    assert meta["subjects_seen"] is None  # not ["eegmmidb:S003"]: it saw others too, nobody knows whom
    # a network that says whom it saw passes them on, with the user after them
    finetune(Init.from_checkpoint(pre), config, _one_subject(eegmmidb_root), tmp_path / "run2")
    assert read_checkpoint(tmp_path / "run2" / "last.safetensors")[1]["subjects_seen"] == [
        "eegmmidb:S001", "eegmmidb:S002", "eegmmidb:S003"]


# ------------------------------------------------------------------ issue 24, point 9: S088 at 128 Hz pools

def test_pretrain_resamples_so_s088_pools_with_160_hz_subjects(eegmmidb_root, tmp_path):
    out = tmp_path / "PRE"
    # preset none: the loader's own options, which alone would refuse to pool S088 (128 Hz) with S001 (160 Hz)
    assert main(["pretrain", "--data-dir", str(eegmmidb_root), "--subjects", "1,88", "--preset", "none",
                 "--channels", "C3,Cz,C4", "--tmax", "1", "--epochs", "1", "--quiet", "--out", str(out)]) == 0
    _, meta = read_checkpoint(out / "pretrained.safetensors")
    assert meta["sfreq"] == 160.0 and meta["subjects_seen"] == ["eegmmidb:S001", "eegmmidb:S088"]
    assert meta["n_trials_seen"] == 45 + 57  # S088's three runs hold 19 cues each

@pytest.fixture(scope="module")
def pre_raw(eegmmidb_root, tmp_path_factory):
    """A network pre-trained (2 epochs) on S001-S002 without alignment: usable zero-shot."""
    out = tmp_path_factory.mktemp("pre_raw") / "PRE"
    assert main(["pretrain", "--data-dir", str(eegmmidb_root), "--subjects", "1-2", *SMALL, "--epochs", "2",
                 "--quiet", "--out", str(out)]) == 0
    return out / "pretrained.safetensors"


def test_zero_shot_uses_the_pretraining_pools_normalisation_and_nothing_of_the_person(eegmmidb_root, pre_raw, pre):
    tensors, _ = read_checkpoint(pre_raw)
    init = Init.from_checkpoint(pre_raw)
    ds = _one_subject(eegmmidb_root)
    model = zero_shot(init, None, ds)
    assert torch.equal(model.mean, tensors["model.mean"]) and torch.equal(model.std, tensors["model.std"])
    renorm = pretrained_renorm(init, ds.train, ds)  # the person's unlabelled trials re-estimate it
    assert not torch.equal(renorm.mean, model.mean)
    for (k, v1), v2 in zip(model.net.state_dict().items(), renorm.net.state_dict().values()):
        assert torch.equal(v1, v2), k  # the same network and BatchNorm statistics: only the input differs
    empty = ds.train.subset(np.array([], dtype=np.int64))
    assert torch.equal(pretrained_renorm(init, empty, ds).mean, model.mean)  # no calibration trial: zero-shot
    with pytest.raises(ConfigError, match="aligned input"):  # aligning needs the person's own trials
        zero_shot(Init.from_checkpoint(pre), None, ds)


def test_transfer_pipelines_along_a_calibration_curve(eegmmidb_root, pre_raw, pre, tmp_path, capsys):
    """zero-shot, pretrained-renorm and finetune at N = 0 and 10 first calibration trials, the classical
    pipeline on the same trials (and "–" at N = 0, where it has nothing to train on)."""
    from eegclf.benchmark.folder import BenchmarkFolder

    out = tmp_path / "bench"
    base = ["benchmark", "--dataset", "eegmmidb", "--data-dir", str(eegmmidb_root), "--subjects", "3-4", *SMALL,
            "--protocol", "run-split", "--calibration-trials", "0,10", "--finetune-epochs", "2", "--jobs", "1",
            "--quiet"]
    assert main([*base, "--models", "zero-shot,pretrained-renorm,finetune,csp_lda", "--init", str(pre_raw),
                 "--out", str(out)]) == 0
    records = {(r["pipeline"], r["subject"], r["calibration_trials"]): r for r in BenchmarkFolder(out).read_folds()}
    assert len(records) == 2 * (3 * 2 + 1) and ("csp_lda", "S003", 0) not in records
    for s in ("S003", "S004"):
        zero = records[("zero-shot", s, 0)]
        assert records[("zero-shot", s, 10)]["proba"] == zero["proba"]  # zero-shot uses nothing of the person
        for p in ("pretrained-renorm", "finetune"):  # N = 0: they are zero-shot, and say so
            assert records[(p, s, 0)]["proba"] == zero["proba"] and records[(p, s, 0)]["chosen"] == "zero-shot"
        assert records[("pretrained-renorm", s, 10)]["proba"] != zero["proba"]
        ten = [records[(p, s, 10)] for p in ("pretrained-renorm", "finetune", "csp_lda")]
        assert all(r["train_idx"] == ten[2]["train_idx"] and r["n_calibration"] == 10 for r in ten)  # same trials
        assert all(r["test_idx"] == zero["test_idx"] and r["n_test"] == 15 for r in ten)  # run 12
    md = (out / "results.md").read_text()
    assert "| CSP+LDA | – |" in md and "| zero-shot |" in md and "Not run at this N: CSP+LDA" in md
    capsys.readouterr()
    # an aligned network cannot be used with nothing of the person: refused in one line, nothing written
    assert main([*base, "--models", "zero-shot", "--init", str(pre), "--out", str(tmp_path / "z")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "aligned input" in err and not (tmp_path / "z").exists()


def test_pretrained_is_the_old_name_of_pretrained_renorm_and_old_folders_resume(eegmmidb_root, pre_raw, tmp_path,
                                                                                 capsys):
    out = tmp_path / "old"
    args = ["benchmark", "--dataset", "eegmmidb", "--data-dir", str(eegmmidb_root), "--subjects", "3", *SMALL,
            "--protocol", "run-split", "--models", "pretrained", "--init", str(pre_raw), "--jobs", "1", "--quiet",
            "--out", str(out)]
    assert main(args) == 0
    spec = json.loads((out / "benchmark.json").read_text())
    assert spec["pipelines"] == ["pretrained-renorm"]
    # a folder written before the rename: the pipeline and its fold files under the old name
    (out / "folds" / "pretrained-renorm").rename(out / "folds" / "pretrained")
    for f in (out / "folds" / "pretrained").glob("*.json"):
        f.write_text(json.dumps(dict(json.loads(f.read_text()), pipeline="pretrained")))
    (out / "benchmark.json").write_text(json.dumps(dict(spec, pipelines=["pretrained"])))
    capsys.readouterr()
    assert main(args) == 0
    assert "1 done already; running 0" in capsys.readouterr().err  # nothing rerun
    assert not (out / "folds" / "pretrained-renorm").exists()
    assert "| pretrained-renorm |" in (out / "results.md").read_text()


def test_a_fine_tuning_run_resumes_from_the_network_it_started_from(eegmmidb_root, pre, tmp_path):
    """train --resume of a train --init run: it keeps the user's alignment and the people the network saw, and
    ends as the uninterrupted run does. (The interruption: a run of 2 epochs whose recorded total is then 4.)"""
    from safetensors.torch import load_file

    assert _finetune_cli(eegmmidb_root, pre, tmp_path / "full", "--epochs", "4") == 0
    assert _finetune_cli(eegmmidb_root, pre, tmp_path / "cut", "--epochs", "2") == 0
    cut = tmp_path / "cut"
    config = json.loads((cut / "config.json").read_text())
    (cut / "config.json").write_text(json.dumps(dict(config, epochs=4)))
    (cut / "summary.json").unlink()
    assert json.loads((cut / "init.json").read_text())["path"] == str(pre.resolve())
    assert main(["train", "--resume", str(cut), "--quiet"]) == 0
    assert (cut / "history.csv").read_text() == (tmp_path / "full" / "history.csv").read_text()
    ta, tb = load_file(tmp_path / "full" / "last.safetensors"), load_file(cut / "last.safetensors")
    assert ta.keys() == tb.keys() and "model.spatial" in tb
    assert all((ta[k] == tb[k]).all() for k in ta)
    _, meta = load_checkpoint(cut / "last.safetensors")
    assert meta["subjects_seen"] == ["eegmmidb:S001", "eegmmidb:S002", "eegmmidb:S003"]
    # the starting checkpoint changed since: refused, not resumed from something else
    (cut / "summary.json").unlink()
    init = json.loads((cut / "init.json").read_text())
    (cut / "init.json").write_text(json.dumps(dict(init, sha256="0" * 64)))
    assert main(["train", "--resume", str(cut), "--quiet"]) != 0
