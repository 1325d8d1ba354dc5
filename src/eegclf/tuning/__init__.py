"""Hyper-parameter search with Optuna: one study in an RDB storage, shared by any number of workers.

``tune()`` runs one worker (this process) on a study, creating it on first use; any process started with
the same storage URL and study name joins it. ``finalize_study()`` retrains the best trial over seeds and
writes ``OUT/tune_report.md``. The orchestration is :mod:`eegclf.tuning.orchestrator`; the search space
:mod:`~eegclf.tuning.space`, the storage :mod:`~eegclf.tuning.storage`, one worker's trials
:mod:`~eegclf.tuning.worker` and the final retraining and report :mod:`~eegclf.tuning.finalize`.
"""

from eegclf.tuning.orchestrator import TuneOutcome, default_study_name, finalize_study, open_study, study_settings, tune
from eegclf.tuning.space import SearchSpace, apply_params
from eegclf.tuning.storage import StorageError
from eegclf.tuning.worker import TuneError

__all__ = ["tune", "finalize_study", "open_study", "study_settings", "SearchSpace", "StorageError", "TuneError",
           "TuneOutcome", "default_study_name", "apply_params"]
