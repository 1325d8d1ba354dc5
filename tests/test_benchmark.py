"""eegclf benchmark: fold structure on the real files, nested `auto` blind to test labels, scores, resume,
report rebuilt byte for byte, and every bad input as one clear line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from eegclf.benchmark import make_folds, make_spec, run_benchmark
from eegclf.benchmark.folder import BenchmarkFolder
from eegclf.benchmark.pipelines import Recipe, run_pipeline
from eegclf.benchmark.runner import run_fold
from eegclf.benchmark.protocols import calibration_part, subject_groups, with_calibration
from eegclf.benchmark.scores import fold_scores
from eegclf.cli import main
from eegclf.config import RunConfig
from eegclf.data import load_dataset
from eegclf.data.base import Split
from eegclf.data.splits import pooled
from eegclf.errors import CheckpointError, ConfigError, DataError
from eegclf.reporting.benchmark.results import build_benchmark_report


@pytest.fixture(scope="module")
def pool12(eegmmidb_root):
    """The 12 subjects' imagined left/right trials (3 channels keep it cheap: folds depend on labels only)."""
    ds = load_dataset("eegmmidb", data_dir=eegmmidb_root, subjects="1-12", channels="C3,Cz,C4", resample=80.0)
    return pooled(ds)


@pytest.mark.parametrize("protocol", ["within-subject", "run-split", "cross-subject", "cross-subject-finetune"])
def test_folds_on_the_real_files_never_share_trials_or_subjects(pool12, protocol):
    folds = make_folds(pool12, protocol)
    subjects = sorted(set(pool12.subjects))
    assert len(subjects) == 12 and len(pool12) == 12 * 45
    assert len(folds) == (60 if protocol == "within-subject" else 12)
    for f in folds:
        parts = [set(f.train.tolist()), set(f.adapt.tolist()), set(f.test.tolist())]
        assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2]), f.key
        assert set(pool12.subjects[f.test]) == {f.subject}
        if protocol in ("cross-subject", "cross-subject-finetune"):
            assert f.subject not in set(pool12.subjects[f.train])  # no shared subject
            assert set(pool12.subjects[f.train]) == set(subjects) - {f.subject}
        else:
            assert set(pool12.subjects[f.train]) == {f.subject}
        if protocol in ("run-split", "cross-subject-finetune"):
            assert set(pool12.runs[f.test]) == {12}
        if protocol == "cross-subject-finetune":
            assert set(pool12.runs[f.adapt]) == {4, 8} and set(pool12.subjects[f.adapt]) == {f.subject}
    if protocol == "within-subject":
        for s in subjects:  # each subject's trials are tested exactly once, in stratified folds
            mine = [f for f in folds if f.subject == s]
            tested = np.concatenate([f.test for f in mine])
            assert sorted(tested.tolist()) == np.flatnonzero(pool12.subjects == s).tolist()
            share = pool12.y[pool12.subjects == s].mean()
            for f in mine:
                assert abs(pool12.y[f.test].mean() - share) <= 1 / len(f.test) + 1e-9  # stratified
                assert abs(pool12.y[f.train].mean() - share) <= 1 / len(f.train) + 1e-9


def _toy_pool(n_subjects=2, n=40, seed=0) -> tuple:
    ds = load_dataset("synthetic", n_train=n_subjects * n // 2, n_test=n_subjects * n // 2, seed=seed)
    return ds, pooled(ds)


def test_auto_chooses_on_training_folds_only():
    """Adversarial test labels (all flipped) change nothing that auto chose or computed before prediction."""
    template, pool = _toy_pool()
    fold = make_folds(pool, "within-subject")[0]
    recipe = Recipe(RunConfig(epochs=1), auto_candidates=("ts_lr", "csp_lda"))
    honest = run_pipeline("auto", pool, fold, template, recipe, seed=0)
    y = pool.y.copy()
    y[fold.test] = 1 - y[fold.test]
    adversarial = Split(pool.X, y, pool.subjects, pool.runs)
    flipped = run_pipeline("auto", adversarial, fold, template, recipe, seed=0)
    assert flipped.chosen == honest.chosen and flipped.inner_acc == honest.inner_acc
    np.testing.assert_array_equal(flipped.proba, honest.proba)  # prediction never saw a test label
    # and the choice does follow the training folds: a candidate list in the other order keeps the winner
    reordered = run_pipeline("auto", pool, fold, template, Recipe(RunConfig(epochs=1), auto_candidates=(
        "csp_lda", "ts_lr")), seed=0)
    assert reordered.inner_acc == honest.inner_acc
    assert reordered.chosen == max(honest.inner_acc, key=honest.inner_acc.get) or len(set(honest.inner_acc.values())) == 1


def test_classical_inner_score_under_calibration_is_of_the_refit_pipeline():
    """cross-subject-finetune refits classical pipelines on the other subjects plus the calibration trials;
    their inner score (what "best classical (per fold)" chooses by) measures that pipeline: it moves with the
    calibration labels, never with the test labels."""
    from eegclf.benchmark.protocols import Fold

    template, pool = _toy_pool()
    other, mine = (np.flatnonzero(pool.subjects == s) for s in np.unique(pool.subjects))
    by_class = [mine[pool.y[mine] == c] for c in (0, 1)]
    adapt = np.sort(np.concatenate([idx[: len(idx) // 2] for idx in by_class]))
    fold = Fold(str(pool.subjects[mine[0]]), 0, other, np.setdiff1d(mine, adapt), adapt)
    recipe = Recipe(RunConfig(epochs=1))
    honest = run_pipeline("csp_lda", pool, fold, template, recipe, seed=0)

    def relabel(idx):
        y = pool.y.copy()
        y[idx] = 1 - y[idx]
        return run_pipeline("csp_lda", Split(pool.X, y, pool.subjects, pool.runs), fold, template, recipe, seed=0)

    flipped_test = relabel(fold.test)
    assert flipped_test.inner_acc == honest.inner_acc
    np.testing.assert_array_equal(flipped_test.proba, honest.proba)
    assert relabel(fold.adapt).inner_acc["csp_lda"] != honest.inner_acc["csp_lda"]  # scored on calibration trials
    assert honest.inner_on == "train+adapt"  # recorded, so the report can say which inner score chose


def test_fold_scores():
    y = np.array([0, 0, 1, 1])
    proba = np.array([[0.9, 0.1], [0.4, 0.6], [0.3, 0.7], [0.2, 0.8]])
    s = fold_scores(y, proba)
    assert s["accuracy"] == 0.75 and s["roc_auc"] == 1.0 and s["kappa"] == pytest.approx(0.5)
    assert np.isnan(fold_scores(np.array([1, 1]), proba[:2])["roc_auc"])


def test_trainer_with_val_fraction_zero_keeps_the_last_epoch():
    from eegclf.training.loop import fit

    ds = load_dataset("synthetic", n_train=48, n_test=16)
    summary = fit(RunConfig(epochs=3, batch_size=16, val_fraction=0.0), ds, progress=False)
    assert summary["selected_epoch"] == 3 and "val_fraction=0" in summary["selection"]
    assert summary["test_acc_val_selected"] == summary["test_acc_last"]


def _bench(tmp_path, protocol="within-subject", models=("eegnet", "ts_lr", "csp_lda"), **kw):
    spec = make_spec("synthetic", {"n_train": 60, "n_test": 60}, protocol, list(models),
                     RunConfig(epochs=2, batch_size=16), **kw)
    return spec, run_benchmark(spec, tmp_path / "B", jobs=1, progress=False, report=build_benchmark_report)


def test_benchmark_outputs_resume_and_rebuild(tmp_path):
    spec, report = _bench(tmp_path)
    out = tmp_path / "B"
    rows = (out / "results.csv").read_text().splitlines()
    assert len(rows) == 1 + 3 * 2 * 5  # header + 3 pipelines x 2 subjects x 5 folds
    md = report.read_text()
    for subject in sorted({r["subject"] for r in BenchmarkFolder(out).read_folds()}):
        assert f"| {subject} |" in md  # one row per subject
    assert "95 % CI" in md and "Wilcoxon" in md and "Holm" in md and "chance" in md
    assert (out / "figures" / "per_subject.png").is_file()
    best = next(line for line in md.splitlines() if line.startswith("Best classical pipeline"))
    assert "training folds" in best  # decided by inner CV on the training parts
    files = sorted((out / "folds").glob("*/*.json"))
    before = {p: p.stat().st_mtime_ns for p in files}
    files[0].unlink()  # as if killed before this fold finished
    run_benchmark(spec, out, jobs=1, progress=False, report=build_benchmark_report)
    redone = [p for p in files if not p.exists() or p.stat().st_mtime_ns != before[p]]
    assert redone == [files[0]] and files[0].exists()
    snapshot = {p: p.read_bytes()
                for p in [out / "results.md", out / "results.csv", out / "timings.csv", *out.glob("figures/*.png")]}
    for p in snapshot:
        p.unlink()
    assert main(["report", str(out)]) == 0
    assert {p: p.read_bytes() for p in snapshot} == snapshot


def test_benchmark_records_indices_and_cross_subject_folds(tmp_path):
    _bench(tmp_path, protocol="cross-subject", models=("ts_lr",))
    records = BenchmarkFolder(tmp_path / "B").read_folds()
    assert len(records) == 2
    for r in records:
        assert r["n_train"] == len(r["train_idx"]) and r["n_test"] == len(r["test_idx"])
        assert not set(r["train_idx"]) & set(r["test_idx"])


def test_cli_benchmark_runs_and_names_bad_input(tmp_path, capsys):
    out = tmp_path / "C"
    args = ["benchmark", "--dataset", "synthetic", "--n-train", "40", "--n-test", "40", "--protocol",
            "within-subject", "--models", "csp_lda,auto", "--auto-candidates", "csp_lda,ts_lr", "--quiet",
            "--out", str(out)]
    assert main(args) == 0
    spec = json.loads((out / "benchmark.json").read_text())
    assert spec["command"].startswith("eegclf benchmark") and spec["recipe"]["auto_candidates"] == ["csp_lda", "ts_lr"]
    assert "`auto` chose" in (out / "results.md").read_text()
    capsys.readouterr()
    bad = [
        (["--models", "resnet"], "resnet"),
        (["--protocol", "run-split"], "runs"),  # synthetic trials have no recording runs
    ]
    for extra, word in bad:
        rc = main([*args[:-2], "--out", str(tmp_path / "D"), *extra])
        err = capsys.readouterr().err.strip().splitlines()
        assert rc == 2 and len(err) == 1 and err[0].startswith("eegclf: error:") and word in err[0]
        assert not (tmp_path / "D").exists()  # nothing half-written
    with pytest.raises(SystemExit):  # argparse: an unknown protocol is a usage error listing the valid ones
        main([*args[:7], "--protocol", "leave-one-out", "--out", str(tmp_path / "E")])
    assert "within-subject" in capsys.readouterr().err


def test_cli_names_the_jobs_flag_and_every_pipeline_name(tmp_path, capsys):
    """Issue 34, defect 3: --jobs 0 names the flag (not the library's jobs=0), in benchmark and compare; an
    unknown pipeline lists every valid name, auto and the transfer pipelines too (from the one list of them)."""
    data = ["--dataset", "synthetic", "--n-train", "20", "--n-test", "20"]
    runs = [["benchmark", *data, "--protocol", "within-subject", "--models", "csp_lda", "--jobs", "0"],
            ["compare", *data, "--models", "eegnet", "--acts", "elu", "--epochs", "1", "--jobs", "0"]]
    for i, args in enumerate(runs):
        assert main([*args, "--quiet", "--out", str(tmp_path / f"J{i}")]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "--jobs 0 is invalid" in err and "jobs=" not in err, err
        assert not (tmp_path / f"J{i}").exists()
    assert main(["benchmark", *data, "--protocol", "within-subject", "--models", "csp_lda,resnet", "--quiet",
                 "--out", str(tmp_path / "P")]) == 2
    err = capsys.readouterr().err.strip()
    from eegclf.benchmark.pipelines import pipeline_names
    from eegclf.models import list_models

    names = err.split("valid names: ", 1)[1].split(", ")
    assert names == pipeline_names() and set(names) == {*list_models(), "auto", "zero-shot", "pretrained-renorm",
                                                        "adabn", "finetune"}
    assert not (tmp_path / "P").exists()
    # auto with one candidate: the library's auto_candidates= is said as the flag
    assert main(["benchmark", *data, "--protocol", "within-subject", "--models", "auto,csp_lda", "--quiet",
                 "--out", str(tmp_path / "A")]) == 2
    err = capsys.readouterr().err.strip()
    assert "--auto-candidates NAMES" in err and "auto_candidates" not in err and not (tmp_path / "A").exists()


def test_protocol_errors():
    _, pool = _toy_pool()
    one = pool.subset(np.flatnonzero(pool.subjects == pool.subjects[0]))
    with pytest.raises(DataError, match="at least 2 subjects"):
        make_folds(one, "cross-subject")
    with pytest.raises(DataError, match="runs"):
        make_folds(pool, "run-split")
    single = one.subset(np.flatnonzero(one.y == 0))
    with pytest.raises(DataError, match="one class"):
        make_folds(single, "within-subject")
    with pytest.raises(ConfigError, match="protocol"):
        make_folds(pool, "leave-one-out")


def test_unknown_subject_is_one_line(eegmmidb_root, tmp_path, capsys):
    rc = main(["benchmark", "--dataset", "eegmmidb", "--data-dir", str(eegmmidb_root), "--subjects", "1,200",
               "--protocol", "within-subject", "--models", "csp_lda", "--quiet", "--out", str(tmp_path / "B")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "200" in err[0]


def _pretrain_on(subject: str, out, seed: int = 0):
    """A small network pre-trained (1 epoch) on one synthetic subject only."""
    from eegclf.transfer import pretrain

    ds = load_dataset("synthetic", n_train=40, n_test=40)
    keep = lambda part: part.subset(np.flatnonzero(part.subjects == subject))  # noqa: E731
    return pretrain(RunConfig(epochs=1, batch_size=16, seed=seed), ds.with_splits(keep(ds.train), keep(ds.test)),
                    out, progress=False)


def test_spec_and_fold_records_carry_provenance_and_a_resume_with_any_mismatch_is_refused(tmp_path):
    """Issue 24, point 5: checkpoint hashes, trial-pool fingerprint, package versions, bf16 and device are
    recorded in the spec and in every fold (with the checkpoint each subject was tested with), shown by the
    report, and a resume that differs in any of them is refused, naming what differs."""
    import hashlib

    import torch

    a, b = _pretrain_on("S1", tmp_path / "A"), _pretrain_on("S2", tmp_path / "B")
    sha = lambda path: hashlib.sha256(path.read_bytes()).hexdigest()  # noqa: E731

    def spec(**kw):
        return make_spec("synthetic", {"n_train": 40, "n_test": 40}, "within-subject", ["pretrained"],
                         RunConfig(epochs=1, batch_size=16), init=(str(a), str(b)), **kw)

    out = tmp_path / "bench"
    run_benchmark(spec(), out, jobs=1, progress=False, report=build_benchmark_report)
    saved = json.loads((out / "benchmark.json").read_text())
    assert [r["sha256"] for r in saved["init"]] == [sha(a), sha(b)]
    prov = saved["provenance"]
    assert {"pool", "packages", "device", "bf16"} <= set(prov) and len(prov["pool"]) == 64
    assert {"eegclf", "torch", "numpy", "mne", "scikit-learn"} <= set(prov["packages"])
    assert isinstance(prov["bf16"], bool) and prov["device"].startswith("cuda" if torch.cuda.is_available() else "cpu")
    records = BenchmarkFolder(out).read_folds()
    assert len(records) == 10
    for r in records:
        assert r["provenance"] == prov
        tested_with = b if r["subject"] == "S1" else a  # the checkpoint that never saw the subject
        assert r["init"] == {"path": str(tested_with.resolve()), "sha256": sha(tested_with)}
    md = (out / "results.md").read_text()
    assert "## Provenance" in md and prov["pool"] in md and sha(a) in md and prov["packages"]["torch"] in md
    assert "Every fold record was made with these" in md

    run_benchmark(spec(data_dir=str(tmp_path / "elsewhere")), out, jobs=1, progress=False)  # same trials: accepted

    def refused(match, s=None):
        with pytest.raises(ConfigError, match=match):
            run_benchmark(s or spec(), out, jobs=1, progress=False)

    original = (out / "benchmark.json").read_text()
    for path, value, says in ((("packages", "mne"), "0.0", r"provenance\.packages\.mne \(was 0\.0, now"),
                              (("pool",), "0" * 64, r"provenance\.pool \(was 000"),
                              (("device",), "cuda (another GPU)", r"provenance\.device"),
                              (("bf16",), not prov["bf16"], r"provenance\.bf16")):
        edited = json.loads(original)
        place = edited["provenance"]
        for k in path[:-1]:
            place = place[k]
        place[path[-1]] = value  # as if the folder had been made with another MNE, other trials, elsewhere
        (out / "benchmark.json").write_text(json.dumps(edited))
        refused(says)
    edited = json.loads(original)
    del edited["provenance"]  # a folder from before provenance was recorded
    (out / "benchmark.json").write_text(json.dumps(edited))
    refused("before eegclf recorded its provenance")
    (out / "benchmark.json").write_text(original)

    _pretrain_on("S1", tmp_path / "A", seed=1)  # re-pre-trained at the same path
    assert sha(a) != saved["init"][0]["sha256"]
    refused(r"init\[0\]\.sha256 \(was " + saved["init"][0]["sha256"][:12])
    with pytest.raises(CheckpointError, match="changed since this benchmark recorded it"):
        run_fold(dict(saved), "pretrained", "S2-f0", str(tmp_path / "other"))  # a worker given the old spec

    fold = next((out / "folds" / "pretrained-renorm").glob("*.json"))  # the alias runs under its new name
    record = json.loads(fold.read_text())
    record["provenance"]["packages"]["numpy"] = "0.1"  # a fold copied in from another environment
    fold.write_text(json.dumps(record))
    assert main(["report", str(out)]) == 0
    assert "1 of 10 fold records were made with other provenance" in (out / "results.md").read_text()


def test_run_split_tests_the_loaders_own_test_run(eegmmidb_root):
    """Issue 24, point 7: run-split (and cross-subject-finetune, which lines up with it) test the run the loader
    holds out: run 12 by default, run 8 with test_run=8 (trained on runs 4 and 12 then), one session each."""
    from eegclf.benchmark.runner import load_pool

    base = {"subjects": [1, 2], "channels": "C3,Cz,C4", "resample": 80.0, "tmax": 2.0}
    for test_run, others in ((None, {4, 8}), (8, {4, 12})):
        options = dict(base, **({} if test_run is None else {"test_run": test_run}))
        for protocol in ("run-split", "cross-subject-finetune"):
            spec = make_spec("eegmmidb", options, protocol, ["csp_lda"], RunConfig(), data_dir=str(eegmmidb_root))
            _, pool, folds = load_pool(spec)
            assert [f.key for f in folds] == ["S001-f0", "S002-f0"] and {f.session for f in folds} == {None}
            for f in folds:
                calibration = f.train if protocol == "run-split" else f.adapt
                assert set(pool.runs[f.test]) == {test_run or 12} and set(pool.subjects[f.test]) == {f.subject}
                assert set(pool.runs[calibration]) == others and set(pool.subjects[calibration]) == {f.subject}


def test_readme_made_by_lines_are_the_scripts_commands():
    """Issue 24, point 5: every "Made by" command in the README and docs/ is one that benchmarks/accuracy_eegmmidb.sh runs
    (the script is read by bash with `eegclf` replaced by a function that prints its command line)."""
    import re
    import subprocess
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    printed = subprocess.run(["bash", "-c", 'eegclf() { echo "eegclf $*"; }; source "$0"',
                              str(repo / "benchmarks" / "accuracy_eegmmidb.sh")],
                             capture_output=True, text=True, check=True, cwd=repo).stdout.splitlines()
    pages = [repo / "README.md", *sorted((repo / "docs").glob("*.md"))]
    made_by = [c for p in pages for c in re.findall(r"^Made by: `([^`]*)`", p.read_text(), flags=re.M)]
    assert len(made_by) >= 7 and all(c.startswith("eegclf benchmark ") for c in printed if "benchmark" in c)
    assert [c for c in made_by if c not in printed] == []

SMALL = ["--task", "imagery_lr", "--channels", "C3,Cz,C4", "--resample", "80", "--tmax", "2"]


@pytest.mark.parametrize("protocol", ["cross-subject", "cross-subject-finetune"])
def test_subject_folds_test_each_person_once_by_a_training_that_never_saw_them(pool12, protocol):
    subjects = sorted(set(pool12.subjects))
    groups = subject_groups(subjects, 4, seed=3)
    assert groups == subject_groups(list(reversed(subjects)), 4, seed=3)  # seeded: the same people, the same groups
    assert groups != subject_groups(subjects, 4, seed=4)
    assert sorted(s for g in groups for s in g) == subjects and [len(g) for g in groups] == [3, 3, 3, 3]
    folds = make_folds(pool12, protocol, groups=groups)
    assert [f.subject for f in folds] == subjects  # every person tested, once
    assert len({f.train.tobytes() for f in folds}) == 4  # K trainings, not one per person
    for f in folds:
        group = next(g for g in groups if f.subject in g)
        assert f.group == tuple(group) and f.index == groups.index(group)
        assert set(pool12.subjects[f.train]) == set(subjects) - set(group)  # nobody of the fold trains
        assert set(pool12.subjects[f.test]) == {f.subject}
        if protocol == "cross-subject":
            assert f.test.tolist() == np.flatnonzero(pool12.subjects == f.subject).tolist() and len(f.adapt) == 0
        else:  # calibrated on the person's own runs 4+8, tested on their run 12
            assert set(pool12.runs[f.test]) == {12} and set(pool12.runs[f.adapt]) == {4, 8}
            assert set(pool12.subjects[f.adapt]) == {f.subject}
    with pytest.raises(DataError, match="exactly"):
        make_folds(pool12, protocol, groups=groups[:3])  # recorded folds that leave people out are refused
    with pytest.raises(ConfigError, match="protocol"):
        make_folds(pool12, "run-split", groups=groups)
    with pytest.raises(ConfigError, match="subject_folds"):
        subject_groups(subjects, 1, seed=0)
    with pytest.raises(DataError, match="at least 13 subjects"):
        subject_groups(subjects, 13, seed=0)


def test_calibration_trials_are_the_first_n_of_the_calibration_runs(pool12):
    for protocol, part, other in (("run-split", "train", "adapt"), ("cross-subject-finetune", "adapt", "train")):
        full = {f.subject: f for f in make_folds(pool12, protocol)}
        cut = with_calibration(list(full.values()), protocol, [10, 0, 30])
        assert [f.calibration_trials for f in cut[:3]] == [0, 10, 30]
        assert len({f.key for f in cut}) == len(cut) == 3 * 12  # one fold file per N
        for f in cut:
            whole, mine = getattr(full[f.subject], part), getattr(f, part)
            assert mine.tolist() == whole[: f.calibration_trials].tolist()  # the first N, the same for all
            assert calibration_part(f, protocol).tolist() == mine.tolist()
            assert getattr(f, other).tolist() == getattr(full[f.subject], other).tolist()
            assert f.test.tolist() == full[f.subject].test.tolist()  # the test run is untouched
            if f.calibration_trials == 10:
                assert set(pool12.runs[mine]) == {4}  # recording order: the first run first
    with pytest.raises(ConfigError, match="protocol"):
        with_calibration(make_folds(pool12, "within-subject"), "within-subject", [10])
    with pytest.raises(ConfigError, match="calibration_trials"):
        with_calibration(list(full.values()), "cross-subject-finetune", [-1])


def test_subject_folds_and_calibration_curve_through_the_cli(eegmmidb_root, tmp_path, monkeypatch):
    """--subject-folds 2 on 4 people: 2 pre-trainings serve every person and every N; the groups and N are
    recorded; the report has the curve and a full section per N."""
    import eegclf.benchmark.pipelines as pipelines
    from eegclf.benchmark.runner import with_subject_groups

    fits, real_fit = [], pipelines._fit
    monkeypatch.setattr(pipelines, "_fit", lambda name, train, *a: fits.append(
        (name, tuple(sorted(set(train.subjects.tolist()))))) or real_fit(name, train, *a))
    out = tmp_path / "B"
    args = ["benchmark", "--dataset", "eegmmidb", "--data-dir", str(eegmmidb_root), "--subjects", "1-4", *SMALL,
            "--protocol", "cross-subject-finetune", "--subject-folds", "2", "--calibration-trials", "0,10",
            "--models", "eegnet,csp_lda", "--epochs", "1", "--finetune-epochs", "1", "--seed", "5", "--jobs", "1",
            "--quiet", "--out", str(out)]
    assert main(args) == 0
    spec = json.loads((out / "benchmark.json").read_text())
    people = ["S001", "S002", "S003", "S004"]
    groups = spec["subject_folds"]["groups"]
    assert spec["subject_folds"]["k"] == 2 and spec["subject_folds"]["seed"] == 5
    assert groups == subject_groups(people, 2, 5) and spec["calibration_trials"] == [0, 10]
    deep = [seen for name, seen in fits if name == "eegnet"]
    assert sorted(deep) == sorted(tuple(sorted(set(people) - set(g))) for g in groups)  # one per group
    records = BenchmarkFolder(out).read_folds()
    assert len(records) == 2 * 4 * 2
    for r in records:
        group = next(g for g in groups if r["subject"] in g)
        assert r["fold_subjects"] == group and r["fold"] == groups.index(group) and r["seed"] == 5 + r["fold"]
        assert r["n_adapt"] == r["n_calibration"] == r["calibration_trials"] and r["n_test"] == 15
    rows = (out / "results.csv").read_text().splitlines()
    assert rows[0].endswith(",calibration_trials") and sorted({r.rsplit(",", 1)[1] for r in rows[1:]}) == ["0", "10"]
    md = (out / "results.md").read_text()
    assert "## Calibration curve" in md and "## N = 0 calibration trials" in md and "## N = 10 calibration trials" in md
    rows_best = [line for line in md.splitlines() if line.startswith("| best classical (per fold) |")]
    assert len(rows_best) == 3  # the curve, then each N's summary
    assert all(", ".join(g) in md for g in groups)
    assert (out / "figures" / "calibration_curve.png").is_file() and (out / "figures" / "n10" / "per_subject.png").is_file()
    snapshot = {f: f.read_bytes() for f in [out / "results.md", out / "results.csv", *out.glob("figures/**/*.png")]}
    for f in snapshot:
        f.unlink()
    assert main(["report", str(out)]) == 0 and {f: f.read_bytes() for f in snapshot} == snapshot  # from the records
    # a resumed benchmark keeps the recorded groups (not a new draw), and redoes only what is missing
    recorded = [list(reversed(groups[0])), groups[1]]
    (out / "benchmark.json").write_text(json.dumps(dict(spec, subject_folds=dict(spec["subject_folds"], groups=recorded))))
    fresh = {k: v for k, v in spec.items() if k != "subject_folds"} | {"subject_folds": {"k": 2, "seed": 5}}
    assert with_subject_groups(fresh, out)["subject_folds"]["groups"] == recorded
    (out / "benchmark.json").write_text(json.dumps(spec))
    target = out / "folds" / "eegnet" / f"{groups[0][0]}-f0-n10.json"
    target.unlink()
    fits.clear()
    assert main(args) == 0
    assert target.is_file() and [name for name, _ in fits] == ["eegnet"]  # its group's one pre-training, again
    assert json.loads(target.read_text())["fold_subjects"] == groups[0]


@pytest.mark.parametrize("counts, models, says", [
    ("0", "csp_lda", "--calibration-trials 0 leaves nothing to run"),  # no pipeline runs without calibration
    ("0,10", "eegnet,csp_lda", "--calibration-trials 0 leaves nothing to run"),
    ("1", "csp_lda", "--calibration-trials 1 is fewer than the 2 classes"),
    ("2", "csp_lda", "inner 3-fold cross-validation needs 3 of each class"),  # S001's first 2: one of each
])
def test_calibration_trials_that_cannot_work_are_refused_before_anything_is_written(eegmmidb_root, tmp_path, capsys,
                                                                                     counts, models, says):
    """Issue 34, defect 2: the smallest calibration sizes fail in one line naming the flag, with no folder left
    (not exit 0 with no report, nor a failure in every fold with a retry advice that fails the same way)."""
    out = tmp_path / "B"
    args = ["benchmark", "--dataset", "eegmmidb", "--data-dir", str(eegmmidb_root), "--subjects", "1", *SMALL,
            "--protocol", "run-split", "--calibration-trials", counts, "--models", models, "--jobs", "1",
            "--quiet", "--out", str(out)]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and says in err and "--calibration-trials" in err, err
    assert not out.exists()
