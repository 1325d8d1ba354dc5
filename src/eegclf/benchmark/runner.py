"""``run_benchmark``: every (pipeline, fold) of a protocol, resumable per fold, in parallel worker processes.

Each worker loads the data set once and pools its trials (:func:`eegclf.data.splits.pooled`); the folds are
recomputed identically in every process from the pool. A finished fold is one JSON file in the benchmark
folder (:mod:`eegclf.benchmark.folder`); running the same command again skips it. The spec and every fold
record carry the run's provenance (:mod:`eegclf.benchmark.provenance`); a transfer fold also names the
checkpoint (path, sha256) its subject was tested with.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

from eegclf.adaptation import check_layers, check_mix
from eegclf.benchmark.folder import BenchmarkFolder
from eegclf.benchmark.pipelines import (
    AUTO,
    TRANSFER,
    ZERO_SHOT,
    Recipe,
    can_run,
    check_calibration_curve,
    check_pipelines,
    pick_init,
    run_pipeline,
    train_key,
)
from eegclf.benchmark.protocols import (
    CROSS_SUBJECT,
    calibration_part,
    check_calibration_trials,
    check_protocol,
    make_folds,
    subject_groups,
    with_calibration,
)
from eegclf.benchmark.provenance import check_init_file, collect, file_sha256, init_of_fold, pool_fingerprint
from eegclf.benchmark.scores import fold_scores
from eegclf.config import RunConfig
from eegclf.errors import ConfigError, DataError, EEGClfError
from eegclf.models.covariance_cache import sharing_covariances
from eegclf.parallel import available_cores, cached_dataset, call_task, check_jobs, run_tasks
from eegclf.storage.tempfiles import clear_dead_temp_files

# RunConfig fields a benchmark sets itself (per pipeline and fold) or that do not change results
_NOT_RECIPE = ("model", "seed", "out", "threads", "device", "data_dir", "dataset", "dataset_options", "val_fraction")


class BenchmarkError(EEGClfError, RuntimeError):
    """Some folds failed; the others finished and were reported."""


def make_spec(dataset: str, dataset_options: dict, protocol: str, pipelines: list[str], config: RunConfig,
              *, seed: int = 0, finetune_epochs: int = 50, finetune_lr: float = 5e-4,
              finetune_layers: str = "all", finetune_mix: float = 0.0,
              auto_candidates: tuple[str, ...] = (), data_dir: str | None = None, command: str = "",
              init: tuple[str, ...] = (), subject_folds: int | None = None,
              calibration_trials: tuple[int, ...] = ()) -> dict:
    """The JSON description of a benchmark (what ``benchmark.json`` holds), checked. ``init``: pre-trained
    checkpoints for the transfer pipelines (``zero-shot``, ``pretrained-renorm``, ``adabn``, ``finetune``); each subject
    is tested with the first one that never saw it. ``subject_folds``: K groups of whole people instead of
    leave-one-subject-out (cross-subject protocols; the groups are drawn with ``seed`` and recorded by
    :func:`run_benchmark`). ``calibration_trials``: the calibration curve's N values (see
    :func:`eegclf.benchmark.protocols.with_calibration`)."""
    check_protocol(protocol)
    curve = check_calibration_trials(list(calibration_trials), protocol) if calibration_trials else []
    if subject_folds is not None:
        if protocol not in CROSS_SUBJECT:
            raise ConfigError(f"subject_folds={subject_folds} groups whole people, which protocol={protocol} (one "
                              f"person at a time) does not: use {' or '.join(CROSS_SUBJECT)}",
                              param=("subject_folds", "protocol"))
        if isinstance(subject_folds, bool) or not isinstance(subject_folds, int) or subject_folds < 2:
            raise ConfigError(f"subject_folds={subject_folds!r} is invalid: expected an integer >= 2",
                              param="subject_folds")
    candidates = tuple(check_pipelines(list(auto_candidates), ())) if auto_candidates else ()
    pipelines = check_pipelines(pipelines, candidates)
    if AUTO in candidates or set(TRANSFER) & set(candidates):
        raise ConfigError("auto_candidates cannot hold auto or a transfer pipeline (zero-shot, pretrained-renorm, "
                          "adabn, finetune)", param="auto_candidates")
    transfer = [p for p in pipelines if p in TRANSFER]
    if transfer and not init:
        raise ConfigError(f"the pipeline {transfer[0]} starts from a pre-trained checkpoint: give one as "
                          "init=CKPT (e.g. PRE/pretrained.safetensors from eegclf pretrain)", param="init")
    if init and not transfer:
        raise ConfigError("init= gives the transfer pipelines (zero-shot, pretrained-renorm, adabn, finetune) their "
                          "pre-trained checkpoint: add one of them to the pipelines", param="init")
    if transfer and protocol in CROSS_SUBJECT:
        raise ConfigError(f"the pipeline {transfer[0]} calibrates on the tested subject's own training trials, "
                          f"which protocol={protocol} does not give: use run-split or within-subject "
                          "(cross-subject-finetune fine-tunes its own leave-one-subject-out models)", param="protocol")
    for name, value, minimum in (("finetune_epochs", finetune_epochs, 1), ("seed", seed, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ConfigError(f"{name}={value!r} is invalid: expected an integer >= {minimum}", param=name)
    if not (isinstance(finetune_lr, (int, float)) and finetune_lr > 0):
        raise ConfigError(f"finetune_lr={finetune_lr!r} is invalid: expected a number > 0", param="finetune_lr")
    check_layers(finetune_layers)
    finetune_mix = check_mix(finetune_mix)
    if finetune_mix > 0 and "finetune" not in pipelines:
        raise ConfigError(f"finetune_mix={finetune_mix:g} mixes the pre-training people's trials into the "
                          "finetune pipeline's steps: add finetune (with init=CKPT) to the pipelines",
                          param="finetune_mix")
    recipe = {k: v for k, v in config.to_dict().items() if k not in _NOT_RECIPE}
    if recipe.get("augment") is None:  # off: benchmark folders made before augmentation existed stay resumable
        recipe.pop("augment", None)
    inits = [_init_record(path) for path in init]
    return {"dataset": dataset, "dataset_options": dict(dataset_options), "data_dir": data_dir,
            "protocol": protocol, "pipelines": pipelines, "seed": seed, **({"init": inits} if inits else {}),
            **({"subject_folds": {"k": subject_folds, "seed": seed}} if subject_folds is not None else {}),
            **({"calibration_trials": curve} if curve else {}),
            "recipe": {"config": recipe, "finetune_epochs": finetune_epochs, "finetune_lr": float(finetune_lr),
                       # recorded where not the default, so folders made before these choices existed resume
                       **({"finetune_layers": finetune_layers} if finetune_layers != "all" else {}),
                       **({"finetune_mix": finetune_mix} if finetune_mix > 0 else {}),
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
    return Recipe(config, r["finetune_epochs"], r["finetune_lr"], tuple(r["auto_candidates"]), _inits(spec),
                  r.get("finetune_layers", "all"), float(r.get("finetune_mix", 0.0)), spec.get("data_dir"))


_POOL_CACHE: dict = {}


def load_pool(spec: dict):
    """``(template, pool, folds)``: the loaded data set (its shape, rate, channels and classes), every trial
    pooled in recording order, and the protocol's folds over the pool. Computed once per process: every
    fold a worker runs shares them (pooling copies all trials)."""
    from eegclf.data.splits import pooled_parts

    dataset = cached_dataset(spec["dataset"], spec.get("data_dir"), spec["dataset_options"])
    groups = (spec.get("subject_folds") or {}).get("groups")
    key = (id(dataset), spec["protocol"], json.dumps(groups), json.dumps(spec.get("calibration_trials")))
    if key not in _POOL_CACHE:
        _POOL_CACHE.clear()
        pool, held_out = pooled_parts(dataset)
        folds = make_folds(pool, spec["protocol"], held_out, groups)
        if spec.get("calibration_trials"):
            folds = with_calibration(folds, spec["protocol"], spec["calibration_trials"])
        if len({f.key for f in folds}) < len(folds):  # a fold file per key: a shared key would drop a fold
            raise DataError("two folds of this benchmark share a key (session names that differ only in "
                            "punctuation?); rename the sessions")
        _POOL_CACHE[key] = (dataset, pool, folds)
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


def with_subject_groups(spec: dict, out_dir=None) -> dict:
    """``spec`` with its subject folds drawn (``subject_folds.groups``: which people in which fold), or as
    recorded in ``out_dir``'s benchmark.json when it holds the same K and seed, so a resumed benchmark tests
    every person in the same fold. Unchanged without ``subject_folds``."""
    sf = spec.get("subject_folds")
    if not sf or sf.get("groups"):
        return spec
    folder = BenchmarkFolder(out_dir) if out_dir is not None else None
    if folder is not None and folder.spec_path.is_file():
        old = folder.read_spec().get("subject_folds") or {}
        if old.get("k") == sf["k"] and old.get("seed") == sf["seed"] and old.get("groups"):
            return dict(spec, subject_folds=dict(sf, groups=old["groups"]))
    dataset = cached_dataset(spec["dataset"], spec.get("data_dir"), spec["dataset_options"])
    subjects = list(dict.fromkeys(pooled_subjects(dataset)))
    return dict(spec, subject_folds=dict(sf, groups=subject_groups(subjects, sf["k"], sf["seed"])))


def pooled_subjects(dataset) -> list[str]:
    return [str(s) for s in np.concatenate([dataset.train.subjects, dataset.test.subjects])]


def run_fold(spec: dict, pipeline: str, key: str, out_dir: str, threads: int | None = None) -> None:
    """Run one (pipeline, fold) and write its record (in a worker process, or in this one)."""
    run_folds(spec, pipeline, [key], out_dir, threads)


def run_folds(spec: dict, pipeline: str, keys: list[str], out_dir: str, threads: int | None = None) -> None:
    """Run (pipeline, fold) for each of ``keys`` and write each record once it is done. Folds that share
    their training part (a subject group; the N of a calibration curve under cross-subject-finetune) share
    its fits: the first fold's seconds include them."""
    folder = BenchmarkFolder(out_dir)
    for key, record in fold_records(spec, pipeline, keys, threads):
        folder.write_fold(pipeline, key, record)


def compute_folds(spec: dict, pipeline: str, keys: list[str],
                  threads: int | None = None) -> list[tuple[str, dict]]:
    """``(key, record)`` of (pipeline, fold) for each of ``keys``, written by no one: a Dask worker returns
    them to the client, which writes them (:mod:`eegclf.benchmark.cluster`)."""
    return list(fold_records(spec, pipeline, keys, threads))


def fold_records(spec: dict, pipeline: str, keys: list[str], threads: int | None = None):
    """Yield ``(key, record)`` of (pipeline, fold) for each of ``keys``, each as soon as it is computed."""
    template, pool, folds = load_pool(spec)
    if _pool_fingerprint(template, pool) != spec["provenance"]["pool"]:
        raise DataError(f"the trials loaded for fold {keys[0]} are not those this benchmark recorded (trial pool "
                        "fingerprint differs): did the data files change while it ran?")
    by_key = {f.key: f for f in folds}
    recipe = _recipe(spec, threads)
    cache: dict = {}
    for key in keys:
        fold = by_key[key]
        seed = spec["seed"] + fold.index
        t0 = time.perf_counter()
        with sharing_covariances():  # each trial's covariance once per process: pipelines and folds share it
            outcome = run_pipeline(pipeline, pool, fold, template, recipe, seed, cache)
        seconds = time.perf_counter() - t0
        y_test = pool.y[fold.test]
        extra = {}
        if fold.group:
            extra["fold_subjects"] = list(fold.group)
        if fold.calibration_trials is not None:
            extra.update(calibration_trials=fold.calibration_trials,
                         n_calibration=len(calibration_part(fold, spec["protocol"])))
        record = {
            "pipeline": pipeline, "chosen": outcome.chosen, "inner_acc": outcome.inner_acc,
            "inner_on": outcome.inner_on,
            "subject": fold.subject, **({"session": fold.session} if fold.session is not None else {}),
            "fold": fold.index, "key": key, "seed": seed, **extra,
            "n_train": len(fold.train), "n_adapt": len(fold.adapt), "n_test": len(fold.test),
            "n_classes": len(template.class_names), **fold_scores(y_test, outcome.proba),
            "seconds": round(seconds, 3),
            "train_idx": fold.train.tolist(), "adapt_idx": fold.adapt.tolist(), "test_idx": fold.test.tolist(),
            "y_test": y_test.tolist(), "proba": np.round(outcome.proba, 6).tolist(),
            "provenance": spec["provenance"],
        }
        if pipeline in TRANSFER:
            inits = _inits(spec)
            record["init"] = init_of_fold(spec, inits, pick_init(inits, fold.subject, template))
        yield key, record


def _tasks(spec: dict, folds, folder: BenchmarkFolder) -> list[tuple[str, list[str]]]:
    """(pipeline, keys) of every missing fold a pipeline can run, folds sharing their training part (and so
    their seed and fits) in one task."""
    tasks: dict = {}
    for p in spec["pipelines"]:
        for f in folds:
            if can_run(p, f) and not folder.is_done(p, f.key):
                tasks.setdefault((p, f.index, train_key(f)), []).append(f.key)
    return [(p, keys) for (p, _, _), keys in tasks.items()]


def run_benchmark(spec: dict, out_dir, jobs: int | None = None, progress: bool | None = None,
                  scheduler: str | None = None, report: Callable[[Path], Path] | None = None) -> Path | None:
    """Run every missing (pipeline, fold) of ``spec`` (see :func:`make_spec`) into ``out_dir``, then call
    ``report(out_dir)`` when any fold is done: the caller's report writer (the CLI passes
    :func:`eegclf.reporting.benchmark.build_benchmark_report`; the benchmark sits below reporting and does not
    import it). Returns what ``report`` returned (the path of ``results.md``), None without one. Raises
    BenchmarkError after the report when folds failed. ``scheduler``: the address of a Dask scheduler whose
    workers run the folds (:mod:`eegclf.benchmark.cluster`) instead of ``jobs`` local processes."""
    check_jobs(jobs)
    if jobs is not None and scheduler is not None:
        raise ConfigError(f"jobs={jobs} sets local processes, and with scheduler={scheduler} the cluster's workers "
                          "run the folds: give one of them", param=("jobs", "scheduler"))
    if scheduler is None:
        return _run_benchmark(spec, out_dir, jobs, progress, None, report)
    from eegclf.benchmark.cluster import connect

    client = connect(scheduler)  # an unreachable scheduler fails here, before anything is loaded or written
    try:
        return _run_benchmark(spec, out_dir, jobs, progress, (client, scheduler), report)
    finally:
        client.close()


def _run_benchmark(spec: dict, out_dir, jobs: int | None, progress: bool | None, cluster,
                   report: Callable[[Path], Path] | None) -> Path | None:
    from eegclf.progress import is_interactive

    folder = BenchmarkFolder(out_dir)
    spec = with_subject_groups(spec, out_dir)
    template, pool, folds = load_pool(spec)  # bad subjects, classes or runs fail here, before anything is written
    check_calibration_curve(spec["pipelines"], folds, pool, spec["protocol"], template.class_names)
    spec = with_provenance(spec)
    if spec.get("init"):  # a checkpoint that saw a tested subject, or does not fit the data, fails here too
        from eegclf.transfer import check_zero_shot

        for init in _inits(spec):
            init.check_fits(template)
        for fold in folds:
            init = pick_init(_inits(spec), fold.subject, template)
            if ZERO_SHOT in spec["pipelines"]:
                check_zero_shot(init)
            elif 0 in spec.get("calibration_trials", []):
                try:
                    check_zero_shot(init)
                except EEGClfError as exc:
                    raise ConfigError(f"calibration_trials=0 makes the transfer pipelines zero-shot, and {exc}; "
                                      "leave 0 out", param="calibration_trials") from None
    if cluster is not None:  # every worker loads the data and shows its provenance before anything is written
        from eegclf.benchmark.cluster import check_workers, run_on_cluster

        host_threads = check_workers(cluster[0], spec, cluster[1], with_provenance)
    clear_dead_temp_files(out_dir, depth=2)  # out/, out/figures/, out/folds/PIPELINE/: before prepare() looks
    folder.prepare(spec)
    todo = _tasks(spec, folds, folder)
    n_todo = sum(len(keys) for _, keys in todo)
    total = sum(1 for p in spec["pipelines"] for f in folds if can_run(p, f))
    head = (f"benchmark: {spec['protocol']}, {len(folds)} folds x {len(spec['pipelines'])} pipelines in {out_dir}; "
            f"{total - n_todo} done already; running {n_todo}")
    show = is_interactive() if progress is None else progress
    if cluster is not None:
        n_threads = sum(host_threads.values())
        print(f"{head} on the Dask cluster at {cluster[1]} ({n_threads} worker thread{'s' if n_threads > 1 else ''} "
              f"on {len(host_threads)} host{'s' if len(host_threads) > 1 else ''})", file=sys.stderr)
        errors = run_on_cluster(cluster[0], spec, todo, Path(out_dir), host_threads, show, _task_name,
                                (compute_folds, with_provenance)) if todo else {}
    else:
        cores = available_cores()
        n_jobs = max(1, min(jobs or cores, len(todo)))
        threads = max(1, cores // n_jobs)
        print(f"{head} in {n_jobs} process{'es' if n_jobs > 1 else ''} x {threads} thread{'s' if threads > 1 else ''}",
              file=sys.stderr)
        errors = _run(spec, todo, Path(out_dir), n_jobs, threads, show) if todo else {}
    done_any = len(errors) < len(todo) or n_todo < total
    written = report(Path(out_dir)) if done_any and report is not None else None
    if errors:
        first = sorted(errors)[0]
        raise BenchmarkError(f"{len(errors)} of {len(todo)} fold tasks failed (first: {first}: "
                             f"{errors[first].strip().splitlines()[-1]}); finished folds are kept: run the same "
                             "command again to retry the failed ones" + (f"; partial report: {written}" if written else ""))
    return written


def _run(spec, todo, out_dir: Path, jobs: int, threads: int, progress: bool) -> dict[str, str]:
    if jobs == 1:  # in this process: the data set is loaded already
        from tqdm.auto import tqdm

        errors = {}
        for pipeline, keys in tqdm(todo, desc="benchmark", unit="fold", disable=not progress, dynamic_ncols=True):
            err = call_task("eegclf.benchmark.runner:run_folds", (spec, pipeline, keys, str(out_dir), threads))
            if err is not None:
                errors[_task_name(pipeline, keys)] = err
                print(f"benchmark: {_task_name(pipeline, keys)} failed: {err.strip().splitlines()[-1]}",
                      file=sys.stderr)
        return errors
    tasks = [(_task_name(p, ks), "eegclf.benchmark.runner:run_folds", (spec, p, ks, str(out_dir), threads))
             for p, ks in todo]
    return run_tasks(tasks, jobs, threads, progress, desc="benchmark", unit="fold")


def _task_name(pipeline: str, keys: list[str]) -> str:
    return f"{pipeline}/{keys[0]}" + (f" (+{len(keys) - 1} sharing its training)" if len(keys) > 1 else "")


__all__ = ["BenchmarkError", "make_spec", "run_benchmark", "run_fold", "run_folds", "load_pool", "with_subject_groups"]
