"""Euclidean alignment (He & Wu 2019): whiten each subject's trials by the mean of its trial covariances.

People differ in head shape, impedances and amplitudes, so the same network sees differently scaled and mixed
channels from each. Multiplying a subject's trials by ``R^{-1/2}``, where ``R`` is the mean spatial covariance
of that subject's own trials, makes every subject's mean covariance the identity. The reference is fitted on
trials the caller names (training or calibration trials, never test trials), and labels are never used.

``R`` is shrunk towards a multiple of the identity: 64 average-referenced channels have a rank-63 covariance,
and 30 calibration trials estimate 2000 entries. Trials are (n, 1, C, T) float32 arrays, as in
:class:`eegclf.data.base.Split`.
"""

from __future__ import annotations

import numpy as np

from eegclf.data.base import Split
from eegclf.errors import DataError

SHRINKAGE = 0.1


def reference_whitener(X: np.ndarray, shrinkage: float = SHRINKAGE) -> np.ndarray:
    """``R^{-1/2}`` (C, C, float32) of the trials X (n, 1, C, T): R is their mean covariance, shrunk as
    ``(1 - shrinkage) R + shrinkage * trace(R) / C * I``."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 4 or len(X) == 0:
        raise DataError(f"alignment needs trials of shape (n >= 1, 1, channels, time); got {X.shape}")
    if not 0.0 <= shrinkage <= 1.0:
        raise DataError(f"alignment shrinkage must be in [0, 1]; got {shrinkage}")
    x = X[:, 0]
    R = np.einsum("nct,ndt->cd", x, x) / (x.shape[0] * x.shape[2])
    n_chans = R.shape[0]
    R = (1.0 - shrinkage) * R + shrinkage * np.trace(R) / n_chans * np.eye(n_chans)
    vals, vecs = np.linalg.eigh(R)
    if vals.min() <= 0:
        raise DataError("the trials' covariance is singular even after shrinkage (all-zero channels?); "
                        "alignment needs shrinkage > 0 and signals with some power")
    return ((vecs / np.sqrt(vals)) @ vecs.T).astype(np.float32)


def apply_whitener(X: np.ndarray, W: np.ndarray) -> np.ndarray:
    """``W @ x`` for every trial x of X (n, 1, C, T): the aligned trials, float32."""
    return np.einsum("ij,nkjt->nkit", W, X, optimize=True).astype(np.float32, copy=False)


def align_subjects(split: Split, reference: Split | None = None, shrinkage: float = SHRINKAGE) -> Split:
    """``split`` with each subject's trials aligned by a reference fitted on that subject's trials in
    ``reference`` (default: its own trials in ``split``). A subject with no reference trials is an error."""
    reference = split if reference is None else reference
    X = np.empty_like(split.X)
    for subject in np.unique(split.subjects):
        mine = split.subjects == subject
        ref = reference.X[reference.subjects == subject]
        if len(ref) == 0:
            raise DataError(f"alignment of subject {subject} needs some of its own training or calibration "
                            "trials to fit the reference; it has none")
        X[mine] = apply_whitener(split.X[mine], reference_whitener(ref, shrinkage))
    return Split(X, split.y, split.subjects, split.runs, split.sessions)
