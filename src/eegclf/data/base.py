"""The one kind of object every data set returns, and where data sets live on disk."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from eegclf.errors import DataError

DATA_ENV = "EEGCLF_DATA"

# the window and preprocessing options every recording loader shares (eegmmidb, files), with their defaults
EPOCH_DEFAULTS = {"tmin": 0.0, "tmax": 4.0, "l_freq": None, "h_freq": None, "resample": None, "reference": None,
                  "cap": None}
# ``cap`` is done by :func:`eegclf.data.load_dataset` after the loader (:func:`eegclf.data.channels.restrict_to_cap`)


def data_root(data_dir: str | os.PathLike | None = None) -> Path:
    """The data root: ``data_dir`` if given, else ``$EEGCLF_DATA``, else ``~/eegclf_data``.

    Each data set lives in a sub-folder named after it (``ROOT/bci3b``, ``ROOT/eegmmidb``).
    """
    if data_dir:
        return Path(data_dir).expanduser()
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser()
    return Path.home() / "eegclf_data"


@dataclass
class Split:
    """Trials of one part (train or test).

    X: float32, shape (n_trials, 1, n_chans, n_times), no NaN.
    y: int64, shape (n_trials,), values 0..n_classes-1.
    subjects: shape (n_trials,), subject id of each trial (str).
    runs: shape (n_trials,), recording run of each trial (int; -1 where unknown).
    sessions: shape (n_trials,), recording session of each trial (str; "" where the data set has one session
        or does not say). A run is known by (subject, session, run): MOABB's run numbers restart each session.
    """

    X: np.ndarray
    y: np.ndarray
    subjects: np.ndarray
    runs: np.ndarray | None = None
    sessions: np.ndarray | None = None

    def __post_init__(self):
        X, y = np.asarray(self.X), np.asarray(self.y)
        if X.dtype.kind != "f":
            raise DataError(f"split X must hold floating-point samples (float32); found dtype {X.dtype}")
        with np.errstate(over="ignore"):  # out-of-range values become inf, which the trainer refuses
            self.X = X.astype(np.float32, copy=False)
        if y.dtype.kind == "f" and np.isfinite(y).all() and (y == np.round(y)).all():
            y = y.astype(np.int64)
        if y.dtype.kind not in "biu":
            raise DataError(f"split y must hold integer class labels 0..n_classes-1; found dtype {y.dtype}"
                            + (f" with values {np.unique(y)[:5].tolist()}" if y.dtype.kind == "f" else ""))
        self.y = y.astype(np.int64, copy=False)
        n = len(self.X)
        if self.runs is None:
            self.runs = np.full(n, -1, dtype=np.int64)
        if self.sessions is None:
            self.sessions = np.full(n, "")
        self.subjects = np.asarray(self.subjects).astype(str)
        self.sessions = np.asarray(self.sessions).astype(str)
        if not (len(self.y) == len(self.subjects) == len(self.runs) == len(self.sessions) == n):
            raise DataError(
                f"split arrays disagree in length: X {n}, y {len(self.y)}, "
                f"subjects {len(self.subjects)}, runs {len(self.runs)}, sessions {len(self.sessions)}"
            )

    def __len__(self) -> int:
        return len(self.X)

    def fingerprint(self) -> str:
        """A short hash of X and y: tells whether two loads gave the very same trials."""
        import hashlib

        h = hashlib.sha1()
        for a in (self.X, self.y):
            if a.size:  # memoryview cannot cast an empty array's view
                h.update(memoryview(np.ascontiguousarray(a)).cast("B"))  # no bytes copy of X
        return h.hexdigest()[:16]

    def subset(self, idx) -> "Split":
        idx = np.asarray(idx)
        return Split(self.X[idx], self.y[idx], self.subjects[idx], self.runs[idx], self.sessions[idx])

    @staticmethod
    def concat_all(splits: list["Split"]) -> "Split":
        """The splits one after the other, each array copied once (concatenating pair by pair would copy the
        growing pool again for every part: seconds for 56 people's runs)."""
        if len(splits) == 1:
            return splits[0]
        return Split(*(np.concatenate([getattr(s, name) for s in splits])
                       for name in ("X", "y", "subjects", "runs", "sessions")))

    @staticmethod
    def concat(a: "Split", b: "Split") -> "Split":
        return Split(
            np.concatenate([a.X, b.X]),
            np.concatenate([a.y, b.y]),
            np.concatenate([a.subjects, b.subjects]),
            np.concatenate([a.runs, b.runs]),
            np.concatenate([a.sessions, b.sessions]),
        )


@dataclass
class EEGDataset:
    """A loaded data set: train and test parts plus what describes them.

    ``options`` holds the keyword arguments that reload exactly this data set through
    ``load_dataset(name, **options)``; checkpoints record it so ``eval`` can find the data again.
    ``info`` holds loader facts for ``data info`` (e.g. ``n_nans``, ``verification``).
    ``recordings`` maps each run (:func:`run_key` of its subject, session and run) to the fingerprint of its raw
    recording (:mod:`eegclf.data.fingerprint`), for the loaders that read recordings (eegmmidb, files, moabb);
    checkpoints record those of the runs they were trained on, so that the same recordings are known again
    under another name. Runs without one (synthetic, bci3b, arrays) are known by their subject id alone.
    """

    name: str
    train: Split
    test: Split
    sfreq: float
    ch_names: list[str]
    class_names: list[str]
    options: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)
    recordings: dict = field(default_factory=dict)

    def __post_init__(self):
        tr, te = self.train.X.shape[1:], self.test.X.shape[1:]
        if self.train.X.ndim == self.test.X.ndim == 4 and len(self.train) and len(self.test) and tr != te:
            raise DataError(f"data set {self.name!r}: train trials have shape {tr} but test trials {te}; "
                            "expected the same (1, channels, time) for both parts")

    @property
    def n_chans(self) -> int:
        return self.train.X.shape[2]

    @property
    def n_times(self) -> int:
        return self.train.X.shape[3]

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def with_splits(self, train: Split, test: Split) -> "EEGDataset":
        return replace(self, train=train, test=test)

    def fingerprints(self, split: Split) -> dict[str, list[str]]:
        """The fingerprints of the runs that ``split``'s trials come from, by subject (bare, as the split holds
        it), in order of first trial; runs without a fingerprint are left out."""
        out: dict[str, list[str]] = {}
        for s, se, r in dict.fromkeys(zip(split.subjects.tolist(), split.sessions.tolist(), split.runs.tolist())):
            fp = self.recordings.get(run_key(s, se, r))
            if fp is not None and fp not in out.setdefault(s, []):
                out[s].append(fp)
        return {s: fps for s, fps in out.items() if fps}


def run_key(subject, session, run) -> str:
    """The key of one run in :attr:`EEGDataset.recordings`: ``"S001//4"`` (subject, session, run)."""
    return f"{subject}/{session}/{int(run)}"
