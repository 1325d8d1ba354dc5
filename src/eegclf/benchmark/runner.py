"""``run_benchmark``: every (pipeline, fold) of a protocol, resumable per fold, in parallel worker processes.

Each worker loads the data set once and pools its trials (:func:`eegclf.data.splits.pooled`); the folds are
recomputed identically in every process from the pool. A finished fold is one JSON file in the benchmark
folder (:mod:`eegclf.benchmark.folder`); running the same command again skips it. The spec and every fold
record carry the run's provenance (:mod:`eegclf.benchmark.provenance`); a transfer fold also names the
checkpoint (path, sha256) its subject was tested with.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from eegclf.benchmark.folder import BenchmarkFolder
from eegclf.benchmark.pipelines import AUTO, TRANSFER, Recipe, check_pipelines, pick_init, run_pipeline
from eegclf.benchmark.protocols import CROSS_SUBJECT, check_protocol, make_folds
from eegclf.benchmark.provenance import check_init_file, collect, file_sha256, init_of_fold, pool_fingerprint
from eegclf.benchmark.scores import fold_scores
from eegclf.config import RunConfig
from eegclf.errors import ConfigError, DataError, EEGClfError
from eegclf.parallel import available_cores, cached_dataset, call_task, run_tasks

# RunConfig fields a benchmark sets itself (per pipeline and fold) or that do not change results
_NOT_RECIPE = ("model", "seed", "out", "threads", "device", "data_dir", "dataset", "dataset_options", "val_fraction")


class BenchmarkError(EEGClfError, RuntimeError):
    """Some folds failed; the others finished and were reported."""


def make_spec(dataset: str, dataset_options: dict, protocol: str, pipelines: list[str], config: RunConfig,
              *, seed: int = 0, finetune_epochs: int = 50, finetune_lr: float = 5e-4,
              auto_candidates: tuple[str, ...] = (), data_dir: str | None = None, command: str = "",
              init: tuple[str, ...] = ()) -> dict:
    """The JSON description of a benchmark (what ``benchmark.json`` holds), checked. ``init``: pre-trained
    checkpoints for the transfer pipelines (``finetune``, ``pretrained``); each subject is tested with the
    first one that never saw it."""
    check_protocol(protocol)
    candidates = tuple(check_pipelines(list(auto_candidates), ())) if auto_candidates else ()
    pipelines = check_pipelines(pipelines, candidates)
    if AUTO in candidates or set(TRANSFER) & set(candidates):
        raise ConfigError("auto_candidates cannot hold auto, finetune or pretrained", param="auto_candidates")
    transfer = [p for p in pipelines if p in TRANSFER]
    if transfer and not init:
        raise ConfigError(f"the pipeline {transfer[0]} starts from a pre-trained checkpoint: give one as "
                          "init=CKPT (e.g. PRE/pretrained.safetensors from eegclf pretrain)", param="init")
    if init and not transfer:
        raise ConfigError("init= gives the finetune and pretrained pipelines their pre-trained checkpoint: add "
                          "one of them to the pipelines", param="init")
    if transfer and protocol in CROSS_SUBJECT:
        raise ConfigError(f"the pipeline {transfer[0]} calibrates on the tested subject's own training trials, "
                          f"which protocol={protocol} does not give: use run-split or within-subject "
                          "(cross-subject-finetune fine-tunes its own leave-one-subject-out models)", param="protocol")
    for name, value, minimum in (("finetune_epochs", finetune_epochs, 1), ("seed", seed, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ConfigError(f"{name}={value!r} is invalid: expected an integer >= {minimum}")
    if not (isinstance(finetune_lr, (int, float)) and finetune_lr > 0):
        raise ConfigError(f"finetune_lr={finetune_lr!r} is invalid: expected a number > 0")
    recipe = {k: v for k, v in config.to_dict().items() if k not in _NOT_RECIPE}
    if recipe.get("augment") is None:  # off: benchmark folders made before augmentation existed stay resumable
        recipe.pop("augment", None)
    inits = [_init_record(path) for path in init]
    return {"dataset": dataset, "dataset_options": dict(dataset_options), "data_dir": data_dir,
            "protocol": protocol, "pipelines": pipelines, "seed": seed, **({"init": inits} if inits else {}),
            "recipe": {"config": recipe, "finetune_epochs": finetune_epochs, "finetune_lr": float(finetune_lr),
                       "auto_candidates": list(candidates)},
            "command": command}


def _init_record(path) -> dict:
    from eegclf.pretrained import resolve
    from eegclf.transfer import Init

    path = resolve(path)  # a shipped network's name (eegclf pretrained list) is its installed file
    init = Init.from_checkpoint(path)  # a missing, pickled or classical checkpoint fails here
    return {"path": str(Path(path).resolve()), "sha256": file_sha256(path), "model": init.model,
            "alignment": init.alignment,
            "subjects_seen": None if init.subjects_seen is None else list(init.subjects_seen)}


_INIT_CACHE: dict = {}


def _inits(spec: dict) -> tuple:
    from eegclf.transfer import Init

    records = spec.get("init", [])
    for r in records:
        check_init_file(r)  # the very checkpoint the spec recorded, or none (a few ms per fold)
        key = (r["path"], r.get("sha256"))
        if key not in _INIT_CACHE:
            _INIT_CACHE[key] = Init.from_checkpoint(r["path"])
    return tuple(_INIT_CACHE[(r["path"], r.get("sha256"))] for r in records)


def _recipe(spec: dict, threads: int | None) -> Recipe:
    r = spec["recipe"]
    config = RunConfig.from_dict({**r["config"], "threads": threads, "val_fraction": 0.0})
    return Recipe(config, r["finetune_epochs"], r["finetune_lr"], tuple(r["auto_candidates"]), _inits(spec))


_POOL_CACHE: dict = {}


def load_pool(spec: dict):
    """``(template, pool, folds)``: the loaded data set (its shape, rate, channels and classes), every trial
    pooled in recording order, and the protocol's folds over the pool. Computed once per process: every
    fold a worker runs shares them (pooling copies all trials)."""
    from eegclf.data.splits import pooled_parts

    dataset = cached_dataset(spec["dataset"], spec.get("data_dir"), spec["dataset_options"])
    key = (id(dataset), spec["protocol"])
    if key not in _POOL_CACHE:
        _POOL_CACHE.clear()
        pool, held_out = pooled_parts(dataset)
        _POOL_CACHE[key] = (dataset, pool, make_folds(pool, spec["protocol"], held_out))
    return _POOL_CACHE[key]


_FINGERPRINTS: dict = {}


def _pool_fingerprint(template, pool) -> str:
    """The pool's fingerprint, computed once per process and pool."""
    held = _FINGERPRINTS.get(id(pool))
    if held is None or held[0] is not pool:
        _FINGERPRINTS.clear()
        held = _FINGERPRINTS[id(pool)] = (pool, pool_fingerprint(template, pool))
    return held[1]


def with_provenance(spec: dict) -> dict:
    """``spec`` with the provenance of running it here and now (``spec["provenance"]``)."""
    template, pool, _ = load_pool(spec)
    config = RunConfig.from_dict({**spec["recipe"]["config"], "val_fraction": 0.0})
    return dict(spec, provenance=collect(config, _pool_fingerprint(template, pool)))


def run_fold(spec: dict, pipeline: str, key: str, out_dir: str, threads: int | None = None) -> None:
    """Run one (pipeline, fold) and write its record (in a worker process, or in this one)."""
    template, pool, folds = load_pool(spec)
    if _pool_fingerprint(template, pool) != spec["provenance"]["pool"]:
        raise DataError(f"the trials loaded for fold {key} are not those this benchmark recorded (trial pool "
                        "fingerprint differs): did the data files change while it ran?")
    fold = next(f for f in folds if f.key == key)
    seed = spec["seed"] + fold.index
    t0 = time.perf_counter()
    outcome = run_pipeline(pipeline, pool, fold, template, _recipe(spec, threads), seed)
    seconds = time.perf_counter() - t0
    y_test = pool.y[fold.test]
    record = {
        "pipeline": pipeline, "chosen": outcome.chosen, "inner_acc": outcome.inner_acc,
        "inner_on": outcome.inner_on,
        "subject": fold.subject, **({"session": fold.session} if fold.session is not None else {}),
        "fold": fold.index, "key": key, "seed": seed,
        "n_train": len(fold.train), "n_adapt": len(fold.adapt), "n_test": len(fold.test),
        "n_classes": len(template.class_names), **fold_scores(y_test, outcome.proba), "seconds": round(seconds, 3),
        "train_idx": fold.train.tolist(), "adapt_idx": fold.adapt.tolist(), "test_idx": fold.test.tolist(),
        "y_test": y_test.tolist(), "proba": np.round(outcome.proba, 6).tolist(),
        "provenance": spec["provenance"],
    }
    if pipeline in TRANSFER:
        inits = _inits(spec)
        record["init"] = init_of_fold(spec, inits, pick_init(inits, fold.subject, template))
    BenchmarkFolder(out_dir).write_fold(pipeline, key, record)


def run_benchmark(spec: dict, out_dir, jobs: int | None = None, progress: bool | None = None) -> Path:
    """Run every missing (pipeline, fold) of ``spec`` (see :func:`make_spec`) into ``out_dir``, then write the
    report; returns the path of ``results.md``. Raises BenchmarkError after the report when folds failed."""
    from eegclf.progress import is_interactive
    from eegclf.reporting.benchmark_report import build_benchmark_report

    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        raise ConfigError(f"jobs={jobs!r} is invalid: expected an integer >= 1")
    folder = BenchmarkFolder(out_dir)
    template, _, folds = load_pool(spec)  # bad subjects, classes or runs fail here, before anything is written
    spec = with_provenance(spec)
    if spec.get("init"):  # a checkpoint that saw a tested subject, or does not fit the data, fails here too
        for init in _inits(spec):
            init.check_fits(template)
        for fold in folds:
            pick_init(_inits(spec), fold.subject, template)
    folder.prepare(spec)
    todo = [(p, f.key) for p in spec["pipelines"] for f in folds if not folder.is_done(p, f.key)]
    cores = available_cores()
    n_jobs = max(1, min(jobs or cores, len(todo)))
    threads = max(1, cores // n_jobs)
    total = len(spec["pipelines"]) * len(folds)
    print(f"benchmark: {spec['protocol']}, {len(folds)} folds x {len(spec['pipelines'])} pipelines in {out_dir}; "
          f"{total - len(todo)} done already; running {len(todo)} in {n_jobs} process"
          f"{'es' if n_jobs > 1 else ''} x {threads} thread{'s' if threads > 1 else ''}", file=sys.stderr)
    show = is_interactive() if progress is None else progress
    errors = _run(spec, todo, Path(out_dir), n_jobs, threads, show) if todo else {}
    done_any = len(errors) < total
    report = build_benchmark_report(out_dir) if done_any else None
    if errors:
        first = sorted(errors)[0]
        raise BenchmarkError(f"{len(errors)} of {len(todo)} folds failed (first: {first}: "
                             f"{errors[first].strip().splitlines()[-1]}); finished folds are kept: run the same "
                             "command again to retry the failed ones" + (f"; partial report: {report}" if report else ""))
    return report


def _run(spec, todo, out_dir: Path, jobs: int, threads: int, progress: bool) -> dict[str, str]:
    if jobs == 1:  # in this process: the data set is loaded already
        from tqdm.auto import tqdm

        errors = {}
        for pipeline, key in tqdm(todo, desc="benchmark", unit="fold", disable=not progress, dynamic_ncols=True):
            err = call_task("eegclf.benchmark.runner:run_fold", (spec, pipeline, key, str(out_dir), threads))
            if err is not None:
                errors[f"{pipeline}/{key}"] = err
                print(f"benchmark: {pipeline}/{key} failed: {err.strip().splitlines()[-1]}", file=sys.stderr)
        return errors
    tasks = [(f"{p}/{k}", "eegclf.benchmark.runner:run_fold", (spec, p, k, str(out_dir), threads)) for p, k in todo]
    return run_tasks(tasks, jobs, threads, progress, desc="benchmark", unit="fold")


__all__ = ["BenchmarkError", "make_spec", "run_benchmark", "run_fold", "load_pool"]
