"""The study grid: parallel runs, resumption, failures, and the kill-and-resume path through the CLI.

Most tests swap the trainer for a fake one (study.RUNNER) so they test the grid, not training; the last
trains a tiny real study through `eegclf compare`, kills it halfway and runs it again.
"""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from eegclf import study
from eegclf.config import RunConfig
from eegclf.errors import ConfigError
from eegclf.reporting import build_report

FAKE_RUNNER = '''
import os, time
from pathlib import Path

from eegclf.storage.rundir import RunDir

def _meet_another_worker():
    """With $FAKE_STUDY_BARRIER (a folder): wait until a second worker process has started a run too, so that
    two processes run the grid whatever their start-up times (no worker can drain the queue alone)."""
    folder = os.environ.get("FAKE_STUDY_BARRIER")
    if not folder:
        return
    (Path(folder) / str(os.getpid())).touch()
    for _ in range(60_000):  # a guard against a hang (10 minutes), not a timing condition
        if len(list(Path(folder).iterdir())) >= 2:
            return
        time.sleep(0.01)
    raise RuntimeError("no second worker process started a run")

def run(config, run_dir, progress=None):
    """Write what run_training writes, with numbers made from the run's name; fail where asked."""
    run_dir = RunDir(run_dir).create()
    run_dir.write_config(config.to_dict())
    name = f"{config.model}-{config.activation}-seed{config.seed}"
    _meet_another_worker()
    if name in config.model_kwargs.get("fail", []):
        raise RuntimeError(f"planned failure of {name}")
    acc = 0.6 + 0.01 * config.seed + 0.05 * len(config.activation) / 10
    run_dir.write_history([dict(epoch=e, train_loss=0.5, train_acc=acc + 0.01 * e, val_loss=0.6, val_acc=acc,
                                test_loss=0.6, test_acc=acc) for e in range(1, config.epochs + 1)])
    summary = {"model": config.model, "activation": config.activation, "dataset": config.dataset,
               "seed": config.seed, "epochs": config.epochs, "n_params": 1, "selected_epoch": 1,
               "val_acc_selected": acc, "test_acc_val_selected": acc, "test_loss_val_selected": 0.6,
               "test_acc_last": acc, "test_loss_last": 0.6, "lab_best_epoch": 1,
               "test_acc_lab_best_epoch": acc, "seconds": 0.0, "threads": config.threads, "pid": os.getpid()}
    run_dir.write_summary(summary)
    return summary
'''


@pytest.fixture
def fake_runner(tmp_path, monkeypatch):
    """Make the workers call a fake trainer (a module on sys.path, which spawned workers inherit)."""
    mod_dir = tmp_path / "fake_mod"
    mod_dir.mkdir()
    (mod_dir / "fake_trainer.py").write_text(FAKE_RUNNER)
    monkeypatch.syspath_prepend(str(mod_dir))
    monkeypatch.setattr(study, "RUNNER", "fake_trainer:run")


def summaries(out: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in sorted((out / "runs").glob("*/summary.json"))}


def test_grid_runs_every_combination_in_parallel_processes(fake_runner, tmp_path, capsys, monkeypatch):
    out = tmp_path / "study"
    (tmp_path / "barrier").mkdir()
    monkeypatch.setenv("FAKE_STUDY_BARRIER", str(tmp_path / "barrier"))  # spawned workers inherit it
    base = RunConfig(epochs=3, threads=None)
    report = study.run_study(base, ["EEGNet", "DeepConvNet", "CSP_LDA"], ["relu", "LeakyReLU"], 2, out,
                             jobs=2, progress=False, report=build_report)
    runs = summaries(out)
    expected = {f"{m}-{a}-seed{s}" for m in ("eegnet", "deepconvnet") for a in ("relu", "leaky_relu")
                for s in (0, 1)} | {"csp_lda---seed0", "csp_lda---seed1"}
    assert set(runs) == expected
    assert len({r["pid"] for r in runs.values()}) >= 2 and os.getpid() not in {r["pid"] for r in runs.values()}
    assert {r["threads"] for r in runs.values()} == {max(1, study.available_cores() // 2)}
    spec = json.loads((out / "study.json").read_text())
    assert spec["models"] == ["eegnet", "deepconvnet", "csp_lda"]
    assert spec["activations"] == ["relu", "leaky_relu"] and spec["seeds"] == [0, 1]
    assert spec["settings"]["epochs"] == 3 and "seed" not in spec["settings"]
    assert report == out / "report.md" and report.is_file()
    assert (out / "results.md").is_file() and not (out / "errors.log").exists()
    assert "0 already complete" in capsys.readouterr().err


def test_resume_skips_finished_runs_and_restarts_unfinished_ones(fake_runner, tmp_path, capsys):
    out = tmp_path / "study"
    base = RunConfig(epochs=2)
    study.run_study(base, ["eegnet"], ["relu", "elu"], [0, 1], out, jobs=2, progress=False)
    kept = out / "runs" / "eegnet-relu-seed0" / "summary.json"
    kept_stat, kept_text = kept.stat().st_mtime_ns, kept.read_text()
    interrupted = out / "runs" / "eegnet-elu-seed1"
    (interrupted / "summary.json").unlink()
    (interrupted / "leftover.tmp").write_text("half-written")
    capsys.readouterr()
    study.run_study(base, ["eegnet"], ["relu", "elu"], [0, 1], out, jobs=1, progress=False)
    assert "3 already complete (skipped); running 1 in 1 process" in capsys.readouterr().err
    assert kept.stat().st_mtime_ns == kept_stat and kept.read_text() == kept_text
    assert (interrupted / "summary.json").is_file() and not (interrupted / "leftover.tmp").exists()
    assert len(summaries(out)) == 4


def test_failed_run_does_not_stop_the_others(fake_runner, tmp_path):
    out = tmp_path / "study"
    base = RunConfig(epochs=2, model_kwargs={"fail": ["eegnet-elu-seed0"]})
    with pytest.raises(study.StudyError, match=r"1 of 4 runs failed \(first: eegnet-elu-seed0: RuntimeError: "
                                               r"planned failure"):
        study.run_study(base, ["eegnet"], ["relu", "elu"], 2, out, jobs=2, progress=False, report=build_report)
    assert set(summaries(out)) == {"eegnet-relu-seed0", "eegnet-relu-seed1", "eegnet-elu-seed1"}
    assert "planned failure of eegnet-elu-seed0" in (out / "errors.log").read_text()
    assert (out / "results.md").is_file()  # the report covers the runs that finished


def test_bad_names_and_changed_settings_are_refused_before_running(fake_runner, tmp_path):
    out = tmp_path / "study"
    with pytest.raises(ConfigError, match="unknown model 'nonet'"):
        study.run_study(RunConfig(epochs=1), ["nonet"], ["relu"], 1, out)
    with pytest.raises(ConfigError, match="unknown activation 'tanhh'"):
        study.run_study(RunConfig(epochs=1), ["eegnet"], ["tanhh"], 1, out)
    assert not out.exists()
    study.run_study(RunConfig(epochs=1), ["eegnet"], ["relu"], 1, out, jobs=1, progress=False)
    with pytest.raises(ConfigError, match=r"other settings \(epochs: 1 -> 2\)"):
        study.run_study(RunConfig(epochs=2), ["eegnet"], ["relu"], 1, out, jobs=1, progress=False)


def test_cli_compare_defaults_give_12_runs_6_rows_and_report_reproduces_them(fake_runner, tmp_path):
    from eegclf.cli import main

    out = tmp_path / "D"
    assert main(["compare", "--dataset", "synthetic", "--epochs", "5", "--seeds", "2", "--quiet",
                 "--out", str(out)]) == 0
    assert len(summaries(out)) == 12
    md = (out / "results.md").read_bytes()
    assert len([line for line in md.decode().splitlines() if line.startswith("| ")]) == 1 + 6  # header + rows
    (out / "results.md").unlink()
    assert main(["report", str(out)]) == 0
    assert (out / "results.md").read_bytes() == md


def _compare(out: Path, jobs: int) -> list[str]:
    """A small real study through the CLI: 3 activations x 2 seeds of EEGNet, 2 epochs, 32 trials."""
    return [sys.executable, "-m", "eegclf", "compare", "--dataset", "synthetic", "--models", "EEGNet",
            "--epochs", "2", "--seeds", "2", "--n-train", "32", "--n-test", "32", "--jobs", str(jobs), "--quiet",
            "--out", str(out)]


# the real trainer, except that once a run is complete, the next one kills the whole study (the command and
# its worker) inside its third write: a counted place, the same on every machine and under any load
KILLING_RUNNER = '''
import os, signal
from pathlib import Path
from eegclf.study import train_with_cached_data

def run(config, run_dir, progress=False):
    if list(Path(run_dir).parent.glob("*/summary.json")):
        replace, writes = os.replace, [0]
        def killing_replace(src, dst):
            writes[0] += 1
            if writes[0] == 3:
                os.killpg(os.getpgid(0), signal.SIGKILL)
            return replace(src, dst)
        os.replace = killing_replace
    return train_with_cached_data(config, run_dir, progress)
'''


def test_killed_compare_resumes_only_the_missing_runs(tmp_path):
    out = tmp_path / "D"
    (tmp_path / "mod").mkdir()
    (tmp_path / "mod" / "killing_trainer.py").write_text(KILLING_RUNNER)
    path = os.pathsep.join(p for p in (str(tmp_path / "mod"), os.environ.get("PYTHONPATH")) if p)
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=path)
    compare = ["import sys, eegclf.study; eegclf.study.RUNNER = 'killing_trainer:run'; from eegclf.cli import main; "
               "sys.exit(main(sys.argv[1:]))", *_compare(out, jobs=1)[3:]]
    killed = subprocess.run([sys.executable, "-c", *compare], env=env, capture_output=True, text=True,
                            timeout=600, start_new_session=True)  # its own process group: what it kills
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    done = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.glob("runs/*/summary.json")}
    assert len(done) == 1
    assert len(list(out.glob("runs/*/.*.tmp"))) == 1  # the second run died inside a write

    result = subprocess.run(_compare(out, jobs=2), env=env, capture_output=True, text=True, timeout=400)
    assert result.returncode == 0, result.stderr
    assert f"6 runs in {out}; {len(done)} already complete (skipped); running {6 - len(done)}" in result.stderr
    assert f"removed 1 temporary file left by a dead writer in {out}: runs/" in result.stderr
    for p, (mtime, data) in done.items():
        assert p.stat().st_mtime_ns == mtime and p.read_bytes() == data
    runs = summaries(out)
    assert sorted(runs) == [f"eegnet-{a}-seed{s}" for a in ("elu", "leaky_relu", "relu") for s in (0, 1)]
    for name, summary in runs.items():
        assert summary["epochs"] == 2 and summary["seed"] == int(name[-1]) and summary["model"] == "eegnet"
        assert len((out / "runs" / name / "history.csv").read_text().strip().splitlines()) == 1 + 2
    assert not list(out.rglob("*.tmp"))
    rows = [line for line in (out / "results.md").read_text().splitlines() if line.startswith("| EEGNet")]
    assert len(rows) == 3
    for name in ("accuracy_eegnet", "loss_eegnet", "test_accuracy", "filters_eegnet"):
        assert (out / "figures" / f"{name}.png").stat().st_size > 10_000


def test_expensive_runs_start_first():
    """The grid is started longest first (by forward FLOPs), grid order kept within a model."""
    grid = study.expand_grid(RunConfig(), ["csp_lda", "EEGNet", "DeepConvNet"], ["relu", "elu"], 2)
    order = [g.name for g in study._longest_first(grid)]
    assert [n.split("-")[0] for n in order] == ["deepconvnet"] * 4 + ["eegnet"] * 4 + ["csp_lda"] * 2
    assert order[:4] == [g.name for g in grid if g.config.model == "deepconvnet"]
