"""Training speed: eegclf's trainer against a plain PyTorch loop (and braindecode), side by side in one run.

Two workloads (``--workload``):

- ``study`` (default), below;
- ``eegmmidb-cross``: EEGNet and ShallowConvNet trained across subjects on real EEG, in
  ``cross_speed.py`` (its docstring says what it measures; it ends with ``cross_subject_speedup_vs_plain_loop``).

The study workload. Run: ``python benchmarks/train_speed.py`` (full, 10 epochs, 3 seeds; ~10 min on 2 idle
cores) or ``--quick`` (8 epochs, 1 seed; ~4 min). All on synthetic data of the study's shape
(``load_dataset("synthetic")``: 1080 train / 1080 test trials, 2 channels x 750 samples, 2 classes), with the
same hyper-parameters (Adam, lr 1e-3, batch 64, the same number of epochs) and the same modules
(``create_model``, ELU):

- (a) a plain loop in the study's style, written below: TensorDataset + DataLoader(shuffle=True), one
  training pass (train loss/accuracy from it) and a test evaluation (DataLoader, batch 64) every epoch;
- (a') the same loop with its training pass under bf16 autocast (evaluation in fp32, as eegclf does), so the
  table separates what bf16 gives from what eegclf's engineering gives. On CPUs without AVX-512 BF16/AMX
  bf16 is emulated and (a') is slower than (a); eegclf then trains in fp32 (``--bf16 auto``);
- (b) braindecode 0.8.1's EEGClassifier (skorch) wrapping the same module, the test set as its validation
  set, when braindecode is importable (it is not a dependency of eegclf; put it on PYTHONPATH to include it);
- (c-ref) ``eegclf.training.loop.fit`` into a temporary run folder (checkpoints and state written every epoch) on
  the reference path (``fast_path="off"``: the modules as defined, as (a) computes them);
- (c) the same with eegclf's default ``fast_path="auto"`` (``eegclf.models.fast_paths``: at the study's 2
  channels EEGNet keeps the reference order, DeepConvNet merges its first two convolutions).
  (a)/(c-ref) is the gain of the trainer, (c-ref)/(c) that of the reordering.

(a), (a') and (b) train on the same training part that (c) uses (eegclf holds out 20 % for validation), so
(c) does strictly more work per epoch: it also measures the validation part. Seconds per epoch are the wall
time of a whole run (setup included) divided by its epochs; (a), (a') and (c) take turns going first from
seed to seed, in the same process, with the same torch thread count, so a change of machine load hits all.
The ratios are medians of the per-seed ratios. Test accuracy: last epoch, mean +- std over seeds.

The study: eegclf's ``run_study`` (2 models x 3 activations x 1 seed, its default processes and threads,
report included) against (a) run six times in a row; and against (a') six times in a row when eegclf's bf16
is on (elsewhere (a) is already the like-for-like loop). ``run_study`` runs twice, on the fast path (auto) and
on the reference path, and ``study_fast_vs_reference`` is their ratio (the study shape must not be slower). eegclf's time includes starting its worker
processes; the benchmark measures one such start-up (a fresh Python importing torch and eegclf and loading
the data) and prints its share of eegclf's study time: ``--quick`` has enough epochs to keep it under 10 %.
The last line is ``study_speedup_vs_plain_loop: X.XX``.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))  # run from a checkout without install

from plain_loop import test_pass, train_epoch  # noqa: E402  (benchmarks/plain_loop.py)

from eegclf.config import RunConfig  # noqa: E402
from eegclf.data import load_dataset  # noqa: E402
from eegclf.models import create_model  # noqa: E402
from eegclf.training.loop import bf16_default, fit, split_train_val  # noqa: E402

MODELS = ("eegnet", "deepconvnet")
ACTIVATIONS = ("relu", "leaky_relu", "elu")
LR, BATCH = 1e-3, 64
A2 = "a'"  # the tag of (a'), the plain loop with bf16 autocast


# ---- (a): the reference plain loop, in the study's style ----

def plain_loop(model_name: str, activation: str, seed: int, epochs: int, train, test, bf16: bool = False) -> dict:
    """Train with DataLoader batches, measure the test set every epoch; return seconds and last test accuracy.

    ``bf16``: (a'), the training pass under bf16 autocast; the test evaluation stays fp32."""
    t0 = time.perf_counter()
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    mean = train.X.mean(axis=(0, 1, 3), keepdims=True)
    std = train.X.std(axis=(0, 1, 3), keepdims=True)
    Xtr = torch.from_numpy((train.X - mean) / std).float()
    Xte = torch.from_numpy((test.X - mean) / std).float()
    train_loader = DataLoader(TensorDataset(Xtr, torch.from_numpy(train.y)), batch_size=BATCH, shuffle=True)
    test_loader = DataLoader(TensorDataset(Xte, torch.from_numpy(test.y)), batch_size=BATCH)
    model = create_model(model_name, train.X.shape[2], train.X.shape[3], 2, activation=activation)
    model.set_fast_path("off")  # the modules as defined, computed as a plain loop computes them
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16)
    for _ in range(epochs):
        train_epoch(model, train_loader, optimizer, autocast)
        _, test_correct = test_pass(model, test_loader)
    return {"seconds": time.perf_counter() - t0, "test_acc": test_correct / len(test)}


# ---- (b): braindecode's EEGClassifier (skorch), when installed ----

def braindecode_fit(model_name: str, seed: int, epochs: int, train, test) -> dict:
    from braindecode import EEGClassifier
    from skorch.callbacks import Callback, EpochScoring
    from skorch.dataset import Dataset
    from skorch.helper import predefined_split

    def accuracy(net, X, y):  # from skorch's cached predictions (sklearn's scorer API moved past skorch 0.15)
        return float((net.forward(X).argmax(1).numpy() == np.asarray(y)).mean())

    class MaxNorm(Callback):
        def on_batch_end(self, net, batch=None, training=False, **kwargs):
            if training:
                net.module_.apply_constraints()

    t0 = time.perf_counter()
    torch.manual_seed(seed)
    np.random.seed(seed)
    mean = train.X.mean(axis=(0, 1, 3), keepdims=True)
    std = train.X.std(axis=(0, 1, 3), keepdims=True)
    Xtr, Xte = ((train.X - mean) / std).astype(np.float32), ((test.X - mean) / std).astype(np.float32)
    clf = EEGClassifier(
        create_model(model_name, train.X.shape[2], train.X.shape[3], 2, activation="elu").set_fast_path("off"),
        criterion=torch.nn.CrossEntropyLoss, optimizer=torch.optim.Adam, optimizer__lr=LR,
        batch_size=BATCH, max_epochs=epochs, iterator_train__shuffle=True, device="cpu", classes=[0, 1],
        train_split=predefined_split(Dataset(Xte, test.y)), verbose=0, callbacks__valid_acc=None,
        callbacks=[("train_acc", EpochScoring(accuracy, name="train_acc", on_train=True, lower_is_better=False)),
                   ("test_acc", EpochScoring(accuracy, name="test_acc", lower_is_better=False)),
                   ("max_norm", MaxNorm())],
    )
    clf.fit(Xtr, train.y)
    return {"seconds": time.perf_counter() - t0, "test_acc": clf.history[-1, "test_acc"]}


def braindecode_available() -> bool:
    try:
        import braindecode  # noqa: F401
        import skorch  # noqa: F401
    except ImportError:
        return False
    return True


# ---- (c): eegclf ----

def eegclf_fit(model_name: str, seed: int, epochs: int, dataset, bf16: bool | None = None,
               fast_path: str = "auto") -> dict:
    t0 = time.perf_counter()
    config = RunConfig(model=model_name, activation="elu", epochs=epochs, batch_size=BATCH, lr=LR, seed=seed,
                       device="cpu", bf16=bf16, threads=torch.get_num_threads(), fast_path=fast_path)
    with tempfile.TemporaryDirectory(prefix="eegclf-speed-") as run_dir:
        summary = fit(config, dataset, run_dir, progress=False)
    return {"seconds": time.perf_counter() - t0, "test_acc": summary["test_acc_last"],
            "test_acc_selected": summary["test_acc_val_selected"]}


# ---- driver ----

def load() -> str:
    return "/".join(f"{v:.1f}" for v in os.getloadavg())


def mean_std(values) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.3f} +- {sd:.3f}"


def per_epoch(args, dataset, use_b: bool) -> None:
    rows = {}
    test = dataset.test
    for model_name in MODELS:
        res, b = {"a": [], A2: [], "c-ref": [], "c": []}, None
        for i, seed in enumerate(range(args.seeds)):
            train = training_part(dataset, seed)
            plain = (model_name, "elu", seed, args.epochs, train, test)
            runs = [("a", partial(plain_loop, *plain)), (A2, partial(plain_loop, *plain, bf16=True)),
                    ("c-ref", partial(eegclf_fit, model_name, seed, args.epochs, dataset, args.bf16, "off")),
                    ("c", partial(eegclf_fit, model_name, seed, args.epochs, dataset, args.bf16))]
            for tag, run in runs[i % 4:] + runs[: i % 4]:  # rotate the order against load drift
                res[tag].append(run())
            if use_b and seed == 0:
                b = braindecode_fit(model_name, seed, args.epochs, train, test)
            print(f"  {model_name} seed {seed}: "
                  + ", ".join(f"({t}) {res[t][-1]['seconds'] / args.epochs:.3f} s/epoch" for t in res)
                  + (f", (b) {b['seconds'] / args.epochs:.3f} s/epoch" if b and seed == 0 else "")
                  + f"  [load {load()}]", flush=True)
        rows[model_name] = (res, b)

    print(f"\nper epoch ({args.epochs} epochs, {args.seeds} seed{'s' if args.seeds > 1 else ''}, "
          f"{torch.get_num_threads()} torch threads each):")
    head = (f"{'model':<12} {'(a) plain':>10} {'(a_) bf16':>10} {'(b) braind.':>11} {'(c-ref)':>10} {'(c) eegclf':>10} "
            f"{'(a)/(c)':>8} {'(a_)/(c)':>8} {'(b)/(c)':>8} {'(a)/(c-ref)':>11} {'(c-ref)/(c)':>11}   {'test acc (a)':>15}   "
            f"{'test acc (a_)':>15}   {'test acc (c)':>15}   {'(c) val-selected':>16}").replace("a_", "a'")
    print(head)
    print("-" * len(head))
    for model_name, (res, b) in rows.items():
        a, a2, c = res["a"], res[A2], res["c"]
        s = {t: statistics.median(r["seconds"] for r in res[t]) / args.epochs for t in res}
        ratio = {t: statistics.median(x["seconds"] / y["seconds"] for x, y in zip(res[t], c)) for t in ("a", A2, "c-ref")}
        trainer = statistics.median(x["seconds"] / y["seconds"] for x, y in zip(a, res["c-ref"]))
        sb = b["seconds"] / args.epochs if b else None
        ratio_b = b["seconds"] / c[0]["seconds"] if b else None
        print(f"{model_name:<12} {s['a']:>10.3f} {s[A2]:>10.3f} {(f'{sb:.3f}' if b else '-'):>11} "
              f"{s['c-ref']:>10.3f} {s['c']:>10.3f} {ratio['a']:>7.2f}x {ratio[A2]:>7.2f}x "
              f"{(f'{ratio_b:.2f}x' if b else '-'):>8} {trainer:>10.2f}x {ratio['c-ref']:>10.2f}x   "
              f"{mean_std([r['test_acc'] for r in a]):>15}   "
              f"{mean_std([r['test_acc'] for r in a2]):>15}   {mean_std([r['test_acc'] for r in c]):>15}   "
              f"{mean_std([r['test_acc_selected'] for r in c]):>16}")
    print("(seconds per epoch; (a') = (a) with bf16 autocast in the training pass; test acc: last epoch, "
          "mean +- std over seeds; (b): seed 0 only)")


def training_part(dataset, seed: int):
    """The trials eegclf trains on for this seed (it holds out a stratified 20 % for validation)."""
    return split_train_val(RunConfig(seed=seed), dataset)[0]


def startup_seconds() -> float:
    """Wall time of what each of eegclf's worker processes does before its first run: a fresh Python that
    imports torch and eegclf and loads the data set."""
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")])))
    code = ("import torch, eegclf.study, eegclf.training.loop; from eegclf.data import load_dataset; "
            "load_dataset('synthetic')")
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
    return time.perf_counter() - t0


def study(args, dataset, bf16: bool) -> float:
    from eegclf.study import run_study

    print(f"\nstudy: {len(MODELS)} models x {len(ACTIVATIONS)} activations x 1 seed, {args.epochs} epochs", flush=True)
    plains = [("a", False)] + ([(A2, True)] if bf16 else [])
    took = {}
    for tag, plain_bf16 in plains:
        t0 = time.perf_counter()
        for model_name in MODELS:
            for act in ACTIVATIONS:
                plain_loop(model_name, act, 0, args.epochs, training_part(dataset, 0), dataset.test, plain_bf16)
        took[tag] = time.perf_counter() - t0
        print(f"({tag}) plain loop{' + bf16' if plain_bf16 else ''}, six runs in a row "
              f"({torch.get_num_threads()} threads): {took[tag]:8.1f} s  [load {load()}]", flush=True)
    if not bf16:
        print("(a') left out of the study: eegclf's bf16 is off here, so (a) is the like-for-like loop")
    start = startup_seconds()
    took_c = {}
    for tag, fast_path in (("c", "auto"), ("c-ref", "off")):
        base = RunConfig(dataset="synthetic", epochs=args.epochs, batch_size=BATCH, lr=LR, device="cpu",
                         bf16=args.bf16, fast_path=fast_path)
        with tempfile.TemporaryDirectory(prefix="eegclf-speed-study-") as out:
            t0 = time.perf_counter()
            run_study(base, list(MODELS), list(ACTIVATIONS), 1, Path(out) / "study", progress=False)
            took_c[tag] = time.perf_counter() - t0
        print(f"({tag}) eegclf compare (run_study, default jobs, report included; fast_path {fast_path}): "
              f"{took_c[tag]:8.1f} s  [load {load()}]", flush=True)
    ours = took_c["c"]
    print(f"study_fast_vs_reference: {took_c['c-ref'] / ours:.2f}  (eegclf's study on the reference path over the "
          "fast path: >= 1 means the study shape is not slower)")
    share = start / ours
    print(f"process start-up (fresh Python: import torch + eegclf, load the data), measured once: {start:.1f} s "
          f"= {100 * share:.1f} % of (c)'s study time" + ("" if share < 0.10 else
                                                          "  (over 10 %: use more --epochs)"))
    if bf16:
        print(f"study_speedup_vs_plain_bf16_loop: {took[A2] / ours:.2f}")
    return took["a"] / ours


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workload", choices=("study", "eegmmidb-cross"), default="study",
                   help="study (default): synthetic, the study's shape; eegmmidb-cross: real EEG across subjects "
                   "(see cross_speed.py)")
    p.add_argument("--quick", action="store_true",
                   help="study: 8 epochs, 1 seed (~4 min); eegmmidb-cross: 3 epochs, 1 seed (~3 min)")
    p.add_argument("--epochs", type=int, help="epochs of every run (study: default 10, --quick 8; "
                   "eegmmidb-cross: default 5, --quick 3)")
    p.add_argument("--seeds", type=int, help="seeds of the per-epoch part (default 3 (eegmmidb-cross: 2), --quick 1)")
    p.add_argument("--bf16", choices=("auto", "on", "off"), default="auto",
                   help="eegclf's bf16 autocast (default auto: on where the CPU computes bf16 natively)")
    p.add_argument("--threads", type=int, help="torch threads of (a), (b) and (c)'s single runs (default: torch's)")
    p.add_argument("--no-braindecode", action="store_true", help="skip (b) even when braindecode is installed")
    p.add_argument("--subjects", default="1-12",
                   help="eegmmidb-cross: eegmmidb subjects (default 1-12); the first one is left out as the test "
                   "subject (fewer subjects: a sanity run)")
    args = p.parse_args(argv)
    cross = args.workload == "eegmmidb-cross"
    args.epochs = args.epochs or ((3 if args.quick else 5) if cross else (8 if args.quick else 10))
    args.seeds = args.seeds or (1 if args.quick else 2 if cross else 3)
    args.bf16 = {"auto": None, "on": True, "off": False}[args.bf16]
    bf16 = bf16_default(torch.device("cpu")) if args.bf16 is None else args.bf16

    if args.threads:
        torch.set_num_threads(args.threads)
    # as eegclf's runs do, for (a) and (b) too (without the NaN fill of new tensors, as eegclf)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.utils.deterministic.fill_uninitialized_memory = False
    if cross:
        import cross_speed

        speedup = cross_speed.run(args, bf16)
        print(f"cross_subject_speedup_vs_plain_loop: {speedup:.2f}")
        return
    dataset = load_dataset("synthetic")
    train, test = training_part(dataset, 0), dataset.test
    use_b = not args.no_braindecode and braindecode_available()
    print(f"train_speed: synthetic {len(dataset.train)} train ({len(train)} trained on) / {len(test)} test trials, "
          f"{dataset.n_chans} x {dataset.n_times}; Adam lr {LR}, batch {BATCH}, {args.epochs} epochs; "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, "
          f"eegclf bf16 autocast {'on' if bf16 else 'off'}{' (auto)' if args.bf16 is None else ''}; "
          f"load {load()}", flush=True)
    if not use_b:
        print("(b) skipped: braindecode not installed")
    per_epoch(args, dataset, use_b)
    speedup = study(args, dataset, bf16)
    print(f"study_speedup_vs_plain_loop: {speedup:.2f}")


if __name__ == "__main__":
    main()
