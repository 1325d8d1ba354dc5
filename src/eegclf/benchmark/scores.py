"""Scores of one fold's predictions: accuracy, ROC-AUC (two classes; one-vs-rest macro otherwise), Cohen's kappa."""

from __future__ import annotations

import math

import numpy as np

SCORES = ("accuracy", "roc_auc", "kappa")


def fold_scores(y_true: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    """``y_true`` (n,) int labels, ``proba`` (n, n_classes) -> {accuracy, roc_auc, kappa}.

    ROC-AUC is NaN when the test part holds a single class (it is undefined there); kappa is 0 when the
    predictions are all one class and so is the truth.
    """
    from sklearn.metrics import cohen_kappa_score, roc_auc_score

    y_true = np.asarray(y_true, dtype=np.int64)
    proba = np.asarray(proba, dtype=np.float64)
    pred = proba.argmax(1)
    present = np.unique(y_true)
    if len(present) < 2:
        auc = math.nan
    elif proba.shape[1] == 2:
        auc = float(roc_auc_score(y_true, proba[:, 1]))
    else:
        auc = float(roc_auc_score(y_true, proba[:, present] / proba[:, present].sum(1, keepdims=True),
                                  multi_class="ovr", labels=present))
    with np.errstate(invalid="ignore", divide="ignore"):
        kappa = float(cohen_kappa_score(y_true, pred))
    return {"accuracy": float((pred == y_true).mean()), "roc_auc": auc,
            "kappa": 0.0 if not math.isfinite(kappa) else kappa}
