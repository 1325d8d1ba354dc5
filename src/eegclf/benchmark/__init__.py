"""``eegclf benchmark``: pipelines evaluated under a named protocol on one or more subjects, nothing chosen on
a test fold. See :mod:`~eegclf.benchmark.protocols` (the folds), :mod:`~eegclf.benchmark.pipelines` (fitting,
``auto``), :mod:`~eegclf.benchmark.scores`, :mod:`~eegclf.benchmark.runner` (resumable, parallel) and
:mod:`~eegclf.benchmark.folder` (the output folder)."""

from eegclf.benchmark.pipelines import AUTO
from eegclf.benchmark.protocols import PROTOCOLS, Fold, make_folds
from eegclf.benchmark.runner import BenchmarkError, make_spec, run_benchmark

__all__ = ["AUTO", "PROTOCOLS", "BenchmarkError", "Fold", "make_folds", "make_spec", "run_benchmark"]
