"""The ``eegmmidb-cross`` workload of ``train_speed.py``: cross-subject training on real EEG, plain loop vs eegclf.

Run: ``EEGCLF_DATA=... python benchmarks/train_speed.py --workload eegmmidb-cross`` (full: 5 epochs, 2 seeds)
or with ``--quick`` (3 epochs, 1 seed); ``--subjects 1-3 --epochs 1`` is a sanity run. Not run by the tests.

Data: eegmmidb's imagined left/right fist trials of ``--subjects`` (default 1-12) with the benchmark's ``deep``
preset (64 channels, average reference, 4-38 Hz, 0-4 s at 128 Hz: 513 samples), train and test pooled
(``eegclf.data.splits.pooled``); the first subject (S001) is left out as the test subject, the others are
trained on (about 500 trials for 12 subjects). Models: EEGNet and ShallowConvNet with their own defaults.
Recipe: the ``deep`` preset's (AdamW, lr 1e-3, weight decay 1e-2, batch 16), for ``--epochs`` epochs;
its BatchNorm re-estimation is off in every contender (one extra pass after training, the same for all).

The contenders do the same work: a training pass per epoch (train loss/accuracy from it, max-norm after every
step) and one test evaluation after the last epoch, fp32, batches of 64, nothing written to disk:

- (a) a plain PyTorch loop (DataLoader(shuffle=True) over a ``Subset`` of the pooled trials);
- (a') the same loop with its training pass under bf16 autocast (evaluation in fp32);
- (c-ref) eegclf's ``train_model(..., curves=False)`` with ``val_fraction=0``, as ``eegclf benchmark --protocol
  cross-subject`` runs each fold (it too measures only after the last epoch), on the reference path
  (``fast_path="off"``: the modules as defined, the order (a) computes them in);
- (c) the same with eegclf's default ``fast_path="auto"``: the first layers in the exact cheaper order
  (``eegclf.models.fast_paths``). (a)/(c-ref) is the gain of the trainer, (c-ref)/(c) that of the reordering.

No contender copies the training part: (a) and (a') take each batch by index from the pool (``Subset``), and
eegclf gets the training part as a view of the pool (the left-out subject's trials come first in it) and
slices its batches from a permutation. Both normalise inside the model (eegclf's ``Standardized``, statistics
of the training part from ``channel_stats``), so the modules are the same; eegclf adds its own engineering
(channels_last, its dropout, bf16 where native).

Seconds per epoch: the wall time of a whole fit (model setup and the final evaluation included) divided by
the epochs; the order of the contenders rotates with the seed. Ratios: medians of the per-seed ratios.
Peak RSS: the process's peak resident memory during each fit (``VmHWM`` after resetting it through
``/proc/self/clear_refs`` before the fit; glibc's default malloc), and how far it rose above the RSS before the
fit (the pool, loaded once, is already in memory). The last line, printed by ``train_speed.py``, is
``cross_subject_speedup_vs_plain_loop: X.XX``: (a)'s seconds over (c)'s for both models together (the sum of
each model's median seconds).
"""

from __future__ import annotations

import os
import random
import statistics
import time
from functools import partial

import numpy as np
import torch
from memory import peak_mb, reset_peak, rss_mb  # benchmarks/memory.py
from plain_loop import test_pass, train_epoch  # benchmarks/plain_loop.py
from torch.utils.data import DataLoader, Subset, TensorDataset

from eegclf.benchmark.presets import PRESETS
from eegclf.config import RunConfig
from eegclf.data import load_dataset
from eegclf.data.base import Split
from eegclf.data.splits import pooled
from eegclf.evaluation import EVAL_BATCH
from eegclf.models.standardize import Standardized, channel_stats
from eegclf.training.loop import FitOptions, build_model, train_model

MODELS = ("eegnet", "shallowconvnet")
DATA = PRESETS["deep"]["data"]
RECIPE = {k: v for k, v in PRESETS["deep"]["recipe"].items() if k != "epochs"} | {"bn_recalibrate": False}
TAGS = ("a", "a'", "c-ref", "c")


def config(model_name: str, seed: int, epochs: int, bf16: bool | None = None, fast_path: str = "off") -> RunConfig:
    return RunConfig(model=model_name, dataset="eegmmidb", epochs=epochs, seed=seed, device="cpu", bf16=bf16,
                     threads=torch.get_num_threads(), val_fraction=0.0, fast_path=fast_path, **RECIPE)


def load_fold(subjects: str):
    """(template dataset, pool, train_idx, test_idx, train Split, test Split): the left-out subject is the
    pool's first; train and test Splits are views of the pool where the indices are contiguous ranges."""
    ds = load_dataset("eegmmidb", subjects=subjects, task="imagery_lr", **DATA)
    pool = pooled(ds)
    left_out = pool.subjects[0]
    test_idx = np.flatnonzero(pool.subjects == left_out)
    train_idx = np.flatnonzero(pool.subjects != left_out)

    def part(idx):
        if len(idx) and np.array_equal(idx, np.arange(idx[0], idx[-1] + 1)):  # a range: a view, no copy
            sl = slice(int(idx[0]), int(idx[-1]) + 1)
            return Split(pool.X[sl], pool.y[sl], pool.subjects[sl], pool.runs[sl])
        print(f"note: indices not contiguous, the part is copied ({len(idx)} trials)")
        return pool.subset(idx)

    train, test = part(train_idx), part(test_idx)
    assert np.shares_memory(train.X, pool.X) or len(train) == 0
    return ds.with_splits(train, test), pool, train_idx, test_idx, train, test


def plain(model_name: str, seed: int, epochs: int, template, pool, train_idx, test_idx, bf16: bool) -> dict:
    """(a) / (a'): DataLoader batches taken by index from the pool; the test set measured after the last epoch."""
    t0 = time.perf_counter()
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    cfg = config(model_name, seed, epochs)
    data = TensorDataset(torch.from_numpy(pool.X), torch.from_numpy(pool.y))  # no copy
    train_loader = DataLoader(Subset(data, train_idx.tolist()), batch_size=cfg.batch_size, shuffle=True)
    test_loader = DataLoader(Subset(data, test_idx.tolist()), batch_size=EVAL_BATCH)
    mean, std = channel_stats(pool.X, train_idx)
    model = Standardized(build_model(cfg, template), mean, std)  # cfg: fast_path off, the modules as defined
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16)
    n = len(train_idx)
    for _ in range(epochs):
        _, train_correct = train_epoch(model, train_loader, optimizer, autocast)
    _, test_correct = test_pass(model, test_loader)
    return {"seconds": time.perf_counter() - t0, "test_acc": test_correct / len(test_idx),
            "train_acc": train_correct / n}


def eegclf_fit(model_name: str, seed: int, epochs: int, template, bf16: bool | None, fast_path: str) -> dict:
    """(c) / (c-ref): eegclf's trainer as ``eegclf benchmark`` runs a fold (no run folder, measured after the last
    epoch), with ``fast_path`` auto / off."""
    t0 = time.perf_counter()
    summary, _ = train_model(config(model_name, seed, epochs, bf16, fast_path), template, progress=False,
                             options=FitOptions(curves=False))
    return {"seconds": time.perf_counter() - t0, "test_acc": summary["test_acc_last"]}


def measured(run) -> dict:
    """``run()``'s result with the peak RSS during it and its rise above the RSS before it (MiB)."""
    before = rss_mb()
    exact = reset_peak()
    r = run()
    peak = peak_mb()
    return dict(r, peak_mb=peak, rise_mb=peak - before, peak_exact=exact)


def run(args, bf16: bool) -> float:
    """Print the workload's tables; return (a)'s seconds over (c)'s for both models together."""
    t0 = time.perf_counter()
    template, pool, train_idx, test_idx, train, test = load_fold(args.subjects)
    load_s = time.perf_counter() - t0
    mb = 1024 * 1024
    print(f"eegmmidb-cross: subjects {args.subjects}, imagery_lr, {template.n_chans} channels x {template.n_times} "
          f"samples at {template.sfreq:g} Hz; left out {test.subjects[0]} ({len(test)} test trials), "
          f"{len(train)} training trials of {len(set(train.subjects))} subjects; pool {pool.X.nbytes / mb:.1f} MiB "
          f"(training part {train.X.nbytes / mb:.1f} MiB, a view: not copied), loaded in {load_s:.1f} s")
    print(f"recipe: {', '.join(f'{k}={v}' for k, v in RECIPE.items())}, {args.epochs} epochs, {args.seeds} "
          f"seed(s); torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs; eegclf "
          f"bf16 autocast {'on' if bf16 else 'off'}{' (auto)' if args.bf16 is None else ''}; "
          f"load {'/'.join(f'{v:.1f}' for v in os.getloadavg())}; RSS now {rss_mb():.0f} MiB", flush=True)
    rows = {}
    for model_name in MODELS:
        res = {t: [] for t in TAGS}
        for i, seed in enumerate(range(args.seeds)):
            fold = (model_name, seed, args.epochs, template)
            runs = [("a", partial(plain, *fold, pool, train_idx, test_idx, False)),
                    ("a'", partial(plain, *fold, pool, train_idx, test_idx, True)),
                    ("c-ref", partial(eegclf_fit, *fold, args.bf16, "off")),
                    ("c", partial(eegclf_fit, *fold, args.bf16, "auto"))]
            for tag, fn in runs[i % 4:] + runs[: i % 4]:  # rotate the order against load drift
                res[tag].append(measured(fn))
            print(f"  {model_name} seed {seed}: "
                  + ", ".join(f"({t}) {res[t][-1]['seconds'] / args.epochs:.3f} s/epoch" for t in TAGS)
                  + f"  [load {'/'.join(f'{v:.1f}' for v in os.getloadavg())}]", flush=True)
        rows[model_name] = res

    print(f"\ncross-subject per epoch ({args.epochs} epochs, {args.seeds} seed(s), "
          f"{torch.get_num_threads()} torch threads):")
    head = (f"{'model':<15} {'(a) plain':>10} {'(a_) bf16':>10} {'(c-ref)':>10} {'(c) eegclf':>10} {'(a)/(c)':>8} "
            f"{'(a_)/(c)':>9} {'(a)/(c-ref)':>12} {'(c-ref)/(c)':>12} {'(a)/(a_)':>9}   {'test acc (a)':>13} {'(a_)':>7} "
            f"{'(c-ref)':>8} {'(c)':>7}").replace("a_", "a'")
    print(head)
    print("-" * len(head))
    total = {t: 0.0 for t in TAGS}
    for model_name, res in rows.items():
        s = {t: statistics.median(r["seconds"] for r in res[t]) for t in TAGS}
        for t in TAGS:
            total[t] += s[t]
        ratio = {t: statistics.median(x["seconds"] / y["seconds"] for x, y in zip(res[t], res["c"])) for t in TAGS}
        trainer = statistics.median(x["seconds"] / y["seconds"] for x, y in zip(res["a"], res["c-ref"]))
        bf16_gain = statistics.median(x["seconds"] / y["seconds"] for x, y in zip(res["a"], res["a'"]))
        acc = {t: statistics.mean(r["test_acc"] for r in res[t]) for t in TAGS}
        print(f"{model_name:<15} {s['a'] / args.epochs:>10.3f} {s[TAGS[1]] / args.epochs:>10.3f} "
              f"{s['c-ref'] / args.epochs:>10.3f} {s['c'] / args.epochs:>10.3f} {ratio['a']:>7.2f}x "
              f"{ratio[TAGS[1]]:>8.2f}x {trainer:>11.2f}x {ratio['c-ref']:>11.2f}x {bf16_gain:>8.2f}x   "
              f"{acc['a']:>13.3f} {acc[TAGS[1]]:>7.3f} {acc['c-ref']:>8.3f} {acc['c']:>7.3f}")
    print("(seconds per epoch, setup and the final test evaluation included; (a)/(a'): below 1 means bf16 slows the "
          "plain loop; test acc on the left-out subject, mean over seeds: a few epochs, not a result)")

    print(f"\npeak RSS during each fit, MiB (rise above the RSS before it; the pool, {pool.X.nbytes / mb:.1f} MiB, "
          "is loaded before):")
    print(f"{'model':<15} " + " ".join(f"{'(' + t + ')':>16}" for t in TAGS))
    for model_name, res in rows.items():
        print(f"{model_name:<15} " + " ".join(
            f"{max(r['peak_mb'] for r in res[t]):>7.0f} (+{max(r['rise_mb'] for r in res[t]):>5.0f})" for t in TAGS))
    if not all(r["peak_exact"] for res in rows.values() for t in TAGS for r in res[t]):
        print("note: the peak could not be reset here, so each peak includes everything before it")
    print(f"total over both models: (a) {total['a']:.1f} s, (a') {total[TAGS[1]]:.1f} s, (c-ref) "
          f"{total['c-ref']:.1f} s, (c) {total['c']:.1f} s; reordering alone (c-ref)/(c): "
          f"{total['c-ref'] / total['c']:.2f}x")
    return total["a"] / total["c"]
