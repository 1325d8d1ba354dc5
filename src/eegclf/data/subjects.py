"""Who a subject is across data sets: ids qualified by their source, e.g. ``eegmmidb:S001``.

A loader names its subjects in its own way (eegmmidb ``S001``, MOABB ``1``), so a bare id says nothing about
the person once data sets are mixed: a network pre-trained on MOABB's subject ``1`` of one data set must not
be refused on subject ``1`` of another, and one pre-trained on MOABB's ``PhysionetMI`` subject ``1`` (the very
recordings of eegmmidb's ``S001``) must not pass as unseen on ``S001``. Checkpoints record qualified ids
(``subjects_seen``); ids recorded bare, by checkpoints made before, are compared by their bare part with any
data set's, so that they are never taken for someone else (:func:`same_subject`).
"""

from __future__ import annotations

SEPARATOR = ":"
# MOABB data sets that hold the recordings of one of eegclf's own loaders: (loader, subject number -> its id)
_SAME_RECORDINGS = {"PhysionetMI": ("eegmmidb", lambda n: f"S{int(n):03d}")}


def source(name: str, options: dict | None = None) -> str:
    """Where the subjects of data set ``name`` (loaded with ``options``) come from: the loader's name, or for
    MOABB the data set's class (``moabb.BNCI2014_004``)."""
    if name == "moabb":
        return f"moabb.{(options or {}).get('moabb_dataset') or '?'}"
    return name


def subject_id(name: str, options: dict | None, subject) -> str:
    """The qualified id of ``subject`` of data set ``name`` (options ``options``); a qualified id is kept."""
    subject = str(subject)
    if is_qualified(subject):
        return subject
    if name == "moabb":
        same = _SAME_RECORDINGS.get((options or {}).get("moabb_dataset"))
        if same is not None and subject.isdigit():
            return f"{same[0]}{SEPARATOR}{same[1](subject)}"
    return f"{source(name, options)}{SEPARATOR}{subject}"


def subject_ids(dataset, subjects) -> list[str]:
    """The qualified ids of ``subjects`` (bare, as ``dataset``'s splits hold them), in order."""
    return [subject_id(dataset.name, dataset.options, s) for s in subjects]


def is_qualified(subject: str) -> bool:
    return SEPARATOR in str(subject)


def bare(subject: str) -> str:
    """``eegmmidb:S001`` -> ``S001``; a bare id as it is."""
    return str(subject).split(SEPARATOR, 1)[-1]


def same_subject(a: str, b: str) -> bool:
    """Whether ids ``a`` and ``b`` may be the same person: equal when both are qualified; else (an id recorded
    before ids were qualified) when their bare parts are equal, whichever the data set."""
    if is_qualified(a) and is_qualified(b):
        return a == b
    return bare(a) == bare(b)


__all__ = ["source", "subject_id", "subject_ids", "is_qualified", "bare", "same_subject"]
