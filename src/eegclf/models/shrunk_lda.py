"""scikit-learn's ``LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto")``, solved in O(n^2 d) when the
trials are fewer than the features.

FgMDM fits this LDA on tangent vectors: d = C (C + 1) / 2 = 2,080 features at 64 channels, from a few dozen
trials. scikit-learn forms the d x d within-class covariance and solves it with ``scipy.linalg.lstsq``, an
SVD of a 2,080 x 2,080 matrix: about 7 s, nearly all of an FgMDM fit. That covariance is a diagonal plus a
matrix of rank n - n_classes (each class's Ledoit-Wolf estimate is (1 - a) S D E D S + a mu S^2, with E the
empirical covariance of the class's standardised, centred trials), so the same linear system is solved
exactly through the n x n Gram matrix of the trials (Woodbury's identity).

Everything scikit-learn estimates (class means, priors, the scaler's scales, the Ledoit-Wolf shrinkage, whose
sums are taken over the n x n Gram matrix instead of the d x d one) is the same quantity, so the coefficients
agree to rounding (tests: to 1e-9 against scikit-learn on real 64-channel trials). Where the shortcut does
not apply (at least as many trials as features, or a class too small to have a full-rank shrunk estimate),
scikit-learn's own estimator is fitted.
"""

from __future__ import annotations

import numpy as np


class LinearHead:
    """A fitted linear classifier given by its arrays, read like a scikit-learn one (``coef_``,
    ``intercept_``, ``classes_``)."""

    def __init__(self, coef, intercept, classes):
        self.coef_, self.intercept_, self.classes_ = coef, intercept, classes


def _ledoit_wolf_shrinkage(Z: np.ndarray) -> float:
    """scikit-learn's ``ledoit_wolf_shrinkage(Z, assume_centered=True)`` for centred Z (n, d), with its two
    sums over the d x d matrices Z2' Z2 and (Z'Z)^2 taken as the equal sums over n-sized ones."""
    n, d = Z.shape
    Z2 = Z**2
    emp_cov_trace = np.sum(Z2, axis=0) / n
    mu = np.sum(emp_cov_trace) / d
    beta_ = float(np.sum(np.sum(Z2, axis=1) ** 2))  # sum of the entries of Z2' Z2
    delta_ = float(np.sum((Z @ Z.T) ** 2)) / n**2  # squared Frobenius norm of Z'Z = that of ZZ'
    beta = 1.0 / (d * n) * (beta_ / n - delta_)
    delta = (delta_ - 2.0 * mu * emp_cov_trace.sum() + d * mu**2) / d
    beta = min(beta, delta)
    return 0.0 if beta == 0 else beta / delta


def _low_rank_parts(X: np.ndarray, y: np.ndarray, classes, priors):
    """The within-class covariance as ``U' U + diag(lam)``: U (n, d), lam (d,); None where lam is not > 0."""
    from sklearn.preprocessing import StandardScaler

    d = X.shape[1]
    rows, lam = [], np.zeros(d)
    for k, c in enumerate(classes):
        Xg = X[y == c]
        if len(Xg) < 2:
            return None
        sc = StandardScaler().fit(Xg)
        Z = sc.transform(Xg)
        Z = Z - Z.mean(0)  # LedoitWolf centres again (location_)
        a = _ledoit_wolf_shrinkage(Z)
        mu = np.sum(Z**2) / len(Z) / d  # trace of the empirical covariance / d
        rows.append(np.sqrt(priors[k] * (1.0 - a) / len(Z)) * (Z * sc.scale_))
        lam += priors[k] * a * mu * sc.scale_**2
    if not np.all(lam > 0) or not np.all(np.isfinite(lam)):
        return None
    return np.vstack(rows), lam


def fit_shrunk_lda(X, y):
    """``LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto").fit(X, y)``'s ``coef_``, ``intercept_``
    and ``classes_`` (as a :class:`LinearHead`, or the fitted scikit-learn estimator where the shortcut does
    not apply). X: (n, d) float, y: (n,) labels."""
    from scipy.linalg import solve
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    classes, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    parts = _low_rank_parts(X, y, classes, counts / float(len(y))) if len(X) < X.shape[1] else None
    if parts is None or len(classes) < 2:
        return LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto").fit(X, y)
    priors = counts / float(len(y))
    means = np.zeros((len(classes), X.shape[1]))
    np.add.at(means, inverse, X)
    means /= counts[:, None]
    U, lam = parts
    # (U'U + L) x = b  <=>  x = L^-1/2 (b' - V' (I + V V')^-1 V b'),  V = U L^-1/2,  b' = L^-1/2 b
    r = 1.0 / np.sqrt(lam)
    V = U * r
    Bp = means.T * r[:, None]
    z = solve(np.eye(len(V)) + V @ V.T, V @ Bp, assume_a="pos")
    coef = ((Bp - V.T @ z) * r[:, None]).T
    intercept = -0.5 * np.diag(means @ coef.T) + np.log(priors)
    if len(classes) == 2:
        coef, intercept = (coef[1] - coef[0])[None], np.array([intercept[1] - intercept[0]])
    return LinearHead(coef, intercept, classes)
