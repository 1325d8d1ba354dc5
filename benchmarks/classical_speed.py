"""The classical pipelines' cost per ``run-split`` fold at 64 channels, as before issue 33 and now, in one run.

Run: ``EEGCLF_DATA=... nice python benchmarks/classical_speed.py`` (FgMDM on S001 and S002), or e.g.
``--subjects 1-4 --pipelines fgmdm,ts_lr``. Not run by the tests.

Data: EEGMMIDB imagined left/right fist with the benchmark's ``deep`` preset (64 channels, average reference,
4-38 Hz, 0-4 s at 128 Hz: 513 samples); protocol ``run-split`` (per subject, train on two runs, test on the
third: about 30 training and 15 test trials). One fold is what ``eegclf benchmark`` runs for it:
:func:`eegclf.benchmark.pipelines.run_pipeline`, i.e. the 3-fold inner cross-validation on the training part
(the score that picks the best classical pipeline per fold, and ``auto``), then the refit and the test
prediction.

Both ways run the same function on the same fold, in this process, after a warm-up (imports and first calls
are counted in neither):

- before: as eegclf computed it before issue 33: each fit goes through the trainer, which then measures the
  model on the training and test parts (nothing in a benchmark reads those); FgMDM's LDA is scikit-learn's
  ``LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto")`` (a least-squares solve of the d x d
  covariance, d = 2,080 tangent-space features), the geodesic filter the dense d x d projection, and every
  trial's covariance computed wherever it is used;
- now: the classical fits without the trainer's measurements; the LDA solved through the n x n Gram matrix
  (:mod:`eegclf.models.shrunk_lda`), the filter applied in its rank-(n_classes - 1) factors, and each trial's
  covariance computed once (:mod:`eegclf.models.covariance_cache`; its store is emptied before each fold, so no
  fold profits from an earlier one; a benchmark process keeps it, so there the later pipelines and folds of a
  subject are cheaper still).

Printed per fold: seconds before and now, their ratio, and the largest difference between the two ways' test
probabilities (rounding: the results are the same). The machine's load average is printed first and last (the
numbers are wall-clock seconds). The last line is ``classical_fold_speedup: X.XX``: the total seconds before
over the total now.
"""

from __future__ import annotations

import argparse
import os
import time
from contextlib import contextmanager

import numpy as np

from eegclf.benchmark.pipelines import run_pipeline
from eegclf.benchmark.presets import preset
from eegclf.benchmark.runner import _recipe, load_pool, make_spec
from eegclf.config import RunConfig
from eegclf.models.covariance_cache import sharing_covariances, store


@contextmanager
def as_before():
    """A fold computed as before issue 33: every fit through the trainer (which measures each part), FgMDM
    with scikit-learn's d x d LDA solve and the dense filter, no covariance shared."""
    from dataclasses import replace

    from pyriemann.geometry.tangentspace import untangent_space
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    import eegclf.benchmark.pipelines as pipelines
    import eegclf.models.shrunk_lda as shrunk_lda
    from eegclf.models.classical import FgMDM
    from eegclf.training.loop import FitOptions, train_model

    def trainer_fit(name, train, test, template, recipe, seed):
        config = replace(recipe.config, model=name, seed=seed, val_fraction=0.0)
        return train_model(config, template.with_splits(train, test), progress=False, options=FitOptions(curves=False))[1]

    def sklearn_lda(X, y):
        return LinearDiscriminantAnalysis(n_components=len(np.unique(y)) - 1, solver="lsqr",
                                          shrinkage="auto").fit(X, y)

    def dense_filter(feats, reference, coef):
        W = coef.T @ np.linalg.pinv(coef @ coef.T) @ coef
        return untangent_space(feats @ W, reference, metric="riemann")

    saved = pipelines._fit, shrunk_lda.fit_shrunk_lda, FgMDM.__dict__["_filter"]
    pipelines._fit, shrunk_lda.fit_shrunk_lda, FgMDM._filter = trainer_fit, sklearn_lda, staticmethod(dense_filter)
    try:
        yield
    finally:
        pipelines._fit, shrunk_lda.fit_shrunk_lda, FgMDM._filter = saved


def subjects_arg(text: str) -> list[int]:
    out = []
    for part in text.split(","):
        a, _, b = part.partition("-")
        out += list(range(int(a), int(b or a) + 1))
    return out


def warm_up(pipelines) -> None:
    """Imports and first calls of every pipeline, both ways, on small generated trials."""
    import eegclf.training.loop  # noqa: F401  (run_pipeline fits through the trainer)
    from eegclf.models.classical import CLASSICAL_MODELS
    from eegclf.seeding import seed_everything

    seed_everything(0)  # its first call imports parts of torch (the trainer calls it)
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((24, 1, 8, 64)), np.arange(24) % 2
    for name in pipelines:
        for way in (as_before, sharing_covariances):
            with way():
                CLASSICAL_MODELS[name](8, 64).fit(X, y).predict_proba(X)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subjects", default="1-2", help="EEGMMIDB subjects, e.g. 1-2 or 1,5,7 (default 1-2)")
    ap.add_argument("--pipelines", default="fgmdm", help="classical pipelines, comma-separated (default fgmdm)")
    args = ap.parse_args()
    from eegclf.models import get_model

    pipelines = [get_model(p.strip()).name for p in args.pipelines.split(",") if p.strip()]
    if any(get_model(p).is_deep for p in pipelines):
        ap.error(f"--pipelines {args.pipelines}: expected classical pipelines (csp_lda, ts_lr, ts_svm, fgmdm)")

    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cpus")
    data, recipe = preset("deep", "eegmmidb")
    spec = make_spec("eegmmidb", dict(data, task="imagery_lr", subjects=subjects_arg(args.subjects)), "run-split",
                     pipelines, RunConfig.from_dict(recipe), data_dir=os.environ.get("EEGCLF_DATA"))
    template, pool, folds = load_pool(spec)
    print(f"trials: {pool.X.shape} ({template.n_chans} channels x {template.n_times} samples); {len(folds)} folds")
    run_recipe = _recipe(spec, 1)
    warm_up(pipelines)

    totals = {"before": 0.0, "now": 0.0}
    for name in pipelines:
        for fold in folds:
            seed = spec["seed"] + fold.index
            t0 = time.perf_counter()
            with as_before():
                before = run_pipeline(name, pool, fold, template, run_recipe, seed)
            t1 = time.perf_counter()
            store().clear()
            with sharing_covariances():
                now = run_pipeline(name, pool, fold, template, run_recipe, seed)
            t2 = time.perf_counter()
            totals["before"] += t1 - t0
            totals["now"] += t2 - t1
            same = before.inner_acc == now.inner_acc and np.array_equal(before.proba.argmax(1), now.proba.argmax(1))
            print(f"{name} {fold.key} (train {len(fold.train)}, test {len(fold.test)}): before {t1 - t0:7.2f} s, "
                  f"now {t2 - t1:6.2f} s, x{(t1 - t0) / (t2 - t1):.1f}; max |proba diff| "
                  f"{np.abs(before.proba - now.proba).max():.1e}; same predictions and inner scores: {same}")
    print(f"total: before {totals['before']:.2f} s, now {totals['now']:.2f} s")
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"classical_fold_speedup: {totals['before'] / totals['now']:.2f}")


if __name__ == "__main__":
    main()
