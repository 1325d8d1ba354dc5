"""Kill a real training process with SIGKILL at a random epoch, resume it, and get the identical run."""

import random
import signal
import subprocess
import sys
import time

import pytest
from safetensors.torch import load_file

ARGS = ["--model", "eegnet", "--act", "elu", "--dataset", "synthetic", "--n-train", "96", "--n-test", "48",
        "--epochs", "30", "--batch-size", "16", "--seed", "3", "--quiet", "--threads", "1"]
# 64 channels: EEGNet trains on its spatial-first fast path there (eegclf.models.fast_paths)
FAST_ARGS = [*ARGS, "--n-chans", "64", "--n-times", "500"]


def _cli(*args, **kw):
    return subprocess.Popen([sys.executable, "-m", "eegclf", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def _epochs_done(run_dir) -> int:
    path = run_dir / "history.csv"
    try:
        return max(0, len(path.read_text().strip().splitlines()) - 1)
    except FileNotFoundError:
        return 0


def _wait_for_epoch(proc, run_dir, epoch: int, timeout: float = 240) -> None:
    t0 = time.time()
    while _epochs_done(run_dir) < epoch:
        assert proc.poll() is None, f"training ended early: {proc.stderr.read()}"
        assert time.time() - t0 < timeout, "training too slow"
        time.sleep(0.02)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "run"
    proc = _cli("train", *ARGS, "--out", out)
    assert proc.wait(timeout=600) == 0, proc.stderr.read()
    return out


def _assert_same_run(a, b):
    assert (a / "history.csv").read_bytes() == (b / "history.csv").read_bytes()
    for name in ("last.safetensors", "best.safetensors"):
        ta, tb = load_file(a / name), load_file(b / name)
        assert ta.keys() == tb.keys()
        for k in ta:
            assert (ta[k] == tb[k]).all(), (name, k)


@pytest.fixture(scope="module")
def fast_reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("fast") / "run"
    proc = _cli("train", *FAST_ARGS, "--out", out)
    assert proc.wait(timeout=600) == 0, proc.stderr.read()
    assert '"compute_path": "spatial-first"' in (out / "summary.json").read_text()
    return out


@pytest.mark.parametrize("path", ["reference", "fast"])
def test_sigkill_then_resume_gives_identical_history_and_weights(path, request, tmp_path):
    reference = request.getfixturevalue("reference" if path == "reference" else "fast_reference")
    args = ARGS if path == "reference" else FAST_ARGS
    run = tmp_path / "run"
    kill_after = random.Random().randint(1, 6)  # a random epoch, different in every CI run
    proc = _cli("train", *args, "--out", run)
    _wait_for_epoch(proc, run, kill_after)
    time.sleep(random.random() * 0.1)  # land anywhere inside the next epochs (or their writes); 24+ remain
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (run / "summary.json").exists()
    resumed = _cli("train", "--resume", run)
    out, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err
    _assert_same_run(reference, run)
    assert not list(run.glob(".*.tmp")), "a temporary file was left behind"


def test_sigint_stops_cleanly_and_resumes(reference, tmp_path):
    run = tmp_path / "run"
    proc = _cli("train", *ARGS, "--out", run)
    _wait_for_epoch(proc, run, 2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert "Traceback" not in err and "--resume" in err
    resumed = _cli("train", "--resume", run)
    assert resumed.wait(timeout=600) == 0, resumed.stderr.read()
    _assert_same_run(reference, run)


def test_resume_of_a_finished_run_changes_nothing(reference):
    before = (reference / "history.csv").read_bytes()
    proc = _cli("train", "--resume", reference)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and "complete" in out
    assert (reference / "history.csv").read_bytes() == before
