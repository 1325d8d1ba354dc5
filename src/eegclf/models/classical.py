"""Classical baselines: CSP + LDA (MNE, scikit-learn) and tangent space + logistic regression (pyRiemann).

Both follow scikit-learn's ``fit`` / ``predict`` / ``predict_proba`` / ``score`` and take the same trials
as the deep models:

- X: float array, shape (n_trials, 1, n_chans, n_times) or (n_trials, n_chans, n_times), finite.
- y: int array, shape (n_trials,), values in 0..n_outputs-1, at least two distinct classes to fit.

After fitting, a model is described completely by a few arrays (``get_state()``): prediction is computed
from those arrays with numpy, so ``set_state(get_state())`` on a fresh model predicts identically and
checkpoints need no pickle.
"""

from __future__ import annotations

import numpy as np

from eegclf.errors import CheckpointError, ConfigError, DataError, EEGClfError


def _as_trials(X, n_chans: int, name: str) -> np.ndarray:
    """Validate trials; return float64 of shape (n_trials, n_chans, n_times)."""
    X = np.asarray(X)
    if X.ndim == 4:
        if X.shape[1] != 1:
            raise DataError(f"{name}: X of shape {X.shape} expected (n_trials, 1, n_chans, n_times)")
        X = X[:, 0]
    elif X.ndim != 3:
        raise DataError(
            f"{name}: X has {X.ndim} dimensions (shape {X.shape}); expected (n_trials, 1, n_chans, n_times) "
            "or (n_trials, n_chans, n_times)"
        )
    if not np.issubdtype(X.dtype, np.number):
        raise DataError(f"{name}: X has dtype {X.dtype}; expected a float array")
    if X.shape[0] == 0:
        raise DataError(f"{name}: X holds no trials")
    if X.shape[1] != n_chans:
        raise DataError(f"{name}: X has {X.shape[1]} channels; the model was built for {n_chans}")
    X = X.astype(np.float64)
    if not np.all(np.isfinite(X)):
        raise DataError(f"{name}: X contains NaN or infinite values")
    return X


def _as_labels(y, n_trials: int, n_outputs: int, name: str) -> np.ndarray:
    """Validate labels; return int64 of shape (n_trials,) with at least two classes."""
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != n_trials:
        raise DataError(f"{name}: y of shape {y.shape} expected ({n_trials},), one label per trial")
    if not (np.issubdtype(y.dtype, np.integer)
            or (np.issubdtype(y.dtype, np.floating) and np.all(np.isfinite(y)) and np.all(np.mod(y, 1) == 0))):
        raise DataError(f"{name}: y must hold integer class labels")
    y = y.astype(np.int64)
    if y.min() < 0 or y.max() >= n_outputs:
        raise DataError(f"{name}: labels must lie in 0..{n_outputs - 1}, found {sorted(set(y.tolist()))}")
    if len(np.unique(y)) < 2:
        raise DataError(f"{name}: y holds a single class ({y[0]}); at least two classes are needed to fit")
    return y


def _one_blas_thread():
    """Run BLAS/LAPACK on one thread: the work is many small (C x C) decompositions, for which threads
    only add overhead, and on a busy machine spinning BLAS threads slowed the tangent space 100-fold."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def _all_blas_threads():
    """Let BLAS/LAPACK use every core this process may use, for one large solve inside ``_one_blas_thread``."""
    from threadpoolctl import threadpool_limits

    from eegclf.parallel import available_cores

    return threadpool_limits(limits=available_cores(), user_api="blas")


def numerical_rank(X: np.ndarray, eps: float) -> int:
    """Rank of trials X (n, C, T) taken together: singular values above ``eps * C * largest`` (MNE's rule)."""
    sv = np.linalg.svd(np.concatenate(list(X), axis=1), compute_uv=False)
    return max(1, int(np.sum(sv > sv[0] * X.shape[1] * eps)))


def _linear_proba(scores: np.ndarray) -> np.ndarray:
    """Class probabilities from linear decision scores, as scikit-learn's LDA / logistic regression.

    scores: (n, 1) for two classes (sigmoid) or (n, n_classes) (softmax). Returns (n, n_classes).
    """
    if scores.shape[1] == 1:
        from scipy.special import expit

        p = expit(scores[:, 0])
        return np.stack([1.0 - p, p], axis=1)
    z = scores - scores.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class _LinearHead:
    """Shared parts: validation, the linear classifier on features, state handling.

    Subclasses define ``_fit_extractor(X, y, eps) -> (feature state arrays, fitted scikit-learn linear
    classifier)``, ``_features(X, state)`` (features from the state arrays alone), the state checks
    ``_check_feature_state`` / ``_n_features`` and their state keys ``_feature_keys``.
    """

    model_name = ""
    _feature_keys: tuple[str, ...] = ()

    def __init__(self, n_chans: int, n_times: int, n_outputs: int = 2, **options):
        for key, value in (("n_chans", n_chans), ("n_times", n_times), ("n_outputs", n_outputs)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{self.model_name}: {key}={value!r} is invalid: expected an integer >= 1")
        if n_outputs < 2:
            raise ConfigError(f"{self.model_name}: n_outputs={n_outputs} is invalid: expected >= 2 classes")
        self.n_chans, self.n_times, self.n_outputs = int(n_chans), int(n_times), int(n_outputs)
        self.options = options
        self._state: dict[str, np.ndarray] | None = None

    @property
    def config(self) -> dict:
        """JSON-able keyword arguments that rebuild this model via ``create_model(model_name, **config)``."""
        return {"n_chans": self.n_chans, "n_times": self.n_times, "n_outputs": self.n_outputs, **self.options}

    @property
    def is_fitted(self) -> bool:
        return self._state is not None

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.config.items())
        return f"{type(self).__name__}({opts})"

    # ---- scikit-learn interface -------------------------------------------------------------------
    def fit(self, X, y) -> "_LinearHead":
        """Fit on trials X (n, 1, C, T) or (n, C, T) and labels y (n,) in 0..n_outputs-1."""
        dtype = np.asarray(X).dtype
        eps = float(np.finfo(dtype if np.issubdtype(dtype, np.floating) else np.float64).eps)
        X = _as_trials(X, self.n_chans, f"{self.model_name}.fit")
        y = _as_labels(y, len(X), self.n_outputs, f"{self.model_name}.fit")
        with _one_blas_thread():
            feature_state, clf = self._fit_extractor(X, y, eps)
        coef = np.asarray(clf.coef_, dtype=np.float64)
        intercept = np.asarray(clf.intercept_, dtype=np.float64).reshape(-1)
        self._state = {
            **{k: np.asarray(v, dtype=np.float64) for k, v in feature_state.items()},
            "coef": coef,
            "intercept": intercept,
            "classes": np.asarray(clf.classes_, dtype=np.int64),
        }
        return self

    def decision_function(self, X) -> np.ndarray:
        """Linear scores, shape (n,) for two classes, else (n, n_fitted_classes)."""
        s = self._scores(X)
        return s[:, 0] if s.shape[1] == 1 else s

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, shape (n, n_outputs); column k is class k (0 for classes unseen in fit)."""
        st = self._fitted_state()
        p = _linear_proba(self._scores(X))
        out = np.zeros((len(p), self.n_outputs))
        out[:, st["classes"]] = p
        return out

    def predict(self, X) -> np.ndarray:
        """Predicted class labels, int64 of shape (n,)."""
        st = self._fitted_state()
        s = self._scores(X)
        idx = (s[:, 0] > 0).astype(np.int64) if s.shape[1] == 1 else np.argmax(s, axis=1)
        return st["classes"][idx]

    def score(self, X, y) -> float:
        """Mean accuracy on trials X (n, 1, C, T) or (n, C, T) with labels y (n,)."""
        pred = self.predict(X)
        y = np.asarray(y)
        if y.shape != pred.shape:
            raise DataError(f"{self.model_name}.score: y of shape {y.shape} expected {pred.shape}")
        return float(np.mean(pred == y))

    # ---- state ------------------------------------------------------------------------------------
    def get_state(self) -> dict[str, np.ndarray]:
        """The fitted arrays (copies): the feature extractor's plus coef, intercept, classes."""
        return {k: v.copy() for k, v in self._fitted_state().items()}

    def set_state(self, state: dict) -> "_LinearHead":
        """Restore a fitted model from ``get_state()`` arrays; checks keys and shapes."""
        keys = set(self._feature_keys) | {"coef", "intercept", "classes"}
        missing = sorted(keys - set(state))
        if missing:
            raise CheckpointError(f"{self.model_name}: state lacks {missing}; expected keys {sorted(keys)}")
        new = {k: np.array(state[k], dtype=np.int64 if k == "classes" else np.float64) for k in keys}
        bad = sorted(k for k, v in new.items() if not np.all(np.isfinite(v)))
        if bad:
            raise CheckpointError(f"{self.model_name}: state arrays {bad} hold NaN or infinite values")
        classes, coef, intercept = new["classes"], new["coef"], new["intercept"]
        if classes.ndim != 1 or len(np.unique(classes)) != len(classes):
            raise CheckpointError(f"{self.model_name}: state classes {classes.tolist()} must be distinct labels")
        n_cls = len(classes)
        if n_cls < 2 or classes.min() < 0 or classes.max() >= self.n_outputs:
            raise CheckpointError(f"{self.model_name}: state classes {classes.tolist()} do not fit n_outputs={self.n_outputs}")
        rows = 1 if n_cls == 2 else n_cls
        if coef.ndim != 2 or coef.shape[0] != rows or intercept.shape != (rows,):
            raise CheckpointError(
                f"{self.model_name}: state coef {coef.shape} / intercept {intercept.shape} do not fit {n_cls} classes"
            )
        self._check_feature_state(new)
        if coef.shape[1] != self._n_features(new):
            raise CheckpointError(
                f"{self.model_name}: state coef has {coef.shape[1]} features; expected {self._n_features(new)}"
            )
        self._state = new
        return self

    def _fitted_state(self) -> dict[str, np.ndarray]:
        if self._state is None:
            raise EEGClfError(f"{self.model_name} is not fitted: call fit(X, y) or set_state(state) first")
        return self._state

    def _scores(self, X) -> np.ndarray:
        st = self._fitted_state()
        X = _as_trials(X, self.n_chans, f"{self.model_name}.predict")
        with _one_blas_thread():
            return self._features(X, st) @ st["coef"].T + st["intercept"]


class CSPLDA(_LinearHead):
    """Common spatial patterns (MNE) + linear discriminant analysis (scikit-learn).

    As MNE's motor-imagery example: ``CSP(n_components=4, reg=None, log=True)`` then ``LDA()``
    (``n_components`` defaults to ``min(4, n_chans)``).
    Features: log of the mean power of each of the ``n_components`` CSP-filtered signals, shape
    (n, n_components) (with ``log=False``: the power standardised by the training mean and std).

    State: ``filters`` (n_components, n_chans), ``mean``/``std`` (n_components,), ``coef``
    (1 or n_classes, n_components), ``intercept``, ``classes``.
    """

    model_name = "csp_lda"
    _feature_keys = ("filters", "mean", "std")

    def __init__(self, n_chans, n_times, n_outputs=2, n_components=None, reg=None, log=True, **unknown):
        if n_components is None:  # MNE's example uses 4; fewer channels (the study's 2) allow fewer
            n_components = min(4, n_chans)
        if unknown:
            raise ConfigError(f"csp_lda: unknown option(s) {sorted(unknown)}; valid: n_components, reg, log")
        if not isinstance(n_components, int) or isinstance(n_components, bool) or not 1 <= n_components <= n_chans:
            raise ConfigError(f"csp_lda: n_components={n_components!r} is invalid: expected an integer in 1..{n_chans}")
        if reg is not None and not isinstance(reg, (float, int, str)):
            raise ConfigError(f"csp_lda: reg={reg!r} is invalid: expected None, a number or an estimator name")
        super().__init__(n_chans, n_times, n_outputs, n_components=n_components, reg=reg, log=bool(log))

    def _fit_extractor(self, X, y, eps):
        """X (n, C, T) float64 (converted from the caller's dtype, whose precision is ``eps``).

        The data rank (the average reference removes one dimension) is judged with the precision of the
        caller's dtype: float32 trials keep rounding noise in the null direction that MNE's float64
        tolerance would count as signal, and CSP would whiten that noise into its filters.
        """
        from mne.decoding import CSP
        from mne.utils import use_log_level
        from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

        o = self.options
        rank = numerical_rank(X, eps)
        csp = CSP(n_components=min(o["n_components"], rank), reg=o["reg"], log=o["log"], norm_trace=False,
                  rank={"eeg": rank})
        try:
            with use_log_level("WARNING"):  # MNE reports rank and covariance steps at INFO
                feats = csp.fit_transform(X, y)
        except (ValueError, np.linalg.LinAlgError) as exc:
            raise DataError(f"csp_lda.fit: CSP could not be fitted on X {X.shape}: {exc}") from None
        # The spatial filters CSP applies, read through its public interface (works for any n_classes).
        csp.set_params(transform_into="csp_space")
        filters = csp.transform(np.eye(self.n_chans)[None])[0]
        mean = np.asarray(getattr(csp, "mean_", np.zeros(len(filters))))
        std = np.asarray(getattr(csp, "std_", np.ones(len(filters))))
        lda = LinearDiscriminantAnalysis().fit(feats, y)
        return {"filters": filters, "mean": mean, "std": std}, lda

    def _features(self, X, st):
        power = np.mean((st["filters"] @ X) ** 2, axis=2)
        if self.options["log"]:
            return np.log(power)
        return (power - st["mean"]) / st["std"]

    def _check_feature_state(self, st):
        f = st["filters"]
        if f.ndim != 2 or f.shape[1] != self.n_chans or st["mean"].shape != (len(f),) or st["std"].shape != (len(f),):
            raise CheckpointError(
                f"csp_lda: state filters {f.shape}, mean {st['mean'].shape}, std {st['std'].shape} "
                f"do not fit {self.n_chans} channels"
            )

    def _n_features(self, st):
        return len(st["filters"])


# pyRiemann's covariance estimators (pyriemann.geometry.covariance.covariances)
COV_ESTIMATORS = ("corr", "cov", "hub", "lwf", "mcd", "oas", "sch", "scm", "stu", "tyl")


class TangentSpaceLR(_LinearHead):
    """Riemannian tangent space (pyRiemann) + logistic regression (scikit-learn).

    Covariances per trial (``estimator``, default OAS shrinkage), mapped to the tangent space at their
    Riemannian mean over the training trials: features of shape (n, n_chans * (n_chans + 1) / 2).
    Then ``LogisticRegression(C=C, max_iter=max_iter)``.

    State: ``reference`` (n_chans, n_chans) SPD matrix, ``coef`` (1 or n_classes, n_features),
    ``intercept``, ``classes``.
    """

    model_name = "ts_lr"
    _feature_keys = ("reference",)

    def __init__(self, n_chans, n_times, n_outputs=2, estimator="oas", C=1.0, max_iter=1000, **unknown):
        if unknown:
            raise ConfigError(f"ts_lr: unknown option(s) {sorted(unknown)}; valid: estimator, C, max_iter")
        if estimator not in COV_ESTIMATORS:
            raise ConfigError(f"ts_lr: estimator={estimator!r} is invalid: expected one of {', '.join(COV_ESTIMATORS)}")
        if not (isinstance(C, (int, float)) and C > 0):
            raise ConfigError(f"ts_lr: C={C!r} is invalid: expected a number > 0")
        if not isinstance(max_iter, int) or max_iter < 1:
            raise ConfigError(f"ts_lr: max_iter={max_iter!r} is invalid: expected an integer >= 1")
        super().__init__(n_chans, n_times, n_outputs, estimator=estimator, C=float(C), max_iter=max_iter)

    def _covariances(self, X):
        from eegclf.models.covariance_cache import trial_covariances

        return trial_covariances(X, self.options["estimator"])  # pyRiemann's, shared in a benchmark process

    def _fit_extractor(self, X, y, eps):
        from pyriemann.tangentspace import TangentSpace

        ts = TangentSpace(metric="riemann")
        try:
            feats = ts.fit_transform(self._covariances(X))
        except (ValueError, np.linalg.LinAlgError) as exc:
            raise DataError(f"{self.model_name}.fit: tangent space could not be fitted on X {X.shape}: {exc}") from None
        return {"reference": ts.reference_}, self._fit_head(feats, y)

    def _fit_head(self, feats, y):
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=self.options["C"], max_iter=self.options["max_iter"]).fit(feats, y)

    def _features(self, X, st):
        from pyriemann.geometry.tangentspace import tangent_space

        return tangent_space(self._covariances(X), st["reference"], metric="riemann")

    def _check_feature_state(self, st):
        ref = st["reference"]
        if ref.shape != (self.n_chans, self.n_chans):
            raise CheckpointError(f"ts_lr: state reference {ref.shape} expected ({self.n_chans}, {self.n_chans})")

    def _n_features(self, st):
        return self.n_chans * (self.n_chans + 1) // 2


class TangentSpaceSVM(TangentSpaceLR):
    """Covariances (OAS) + Riemannian tangent space + linear SVM: MOABB's "TS + SVM" pipeline.

    The SVM is scikit-learn's ``SVC(kernel="linear", C=1)``; with more than two classes one SVM per class
    against the rest. Probabilities are the sigmoid (softmax) of the SVM scores: they rank trials like the
    scores do (what ROC-AUC needs) but are not calibrated.

    State: ``reference`` (n_chans, n_chans) SPD matrix, ``coef`` (1 or n_classes, n_features), ``intercept``,
    ``classes``.
    """

    model_name = "ts_svm"

    def _fit_head(self, feats, y):
        from sklearn.svm import SVC

        classes = np.unique(y)
        if len(classes) == 2:
            return SVC(kernel="linear", C=self.options["C"]).fit(feats, y)
        rows = [SVC(kernel="linear", C=self.options["C"]).fit(feats, (y == k).astype(int)) for k in classes]
        return _Head(np.vstack([r.coef_ for r in rows]), np.concatenate([r.intercept_ for r in rows]), classes)


class _Head:
    """A fitted linear head given by its arrays (what _LinearHead.fit reads from an estimator)."""

    def __init__(self, coef, intercept, classes):
        self.coef_, self.intercept_, self.classes_ = coef, intercept, classes


class FgMDM(_LinearHead):
    """Covariances (OAS) + FgMDM (pyRiemann): geodesic filtering then minimum distance to the class means.

    Fit: tangent space at the Riemannian mean of the training covariances; LDA (lsqr, automatic shrinkage:
    scikit-learn's, solved through the trials' Gram matrix by :mod:`eegclf.models.shrunk_lda`) there; the tangent vectors projected onto the LDA's discriminant subspace and mapped back to the manifold
    (FGDA); then each class's Riemannian mean of the filtered matrices (MDM). Predict: class probabilities are
    the softmax of minus the squared Riemannian distances to the class means, as pyRiemann's ``predict_proba``.
    Computed here from the arrays below with pyRiemann's geometry functions, so no estimator is pickled.

    State: ``reference`` (C, C), ``centroids`` (n_classes, C, C), ``coef`` and ``intercept`` (the LDA's, which
    define the filter), ``classes``.
    """

    model_name = "fgmdm"
    _feature_keys = ("reference", "centroids")

    def __init__(self, n_chans, n_times, n_outputs=2, estimator="oas", **unknown):
        if unknown:
            raise ConfigError(f"fgmdm: unknown option(s) {sorted(unknown)}; valid: estimator")
        if estimator not in COV_ESTIMATORS:
            raise ConfigError(f"fgmdm: estimator={estimator!r} is invalid: expected one of {', '.join(COV_ESTIMATORS)}")
        super().__init__(n_chans, n_times, n_outputs, estimator=estimator)

    def _covariances(self, X):
        from eegclf.models.covariance_cache import trial_covariances

        return trial_covariances(X, self.options["estimator"])  # pyRiemann's, shared in a benchmark process

    def _fit_extractor(self, X, y, eps):
        from pyriemann.classification import MDM
        from pyriemann.tangentspace import TangentSpace

        from eegclf.models.shrunk_lda import fit_shrunk_lda

        covs = self._covariances(X)
        try:
            ts = TangentSpace(metric="riemann")
            feats = ts.fit_transform(covs)
            with _all_blas_threads():  # when scikit-learn's d x d least-squares solve runs, threads pay
                lda = fit_shrunk_lda(feats, y)  # pyRiemann's FGDA LDA (lsqr, automatic shrinkage), O(n^2 d)
            filtered = self._filter(feats, ts.reference_, lda.coef_)
            mdm = MDM(metric="riemann").fit(filtered, y)
        except (ValueError, np.linalg.LinAlgError) as exc:
            raise DataError(f"fgmdm.fit: could not be fitted on X {X.shape}: {exc}") from None
        return {"reference": ts.reference_, "centroids": mdm.covmeans_}, lda

    @staticmethod
    def _filter(feats, reference, coef):
        """Tangent vectors projected onto the discriminant subspace, back on the manifold.

        pyRiemann's FGDA multiplies by the d x d projection W = coef' pinv(coef coef') coef; it has rank
        n_classes - 1, so it is applied in its factors (n x k products, not an n x d x d one)."""
        from pyriemann.geometry.tangentspace import untangent_space

        return untangent_space(((feats @ coef.T) @ np.linalg.pinv(coef @ coef.T)) @ coef, reference, metric="riemann")

    def _scores(self, X) -> np.ndarray:
        """Two classes: d0^2 - d1^2 (n, 1), whose sigmoid is the softmax of -d^2; else -d^2 (n, classes)."""
        from pyriemann.geometry.distance import distance_riemann
        from pyriemann.geometry.tangentspace import tangent_space

        st = self._fitted_state()
        X = _as_trials(X, self.n_chans, f"{self.model_name}.predict")
        with _one_blas_thread():
            feats = tangent_space(self._covariances(X), st["reference"], metric="riemann")
            filtered = self._filter(feats, st["reference"], st["coef"])
            d2 = np.stack([distance_riemann(filtered, c, squared=True) for c in st["centroids"]], axis=1)
        return (d2[:, 0] - d2[:, 1])[:, None] if d2.shape[1] == 2 else -d2

    def _check_feature_state(self, st):
        c = self.n_chans
        if st["reference"].shape != (c, c) or st["centroids"].shape != (len(st["classes"]), c, c):
            raise CheckpointError(f"fgmdm: state reference {st['reference'].shape} / centroids "
                                  f"{st['centroids'].shape} do not fit {c} channels and {len(st['classes'])} classes")

    def _n_features(self, st):
        return self.n_chans * (self.n_chans + 1) // 2


CLASSICAL_MODELS: dict = {"csp_lda": CSPLDA, "ts_lr": TangentSpaceLR, "ts_svm": TangentSpaceSVM, "fgmdm": FgMDM}
