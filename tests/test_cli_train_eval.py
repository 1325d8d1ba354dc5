"""train/eval through the command line, including the one-line errors users see."""

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from eegclf.cli import main

SMALL = ["--dataset", "synthetic", "--n-train", "96", "--n-test", "64"]


def run_cli(*args) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    return subprocess.run([sys.executable, "-m", "eegclf", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=300)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run") / "R"
    assert main(["train", "--model", "EEGNet", "--act", "elu", "--epochs", "3", "--batch-size", "32",
                 *SMALL, "--out", str(out), "--quiet"]) == 0
    return out


def assert_one_line_error(proc: subprocess.CompletedProcess, *words: str) -> None:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    for w in words:
        assert w in lines[0], lines[0]


def test_train_writes_the_run_folder(trained):
    for name in ("config.json", "history.csv", "best.safetensors", "last.safetensors", "summary.json"):
        assert (trained / name).is_file(), name
    cfg = json.loads((trained / "config.json").read_text())
    assert cfg["model"] == "eegnet" and cfg["epochs"] == 3 and cfg["dataset_options"]["n_train"] == 96


def test_eval_prints_listing_and_study_line_equal_to_summary(trained):
    proc = run_cli("eval", "--checkpoint", trained / "best.safetensors", "--model", "eegnet", "--act", "elu")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((trained / "summary.json").read_text())
    lines = proc.stdout.strip().splitlines()
    assert lines[0].startswith("EEGNet(")
    assert lines[-1] == f"Test Loss: {summary['test_loss_val_selected']:.4f}, " \
                        f"Test Accuracy: {summary['test_acc_val_selected']:.4f}"


def test_eval_refuses_contradicting_activation(trained):
    assert_one_line_error(run_cli("eval", "--checkpoint", trained / "best.safetensors", "--act", "relu"),
                          "relu", "elu")


def test_eval_refuses_truncated_checkpoint(trained, tmp_path):
    bad = tmp_path / "trunc.safetensors"
    data = (trained / "best.safetensors").read_bytes()
    bad.write_bytes(data[: len(data) // 2])
    assert_one_line_error(run_cli("eval", "--checkpoint", bad), str(bad), "corrupt")


def test_eval_refuses_other_data_shape(trained, eegmmidb_root):
    # the data root from the fixture: not ../shared/data, which only exists relative to the repository
    proc = run_cli("eval", "--checkpoint", trained / "best.safetensors", "--dataset", "eegmmidb",
                   "--data-dir", eegmmidb_root)
    # issue 30: the check names what differs (it compared shapes only)
    assert_one_line_error(proc, "does not fit the data", "sampling rate (125 Hz against the data's 160 Hz)")


def test_eval_refuses_missing_file(tmp_path):
    missing = tmp_path / "nope.safetensors"
    assert_one_line_error(run_cli("eval", "--checkpoint", missing), str(missing), "does not exist")


class _Boom:
    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_eval_never_unpickles(tmp_path):
    marker = tmp_path / "pwned"
    _Boom.marker = marker
    evil = tmp_path / "best-leaky_relu-EEGNet.pth"
    evil.write_bytes(pickle.dumps(_Boom()))
    assert_one_line_error(run_cli("eval", "--checkpoint", evil), "pickle")
    renamed = tmp_path / "evil.safetensors"
    renamed.write_bytes(evil.read_bytes())
    assert_one_line_error(run_cli("eval", "--checkpoint", renamed))
    assert not marker.exists()


def test_train_rejects_bad_values_without_leaving_a_run(tmp_path):
    for flag, value in (("--epochs", 0), ("--lr", -1), ("--batch-size", 0)):
        out = tmp_path / f"bad{flag}"
        proc = run_cli("train", *SMALL, "--epochs", 1, flag, value, "--out", out)
        assert_one_line_error(proc, flag.lstrip("-").replace("-", "_"))
        assert not out.exists()


def test_unknown_names_list_the_valid_ones(tmp_path):
    assert_one_line_error(run_cli("train", *SMALL, "--model", "resnet", "--out", tmp_path / "x"), "eegnet")
    assert_one_line_error(run_cli("train", *SMALL, "--act", "tanhh", "--out", tmp_path / "y"), "leaky_relu")
    assert_one_line_error(run_cli("train", "--dataset", "mnist", "--out", tmp_path / "z"), "synthetic")
