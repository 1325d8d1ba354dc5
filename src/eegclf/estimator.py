"""eegclf's models as a scikit-learn classifier: ``EEGClassifier(model="eegnet", epochs=...)``.

X is ``(trials, channels, times)`` as ``mne.Epochs.get_data()`` and MOABB give it (an ``mne.Epochs`` object
and ``(trials, 1, channels, times)`` are accepted too); y holds any labels (strings too), and ``classes_``,
``predict`` and ``predict_proba`` speak in them. Training is eegclf's own trainer
(:func:`eegclf.training.loop.train_model`) on an in-memory data set, so the options are :class:`RunConfig`'s and the
same ``seed`` gives the same model and predictions (on the same machine and device). The model of the last
epoch is kept, trained on every trial given to ``fit`` (``val_fraction=0``, the default: scikit-learn
chooses by its own cross-validation); ``val_fraction > 0`` carves a validation part that is only measured.

Works in ``Pipeline``, ``cross_val_score``, ``GridSearchCV`` and as a MOABB pipeline::

    from sklearn.model_selection import cross_val_score
    from eegclf.estimator import EEGClassifier
    scores = cross_val_score(EEGClassifier(model="eegnet", epochs=100), X, y, cv=5)
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from eegclf.data.base import EEGDataset, Split
from eegclf.errors import DataError

__all__ = ["EEGClassifier"]


def in_memory_dataset(X: np.ndarray, y: np.ndarray, class_names: list[str], sfreq: float | None) -> EEGDataset:
    """The trainer's data set for ``fit``: the trials as the train part, and a tiny test part.

    The trainer needs a non-empty test part, which it only measures (it never chooses anything on it): one
    training trial per class is reused for it. Once the trainer takes ``val_fraction=0`` and no test part,
    this is the one place to change.
    """
    train = Split(X, y, np.full(len(y), "fit"))
    first = [int(np.flatnonzero(y == k)[0]) for k in np.unique(y)]
    return EEGDataset("array", train, train.subset(first), float(sfreq or 0.0),
                      [f"ch{i}" for i in range(X.shape[2])], list(class_names),
                      options={"sfreq": sfreq}, info={"source": "eegclf.estimator.EEGClassifier.fit"})


def _trials(X, sfreq=None, with_names: bool = False):
    """X as float32 (n, 1, C, T) and the sampling rate when X carries one (mne.Epochs); with ``with_names``
    also the channel names (None for arrays)."""
    from mne import BaseEpochs

    names = None
    if isinstance(X, BaseEpochs):
        sfreq = float(X.info["sfreq"]) if sfreq is None else sfreq
        names = list(X.ch_names)
        X = X.get_data(copy=True)
    X = np.asarray(X)
    if X.dtype.kind not in "fiu":
        raise DataError(f"X must hold numbers; found dtype {X.dtype}")
    if X.ndim == 3:
        X = X[:, None]
    if X.ndim != 4 or X.shape[1] != 1:
        raise DataError(f"X must have shape (trials, channels, times) as MNE and MOABB give it; found {X.shape}")
    X = np.ascontiguousarray(X, dtype=np.float32)
    return (X, sfreq, names) if with_names else (X, sfreq)


class EEGClassifier(ClassifierMixin, BaseEstimator):
    """A scikit-learn classifier around an eegclf model (deep, or a classical baseline).

    Parameters are :class:`eegclf.config.RunConfig`'s: ``model`` (eegnet, eegnet_8_2, deepconvnet,
    shallowconvnet, csp_lda, ts_lr), ``activation``, ``epochs``, ``batch_size``, ``lr``, ``weight_decay``,
    ``optimizer``, ``seed``, ``val_fraction`` (default 0: every ``fit`` trial trains; else the share held out and measured),
    ``dropout`` (None: the model's), ``max_norm``, ``model_kwargs``, ``bn_recalibrate``, ``bf16``, ``fast_path``
    (auto: the exact cheaper order of the first layers where it costs less; off), ``device`` (auto/cpu/cuda), ``threads``. ``sfreq`` is optional and only recorded.

    ``init``: a pre-trained network to calibrate instead of training from scratch: a checkpoint path or the
    name of a network that ships with eegclf (``eegclf pretrained list``, e.g. ``"eegmmidb-lr"``). ``fit`` then
    fine-tunes it on the trials given, with eegclf's fine-tuning recipe (``eegclf.transfer.FINETUNE_RECIPE``)
    for every option left at its default here; ``model`` is the checkpoint's. The trials must match the
    network's input: its channels in its order (checked by name for mne.Epochs), its sampling rate and
    window, preprocessed as it was (band, reference: ``eegclf pretrained list`` shows them), and as many
    classes as it has (the labels, sorted, map onto its classes in order). Channels are matched by name
    (:mod:`eegclf.data.channels`): those of an ``mne.Epochs``, else ``ch_names``, else the network's own
    in its order; reordered into the network's, extras dropped, missing ones interpolated (MNE spherical
    spline), and the fitted model takes them as given.

    ``ch_names``: the channel names of array X, in its row order (optional; ``mne.Epochs`` carry theirs).
    ``predict`` matches the channels of an ``mne.Epochs`` (or of arrays in ``ch_names`` order) to those of
    ``fit`` by name.

    ``allow_seen``: with ``init``, fitting on or scoring people the network was trained on is refused (they are
    known by their trials: :mod:`eegclf.data.seen`), unless this is True; a warning then says "seen in training" and
    ``seen_in_training_`` names them.

    Fitted attributes: ``classes_`` (the labels, sorted), ``model_`` (in eval mode: a torch module taking
    (n, 1, C, T) float32 and giving logits, or the classical estimator), ``summary_`` (the trainer's summary),
    ``n_chans_``, ``n_times_``.
    """

    def __init__(self, model="eegnet", activation="elu", epochs=300, batch_size=64, lr=1e-3, weight_decay=0.0,
                 optimizer="adam", seed=0, val_fraction=0.0, dropout=None, max_norm=None, model_kwargs=None,
                 bn_recalibrate=False, bf16=None, fast_path="auto", device="auto", threads=None, sfreq=None,
                 init=None, ch_names=None, allow_seen=False):
        self.model = model
        self.activation = activation
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.optimizer = optimizer
        self.seed = seed
        self.val_fraction = val_fraction
        self.dropout = dropout
        self.max_norm = max_norm
        self.model_kwargs = model_kwargs
        self.bn_recalibrate = bn_recalibrate
        self.bf16 = bf16
        self.fast_path = fast_path
        self.device = device
        self.threads = threads
        self.sfreq = sfreq
        self.init = init
        self.ch_names = ch_names
        self.allow_seen = allow_seen

    def _run_config(self):
        from eegclf.config import RunConfig
        from eegclf.models import canonical_name

        return RunConfig(
            model=canonical_name(self.model), activation=self.activation, dataset="array",
            epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, weight_decay=self.weight_decay,
            optimizer=self.optimizer, seed=self.seed, val_fraction=self.val_fraction, device=self.device,
            dropout=self.dropout, max_norm=self.max_norm, model_kwargs=dict(self.model_kwargs or {}),
            threads=self.threads, bf16=self.bf16, bn_recalibrate=self.bn_recalibrate, fast_path=self.fast_path,
        ).validate()

    def fit(self, X, y):
        """Train on trials X (n, channels, times) with labels y (n,); returns self."""
        from eegclf.training.loop import train_model

        X, sfreq, names = _trials(X, self.sfreq, with_names=True)
        names = self._names(X, names)
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(X):
            raise DataError(f"y must be one label per trial: {len(X)} labels; found shape {y.shape}")
        config = self._run_config()
        classes, y_idx = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise DataError(f"y holds one class only ({classes[0]!r}); a classifier needs at least 2")
        dataset = in_memory_dataset(X, y_idx.astype(np.int64), [str(c) for c in classes], sfreq)
        self.seen_ = None  # set by _finetune: whom the starting network saw
        if self.init is not None:
            summary, model = self._finetune(config, dataset, names)
        else:
            summary, model = train_model(config, dataset, run_dir=None, progress=False)
        self.classes_ = classes
        self.model_ = model
        self.summary_ = summary
        self.n_chans_, self.n_times_ = X.shape[2], X.shape[3]
        # the channels the fitted model takes, by name (None: arrays without names, taken as they come)
        self.ch_names_ = names if names is not None else (self._init_names if self.init is not None else None)
        return self

    def _names(self, X, names):
        """X's channel names: an mne.Epochs' own, else ``ch_names`` (checked against X), else None."""
        if names is None and self.ch_names is not None:
            from eegclf.data.channels import parse_names

            names = parse_names(self.ch_names)
            if len(names) != X.shape[2]:
                raise DataError(f"ch_names names {len(names)} channels but X has {X.shape[2]}")
        return names

    def _finetune(self, config, dataset, names):
        """``init`` fine-tuned on ``dataset`` (the fit trials) with the recipe for the options left at default."""
        import inspect
        from dataclasses import replace

        from eegclf.transfer import FINETUNE_RECIPE, Init, finetune, finetune_config

        from eegclf.caps import member_for

        # a shipped family's member pre-trained on exactly these channels, when there is one (docs/your-cap.md)
        self.init_used_, _ = member_for(self.init, names) if names is not None else (self.init, None)
        init = Init.from_checkpoint(self.init_used_)
        self.seen_ = init.seen  # whom the starting network saw: fit and score are guarded against them
        self.seen_in_training_ = self._guard(dataset.train.X, "calibrated on")
        defaults = {k: p.default for k, p in inspect.signature(type(self).__init__).parameters.items()}
        given = {k: getattr(self, k) for k in FINETUNE_RECIPE if k in defaults and getattr(self, k) != defaults[k]}
        config = finetune_config(replace(config, model=init.model), init, **given)
        if init.class_names and len(init.class_names) != dataset.n_classes:
            raise DataError(f"y has {dataset.n_classes} classes but {init.source} has {len(init.class_names)} "
                            f"({', '.join(init.class_names)})")
        ch_names = names if names is not None else (list(init.ch_names) if len(init.ch_names) == dataset.n_chans
                                                    else dataset.ch_names)
        self._init_names = list(ch_names)
        dataset = replace(dataset, ch_names=ch_names, sfreq=dataset.sfreq or init.sfreq,
                          class_names=list(init.class_names) or dataset.class_names)
        return finetune(init, config, dataset, curves=False)

    def _guard(self, X, what: str) -> list[str]:
        """The people of trials X the starting network was trained on (by their trials' sketches); refused
        unless ``allow_seen``, else a warning."""
        from eegclf.errors import CheckpointError
        from eegclf.data.seen import HOW_TO_ALLOW, NOTE

        seen = getattr(self, "seen_", None)
        people = seen.by_trials(X) if seen is not None else []
        if people and not self.allow_seen:
            raise CheckpointError(f"{self.init} was trained on the trials of {', '.join(people)}, which would be "
                                  f"{what}: its score would not be that of a new person ({HOW_TO_ALLOW})")
        if people:
            import warnings

            warnings.warn(f"{', '.join(people)}: {NOTE} of {self.init}", stacklevel=3)
        return people

    def score(self, X, y, sample_weight=None) -> float:
        """Mean accuracy on trials X with labels y; with ``init``, trials of people the starting network was
        trained on are refused unless ``allow_seen`` (:mod:`eegclf.data.seen`)."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "model_")
        self._guard(_trials(X)[0], "scored")
        return super().score(X, y, sample_weight=sample_weight)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (n, n_classes), columns in the order of ``classes_``."""
        from sklearn.utils.validation import check_is_fitted

        from eegclf.evaluation import predict_proba

        check_is_fitted(self, "model_")
        X, _, names = _trials(X, with_names=True)
        names = self._names(X, names)
        fitted = getattr(self, "ch_names_", None)
        if names is not None and fitted is not None and list(names) != list(fitted):
            from eegclf.data.channels import apply_matrix, match_channels

            # matched by name to the channels of fit: reordered, extras dropped, missing ones interpolated
            X = apply_matrix(match_channels(names, fitted, what="X").matrix(), X)
        if X.shape[2:] != (self.n_chans_, self.n_times_):
            raise DataError(f"X has trials of (channels, times) = {X.shape[2:]}, but the classifier was fitted "
                            f"on {(self.n_chans_, self.n_times_)}")
        params = getattr(self.model_, "parameters", None)
        device = next(params()).device if params is not None else "cpu"
        return predict_proba(self.model_, X, device=device)

    def predict(self, X) -> np.ndarray:
        """The most probable label of each trial, in the labels given to ``fit``."""
        proba = self.predict_proba(X)  # first: it checks that the classifier is fitted
        return self.classes_[np.argmax(proba, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        if hasattr(tags.input_tags, "three_d_array"):
            tags.input_tags.three_d_array = True
        return tags
