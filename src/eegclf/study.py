"""The study grid: every (model, activation, seed) trained in parallel processes, then the caller's report.

Layout of a study folder::

    OUT/study.json                          the grid and the shared settings (written atomically)
    OUT/runs/{model}-{activation}-seed{seed}/  one run folder (eegclf.storage.rundir) per combination
    OUT/errors.log                          tracebacks of failed runs (only when some failed)
    OUT/results.csv, results.md, figures/, report.md   the report, written by the caller (eegclf compare:
                                                       eegclf.reporting.build_report)

A complete run folder is skipped when the study runs again; an incomplete one (an interrupted run) is
deleted and that run starts from scratch.
"""

from __future__ import annotations

import importlib
import json
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from eegclf.config import RunConfig
from eegclf.errors import ConfigError, EEGClfError
from eegclf.storage.fileio import atomic_write_json, atomic_write_text
from eegclf.models import NO_ACTIVATION
from eegclf.parallel import available_cores, cached_dataset, check_jobs, run_tasks
from eegclf.storage.rundir import RunDir, completed_runs
from eegclf.storage.tempfiles import clear_dead_temp_files

# what each worker calls: "module:function" taking (config, run_dir, progress=...); tests may swap it
RUNNER = "eegclf.study:train_with_cached_data"
# settings that may differ between the first start of a study and its resumption
_RESUMABLE_KEYS = ("model", "activation", "seed", "threads", "device", "out")


class StudyError(EEGClfError, RuntimeError):
    """Some runs of the grid failed; the others finished and were reported."""


@dataclass(frozen=True)
class GridRun:
    """One cell of the grid: its folder name and its complete config."""

    name: str
    config: RunConfig


def run_name(model: str, activation: str, seed: int) -> str:
    return f"{model}-{activation}-seed{seed}"


def _unique(items) -> list:
    return list(dict.fromkeys(items))


def expand_grid(base: RunConfig, models: list[str], activations: list[str], seeds: int | list[int]) -> list[GridRun]:
    """The runs of the grid in order (model, activation, seed).

    Model names are canonicalised (``EEGNet`` -> ``eegnet``), activation names too (``LeakyReLU`` ->
    ``leaky_relu``); unknown names raise ConfigError before anything runs. ``seeds``: a count N means
    seeds 0..N-1. Models that take no activation (classical) run once per seed with activation ``-``.
    """
    from eegclf.models import get_model, resolve_activation

    if isinstance(seeds, int):
        if seeds < 1:
            raise ConfigError(f"seeds={seeds} is invalid: expected a number of seeds >= 1")
        seeds = list(range(seeds))
    seeds = _unique(int(s) for s in seeds)
    entries = [get_model(name) for name in _unique(get_model(m).name for m in models)]
    acts = _unique(resolve_activation(a).name for a in activations)
    if not (entries and seeds):
        raise ConfigError("the study grid is empty: give at least one model and one seed")
    if not acts and any(e.takes_activation for e in entries):
        raise ConfigError("the study grid is empty: give at least one activation for the deep models")
    grid = []
    for model in (e.name for e in entries):
        for act in (acts if get_model(model).takes_activation else [NO_ACTIVATION]):
            for seed in seeds:
                config = replace(base, model=model, activation=act, seed=seed, out=None)
                grid.append(GridRun(run_name(model, act, seed), config))
    return grid


def _shared_settings(config: RunConfig) -> dict:
    d = config.to_dict()
    for k in _RESUMABLE_KEYS:
        d.pop(k, None)
    return d


def _check_same_study(out_dir: Path, base: RunConfig) -> None:
    """Refuse to mix runs of different settings in one folder (resuming with other epochs, data, ...)."""

    spec_path = out_dir / "study.json"
    if not spec_path.is_file() or not completed_runs(out_dir / "runs"):
        return
    try:
        old = json.loads(spec_path.read_text()).get("settings", {})
    except (json.JSONDecodeError, AttributeError):
        raise ConfigError(f"out={out_dir} holds {spec_path}, which is not a valid study file; use another folder",
                          param="out") from None
    new = _shared_settings(base)
    diff = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    if diff:
        shown = ", ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in diff)
        raise ConfigError(f"out={out_dir} holds finished runs of a study with other settings ({shown}); "
                          "use another folder, or the same settings to resume it", param="out")


def _write_spec(out_dir: Path, base: RunConfig, grid: list[GridRun], models, acts, seeds) -> None:
    atomic_write_json(out_dir / "study.json", {
        "format": "eegclf-study/1",
        "models": models,
        "activations": acts,
        "seeds": seeds,
        "runs": [g.name for g in grid],
        "settings": _shared_settings(base),
    })


# ---- worker side (runs in spawned processes) ----

def train_with_cached_data(config: RunConfig, run_dir: Path, progress: bool = False) -> dict:
    """:func:`~eegclf.training.loop.fit` with the data set loaded once per worker process (the runs of a grid share it)."""
    from eegclf.training.loop import fit

    dataset = cached_dataset(config.dataset, config.data_dir, config.dataset_options)
    return fit(config, dataset, run_dir, progress=progress)


def _run_one(runner: str, config: dict, run_dir: str) -> None:
    """Run one grid cell in a worker: ``runner`` is "module:function" taking (config, run_dir, progress=...)."""
    module, _, func = runner.partition(":")
    getattr(importlib.import_module(module), func)(RunConfig.from_dict(config), Path(run_dir), progress=False)


# ---- parent side ----

def _pending_runs(grid: list[GridRun], runs_dir: Path) -> list[GridRun]:
    """The runs not complete yet; their half-written folders are deleted so they start from scratch."""
    pending = []
    for g in grid:
        run_dir = RunDir(runs_dir / g.name)
        if run_dir.is_complete():
            continue
        run_dir.remove()
        pending.append(g)
    return pending


def _forward_flops(model: str, model_kwargs: dict) -> int:
    """FLOPs of one forward pass on a probe trial (8 channels x 500 samples): a proxy for a run's cost."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from eegclf.models import get_model

    entry = get_model(model)
    if not entry.is_deep:
        return 0
    try:
        net = entry.build(8, 500, 2, **model_kwargs).eval()
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            net(torch.zeros(1, 1, 8, 500))
        return counter.get_total_flops()
    except Exception:  # noqa: BLE001 - only an ordering hint: a model that cannot be probed goes first
        return 2**62


def _longest_first(pending: list[GridRun]) -> list[GridRun]:
    """Start the most expensive runs first, so no process idles at the end while one long run finishes
    (the study's 3 DeepConvNets after 3 EEGNets left one core idle for a third of the wall time)."""
    cost: dict[str, int] = {}
    for g in pending:
        if g.config.model not in cost:
            cost[g.config.model] = _forward_flops(g.config.model, dict(g.config.model_kwargs))
    return sorted(pending, key=lambda g: -cost[g.config.model])  # stable: grid order within a model


def _execute(pending: list[GridRun], runs_dir: Path, jobs: int, threads: int, progress: bool) -> dict[str, str]:
    """Run ``pending`` in ``jobs`` spawned processes; return run name -> error text of failed runs."""
    tasks = [(g.name, "eegclf.study:_run_one", (RUNNER, replace(g.config, threads=threads).to_dict(),
                                                str(runs_dir / g.name))) for g in pending]
    return run_tasks(tasks, jobs, threads, progress, desc="study", unit="run")


def run_study(base: RunConfig, models: list[str], activations: list[str], seeds: int | list[int], out_dir,
              jobs: int | None = None, progress: bool | None = None,
              report: Callable[[Path], Path] | None = None) -> Path | None:
    """Train every (model, activation, seed) into ``out_dir/runs/`` in parallel, then call ``report(out_dir)``.

    base: settings shared by all runs (its model, activation and seed are replaced per run).
    seeds: a count N (seeds 0..N-1) or an explicit list. jobs: parallel processes (default: one per
    core); each run gets ``base.threads`` or else ``max(1, cores // jobs)`` torch threads.
    progress: a bar over finished runs (default: only when stderr is a terminal).
    Finished runs are skipped; unfinished folders are restarted from scratch.
    report: the caller's report writer, called when at least one run finished (the CLI passes
    :func:`eegclf.reporting.build_report`; the study sits below reporting and does not import it).
    Returns what ``report`` returned (the path of ``out_dir/report.md``), None without one. Raises StudyError
    after the report when runs failed (tracebacks in ``out_dir/errors.log``), ConfigError for bad names or
    settings before anything runs.
    """
    from eegclf.progress import is_interactive

    out_dir = Path(out_dir)
    base = replace(base)  # replace() re-validates: RunConfig checks itself when created
    check_jobs(jobs)
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"out={out_dir} exists and is not a folder", param="out")
    grid = expand_grid(base, models, activations, seeds)
    clear_dead_temp_files(out_dir, depth=2)  # out/, out/figures/, out/runs/NAME/
    _check_same_study(out_dir, base)
    runs_dir = out_dir / "runs"
    runs_dir.mkdir(parents=True, exist_ok=True)
    _write_spec(out_dir, base, grid,
                _unique(g.config.model for g in grid),
                _unique(g.config.activation for g in grid if g.config.activation != NO_ACTIVATION),
                _unique(g.config.seed for g in grid))

    pending = _longest_first(_pending_runs(grid, runs_dir))
    cores = available_cores()
    n_jobs = max(1, min(jobs or cores, len(pending)))
    threads = base.threads or max(1, cores // n_jobs)
    skipped = len(grid) - len(pending)
    print(f"study: {len(grid)} runs in {out_dir}; {skipped} already complete (skipped); "
          + (f"running {len(pending)} in {n_jobs} process{'es' if n_jobs > 1 else ''} x {threads} "
             f"thread{'s' if threads > 1 else ''}" if pending else "nothing to run"), file=sys.stderr)

    errors = _execute(pending, runs_dir, n_jobs, threads, is_interactive() if progress is None else progress) \
        if pending else {}

    log = out_dir / "errors.log"
    if errors:
        atomic_write_text(log, "".join(f"== {name}\n{text}\n\n" for name, text in sorted(errors.items())))
    elif log.exists():
        log.unlink()
    written = report(out_dir) if report is not None and len(errors) < len(grid) else None
    if errors:
        first = sorted(errors)[0]
        reason = errors[first].strip().splitlines()[-1]
        raise StudyError(f"{len(errors)} of {len(grid)} runs failed (first: {first}: {reason}); tracebacks in {log}; "
                         "finished runs are kept: run the same command again to retry the failed ones"
                         + (f"; partial report: {written}" if written else ""))
    return written
