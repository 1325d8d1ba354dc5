"""The classical pipelines' cheaper computation (issue 33) gives pyRiemann's, MNE's and scikit-learn's results.

- :func:`eegclf.models.shrunk_lda.fit_shrunk_lda` equals scikit-learn's LDA (lsqr, automatic shrinkage);
- the covariance store returns pyRiemann's matrices, bit for bit, each computed once;
- on real 64-channel trials (EEGMMIDB S001, the ``deep`` preset, its ``run-split`` fold), csp_lda, ts_lr,
  ts_svm and fgmdm predict as MNE's and pyRiemann's own pipelines, decision values and probabilities to 1e-9;
- a benchmark fold with the covariances shared gives the same record as without.
"""

import numpy as np
import pytest

from eegclf.models.covariance_cache import CovarianceStore, sharing_covariances, store, trial_covariances
from eegclf.models.shrunk_lda import LinearHead, fit_shrunk_lda

TOL = 1e-9


def _lda_reference(X, y):
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    return LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto").fit(X, y)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_shrunk_lda_equals_sklearn_when_features_outnumber_trials(n_classes):
    rng = np.random.default_rng(n_classes)
    n, d = 40, 300
    y = np.arange(n) % n_classes
    X = rng.standard_normal((n, d)) * rng.uniform(0.01, 100, d) + 3.0 * y[:, None] * (np.arange(d) < 5)
    X[:, 7] = 2.5  # a constant feature: the scaler's scale 1, as scikit-learn's
    ours, ref = fit_shrunk_lda(X, y), _lda_reference(X, y)
    assert isinstance(ours, LinearHead)  # the O(n^2 d) path, not scikit-learn's estimator
    np.testing.assert_array_equal(ours.classes_, ref.classes_)
    assert ours.coef_.shape == ref.coef_.shape and ours.intercept_.shape == ref.intercept_.shape
    scale = np.abs(ref.coef_).max()
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=0, atol=TOL * scale)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=TOL, atol=TOL)


@pytest.mark.filterwarnings("ignore:Only one sample available")
def test_shrunk_lda_falls_back_to_sklearn_where_the_shortcut_does_not_apply():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((60, 10)), np.arange(60) % 2  # more trials than features
    ours = fit_shrunk_lda(X, y)
    np.testing.assert_array_equal(ours.coef_, _lda_reference(X, y).coef_)
    X, y = rng.standard_normal((12, 50)), np.array([0] * 11 + [1])  # a class of one trial: no shrunk estimate
    ours = fit_shrunk_lda(X, y)
    assert not isinstance(ours, LinearHead)
    np.testing.assert_array_equal(ours.coef_, _lda_reference(X, y).coef_)


@pytest.mark.parametrize("estimator", ["oas", "scm", "lwf"])
def test_store_gives_pyriemann_covariances_bit_for_bit(estimator):
    from pyriemann.geometry.covariance import covariances

    X = np.random.default_rng(1).standard_normal((12, 6, 80))
    s = CovarianceStore()
    first = s.covariances(X[:8], estimator)
    assert (s.hits, s.misses) == (0, 8)
    again = s.covariances(X[::-1], estimator)  # 8 stored, 4 new; a different order and batch
    assert (s.hits, s.misses) == (8, 12)
    np.testing.assert_array_equal(first, covariances(X[:8], estimator=estimator))
    np.testing.assert_array_equal(again, covariances(X[::-1], estimator=estimator))
    s.covariances(X[:2], "cov" if estimator != "cov" else "oas")  # another estimator is another entry
    assert s.misses == 14


def test_store_is_bounded_and_used_only_while_sharing():
    X = np.random.default_rng(2).standard_normal((10, 4, 30))
    s = CovarianceStore(max_bytes=3 * 4 * 4 * 8)  # room for three 4 x 4 matrices
    s.covariances(X, "oas")
    assert len(s) == 3
    s.covariances(X[-3:], "oas")  # the three most recent are kept
    assert s.hits == 3
    store().clear()
    trial_covariances(X, "oas")
    assert len(store()) == 0  # not sharing: nothing stored
    with sharing_covariances():
        trial_covariances(X, "oas")
        trial_covariances(X[:5], "oas")
    assert (len(store()), store().hits, store().misses) == (10, 5, 10)
    store().clear()


# ---- real trials: 64 channels --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def s001(eegmmidb_root):
    """EEGMMIDB S001 (imagined left/right fist) with the benchmark's deep preset: the run-split pool and fold."""
    from eegclf.benchmark.presets import preset
    from eegclf.benchmark.runner import _recipe, load_pool, make_spec
    from eegclf.config import RunConfig

    data, recipe = preset("deep", "eegmmidb")
    spec = make_spec("eegmmidb", dict(data, task="imagery_lr", subjects=[1]), "run-split",
                     ["csp_lda", "ts_lr", "ts_svm", "fgmdm"], RunConfig.from_dict(recipe), data_dir=str(eegmmidb_root))
    template, pool, folds = load_pool(spec)
    assert pool.X.shape[1:] == (1, 64, 513) and len(folds) == 1
    return spec, template, pool, folds[0], _recipe(spec, 1)


@pytest.fixture(scope="module")
def s001_parts(s001):
    _, _, pool, fold, _ = s001
    train, test = pool.subset(fold.train), pool.subset(fold.test)
    return train.X, train.y, test.X, test.y


def _reference(name, n_chans, Xtr):
    from mne.decoding import CSP
    from pyriemann.classification import FgMDM
    from pyriemann.estimation import Covariances
    from pyriemann.tangentspace import TangentSpace
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import SVC

    from eegclf.models.classical import numerical_rank

    if name == "csp_lda":  # MNE's motor-imagery example, given the data's rank (average reference: 63)
        rank = numerical_rank(Xtr, np.finfo(np.float32).eps)
        return make_pipeline(CSP(n_components=4, reg=None, log=True, norm_trace=False, rank={"eeg": rank}),
                             LinearDiscriminantAnalysis())
    head = {"ts_lr": LogisticRegression(C=1.0, max_iter=1000), "ts_svm": SVC(kernel="linear", C=1.0)}
    if name in head:
        return make_pipeline(Covariances("oas"), TangentSpace(metric="riemann"), head[name])
    return make_pipeline(Covariances("oas"), FgMDM(metric="riemann"))


@pytest.mark.parametrize("name", ["csp_lda", "ts_lr", "ts_svm", "fgmdm"])
def test_real_64_channels_equal_pyriemann_and_mne(name, s001_parts):
    from threadpoolctl import threadpool_limits

    from eegclf.models.classical import CLASSICAL_MODELS

    Xtr, ytr, Xte, _ = s001_parts
    ours = CLASSICAL_MODELS[name](64, 513).fit(Xtr, ytr)
    X3tr, X3te = Xtr[:, 0].astype(np.float64), Xte[:, 0].astype(np.float64)
    with threadpool_limits(limits=1, user_api="blas"):  # fgmdm's: scikit-learn's 2,080 x 2,080 solve, ~10 s
        ref = _reference(name, 64, X3tr).fit(X3tr, ytr)
    X = np.concatenate([Xtr, Xte])
    X3 = np.concatenate([X3tr, X3te])
    np.testing.assert_array_equal(ours.predict(X), ref.predict(X3))
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X3) if name != "ts_svm" else
                               ours.predict_proba(X), rtol=0, atol=TOL)
    if name == "fgmdm":  # decision d0^2 - d1^2 from pyRiemann's distances to the class means
        d = ref.transform(X3)
        expected = d[:, 0] ** 2 - d[:, 1] ** 2
    else:
        expected = ref.decision_function(X3)
    got = ours.decision_function(X)
    np.testing.assert_allclose(got, expected, rtol=0, atol=TOL * max(1.0, np.abs(expected).max()))


@pytest.mark.parametrize("name", ["fgmdm", "ts_lr"])
def test_benchmark_fold_with_shared_covariances_equals_unshared(name, s001):
    from eegclf.benchmark.pipelines import run_pipeline

    _, template, pool, fold, recipe = s001
    alone = run_pipeline(name, pool, fold, template, recipe, seed=0)
    store().clear()
    with sharing_covariances():
        shared = run_pipeline(name, pool, fold, template, recipe, seed=0)
        misses = store().misses
        assert misses == len(fold.train) + len(fold.test)  # each trial's covariance computed once
        warm = run_pipeline(name, pool, fold, template, recipe, seed=0)  # every covariance from the store
        assert store().misses == misses and store().hits > 0
    store().clear()
    for other in (shared, warm):
        np.testing.assert_array_equal(other.proba, alone.proba)
        assert (other.chosen, other.inner_acc, other.inner_on) == (alone.chosen, alone.inner_acc, alone.inner_on)
