"""Ensemble checkpoints: k deep networks in one safetensors file, with one JSON metadata block.

Layout (the single-network layout of :mod:`eegclf.storage.checkpoint`, one level down):

- tensors ``model.members.{i}.{key}``: member i's :class:`Standardized` state dict (its normalisation,
  alignment and channel map included), as :class:`eegclf.models.ensemble.Ensemble` names them;
- metadata ``eegclf``: what every member shares (data set and options, channels, rate, window, classes, the
  first member's model and config, package versions), whom the members saw together (the union of their
  ``subjects_seen``, ``recordings_seen`` and ``trials_seen``: the seen-people guard refuses all of them), and
  ``ensemble``: ``{"k": k, "seeds": [...], "members": [each member's own facts: model, model_config, seed,
  config, epoch, alignment, the people it saw, the sha256 of the file it came from]}``.

Members must take the same input: channels (the input's and the network's), sampling rate, window, band,
reference, classes and alignment; a mismatch is refused in one line naming the file and what differs.
Loading rebuilds each member from the registry (no code is executed from the file). Reading and writing the
file is :mod:`eegclf.storage.checkpoint`'s (``combine_checkpoints``, ``load_checkpoint``).
"""

from __future__ import annotations

from pathlib import Path

from eegclf.errors import CheckpointError

# a member's own facts, kept in the ensemble's metadata (the seen records are pooled at the top instead)
MEMBER_KEYS = ("model", "model_config", "activation", "seed", "config", "epoch", "kind", "alignment",
               "subjects_seen", "subjects_calibrated", "n_trials_seen", "compute_path", "metrics", "note")
# what differs between members and so is said per member only
PER_MEMBER = ("normalization", "epoch", "metrics", "seed", "test_fingerprint", "note")
SEEN_KEYS = ("subjects_seen", "recordings_seen", "trials_seen", "subjects_calibrated")
# the data options that shape the input and must agree (where both members record them)
INPUT_KEYS = ("tmin", "tmax", "l_freq", "h_freq", "reference", "resample", "cap")


def is_ensemble(meta: dict) -> bool:
    return isinstance(meta.get("ensemble"), dict)


def _names(meta: dict) -> list:
    return [str(c) for c in meta.get("ch_names") or []]


def check_members(metas: list[dict], sources: list) -> None:
    """CheckpointError (one line) unless every member takes the first one's input with its classes."""
    if not metas:
        raise CheckpointError("an ensemble needs at least one checkpoint")
    first, src0 = metas[0], sources[0]
    for meta, src in zip(metas, sources):
        if is_ensemble(meta):
            raise CheckpointError(f"checkpoint {src} is already an ensemble: combine the networks it was made "
                                  "of instead")
        if "model_config" not in meta or "n_times" not in meta or not _is_deep(meta):
            raise CheckpointError(f"checkpoint {src} holds no deep network; an ensemble is made of deep networks")
    for meta, src in zip(metas[1:], sources[1:]):
        differ = []
        if _names(meta) != _names(first):
            differ.append(f"channels ({_short(_names(meta))} against {_short(_names(first))})")
        elif (meta.get("network_ch_names") or _names(meta)) != (first.get("network_ch_names") or _names(first)):
            differ.append("the network's channels")
        for key, what in (("sfreq", "sampling rate"), ("n_times", "window")):
            if meta.get(key) != first.get(key):
                differ.append(f"{what} ({meta.get(key)} against {first.get(key)})")
        if list(meta.get("class_names") or []) != list(first.get("class_names") or []):
            differ.append(f"classes ({', '.join(meta.get('class_names') or [])} against "
                          f"{', '.join(first.get('class_names') or [])})")
        mine, theirs = meta.get("dataset_options") or {}, first.get("dataset_options") or {}
        for key in INPUT_KEYS:
            if key in mine and key in theirs and mine[key] != theirs[key]:
                differ.append(f"{key} ({mine[key]} against {theirs[key]})")
        if meta.get("alignment", "none") != first.get("alignment", "none"):
            differ.append(f"alignment ({meta.get('alignment', 'none')} against {first.get('alignment', 'none')})")
        if differ:
            raise CheckpointError(f"checkpoint {src} cannot join an ensemble with {src0}: it differs in "
                                  + "; ".join(differ))


def _is_deep(meta: dict) -> bool:
    from eegclf.errors import ConfigError
    from eegclf.models import get_model

    try:
        return get_model(str(meta.get("model"))).is_deep
    except ConfigError:
        return False


def _short(names) -> str:
    return ",".join(names[:4]) + (",..." if len(names) > 4 else "")


def _union_seen(metas: list[dict]) -> dict:
    """The members' seen records pooled: the people (and recordings, trials) any of them was trained on. Whom a
    member does not record makes the ensemble's unknown too (None)."""
    subjects = [m.get("subjects_seen") for m in metas]
    calibrated = [m.get("subjects_calibrated") for m in metas]
    recordings: dict = {}
    trials: dict = {}
    for m in metas:
        for who, fps in (m.get("recordings_seen") or {}).items():
            have = recordings.setdefault(who, [])
            have += [f for f in fps if f not in have]
        for who, text in (m.get("trials_seen") or {}).items():
            chunks = [text[i:i + 16] for i in range(0, len(text), 16)]
            have = trials.setdefault(who, [])
            known = set(have)
            have += [c for c in chunks if c not in known and not known.add(c)]
    return {
        "subjects_seen": None if any(s is None for s in subjects) else
        list(dict.fromkeys(str(s) for group in subjects for s in group)),
        "recordings_seen": recordings,
        "trials_seen": {k: "".join(v) for k, v in trials.items()},
        "subjects_calibrated": None if any(c is None for c in calibrated) else
        list(dict.fromkeys(str(s) for group in calibrated for s in group)),
    }


def ensemble_meta(metas: list[dict], sources: list, sha256s: list | None = None) -> dict:
    """The metadata of an ensemble of the checkpoints whose metadata are ``metas`` (checked to fit together)."""
    check_members(metas, sources)
    top = {k: v for k, v in metas[0].items() if k not in PER_MEMBER and k != "format"}
    top.update(_union_seen(metas))
    if all("n_trials_seen" in m for m in metas):
        top["n_trials_seen"] = max(int(m["n_trials_seen"]) for m in metas)  # the same pool, or the largest
    fingerprints = {m.get("test_fingerprint") for m in metas}
    if len(fingerprints) == 1 and None not in fingerprints:
        top["test_fingerprint"] = fingerprints.pop()
    kinds = {m.get("kind") for m in metas}
    top["kind"] = kinds.pop() if len(kinds) == 1 else "ensemble"
    members = []
    for i, m in enumerate(metas):
        record = {k: m[k] for k in MEMBER_KEYS if k in m}
        if sha256s is not None:
            record["sha256"] = sha256s[i]
        members.append(record)
    top["ensemble"] = {"k": len(metas), "seeds": [m.get("seed") for m in metas], "members": members}
    top["note"] = (f"an ensemble of {len(metas)} networks: the average of their softmax probabilities; "
                   "subjects_seen is every person any member saw")
    return top


def combine_tensors(parts: list[dict]) -> dict:
    """The tensors of single-network checkpoints (``model.*``) as those of one ensemble file."""
    out = {}
    for i, tensors in enumerate(parts):
        for k, v in tensors.items():
            if not k.startswith("model."):
                raise CheckpointError(f"member {i} holds the tensor {k!r}: only deep networks join an ensemble")
            out[f"model.members.{i}.{k[len('model.'):]}"] = v
    return out


def member_tensors(tensors: dict, k: int) -> list[dict]:
    """Each member's tensors of an ensemble file, keyed as a single-network checkpoint's (``model.*``)."""
    parts = [{} for _ in range(k)]
    for key, v in tensors.items():
        head, _, rest = key.partition(".members.")
        index, _, name = rest.partition(".")
        if head != "model" or not index.isdigit() or int(index) >= k:
            raise CheckpointError(f"the ensemble holds an unexpected tensor {key!r}")
        parts[int(index)][f"model.{name}"] = v
    return parts


def member_meta(meta: dict, i: int) -> dict:
    """Member ``i`` of an ensemble's metadata as a single network's: the shared facts and its own."""
    shared = {k: v for k, v in meta.items() if k not in ("ensemble", "note", "kind")}
    return {**shared, **meta["ensemble"]["members"][i]}


__all__ = ["MEMBER_KEYS", "check_members", "combine_tensors", "ensemble_meta",
           "is_ensemble", "member_meta", "member_tensors"]
