"""Running independent tasks in spawned worker processes: the study's runs and the benchmark's folds.

A task is ``(name, "module:function", args)``; each worker process calls ``function(*args)``. Workers get
``threads`` BLAS/torch threads each and exit when the parent process dies. One failed task never stops
the others: its error text is collected and returned. Ctrl-C stops all workers at once.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import threading
import traceback
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from multiprocessing import get_context

from eegclf.errors import ConfigError, EEGClfError


def available_cores() -> int:
    """CPU cores this process may use (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


# ---- worker side (runs in spawned processes) ----

def _watch_parent(parent_pid: int) -> None:
    """Exit this worker when the parent process is gone (killed), instead of working on as an orphan."""
    import time

    while True:
        if os.getppid() != parent_pid:
            os._exit(1)
        time.sleep(0.5)


def _init_worker(threads: int, parent_pid: int) -> None:
    from eegclf.allocator import keep_freed_memory

    keep_freed_memory()  # as the command that started this worker did (eegclf.allocator says why)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    import torch

    torch.set_num_threads(threads)
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()


def call_task(target: str, args: tuple) -> str | None:
    """Run one task; return None on success or the error's text (a traceback for unexpected errors)."""
    try:
        module, _, func = target.partition(":")
        getattr(importlib.import_module(module), func)(*args)
        return None
    except Exception as exc:  # noqa: BLE001 - one failed task must not stop the others
        return error_text(exc)


def error_text(exc: BaseException) -> str:
    """A failed task's error as text: one line for a user's problem (EEGClfError), else the traceback."""
    if isinstance(exc, EEGClfError):
        return f"{type(exc).__name__}: {exc}"
    return "".join(traceback.format_exception(exc)).rstrip()


_DATA_CACHE: dict = {}


def cached_dataset(name: str, data_dir, options: dict):
    """``load_dataset(name, data_dir, **options)``, loaded once per worker process: the tasks of one job share
    it, and reading and filtering EEG files can take longer than a short task."""
    from eegclf.data import load_dataset

    key = json.dumps([name, data_dir, options], sort_keys=True, default=str)
    if key not in _DATA_CACHE:
        _DATA_CACHE.clear()  # one data set per job: keep at most one in memory
        _DATA_CACHE[key] = load_dataset(name, data_dir=data_dir, **options)
    return _DATA_CACHE[key]


# ---- parent side ----

def _stop_workers(executor: ProcessPoolExecutor) -> None:
    """Stop running workers now (on Ctrl-C or an unexpected error): their tasks restart next time."""
    terminate = getattr(executor, "terminate_workers", None)  # Python >= 3.14
    if terminate is not None:
        terminate()
        return
    # older Pythons: the worker processes (shutdown() forgets them, so take them first)
    procs = list((getattr(executor, "_processes", None) or {}).values())
    executor.shutdown(wait=False, cancel_futures=True)
    for proc in procs:
        proc.terminate()


def check_jobs(jobs) -> None:
    """ConfigError unless ``jobs`` (worker processes; None: one per core) is None or an integer >= 1."""
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        raise ConfigError(f"jobs={jobs!r} is invalid: expected an integer >= 1", param="jobs")


def run_tasks(tasks: list[tuple[str, str, tuple]], jobs: int, threads: int, progress: bool,
              desc: str, unit: str) -> dict[str, str]:
    """Run ``tasks`` in ``jobs`` spawned processes, in order; return task name -> error text of failed tasks."""
    from tqdm.auto import tqdm

    errors: dict[str, str] = {}
    bar = tqdm(total=len(tasks), desc=desc, unit=unit, disable=not progress, dynamic_ncols=True)
    executor = ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn"),
                                   initializer=_init_worker, initargs=(threads, os.getpid()))
    try:
        futures = {executor.submit(call_task, target, args): name for name, target, args in tasks}
        not_done = set(futures)
        while not_done:
            done, not_done = wait(not_done, return_when=FIRST_COMPLETED)
            for fut in sorted(done, key=lambda f: futures[f]):
                name = futures[fut]
                try:
                    err = fut.result()
                except Exception as exc:  # noqa: BLE001 - the worker process itself died
                    err = f"the worker process died ({type(exc).__name__}: {exc})"
                if err is not None:
                    errors[name] = err
                    bar.write(f"{desc}: {name} failed: {err.strip().splitlines()[-1]}", file=sys.stderr)
                bar.update(1)
    except BaseException:
        _stop_workers(executor)
        raise
    finally:
        bar.close()
    executor.shutdown(wait=True)
    return errors
