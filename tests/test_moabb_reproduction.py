"""eegclf's Riemannian pipelines reproduce MOABB's published within-session scores on the 12 EEGMMIDB subjects.

MOABB 1.7.2's WithinSessionEvaluation with LeftRightImagery (8-32 Hz, 0-3 s, 64 channels, stratified 5-fold,
random_state 42) on these files gives mean ROC-AUC 0.739 (FgMDM) and 0.731 (TS + linear SVM) over S001-S012
(shared/data/eegmmidb/README.md). Here the same folds come from eegclf's within-subject protocol and the same
data window from the benchmark's ``moabb`` preset.
"""

import numpy as np
import pytest

from eegclf.benchmark import make_folds
from eegclf.benchmark.presets import preset
from eegclf.benchmark.scores import fold_scores
from eegclf.data import load_dataset
from eegclf.data.splits import pooled
from eegclf.models import create_model

MOABB_AUC = {"fgmdm": 0.739, "ts_svm": 0.731}


@pytest.fixture(scope="module")
def moabb_pool(eegmmidb_root):
    options, _ = preset("moabb", "eegmmidb")
    ds = load_dataset("eegmmidb", data_dir=eegmmidb_root, subjects="1-12", task="imagery_lr", **options)
    assert ds.n_chans == 64 and ds.sfreq == 160.0 and ds.n_times == 481  # 0-3 s inclusive at 160 Hz
    return pooled(ds)


@pytest.mark.parametrize("model", sorted(MOABB_AUC))
def test_within_subject_roc_auc_matches_moabb(moabb_pool, model):
    pool = moabb_pool
    per_subject = {}
    for fold in make_folds(pool, "within-subject"):
        clf = create_model(model, pool.X.shape[2], pool.X.shape[3]).fit(pool.X[fold.train], pool.y[fold.train])
        auc = fold_scores(pool.y[fold.test], clf.predict_proba(pool.X[fold.test]))["roc_auc"]
        per_subject.setdefault(fold.subject, []).append(auc)
    assert len(per_subject) == 12
    mean_auc = float(np.mean([np.mean(v) for v in per_subject.values()]))
    print(f"{model}: mean ROC-AUC over 12 subjects {mean_auc:.3f} (MOABB {MOABB_AUC[model]})")
    assert abs(mean_auc - MOABB_AUC[model]) <= 0.03
