"""Fitting a pipeline on one fold's training part and predicting its test part; ``auto`` chooses by inner CV.

A pipeline is a registry model name (``eegnet``, ``ts_lr`` ...); ``auto``: the nested pipeline that, in each
outer fold, cross-validates its candidates on the training part only, refits the winner on the whole training
part, and tests that; or a transfer pipeline starting from a pre-trained checkpoint (``--init``), named for
what it uses of the tested person: ``zero-shot`` (nothing: the pre-training pool's normalisation and
BatchNorm statistics, :func:`eegclf.transfer.zero_shot`), ``pretrained-renorm`` (the person's unlabelled
calibration trials re-estimate the input normalisation and alignment, :func:`eegclf.transfer.pretrained_renorm`;
``pretrained`` is its old name and still accepted), ``adabn`` (the same unlabelled trials re-estimate the
BatchNorm statistics too, :func:`eegclf.transfer.adabn`) and ``finetune`` (the labelled calibration trials
train the network further, :func:`eegclf.transfer.finetune`; the layers it trains and the pre-training trials
it mixes in are the recipe's ``finetune_layers`` and ``finetune_mix``, :mod:`eegclf.adaptation`). Nothing here
ever sees a test trial before prediction: the trainer measures the test part once, after training, and with ``val_fraction=0`` it chooses nothing (it keeps
the last epoch).

With no calibration trial (the calibration curve's N=0), ``finetune``, ``adabn`` and ``pretrained-renorm`` are
``zero-shot``; a pipeline that trains on the person alone (``run-split``) cannot run (:func:`can_run`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from eegclf.config import RunConfig
from eegclf.data.base import EEGDataset, Split
from eegclf.errors import ConfigError
from eegclf.models import get_model
from eegclf.transfer import FINETUNE_RECIPE

AUTO = "auto"
FINETUNE = "finetune"
PRETRAINED_RENORM = "pretrained-renorm"
ZERO_SHOT = "zero-shot"
ADABN = "adabn"
PRETRAINED = "pretrained"  # the old name of pretrained-renorm: still accepted, stored as the new name
ALIASES = {PRETRAINED: PRETRAINED_RENORM}
TRANSFER = (ZERO_SHOT, PRETRAINED_RENORM, ADABN, FINETUNE)
INNER_FOLDS = 3
INNER_WITH_ADAPT = "train+adapt"  # Outcome.inner_on when the calibration trials were pooled into the inner CV


@dataclass(frozen=True)
class Recipe:
    """How deep pipelines train in a benchmark: ``config`` (model and seed are set per pipeline and fold),
    and the fine-tuning epochs and learning rate on the calibration trials (``finetune``,
    ``cross-subject-finetune``); the rest of the fine-tuning recipe is :data:`eegclf.transfer.FINETUNE_RECIPE`.
    ``finetune_layers`` and ``finetune_mix`` (``finetune`` from ``--init``): the layers it trains and the weight
    of the person's trials against the pre-training people's mixed in (0: none), :mod:`eegclf.adaptation`;
    ``data_dir``: where the pre-training people's trials are read from for mixing."""

    config: RunConfig
    finetune_epochs: int = FINETUNE_RECIPE["epochs"]
    finetune_lr: float = FINETUNE_RECIPE["lr"]
    auto_candidates: tuple[str, ...] = ()
    inits: tuple = ()  # eegclf.transfer.Init: pre-trained networks for the transfer pipelines
    finetune_layers: str = "all"
    finetune_mix: float = 0.0
    data_dir: str | None = None


@dataclass
class Outcome:
    """What one fit gives: test-trial probabilities (n_test, n_classes) and what the pipeline chose;
    ``inner_acc``: inner cross-validation accuracies, measured on ``inner_on`` ("train": the training part;
    "train+adapt": the training part with the calibration trials pooled in, see :func:`inner_accuracy`)."""

    proba: np.ndarray
    chosen: str
    inner_acc: dict = field(default_factory=dict)
    inner_on: str = "train"


def pipeline_names() -> list[str]:
    """Every valid pipeline name: the model registry's, then ``auto`` and the transfer pipelines."""
    from eegclf.models import list_models

    return [*list_models(), AUTO, *TRANSFER]


def check_pipelines(names: list[str], candidates: tuple[str, ...]) -> list[str]:
    """Registry names of the pipelines (``auto`` kept), in order; ConfigError for unknown names."""
    out = []
    for name in names:
        key = ALIASES.get(name.strip().lower(), name.strip().lower())
        if key in (AUTO, *TRANSFER):
            out.append(key)
            continue
        try:
            out.append(get_model(name).name)
        except ConfigError:
            raise ConfigError(f"unknown pipeline {name!r}; valid names: {', '.join(pipeline_names())}") from None
    if AUTO in out:
        if len(candidates) < 2:
            raise ConfigError("the pipeline auto chooses among candidates: give at least two as "
                              "auto_candidates=NAMES (e.g. eegnet,ts_lr,csp_lda)", param="auto_candidates")
        for c in candidates:
            get_model(c)
    if not out:
        raise ConfigError("no pipeline given: name at least one model (e.g. eegnet,ts_lr)")
    return list(dict.fromkeys(out))


def _fit(name: str, train: Split, test: Split, template: EEGDataset, recipe: Recipe, seed: int):
    """The model ``name`` fitted on ``train`` (test is only measured by the trainer's curves)."""
    from eegclf.training.loop import FitOptions, build_model, split_train_val, train_model

    config = replace(recipe.config, model=name, seed=seed, val_fraction=0.0)
    dataset = template.with_splits(train, test)
    if not get_model(name).is_deep:
        # the trainer's classical fit (same checks, same model: these estimators draw no random numbers)
        # without its loss and accuracy on each part, which nothing here reads: at 64 channels measuring
        # FgMDM on the training part cost as much as fitting it
        fit_on, _ = split_train_val(config, dataset)
        return build_model(config, dataset).fit(fit_on.X, fit_on.y)
    _, model = train_model(config, dataset, progress=False, options=FitOptions(curves=False))
    return model


def _finetune(init, adapt: Split, test: Split, template: EEGDataset, recipe: Recipe, seed: int,
              pretrained: bool = False):
    """``init`` (an :class:`eegclf.transfer.Init`) trained further on the tested subject's calibration trials
    (``adapt``) with the fine-tuning recipe (``eegclf train --init``'s, with the benchmark's fine-tuning epochs
    and learning rate); the normalisation is re-estimated on those trials. ``pretrained``: ``init`` is a
    checkpoint (``finetune`` from ``--init``), so the recipe's layers and mixing apply; the networks that
    ``cross-subject-finetune`` trains itself are fine-tuned whole, on the person's trials alone."""
    from eegclf.adaptation import Mix, pool_trials
    from eegclf.transfer import finetune, finetune_config

    config = replace(finetune_config(recipe.config, init, epochs=recipe.finetune_epochs, lr=recipe.finetune_lr),
                     seed=seed)
    layers, mix = "all", None
    if pretrained:
        layers = recipe.finetune_layers
        if recipe.finetune_mix > 0:
            mix = Mix(pool_trials(init, recipe.data_dir), recipe.finetune_mix)
    _, tuned = finetune(init, config, template.with_splits(adapt, test), curves=False, layers=layers, mix=mix)
    return tuned


def pick_init(inits, subject: str, dataset: EEGDataset):
    """The first pre-trained network that never saw ``subject`` (of ``dataset``); CheckpointError naming it
    when none."""
    from eegclf.data.subjects import bare, subject_id

    qualified = subject_id(dataset.name, dataset.options, subject)
    for init in inits:
        if not init.saw(qualified, dataset):  # by id, or by the subject's recordings (eegclf.data.seen)
            return init
    if not inits:
        raise ConfigError("the transfer pipelines (zero-shot, pretrained-renorm, adabn, finetune) start from a "
                          "pre-trained checkpoint: give it "
                          "as init=CKPT (e.g. PRE/pretrained.safetensors from eegclf pretrain)", param="init")
    inits[0].check_unseen([qualified])  # raises, naming the subject, when seen by id
    from eegclf.errors import CheckpointError

    who = inits[0].seen.knows(dataset, bare(str(subject)))
    raise CheckpointError(f"{inits[0].source} was pre-trained on subject {subject} (its recordings were trained on "
                          f"as {who}), which is to be tested: its score would not be that of a new user; "
                          "pre-train without it")


def _proba(model, X: np.ndarray) -> np.ndarray:
    from eegclf.evaluation import predict_proba

    return predict_proba(model, X)


def inner_accuracy(name: str, train: Split, template: EEGDataset, recipe: Recipe, seed: int,
                   adapt: Split | None = None) -> float:
    """Mean accuracy of ``name`` over an inner cross-validation of the training part alone: stratified
    3-fold for one subject, 3 groups of whole subjects when the training part holds several. With ``adapt``
    (calibration trials that are pooled into the training part before the refit, as classical pipelines do
    under cross-subject-finetune), it scores that pipeline: stratified 3-fold over the calibration trials,
    each inner fit on ``train`` plus two thirds of them, scored on the other third."""
    from sklearn.model_selection import GroupKFold, StratifiedKFold

    subjects = np.unique(train.subjects)
    if adapt is not None:
        cv = StratifiedKFold(n_splits=INNER_FOLDS, shuffle=True, random_state=seed).split(adapt.X, adapt.y)
        pairs = ((Split.concat(train, adapt.subset(tr)), adapt.subset(va)) for tr, va in cv)
    else:
        if len(subjects) >= INNER_FOLDS:
            splits = GroupKFold(n_splits=INNER_FOLDS).split(train.X, train.y, groups=train.subjects)
        else:
            splits = StratifiedKFold(n_splits=INNER_FOLDS, shuffle=True, random_state=seed).split(train.X, train.y)
        pairs = ((train.subset(tr), train.subset(va)) for tr, va in splits)
    accs = []
    for inner_train, inner_val in pairs:
        model = _fit(name, inner_train, inner_val, template, recipe, seed)
        accs.append(float((_proba(model, inner_val.X).argmax(1) == inner_val.y).mean()))
    return float(np.mean(accs))


def can_run(name: str, fold) -> bool:
    """Whether pipeline ``name`` can run on ``fold``: a pipeline that trains from scratch needs training
    trials, so under ``run-split`` with no calibration trial (N=0) only the transfer pipelines run (the report
    shows "–" for the others)."""
    return name in TRANSFER or len(fold.train) > 0


def _labelled_need(name: str) -> int:
    """Trials of each class a pipeline needs in the part it trains on alone: classical pipelines and auto
    score themselves by a stratified :data:`INNER_FOLDS`-fold inner CV (each inner fit needs every class),
    a deep network needs every class once."""
    return INNER_FOLDS if name == AUTO or not get_model(name).is_deep else 1


def check_calibration_curve(names: list[str], folds, pool: Split, protocol: str, class_names) -> None:
    """Refuse calibration-curve points that cannot work, before anything runs: N below the number of classes;
    N = 0 where no pipeline can run without calibration trials; an N whose first N calibration trials of some
    fold miss a class that a pipeline trained on them alone (``run-split``) needs (see :func:`_labelled_need`).
    ConfigError naming ``calibration_trials``."""
    names = [ALIASES.get(n, n) for n in names]
    curve = sorted({f.calibration_trials for f in folds if f.calibration_trials is not None})
    k = len(class_names)
    for n in curve:
        if 0 < n < k:
            raise ConfigError(f"calibration_trials={n} is fewer than the {k} classes ({', '.join(class_names)}): "
                              f"a calibration needs at least one trial of each; give at least {k}",
                              param="calibration_trials")
    at_zero = [f for f in folds if f.calibration_trials == 0]
    if at_zero and not any(can_run(p, f) for p in names for f in at_zero):
        raise ConfigError(f"calibration_trials=0 leaves nothing to run: under {protocol} every pipeline given "
                          f"({', '.join(names)}) trains on the tested person's calibration trials; leave 0 out, or "
                          "add a transfer pipeline (zero-shot, pretrained-renorm, adabn, finetune: they start from a "
                          "pre-trained checkpoint)", param="calibration_trials")
    if protocol != "run-split":  # elsewhere the calibration trials only add to a training on other people
        return
    alone = [p for p in names if p not in TRANSFER]
    for fold in folds:
        if not fold.calibration_trials or not alone:
            continue
        counts = np.bincount(pool.y[fold.train], minlength=k)
        for p in alone:
            need = _labelled_need(p)
            if counts.min() < need:
                c = int(counts.argmin())
                why = (f"its inner {INNER_FOLDS}-fold cross-validation needs {need} of each class" if need > 1
                       else "it needs every class")
                raise ConfigError(f"calibration_trials={fold.calibration_trials} is too few for {p}: the first "
                                  f"{fold.calibration_trials} calibration trials of {fold.subject}"
                                  f"{'' if fold.session is None else ' session ' + fold.session} hold "
                                  f"{counts[c]} of class {class_names[c]} and {why}; give a larger N",
                                  param="calibration_trials")


def _shared(cache, key, make):
    """``make()``, computed once per ``key`` while ``cache`` (a dict) is kept: the folds of a subject group
    share their training part, so its fit is done once for all of them (and for every N of the curve)."""
    if cache is None:
        return make()
    if key not in cache:
        cache[key] = make()
    return cache[key]


def train_key(fold) -> str:
    import hashlib

    return hashlib.sha1(np.ascontiguousarray(fold.train, dtype=np.int64).tobytes()).hexdigest()


def _inner_adapt(adapt: Split | None) -> Split | None:
    """The calibration trials the inner score pools in, when each class has enough of them for its 3 folds
    (a short calibration part, e.g. the curve's first 10 trials, may not: then the inner score is of the
    training part alone, and the record says so)."""
    if adapt is None or len(adapt) == 0:
        return None
    counts = np.bincount(adapt.y)
    return adapt if len(counts[counts > 0]) >= 2 and counts[counts > 0].min() >= INNER_FOLDS else None


def run_pipeline(name: str, pool: Split, fold, template: EEGDataset, recipe: Recipe, seed: int,
                 cache: dict | None = None) -> Outcome:
    """Fit pipeline ``name`` on ``fold`` (indices into ``pool``) and predict its test trials. ``cache``: a dict
    kept across folds that share their training part (a subject group), so its fits run once."""
    from eegclf.transfer import adabn, pretrained_renorm, zero_shot

    name = ALIASES.get(name, name)
    train, test = pool.subset(fold.train), pool.subset(fold.test)
    inner: dict[str, float] = {}
    inner_on = "train"
    chosen = name
    if name in TRANSFER:
        init = pick_init(recipe.inits, fold.subject, template)
        calibration = train  # transfer pipelines run where the person's own trials form the training part
        if name == ZERO_SHOT or len(calibration) == 0:  # nothing of the person: the pool's statistics
            return Outcome(_proba(zero_shot(init, None, template), test.X), ZERO_SHOT)  # chosen says so
        if name == PRETRAINED_RENORM:
            return Outcome(_proba(pretrained_renorm(init, calibration, template), test.X), name)
        if name == ADABN:
            return Outcome(_proba(adabn(init, calibration, template), test.X), name)
        return Outcome(_proba(_finetune(init, calibration, test, template, recipe, seed, pretrained=True), test.X),
                       name)
    if not can_run(name, fold):
        raise ConfigError(f"the pipeline {name} trains on the tested person's own trials and fold {fold.key} "
                          "has none", param="calibration_trials")
    tkey = train_key(fold)
    if name == AUTO:
        inner = _shared(cache, ("inner", name, seed, tkey), lambda: {
            c: inner_accuracy(c, train, template, recipe, seed) for c in recipe.auto_candidates})
        chosen = max(recipe.auto_candidates, key=lambda c: inner[c])  # first of the best on ties
    elif not get_model(name).is_deep:
        # cheap for classical pipelines: lets "best classical" be decided per fold on its training part only,
        # for the pipeline as it is refit below (with the calibration trials pooled in, when there are any)
        adapt = _inner_adapt(pool.subset(fold.adapt) if len(fold.adapt) else None)
        if adapt is None:
            inner = _shared(cache, ("inner", name, seed, tkey),
                            lambda: {name: inner_accuracy(name, train, template, recipe, seed)})
        else:
            inner = {name: inner_accuracy(name, train, template, recipe, seed, adapt)}
        inner_on = "train" if adapt is None else INNER_WITH_ADAPT
    entry = get_model(chosen)
    if len(fold.adapt) and not entry.is_deep:  # classical: no pre-training, so pool the calibration trials in
        model = _fit(chosen, Split.concat(train, pool.subset(fold.adapt)), test, template, recipe, seed)
    else:
        model = _shared(cache, ("fit", chosen, seed, tkey), lambda: _fit(chosen, train, test, template, recipe, seed))
    if len(fold.adapt) and entry.is_deep:
        from eegclf.data.subjects import subject_ids
        from eegclf.transfer import Init

        init = Init.from_model(model, subject_ids(template, np.unique(train.subjects)))
        model = _finetune(init, pool.subset(fold.adapt), test, template, recipe, seed)
    return Outcome(_proba(model, test.X), chosen, inner, inner_on)
