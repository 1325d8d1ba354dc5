"""The training loop: one function, :func:`train_model`, from a config and data to a fitted model and its history.

It reads top to bottom: check the data and draw the validation part, build the model once (from the seed),
then per epoch :func:`train_epoch` (one pass over the training trials), :func:`measure` (validation and test)
and :func:`select_and_save` (choose on validation, write the run folder). :func:`fit` and :func:`run_training` are
its two shorthands (the summary only; the data set loaded from the config).

Why the loop looks the way it does:
- the data sit in memory as tensors and batches are sliced from a seeded permutation: no DataLoader,
  which on these small trials costs more than the convolutions;
- validation and test are measured every epoch in large no-grad batches;
- the test set is only measured; the checkpoint is chosen on validation accuracy (ties: lower loss);
- after every epoch the full training state (weights, optimiser, RNGs, selection) is written
  atomically into the run folder, so a killed run resumes to the identical result.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from eegclf.config import RunConfig
from eegclf.data.base import EEGDataset, Split
from eegclf.errors import ConfigError, DataError, TrainingError
from eegclf.evaluation import evaluate_tensors, loss_and_accuracy
from eegclf.models import NO_ACTIVATION, get_model
from eegclf.models.fast_modules import use_fast_modules
from eegclf.models.standardize import Standardized, channel_stats
from eegclf.progress import epoch_bar
from eegclf.seeding import seed_everything
from eegclf.storage.checkpoint import package_versions, save_checkpoint
from eegclf.storage.rundir import RunDir
from eegclf.storage.tempfiles import clear_dead_temp_files
from eegclf.storage.train_state import load_state, save_state
from eegclf.training.augment import Augmenter, parse_augment
from eegclf.training.batchnorm import recalibrate_batchnorm


@dataclass(frozen=True)
class FitOptions:
    """What a fit needs beyond its RunConfig and data; the defaults are a plain training run's. Used by the
    library's own callers: fine-tuning (:mod:`eegclf.transfer`), pre-training and the benchmark's folds.

    ``init_state``: a deep network's state dict (without normalisation) to start from instead of random
    weights: fine-tuning. The normalisation statistics always come from the data set's training part.
    ``spatial``: a fixed (C, C) matrix the model applies to every raw trial first (a Euclidean-alignment
    whitener); the normalisation statistics are then those of the transformed training trials.
    ``seen_before``: the subjects ``init_state`` was trained on, recorded in the checkpoints with the training
    part's (None: the starting network does not say whom it saw, so neither does the new one).
    ``curves=False`` (benchmarks, pre-training: nothing is chosen per epoch) measures the parts once, after the
    last epoch, instead of after every epoch; the model is the same (BatchNorm statistics are re-estimated
    from scratch, so doing it only at the end changes nothing) and a fit costs about a third less.
    ``require_test=False`` lets the test part be empty (pre-training on every trial).
    ``channel_map``: ``(matrix, network channel names)``, the fixed map from the data's channels to the
    network's (:mod:`eegclf.data.channels`) that the model applies first, so that it takes the data's own
    channels; the alignment and the normalisation are then those of the mapped trials.
    """

    init_state: dict | None = None
    spatial: np.ndarray | None = None
    seen_before: object = ()  # ids (tuple), or an eegclf.data.seen.Seen (ids, recordings, trials); None: unknown
    curves: bool = True
    require_test: bool = True
    channel_map: tuple | None = None
    # ``trainable``: parameter-name prefixes (e.g. ``("classify.",)``) of the only layers that train; the others
    # keep their weights, and their modules stay in eval mode while training (fixed BatchNorm statistics, no
    # dropout), so the trained layers learn on the features they will see. None: every layer trains.
    trainable: tuple[str, ...] | None = None
    # ``mix``: ``(X, y, weight)``, extra trials (inputs to the model, as its training trials are) mixed into every
    # optimiser step: each step adds as many of them as its batch holds, drawn by the seeded generator, and the
    # loss weights the training trials by ``weight`` and these by 1 (multi-domain fine-tuning,
    # :mod:`eegclf.adaptation`). None: none.
    mix: tuple | None = None


def train_model(config: RunConfig, dataset: EEGDataset, run_dir: str | Path | None = None,
                progress: bool | None = None, resume: bool = False,
                on_epoch: Callable[[int, dict], None] | None = None, options: FitOptions = FitOptions()):
    """Train ``config.model`` on ``dataset``; returns ``(summary, model)``: the model of the last epoch, in eval
    mode (a :class:`~eegclf.models.standardize.Standardized` deep net, normalisation inside, or a classical
    estimator).

    With ``run_dir``, writes the run folder (:mod:`eegclf.storage.rundir`): config, history, best and last
    checkpoints, training state, and last the summary. ``on_epoch(epoch, row)`` is called after each epoch (it
    may raise to stop, e.g. a pruned tuning trial). ``resume`` continues from the run folder's training state.
    ``options``: see :class:`FitOptions`.
    """
    # the data: checked, and the validation part drawn from the training part
    if config.threads:
        torch.set_num_threads(config.threads)
    train, val = split_train_val(config, dataset, options.require_test)
    if not options.curves and len(val):
        raise ConfigError("curves=False measures only the last epoch, so it cannot choose an epoch on "
                          f"validation: use val_fraction=0 (got {config.val_fraction})", param="val_fraction")

    # the model, built once from the seed: bad names or shapes fail here, before anything is written
    seed_everything(config.seed)
    channel_map = options.channel_map
    net = build_model(config, dataset, None if channel_map is None else len(channel_map[1]))
    folder = RunDir(run_dir).create() if run_dir is not None else None
    if folder is not None:
        clear_dead_temp_files(folder.path)  # a killed run's half-made files: --resume, a study's restart
        folder.write_config(config.to_dict())
    if not get_model(config.model).is_deep:
        summary, model = fit_classical(config, dataset, net, train, val, folder)
        if folder is not None:
            folder.write_summary(summary)
        return summary, model

    # a deep network: normalisation inside the model, optimiser, tensors on the device, the seeded batch order
    from eegclf.data.alignment import apply_whitener
    from eegclf.data.channels import apply_matrix

    device = resolve_device(config.device)
    spatial = options.spatial
    X = train.X if channel_map is None else apply_matrix(channel_map[0], train.X)
    mean, std = channel_stats(X if spatial is None else apply_whitener(X, spatial))
    del X
    if options.init_state is not None:
        net.load_state_dict(options.init_state)
    use_fast_modules(net)
    frozen = freeze_except(net, options.trainable) if options.trainable is not None else []
    # channels_last: oneDNN's convolutions run 1.5-2x faster on this layout (numbers are unchanged in meaning)
    model = Standardized(net, mean, std, spatial, None if channel_map is None else channel_map[0]).to(
        device, memory_format=torch.channels_last)
    opt = make_optimizer(config, model)
    meta = checkpoint_meta(config, dataset, net, mean, std, options.seen_before)
    if channel_map is not None:  # the input is the data's channels; the network's are these
        meta["network_ch_names"] = list(channel_map[1])
    Xtr, ytr = _on(device, train)
    mix = None
    if options.mix is not None:
        mix = (torch.from_numpy(np.ascontiguousarray(options.mix[0], dtype=np.float32)).to(device),
               torch.from_numpy(np.asarray(options.mix[1], dtype=np.int64)).to(device), float(options.mix[2]))
    parts = {"val": _on(device, val), "test": _on(device, dataset.test)}
    gen = torch.Generator().manual_seed(config.seed)
    bf16 = bf16_default(device) if config.bf16 is None else config.bf16

    # the epochs, from the first or from where the run folder's state stopped
    history: list[dict] = []
    best = {"epoch": 0, "val_acc": -1.0, "val_loss": math.inf}
    seconds = 0.0
    if resume:
        state = load_state(folder.state_path, model, opt, gen)
        best, seconds = state["best"], state["seconds"]
        history = folder.read_history()[: state["epoch"]]
    bar = epoch_bar(len(history), config.epochs, progress, desc=f"{net.model_name}/{net.config.get('activation')}")
    for epoch in range(len(history) + 1, config.epochs + 1):
        t0 = time.perf_counter()
        row = train_epoch(config, epoch, model, opt, gen, (Xtr, ytr), bf16, ch_names=dataset.ch_names,
                          frozen=frozen, mix=mix)
        if options.curves or epoch == config.epochs:
            measure(config, model, row, Xtr, parts)
        else:
            row.update(val_loss=math.nan, val_acc=math.nan, test_loss=math.nan, test_acc=math.nan)
        history.append(row)
        seconds += time.perf_counter() - t0
        best = select_and_save(folder, history, best, len(val) > 0, model, opt, gen, meta, seconds)
        bar.update(row)
        if on_epoch is not None:
            on_epoch(epoch, row)
    bar.close()
    summary = dict(summarize(config, net, history, best["epoch"], seconds), bf16=bf16, compute_path=net.compute_path)
    if folder is not None:
        folder.write_summary(summary)
    return summary, model.eval()


def fit(config: RunConfig, dataset: EEGDataset, run_dir: str | Path | None = None, progress: bool | None = None,
        resume: bool = False, on_epoch: Callable[[int, dict], None] | None = None) -> dict:
    """:func:`train_model`'s summary (the run folder, when given, holds the rest)."""
    return train_model(config, dataset, run_dir, progress=progress, resume=resume, on_epoch=on_epoch)[0]


def run_training(config: RunConfig, run_dir, progress: bool | None = None, resume: bool = False,
                 on_epoch=None) -> dict:
    """Load ``config.dataset`` and :func:`fit` into ``run_dir``."""
    from eegclf.data import load_dataset

    dataset = load_dataset(config.dataset, data_dir=config.data_dir, **config.dataset_options)
    return fit(config, dataset, run_dir, progress=progress, resume=resume, on_epoch=on_epoch)


# ---- the named parts of train_model, in the order it uses them ----

def train_epoch(config: RunConfig, epoch: int, model, opt, gen: torch.Generator, data, bf16: bool,
                ch_names=None, frozen=(), mix=None) -> dict:
    """One pass over the training tensors ``data = (X, y)`` in the order ``gen`` draws, one optimiser step per
    batch (max-norm after each, as Keras does); returns the epoch's history row with the training loss and
    accuracy. bf16 autocast covers the training pass only. TrainingError when the loss is no longer finite.
    ``ch_names`` (the trials' channels) are what the ``capsubset`` augmentation restricts. ``frozen``: modules
    kept in eval mode (see :attr:`FitOptions.trainable`). ``mix``: ``(X, y, weight)`` tensors mixed into every
    step (:attr:`FitOptions.mix`); the row's loss and accuracy are the training trials' alone."""
    X, y = data
    n, bs = len(X), config.batch_size
    model.train()
    for module in frozen:
        module.eval()
    augment = None
    if parse_augment(config.augment):  # seeded by (seed, epoch): a resumed run draws what the first one drew
        augment = Augmenter(config.augment, config.seed, ch_names=ch_names)
        augment.start_epoch(epoch)
    autocast = torch.autocast(X.device.type, dtype=torch.bfloat16, enabled=bf16)
    perm = torch.randperm(n, generator=gen).to(X.device)
    loss_sum = torch.zeros((), device=X.device)
    correct = torch.zeros((), dtype=torch.long, device=X.device)
    for i in range(0, n, bs):
        idx = perm[i : i + bs]
        yb = y[idx]
        if mix is not None:  # as many of the extra trials as the batch holds, drawn by the seeded generator
            extra = torch.randint(len(mix[0]), (len(idx),), generator=gen).to(X.device)
            xb, yb = torch.cat([X[idx], mix[0][extra]]), torch.cat([yb, mix[1][extra]])
            if augment is not None:
                xb = augment(xb)
        else:  # the augmenter reads the batch's trials in place (no gathered copy first)
            xb = X[idx] if augment is None else augment(X, idx)
        opt.zero_grad(set_to_none=True)
        with autocast:
            out = model(xb)
        if mix is None:
            loss = F.cross_entropy(out.float(), yb)
            loss.backward()
        else:  # the training trials weighted by mix's weight, the extra ones by 1; the row reports the former
            each = F.cross_entropy(out.float(), yb, reduction="none")
            w = torch.ones_like(each)
            w[: len(idx)] = mix[2]
            (each * w).sum().div(w.sum()).backward()
            out, yb, loss = out[: len(idx)], yb[: len(idx)], each[: len(idx)].mean()
        opt.step()
        model.apply_constraints()  # max-norm after every optimiser step, as Keras does
        loss_sum += loss.detach() * len(idx)
        correct += (out.detach().argmax(1) == yb).sum()
    row = {"epoch": epoch, "train_loss": loss_sum.item() / n, "train_acc": correct.item() / n}
    if not math.isfinite(row["train_loss"]):  # every later epoch would be NaN too: stop and say why
        raise TrainingError(f"training diverged in epoch {epoch}: the training loss is {row['train_loss']}; "
                            f"try a lower learning rate than lr={config.lr:g}")
    return row


def measure(config: RunConfig, model, row: dict, Xtr, parts: dict) -> None:
    """Re-estimate BatchNorm (if asked) and add each part's loss and accuracy to ``row`` (NaN when empty)."""
    if config.bn_recalibrate:
        recalibrate_batchnorm(model, Xtr)
    for part, (X, y) in parts.items():
        row[f"{part}_loss"], row[f"{part}_acc"] = evaluate_tensors(model, X, y) if len(X) else (math.nan, math.nan)


def select_and_save(folder: RunDir | None, history: list[dict], best: dict, has_val: bool, model, opt, gen,
                    meta: dict, seconds: float) -> dict:
    """Choose on validation: the last row of ``history`` becomes ``best`` when its validation accuracy is higher
    (ties: lower loss), or always without a validation part. With a run folder, write the checkpoints, the
    history and, last, the training state (what ``--resume`` trusts). Returns the (new) ``best``."""
    row = history[-1]
    improved = not has_val or row["val_acc"] > best["val_acc"] or (  # no validation: the last epoch
        row["val_acc"] == best["val_acc"] and row["val_loss"] < best["val_loss"])
    if improved:
        best = {"epoch": row["epoch"], "val_acc": row["val_acc"], "val_loss": row["val_loss"]}
    if folder is not None:
        meta = dict(meta, epoch=row["epoch"], metrics=row)
        if improved:
            save_checkpoint(folder.checkpoint_path("best"), model, dict(meta, kind="best"))
        save_checkpoint(folder.checkpoint_path("last"), model, dict(meta, kind="last"))
        folder.write_history(history)
        save_state(folder.state_path, model, opt, gen, epoch=row["epoch"], best=best, seconds=seconds)
    return best


def fit_classical(config: RunConfig, dataset: EEGDataset, clf, train: Split, val: Split,
                  folder: RunDir | None) -> tuple[dict, object]:
    """A classical pipeline: one fit, one history row, the same checkpoint as "best" and "last"."""
    meta = checkpoint_meta(config, dataset, clf, [], [])
    t0 = time.perf_counter()
    clf.fit(train.X, train.y)
    row = {"epoch": 1}
    for part, s in (("train", train), ("val", val), ("test", dataset.test)):
        row[f"{part}_loss"], row[f"{part}_acc"] = loss_and_accuracy(clf, s.X, s.y) if len(s) else (math.nan, math.nan)
    history = [row]
    if folder is not None:
        meta = dict(meta, epoch=1, metrics=row)
        save_checkpoint(folder.checkpoint_path("best"), clf, dict(meta, kind="best"))
        save_checkpoint(folder.checkpoint_path("last"), clf, dict(meta, kind="last"))
        folder.write_history(history)
    return summarize(config, clf, history, 1, time.perf_counter() - t0), clf


# ---- the pieces they share ----

def check_split(split: Split, part: str, n_classes: int) -> None:
    """Refuse data the loop cannot learn from or measure honestly, with a message saying why."""
    if len(split) == 0:
        raise DataError(f"the {part} part has zero trials")
    if split.X.ndim != 4 or split.X.shape[1] != 1:
        raise DataError(f"the {part} part: X must have shape (trials, 1, channels, time), found {split.X.shape}")
    if not np.isfinite(split.X).all():
        raise DataError(f"the {part} part contains NaN or inf values after loading")
    if split.y.min() < 0 or split.y.max() >= n_classes:
        raise DataError(f"the {part} part has labels outside 0..{n_classes - 1}: found {sorted(set(split.y.tolist()))}")


def split_train_val(config: RunConfig, dataset: EEGDataset, require_test: bool = True) -> tuple[Split, Split]:
    from eegclf.data.splits import train_val_indices

    n_classes = dataset.n_classes
    check_split(dataset.train, "train", n_classes)
    if require_test or len(dataset.test):
        check_split(dataset.test, "test", n_classes)
    if len(np.unique(dataset.train.y)) < 2:
        raise DataError(f"the train part has only one class ({dataset.class_names[dataset.train.y[0]]}); need at least 2")
    if config.val_fraction == 0:  # nothing to choose: train on every trial, keep the last epoch
        return dataset.train, dataset.train.subset(np.array([], dtype=np.int64))
    tr, va = train_val_indices(dataset.train, config.val_fraction, config.seed)
    return dataset.train.subset(tr), dataset.train.subset(va)


def build_model(config: RunConfig, dataset: EEGDataset, n_chans: int | None = None):
    """The untrained model of ``config`` for ``dataset``'s shape (``n_chans``: the network's channels where a
    channel map feeds it other ones). Settings left at None (activation, max-norm, dropout) are the model's own
    defaults: ShallowConvNet keeps its square nonlinearity unless asked."""
    entry = get_model(config.model)
    kwargs = dict(config.model_kwargs)
    if entry.is_deep:
        for key, value in (("activation", config.activation), ("max_norm", config.max_norm),
                           ("dropout", config.dropout)):
            if value is not None:
                kwargs.setdefault(key, value)
    net = entry.build(n_chans or dataset.n_chans, dataset.n_times, dataset.n_classes, **kwargs)
    return net.set_fast_path(config.fast_path) if entry.is_deep else net


def checkpoint_meta(config: RunConfig, dataset: EEGDataset, net, mean, std, seen_before=()) -> dict:
    """What a checkpoint says about itself. ``subjects_seen``: every subject whose trials shaped the weights
    (the training part's, after ``seen_before``: those a starting network was trained on), by qualified ids
    (``eegmmidb:S001``, :mod:`eegclf.data.subjects`), so that nobody scores it on them as if they were new
    people; None when ``seen_before`` is None (the starting network does not say whom it saw). ``seen_before``
    may be an :class:`eegclf.data.seen.Seen` (a starting network's records: ids, recordings, trials), carried on."""
    from eegclf.data.seen import Seen

    # whom it saw, by ids, recordings' fingerprints and trial sketches (eegclf.data.seen): the guard's records
    before = seen_before if isinstance(seen_before, Seen) else Seen(
        None if seen_before is None else tuple(map(str, seen_before)))
    seen = Seen.of_training(dataset, before).to_meta()
    return {
        "model": net.model_name,
        "model_config": net.config,
        "activation": net.config.get("activation", NO_ACTIVATION),
        "dataset": dataset.name,
        "dataset_options": dataset.options,
        "test_fingerprint": dataset.test.fingerprint(),
        "n_chans": dataset.n_chans,
        "n_times": dataset.n_times,
        "sfreq": dataset.sfreq,
        "ch_names": list(dataset.ch_names),
        "class_names": list(dataset.class_names),
        "normalization": {"kind": "per-channel z-score, training-part statistics",
                          "mean": [float(v) for v in mean], "std": [float(v) for v in std]},
        "seed": config.seed,
        "compute_path": getattr(net, "compute_path", "reference"),  # which exact path trained it (fast_paths)
        **seen,
        "config": config.to_dict(),
        "versions": package_versions(),
    }


def summarize(config: RunConfig, net, history: list[dict], selected_epoch: int, seconds: float) -> dict:
    selection = ("the epoch with the best validation accuracy" if config.val_fraction > 0
                 else "the last epoch (val_fraction=0: no validation part, every training trial is trained on)")
    sel = history[selected_epoch - 1]
    last = history[-1]
    # first epoch with the highest test accuracy (epochs not measured, curves=False, hold NaN)
    lab = max(history, key=lambda r: r["test_acc"] if math.isfinite(r["test_acc"]) else -math.inf)
    n_params = sum(p.numel() for p in net.parameters()) if get_model(net.model_name).is_deep else 0
    return {
        "model": net.model_name,
        "activation": net.config.get("activation", NO_ACTIVATION),
        "dataset": config.dataset,
        "seed": config.seed,
        "epochs": len(history),
        "n_params": int(n_params),
        "selected_epoch": selected_epoch,
        "val_acc_selected": sel["val_acc"],
        "test_acc_val_selected": sel["test_acc"],
        "test_loss_val_selected": sel["test_loss"],
        "test_acc_last": last["test_acc"],
        "test_loss_last": last["test_loss"],
        "lab_best_epoch": lab["epoch"],
        "test_acc_lab_best_epoch": lab["test_acc"],
        "metric_notes": {
            "test_acc_val_selected": "test accuracy of the epoch with the best validation accuracy (honest)",
            "test_acc_last": "test accuracy after the last epoch (honest)",
            "test_acc_lab_best_epoch": "the original study's metric: epoch chosen on the test set itself (optimistic)",
        },
        "selection": selection,
        "seconds": round(seconds, 3),
        "versions": package_versions(),
    }


def freeze_except(net, prefixes: tuple[str, ...]) -> list:
    """Train only the parameters of ``net`` whose names start with one of ``prefixes``; returns the leaf modules
    outside them (kept in eval mode while training). ConfigError when no parameter matches."""
    prefixes = tuple(prefixes)
    if not any(name.startswith(prefixes) for name, _ in net.named_parameters()):
        raise ConfigError(f"{net.model_name} has no layer {' or '.join(p.rstrip('.') for p in prefixes)} to train "
                          "(the others frozen)", param="finetune_layers")
    for name, param in net.named_parameters():
        param.requires_grad_(name.startswith(prefixes))
    return [m for name, m in net.named_modules()
            if name and next(m.children(), None) is None and not (name + ".").startswith(prefixes)]


def make_optimizer(config: RunConfig, model) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]  # frozen layers (FitOptions.trainable): none
    # foreach: every parameter updated by one call per operation (on CPU torch defaults to a Python loop over
    # them): the same arithmetic, bit for bit, about a quarter of the optimiser's time less
    if config.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay, foreach=True)
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=0.9, weight_decay=config.weight_decay, foreach=True)
    return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay, foreach=True)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device={name!r} asked for CUDA, but no CUDA device is available")
    return torch.device(name)


def bf16_default(device: torch.device) -> bool:
    """Whether bf16 autocast is on when ``RunConfig.bf16`` is None: where the hardware computes it natively.

    CPUs with AVX-512 BF16 or AMX (elsewhere bf16 is emulated and slower than fp32); CUDA GPUs with bf16.
    """
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    cpu = torch.cpu
    return any(getattr(cpu, f, lambda: False)() for f in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"))


def _on(device: torch.device, part: Split) -> tuple[torch.Tensor, torch.Tensor]:
    """A part's trials and labels as tensors on ``device``."""
    return torch.from_numpy(np.ascontiguousarray(part.X)).to(device), torch.from_numpy(part.y).to(device)


__all__ = ["FitOptions", "fit", "train_model", "run_training"]
