"""Per-trial covariance matrices, computed once per (trial, estimator) and shared within a process.

pyRiemann's ``covariances(X, estimator)`` estimates each trial's matrix from that trial alone (the estimator
is applied trial by trial, OAS's shrinkage too), so a trial's matrix is the same in every pipeline (ts_lr,
ts_svm, fgmdm), every inner split and every outer fold that holds it. A benchmark process computes the same
trials' matrices dozens of times; inside :func:`sharing_covariances` each is computed once and then looked up
by the trial's content (a SHA-256 of its float64 samples and shape) and the estimator's name. Outside it,
:func:`trial_covariances` is pyRiemann's ``covariances``.

The store is kept for the life of the process (a benchmark worker runs many pipelines and folds of the same
trials) and bounded: past ``MAX_BYTES`` the least recently used matrices are dropped.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from contextlib import contextmanager

import numpy as np

MAX_BYTES = 512 * 2**20  # 64-channel matrices are 32 KiB: about 16,000 trials


class CovarianceStore:
    """Matrices by (estimator, trial digest), least recently used dropped past ``max_bytes``."""

    def __init__(self, max_bytes: int = MAX_BYTES):
        self.max_bytes = max_bytes
        self._items: OrderedDict = OrderedDict()
        self._bytes = 0
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._items)

    def covariances(self, X: np.ndarray, estimator: str) -> np.ndarray:
        """Matrices (n, C, C) of trials X (n, C, T) float64: stored ones looked up, the others computed together."""
        keys = [(estimator, _digest(x)) for x in X]
        missing = [i for i, k in enumerate(keys) if k not in self._items]
        self.hits += len(X) - len(missing)
        self.misses += len(missing)
        fresh = dict(zip(missing, _compute(X[missing], estimator))) if missing else {}
        out = np.empty((len(X), X.shape[1], X.shape[1]))
        for i, key in enumerate(keys):
            if i in fresh:
                self._put(key, fresh[i])
            else:
                self._items.move_to_end(key)
            out[i] = self._items[key]
        return out

    def clear(self) -> None:
        """Drop every stored matrix (and reset the counts)."""
        self._items.clear()
        self._bytes = 0
        self.hits = self.misses = 0

    def _put(self, key, matrix: np.ndarray) -> None:
        if key in self._items:
            return
        matrix = np.array(matrix, dtype=np.float64)
        matrix.setflags(write=False)
        self._items[key] = matrix
        self._bytes += matrix.nbytes
        while self._bytes > self.max_bytes and len(self._items) > 1:
            _, old = self._items.popitem(last=False)
            self._bytes -= old.nbytes


def _digest(trial: np.ndarray) -> bytes:
    """SHA-256 of the trial's shape and float64 samples (the fastest of hashlib's digests on CPUs with SHA
    instructions: a 64 x 513 trial in under a millisecond, a few times less than estimating its matrix)."""
    h = hashlib.sha256(np.asarray(trial.shape, dtype=np.int64).tobytes())
    h.update(np.ascontiguousarray(trial, dtype=np.float64))
    return h.digest()


def _compute(X: np.ndarray, estimator: str) -> np.ndarray:
    from pyriemann.geometry.covariance import covariances

    return covariances(X, estimator=estimator)


_STORE: CovarianceStore | None = None
_ACTIVE = 0


def store() -> CovarianceStore:
    """This process's store (created on first use)."""
    global _STORE
    if _STORE is None:
        _STORE = CovarianceStore()
    return _STORE


@contextmanager
def sharing_covariances():
    """Within this block, :func:`trial_covariances` computes each (trial, estimator) once in this process."""
    global _ACTIVE
    _ACTIVE += 1
    try:
        yield store()
    finally:
        _ACTIVE -= 1


def trial_covariances(X: np.ndarray, estimator: str) -> np.ndarray:
    """pyRiemann's ``covariances(X, estimator)`` for trials X (n, C, T) float64; shared inside
    :func:`sharing_covariances`."""
    if _ACTIVE:
        return store().covariances(X, estimator)
    return _compute(X, estimator)
