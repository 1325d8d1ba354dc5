"""The seen-people guard: a network is not scored, or calibrated, on people it was trained on, unless asked.

A checkpoint records whom it saw three ways (all in its JSON metadata, by qualified subject id):

- ``subjects_seen``: the ids (:mod:`eegclf.data.subjects`);
- ``recordings_seen``: the fingerprint of each run it was trained on (:mod:`eegclf.data.fingerprint`), which
  knows the very recordings again whatever loads them (``eegmmidb``, ``files``, MOABB) and however they are
  preprocessed;
- ``trials_seen``: a 64-bit sketch of each trial it was trained on (:func:`trial_sketches`), for callers that
  hand over trials without their recordings (:class:`eegclf.estimator.EEGClassifier`): trials preprocessed as the
  network expects are known again when most of a person's trials lie within :data:`MAX_BITS` bits of one
  recorded.

``subjects_calibrated``: the people a checkpoint was trained for (the training part of ``eegclf train``,
none for ``eegclf pretrain``): ``eval`` may score their runs that it did not see, as a within-subject model is
meant to be scored. Fine-tuning carries the starting network's records forward.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from eegclf.errors import CheckpointError

NOTE = "seen in training"
HOW_TO_ALLOW = "to measure on them anyway: --allow-seen, or allow_seen=True in Python"
N_BITS = 64
MAX_BITS = 8  # a trial within this many bits of a recorded one is that trial (two others differ by ~32)
MIN_SHARE = 0.5  # share of a person's trials that must be known for the person to be


def trial_sketches(X) -> np.ndarray:
    """A 64-bit sketch of each trial of X (n, 1, C, T) or (n, C, T), as uint64 (n,): bit k is whether the signal
    rises from one sample to the next at the k-th of 64 fixed points spread over channels and time. The same in
    any unit and float type; a few bits may differ after other rounding of the same preprocessing."""
    X = np.asarray(X)
    X = X.reshape(len(X), X.shape[-2], X.shape[-1]) if X.ndim == 4 else X
    n, C, T = X.shape
    if n == 0 or T < 2:
        return np.zeros(n, dtype=np.uint64)
    k = np.arange(N_BITS)
    c, t = (k * C) // N_BITS, ((k * 37) % N_BITS) * (T - 1) // N_BITS
    bits = X[:, c, t + 1].astype(np.float64) > X[:, c, t].astype(np.float64)
    return (bits.astype(np.uint64) << k.astype(np.uint64)).sum(axis=1, dtype=np.uint64)


def _hex(sketches) -> str:
    return "".join(f"{int(s):016x}" for s in sketches)


def _unhex(text: str) -> np.ndarray:
    return np.array([int(text[i:i + 16], 16) for i in range(0, len(text), 16)], dtype=np.uint64)


def _bit_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) numbers of differing bits."""
    x = np.bitwise_xor(a[:, None], b[None, :])
    return np.unpackbits(x.view(np.uint8).reshape(*x.shape, 8), axis=-1).sum(-1)


@dataclass(frozen=True)
class Seen:
    """Whom a network was trained on (see the module's doc). ``subjects`` None: it does not say."""

    subjects: tuple[str, ...] | None = ()
    recordings: dict = field(default_factory=dict)  # qualified id -> fingerprints of its runs
    trials: dict = field(default_factory=dict)  # qualified id -> hex of its trials' sketches
    calibrated: tuple[str, ...] | None = None  # None: not recorded (every seen person counts as calibrated)

    @classmethod
    def from_meta(cls, meta: dict) -> "Seen":
        """The records of a checkpoint's metadata. A checkpoint of ``eegclf pretrain`` made before
        ``subjects_calibrated`` was recorded was calibrated for nobody."""
        subjects, calibrated = meta.get("subjects_seen"), meta.get("subjects_calibrated")
        if calibrated is None and "n_trials_seen" in meta:
            calibrated = []
        return cls(None if subjects is None else tuple(map(str, subjects)),
                   {str(k): tuple(v) for k, v in (meta.get("recordings_seen") or {}).items()},
                   {str(k): str(v) for k, v in (meta.get("trials_seen") or {}).items()},
                   None if calibrated is None else tuple(map(str, calibrated)))

    @classmethod
    def of_training(cls, dataset, before: "Seen | None" = None) -> "Seen":
        """``before`` (a starting network's records; None: it does not say whom it saw) with ``dataset``'s
        training part added; the training part's people are the ones calibrated for."""
        from eegclf.data.subjects import subject_id

        split = dataset.train
        ids = {s: subject_id(dataset.name, dataset.options, s) for s in dict.fromkeys(split.subjects.tolist())}
        before = before if before is not None else cls(None)
        recordings = {k: list(v) for k, v in before.recordings.items()}
        for s, fps in dataset.fingerprints(split).items():
            have = recordings.setdefault(ids[s], [])
            have += [f for f in fps if f not in have]
        trials = dict(before.trials)
        sketches = trial_sketches(split.X)
        for s, q in ids.items():
            trials[q] = trials.get(q, "") + _hex(sketches[split.subjects == s])
        subjects = None if before.subjects is None else tuple(dict.fromkeys([*before.subjects, *ids.values()]))
        return cls(subjects, {k: tuple(v) for k, v in recordings.items()}, trials, tuple(ids.values()))

    def to_meta(self) -> dict:
        return {"subjects_seen": None if self.subjects is None else list(self.subjects),
                "recordings_seen": {k: list(v) for k, v in self.recordings.items()},
                "trials_seen": dict(self.trials),
                "subjects_calibrated": None if self.calibrated is None else list(self.calibrated)}

    def by_recording(self, dataset, split) -> dict[str, str]:
        """{subject of ``split`` (bare): the id it was trained under} for those whose runs' fingerprints were
        trained on."""
        known = {fp: who for who, fps in self.recordings.items() for fp in fps}
        out = {}
        for s, fps in dataset.fingerprints(split).items():
            hits = [known[f] for f in fps if f in known]
            if hits:
                out[s] = hits[0]
        return out

    def knows(self, dataset, subject) -> str | None:
        """The id under which the runs of ``subject`` (bare, of ``dataset``) were trained on, if any were."""
        known = {fp: who for who, fps in self.recordings.items() for fp in fps}
        for key, fp in dataset.recordings.items():
            if key.split("/", 1)[0] == str(subject) and fp in known:
                return known[fp]
        return None

    def by_trials(self, X) -> list[str]:
        """The ids of the people whose trials make up most of ``X`` (trials as the network takes them)."""
        if not self.trials or len(X) == 0:
            return []
        who = [(q, _unhex(h)) for q, h in self.trials.items() if h]
        if not who:
            return []
        owner = np.concatenate([np.full(len(s), i) for i, (_, s) in enumerate(who)])
        stored = np.concatenate([s for _, s in who])
        query = trial_sketches(X)
        found = []
        for i in range(0, len(query), 256):  # (trials x recorded) bit distances, a block at a time
            d = _bit_distance(query[i:i + 256], stored)
            best = d.argmin(1)
            found += [int(owner[j]) if d[r, j] <= MAX_BITS else -1 for r, j in enumerate(best)]
        found = np.array(found)
        if (found >= 0).mean() < MIN_SHARE:
            return []
        return [who[i][0] for i in dict.fromkeys(found[found >= 0].tolist())]


def seen_people(seen: Seen, dataset, split, *, by_id: bool = True, calibrated_ok: bool = False) -> dict[str, str]:
    """{subject of ``split`` (bare): how it was recognised} for the people of ``split`` that ``seen`` says were
    trained on: by the fingerprints of their recordings, and (``by_id``) by their ids. ``calibrated_ok``: the
    people the network was calibrated for are not counted by id (their unseen runs may be scored)."""
    from eegclf.data.subjects import bare, same_subject, subject_id

    out = {s: (f"its recordings were trained on as {who}" if bare(who) != s else "its recordings were trained on")
           for s, who in seen.by_recording(dataset, split).items()}
    if by_id and seen.subjects is not None:
        mine = seen.calibrated if seen.calibrated is not None else seen.subjects
        for s in dict.fromkeys(split.subjects.tolist()):
            q = subject_id(dataset.name, dataset.options, s)
            if s in out or not any(same_subject(t, q) for t in seen.subjects):
                continue
            if calibrated_ok and any(same_subject(t, q) for t in mine):
                continue
            out[s] = "by its id"
    return out


def describe(people: dict[str, str]) -> str:
    """``S001 (its recordings were trained on as eegmmidb:S001), S002 (by its id)``."""
    return ", ".join(f"{s} ({why})" for s, why in people.items())


def refuse(source: str, people: dict[str, str], what: str = "scored") -> None:
    """CheckpointError in one line naming ``people`` (from :func:`seen_people`); nothing when empty."""
    if people:
        raise CheckpointError(f"{source} was trained on {describe(people)}, which would be {what}: its score would "
                              f"not be that of a new person ({HOW_TO_ALLOW})")


def check(seen: Seen, source: str, dataset, split, *, allow: bool = False, what: str = "scored",
          calibrated_ok: bool = False) -> dict[str, str]:
    """The guard: refuse (CheckpointError, one line) to have ``split``'s trials of ``dataset`` scored by a
    network that saw their people (:func:`seen_people`), unless ``allow``; returns those people (for
    :func:`note`)."""
    people = seen_people(seen, dataset, split, calibrated_ok=calibrated_ok)
    if not allow:
        refuse(source, people, what)
    return people


def note(people) -> str:
    """What goes beside a number measured on people seen in training: `` (seen in training: S001)``."""
    return f" ({NOTE}: {', '.join(people)})" if people else ""


__all__ = ["Seen", "seen_people", "check", "note", "refuse", "describe", "trial_sketches", "NOTE", "HOW_TO_ALLOW"]
