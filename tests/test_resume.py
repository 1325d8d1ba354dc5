"""Kill a real training process mid-epoch (SIGKILL, or SIGINT as Ctrl-C), resume it, and get the identical run.

The signal comes at a counted place, never at a moment: the process sends it to itself from inside its Nth
loss computation (after that batch's forward pass, before its backward), so the test kills at the same place
on every machine and under any load. Kills inside and between the writes: tests/test_kill_at_every_write.py.
"""

import signal
import subprocess
import sys

import pytest
from safetensors.torch import load_file

ARGS = ["--model", "eegnet", "--act", "elu", "--dataset", "synthetic", "--n-train", "96", "--n-test", "48",
        "--epochs", "30", "--batch-size", "16", "--seed", "3", "--quiet", "--threads", "1"]
# 64 channels: EEGNet trains on its spatial-first fast path there (eegclf.models.fast_paths)
FAST_ARGS = [*ARGS, "--n-chans", "64", "--n-times", "500"]

# python -c SIGNAL_AT SIG N ARGS...: `eegclf ARGS` that sends itself SIG in its Nth cross-entropy call
SIGNAL_AT = """
import os, signal, sys
import torch.nn.functional as F
sig, at, loss, calls = getattr(signal, sys.argv[1]), int(sys.argv[2]), F.cross_entropy, [0]
def counted(*args, **kwargs):
    calls[0] += 1
    if calls[0] == at:
        os.kill(os.getpid(), sig)
    return loss(*args, **kwargs)
F.cross_entropy = counted
# Python leaves SIGINT ignored when it starts ignored (a suite run in the background, `cmd &` in a script):
# install its Ctrl-C handler, as an interactive terminal has it
signal.signal(signal.SIGINT, signal.default_int_handler)
from eegclf.cli import main
sys.exit(main(sys.argv[3:]))
"""


def _cli(*args, **kw):
    return subprocess.Popen([sys.executable, "-m", "eegclf", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def _signalled_cli(sig: str, at: int, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", SIGNAL_AT, sig, str(at), *map(str, args)], capture_output=True,
                          text=True, timeout=600)


def _epochs_done(run_dir) -> int:
    return max(0, len((run_dir / "history.csv").read_text().strip().splitlines()) - 1)


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


@pytest.mark.parametrize("path,at", [("reference", 40), ("fast", 25)])  # a few epochs in, mid-epoch
def test_sigkill_then_resume_gives_identical_history_and_weights(path, at, request, tmp_path):
    reference = request.getfixturevalue("reference" if path == "reference" else "fast_reference")
    args = ARGS if path == "reference" else FAST_ARGS
    run = tmp_path / "run"
    killed = _signalled_cli("SIGKILL", at, "train", *args, "--out", run)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert not (run / "summary.json").exists() and 1 <= _epochs_done(run) < 30
    resumed = _cli("train", "--resume", run)
    out, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err
    _assert_same_run(reference, run)
    assert not list(run.glob(".*.tmp")), "a temporary file was left behind"


def test_sigint_stops_cleanly_and_resumes(reference, tmp_path):
    run = tmp_path / "run"
    proc = _signalled_cli("SIGINT", 20, "train", *ARGS, "--out", run)  # as Ctrl-C, a few epochs in
    assert proc.returncode == 130, proc.stderr
    assert "Traceback" not in proc.stderr and "--resume" in proc.stderr
    assert 1 <= _epochs_done(run) < 30
    resumed = _cli("train", "--resume", run)
    assert resumed.wait(timeout=600) == 0, resumed.stderr.read()
    _assert_same_run(reference, run)


def test_resume_of_a_finished_run_changes_nothing(reference):
    before = (reference / "history.csv").read_bytes()
    proc = _cli("train", "--resume", reference)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and "complete" in out
    assert (reference / "history.csv").read_bytes() == before
