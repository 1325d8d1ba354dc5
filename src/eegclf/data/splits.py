"""Ways to split trials: a stratified validation hold-out, ShuffleSplit folds, leave-one-run-out folds."""

from __future__ import annotations

import re

import numpy as np

from eegclf.data.base import EEGDataset, Split
from eegclf.errors import DataError


def train_val_indices(split: Split, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (sorted, int64) of a stratified train/validation hold-out from ``split``.

    Strata are (subject, class). Each stratum with >= 2 trials gives round(val_fraction * n) trials to
    validation, at least 1 and at most n - 1; strata with one trial stay in train. Deterministic given seed.
    """
    val_fraction = float(val_fraction)
    if not 0.0 < val_fraction < 1.0:
        raise DataError(f"validation fraction must be in (0, 1); got {val_fraction}")
    rng = np.random.default_rng(seed)
    val = []
    keys = sorted(set(zip(split.subjects.tolist(), np.asarray(split.y).tolist())))
    for subject, label in keys:
        idx = np.flatnonzero((split.subjects == subject) & (split.y == label))
        if len(idx) < 2:
            continue
        k = min(len(idx) - 1, max(1, int(round(val_fraction * len(idx)))))
        val.append(rng.permutation(idx)[:k])
    val_idx = np.sort(np.concatenate(val)) if val else np.array([], dtype=np.int64)
    train_idx = np.setdiff1d(np.arange(len(split)), val_idx)
    if len(val_idx) == 0 or len(train_idx) == 0:
        raise DataError(
            f"validation fraction {val_fraction} on {len(split)} trials leaves "
            f"{len(train_idx)} training and {len(val_idx)} validation trials; both must be non-empty"
        )
    return train_idx.astype(np.int64), val_idx.astype(np.int64)


def natural_key(text: str):
    """Sort key that puts "2" before "10" and "0train" before "1test" (session and run names)."""
    m = re.match(r"(\d+)(.*)", str(text))
    return (0, int(m.group(1)), m.group(2)) if m else (1, 0, str(text))


def pooled_parts(dataset: EEGDataset) -> tuple[Split, np.ndarray]:
    """``(pool, held_out)``: train then test trials as one Split, and which of them the loader put in its test
    part (bool, per pooled trial).

    When every trial has a known run (eegmmidb, MOABB), the pool is put in recording order (per subject in
    order of first appearance, then session in natural order, then run), so it does not depend on which run
    was held out.
    """
    pool = Split.concat(dataset.train, dataset.test)
    held_out = np.r_[np.zeros(len(dataset.train), bool), np.ones(len(dataset.test), bool)]
    if len(pool) and np.all(pool.runs >= 0):
        _, first = np.unique(pool.subjects, return_index=True)
        rank = {s: r for r, s in enumerate(pool.subjects[np.sort(first)])}
        subject_rank = np.array([rank[s] for s in pool.subjects])
        session_rank = {s: r for r, s in enumerate(sorted(set(pool.sessions.tolist()), key=natural_key))}
        sessions = np.array([session_rank[s] for s in pool.sessions])
        order = np.lexsort((pool.runs, sessions, subject_rank))  # stable: trials keep their order within a run
        pool, held_out = pool.subset(order), held_out[order]
    return pool, held_out


def pooled(dataset: EEGDataset) -> Split:
    """Train then test trials as one Split, in recording order where runs are known (see :func:`pooled_parts`)."""
    return pooled_parts(dataset)[0]


def shuffle_splits(dataset: EEGDataset, n_splits: int = 10, test_size: float = 0.2,
                   random_state: int = 42) -> list[EEGDataset]:
    """sklearn ShuffleSplit folds over the pooled trials, as in MNE's CSP motor-imagery example.

    Each fold's train/test keep ShuffleSplit's index order; fold facts go to ``info["fold"]``.
    """
    from sklearn.model_selection import ShuffleSplit

    pool = pooled(dataset)
    cv = ShuffleSplit(n_splits=n_splits, test_size=test_size, random_state=random_state)
    folds = []
    for i, (train_idx, test_idx) in enumerate(cv.split(np.zeros((len(pool), 1)))):
        info = {**dataset.info, "fold": {
            "protocol": "shuffle_split", "index": i, "n_splits": n_splits, "test_size": test_size,
            "random_state": random_state, "test_indices": test_idx.tolist(),
        }}
        fold = dataset.with_splits(pool.subset(train_idx), pool.subset(test_idx))
        fold.info = info
        fold.options = dict(dataset.options)
        folds.append(fold)
    return folds


def run_folds(dataset: EEGDataset) -> list[EEGDataset]:
    """Leave-one-run-out folds over the data set's runs (in session, then run order; a run is known by its
    session and number, as MOABB's run numbers restart in each session); needs known runs (eegmmidb).

    For eegmmidb a fold's ``options["test_run"]`` is its held-out run, so the options reload that fold.
    """
    pool = pooled(dataset)
    runs = np.unique(pool.runs)
    keys = list(dict.fromkeys(zip(pool.sessions.tolist(), pool.runs.tolist())))  # recording order
    if len(pool) == 0 or np.any(runs < 0) or len(keys) < 2:
        raise DataError(
            f"leave-one-run-out needs at least two known recording runs; data set {dataset.name!r} has "
            f"runs {runs.tolist()}"
        )
    keys.sort(key=lambda k: (natural_key(k[0]), k[1]))
    folds = []
    for i, (session, run) in enumerate(keys):
        test = (pool.sessions == session) & (pool.runs == run)
        fold = dataset.with_splits(pool.subset(np.flatnonzero(~test)), pool.subset(np.flatnonzero(test)))
        fold.info = {**dataset.info, "fold": {"protocol": "leave_one_run_out", "index": i, "test_run": run,
                                              **({"session": session} if session else {})}}
        fold.options = dict(dataset.options)
        if "test_run" in fold.options:
            fold.options["test_run"] = run
        folds.append(fold)
    return folds
