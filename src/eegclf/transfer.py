"""Learning from many people to decode a new one: cross-subject pre-training and per-user fine-tuning.

- :func:`pretrain` trains one network on every trial of the listed subjects (optionally each subject
  Euclidean-aligned on its own trials) and writes a run folder whose ``pretrained`` checkpoint also records
  the subjects it saw and the alignment the network expects.
- :func:`finetune` starts from such a network (an :class:`Init`) and trains it further on one user's
  calibration trials. With alignment, the user's reference is fitted on those calibration trials alone and
  baked into the returned model (``Standardized.spatial``), so the model takes the user's raw trials.
- :func:`zero_shot` is the pre-trained network as it is, with nothing of the new user: the input
  normalisation and the BatchNorm statistics are the pre-training pool's, as stored in the checkpoint.
- :func:`pretrained_renorm` is the network untouched, but its input normalisation (and alignment, if any)
  re-estimated on the user's unlabelled calibration trials.

The defaults below are the recommended recipe; the README's "Calibrate for a new user" section gives the
benchmark runs behind them. May import: config, data, models, training, checkpoint, rundir, errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from eegclf.config import RunConfig
from eegclf.data.base import EEGDataset, Split
from eegclf.errors import CheckpointError, ConfigError

# the pre-training recipe (eegclf pretrain's defaults); data window and band: the benchmark's "deep" preset
PRETRAIN_DEFAULTS = {"model": "eegnet", "epochs": 40, "batch_size": 32, "optimizer": "adamw", "lr": 1e-3,
                     "weight_decay": 1e-2, "bn_recalibrate": True}
ALIGNMENTS = ("none", "euclidean")
# Euclidean alignment is available but off: on S001-S012 (run-split, networks pre-trained on the other half of
# the subjects) it did not help: fine-tuned 0.628 with it, 0.672 without (Wilcoxon p 0.36; README "Accuracy")
DEFAULT_ALIGNMENT = "none"
# fine-tuning on a user's calibration trials (train --init, the benchmark's finetune pipeline): every layer
FINETUNE_DEFAULTS = {"epochs": 50, "lr": 5e-4}


@dataclass(frozen=True)
class Init:
    """A network to start from: its state dict, how to rebuild it, what input it expects and whom it saw."""

    model: str
    model_config: dict
    state: dict
    alignment: str = "none"
    subjects_seen: tuple[str, ...] | None = ()  # None: the checkpoint does not say (made before eegclf 0.x)
    ch_names: tuple[str, ...] = ()
    sfreq: float = 0.0
    n_times: int = 0
    class_names: tuple[str, ...] = ()
    source: str = "a network"
    # the pre-training pool's input normalisation (per channel; zero_shot uses it), when the checkpoint has it
    mean: np.ndarray | None = field(default=None, compare=False)
    std: np.ndarray | None = field(default=None, compare=False)

    @classmethod
    def from_checkpoint(cls, path) -> "Init":
        """The network of a deep eegclf checkpoint (read without unpickling)."""
        from eegclf.checkpoint import read_checkpoint
        from eegclf.models import get_model

        tensors, meta = read_checkpoint(path)
        if not get_model(meta.get("model", "?")).is_deep:
            raise CheckpointError(f"checkpoint {path} holds the classical model {meta['model']!r}; "
                                  "only deep networks can be fine-tuned")
        if "model.spatial" in tensors:
            raise CheckpointError(f"checkpoint {path} is already calibrated to one user (it carries that user's "
                                  "alignment); start from the pre-trained checkpoint instead")
        state = {k[len("model.net."):]: v for k, v in tensors.items() if k.startswith("model.net.")}
        stats = {k: tensors[f"model.{k}"].detach().cpu().numpy() for k in ("mean", "std") if f"model.{k}" in tensors}
        return cls(meta["model"], dict(meta["model_config"]), state, meta.get("alignment", "none"),
                   tuple(meta["subjects_seen"]) if "subjects_seen" in meta else None, tuple(meta.get("ch_names", ())),
                   float(meta.get("sfreq", 0.0)), int(meta.get("n_times", 0)),
                   tuple(meta.get("class_names", ())), f"checkpoint {path}", stats.get("mean"), stats.get("std"))

    @classmethod
    def from_model(cls, model, seen, alignment: str = "none") -> "Init":
        """The network of a trained :class:`Standardized` model (the benchmark's cross-subject models)."""
        return cls(model.net.model_name, dict(model.net.config), model.net.state_dict(), alignment,
                   tuple(str(s) for s in seen), mean=model.mean.detach().cpu().numpy(),
                   std=model.std.detach().cpu().numpy())

    @property
    def net_kwargs(self) -> dict:
        """The network's own constructor options (its shape comes from the data)."""
        return {k: v for k, v in self.model_config.items() if k not in ("n_chans", "n_times", "n_outputs")}

    def check_fits(self, dataset: EEGDataset) -> None:
        """Refuse data whose channels, rate, window or classes differ from the network's, in one line."""
        differ = []
        if self.ch_names and list(self.ch_names) != list(dataset.ch_names):
            differ.append(f"channels ({len(self.ch_names)}: {_short(self.ch_names)} against the data's "
                          f"{dataset.n_chans}: {_short(dataset.ch_names)})")
        if self.sfreq and abs(self.sfreq - dataset.sfreq) > 1e-6:
            differ.append(f"sampling rate ({self.sfreq:g} Hz against the data's {dataset.sfreq:g} Hz)")
        if self.n_times and self.n_times != dataset.n_times:
            differ.append(f"window ({self.n_times} samples against the data's {dataset.n_times})")
        if self.class_names and list(self.class_names) != list(dataset.class_names):
            differ.append(f"classes ({', '.join(self.class_names)} against the data's "
                          f"{', '.join(dataset.class_names)})")
        if differ:
            raise CheckpointError(f"{self.source} does not fit the data: " + "; ".join(differ))

    def saw(self, subject) -> bool:
        """Whether the network was trained on ``subject``; True when the checkpoint does not say (unknown)."""
        return self.subjects_seen is None or str(subject) in self.subjects_seen

    def check_unseen(self, subjects) -> None:
        """Refuse to test on a subject the network was trained on, or any subject when it does not say whom."""
        if self.subjects_seen is None:
            raise CheckpointError(f"{self.source} does not record the subjects it was trained on, so it cannot "
                                  "be scored on new people honestly; pre-train with eegclf pretrain")
        seen = [s for s in dict.fromkeys(str(s) for s in subjects) if s in set(self.subjects_seen)]
        if seen:
            raise CheckpointError(f"{self.source} was pre-trained on subject {', '.join(seen)}, which is to be "
                                  "tested: its score would not be that of a new user; pre-train without it "
                                  f"(it saw {', '.join(self.subjects_seen)})")


def _short(names) -> str:
    names = list(names)
    return ",".join(names[:4]) + (",..." if len(names) > 4 else "")


def _one_subject_whitener(init: Init, calibration: Split):
    """The user's alignment whitener from the calibration trials (None when the network needs none)."""
    from eegclf.data.alignment import reference_whitener

    if init.alignment == "none":
        return None
    subjects = np.unique(calibration.subjects)
    if len(subjects) != 1:
        raise ConfigError(f"{init.source} expects Euclidean-aligned input, and a calibrated model carries one "
                          f"user's alignment: the calibration trials must come from one subject, found "
                          f"{len(subjects)} ({', '.join(subjects[:5])})")
    return reference_whitener(calibration.X)


def finetune_config(config: RunConfig, init: Init, *, epochs: int | None = None, lr: float | None = None) -> RunConfig:
    """``config`` for fine-tuning ``init``: its model and constructor arguments, the fine-tuning epochs and
    learning rate (defaults :data:`FINETUNE_DEFAULTS`), and nothing chosen on validation."""
    return replace(config, model=init.model, model_kwargs=init.net_kwargs, activation=None, dropout=None,
                   max_norm=None, val_fraction=0.0, epochs=epochs or FINETUNE_DEFAULTS["epochs"],
                   lr=lr or FINETUNE_DEFAULTS["lr"])


def finetune(init: Init, config: RunConfig, dataset: EEGDataset, run_dir=None, progress: bool | None = False,
             curves: bool = True):
    """``(summary, model)``: ``init`` trained further on ``dataset``'s training part (the user's calibration
    trials) with ``config`` (see :func:`finetune_config`), tested on its test part. Nothing about the test
    trials is used before prediction: the normalisation and the alignment are fitted on the training part."""
    from eegclf.training import train_model

    init.check_fits(dataset)
    spatial = _one_subject_whitener(init, dataset.train)
    return train_model(config, dataset, run_dir, progress=progress, init_state=init.state, curves=curves,
                       spatial=spatial, seen_before=init.subjects_seen or ())


def run_finetuning(init_path, config: RunConfig, run_dir, *, epochs: int | None = None, lr: float | None = None,
                   model: str | None = None, progress: bool | None = None) -> dict:
    """``eegclf train --init``: load ``config``'s data, refuse a checkpoint that does not fit it or that saw a
    tested subject, fine-tune into ``run_dir`` (a normal run folder) and return the summary. ``epochs``/``lr``:
    None for the fine-tuning defaults; ``model``: the model the user asked for, if any (it must be CKPT's)."""
    from eegclf.data import load_dataset
    from eegclf.models import canonical_name

    init = Init.from_checkpoint(init_path)
    if model and canonical_name(model) != canonical_name(init.model):
        raise ConfigError(f"model={model!r} differs from the checkpoint's {init.model!r}: fine-tuning "
                          "continues the checkpoint's own network (leave the model out)", param="model")
    dataset = load_dataset(config.dataset, data_dir=config.data_dir, **config.dataset_options)
    init.check_fits(dataset)
    init.check_unseen(dataset.test.subjects)
    tuned = finetune_config(config, init, epochs=epochs, lr=lr)
    return finetune(init, tuned, dataset, run_dir, progress=progress)[0]


def _network(init: Init, template: EEGDataset):
    from eegclf.models import get_model

    init.check_fits(template)
    net = get_model(init.model).build(template.n_chans, template.n_times, template.n_classes, **init.net_kwargs)
    net.load_state_dict(init.state)
    return net


def zero_shot(init: Init, calibration: Split | None, template: EEGDataset):
    """The pre-trained network as it is, for a user of whom nothing is known (``calibration=None``): the input
    normalisation and the BatchNorm statistics are the pre-training pool's, stored in the checkpoint.

    A network pre-trained on Euclidean-aligned trials needs the user's own trials to align them, so it is
    refused here (use :func:`pretrained_renorm`). ``calibration`` given (older callers): the same as
    :func:`pretrained_renorm`."""
    import torch

    from eegclf.models.standardize import Standardized

    if calibration is not None:
        return pretrained_renorm(init, calibration, template)
    check_zero_shot(init)
    net = _network(init, template)
    mean, std = (torch.as_tensor(np.asarray(v, dtype=np.float32)) for v in (init.mean, init.std))
    return Standardized(net, mean, std).eval()


def check_zero_shot(init: Init) -> None:
    """Refuse a network that cannot be used on a user of whom nothing is known, naming why."""
    if init.alignment != "none":
        raise ConfigError(f"{init.source} expects {init.alignment}-aligned input, and aligning needs the new "
                          "person's own trials: zero-shot uses none (use pretrained-renorm or finetune)",
                          param="models")
    if init.mean is None or init.std is None:
        raise CheckpointError(f"{init.source} does not store its input normalisation, which zero-shot needs")


def pretrained_renorm(init: Init, calibration: Split, template: EEGDataset):
    """The pre-trained network, untouched, aligned to the user by its calibration trials (labels unused).

    The input normalisation (per-channel z-score, as in training) is re-estimated on the (aligned)
    calibration trials; BatchNorm keeps the pre-trained statistics. No calibration trial: :func:`zero_shot`."""
    import torch

    from eegclf.data.alignment import apply_whitener
    from eegclf.models.standardize import Standardized, channel_stats

    if len(calibration) == 0:
        return zero_shot(init, None, template)
    net = _network(init, template)
    spatial = _one_subject_whitener(init, calibration)
    X = calibration.X if spatial is None else apply_whitener(calibration.X, spatial)
    mean, std = channel_stats(X)
    return Standardized(net, mean, std, None if spatial is None else torch.as_tensor(spatial)).eval()


def pretrain(config: RunConfig, dataset: EEGDataset, out, alignment: str = DEFAULT_ALIGNMENT,
             progress: bool | None = None) -> Path:
    """Train ``config.model`` on every trial of ``dataset`` (both parts, all subjects; no validation, no test)
    into the run folder ``out``; returns the path of its ``pretrained`` checkpoint.

    With ``alignment="euclidean"`` each subject's trials are whitened by that subject's own reference first.
    The checkpoint records the subjects it saw (benchmarks refuse to test them) and the alignment."""
    from eegclf.checkpoint import read_checkpoint
    from eegclf.data.alignment import align_subjects
    from eegclf.data.splits import pooled
    from eegclf.models import get_model
    from eegclf.rundir import RunDir
    from eegclf.training import train_model

    if alignment not in ALIGNMENTS:
        raise ConfigError(f"alignment={alignment!r} is unknown; valid: {', '.join(ALIGNMENTS)}", param="alignment")
    if not get_model(config.model).is_deep:
        raise ConfigError(f"model={config.model!r} is a classical pipeline; pre-training needs a deep network "
                          "(e.g. eegnet)", param="model")
    pool = pooled(dataset)
    if alignment == "euclidean":
        pool = align_subjects(pool)
    empty = pool.subset(np.array([], dtype=np.int64))
    run = RunDir(out)
    _, model = train_model(replace(config, val_fraction=0.0), dataset.with_splits(pool, empty), run.path,
                progress=progress, curves=False, require_test=False)
    _, meta = read_checkpoint(run.checkpoint_path("last"))  # the last epoch's metadata, extended below
    subjects = list(dict.fromkeys(pool.subjects.tolist()))
    meta.update(subjects_seen=subjects, alignment=alignment, n_trials_seen=len(pool),
                note="pre-trained on every trial of subjects_seen" + (
                    ", each Euclidean-aligned on its own trials: the input must be aligned "
                    "(train --init fits a new user's alignment)" if alignment == "euclidean" else ""))
    return run.save_checkpoint("pretrained", model, meta)


__all__ = ["Init", "pretrain", "finetune", "finetune_config", "run_finetuning", "zero_shot", "pretrained_renorm",
           "check_zero_shot", "PRETRAIN_DEFAULTS",
           "FINETUNE_DEFAULTS", "ALIGNMENTS", "DEFAULT_ALIGNMENT"]
