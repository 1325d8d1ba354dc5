"""A benchmark's folds on an existing Dask distributed cluster (``eegclf benchmark --scheduler tcp://HOST:PORT``).

Dask does the scheduling: each fold task is a future. A worker that dies mid-fold has its task run again on
another worker (the scheduler's ``distributed.scheduler.allowed-failures``, 3 by default), and
``as_completed`` hands the client each task's result once, so a fold is neither lost nor counted twice.

Workers compute fold records and return them; only the client writes them, atomically, into the benchmark
folder, exactly as a local run does, so local and cluster runs resume each other's folders.

Every worker must give the same trials with the same package versions, device and settings, i.e. the same
provenance (:mod:`eegclf.benchmark.provenance`) as the client. Before anything is written each worker loads the
data and returns its provenance; the client refuses the run, in one line naming each worker and what differs
(or the data it could not load), when it is not the client's. Each fold task returns its worker's provenance
too, and the client checks it again before writing, for workers that join (or are restarted) later.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from eegclf.benchmark.folder import BenchmarkFolder
from eegclf.benchmark.provenance import differences
from eegclf.errors import ConfigError
from eegclf.parallel import available_cores, error_text

INSTALL_HINT = "pip install 'eegclf[dask]'"


def connect(address: str):
    """A ``distributed.Client`` of the scheduler at ``address``; ConfigError (one line) when it cannot be
    reached within ``distributed.comm.timeouts.connect`` (Dask's setting, 30 s by default)."""
    try:
        from distributed import Client
        from distributed.comm import get_address_host_port
    except ImportError:
        raise ConfigError(f"scheduler={address} needs Dask's distributed package: {INSTALL_HINT}",
                          param="scheduler") from None
    try:  # a malformed address is refused before a Client exists (a half-made one complains when collected)
        get_address_host_port(address)
    except ValueError as exc:
        raise ConfigError(f"scheduler={address} is not a scheduler address ({exc}); expected tcp://HOST:PORT, "
                          "such as tcp://10.0.0.5:8786", param="scheduler") from None
    try:
        return Client(address, set_as_default=False)
    except Exception as exc:  # noqa: BLE001 - OSError/TimeoutError when unreachable, ValueError when malformed
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise ConfigError(f"scheduler={address} could not be reached ({type(exc).__name__}: {first}); expected "
                          "the address of a running `dask scheduler`, such as tcp://HOST:8786",
                          param="scheduler") from None


# ---- worker side ----

def _here() -> tuple[str, str]:
    """This worker's address and host."""
    from distributed import get_worker
    from distributed.comm import get_address_host

    address = get_worker().address
    return address, get_address_host(address)


def worker_provenance(spec: dict, with_provenance) -> dict:
    """On a worker: ``{"worker", "host", "provenance"}`` of running ``spec`` there (its data loaded, once per
    worker process), or ``{"worker", "host", "error"}`` when it cannot load the data. ``with_provenance``: the
    runner's function that adds it to a spec (passed in: the runner calls this module, not the other way)."""
    address, host = _here()
    try:
        return {"worker": address, "host": host, "provenance": with_provenance(spec)["provenance"]}
    except Exception as exc:  # noqa: BLE001 - reported by the client, naming this worker
        return {"worker": address, "host": host, "error": error_text(exc).strip().splitlines()[-1]}


def fold_task(spec: dict, pipeline: str, keys: list[str], host_threads: dict, work) -> dict:
    """On a worker: the records of (pipeline, each of ``keys``), with the worker's provenance. A worker
    whose provenance differs computes nothing (the client refuses it); a failed fold returns its error.
    ``work``: the runner's ``(compute_folds, with_provenance)``."""
    compute_folds, with_provenance = work
    result = worker_provenance(spec, with_provenance)
    if "error" in result or result["provenance"] != spec["provenance"]:
        return result
    # torch threads: the host's cores divided among the Dask worker threads on that host
    threads = max(1, available_cores() // max(1, host_threads.get(result["host"], 1)))
    try:
        result["records"] = compute_folds(spec, pipeline, keys, threads)
    except Exception as exc:  # noqa: BLE001 - one failed fold must not stop the others
        result["failed"] = error_text(exc)
    return result


# ---- client side ----

def _refusal(result: dict, spec: dict) -> str | None:
    """Why the worker that gave ``result`` cannot run this benchmark, or None when it can."""
    if "error" in result:
        return f"worker {result['worker']} cannot load the data: {result['error']}"
    diff = differences(spec["provenance"], result["provenance"], says=("client", "worker"))
    if diff:
        return (f"worker {result['worker']} runs in another environment than this client: {'; '.join(diff)}; "
                "give every worker the data, the same package versions and the same device")
    return None


def check_workers(client, spec: dict, address: str, with_provenance) -> dict[str, int]:
    """Check every worker of the cluster against ``spec``'s provenance (ConfigError naming each one that
    differs); return host -> number of Dask worker threads on it."""
    try:
        workers = client.scheduler_info(n_workers=-1)["workers"]
    except TypeError:  # distributed before 2025: no n_workers, and every worker is listed
        workers = client.scheduler_info()["workers"]
    if not workers:
        raise ConfigError(f"scheduler={address} has no workers: start some first (`dask worker {address}` on "
                          "each machine)", param="scheduler")
    # one check per worker; allow_other_workers: a worker that leaves meanwhile does not block the check
    futures = [client.submit(worker_provenance, spec, with_provenance, workers=[w], allow_other_workers=True, pure=False)
               for w in workers]
    refusals = [r for r in (_refusal(res, spec) for res in client.gather(futures)) if r]
    if refusals:
        raise ConfigError(f"scheduler={address}: " + "; ".join(refusals), param="scheduler")
    host_threads: Counter = Counter()
    for info in workers.values():
        host_threads[info["host"]] += info["nthreads"]
    return dict(host_threads)


def run_on_cluster(client, spec: dict, todo: list, out_dir: Path, host_threads: dict, progress: bool,
                   task_name, work) -> dict[str, str]:
    """Run each (pipeline, keys) of ``todo`` as a Dask task (``work``: the runner's ``(compute_folds,
    with_provenance)``); write each record here as its task returns. Returns task name -> error text of the
    failed ones."""
    from distributed import as_completed
    from tqdm.auto import tqdm

    folder = BenchmarkFolder(out_dir)
    futures = {client.submit(fold_task, spec, p, keys, host_threads, work, pure=False): (p, keys) for p, keys in todo}
    errors: dict[str, str] = {}
    bar = tqdm(total=len(todo), desc="benchmark", unit="fold", disable=not progress, dynamic_ncols=True)
    try:
        for future in as_completed(list(futures), loop=client.loop):  # this client, not a default one
            pipeline, keys = futures.pop(future)
            try:
                result = future.result()
            except Exception as exc:  # noqa: BLE001 - e.g. KilledWorker: its workers kept dying on it
                result = {"failed": f"the Dask task failed ({type(exc).__name__}: {exc})"}
            future.release()
            if "failed" not in result:
                refusal = _refusal(result, spec)
                if refusal:  # a worker that joined after the check
                    raise ConfigError(refusal, param="scheduler")
                for key, record in result["records"]:
                    folder.write_fold(pipeline, key, record)
            else:
                name = task_name(pipeline, keys)
                errors[name] = result["failed"]
                bar.write(f"benchmark: {name} failed: {result['failed'].strip().splitlines()[-1]}", file=sys.stderr)
            bar.update(1)
    finally:
        bar.close()
        if futures:  # stopped early (Ctrl-C, a refused worker): the scheduler drops the rest
            client.cancel(list(futures))
    return errors
