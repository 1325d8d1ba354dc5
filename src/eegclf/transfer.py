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
  re-estimated on the user's unlabelled calibration trials; :func:`adabn` re-estimates every BatchNorm
  layer's statistics on them too. Fine-tuning choices beyond the recipe: :mod:`eegclf.adaptation`.

The defaults below are the recommended recipe; the README's "Calibrate for a new user" section gives the
benchmark runs behind them. May import: config, data, models, training, checkpoint, rundir, errors.

Subjects are recorded by qualified ids (``eegmmidb:S001``, :mod:`eegclf.data.subjects`), so that a network
pre-trained on one data set is never taken as unseen on the same people of another, and never refused on
other people who share a bare id. A network that does not record whom it saw stays unknown, fine-tuned or not.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from eegclf.config import RunConfig
from eegclf.data.base import EEGDataset, Split
from eegclf.data.subjects import bare, is_qualified, same_subject, subject_id, subject_ids
from eegclf.errors import CheckpointError, ConfigError
from eegclf.data.seen import Seen

# the pre-training recipe (eegclf pretrain's defaults); data window and band: the benchmark's "deep" preset
# The recipe was chosen on a design group of people only (benchmarks/transfer_recipe.py: S001-S012, three folds of
# four whole people, pre-trained on the other eight, fine-tuned on runs 4+8 and tested on run 12): of alignment
# none/euclidean x augmentation off/on, augmentation without alignment fine-tuned best (0.706 against 0.644
# without augmentation, 0.656 aligned, 0.628 both). None of the people the README reports transfer on (the other
# 44) took part in that choice.
PRETRAIN_DEFAULTS = {"model": "eegnet", "epochs": 40, "batch_size": 32, "optimizer": "adamw", "lr": 1e-3,
                     "weight_decay": 1e-2, "bn_recalibrate": True, "augment": "shift,scale,chdrop"}
ALIGNMENTS = ("none", "euclidean")
# Euclidean alignment is available but off: on the design group (above) it did not help
DEFAULT_ALIGNMENT = "none"
# fine-tuning on a user's calibration trials, every layer: the one recipe of train --init and of the benchmark's
# finetune pipelines (finetune, cross-subject-finetune), where no value given by the user says otherwise. The
# README's transfer tables were measured with it (the deep preset's batch, optimiser, weight decay and BatchNorm
# re-estimation; 50 epochs at lr 5e-4, fixed before any result)
FINETUNE_RECIPE = {"epochs": 50, "lr": 5e-4, "batch_size": 16, "optimizer": "adamw", "weight_decay": 1e-2,
                   "bn_recalibrate": True}
# the data options that shape what a network takes in (classes, channels, window, band, reference, rate):
# train --init and benchmark --init load the new user's data with the checkpoint's unless the user says otherwise
INPUT_OPTIONS = ("task", "moabb_dataset", "paradigm", "events", "channels", "cap", "tmin", "tmax", "l_freq", "h_freq",
                 "reference", "resample", "n_chans", "n_times", "sfreq")


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
    dataset: str = ""  # the data set it was trained on, and the options it was loaded with (from a checkpoint)
    data_options: dict = field(default_factory=dict)
    # the pre-training pool's input normalisation (per channel; zero_shot uses it), when the checkpoint has it
    mean: np.ndarray | None = field(default=None, compare=False)
    std: np.ndarray | None = field(default=None, compare=False)
    path: str = ""  # the checkpoint file it was read from ("" when made from a model in memory)
    # whom it saw by recordings and trials too (eegclf.data.seen); its ``subjects`` are ``subjects_seen``
    seen: Seen = field(default_factory=Seen, compare=False)
    # an ensemble checkpoint's networks (eegclf.storage.ensembles), each an Init of its own; () for one network.
    # The ensemble's own fields are the shared ones (input, data options) and whom any member saw.
    members: tuple = field(default=(), compare=False)

    @classmethod
    def from_checkpoint(cls, path) -> "Init":
        """The network of a deep eegclf checkpoint (read without unpickling); ``path`` may be the name of a
        network that ships with eegclf."""
        from eegclf.storage.checkpoint import read_checkpoint
        from eegclf.pretrained import resolve

        from eegclf.storage.ensembles import is_ensemble, member_meta, member_tensors

        path = resolve(path)
        tensors, meta = read_checkpoint(path)
        if is_ensemble(meta):  # each member read as a checkpoint of its own, guarded by whom any member saw
            k = int(meta["ensemble"]["k"])
            parts = member_tensors(tensors, k)
            union = cls._from_tensors(path, {}, meta)
            members = tuple(replace(cls._from_tensors(path, parts[i], member_meta(meta, i)),
                                    subjects_seen=union.subjects_seen, seen=union.seen) for i in range(k))
            return replace(members[0], members=members, state={}, mean=None, std=None,
                           subjects_seen=union.subjects_seen, seen=union.seen)
        return cls._from_tensors(path, tensors, meta)

    @classmethod
    def _from_tensors(cls, path, tensors: dict, meta: dict) -> "Init":
        """One network of a checkpoint: its tensors (``model.*``) and metadata."""
        from eegclf.models import get_model

        if not get_model(meta.get("model", "?")).is_deep:
            raise CheckpointError(f"checkpoint {path} holds the classical model {meta['model']!r}; "
                                  "only deep networks can be fine-tuned")
        if "model.spatial" in tensors:
            raise CheckpointError(f"checkpoint {path} is already calibrated to one user (it carries that user's "
                                  "alignment); start from the pre-trained checkpoint instead")
        state = {k[len("model.net."):]: v for k, v in tensors.items() if k.startswith("model.net.")}
        stats = {k: tensors[f"model.{k}"].detach().cpu().numpy() for k in ("mean", "std") if f"model.{k}" in tensors}
        subjects = _recorded_subjects(meta)
        return cls(meta["model"], dict(meta["model_config"]), state, meta.get("alignment", "none"),
                   subjects, tuple(meta.get("network_ch_names") or meta.get("ch_names", ())),
                   float(meta.get("sfreq", 0.0)), int(meta.get("n_times", 0)),
                   tuple(meta.get("class_names", ())), f"checkpoint {path}", str(meta.get("dataset", "")),
                   dict(meta.get("dataset_options") or {}), stats.get("mean"), stats.get("std"),
                   str(Path(path).resolve()), replace(Seen.from_meta(meta), subjects=subjects))

    @classmethod
    def from_model(cls, model, seen, alignment: str = "none") -> "Init":
        """The network of a trained :class:`Standardized` model (the benchmark's cross-subject models);
        ``seen``: the qualified ids of the subjects it was trained on."""
        return cls(model.net.model_name, dict(model.net.config), model.net.state_dict(), alignment,
                   tuple(str(s) for s in seen), seen=Seen(tuple(str(s) for s in seen)),
                   mean=model.mean.detach().cpu().numpy(), std=model.std.detach().cpu().numpy())

    @property
    def net_kwargs(self) -> dict:
        """The network's own constructor options (its shape comes from the data)."""
        return {k: v for k, v in self.model_config.items() if k not in ("n_chans", "n_times", "n_outputs")}

    def input_options(self, dataset: str) -> dict:
        """The options the network's training data were loaded with that shape its input
        (:data:`INPUT_OPTIONS`) and that the loader of data set ``dataset`` takes: the defaults for loading a
        new user's data. For another data set than the checkpoint's, only the window, band, reference, cap and
        rate options (not its task, MOABB data set or paradigm, nor its channel picks: another data set's
        recordings are loaded with their own channels, which are matched to the network's by name)."""
        from eegclf.data import dataset_defaults

        if not self.dataset:
            return {}
        known = dataset_defaults(dataset)
        same = dataset == self.dataset
        return {k: v for k, v in self.data_options.items()
                if k in INPUT_OPTIONS and k in known and (same or k not in ("task", "moabb_dataset", "paradigm",
                                                                            "channels"))}

    def check_fits(self, dataset: EEGDataset) -> None:
        """Refuse data whose channels, rate, window, band, reference or classes differ from the network's, in
        one line. Band, reference and window start are compared where both record them."""
        differ = []
        self.channel_match(dataset)  # channels are matched by name: refused only when they cannot be
        if self.sfreq and abs(self.sfreq - dataset.sfreq) > 1e-6:
            differ.append(f"sampling rate ({self.sfreq:g} Hz against the data's {dataset.sfreq:g} Hz)")
        if self.n_times and self.n_times != dataset.n_times:
            differ.append(f"window ({self.n_times} samples against the data's {dataset.n_times})")
        mine, theirs = self.data_options, dataset.options
        both = [k for k in ("tmin", "l_freq", "h_freq", "reference") if k in mine and k in theirs]
        if "tmin" in both and not _same_value(mine["tmin"], theirs["tmin"]):
            differ.append(f"window start ({_value(mine['tmin'], 's')} against the data's "
                          f"{_value(theirs['tmin'], 's')})")
        if any(not _same_value(mine[k], theirs[k]) for k in ("l_freq", "h_freq") if k in both):
            differ.append(f"band ({_band(mine, both)} against the data's {_band(theirs, both)})")
        if "reference" in both and mine["reference"] != theirs["reference"]:
            differ.append(f"reference ({mine['reference'] or 'as recorded'} against the data's "
                          f"{theirs['reference'] or 'as recorded'})")
        if self.class_names and list(self.class_names) != list(dataset.class_names):
            differ.append(f"classes ({', '.join(self.class_names)} against the data's "
                          f"{', '.join(dataset.class_names)})")
        if differ:
            raise CheckpointError(f"{self.source} does not fit the data: " + "; ".join(differ))

    def channel_match(self, dataset: EEGDataset):
        """How ``dataset``'s channels meet the network's, matched by name (:func:`eegclf.data.channels.
        match_channels`); None when they are the network's in its order (or the network names none).
        CheckpointError when they cannot be matched (unknown, repeated, too few)."""
        from eegclf.data.channels import match_channels
        from eegclf.errors import DataError

        if not self.ch_names:
            return None
        try:
            match = match_channels(dataset.ch_names, self.ch_names, (dataset.info or {}).get("ch_pos"),
                                   what=f"the data ({dataset.name})")
        except DataError as exc:
            raise CheckpointError(f"{self.source} does not fit the data: {exc}") from None
        return None if match.identity else match

    def channel_map(self, dataset: EEGDataset):
        """``(matrix, network channel names)``: the map from ``dataset``'s channels to the network's, said in
        one line on stderr (once per process and case); None when the data give the network's channels."""
        match = self.channel_match(dataset)
        if match is None:
            return None
        report_once(f"{self.source}: {match.note()}")
        return match.matrix(), list(self.ch_names)

    def saw(self, subject, dataset: EEGDataset | None = None) -> bool:
        """Whether the network was (or may have been) trained on ``subject``, a qualified id (see
        :mod:`eegclf.data.subjects`; a bare one is compared by its bare part); True when it does not say whom.
        With ``dataset`` (where ``subject`` comes from), also when the recordings of the subject were trained
        on under another id (:mod:`eegclf.data.seen`)."""
        if self.subjects_seen is None or any(same_subject(s, str(subject)) for s in self.subjects_seen):
            return True
        return dataset is not None and self.seen.knows(dataset, bare(subject)) is not None

    def seen_people(self, dataset: EEGDataset, split: Split) -> dict[str, str]:
        """{subject of ``split`` (bare): how it was recognised} for those the network was (or may have been)
        trained on: by id (every one when it does not say whom) or by recordings (:mod:`eegclf.data.seen`)."""
        from eegclf.data.seen import seen_people

        out = seen_people(self.seen, dataset, split, by_id=False)
        for s in dict.fromkeys(split.subjects.tolist()):
            if s not in out and self.saw(subject_id(dataset.name, dataset.options, s)):
                out[s] = "by its id" if self.subjects_seen is not None else "it does not record whom it saw"
        return out

    def check_unseen(self, subjects, dataset: EEGDataset | None = None, split: Split | None = None,
                     what: str = "tested", allow_hint: bool = False) -> None:
        """Refuse to test on a subject the network was trained on, or any subject when it does not say whom;
        ``subjects``: qualified ids. With ``dataset`` and ``split`` (the trials to be tested or calibrated on),
        also the subjects whose recordings it was trained on under another id (:mod:`eegclf.data.seen`).
        ``allow_hint``: the message says how to allow it (where the caller can)."""
        from eegclf.data.seen import HOW_TO_ALLOW, describe, seen_people

        hint = f"; {HOW_TO_ALLOW}" if allow_hint else ""

        if self.subjects_seen is None:
            raise CheckpointError(f"{self.source} does not record the subjects it was trained on, so it cannot "
                                  "be scored on new people honestly; pre-train with eegclf pretrain")
        seen = [s for s in dict.fromkeys(str(s) for s in subjects) if self.saw(s)]
        if seen:
            raise CheckpointError(f"{self.source} was pre-trained on subject {', '.join(map(bare, seen))}, which "
                                  f"is to be {what}: its score would not be that of a new user; pre-train without "
                                  f"it (it saw {', '.join(self.subjects_seen)}){hint}")
        if dataset is not None and split is not None:
            people = seen_people(self.seen, dataset, split, by_id=False)
            if people:
                raise CheckpointError(f"{self.source} was pre-trained on {describe(people)}, which is to be "
                                      f"{what}: its score would not be that of a new user{hint}")


_REPORTED: set = set()


def report_once(note: str) -> None:
    """Print ``note`` on stderr as one ``eegclf: note:`` line, once per process (benchmarks meet the same
    channels in every fold)."""
    import sys

    if note not in _REPORTED:
        _REPORTED.add(note)
        print(f"eegclf: note: {note}", file=sys.stderr)


def _recorded_subjects(meta: dict) -> tuple[str, ...] | None:
    """The checkpoint's ``subjects_seen`` (None: not recorded). A bare id (a checkpoint made before ids were
    qualified) stays bare, so it matches that id of any data set, and is also read as a subject of the
    checkpoint's own data set where that names the person otherwise (MOABB's PhysionetMI ``1``: eegmmidb's
    ``S001``)."""
    recorded = meta.get("subjects_seen")
    if recorded is None:
        return None
    seen = []
    for s in map(str, recorded):
        seen.append(s)
        if not is_qualified(s) and meta.get("dataset"):
            own = subject_id(meta["dataset"], meta.get("dataset_options"), s)
            if bare(own) != s:
                seen.append(own)
    return tuple(dict.fromkeys(seen))


def _same_value(a, b) -> bool:
    if a is None or b is None:
        return a is b
    try:
        return abs(float(a) - float(b)) < 1e-9
    except (TypeError, ValueError):
        return a == b


def _value(v, unit: str) -> str:
    return "none" if v is None else f"{float(v):g} {unit}"


def _band(options: dict, keys) -> str:
    low, high = options.get("l_freq") if "l_freq" in keys else None, options.get("h_freq") if "h_freq" in keys else None
    if low is None and high is None:
        return "unfiltered"
    return f"{'0' if low is None else f'{float(low):g}'}-{'Nyquist' if high is None else f'{float(high):g}'} Hz"


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


def finetune_config(config: RunConfig, init: Init, **given) -> RunConfig:
    """``config`` for fine-tuning ``init``: its model and constructor arguments, nothing chosen on validation,
    and the fine-tuning recipe :data:`FINETUNE_RECIPE` but for the values ``given`` (keys of the recipe:
    epochs, lr, batch_size, optimizer, weight_decay, bn_recalibrate; None: the recipe's). The one place the
    recipe is applied: ``train --init`` and the benchmark's fine-tuning both come here."""
    unknown = sorted(set(given) - set(FINETUNE_RECIPE))
    if unknown:
        raise TypeError(f"finetune_config: {', '.join(unknown)} are not part of the fine-tuning recipe")
    recipe = {**FINETUNE_RECIPE, **{k: v for k, v in given.items() if v is not None}}
    return replace(config, model=init.model, model_kwargs=init.net_kwargs, activation=None, dropout=None,
                   max_norm=None, val_fraction=0.0, **recipe)


def calibration_config(init: Init, given: dict) -> RunConfig:
    """``train --init``'s RunConfig from ``given``, the RunConfig values the user gave (a config file's and the
    flags typed; nothing filled by a default): the data set and the input options (:meth:`Init.input_options`)
    of the checkpoint and the fine-tuning recipe where ``given`` says nothing, then :func:`finetune_config`."""
    from eegclf.models import canonical_name

    given = dict(given)
    model = given.pop("model", None)
    if model and canonical_name(model) != canonical_name(init.model):
        raise ConfigError(f"model={model!r} differs from the checkpoint's {init.model!r}: fine-tuning "
                          "continues the checkpoint's own network (leave the model out)", param="model")
    dataset = given.get("dataset") or init.dataset or RunConfig.dataset
    options = {**init.input_options(dataset), **(given.get("dataset_options") or {})}
    config = RunConfig.from_dict({**given, "dataset": dataset, "dataset_options": options})
    return finetune_config(config, init, **{k: given[k] for k in FINETUNE_RECIPE if k in given})


def finetune(init: Init, config: RunConfig, dataset: EEGDataset, run_dir=None, progress: bool | None = False,
             curves: bool = True, resume: bool = False, layers: str = "all", mix=None):
    """``(summary, model)``: ``init`` trained further on ``dataset``'s training part (the user's calibration
    trials) with ``config`` (see :func:`finetune_config`), tested on its test part. Nothing about the test
    trials is used before prediction: the normalisation and the alignment are fitted on the training part.
    ``layers``: ``all`` trains every layer; ``last`` only the classifier, on the features of
    :func:`adabn`'s network (frozen). ``mix``: an :class:`eegclf.adaptation.Mix`, the
    pre-training people's trials mixed into every step (multi-domain fine-tuning); None: the person's alone."""
    from eegclf.adaptation import mix_sample, trainable
    from eegclf.training.loop import FitOptions, train_model

    from eegclf.data.channels import apply_matrix

    if init.members:
        return _finetune_ensemble(init, config, dataset, run_dir, progress, curves, layers, mix)
    init.check_fits(dataset)
    channel_map = init.channel_map(dataset)
    calibration = dataset.train if channel_map is None else replace(
        dataset.train, X=apply_matrix(channel_map[0], dataset.train.X))
    spatial = _one_subject_whitener(init, calibration)
    prefixes = trainable(layers)
    # the frozen layers are adabn's: BatchNorm statistics of the person's calibration trials (labels unused)
    state = init.state if prefixes is None else adabn(init, dataset.train, dataset).net.state_dict()
    extra = None
    if mix is not None:
        if channel_map is not None:
            raise ConfigError(f"{init.source}: multi-domain fine-tuning mixes in the pre-training trials in the "
                              "network's own channels, and the person's data give other channels",
                              param="finetune_mix")
        extra = mix_sample(mix, init, calibration, config.seed)
    # seen_before None (the starting network does not say whom it saw): the new checkpoint does not say either
    options = FitOptions(init_state=state, spatial=spatial, curves=curves, channel_map=channel_map,
                         seen_before=replace(init.seen, subjects=init.subjects_seen), trainable=prefixes, mix=extra)
    return train_model(config, dataset, run_dir, progress=progress, resume=resume, options=options)


def _ensemble(models):
    from eegclf.models.ensemble import Ensemble

    return Ensemble(list(models)).eval()


def member_dir(run_dir, i: int) -> Path:
    """The run folder of an ensemble's member ``i`` (from 0) inside the ensemble's run folder."""
    return Path(run_dir) / "members" / f"member-{i + 1}"


def _finetune_ensemble(init: Init, config: RunConfig, dataset: EEGDataset, run_dir, progress, curves,
                       layers: str = "all", mix=None):
    """:func:`finetune` of an ensemble: each member fine-tuned on the same trials with the same recipe (member
    i with seed ``config.seed + i``), one after another; ``(summary, Ensemble)``. With ``run_dir``, each
    member's run folder is ``members/member-{i+1}`` (a finished one is taken as it is, an interrupted one
    resumed), and the ensemble's ``last`` (and ``best``) checkpoint is one ensemble file of theirs."""
    from eegclf.evaluation import loss_and_accuracy
    from eegclf.storage.checkpoint import combine_checkpoints, load_checkpoint
    from eegclf.storage.rundir import RunDir

    init.check_fits(dataset)
    if run_dir is not None:
        RunDir(run_dir).create().write_config(config.to_dict())
    summaries, models = [], []
    for i, member in enumerate(init.members):
        cfg = replace(config, model=member.model, model_kwargs=member.net_kwargs, seed=config.seed + i)
        folder = None if run_dir is None else RunDir(member_dir(run_dir, i))
        if folder is not None and folder.is_complete():
            summary, model = folder.read_summary(), load_checkpoint(folder.checkpoint_path("last"))[0]
        else:
            resume = folder is not None and folder.has_state()
            summary, model = finetune(member, cfg, dataset, None if folder is None else folder.path,
                                      progress=progress, curves=curves, resume=resume, layers=layers, mix=mix)
        summaries.append(summary)
        models.append(model)
    ensemble = _ensemble(models)
    loss, acc = (loss_and_accuracy(ensemble, dataset.test.X, dataset.test.y) if len(dataset.test)
                 else (float("nan"), float("nan")))
    summary = {**summaries[0], "seed": config.seed, "n_params": sum(int(s.get("n_params", 0)) for s in summaries),
               "val_acc_selected": float("nan"), "test_acc_val_selected": acc, "test_loss_val_selected": loss,
               "test_acc_last": acc, "test_loss_last": loss, "lab_best_epoch": None, "test_acc_lab_best_epoch": None,
               "seconds": round(sum(float(s.get("seconds", 0.0)) for s in summaries), 3),
               "ensemble": {"k": len(models), "seeds": [config.seed + i for i in range(len(models))],
                            "members_test_acc_last": [s.get("test_acc_last") for s in summaries]},
               "selection": "each member's last epoch; the ensemble averages their softmax probabilities"}
    if run_dir is not None:
        folder = RunDir(run_dir)
        for kind in ("best", "last"):
            paths = [RunDir(member_dir(run_dir, i)).checkpoint_path(kind) for i in range(len(models))]
            if not all(p.is_file() for p in paths):
                continue
            combine_checkpoints(paths, folder.checkpoint_path(kind),
                                {"kind": kind, "metrics": {"test_acc": acc, "test_loss": loss}})
        folder.write_summary(summary)
    return summary, ensemble


def run_finetuning(init: Init, config: RunConfig, run_dir, *, progress: bool | None = None,
                   resume: bool = False, allow_seen: bool = False, layers: str = "all") -> dict:
    """``eegclf train --init``: load ``config``'s data (``config`` from :func:`calibration_config`), refuse a
    checkpoint that does not fit it or that saw a subject to be calibrated on or tested (by id or by the
    recordings: :mod:`eegclf.data.seen`; ``allow_seen``: accept them, and the summary's ``seen_in_training`` names
    them), fine-tune into ``run_dir`` (a normal run folder, which also records the starting checkpoint:
    :func:`resume_init`, and ``layers``, the layers it trains: :func:`finetune`) and return the summary. A
    resumed run trains the layers its folder records."""
    from eegclf.adaptation import check_layers

    check_layers(layers)

    from eegclf.data import load_dataset
    from eegclf.storage.rundir import RunDir

    dataset = load_dataset(config.dataset, data_dir=config.data_dir, **config.dataset_options)
    init.check_fits(dataset)
    seen = {}
    for part, what in ((dataset.test, "tested"), (dataset.train, "calibrated on")):
        if allow_seen:
            seen.update(init.seen_people(dataset, part))
        else:
            init.check_unseen(subject_ids(dataset, part.subjects), dataset, part, what, allow_hint=True)
    if resume:  # the layers it started with (folders from before the choice existed trained every layer)
        layers = (RunDir(run_dir).read_init() or {}).get("finetune_layers", "all")
    if not resume and init.path:
        from eegclf.storage.fileio import file_sha256

        record = {"path": init.path, "sha256": file_sha256(init.path)}
        RunDir(run_dir).create().write_init(record if layers == "all" else dict(record, finetune_layers=layers))
    summary = finetune(init, config, dataset, run_dir, progress=progress, resume=resume, layers=layers)[0]
    return {**summary, "seen_in_training": list(seen)} if seen else summary


def resume_init(run_dir) -> Init | None:
    """The network a ``train --init`` run in ``run_dir`` started from, checked to be the very file it recorded
    (so that a resumed run keeps the user's alignment and the people the network saw); None for a run that
    did not start from a checkpoint."""
    from eegclf.storage.fileio import file_sha256
    from eegclf.storage.rundir import RunDir

    record = RunDir(run_dir).read_init()
    if record is None:
        return None
    if not Path(record["path"]).is_file() or file_sha256(record["path"]) != record["sha256"]:
        raise CheckpointError(f"{run_dir} was fine-tuned from {record['path']}, which is missing or has changed "
                              "since (its sha256 differs): the run cannot be resumed as it started; start it again")
    return Init.from_checkpoint(record["path"])


def _network(init: Init, template: EEGDataset):
    """The network of ``init`` for ``template``'s data and the map from the data's channels to its own (None
    when the data give its channels in its order)."""
    from eegclf.models import get_model

    init.check_fits(template)
    channel_map = init.channel_map(template)
    n_chans = template.n_chans if channel_map is None else len(channel_map[1])
    net = get_model(init.model).build(n_chans, template.n_times, template.n_classes, **init.net_kwargs)
    net.load_state_dict(init.state)
    return net, channel_map


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
    if init.members:  # each member as it is; their probabilities averaged
        return _ensemble(zero_shot(m, None, template) for m in init.members)
    net, channel_map = _network(init, template)
    mean, std = (torch.as_tensor(np.asarray(v, dtype=np.float32)) for v in (init.mean, init.std))
    return Standardized(net, mean, std, None, None if channel_map is None else channel_map[0]).eval()


def check_zero_shot(init: Init) -> None:
    """Refuse a network that cannot be used on a user of whom nothing is known, naming why."""
    for member in init.members:
        check_zero_shot(member)
    if init.members:
        return
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
    if init.members:  # each member re-normalised on the same calibration trials
        return _ensemble(pretrained_renorm(m, calibration, template) for m in init.members)
    from eegclf.data.channels import apply_matrix

    net, channel_map = _network(init, template)
    if channel_map is not None:  # the network's channels, from the user's
        calibration = replace(calibration, X=apply_matrix(channel_map[0], calibration.X))
    spatial = _one_subject_whitener(init, calibration)
    X = calibration.X if spatial is None else apply_whitener(calibration.X, spatial)
    mean, std = channel_stats(X)
    return Standardized(net, mean, std, None if spatial is None else torch.as_tensor(spatial),
                        None if channel_map is None else channel_map[0]).eval()


def adabn(init, calibration: Split, template: EEGDataset):
    """Unlabelled adaptation (AdaBN, Li et al. 2016): the pre-trained network ``init``, its weights untouched,
    with its input normalisation (and alignment) re-estimated on ``calibration`` (the person's trials; labels
    unused), as :func:`pretrained_renorm` does, and every BatchNorm layer's running mean and variance too:
    their cumulative average over those trials (no-grad passes in train mode, batches weighted by their size:
    :func:`eegclf.training.batchnorm.recalibrate_batchnorm`). No test trial is read. No calibration trial:
    :func:`zero_shot`."""
    from eegclf.training.batchnorm import recalibrate_batchnorm

    if len(calibration) == 0:
        return zero_shot(init, None, template)
    model = pretrained_renorm(init, calibration, template)
    recalibrate_batchnorm(model, calibration.X)  # raw trials: the model maps, aligns and normalises them itself
    return model.eval()


def pretrain(config: RunConfig, dataset: EEGDataset, out, alignment: str = DEFAULT_ALIGNMENT,
             progress: bool | None = None, ensemble: int = 1) -> Path:
    """Train ``config.model`` on every trial of ``dataset`` (both parts, all subjects; no validation, no test)
    into the run folder ``out``; returns the path of its ``pretrained`` checkpoint.

    With ``alignment="euclidean"`` each subject's trials are whitened by that subject's own reference first.
    The checkpoint records the subjects it saw (benchmarks refuse to test them) and the alignment.

    ``ensemble=K`` (> 1): K networks with seeds ``config.seed``, ``config.seed + 1``, ... (same data, same
    recipe, one after another), each in its run folder ``out/members/seed{S}``; the ``pretrained`` checkpoint is
    one ensemble file of theirs (:mod:`eegclf.storage.ensembles`)."""
    if not isinstance(ensemble, int) or ensemble < 1:
        raise ConfigError(f"ensemble={ensemble!r} is invalid: expected an integer >= 1 (networks to average)",
                          param="ensemble")
    if ensemble > 1:
        from eegclf.storage.checkpoint import combine_checkpoints
        from eegclf.storage.rundir import RunDir

        seeds = [config.seed + i for i in range(ensemble)]
        paths = [pretrain(replace(config, seed=s), dataset, Path(out) / "members" / f"seed{s}", alignment, progress)
                 for s in seeds]
        return combine_checkpoints(paths, RunDir(out).checkpoint_path("pretrained"), {"kind": "pretrained"})
    from eegclf.storage.checkpoint import read_checkpoint, save_checkpoint
    from eegclf.data.alignment import align_subjects
    from eegclf.data.splits import pooled
    from eegclf.models import get_model
    from eegclf.storage.rundir import RunDir
    from eegclf.training.loop import FitOptions, train_model

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
                           progress=progress, options=FitOptions(curves=False, require_test=False))
    _, meta = read_checkpoint(run.checkpoint_path("last"))  # the last epoch's metadata, extended below
    subjects = subject_ids(dataset, dict.fromkeys(pool.subjects.tolist()))
    # calibrated for nobody: eval refuses every person it saw (eegclf.data.seen)
    meta.update(subjects_seen=subjects, subjects_calibrated=[], alignment=alignment, n_trials_seen=len(pool),
                note="pre-trained on every trial of subjects_seen" + (
                    ", each Euclidean-aligned on its own trials: the input must be aligned "
                    "(train --init fits a new user's alignment)" if alignment == "euclidean" else ""))
    return save_checkpoint(run.checkpoint_path("pretrained"), model, dict(meta, kind="pretrained"))


__all__ = ["Init", "checkpoint_dataset", "meta_init", "check_checkpoint_fits", "pretrain", "finetune", "finetune_config", "calibration_config", "run_finetuning", "zero_shot",
           "pretrained_renorm", "adabn", "check_zero_shot", "resume_init", "member_dir", "PRETRAIN_DEFAULTS", "FINETUNE_RECIPE", "INPUT_OPTIONS",
           "ALIGNMENTS", "DEFAULT_ALIGNMENT"]


# ---- a checkpoint against the data it meets (eval) ----

def checkpoint_dataset(meta: dict, name: str | None = None, data_dir=None, options: dict | None = None):
    """The data set to measure a checkpoint on: the one recorded in ``meta``, or ``name``, loaded with the
    checkpoint's data options (for another data set, those that shape the network's input:
    :meth:`Init.input_options`) changed by ``options``; in ``data_dir``, else the recorded
    data root."""
    from eegclf.data import load_dataset

    if name and name != meta.get("dataset"):
        options = {**meta_init(meta).input_options(name), **(options or {})}
    else:
        name, options = meta["dataset"], {**meta["dataset_options"], **(options or {})}
    recorded_dir = options.pop("data_dir", None) or meta.get("config", {}).get("data_dir")
    return load_dataset(name, data_dir=data_dir or recorded_dir, **options)


def meta_init(meta: dict, source=None):
    """What checkpoint ``source`` (metadata ``meta``) takes in, as an :class:`Init` without
    weights: its channels, rate, window, classes and data options (for the checks and the channel map)."""
    return Init(meta["model"], {}, {}, ch_names=tuple(meta.get("ch_names", ())), sfreq=float(meta.get("sfreq", 0)),
                n_times=int(meta.get("n_times", 0)), class_names=tuple(meta.get("class_names", ())),
                source=f"checkpoint {source}", dataset=str(meta.get("dataset", "")),
                data_options=dict(meta.get("dataset_options") or {}))


def check_checkpoint_fits(meta: dict, dataset, source) -> tuple[list[str], object]:
    """CheckpointError when checkpoint ``source`` (metadata ``meta``) cannot take ``dataset``'s trials: other
    rate, window, band, reference or classes, or channels that cannot be matched by name. Returns notes on what
    fits but differs (other test trials than it was measured on) and the map from the data's channels to the
    checkpoint's (a matrix; None when the data give its channels in its order)."""
    init = meta_init(meta, source)
    init.check_fits(dataset)
    if len(meta["class_names"]) != dataset.n_classes:
        raise CheckpointError(f"checkpoint {source} has {len(meta['class_names'])} classes, "
                              f"{dataset.name} has {dataset.n_classes}")
    if not meta.get("ch_names") and dataset.n_chans != meta["n_chans"]:
        raise CheckpointError(f"checkpoint {source} takes {meta['n_chans']} channels, {dataset.name} gives "
                              f"{dataset.n_chans}")
    channel_map = init.channel_map(dataset)
    if meta.get("test_fingerprint") not in (None, dataset.test.fingerprint()):
        return [f"these test trials differ from the ones {source} was measured on "
                "(other data set options or loader version)"], None if channel_map is None else channel_map[0]
    return [], None if channel_map is None else channel_map[0]
