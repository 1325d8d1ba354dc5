"""MOABB interop: the 'moabb' data set and EEGClassifier inside a MOABB evaluation, all offline (FakeDataset).

MOABB is the optional extra ``eegclf[moabb]`` (Python >= 3.11); CI installs it with ``dev``, so there a missing
MOABB fails these tests instead of skipping them. The network is switched off for every test here.
"""

import json
import os
import socket
import sys

import numpy as np
import pytest

from eegclf.cli import main
from eegclf.data import load_dataset
from eegclf.data.moabb_sets import DEFAULTS, OPTION_HELP, split_rule
from eegclf.errors import DataError

FAKE = {"event_list": ["left_hand", "right_hand"], "n_subjects": 2, "n_sessions": 2, "n_runs": 2,
        "n_events": 20, "duration": 70, "seed": 5}


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """No test here may wait on (or reach) the network; MOABB's NEMAR lookup is switched off too."""
    def refuse(*args, **kwargs):
        raise OSError("network access is disabled in eegclf's MOABB tests")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setenv("MOABB_DOWNLOAD_PROVIDER", "upstream")


@pytest.fixture
def moabb():
    try:
        import moabb
    except ImportError:
        msg = "moabb is not installed (pip install 'eegclf[moabb]')"
        if os.environ.get("CI", "").lower() == "true" and sys.version_info >= (3, 11):
            pytest.fail(msg)
        pytest.skip(msg)
    import mne

    level = mne.set_log_level("error", return_old_level=True)  # MOABB's epoching prints a line per run
    yield moabb
    mne.set_log_level(level)


def test_defaults_and_help_cover_the_same_options():
    assert set(OPTION_HELP) == set(DEFAULTS)


def test_split_rule():
    assert split_rule(["0train", "1test"], ["0"]) == ("session", ["1test"])  # MOABB's own split
    assert split_rule(["0train", "1train", "2train", "3test", "4test"], ["0"]) == ("session", ["3test", "4test"])
    assert split_rule(["10", "2", "1"], ["0"]) == ("session", ["10"])  # else the last session tests
    assert split_rule(["0"], ["run_0", "run_2", "run_1"]) == ("run", ["run_2"])  # one session: its last run
    assert split_rule(["0"], ["0"]) == ("none", [])


def test_missing_moabb_names_the_extra(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "moabb", None)  # import moabb -> ImportError
    with pytest.raises(DataError, match=r"pip install 'eegclf\[moabb\]'"):
        load_dataset("moabb", moabb_dataset="BNCI2014_004")
    assert main(["data", "info", "moabb", "--moabb-dataset", "BNCI2014_004"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'eegclf[moabb]'" in err


def test_fake_dataset_loads_split_by_session(moabb):
    d = load_dataset("moabb", moabb_dataset="FakeDataset", dataset_args=FAKE, paradigm="LeftRightImagery",
                     subjects=[1, 2], resample=64)
    assert d.class_names == ["left_hand", "right_hand"] and d.ch_names == ["C3", "Cz", "C4"]
    assert d.sfreq == 64.0 and d.train.X.shape == (80, 1, 3, 192) and d.test.X.shape == (80, 1, 3, 192)
    assert sorted(set(d.train.subjects)) == ["1", "2"] and d.info["split"]["1"]["test"] == ["1"]
    assert (d.options["l_freq"], d.options["h_freq"]) == (8.0, 32.0)  # the paradigm's band, recorded
    again = load_dataset("moabb", **{k: v for k, v in d.options.items() if k != "data_dir"})
    assert again.test.fingerprint() == d.test.fingerprint()
    one_session = {**FAKE, "n_sessions": 1, "n_subjects": 1}
    d = load_dataset("moabb", moabb_dataset="FakeDataset", dataset_args=json.dumps(one_session))
    assert set(d.test.runs.tolist()) == {1} and set(d.train.runs.tolist()) == {0}


def test_bad_moabb_options(moabb):
    cases = [
        (dict(moabb_dataset="NoSuchSet"), "MOABB has no such data set"),
        (dict(moabb_dataset="FakeDataset", dataset_args=FAKE, paradigm="Nope"), "MOABB has no such paradigm"),
        (dict(moabb_dataset="FakeDataset"), "does not fit data set FakeDataset"),  # its events are fake1..3
        (dict(moabb_dataset="FakeDataset", dataset_args="{bad"), "must be a JSON object"),
        (dict(moabb_dataset="FakeDataset", dataset_args=FAKE, subjects=[7]), "distinct subjects of FakeDataset"),
        (dict(moabb_dataset="FakeDataset", dataset_args={**FAKE, "n_sessions": 1, "n_runs": 1}),
         "one session with one run"),
    ]
    for options, message in cases:
        with pytest.raises(DataError, match=message):
            load_dataset("moabb", **options)


def test_train_and_eval_on_a_moabb_dataset(moabb, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["--dataset", "moabb", "--moabb-dataset", "FakeDataset", "--moabb-args", json.dumps(FAKE),
            "--paradigm", "LeftRightImagery", "--subjects", "1", "--resample", "64"]
    assert main(["train", *args, "--model", "eegnet", "--epochs", "2", "--batch-size", "16",
                 "--out", str(out), "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    capsys.readouterr()
    assert main(["eval", "--checkpoint", str(out / "best.safetensors")]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == (
        f"Test Loss: {summary['test_loss_val_selected']:.4f}, Test Accuracy: {summary['test_acc_val_selected']:.4f}")


def test_within_session_evaluation_scores_eegnet_next_to_csp_lda(moabb, tmp_path):
    from mne.decoding import CSP
    from moabb.datasets.fake import FakeDataset
    from moabb.evaluations import WithinSessionEvaluation
    from moabb.paradigms import LeftRightImagery
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.pipeline import make_pipeline

    from eegclf.estimator import EEGClassifier

    dataset = FakeDataset(**{**FAKE, "n_sessions": 1, "n_runs": 1, "n_events": 30, "duration": 100})
    evaluation = WithinSessionEvaluation(paradigm=LeftRightImagery(resample=64), datasets=[dataset], n_splits=2,
                                         random_state=42, overwrite=True, hdf5_path=str(tmp_path), suffix="eegclf")
    pipelines = {"CSP+LDA": make_pipeline(CSP(n_components=2), LinearDiscriminantAnalysis()),
                 "eegclf EEGNet": make_pipeline(EEGClassifier(model="eegnet", epochs=2, batch_size=16, device="cpu"))}
    results = evaluation.process(pipelines)
    assert sorted(set(results["pipeline"])) == ["CSP+LDA", "eegclf EEGNet"]
    assert len(results) == 2 * 2  # two pipelines x two subjects, one session each
    scores = results["score"].to_numpy(dtype=float)
    assert np.all((0.0 <= scores) & (scores <= 1.0))


def test_run_split_and_within_subject_stay_inside_each_session(moabb, tmp_path):
    """Issue 24, point 7: FakeDataset's run numbers restart in each of its 2 sessions. run-split tests the last
    run of each session and trains on that session's other run only; within-subject folds inside each session
    (the same number per session), every trial of a session tested once; fold records name their session."""
    from eegclf.benchmark import make_spec, run_benchmark
    from eegclf.benchmark.folder import BenchmarkFolder
    from eegclf.benchmark.runner import load_pool
    from eegclf.config import RunConfig

    options = {"moabb_dataset": "FakeDataset", "dataset_args": FAKE, "paradigm": "LeftRightImagery",
               "subjects": [1, 2], "resample": 64}
    spec = make_spec("moabb", options, "run-split", ["csp_lda"], RunConfig())
    _, pool, folds = load_pool(spec)
    assert sorted(set(zip(pool.subjects, pool.sessions, pool.runs.tolist()))) == [
        (s, se, r) for s in ("1", "2") for se in ("0", "1") for r in (0, 1)]
    assert [(f.subject, f.session) for f in folds] == [("1", "0"), ("1", "1"), ("2", "0"), ("2", "1")]
    for f in folds:
        here = (pool.subjects == f.subject) & (pool.sessions == f.session)
        assert set(pool.sessions[f.train]) == set(pool.sessions[f.test]) == {f.session}  # never across sessions
        assert np.array_equal(f.test, np.flatnonzero(here & (pool.runs == 1)))  # the session's last run
        assert np.array_equal(f.train, np.flatnonzero(here & (pool.runs == 0)))  # its earlier run, all of it

    _, pool, folds = load_pool(dict(spec, protocol="within-subject"))
    for subject in ("1", "2"):
        mine = [f for f in folds if f.subject == subject]
        assert [f.index for f in mine] == list(range(10)) and [f.session for f in mine] == ["0"] * 5 + ["1"] * 5
        for session in ("0", "1"):
            here = [f for f in mine if f.session == session]
            for f in here:
                assert set(pool.sessions[f.train]) == set(pool.sessions[f.test]) == {session}
            tested = np.sort(np.concatenate([f.test for f in here]))
            assert np.array_equal(tested, np.flatnonzero((pool.subjects == subject) & (pool.sessions == session)))

    out = tmp_path / "B"
    run_benchmark(spec, out, jobs=1, progress=False)
    records = BenchmarkFolder(out).read_folds()
    assert [(r["subject"], r["session"], r["n_train"], r["n_test"]) for r in records] == [
        (s, se, 20, 20) for s in ("1", "2") for se in ("0", "1")]


def test_subject_folds_run_every_session_of_cross_subject_finetune(moabb, tmp_path):
    """Issue 34, defect 1: with --subject-folds under cross-subject-finetune, each of a person's sessions is its
    own fold (its own key and record), sharing the group's training; none is silently dropped."""
    from eegclf.benchmark import make_spec, run_benchmark
    from eegclf.benchmark.folder import BenchmarkFolder
    from eegclf.benchmark.runner import load_pool, with_subject_groups
    from eegclf.config import RunConfig

    options = {"moabb_dataset": "FakeDataset", "dataset_args": FAKE, "paradigm": "LeftRightImagery",
               "subjects": [1, 2], "resample": 64}
    spec = with_subject_groups(make_spec("moabb", options, "cross-subject-finetune", ["csp_lda"], RunConfig(),
                                         subject_folds=2))
    _, pool, folds = load_pool(spec)
    assert [(f.subject, f.session) for f in folds] == [("1", "0"), ("1", "1"), ("2", "0"), ("2", "1")]
    assert len({f.key for f in folds}) == len(folds)  # one key per (person, session): none overwrites another
    for f in folds:
        assert set(pool.subjects[f.train]) == {"1", "2"} - {f.subject}  # the other group trains
        here = (pool.subjects == f.subject) & (pool.sessions == f.session)
        assert set(np.flatnonzero(here)) == set(f.adapt) | set(f.test)  # this session calibrates and tests

    out = tmp_path / "B"
    run_benchmark(spec, out, jobs=1, progress=False)
    records = BenchmarkFolder(out).read_folds()
    assert sorted((r["subject"], r["session"]) for r in records) == [("1", "0"), ("1", "1"), ("2", "0"), ("2", "1")]
    from eegclf.reporting.benchmark.tables import BEST, summarize

    summary = summarize(BenchmarkFolder(out).read_spec(), records)  # the reference row keeps both sessions too
    for subject in ("1", "2"):
        n_test = sum(r["n_test"] for r in records if r["subject"] == subject)
        assert summary.per_subject["csp_lda"][subject]["n_test"] == n_test
        assert summary.per_subject[BEST][subject]["n_test"] == n_test
