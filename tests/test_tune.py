"""eegclf tune: workers sharing one Optuna study on a real PostgreSQL server, a killed worker, the SQLite
default end to end (report included), the surplus rule, honest objective, and one-line errors.

The PostgreSQL tests use $EEGCLF_TEST_PG_URL when set, else a throw-away cluster (tests/pg.py); without
PostgreSQL binaries they fail under CI=true and are skipped elsewhere.
"""

import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest

optuna = pytest.importorskip("optuna")
from optuna.trial import TrialState  # noqa: E402

import pg  # noqa: E402  (tests/pg.py)
from eegclf.cli import main  # noqa: E402
from eegclf.config import RunConfig  # noqa: E402
from eegclf.errors import ConfigError  # noqa: E402
from eegclf.tuning import SearchSpace, open_study, study_settings, tune  # noqa: E402
from eegclf.tuning.storage import open_storage  # noqa: E402
from eegclf.tuning.worker import _is_surplus, objective_value  # noqa: E402

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
DATA = ["--dataset", "synthetic", "--n-train", "128", "--n-test", "32", "--threads", "1"]
HOST = socket.gethostname()


@pytest.fixture(scope="session")
def pg_url():
    """A PostgreSQL URL: $EEGCLF_TEST_PG_URL, else a throw-away local cluster for this session."""
    url = os.environ.get("EEGCLF_TEST_PG_URL")
    if url:
        yield url
        return
    reason = pg.missing_reason()
    if reason:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    with pg.temporary_cluster() as url:
        yield url


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"  # a shared $EEGCLF_TEST_PG_URL may hold earlier studies


# python -c HOOKED HOOK ARG ARGS...: `eegclf ARGS` with a test's hook in its trials, so that what the tests need
# happens at a counted place rather than a moment (no test may depend on the load of the machine):
# meet ARG=FOLDER: each worker's first trial waits until another worker is inside a trial too (both work);
# die: the worker SIGKILLs itself inside its first trial, right after the first epoch's report is stored.
HOOKED = """
import os, signal, sys, time
from pathlib import Path
import optuna
import eegclf.tuning.worker as w
hook, arg, objective, report = sys.argv[1], sys.argv[2], w.objective_value, optuna.trial.Trial.report

def meet(config, dataset, trial):
    (Path(arg) / str(os.getpid())).touch()
    for _ in range(60_000):  # a guard against a hang (10 minutes), not a timing condition
        if len(list(Path(arg).iterdir())) >= 2:
            return objective(config, dataset, trial)
        time.sleep(0.01)
    raise RuntimeError("no other worker started a trial")

def report_and_die(self, value, step):
    report(self, value, step)
    os.kill(os.getpid(), signal.SIGKILL)

if hook == "meet":
    w.objective_value = meet
elif hook == "die":
    optuna.trial.Trial.report = report_and_die
from eegclf.cli import main
sys.exit(main(sys.argv[3:]))
"""


def worker(url: str, study: str, out: Path, *extra: str, hook: tuple[str, str] | None = None) -> subprocess.Popen:
    """Start one `eegclf tune` worker process (no finalize), with ``hook`` (see HOOKED) if given."""
    start = [sys.executable, "-c", HOOKED, *hook] if hook else [sys.executable, "-m", "eegclf"]
    cmd = [*start, "tune", "--model", "EEGNet", *DATA, "--storage", url, "--study", study,
           "--out", str(out), "--no-finalize", *extra]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def finish(*procs: subprocess.Popen, timeout: float = 600) -> list[tuple[str, str]]:
    """Wait for worker processes; any still running after ``timeout`` s (a hang) is killed, and the test fails."""
    try:
        return [p.communicate(timeout=timeout) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.communicate()


def load_trials(url: str, study: str) -> dict:
    """Trial number -> FrozenTrial of the study, read afresh from the storage."""
    s = optuna.load_study(study_name=study, storage=open_storage(url))
    return {t.number: t for t in s.get_trials()}


def ran_by(stderr: str) -> list[int]:
    """Trial numbers a worker's log says it finished."""
    return [int(n) for n in re.findall(r"tune: trial (\d+) (?:complete|pruned):", stderr)]


def test_two_workers_finish_one_postgres_study(pg_url, tmp_path):
    n, name = 6, unique("two")
    (tmp_path / "meet").mkdir()
    procs = [worker(pg_url, name, tmp_path / f"w{i}", "--trials", str(n), "--epochs-range", "4:8",
                    "--pruner", "none", "--heartbeat", "5", hook=("meet", str(tmp_path / "meet"))) for i in range(2)]
    outs = finish(*procs)
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err

    trials = load_trials(pg_url, name)
    done = [t for t in trials.values() if t.state in FINISHED]
    assert len(done) == n  # exactly N, none lost, none extra
    assert not [t for t in trials.values() if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    # any failed trial is a surplus one (closed unrun when both raced for the last trial), never a lost one
    assert all(t.user_attrs.get("surplus") and not t.params for t in trials.values() if t.state == TrialState.FAIL)
    logged = [ran_by(err) for _, err in outs]
    assert all(logged), f"each worker must run some trials: {logged}"
    assert sorted(sum(logged, [])) == sorted(t.number for t in done)  # no trial run twice
    assert {t.user_attrs["worker"] for t in done} == {f"{HOST}:{p.pid}" for p in procs}
    for t in done:
        assert t.user_attrs["worker"] == f"{HOST}:{procs[0 if t.number in logged[0] else 1].pid}"
        assert 0.0 <= t.value <= 1.0 and set(t.params) == {"lr", "weight_decay", "dropout", "batch_size",
                                                           "activation", "epochs"}


def test_killed_worker_leaves_the_study_usable(pg_url, tmp_path):
    n, name = 2, unique("kill")
    args = ("--trials", str(n), "--epochs", "10", "--n-train", "64", "--pruner", "none", "--heartbeat", "1",
            "--retries", "1")
    a = worker(pg_url, name, tmp_path / "a", *args, hook=("die", "-"))  # dies inside its first trial
    [(_, err)] = finish(a)
    assert a.returncode == -signal.SIGKILL, err
    at_kill = load_trials(pg_url, name)
    [victim] = [t for t in at_kill.values() if t.state == TrialState.RUNNING]
    assert list(victim.intermediate_values) == [1]  # killed mid-trial, after its first epoch
    done_by_a = {k for k, t in at_kill.items() if t.state in FINISHED}

    b = worker(pg_url, name, tmp_path / "b", *args)
    [(_, err)] = finish(b)
    assert b.returncode == 0, err
    trials = load_trials(pg_url, name)
    assert trials[victim.number].state == TrialState.FAIL  # its heartbeat stopped: failed ...
    retries = [t for t in trials.values() if t.system_attrs.get("failed_trial") == victim.number]
    assert len(retries) == 1  # ... and queued again once, with the same parameters
    assert retries[0].state == TrialState.COMPLETE and retries[0].params == victim.params
    done = [t for t in trials.values() if t.state in FINISHED]
    assert len(done) == n
    assert {t.user_attrs["worker"] for t in done if t.number not in done_by_a} == {f"{HOST}:{b.pid}"}
    assert sorted(ran_by(err)) == sorted(t.number for t in done if t.number not in done_by_a)


def test_sqlite_default_end_to_end_with_report(tmp_path, capsys):
    out = tmp_path / "tune"
    rc = main(["tune", "--model", "EEGNet", "--dataset", "synthetic", "--n-train", "64", "--n-test", "32",
               "--trials", "3", "--epochs-range", "1:2", "--pruner", "none", "--seeds", "2", "--jobs", "2",
               "--threads", "1", "--out", str(out), "--quiet"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert (out / "tune.db").is_file()  # the default storage: a SQLite file, no server

    study = optuna.load_study(study_name="eegnet-synthetic", storage=f"sqlite:///{out / 'tune.db'}")
    trials = study.get_trials()
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 3
    result = json.loads((out / "tune_result.json").read_text())
    assert result["trials"]["finished"] == 3
    best = max(trials, key=lambda t: t.value)
    assert result["best_val_acc"] == best.value and result["best_params"] == study.best_trial.params

    # the best setting was retrained over 2 seeds through the compare machinery, test measured there
    finals = sorted((out / "final" / "runs").glob("*/summary.json"))
    assert len(finals) == 2
    configs = [json.loads((p.parent / "config.json").read_text()) for p in finals]
    for cfg in configs:
        assert {k: cfg[k] for k in result["best_params"]} == result["best_params"]
    assert sorted(c["seed"] for c in configs) == [0, 1]
    tests = [json.loads(p.read_text())["test_acc_val_selected"] for p in finals]
    assert result["final"]["test_acc_val_selected"] == pytest.approx(tests)  # seed order, both
    assert result["final"]["mean"] == pytest.approx(np.mean(tests))
    assert result["final"]["std"] == pytest.approx(np.std(tests, ddof=1))

    report = (out / "tune_report.md").read_text()
    for heading in ("## Best setting", "## Test accuracy of the best setting", "## Trial history",
                    "## Parameter importances"):
        assert heading in report
    assert f"{100 * result['final']['mean']:.2f} ± {100 * result['final']['std']:.2f} %" in report
    assert f"Trial {best.number}: validation accuracy {100 * best.value:.2f} %" in report
    png = out / "figures" / "tune_history.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and "](figures/tune_history.png)" in report
    if result["importances"]:  # three trials may or may not suffice; either way the report says so
        assert math.isclose(sum(result["importances"].values()), 1.0, rel_tol=1e-6)
    else:
        assert "Not available: " in report
    assert f"report: {out / 'tune_report.md'}" in captured.out

    # --finalize alone: the study's recorded settings suffice; the finished final runs are reused
    (out / "tune_report.md").unlink()
    mtimes = [p.stat().st_mtime_ns for p in finals]
    assert main(["tune", "--finalize", "--out", str(out), "--seeds", "2", "--quiet"]) == 0
    assert "## Best setting" in (out / "tune_report.md").read_text()
    assert [p.stat().st_mtime_ns for p in finals] == mtimes
    assert main(["tune", "--finalize", "--out", str(tmp_path / "elsewhere")]) == 2
    assert "no study storage at sqlite:///" in capsys.readouterr().err


def test_surplus_rule_lets_at_most_n_trials_run(tmp_path):
    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 's.db'}", direction="maximize")
    t0, t1, t2 = study.ask(), study.ask(), study.ask()  # three racing workers, two trials wanted
    assert [_is_surplus(study, t.number, 2) for t in (t0, t1, t2)] == [False, False, True]
    study.tell(t0, state=TrialState.FAIL)  # a worker died: its place is free again
    assert not _is_surplus(study, t2.number, 2)
    study.tell(t1, 0.5)
    assert _is_surplus(study, study.ask().number, 2)


def test_the_objective_never_sees_the_test_part():
    """The search trains on the training part only: a test part of NaNs cannot disturb it."""
    from eegclf.data import load_dataset

    data = load_dataset("synthetic", n_train=64, n_test=32)
    data.test.X[:] = np.nan

    class Trial:  # the two calls fit's callback makes on an optuna trial
        reported = []

        def report(self, value, step):
            self.reported.append((step, value))

        def should_prune(self):
            return False

    value, summary = objective_value(RunConfig(model="eegnet", epochs=2, batch_size=32, threads=1), data, Trial())
    assert [s for s, _ in Trial.reported] == [1, 2]
    assert value == max(v for _, v in Trial.reported) == summary["val_acc_selected"]


def test_a_worker_with_other_settings_is_refused(tmp_path):
    url = f"sqlite:///{tmp_path / 't.db'}"
    base, space = RunConfig(model="eegnet", dataset="synthetic", dataset_options={"n_train": 64}), SearchSpace()
    study = open_study(url, "s")
    study.set_user_attr("eegclf", study_settings(base, space))
    other = RunConfig(model="eegnet", dataset="synthetic", dataset_options={"n_train": 128})
    with pytest.raises(ConfigError, match="n_train"):
        tune(other, space, 2, tmp_path, storage=url, study_name="s")
    with pytest.raises(ConfigError, match="epochs"):
        tune(base, SearchSpace(epochs=(1, 5)), 2, tmp_path, storage=url, study_name="s")


def test_cli_fixes_a_searched_parameter_when_its_flag_is_given():
    from eegclf.cli import build_parser
    from eegclf.cli.tune import search_space

    args = build_parser().parse_args(["tune", "--trials", "2", "--lr", "0.003", "--epochs-range", "5:9",
                                      "--acts", "elu,relu", "--batch-sizes", "8,16"])
    space = search_space(args)
    assert space.lr == (0.003, 0.003) and space.epochs == (5, 9)
    assert space.activation == ("elu", "relu") and space.batch_size == (8, 16)
    assert ("lr", "fixed: 0.003") in space.describe()


@pytest.mark.parametrize("storage, expected", [
    ("not a url", "is not a database URL"),
    ("foo://host/db", "unknown database kind 'foo'"),
    ("postgresql://nobody:pw@127.0.0.1:{port}/none", "cannot open the study storage postgresql://nobody:***@"),
])
def test_storage_errors_are_one_line(storage, expected, tmp_path, capsys):
    storage = storage.format(port=pg.free_port())  # nothing listens there
    rc = main(["tune", "--trials", "1", "--storage", storage, "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith("eegclf: error: ") and err.count("\n") == 1, err
    assert expected in err and "pw@" not in err


def test_bad_data_options_fail_before_the_study_records_them(tmp_path, capsys):
    out = tmp_path / "t"
    assert main(["tune", "--trials", "1", "--difficulty", "5", "--out", str(out)]) == 2
    assert "difficulty" in capsys.readouterr().err
    assert optuna.get_all_study_names(f"sqlite:///{out / 'tune.db'}") == []  # fixing the flag just works
