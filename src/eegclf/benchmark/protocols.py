"""Evaluation protocols: which trials train, which adapt and which test, fold by fold.

Every index is a position in the benchmark's pool of trials (all listed subjects, every run, in recording
order; see :func:`eegclf.data.splits.pooled`). A :class:`Fold` never lets a trial be in two parts, and the
cross-subject protocols never let the tested subject's trials into the training part (tests prove both).

- ``within-subject``: per subject and session, stratified 5-fold cross-validation over that session's trials
  (MOABB's within-session scheme: shuffled, ``random_state`` 42); a subject with several sessions gets the
  same number of folds in each, so the mean over its folds is the mean over its sessions;
- ``run-split``: per subject and session, test on one run and train on the session's other runs, never on
  another session: the run the loader holds out where it holds out part of that session (EEGMMIDB imagery:
  train on runs 4 and 8, test on run 12, or on ``test_run``), else the session's last run (MOABB data sets
  that hold out whole sessions: each session's last run);
- ``cross-subject``: leave one subject out: train on all other subjects, test on all of the left-out one's trials;
- ``cross-subject-finetune``: train on all other subjects, adapt on the left-out subject's ``run-split``
  training runs and test on its ``run-split`` test run (so it lines up with ``run-split`` trial by trial).

Runs are known by (subject, session, run): MOABB's run numbers restart in each session.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eegclf.data.base import Split
from eegclf.data.splits import natural_key
from eegclf.errors import ConfigError, DataError

PROTOCOLS = ("within-subject", "run-split", "cross-subject", "cross-subject-finetune")
CROSS_SUBJECT = ("cross-subject", "cross-subject-finetune")
N_FOLDS = 5
RANDOM_STATE = 42


@dataclass(frozen=True)
class Fold:
    """One train/test split of the pool. ``adapt``: the tested subject's calibration trials (empty unless the
    protocol adapts). ``key``: a file-name-safe unique name, e.g. ``S001-f0``. ``session``: the session the
    fold lies in, where the subject has several (None otherwise)."""

    subject: str
    index: int
    train: np.ndarray
    test: np.ndarray
    adapt: np.ndarray
    session: str | None = None

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


def _sessions(pool: Split, mine: np.ndarray) -> list[str]:
    return sorted(set(pool.sessions[mine].tolist()), key=natural_key)


def _name(subject: str, session: str | None) -> str:
    return f"subject {subject}" + ("" if session is None else f" session {session}")


def _run_split(pool: Split, mine: np.ndarray, subject: str, protocol: str,
               held_out: np.ndarray | None) -> list[tuple[str | None, np.ndarray, np.ndarray]]:
    """``(session, train, test)`` per session of ``subject``: the test run is the loader's held-out part of the
    session where it holds out part of it, else the session's last run; training is the session's other runs."""
    sessions = _sessions(pool, mine)
    parts = []
    for session in sessions:
        here = mine & (pool.sessions == session)
        label = session if len(sessions) > 1 else None
        runs = np.unique(pool.runs[here])
        if np.any(runs < 0) or len(runs) < 2:
            raise DataError(f"protocol {protocol} splits by recording run within a session, but "
                            f"{_name(subject, label)} has runs {runs.tolist()}; it needs at least two known runs "
                            "(e.g. eegmmidb)")
        test = None if held_out is None else here & held_out
        if test is None or not test.any() or test.sum() == here.sum():  # the loader split elsewhere, or not
            test = here & (pool.runs == runs[-1])
        parts.append((label, _indices(here & ~test), _indices(test)))
    return parts


def _within(pool: Split, mine: np.ndarray, subject: str) -> list[tuple[str | None, np.ndarray, np.ndarray]]:
    """``(session, train, test)`` of stratified folds inside each session of ``subject``, as many per session."""
    from sklearn.model_selection import StratifiedKFold

    sessions = _sessions(pool, mine)
    classes = np.unique(pool.y[mine])
    per_session = []
    for session in sessions:
        idx = _indices(mine & (pool.sessions == session))
        counts = [int(np.sum(pool.y[idx] == c)) for c in classes]
        per_session.append((session if len(sessions) > 1 else None, idx, min(counts)))
    n_splits = min(N_FOLDS, *(n for _, _, n in per_session))
    if n_splits < 2:
        label = next(label for label, _, n in per_session if n < 2)
        raise DataError(f"{_name(subject, label)} has fewer than 2 trials of some class; "
                        "stratified cross-validation needs at least 2 per class")
    cv = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=RANDOM_STATE)
    return [(label, np.sort(idx[tr]), np.sort(idx[te]))
            for label, idx, _ in per_session for tr, te in cv.split(np.zeros(len(idx)), pool.y[idx])]


def make_folds(pool: Split, protocol: str, held_out: np.ndarray | None = None) -> list[Fold]:
    """The folds of ``protocol`` over ``pool`` (trials of every listed subject), in subject order, then
    session. ``held_out``: which pooled trials the loader put in its test part (see
    :func:`eegclf.data.splits.pooled_parts`); ``run-split`` tests those where they are part of a session."""
    check_protocol(protocol)
    subjects = _check_subjects(pool, protocol)
    empty = np.array([], dtype=np.int64)
    folds = []
    for subject in subjects:
        mine = pool.subjects == subject
        if protocol == "within-subject":
            parts = [(session, train, test, empty) for session, train, test in _within(pool, mine, subject)]
        elif protocol == "run-split":
            parts = [(session, train, test, empty)
                     for session, train, test in _run_split(pool, mine, subject, protocol, held_out)]
        elif protocol == "cross-subject":
            parts = [(None, _indices(~mine), _indices(mine), empty)]
        else:  # cross-subject-finetune: the run-split parts of the subject become calibration and test
            parts = [(session, _indices(~mine), test, adapt)
                     for session, adapt, test in _run_split(pool, mine, subject, protocol, held_out)]
        folds += [Fold(subject, i, train, test, adapt, session)
                  for i, (session, train, test, adapt) in enumerate(parts)]
    return folds
