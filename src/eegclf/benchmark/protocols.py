"""Evaluation protocols: which trials train, which adapt and which test, fold by fold.

Every index is a position in the benchmark's pool of trials (all listed subjects, every run, in recording
order; see :func:`eegclf.data.splits.pooled`). A :class:`Fold` never lets a trial be in two parts, and the
cross-subject protocols never let the tested subject's trials into the training part (tests prove both).

- ``within-subject``: per subject, stratified 5-fold cross-validation over that subject's trials
  (MOABB's within-session scheme: shuffled, ``random_state`` 42);
- ``run-split``: per subject, train on every run but the last, test on the last (EEGMMIDB imagery:
  train on runs 4 and 8, test on run 12);
- ``cross-subject``: leave one subject out: train on all other subjects, test on all of the left-out one's trials;
- ``cross-subject-finetune``: train on all other subjects, adapt on the left-out subject's runs but the
  last, test on its last run (so it lines up with ``run-split`` trial by trial).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eegclf.data.base import Split
from eegclf.errors import ConfigError, DataError

PROTOCOLS = ("within-subject", "run-split", "cross-subject", "cross-subject-finetune")
CROSS_SUBJECT = ("cross-subject", "cross-subject-finetune")
N_FOLDS = 5
RANDOM_STATE = 42


@dataclass(frozen=True)
class Fold:
    """One train/test split of the pool. ``adapt``: the tested subject's calibration trials (empty unless the
    protocol adapts). ``key``: a file-name-safe unique name, e.g. ``S001-f0``."""

    subject: str
    index: int
    train: np.ndarray
    test: np.ndarray
    adapt: np.ndarray

    @property
    def key(self) -> str:
        return f"{self.subject}-f{self.index}"


def check_protocol(protocol: str) -> str:
    if protocol not in PROTOCOLS:
        raise ConfigError(f"protocol={protocol!r} is unknown; valid: {', '.join(PROTOCOLS)}", )
    return protocol


def _indices(mask) -> np.ndarray:
    return np.flatnonzero(mask).astype(np.int64)


def _check_subjects(pool: Split, protocol: str) -> list[str]:
    subjects = list(dict.fromkeys(pool.subjects.tolist()))
    if protocol in CROSS_SUBJECT and len(subjects) < 2:
        raise DataError(f"protocol {protocol} leaves one subject out: it needs at least 2 subjects, "
                        f"found {len(subjects)} ({', '.join(subjects)})")
    for s in subjects:
        classes = np.unique(pool.y[pool.subjects == s])
        if len(classes) < 2:
            raise DataError(f"subject {s} has trials of one class only ({classes.tolist()}); every subject "
                            "needs at least two classes to be trained or scored")
    return subjects


def _runs_of(pool: Split, subject: str, protocol: str) -> np.ndarray:
    runs = np.unique(pool.runs[pool.subjects == subject])
    if np.any(runs < 0) or len(runs) < 2:
        raise DataError(f"protocol {protocol} splits by recording run, but subject {subject} has runs "
                        f"{runs.tolist()}; it needs at least two known runs (e.g. eegmmidb)")
    return runs


def make_folds(pool: Split, protocol: str) -> list[Fold]:
    """The folds of ``protocol`` over ``pool`` (trials of every listed subject), in subject order."""
    from sklearn.model_selection import StratifiedKFold

    check_protocol(protocol)
    subjects = _check_subjects(pool, protocol)
    empty = np.array([], dtype=np.int64)
    folds = []
    for subject in subjects:
        mine = pool.subjects == subject
        if protocol == "within-subject":
            idx = _indices(mine)
            n_splits = min(N_FOLDS, int(np.bincount(pool.y[idx]).min()))
            if n_splits < 2:
                raise DataError(f"subject {subject} has fewer than 2 trials of some class; "
                                "stratified cross-validation needs at least 2 per class")
            cv = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=RANDOM_STATE)
            for i, (tr, te) in enumerate(cv.split(np.zeros(len(idx)), pool.y[idx])):
                folds.append(Fold(subject, i, np.sort(idx[tr]), np.sort(idx[te]), empty))
        elif protocol == "run-split":
            last = _runs_of(pool, subject, protocol)[-1]
            folds.append(Fold(subject, 0, _indices(mine & (pool.runs != last)), _indices(mine & (pool.runs == last)),
                              empty))
        elif protocol == "cross-subject":
            folds.append(Fold(subject, 0, _indices(~mine), _indices(mine), empty))
        else:  # cross-subject-finetune
            last = _runs_of(pool, subject, protocol)[-1]
            folds.append(Fold(subject, 0, _indices(~mine), _indices(mine & (pool.runs == last)),
                              _indices(mine & (pool.runs != last))))
    return folds
