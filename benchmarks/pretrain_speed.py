"""`eegclf pretrain` on the 56 shared people, as before this round and as now, side by side in one run.

Run: ``EEGCLF_DATA=../shared/data python benchmarks/pretrain_speed.py`` (the shipped network's command: all 56
people, 40 epochs, 2 threads unless ``--threads``), or ``--subjects 1-4 --epochs 2`` for a sanity run. Not run
by the tests. Each way runs in a fresh process, one after the other, timed from outside (interpreter start,
imports, loading and training: what a user waits for):

- before: the trial cache off (every EDF read, filtered and epoched) and the spatial-first path's grouped temporal
  convolution with oneDNN's own weight gradient (``eegclf.models.temporal_conv`` switched off);
- now: the trial cache warm (filled by a first, untimed run into a temporary cache folder) and the blocked
  weight gradient.

Both pre-train the same network from the same seed; they agree to float rounding, not to the byte (the gradient's
sums run in another order), and the script prints the largest difference of their weights. Printed last:
``pretrain_speedup: X.XX`` and ``pretrain_now_seconds: S`` (goal of issue 33: <= 60 s on 2 cores).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
ALL56 = "1-12,24-41,43-67,88"

# the "before" gradient: every call of the grouped temporal convolution goes to oneDNN, weight gradient included
BEFORE = """
import sys, torch.nn.functional as F
import eegclf.models.fast_paths as fp
fp.grouped_temporal_conv = lambda u, kernel, bias: F.conv2d(u, kernel, bias, groups=kernel.shape[0])
from eegclf.cli import main
sys.exit(main(sys.argv[1:]))
"""
NOW = "import sys\nfrom eegclf.cli import main\nsys.exit(main(sys.argv[1:]))\n"


def pretrain(code: str, args: list[str], env: dict) -> float:
    t = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t
    if done.returncode != 0:
        sys.exit(f"pretrain failed:\n{done.stderr[-3000:]}")
    return seconds


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--subjects", default=ALL56)
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        env = dict(os.environ, PYTHONPATH=f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
                   EEGCLF_CACHE=str(tmp / "cache"))
        common = ["pretrain", "--dataset", "eegmmidb", "--task", "imagery_lr", "--subjects", a.subjects,
                  "--epochs", str(a.epochs), "--threads", str(a.threads), "--seed", "0", "--quiet"]
        print(f"load average before: {os.getloadavg()[0]:.2f}", flush=True)
        pretrain(NOW, [*common, "--epochs", "1", "--out", str(tmp / "fill")], env)  # fills the cache, untimed
        before = pretrain(BEFORE, [*common, "--no-cache", "--out", str(tmp / "before")], env)
        print(f"before (no cache, oneDNN weight gradient): {before:.1f} s", flush=True)
        now = pretrain(NOW, [*common, "--out", str(tmp / "now")], env)
        print(f"now (warm cache, blocked weight gradient): {now:.1f} s", flush=True)
        print(f"load average after: {os.getloadavg()[0]:.2f}")
        from safetensors.numpy import load_file

        wa = load_file(str(tmp / "before" / "pretrained.safetensors"))
        wb = load_file(str(tmp / "now" / "pretrained.safetensors"))
        diff = max(float(abs(wa[k].astype("float64") - wb[k]).max()) for k in wa if wa[k].dtype.kind == "f")
        print(f"largest weight difference between the two: {diff:.2e}")
    print(f"pretrain_speedup: {before / now:.2f}")
    print(f"pretrain_now_seconds: {now:.1f}")


if __name__ == "__main__":
    main()
