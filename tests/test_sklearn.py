"""eegclf.estimator.EEGClassifier: a scikit-learn classifier that trains through eegclf's trainer."""

import pickle

import mne
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.pipeline import Pipeline

import eegclf.training.loop
from eegclf.errors import ConfigError, DataError
from eegclf.estimator import EEGClassifier

FAST = dict(epochs=2, batch_size=16, device="cpu", threads=1)


def trials(n=48, n_chans=3, n_times=128, seed=0):
    """(n, channels, times) noise where 'left' trials carry a 12 Hz burst on channel 0, 'right' on the last."""
    rng = np.random.default_rng(seed)
    X = rng.normal(0, 1e-5, (n, n_chans, n_times))
    y = np.array(["left", "right"] * (n // 2))
    burst = 4e-5 * np.sin(2 * np.pi * 12 * np.arange(n_times) / 128)
    X[y == "left", 0] += burst
    X[y == "right", -1] += burst
    return X, y


def test_fit_predict_in_the_users_labels():
    X, y = trials()
    clf = EEGClassifier(model="EEGNet", **FAST).fit(X, y)
    assert clf.classes_.tolist() == ["left", "right"]
    proba = clf.predict_proba(X[:5])
    assert proba.shape == (5, 2) and np.allclose(proba.sum(1), 1.0, atol=1e-5)
    assert set(clf.predict(X)) <= {"left", "right"}
    assert clf.predict(X[:5]).tolist() == clf.classes_[proba.argmax(1)].tolist()
    assert 0.0 <= clf.score(X, y) <= 1.0
    assert clf.summary_["model"] == "eegnet" and clf.summary_["epochs"] == 2
    # (n, 1, C, T) and mne.Epochs are the same trials
    np.testing.assert_array_equal(clf.predict_proba(X[:, None]), clf.predict_proba(X))
    epochs = mne.EpochsArray(X, mne.create_info(3, 128.0, "eeg"), verbose="error")
    np.testing.assert_allclose(clf.predict_proba(epochs), clf.predict_proba(X), rtol=1e-6)


def test_same_seed_same_predictions_and_clone():
    X, y = trials(seed=1)
    a = EEGClassifier(seed=3, **FAST)
    b = clone(a)
    assert b is not a and b.get_params() == a.get_params()
    pa = a.fit(X, y).predict_proba(X)
    pb = b.fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(pa, pb)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(a)).predict_proba(X), pa)  # joblib workers pickle
    assert not hasattr(clone(a), "model_")  # clone copies parameters, not the fitted model
    assert clone(a).set_params(lr=0.01, seed=4).get_params()["lr"] == 0.01


def test_reuses_eegclfs_trainer(monkeypatch):
    calls = []
    real = eegclf.training.loop.train_model

    def spy(config, dataset, run_dir=None, progress=None, **kw):
        calls.append((config, dataset))
        return real(config, dataset, run_dir, progress=progress, **kw)

    monkeypatch.setattr(eegclf.training.loop, "train_model", spy)
    X, y = trials(n=24)
    EEGClassifier(model="shallowconvnet", lr=2e-3, val_fraction=0.25, **FAST).fit(X, y)
    (config, dataset), = calls
    assert (config.model, config.epochs, config.lr, config.val_fraction) == ("shallowconvnet", 2, 2e-3, 0.25)
    assert dataset.train.X.shape == (24, 1, 3, 128) and dataset.class_names == ["left", "right"]
    assert 0 < len(dataset.test) <= 2  # the trainer's test part is a token: it is only measured


def test_pipeline_cross_val_score_and_grid_search():
    X, y = trials(n=48, seed=2)
    pipe = Pipeline([("net", EEGClassifier(**FAST))])
    scores = cross_val_score(pipe, X, y, cv=StratifiedKFold(3))
    assert scores.shape == (3,) and np.all((0 <= scores) & (scores <= 1))
    grid = GridSearchCV(EEGClassifier(**FAST), {"lr": [1e-3, 1e-2], "dropout": [0.25]}, cv=2)
    grid.fit(X, y)
    assert grid.best_params_["lr"] in (1e-3, 1e-2)
    assert set(grid.predict(X[:4])) <= {"left", "right"}


def test_classical_model_too():
    X, y = trials(n=40, seed=3)
    clf = EEGClassifier(model="csp_lda").fit(X, y)
    assert clf.predict_proba(X).shape == (40, 2) and clf.score(X, y) > 0.5


def test_bad_input():
    X, y = trials(n=24)
    with pytest.raises(NotFittedError):
        EEGClassifier().predict(X)
    with pytest.raises(DataError, match="shape"):
        EEGClassifier(**FAST).fit(X[:, 0], y)
    with pytest.raises(DataError, match="one class"):
        EEGClassifier(**FAST).fit(X, np.full(24, "left"))
    with pytest.raises(DataError, match="one label per trial"):
        EEGClassifier(**FAST).fit(X, y[:5])
    with pytest.raises(ConfigError, match="unknown model"):
        EEGClassifier(model="nonet").fit(X, y)
    with pytest.raises(ConfigError, match="epochs"):
        EEGClassifier(epochs=0).fit(X, y)
    clf = EEGClassifier(**FAST).fit(X, y)
    with pytest.raises(DataError, match="fitted on"):
        clf.predict(X[:, :2])
