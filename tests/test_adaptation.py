"""Adapting a pre-trained network to a new person (eegclf.transfer.adabn, eegclf.adaptation): AdaBN on
unlabelled calibration trials, fine-tuning the last layer only, and multi-domain fine-tuning with the
pre-training people's trials mixed in."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from eegclf.adaptation import MIX_SAMPLE, Mix, mix_sample, pool_trials
from eegclf.cli import main
from eegclf.config import RunConfig
from eegclf.data import load_dataset
from eegclf.data.base import Split
from eegclf.errors import ConfigError
from eegclf.transfer import Init, adabn, finetune, finetune_config, pretrained_renorm

# three motor channels at 80 Hz keep the real-data runs to seconds
SMALL = ["--task", "imagery_lr", "--channels", "C3,Cz,C4", "--resample", "80", "--tmax", "2"]


@pytest.fixture(scope="module")
def pre(eegmmidb_root, tmp_path_factory):
    """A network pre-trained (2 epochs) on S001-S002, unaligned."""
    out = tmp_path_factory.mktemp("pre") / "PRE"
    assert main(["pretrain", "--data-dir", str(eegmmidb_root), "--subjects", "1-2", *SMALL, "--epochs", "2",
                 "--quiet", "--out", str(out)]) == 0
    return out / "pretrained.safetensors"


@pytest.fixture(scope="module")
def person(eegmmidb_root):
    """S003 as the network's data were loaded (its runs 4+8 calibrate, run 12 tests)."""
    return load_dataset("eegmmidb", data_dir=eegmmidb_root, subjects="3", task="imagery_lr", channels="C3,Cz,C4",
                        resample=80.0, tmax=2.0, l_freq=4.0, h_freq=38.0, reference="average")


def _estimated(model) -> dict:
    """Everything adabn estimates: the input normalisation and every BatchNorm layer's statistics."""
    out = {"mean": model.mean, "std": model.std}
    out.update({k: v for k, v in model.net.state_dict().items() if "running_" in k})
    return out


def test_adabn_uses_no_label_and_no_test_trial(pre, person):
    init = Init.from_checkpoint(pre)
    rng = np.random.default_rng(0)
    base = _estimated(adabn(init, person.train, person))
    # other test trials (noise, other labels) in the data set it is given
    other = Split(rng.normal(size=person.test.X.shape).astype(np.float32) * 50, 1 - person.test.y,
                  person.test.subjects, person.test.runs)
    # the calibration trials with their labels permuted
    shuffled = replace(person.train, y=rng.permutation(person.train.y))
    for model in (adabn(init, person.train, person.with_splits(person.train, other)),
                  adabn(init, shuffled, person.with_splits(shuffled, person.test))):
        again = _estimated(model)
        assert base.keys() == again.keys()
        for k in base:
            assert torch.equal(base[k], again[k]), k  # bit-identical
    # it does estimate: its BatchNorm statistics are not the pre-trained network's, its weights are
    renorm = pretrained_renorm(init, person.train, person)
    assert torch.equal(renorm.mean, base["mean"]) and torch.equal(renorm.std, base["std"])
    stats = [k for k in base if "running_mean" in k or "running_var" in k]
    assert stats and all(not torch.equal(base[k], init.state[k]) for k in stats)
    tuned = adabn(init, person.train, person).net.state_dict()
    for k, v in init.state.items():
        if "running_" not in k and "num_batches" not in k:
            assert torch.equal(tuned[k], v), k  # weights unchanged
    # no calibration trial: zero-shot, the checkpoint's statistics
    empty = person.train.subset(np.array([], dtype=np.int64))
    zero = adabn(init, empty, person)
    assert all(torch.equal(zero.net.state_dict()[k], init.state[k]) for k in stats)


def test_adabn_statistics_are_the_cumulative_average_over_the_calibration_trials(pre, person):
    """The first BatchNorm's running mean is the mean of its input over every calibration trial, whatever
    their order (a momentum average would weight the last batches more)."""
    init = Init.from_checkpoint(pre)
    model = adabn(init, person.train, person)
    order = np.random.default_rng(1).permutation(len(person.train))
    again = adabn(init, person.train.subset(order), person)
    bn = next(k for k in init.state if k.endswith("running_mean"))
    torch.testing.assert_close(model.net.state_dict()[bn], again.net.state_dict()[bn], rtol=1e-5, atol=1e-6)
    # against the first convolution's output, measured directly
    x = (torch.as_tensor(person.train.X) - model.mean.view(1, 1, -1, 1)) / model.std.view(1, 1, -1, 1)
    with torch.no_grad():
        first = model.net.firstconv[:-1](x)  # every module before the first BatchNorm
    torch.testing.assert_close(model.net.firstconv[-1].running_mean, first.mean(dim=(0, 2, 3)), rtol=1e-4,
                               atol=1e-5)


def test_finetuning_the_last_layer_keeps_the_rest_as_adabn_made_it(pre, person):
    init = Init.from_checkpoint(pre)
    config = replace(finetune_config(RunConfig(), init, epochs=3), threads=1)
    _, last = finetune(init, config, person, layers="last")
    _, every = finetune(init, config, person)
    ada = adabn(init, person.train, person).net.state_dict()
    state = last.net.state_dict()
    trained = [k for k in state if k.startswith("classify.")]
    assert trained and all(not torch.equal(state[k], init.state[k]) for k in trained)
    for k in state:
        if k not in trained and "num_batches" not in k:
            # frozen weights bit for bit; BatchNorm statistics adabn's (re-measured at the end, float rounding)
            if "running_" in k:
                torch.testing.assert_close(state[k], ada[k], rtol=1e-5, atol=1e-6)
            else:
                assert torch.equal(state[k], init.state[k]), k
    # training every layer moves the others too
    assert not torch.equal(every.net.state_dict()["firstconv.0.weight"], init.state["firstconv.0.weight"])
    with pytest.raises(ConfigError, match="finetune_layers"):
        finetune(init, config, person, layers="first")


def test_train_init_finetune_layers_is_recorded_and_resumed(eegmmidb_root, pre, tmp_path, capsys):
    from safetensors.torch import load_file

    def cli(out, *extra):
        return main(["train", "--init", str(pre), "--dataset", "eegmmidb", "--data-dir", str(eegmmidb_root),
                     "--subjects", "3", *SMALL, "--epochs", "3", "--quiet", "--out", str(out), *extra])

    assert cli(tmp_path / "full", "--finetune-layers", "last") == 0
    assert json.loads((tmp_path / "full" / "init.json").read_text())["finetune_layers"] == "last"
    full = load_file(tmp_path / "full" / "last.safetensors")
    start = load_file(pre)
    assert torch.equal(full["model.net.firstconv.0.weight"], start["model.net.firstconv.0.weight"])
    assert not torch.equal(full["model.net.classify.0.weight"], start["model.net.classify.0.weight"])
    # interrupted after 2 of 3 epochs, then resumed: it trains the last layer only, as it started
    cut = tmp_path / "cut"
    assert cli(cut, "--finetune-layers", "last", "--epochs", "2") == 0
    (cut / "config.json").write_text(json.dumps(dict(json.loads((cut / "config.json").read_text()), epochs=3)))
    (cut / "summary.json").unlink()
    assert main(["train", "--resume", str(cut), "--quiet"]) == 0
    assert (cut / "history.csv").read_text() == (tmp_path / "full" / "history.csv").read_text()
    # every layer, the default, is not written down: folders from before the choice read the same
    assert cli(tmp_path / "all") == 0 and "finetune_layers" not in (tmp_path / "all" / "init.json").read_text()
    capsys.readouterr()
    assert main(["train", "--dataset", "synthetic", "--epochs", "1", "--finetune-layers", "last", "--quiet",
                 "--out", str(tmp_path / "plain")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--finetune-layers" in err and "--init" in err
    assert not (tmp_path / "plain").exists()


def test_multi_domain_trials_keep_the_pre_training_normalisation(pre, person, eegmmidb_root):
    init = Init.from_checkpoint(pre)
    pool = pool_trials(init, eegmmidb_root)
    assert sorted(set(pool.subjects.tolist())) == ["S001", "S002"] and len(pool) == 90
    X, y, w = mix_sample(Mix(pool, 2.0), init, person.train, seed=3)
    assert len(X) == min(MIX_SAMPLE, len(pool)) and w == 2.0
    X2, y2, _ = mix_sample(Mix(pool, 2.0), init, person.train, seed=3)
    assert np.array_equal(X, X2) and np.array_equal(y, y2)  # drawn by the seed
    # the fine-tuned model normalises by the person's statistics; these trials come out as in pre-training
    from eegclf.models.standardize import channel_stats

    mean, std = (v.reshape(1, 1, -1, 1) for v in channel_stats(person.train.X))
    seen = (X - mean) / std
    expect = (pool.X - init.mean.reshape(1, 1, -1, 1)) / init.std.reshape(1, 1, -1, 1)
    order = np.sort(np.random.default_rng(3).choice(len(pool), size=len(X), replace=False))
    np.testing.assert_allclose(seen, expect[order], rtol=1e-4, atol=1e-4)


def test_multi_domain_finetuning_is_reproducible_and_differs_from_plain(pre, person, eegmmidb_root):
    init = Init.from_checkpoint(pre)
    config = replace(finetune_config(RunConfig(), init, epochs=2), threads=1)
    mix = Mix(pool_trials(init, eegmmidb_root), 1.0)
    s1, m1 = finetune(init, config, person, mix=mix)
    s2, m2 = finetune(init, config, person, mix=mix)
    _, plain = finetune(init, config, person)
    for k, v in m1.state_dict().items():
        assert torch.equal(v, m2.state_dict()[k]), k
    assert s1["test_acc_last"] == s2["test_acc_last"]
    assert not torch.equal(m1.net.state_dict()["classify.0.weight"], plain.net.state_dict()["classify.0.weight"])


def test_benchmark_adabn_and_finetune_variants_along_a_calibration_curve(eegmmidb_root, pre, tmp_path, capsys):
    from eegclf.benchmark.folder import BenchmarkFolder

    base = ["benchmark", "--dataset", "eegmmidb", "--data-dir", str(eegmmidb_root), "--subjects", "3", *SMALL,
            "--protocol", "run-split", "--calibration-trials", "0,10", "--finetune-epochs", "1", "--jobs", "1",
            "--quiet", "--init", str(pre)]
    out = tmp_path / "b"
    assert main([*base, "--models", "zero-shot,pretrained-renorm,adabn", "--out", str(out)]) == 0
    spec = json.loads((out / "benchmark.json").read_text())
    assert "finetune_layers" not in spec["recipe"] and "finetune_mix" not in spec["recipe"]  # defaults unrecorded
    records = {(r["pipeline"], r["calibration_trials"]): r for r in BenchmarkFolder(out).read_folds()}
    assert records[("adabn", 0)]["proba"] == records[("zero-shot", 0)]["proba"]  # N = 0: zero-shot
    assert records[("adabn", 0)]["chosen"] == "zero-shot"
    assert records[("adabn", 10)]["proba"] != records[("pretrained-renorm", 10)]["proba"]
    assert "`adabn`" in (out / "results.md").read_text()
    capsys.readouterr()
    # the same folder with another fine-tuning choice: refused, naming it; the default resumes
    assert main([*base, "--models", "finetune", "--finetune-layers", "last", "--out", str(out)]) == 2
    assert "finetune_layers" in capsys.readouterr().err
    assert main([*base, "--models", "adabn", "--out", str(out)]) == 0
    assert "done already; running 0" in capsys.readouterr().err
    # last layer and multi-domain fine-tuning run, and are recorded
    mixed = tmp_path / "m"
    assert main([*base, "--models", "finetune", "--finetune-layers", "last", "--finetune-mix", "2",
                 "--out", str(mixed)]) == 0
    spec = json.loads((mixed / "benchmark.json").read_text())
    assert spec["recipe"]["finetune_layers"] == "last" and spec["recipe"]["finetune_mix"] == 2.0
    assert "final classification layer" in (mixed / "results.md").read_text()
    capsys.readouterr()
    assert main([*base, "--models", "adabn", "--finetune-mix", "-1", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--finetune-mix" in err and not (tmp_path / "x").exists()
