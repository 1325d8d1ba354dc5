"""Peak memory (RSS) of training on 1x and 10x the study's data: does it grow only by the data itself?

Each case runs in a fresh subprocess (so one case's peak cannot hide another's) that

1. imports eegclf and torch and notes its resident memory (the baseline);
2. generates the synthetic set (n_train = n_test = 1080 x SCALE trials of (1, 2, 750) float32, the
   study's shape) and notes the peak while loading;
3. resets the peak (``/proc/self/clear_refs``) and trains EEGNet for ``--epochs`` epochs into a
   temporary run folder, then notes the peak while training.

Peaks come from ``VmHWM`` in ``/proc/self/status`` (Linux), else ``resource.getrusage`` (then the training
peak includes loading). Data size = train + test X and y as held in memory.

glibc's malloc moves its mmap threshold as a program frees large blocks, so by default the peak RSS of the
same run wanders by ~100 MB with the allocation history. The children therefore run with a fixed threshold
(``MALLOC_MMAP_THRESHOLD_=131072``: large arrays are mapped and returned at once), which makes the figures
repeatable and shows what is really alive; ``--default-malloc`` measures with glibc's defaults instead.

The goal: from 1x to 10x the peak while training grows by a small multiple of the data's own growth
(the data must be held; copies of it should not be). The last line prints that ratio.

Run: ``python benchmarks/memory.py [--epochs 2] [--scales 1,10] [--model eegnet] [--threads 1]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

MB = 1024 * 1024
STUDY_TRIALS = 1080


def _status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def rss_mb() -> float:
    kb = _status_kb("VmRSS")
    if kb is None:
        import resource

        kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024


def peak_mb() -> float:
    kb = _status_kb("VmHWM")
    if kb is None:
        import resource

        kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return kb / 1024


def reset_peak() -> bool:
    """Set the peak back to the current RSS (Linux >= 4.0); False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def child(scale: int, epochs: int, model: str, threads: int) -> dict:
    import torch

    torch.set_num_threads(threads)
    from eegclf.config import RunConfig
    from eegclf.data import load_dataset
    from eegclf.training.loop import fit

    base = rss_mb()
    reset_peak()
    n = STUDY_TRIALS * scale
    t0 = time.perf_counter()
    ds = load_dataset("synthetic", n_train=n, n_test=n)
    load_s = time.perf_counter() - t0
    data_mb = sum(a.nbytes for s in (ds.train, ds.test) for a in (s.X, s.y)) / MB
    load_peak = peak_mb()
    after_load = rss_mb()
    exact = reset_peak()
    config = RunConfig(model=model, epochs=epochs, batch_size=64, seed=0, device="cpu")
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        fit(config, ds, run_dir=os.path.join(tmp, "run"), progress=False)
    train_s = time.perf_counter() - t0
    return {"scale": scale, "n_train": n, "n_test": n, "data_mb": data_mb, "base_mb": base,
            "load_peak_mb": load_peak, "after_load_mb": after_load, "train_peak_mb": peak_mb(),
            "peak_reset": exact, "load_s": load_s, "train_s": train_s}


def run_case(scale: int, args) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--child", str(scale), "--epochs", str(args.epochs),
           "--model", args.model, "--threads", str(args.threads)]
    env = dict(os.environ)
    if not args.default_malloc:
        env.setdefault("MALLOC_MMAP_THRESHOLD_", "131072")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        sys.exit(f"case {scale}x failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--scales", default="1,10", help="comma-separated multiples of the study's 1080 trials")
    p.add_argument("--model", default="eegnet")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--default-malloc", action="store_true", help="measure with glibc's default malloc settings")
    p.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child is not None:
        print(json.dumps(child(args.child, args.epochs, args.model, args.threads)))
        return 0

    scales = [int(s) for s in args.scales.split(",")]
    rows = [run_case(s, args) for s in scales]
    malloc = "glibc default malloc" if args.default_malloc else "MALLOC_MMAP_THRESHOLD_=131072"
    print(f"{args.model}, {args.epochs} epochs, batch 64, synthetic (1, 2, 750) float32 trials, "
          f"{args.threads} thread(s), {malloc}; MB = MiB; peaks are whole-process RSS")
    print(f"{'scale':>5} {'train+test':>11} {'data MB':>8} {'base MB':>8} {'load peak':>9} {'after load':>10} "
          f"{'train peak':>10} {'train-load':>10} {'train s':>7}")
    for r in rows:
        print(f"{r['scale']:>4}x {r['n_train']:>5}+{r['n_test']:<5} {r['data_mb']:>8.1f} {r['base_mb']:>8.1f} "
              f"{r['load_peak_mb']:>9.1f} {r['after_load_mb']:>10.1f} {r['train_peak_mb']:>10.1f} "
              f"{r['train_peak_mb'] - r['after_load_mb']:>10.1f} {r['train_s']:>7.1f}")
    if not rows[0]["peak_reset"]:
        print("note: the peak could not be reset here, so 'train peak' includes loading")
    lo, hi = rows[0], rows[-1]
    d_data = hi["data_mb"] - lo["data_mb"]
    d_train = hi["train_peak_mb"] - lo["train_peak_mb"]
    d_load = hi["load_peak_mb"] - lo["load_peak_mb"]
    print(f"growth {lo['scale']}x -> {hi['scale']}x: data +{d_data:.1f} MB; train peak +{d_train:.1f} MB "
          f"({d_train - d_data:+.1f} MB beyond the data); load peak +{d_load:.1f} MB "
          f"({d_load - d_data:+.1f} MB beyond the data)")
    print(f"ratio: train-peak growth / data growth = {d_train / d_data:.2f} "
          f"(load-peak growth / data growth = {d_load / d_data:.2f}; 1.00 = only the data itself)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
