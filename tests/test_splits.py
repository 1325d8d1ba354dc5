"""Split helpers: stratified validation hold-out, ShuffleSplit folds, leave-one-run-out folds."""

import numpy as np
import pytest
from sklearn.model_selection import ShuffleSplit

from eegclf.data.base import EEGDataset, Split
from eegclf.data.splits import pooled, pooled_parts, run_folds, shuffle_splits, train_val_indices
from eegclf.errors import DataError


def _split(counts, runs=None):
    """counts: {(subject, class): n}; X[i] holds i so trials can be traced."""
    subjects, y = [], []
    for (s, c), n in counts.items():
        subjects += [s] * n
        y += [c] * n
    n = len(y)
    X = np.arange(n, dtype=np.float32).reshape(n, 1, 1, 1) * np.ones((1, 1, 2, 3), np.float32)
    return Split(X, np.array(y, dtype=np.int64), np.array(subjects), runs)


def _dataset(train, test, **options):
    return EEGDataset("toy", train, test, 100.0, ["a", "b"], ["l", "r"], options, {})


def test_train_val_stratified_per_subject_and_class():
    split = _split({("S1", 0): 40, ("S1", 1): 20, ("S2", 0): 10, ("S2", 1): 3, ("S3", 1): 1})
    tr, va = train_val_indices(split, 0.2, seed=0)
    assert tr.dtype == va.dtype == np.int64
    assert len(np.intersect1d(tr, va)) == 0 and np.union1d(tr, va).tolist() == list(range(len(split)))
    got = {}
    for i in va:
        key = (split.subjects[i], int(split.y[i]))
        got[key] = got.get(key, 0) + 1
    assert got == {("S1", 0): 8, ("S1", 1): 4, ("S2", 0): 2, ("S2", 1): 1}  # S3's single trial stays in train


def test_train_val_deterministic_given_seed():
    split = _split({("S1", 0): 50, ("S1", 1): 50})
    a = train_val_indices(split, 0.1, seed=3)
    b = train_val_indices(split, 0.1, seed=3)
    c = train_val_indices(split, 0.1, seed=4)
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1])
def test_train_val_fraction_out_of_range(fraction):
    with pytest.raises(DataError, match="validation fraction"):
        train_val_indices(_split({("S1", 0): 10, ("S1", 1): 10}), fraction, seed=0)


def test_train_val_empty_validation_is_an_error():
    with pytest.raises(DataError, match="both must be non-empty"):
        train_val_indices(_split({("S1", 0): 1, ("S1", 1): 1}), 0.2, seed=0)


def test_shuffle_splits_match_sklearn_on_pooled_trials():
    train = _split({("S1", 0): 20, ("S1", 1): 16})
    test = _split({("S1", 0): 5, ("S1", 1): 4})
    test.X = test.X + 100
    ds = _dataset(train, test, seed=1)
    folds = shuffle_splits(ds)
    pool = pooled(ds)
    assert pool.X[:, 0, 0, 0].tolist() == list(range(36)) + list(range(100, 109))
    expected = list(ShuffleSplit(10, test_size=0.2, random_state=42).split(np.zeros(45)))
    assert len(folds) == 10
    for fold, (tr, te) in zip(folds, expected):
        np.testing.assert_array_equal(fold.train.X, pool.X[tr])
        np.testing.assert_array_equal(fold.test.y, pool.y[te])
        assert len(fold.test) == 9 and fold.info["fold"]["test_indices"] == te.tolist()
        assert fold.options == {"seed": 1}
    assert ds.info == {}  # the source data set is untouched


def test_pooled_follows_recording_order_when_runs_are_known():
    runs = np.array([8] * 3 + [12] * 3 + [8] * 2 + [12] * 2)
    train = _split({("S001", 0): 6, ("S002", 0): 4}, runs=runs)
    test = _split({("S001", 1): 2, ("S002", 1): 1}, runs=np.array([4, 4, 4]))
    pool = pooled(_dataset(train, test))
    assert pool.subjects.tolist() == ["S001"] * 8 + ["S002"] * 5
    assert pool.runs.tolist() == [4, 4, 8, 8, 8, 12, 12, 12, 4, 8, 8, 12, 12]


def test_run_folds_leave_one_run_out():
    runs = np.repeat([4, 8], 5)
    train = _split({("S1", 0): 5, ("S1", 1): 5}, runs=runs)
    test = _split({("S1", 0): 3, ("S1", 1): 2}, runs=np.full(5, 12))
    folds = run_folds(_dataset(train, test, test_run=12))
    assert [f.options["test_run"] for f in folds] == [4, 8, 12]
    for fold, run in zip(folds, (4, 8, 12)):
        assert set(fold.test.runs.tolist()) == {run}
        assert run not in fold.train.runs.tolist() and len(fold.train) + len(fold.test) == 15
        assert fold.info["fold"] == {"protocol": "leave_one_run_out", "index": [4, 8, 12].index(run), "test_run": run}


def test_run_folds_need_known_runs():
    ds = _dataset(_split({("S1", 0): 4, ("S1", 1): 4}), _split({("S1", 0): 2, ("S1", 1): 2}))
    with pytest.raises(DataError, match="at least two known recording runs"):
        run_folds(ds)


def test_pooled_parts_and_run_folds_key_runs_by_session():
    """Runs restart in each session (MOABB): pooled keeps sessions apart in recording order, remembers the
    loader's held-out trials, and leave-one-run-out holds out one (session, run) at a time."""
    train = _split({("S1", 0): 4, ("S1", 1): 4})
    train.runs, train.sessions = np.array([1, 0, 1, 0] * 2), np.array(["10"] * 4 + ["2"] * 4)
    test = _split({("S1", 0): 1, ("S1", 1): 1})
    test.runs, test.sessions = np.array([0, 1]), np.array(["2", "10"])
    pool, held_out = pooled_parts(_dataset(train, test))
    assert list(zip(pool.sessions.tolist(), pool.runs.tolist())) == [
        ("2", 0), ("2", 0), ("2", 0), ("2", 1), ("2", 1), ("10", 0), ("10", 0), ("10", 1), ("10", 1), ("10", 1)]
    assert held_out.tolist() == [False, False, True] + [False] * 4 + [False, False, True]
    folds = run_folds(_dataset(train, test))
    assert [(f.info["fold"]["session"], f.info["fold"]["test_run"], len(f.test)) for f in folds] == [
        ("2", 0, 3), ("2", 1, 2), ("10", 0, 2), ("10", 1, 3)]
