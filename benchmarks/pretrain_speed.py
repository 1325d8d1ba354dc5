"""`eegclf pretrain` on the 56 shared people, as at an earlier commit and as now, side by side in one run.

Run: ``EEGCLF_DATA=../shared/data python benchmarks/pretrain_speed.py`` (the shipped network's recipe: all 56
people, 40 epochs, 2 threads unless ``--threads``), or ``--subjects 1-4 --epochs 2`` for a sanity run. Not run
by the tests; needs git. Each way runs in a fresh process, one after the other, timed from outside (interpreter
start, imports, loading and training: what a user waits for), both with the trial cache warm (filled by a first,
untimed run into a temporary cache folder):

- before: the package as it was at ``--before`` (default: the last round's final commit, 85c9d3c: BatchNorm lag
  moments as block matrix products of a transposed copy, the spatial projection as a (C, 1) convolution, the
  augmentations one pass each, TorchInductor imported by the seeding), exported by ``git archive`` into a
  temporary folder and put first on the import path;
- now: this checkout's ``src``.

Both pre-train the same recipe from the same seed, in bf16 where the CPU has it (this host). In float32 the two
would agree to float rounding (sums run in another order); under bf16 they are two draws of the recipe: since
this round's fourth pass, bf16 dropout draws its masks from random bytes (``FastDropout``), so their
weights differ by the size of the weights themselves. The script prints the largest difference. Printed last:
``pretrain_speedup: X.XX`` and ``pretrain_now_seconds: S`` (goal of issue 33: <= 60 s on 2 cores), the medians
of ``--repeat`` alternating pairs.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
ALL56 = "1-12,24-41,43-67,88"
LAST_ROUND = "85c9d3c"
RUN = "import sys\nfrom eegclf.cli import main\nsys.exit(main(sys.argv[1:]))\n"


def export_revision(rev: str, folder: Path) -> Path:
    """The ``src`` folder of commit ``rev``, written under ``folder``."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "src"], capture_output=True)
    if archive.returncode != 0:
        sys.exit(f"git archive {rev} failed: {archive.stderr.decode().strip()}")
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    return folder / "src"


def pretrain(src: Path, args: list[str], env: dict) -> float:
    env = dict(env, PYTHONPATH=f"{src}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    t = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", RUN, *args], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t
    if done.returncode != 0:
        sys.exit(f"pretrain failed:\n{done.stderr[-3000:]}")
    return seconds


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--subjects", default=ALL56)
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--before", default=LAST_ROUND, help="the git revision to compare with (default: %(default)s)")
    p.add_argument("--repeat", type=int, default=1,
                   help="run both ways this many times, alternating (this host's speed drifts between runs: "
                   "the ratio of each pair and the spread of the times show it); default %(default)s")
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        old = export_revision(a.before, tmp)
        env = dict(os.environ, EEGCLF_CACHE=str(tmp / "cache"))
        common = ["pretrain", "--dataset", "eegmmidb", "--task", "imagery_lr", "--subjects", a.subjects,
                  "--epochs", str(a.epochs), "--threads", str(a.threads), "--seed", "0", "--quiet"]
        print(f"load average before: {os.getloadavg()[0]:.2f}", flush=True)
        pretrain(SRC, [*common, "--epochs", "1", "--out", str(tmp / "fill")], env)  # fills the cache, untimed
        befores, nows = [], []
        for i in range(a.repeat):
            befores.append(pretrain(old, [*common, "--out", str(tmp / f"before{i}")], env))
            print(f"before ({a.before}, warm cache): {befores[-1]:.1f} s", flush=True)
            nows.append(pretrain(SRC, [*common, "--out", str(tmp / f"now{i}")], env))
            print(f"now (this checkout, warm cache): {nows[-1]:.1f} s  (pair {i + 1}: {befores[-1] / nows[-1]:.2f}x)",
                  flush=True)
        before, now = sorted(befores)[(a.repeat - 1) // 2], sorted(nows)[(a.repeat - 1) // 2]  # the medians
        if a.repeat > 1:
            print(f"now over {a.repeat} runs: fastest {min(nows):.1f} s, median {now:.1f} s, slowest {max(nows):.1f} s")
        print(f"load average after: {os.getloadavg()[0]:.2f}")
        from safetensors.numpy import load_file

        wa = load_file(str(tmp / "before0" / "pretrained.safetensors"))
        wb = load_file(str(tmp / "now0" / "pretrained.safetensors"))
        diff = max(float(abs(wa[k].astype("float64") - wb[k]).max()) for k in wa if wa[k].dtype.kind == "f")
        print(f"largest weight difference between the two: {diff:.2e}")
    print(f"pretrain_speedup: {before / now:.2f}")  # medians when --repeat > 1
    print(f"pretrain_now_seconds: {now:.1f}")


if __name__ == "__main__":
    main()
