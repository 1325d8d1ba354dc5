"""A run killed at any write, inside one or between two, resumes to the uninterrupted run and leaves no debris.

tests/kill_points.py kills the training process (SIGKILL, from inside it) just before and just after the rename
of each of its atomic writes in turn, then resumes it. The kill points are counted writes, never moments, so
the test kills at the same places on every machine and under any load.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors.torch import load_file

DRIVER = Path(__file__).with_name("kill_points.py")
# tiny and quick: every kill point costs a partial run and its resume
TRAIN = ["--model", "eegnet", "--act", "elu", "--dataset", "synthetic", "--n-train", "32", "--n-test", "16",
         "--n-times", "250", "--epochs", "3", "--batch-size", "16", "--seed", "3", "--quiet", "--threads", "1"]


def _weights(path):
    return load_file(path)


def _assert_same_run(ref: Path, run: Path) -> None:
    assert (run / "history.csv").read_bytes() == (ref / "history.csv").read_bytes(), run.name
    assert (run / "summary.json").is_file(), run.name
    for name in ("best.safetensors", "last.safetensors"):
        a, b = _weights(ref / name), _weights(run / name)
        assert a.keys() == b.keys()
        for k in a:
            assert (a[k] == b[k]).all(), (run.name, name, k)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the driver forks (POSIX)")
def test_a_run_killed_at_every_write_resumes_identical_and_clean(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")  # no thread pool to inherit across fork
    proc = subprocess.run([sys.executable, str(DRIVER), str(tmp_path), "--", *TRAIN], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    points = [json.loads(line) for line in proc.stdout.splitlines()]
    assert points[0] == {"point": "ref", "code": 0}, (tmp_path / "logs" / "ref.log").read_text()
    end = points[-1]
    assert end["point"] == "end" and end["code"] == 0
    # config, then per epoch last + history + state (+ best when it improved), then the summary
    assert end["writes"] >= 1 + 3 * 3 + 1
    killed = points[1:-1]
    assert len(killed) == 2 * end["writes"]
    ref = tmp_path / "ref"
    for p in killed:
        run = tmp_path / p["point"]
        assert p["code"] == 0, (p["point"], p["log"])
        temps = [n for n in p["left"] if n.endswith(".tmp")]
        if p["point"].startswith("before"):  # killed inside the write: its temp file was left ...
            assert len(temps) == 1, p
            assert f"removed 1 temporary file left by a dead writer in {run}: {temps[0]}" in p["log"], p["log"]
        else:
            assert temps == [], p
        _assert_same_run(ref, run)
        assert not [q.name for q in run.iterdir() if q.name.endswith(".tmp")], f"{run.name} keeps a temp file"
    # the first kill came before config.json existed: the first command, run again, starts afresh
    assert killed[0]["again"] == "--model"
    assert any(p["again"] == "--resume" for p in killed)
