"""The tuning orchestrator: one worker's run of a study (:func:`tune`) and its final retraining and report
(:func:`finalize_study`).

The study records the settings it searches (model, data, fixed training options, search space) as user
attribute ``eegclf``; a worker with other settings is refused. Storage: ``sqlite:///OUT/tune.db`` by default
(one machine), or ``postgresql://...`` for many machines.
"""

from __future__ import annotations

import sys
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

from eegclf.config import RunConfig
from eegclf.errors import ConfigError
from eegclf.parallel import check_jobs
from eegclf.storage.tempfiles import clear_dead_temp_files
from eegclf.tuning.space import PARAMS, SearchSpace
from eegclf.tuning.storage import default_storage_url, mask_url, open_storage
from eegclf.tuning.worker import WorkerLog, count_states, finished, run_worker, worker_id

FORMAT = "eegclf-tune/1"
# RunConfig fields that may differ between the workers of one study (machine-specific)
_LOCAL_KEYS = ("threads", "device", "data_dir", "out")

__all__ = ["TuneOutcome", "default_study_name", "finalize_study", "open_study", "study_settings", "tune"]


@dataclass
class TuneOutcome:
    study_name: str
    storage: str  # masked URL
    log: WorkerLog  # what this worker did
    counts: dict  # trials of the whole study per state
    report: Path | None  # OUT/tune_report.md when this worker finalized


def default_study_name(base: RunConfig) -> str:
    return f"{base.model}-{base.dataset}"


def study_settings(base: RunConfig, space: SearchSpace) -> dict:
    """What every worker of one study must agree on (JSON-able)."""
    config = {k: v for k, v in base.to_dict().items() if k not in _LOCAL_KEYS and k not in PARAMS}
    return {"format": FORMAT, "config": config, "space": space.to_dict()}


def _quiet_optuna() -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


def _sampler_and_pruner(n_trials: int, space: SearchSpace, pruner: str):
    import optuna

    sampler = optuna.samplers.TPESampler(n_startup_trials=max(2, min(10, n_trials // 3)), constant_liar=True)
    if pruner == "median":
        p = optuna.pruners.MedianPruner(n_startup_trials=max(2, min(5, n_trials // 4)),
                                        n_warmup_steps=space.epochs[0] // 3)
    elif pruner == "halving":
        p = optuna.pruners.SuccessiveHalvingPruner(min_resource=max(1, space.epochs[0] // 3))
    elif pruner == "none":
        p = optuna.pruners.NopPruner()
    else:
        raise ConfigError(f"pruner={pruner!r} is invalid: expected median, halving or none", param="pruner")
    return sampler, p


def _check_settings(study, settings: dict, storage_text: str) -> None:
    """Record ``settings`` on a new study; refuse a worker whose settings differ from the study's."""
    old = study.user_attrs.get("eegclf")
    if old is None:
        study.set_user_attr("eegclf", settings)
        return
    diffs = []
    for part in ("config", "space"):
        a, b = old.get(part, {}), settings[part]
        diffs += [f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    if diffs:
        raise ConfigError(f"study={study.study_name!r} in {storage_text} searches other settings "
                          f"({'; '.join(diffs)}); use the same settings to join it, or another study",
                          param="study")


def open_study(storage_url: str, study_name: str, heartbeat: int = 20, retries: int = 1,
               sampler=None, pruner=None, create: bool = True, storage=None):
    """Load (or, with ``create``, create) study ``study_name``. StorageError/ConfigError on failure.

    ``storage``: an RDBStorage already opened on ``storage_url`` (else it is opened here).
    """
    import optuna

    storage = storage or open_storage(storage_url, heartbeat=heartbeat, retries=retries)
    text = mask_url(storage_url)
    if create:
        for attempt in range(3):
            try:
                return optuna.create_study(storage=storage, study_name=study_name, direction="maximize",
                                           sampler=sampler, pruner=pruner, load_if_exists=True)
            except KeyError:  # another worker created it between the check and the insert: load it
                if attempt == 2:
                    raise
    try:
        return optuna.load_study(study_name=study_name, storage=storage, sampler=sampler, pruner=pruner)
    except KeyError:
        names = optuna.get_all_study_names(storage)
        raise ConfigError(f"no study {study_name!r} in {text}; it holds: {', '.join(names) or 'no study'}") from None


def _load_dataset(base: RunConfig):
    from eegclf.data import load_dataset

    return load_dataset(base.dataset, data_dir=base.data_dir, **base.dataset_options)


def tune(base: RunConfig, space: SearchSpace, n_trials: int, out_dir, storage: str | None = None,
         study_name: str | None = None, timeout: float | None = None, finalize: bool = True, seeds: int = 3,
         jobs: int | None = None, heartbeat: int = 20, retries: int = 1, pruner: str = "median",
         progress: bool | None = None) -> TuneOutcome:
    """Run this process as one worker of the study until it holds ``n_trials`` finished trials.

    base: the fixed settings (model, data, optimiser, ...); its PARAMS fields are drawn from ``space``.
    n_trials: the study's total of finished (complete + pruned) trials, over all its workers.
    timeout: seconds after which this worker starts no new trial. finalize: when the study is done,
    the worker that finished its last trial retrains the best setting with ``seeds`` seeds in OUT/final
    and writes OUT/tune_report.md (see :func:`finalize_study`).
    """
    import optuna

    from eegclf.models import get_model

    _quiet_optuna()
    out_dir = Path(out_dir)
    entry = get_model(base.model)
    base = replace(base, model=entry.name, out=None)
    if not entry.is_deep:
        raise ConfigError(f"model={base.model}: tune searches the training settings of deep networks; "
                          "classical models have none", param="model")
    space = space.validate()
    if not isinstance(n_trials, int) or n_trials < 1:
        raise ConfigError(f"trials={n_trials!r} is invalid: expected an integer >= 1", param="trials")
    if not isinstance(retries, int) or retries < 0:
        raise ConfigError(f"retries={retries!r} is invalid: expected an integer >= 0", param="retries")
    if finalize and (not isinstance(seeds, int) or seeds < 1):
        raise ConfigError(f"seeds={seeds!r} is invalid: expected a number of seeds >= 1", param="seeds")
    if finalize:
        check_jobs(jobs)  # the final retraining's setting: checked before the search, not after it
    if timeout is not None and timeout <= 0:
        raise ConfigError(f"timeout={timeout} is invalid: expected seconds > 0", param="timeout")
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"out={out_dir} exists and is not a folder", param="out")
    # out/, out/figures/, out/final/runs/NAME/ (finalize's retraining); live workers' files are kept
    clear_dead_temp_files(out_dir, depth=3)
    storage = storage or default_storage_url(out_dir)
    study_name = study_name or default_study_name(base)
    text = mask_url(storage)
    sampler, pruner_obj = _sampler_and_pruner(n_trials, space, pruner)
    settings = study_settings(base, space)
    rdb = open_storage(storage, heartbeat=heartbeat, retries=retries)  # bad URL or server: fail first
    done = 0
    if study_name in optuna.get_all_study_names(rdb):  # refuse other settings before loading any data
        existing = open_study(storage, study_name, create=False, storage=rdb)
        _check_settings(existing, settings, text)
        done = finished(count_states(existing))
    # the data load validates the data options before a new study records them
    dataset = _load_dataset(base) if done < n_trials else None
    study = open_study(storage, study_name, heartbeat, retries, sampler, pruner_obj, storage=rdb)
    _check_settings(study, settings, text)

    counts = count_states(study)
    _say(f"study {study_name!r} in {text}: {finished(counts)} of {n_trials} trials finished; "
         f"worker {worker_id()} joins")
    log = run_worker(study, base, space, dataset, n_trials, heartbeat, timeout)
    counts = count_states(study)
    _say(f"worker {worker_id()} stops: it ran {sum(map(len, log.trials.values()))} trial(s) "
         f"({', '.join(f'{len(v)} {k.lower()}' for k, v in log.trials.items())}); the study has "
         f"{finished(counts)} of {n_trials} finished")
    report = None
    if finalize and _should_finalize(study, counts, n_trials, log, out_dir):
        report = _finalize(study, out_dir, base, space, text, seeds, jobs, progress)
    return TuneOutcome(study_name, text, log, dict(counts), report)


def _should_finalize(study, counts, n_trials: int, log: WorkerLog, out_dir: Path) -> bool:
    """One worker finalizes: the one that finished the study's last trial (or, on a rerun of a finished
    study, a worker with no report in its folder yet); on a timeout, the last worker still running."""
    hint = f"finalize it into {out_dir} (eegclf tune --finalize, or finalize_study) with the same storage and study"
    if not any(t.state.name == "COMPLETE" for t in study.get_trials(deepcopy=False)):
        _say("no trial completed: nothing to finalize")
        return False
    if finished(counts) < n_trials:
        if counts["RUNNING"]:
            _say(f"the study is not finished (other workers run {counts['RUNNING']} trial(s)); {hint}")
            return False
        return True
    done = [t for t in study.get_trials(deepcopy=False) if t.state.name in ("COMPLETE", "PRUNED")]
    last = max(done, key=lambda t: (t.datetime_complete, t.number))
    if last.user_attrs.get("worker") == worker_id():
        return True
    ran = sum(map(len, log.trials.values()))
    if ran == 0 and not (out_dir / "tune_report.md").is_file():
        return True
    _say("another worker finalizes the study" if ran else
         f"the study was finished already; its report: {out_dir / 'tune_report.md'} "
         "(eegclf tune --finalize to rebuild it)")
    return False


def _finalize(study, out_dir, base, space, text, seeds, jobs, progress) -> Path:
    from eegclf.tuning.finalize import finalize

    return finalize(study, Path(out_dir), base, space, text, seeds=seeds, jobs=jobs, progress=progress)


def finalize_study(out_dir, storage: str | None = None, study_name: str | None = None, seeds: int = 3,
                   jobs: int | None = None, data_dir: str | None = None, threads: int | None = None,
                   progress: bool | None = None) -> Path:
    """Retrain the best trial of a study over seeds and write OUT/tune_report.md; returns its path.

    The study's own recorded settings are used; ``data_dir`` and ``threads`` may differ on this machine.
    Without ``study_name`` the storage must hold exactly one study.
    """
    import optuna

    _quiet_optuna()
    out_dir = Path(out_dir)
    storage = storage or default_storage_url(out_dir)
    text = mask_url(storage)
    if _sqlite_missing(storage):
        raise ConfigError(f"no study storage at {text}: give storage=URL, or out=FOLDER of the search",
                          param=("storage", "out"))
    if study_name is None:
        names = optuna.get_all_study_names(open_storage(storage))
        if len(names) != 1:
            raise ConfigError(f"{text} holds {len(names)} studies ({', '.join(names) or 'none'}): name one with "
                              "study=NAME", param="study")
        study_name = names[0]
    study = open_study(storage, study_name, create=False)
    settings = study.user_attrs.get("eegclf")
    if not settings or settings.get("format") != FORMAT:
        raise ConfigError(f"study {study_name!r} in {text} was not made by eegclf tune")
    base = RunConfig.from_dict({**settings["config"], "data_dir": data_dir, "threads": threads})
    space = SearchSpace.from_dict(settings["space"])
    return _finalize(study, out_dir, base, space, text, seeds, jobs, progress)


def _sqlite_missing(url: str) -> bool:
    """True for a sqlite URL whose file does not exist (opening it would create an empty database)."""
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:  # noqa: BLE001 - open_storage reports malformed URLs
        return False
    return parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").expanduser().is_file()


def _say(text: str) -> None:
    print(f"tune: {text}", file=sys.stderr, flush=True)
