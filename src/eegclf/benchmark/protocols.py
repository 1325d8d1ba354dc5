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

The two cross-subject protocols also run with ``subject_folds=K`` (:func:`subject_groups`): the people are
shuffled by a seed and cut into K groups of whole people; each group is tested by what was trained on the
other groups, so K trainings serve everyone. A fold is still one tested person (``index``: the group), and
every person of a group shares the group's training part. :func:`with_calibration` cuts the calibration part
of each fold (``run-split``: the training part; ``cross-subject-finetune``: the adapt part) to its first N
trials in recording order, the same trials for every pipeline (the calibration curve).
"""

from __future__ import annotations

import re
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
    fold lies in, where the subject has several (None otherwise). A subject group's folds share their
    ``index`` (the group: its seed and training), so there the key also names the session (``1-f0-s0train``);
    elsewhere the index alone tells a subject's sessions apart, and old benchmark folders keep their keys."""

    subject: str
    index: int
    train: np.ndarray
    test: np.ndarray
    adapt: np.ndarray
    group: tuple[str, ...] = ()  # subject_folds: every person tested by this fold's training (empty otherwise)
    calibration_trials: int | None = None  # with_calibration: N, the calibration part's first N trials
    session: str | None = None

    @property
    def key(self) -> str:
        n = "" if self.calibration_trials is None else f"-n{self.calibration_trials}"
        session = "" if not self.group or self.session is None else "-s" + _safe(self.session)
        return f"{self.subject}-f{self.index}{session}{n}"


def _safe(name: str) -> str:
    """``name`` as a file-name-safe word (a session name goes into fold file names)."""
    return re.sub(r"[^A-Za-z0-9_.]", "_", str(name))


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


def subject_groups(subjects, k: int, seed: int) -> list[list[str]]:
    """``subjects`` shuffled by ``seed`` and cut into ``k`` groups of whole people (sizes differ by at most
    one), each group sorted; the same subjects, k and seed always give the same groups."""
    subjects = sorted(dict.fromkeys(str(s) for s in subjects))
    if isinstance(k, bool) or not isinstance(k, int) or k < 2:
        raise ConfigError(f"subject_folds={k!r} is invalid: expected an integer >= 2 (leave it out for "
                          "leave-one-subject-out)", param="subject_folds")
    if k > len(subjects):
        raise DataError(f"subject_folds={k} needs at least {k} subjects, found {len(subjects)}", param="subject_folds")
    order = np.random.default_rng(seed).permutation(len(subjects))
    return [sorted(subjects[i] for i in part) for part in np.array_split(order, k)]


def _check_groups(groups, subjects: list[str]) -> list[list[str]]:
    flat = [str(s) for g in groups for s in g]
    if sorted(flat) != sorted(subjects) or len(set(flat)) != len(flat):
        raise DataError(f"the recorded subject folds ({'; '.join(','.join(g) for g in groups)}) do not hold "
                        f"exactly the benchmark's subjects ({', '.join(subjects)})")
    if any(len(g) == 0 for g in groups) or len(groups) < 2:
        raise DataError("the recorded subject folds need at least 2 non-empty groups")
    return [list(map(str, g)) for g in groups]


def _grouped_folds(pool: Split, protocol: str, groups, held_out=None) -> list[Fold]:
    subjects = _check_subjects(pool, protocol)
    groups = _check_groups(groups, subjects)
    empty = np.array([], dtype=np.int64)
    folds = []
    for i, group in enumerate(groups):
        inside = np.isin(pool.subjects, group)
        train = _indices(~inside)
        for subject in group:
            mine = pool.subjects == subject
            if protocol == "cross-subject":
                folds.append(Fold(subject, i, train, _indices(mine), empty, tuple(group)))
            else:  # the person's run-split parts (per session) become calibration and test, as without groups
                folds += [Fold(subject, i, train, test, adapt, tuple(group), session=session)
                          for session, adapt, test in _run_split(pool, mine, subject, protocol, held_out)]
    order = {s: j for j, s in enumerate(subjects)}
    return sorted(folds, key=lambda f: order[f.subject])


CALIBRATED = ("run-split", "cross-subject-finetune")  # the protocols with a calibration part to cut


def check_calibration_trials(values, protocol: str) -> list[int]:
    """The calibration-curve points: distinct integers >= 0, ascending; only for :data:`CALIBRATED`."""
    if protocol not in CALIBRATED:
        raise ConfigError(f"calibration_trials={','.join(map(str, values))} cuts the tested person's calibration "
                          f"runs, which protocol={protocol} does not have: use {' or '.join(CALIBRATED)}",
                          param=("calibration_trials", "protocol"))
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ConfigError(f"calibration_trials={v!r} is invalid: expected integers >= 0 (e.g. 0,10,20,30)",
                              param="calibration_trials")
        out.append(v)
    if not out:
        raise ConfigError("calibration_trials is empty: give at least one number (e.g. 0,10,20,30)",
                          param="calibration_trials")
    return sorted(set(out))


def calibration_part(fold: Fold, protocol: str) -> np.ndarray:
    """The tested person's own trials that calibrate under ``protocol``: the adapt part under
    ``cross-subject-finetune``, the training part where the person trains alone (``run-split``,
    ``within-subject``); none under ``cross-subject``."""
    if protocol == "cross-subject-finetune":
        return fold.adapt
    return np.array([], dtype=np.int64) if protocol == "cross-subject" else fold.train


def with_calibration(folds: list[Fold], protocol: str, counts) -> list[Fold]:
    """Each fold once per N of ``counts``, its calibration part (``run-split``: the training part, the
    person's runs but the last; ``cross-subject-finetune``: the adapt part) cut to its first N trials in
    recording order (all of them when it holds fewer; the records say how many there were). Every pipeline
    gets the same trials; the test part is untouched."""
    from dataclasses import replace

    out = []
    for fold in folds:
        for n in check_calibration_trials(counts, protocol):
            if protocol == "run-split":
                out.append(replace(fold, train=fold.train[:n], calibration_trials=n))
            else:
                out.append(replace(fold, adapt=fold.adapt[:n], calibration_trials=n))
    return out


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


def make_folds(pool: Split, protocol: str, held_out: np.ndarray | None = None, groups=None) -> list[Fold]:
    """The folds of ``protocol`` over ``pool`` (trials of every listed subject), in subject order, then
    session. ``held_out``: which pooled trials the loader put in its test part (see
    :func:`eegclf.data.splits.pooled_parts`); ``run-split`` tests those where they are part of a session.
    ``groups`` (cross-subject protocols only, see :func:`subject_groups`): lists of whole people; each person
    is tested by training on every other group instead of on every other person."""
    check_protocol(protocol)
    if groups is not None:
        if protocol not in CROSS_SUBJECT:
            raise ConfigError(f"groups= (subject folds) hold whole people, which protocol={protocol} (one person "
                              f"at a time) does not: use {' or '.join(CROSS_SUBJECT)}", param=("groups", "protocol"))
        return _grouped_folds(pool, protocol, groups, held_out)
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
        folds += [Fold(subject, i, train, test, adapt, session=session)
                  for i, (session, train, test, adapt) in enumerate(parts)]
    return folds
